//! Tasks with many inputs, placed and sent over several turns.
//!
//! A merge of ten million results names ten million inputs. Weighing
//! where they are (the placement policy sums the bytes each worker holds)
//! and writing where to fetch each one took the loop seconds in one go.
//! A task with more than [`WIDE_ARGS`] arguments is therefore handled
//! [`WIDE_PER_TURN`] arguments per turn, in two steps:
//!
//! 1. **Tally**: while the task stays ready, the bytes of its inputs each
//!    worker holds are counted; then the policy picks a worker from the
//!    count ([`Placement::choose_tallied`](super::Placement)). A task no
//!    worker has room for keeps its count and is chosen again next turn.
//! 2. **Send**: the task starts and is booked on that worker as any
//!    other, and its fetch list goes out in parts: [`ToWorker::Fetch`]
//!    messages, then the `Run` carrying the last part. A worker keeps the
//!    parts until the `Run` arrives.
//!
//! One wide task per job is in hand at a time; the job's turn stops at
//! another one until it is sent. A send whose task is no longer booked on
//! its worker (the worker left, or a re-plan) is dropped: the task went
//! back to the queue with it and is tallied again from the start.

use rask_core::TaskId;

use super::job::Job;
use super::{Cluster, Sink};
use crate::protocol::{run_priority, DataKey, JobId, ToWorker, WorkerId};

/// A task with more arguments than this is wide. The in-memory tests use
/// a small threshold, so that their gathers cross it.
pub(super) const WIDE_ARGS: usize = if cfg!(test) { 40 } else { 1 << 16 };

/// Arguments of a wide task tallied, or sent, per job and turn: a few
/// milliseconds of work.
pub(super) const WIDE_PER_TURN: usize = if cfg!(test) { 16 } else { 1 << 16 };

/// The wide task a job has in hand.
#[derive(Debug)]
pub(super) struct Wide {
    /// The task.
    pub task: TaskId,
    /// Its arguments done so far.
    next: usize,
    step: Step,
}

#[derive(Debug)]
enum Step {
    /// Bytes held per worker (indexed by id: a sparse list sorted per
    /// part cost 30 ns an input), and the total, over the arguments
    /// before `next`.
    Tally { held: Vec<u64>, total: u64 },
    /// Booked on this worker; the fetch list of the arguments before
    /// `next` has gone out.
    Send(WorkerId),
}

impl Cluster {
    /// Tallies one more part of wide task `t` of job `id`, ready and
    /// needing a worker; once it is all counted, the worker the policy
    /// picks. `None`: not yet, or no worker has room (it stays ready).
    pub(super) fn tally_wide(
        &mut self,
        id: JobId,
        t: TaskId,
        eligible: &[WorkerId],
    ) -> Option<WorkerId> {
        let job = self.jobs.get_mut(&id)?;
        // Out of the job while it is read; put back before any return.
        let mut wide = job.wide.take().unwrap_or_else(|| Wide::new(t));
        if wide.task != t && !wide.tallying() {
            job.wide = Some(wide);
            return None; // one sent at a time: this one waits
        }
        if wide.task != t {
            wide = Wide::new(t); // another came first: counted afresh
        }
        let args = job.exec.graph.args(t);
        let chosen = match &mut wide.step {
            Step::Tally { held, total } => {
                if wide.next < args.len() {
                    let end = (wide.next + WIDE_PER_TURN).min(args.len());
                    *total += tally_into(job, &args[wide.next..end], held);
                    wide.next = end;
                }
                // The turn that counts the last part also chooses: once
                // counted, the task waits only for room, like any other.
                if wide.next < args.len() {
                    None
                } else {
                    let held: Vec<(WorkerId, u64)> = (0..)
                        .zip(held.iter())
                        .filter(|&(_, &b)| b > 0)
                        .filter_map(|(i, &b)| WorkerId::new(i).map(|w| (w, b)))
                        .collect();
                    self.placement.choose_tallied(
                        job,
                        t,
                        job.is_root(t),
                        eligible,
                        (&held, *total),
                        (&self.workers, &self.by_load),
                    )
                }
            }
            Step::Send(_) => None,
        };
        job.wide = Some(wide);
        chosen
    }

    /// Books wide task `t` of job `id`, started, on worker `w`, and sends
    /// the first part of its fetch list.
    pub(super) fn dispatch_wide(
        &mut self,
        id: JobId,
        t: TaskId,
        w: WorkerId,
        sink: &mut impl Sink,
    ) {
        self.book(id, t, w, sink);
        if let Some(job) = self.jobs.get_mut(&id) {
            job.wide = Some(Wide {
                task: t,
                next: 0,
                step: Step::Send(w),
            });
        }
        self.send_wide(id, sink);
    }

    /// Sends the next part of the fetch list of the wide task job `id`
    /// is sending, the `Run` with the last.
    pub(super) fn send_wide(&mut self, id: JobId, sink: &mut impl Sink) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        let Some(Wide {
            task,
            next,
            step: Step::Send(w),
        }) = job.wide
        else {
            return;
        };
        if job.sent[task.index()] != Some(w) {
            // The worker left or gave it back: the task is queued again.
            job.wide = None;
            return;
        }
        let args = job.exec.graph.args(task);
        let end = (next + WIDE_PER_TURN).min(args.len());
        let fetch = job.fetch_list(id, &args[next..end], w);
        let key = DataKey {
            job: id,
            task: task.0,
        };
        if end < args.len() {
            sink.to_worker(w, &ToWorker::Fetch { key, fetch });
            if let Some(wide) = &mut job.wide {
                wide.next = end;
            }
        } else {
            let priority = run_priority(
                job.constraints.priority,
                job.exec.state.plan().priority(task),
            );
            sink.to_worker(
                w,
                &ToWorker::Run {
                    key,
                    priority,
                    fetch,
                },
            );
            job.wide = None;
        }
    }
}

impl Job {
    /// True if its wide task is part way through its tally or its send. A
    /// task counted and waiting for room waits for a worker's report like
    /// any other.
    pub(super) fn widening(&self) -> bool {
        self.wide.as_ref().is_some_and(|w| match w.step {
            Step::Tally { .. } => w.next < self.exec.graph.args(w.task).len(),
            Step::Send(_) => true,
        })
    }
}

/// Adds the bytes of the inputs among `args` to what each worker holds,
/// by worker id; returns their total.
fn tally_into(job: &Job, args: &[rask_core::Arg], held: &mut Vec<u64>) -> u64 {
    let mut total = 0;
    for d in args.iter().filter_map(|a| a.as_dep()) {
        let b = job.bytes[d.index()];
        total += b;
        for h in job.holders(d.index()) {
            let i = h.get() as usize;
            if held.len() <= i {
                held.resize(i + 1, 0);
            }
            held[i] += b;
        }
    }
    total
}

impl Wide {
    /// True while its inputs are being counted, before it is sent.
    pub fn tallying(&self) -> bool {
        matches!(self.step, Step::Tally { .. })
    }

    fn new(task: TaskId) -> Wide {
        Wide {
            task,
            next: 0,
            step: Step::Tally {
                held: Vec::new(),
                total: 0,
            },
        }
    }
}
