//! A task's way through a worker: its inputs pinned here or fetched from
//! the workers holding them, queued to the executor once all are here,
//! and its outcome reported and stored.

use std::collections::HashMap;

use rask_core::{TaskId, Value};

use super::exec::Item;
use super::Worker;
use crate::portable::SharedJob;
use crate::protocol::{DataKey, FromWorker, JobId, RunTime, WorkerId};

/// A task waiting for inputs from peers.
pub(super) struct Pending {
    pub(super) priority: u64,
    pub(super) missing: usize,
    /// Its inputs' task ids, sorted and distinct.
    pub(super) deps: Vec<TaskId>,
}

/// An input being fetched, and the tasks waiting for it.
pub(super) struct Wanted {
    pub(super) from: WorkerId,
    /// Kept as a copy the scheduler knows of (a replica), not only for
    /// the waiting tasks.
    pub(super) keep: bool,
    /// (waiting task, the input's task id in that task's job).
    pub(super) waiters: Vec<(DataKey, TaskId)>,
}

/// Outcomes taken per loop turn: executor threads running millions of
/// tiny tasks fill the channel faster than one turn empties it.
const OUTCOMES_PER_TURN: usize = 1 << 14;

/// Inputs of one task walked between two looks at the heartbeat's clock.
const BEAT_EVERY: usize = 1 << 14;

impl Worker {
    /// The key of `dep`'s result in `job`.
    fn data_key(job: JobId, loaded: &SharedJob, dep: TaskId) -> DataKey {
        loaded
            .externals
            .get(&dep.0)
            .map_or(DataKey { job, task: dep.0 }, |(k, _)| *k)
    }

    pub(super) fn run_task(
        &mut self,
        key: DataKey,
        priority: u64,
        fetch: Vec<(DataKey, WorkerId)>,
    ) {
        let Some(job) = self.jobs.get(&key.job).cloned() else {
            self.sched.outbox.push(&FromWorker::Failed {
                key,
                message: "this worker could not load the task's job".into(),
                origin: None,
                run: None,
            });
            return;
        };
        // Millions of inputs (a merge) take seconds to walk: the heartbeat
        // goes out meanwhile.
        let mut by_key = HashMap::with_capacity(fetch.len());
        for (i, (input, from)) in fetch.into_iter().enumerate() {
            if i % BEAT_EVERY == BEAT_EVERY - 1 {
                self.beat_if_due();
            }
            by_key.insert(input, from);
        }
        let fetch = by_key;
        let mut deps: Vec<TaskId> = Vec::new();
        for (i, dep) in job.job.graph().deps(TaskId(key.task)).enumerate() {
            if i % BEAT_EVERY == BEAT_EVERY - 1 {
                self.beat_if_due();
            }
            deps.push(dep);
        }
        deps.sort_unstable();
        deps.dedup();
        // Inputs already here are pinned now, so that another task
        // finishing cannot drop a fetched copy this one still needs.
        let mut missing = Vec::new();
        for (i, &dep) in deps.iter().enumerate() {
            if i % BEAT_EVERY == BEAT_EVERY - 1 {
                self.beat_if_due();
            }
            let input = Self::data_key(key.job, &job, dep);
            match self.data.get_mut(&input) {
                Some(s) => s.users += 1,
                None => missing.push((dep, input)),
            }
        }
        for (i, &(dep, input)) in missing.iter().enumerate() {
            if i % BEAT_EVERY == BEAT_EVERY - 1 {
                self.beat_if_due();
            }
            if let Some(w) = self.wanted.get_mut(&input) {
                w.waiters.push((key, dep));
                continue;
            }
            let Some(&from) = fetch.get(&input) else {
                self.unpin(&job, key, &deps);
                self.sched.outbox.push(&FromWorker::Missing { key, input });
                return;
            };
            self.wanted.insert(
                input,
                Wanted {
                    from,
                    keep: false,
                    waiters: vec![(key, dep)],
                },
            );
            self.to_get.entry(from).or_default().push(input);
        }
        if missing.is_empty() {
            self.start(key, priority, &job, &deps);
        } else {
            let missing = missing.len();
            self.pending.insert(
                key,
                Pending {
                    priority,
                    missing,
                    deps,
                },
            );
        }
    }

    /// Fetches a copy of `key` from worker `from` to hold as if made here.
    pub(super) fn replicate(&mut self, key: DataKey, from: WorkerId) {
        if self.data.get(&key).is_some() {
            // Here already (perhaps fetched for a task): kept from now on.
            match self.data.adopt(key) {
                Ok(()) => self.sched.outbox.push(&FromWorker::Replicated { key }),
                Err(e) => log::warn!("{e}"),
            }
            return;
        }
        match self.wanted.get_mut(&key) {
            Some(w) => w.keep = true,
            None => {
                self.wanted.insert(
                    key,
                    Wanted {
                        from,
                        keep: true,
                        waiters: Vec::new(),
                    },
                );
                self.to_get.entry(from).or_default().push(key);
            }
        }
    }

    /// Drops this task's pins on its inputs (those present); fetched
    /// copies nobody uses any more go.
    pub(super) fn unpin(&mut self, job: &SharedJob, key: DataKey, deps: &[TaskId]) {
        for (i, &dep) in deps.iter().enumerate() {
            if i % BEAT_EVERY == BEAT_EVERY - 1 {
                self.beat_if_due();
            }
            let input = Self::data_key(key.job, job, dep);
            if let Some(s) = self.data.get_mut(&input) {
                s.users = s.users.saturating_sub(1);
                if s.users == 0 && !s.own {
                    self.data.remove(input);
                }
            }
        }
    }

    /// Queues a task whose inputs (`deps`, sorted and distinct) are all
    /// here and pinned.
    pub(super) fn start(&mut self, key: DataKey, priority: u64, job: &SharedJob, deps: &[TaskId]) {
        let mut inputs: Vec<(TaskId, Value)> = Vec::with_capacity(deps.len());
        for (i, &dep) in deps.iter().enumerate() {
            if i % BEAT_EVERY == BEAT_EVERY - 1 {
                self.beat_if_due();
            }
            let input = Self::data_key(key.job, job, dep);
            match self.data.value(input) {
                Some(Ok(value)) => inputs.push((dep, value)),
                Some(Err(e)) => {
                    // Lost to the disk: the scheduler recomputes it.
                    log::warn!("{e}");
                    self.unpin(job, key, deps);
                    self.data.remove(input);
                    self.sched.outbox.push(&FromWorker::Missing { key, input });
                    return;
                }
                None => {
                    self.unpin(job, key, deps);
                    self.sched.outbox.push(&FromWorker::Missing { key, input });
                    return;
                }
            }
        }
        self.exec.push(Item {
            priority,
            key,
            job: job.clone(),
            inputs,
        });
        // Inputs read back from disk count again.
        self.spill_if_over();
    }

    /// Reports and stores up to [`OUTCOMES_PER_TURN`] finished tasks;
    /// true if more are waiting.
    pub(super) fn collect_outcomes(&mut self) -> bool {
        let mut taken = 0;
        while taken < OUTCOMES_PER_TURN {
            let Ok(outcome) = self.outcomes.try_recv() else {
                break;
            };
            taken += 1;
            let Some(job) = self.jobs.get(&outcome.key.job).cloned() else {
                continue; // its job was dropped while it ran
            };
            self.unpin(&job, outcome.key, &outcome.inputs);
            let run = RunTime {
                nanos: outcome.nanos,
                ago_us: outcome.ended.elapsed().as_micros().min(u32::MAX.into()) as u32,
                thread: outcome.thread,
            };
            match outcome.result {
                Ok((value, bytes)) => {
                    let size = bytes.len() as u64;
                    self.sched.outbox.push(&FromWorker::Done {
                        key: outcome.key,
                        bytes: size,
                        run,
                    });
                    // Needed only to read it back from disk.
                    let codec = if self.data.spills() {
                        job.codec(TaskId(outcome.key.task))
                    } else {
                        None
                    };
                    self.data
                        .insert(outcome.key, value, bytes, size, codec, true);
                }
                Err(e) => self.sched.outbox.push(&FromWorker::Failed {
                    key: outcome.key,
                    message: e.message().to_owned(),
                    origin: e.origin().map(|(k, o)| (k.to_owned(), o.to_owned())),
                    run: Some(run),
                }),
            }
        }
        if taken > 0 {
            self.spill_if_over();
        }
        taken == OUTCOMES_PER_TURN
    }
}
