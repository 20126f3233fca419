//! The placement policy: which worker a ready task goes to, how many tasks
//! a worker may have in flight, when root tasks are held back, and whom to
//! ask for work back. Pure: it reads the books and changes nothing; the
//! [`dispatch`](super::dispatch) step applies what it decides.
//!
//! **How far ahead.** A worker is kept busy across a round trip to the
//! scheduler: besides the tasks its threads run, each thread has `cover =
//! round_trip / mean task` more queued (at most `max_per_thread`), the
//! mean learnt from every finished run.
//!
//! **Root-task saturation** (Dask's `worker-saturation`). A root task
//! (one whose inputs, if any, are results of earlier jobs) is sent only
//! while its worker has fewer than `ceil(threads × (saturation + cover))`
//! tasks in flight; other tasks may fill it to `ceil(threads × (headroom +
//! cover))`. With tasks long against the round trip (`cover` near 0) this
//! is Dask's rule, roots held back until a worker has fewer than
//! `saturation` × its threads in flight; with short tasks both caps grow by
//! the tasks that cover a round trip, so that a worker never idles waiting
//! for the scheduler.
//!
//! The default saturation is 1.0, not Dask's 1.1: the cover already
//! queues tasks beyond the running ones, and a worker reads a task's
//! inputs (from its spill directory too) as the task arrives, so each
//! root more in flight is one more input in memory. With 1.1 the spill
//! test (`tests/cluster.rs`, 36 MiB inputs, one thread) saw its worker
//! peak at 521 MB against 453 MB of results; with 1.0 it stays below. The room between the two caps (`headroom − saturation` per
//! thread) is kept for consumers, which free memory: producers do not
//! outrun them.
//!
//! **Which worker.** Of the eligible workers with room, not paused and
//! with the job's resources free, the one where the task would start
//! soonest: its queue (in flight × mean / threads) plus moving the inputs
//! it does not hold, at `bytes_per_ns`. A worker holding input bytes
//! competes past its cap, beside one with room, so a task whose inputs
//! would take longer to move than its holder's queue stays there. A
//! retried task avoids the worker it last failed on when another can take
//! it.

use rask_core::TaskId;

use super::job::Job;
use super::load::ByLoad;
use super::table::Workers;
use super::worker::Worker;
use crate::protocol::WorkerId;

/// The placement policy's parameters, and its estimate of task length.
#[derive(Debug, Clone)]
pub struct Placement {
    /// Running mean of task durations (ns).
    mean_task_ns: f64,
    /// The round trip a worker's queue must cover (ns).
    pub round_trip_ns: f64,
    /// Most tasks in flight per thread, however short tasks are.
    pub max_per_thread: f64,
    /// Root tasks fill a worker to this many per thread, besides the
    /// round trip's cover (Dask's `worker-saturation`).
    pub saturation: f64,
    /// Other tasks fill it to this many per thread, besides the cover.
    pub headroom: f64,
    /// Assumed transfer speed between workers.
    pub bytes_per_ns: f64,
}

impl Default for Placement {
    fn default() -> Placement {
        Placement {
            mean_task_ns: 50_000.0,
            round_trip_ns: 300_000.0,
            max_per_thread: 512.0,
            saturation: 1.0,
            headroom: 2.0,
            bytes_per_ns: 1.0,
        }
    }
}

/// Weight of the newest run in the mean task length.
const MEAN_WEIGHT: f64 = 0.05;

// The simulator and the tests set and read the estimate; the socket
// loop only feeds it.
#[cfg_attr(not(test), allow(dead_code))]
impl Placement {
    /// A policy that starts from tasks of `mean_task_ns`.
    pub fn with_mean_task_ns(mean_task_ns: f64) -> Placement {
        Placement {
            mean_task_ns: mean_task_ns.max(1.0),
            ..Placement::default()
        }
    }

    /// A task ran for `nanos`.
    pub fn observe(&mut self, nanos: u64) {
        self.mean_task_ns = (1.0 - MEAN_WEIGHT) * self.mean_task_ns + MEAN_WEIGHT * nanos as f64;
    }

    /// Tasks per thread, beyond those running, that cover a round trip.
    fn cover(&self) -> f64 {
        (self.round_trip_ns / self.mean_task_ns.max(1.0)).min(self.max_per_thread)
    }

    /// Tasks `worker` may have in flight before it takes no more: of root
    /// tasks when `root`, else of any.
    pub(super) fn cap(&self, worker: &Worker, root: bool) -> u32 {
        self.cap_on(worker.info.nthreads, root)
    }

    /// [`cap`](Self::cap) for a worker of `threads` threads.
    fn cap_on(&self, threads: u32, root: bool) -> u32 {
        let factor = if root { self.saturation } else { self.headroom };
        let threads = f64::from(threads.max(1));
        (threads * (factor + self.cover())).ceil().max(1.0) as u32
    }

    /// True if no worker can take a task now: the least-loaded one is at
    /// its cap for any task. [`choose`](Self::choose) then finds no room
    /// for any task of any job (a holder goes past its cap only beside a
    /// worker with room), so a turn need not ask job by job.
    pub(super) fn cluster_full(&self, by_load: &ByLoad) -> bool {
        by_load.iter().next().is_some_and(|l| {
            let cap = self
                .cap_on(l.threads, true)
                .max(self.cap_on(l.threads, false));
            l.in_flight >= cap
        })
    }

    /// True if `worker` may take one more task of `job` now.
    pub(super) fn has_room(&self, worker: &Worker, job: &Job, root: bool) -> bool {
        self.may_queue(worker, job) && worker.in_flight < self.cap(worker, root)
    }

    /// True if `worker` may take a task of `job` past its in-flight cap:
    /// one whose inputs it holds, when waiting in its queue is quicker than
    /// moving them (see [`choose`](Self::choose)).
    pub(super) fn may_queue(&self, worker: &Worker, job: &Job) -> bool {
        !worker.paused && job.constraints.free_on(worker)
    }

    /// The worker of `eligible` (sorted by id) where task `t` of `job`
    /// would start soonest, among those with room; `None` when none has.
    /// Ties go to the lowest id.
    ///
    /// A worker holding inputs of `t` competes even when it is at its cap:
    /// if its queue is shorter than the transfer another worker would
    /// wait for, the task is kept for it rather than moving its inputs
    /// (a shuffle's splits each read a whole partition to write a
    /// sliver of it). Only beside a worker with room, though: a task no
    /// worker has room for waits here, as before, so the caps still bound
    /// what roots and consumers queue ahead everywhere.
    ///
    /// Only the workers holding an input, and the least-loaded other
    /// worker that can take the task, are scored: every worker holding
    /// nothing would fetch every input, so the least loaded of them is the
    /// best of them. The cost is the task's inputs, not the worker count.
    pub(super) fn choose(
        &self,
        job: &Job,
        t: TaskId,
        root: bool,
        eligible: &[WorkerId],
        (workers, by_load): (&Workers, &ByLoad),
    ) -> Option<WorkerId> {
        let (held, total) = tally(job, job.exec.graph.args(t));
        self.choose_tallied(job, t, root, eligible, (&held, total), (workers, by_load))
    }

    /// [`choose`](Self::choose) given [`tally`]'s count of the bytes of
    /// `t`'s inputs each holder has, and their total: a task with many
    /// inputs is tallied over several turns.
    pub(super) fn choose_tallied(
        &self,
        job: &Job,
        t: TaskId,
        root: bool,
        eligible: &[WorkerId],
        (held, total): (&[(WorkerId, u64)], u64),
        (workers, by_load): (&Workers, &ByLoad),
    ) -> Option<WorkerId> {
        let failed_on = job.retried.get(&t.0).map(|r| r.1);
        let mut best: Option<(f64, WorkerId)> = None;
        let mut any_room = false;
        let mut consider = |w: WorkerId, local: u64| -> bool {
            let Some(worker) = workers.get(&w) else {
                return false;
            };
            if eligible.binary_search(&w).is_err() || !self.may_queue(worker, job) {
                return false;
            }
            let room = worker.in_flight < self.cap(worker, root);
            if !room && local == 0 {
                return false;
            }
            any_room |= room;
            let queue = f64::from(worker.in_flight) * self.mean_task_ns
                / f64::from(worker.info.nthreads.max(1));
            let transfer = (total - local) as f64 / self.bytes_per_ns;
            let avoid = if Some(w) == failed_on {
                f64::MAX / 4.0
            } else {
                0.0
            };
            let score = queue + transfer + avoid;
            if best.is_none_or(|(s, b)| score < s || (score == s && w < b)) {
                best = Some((score, w));
            }
            true
        };
        for &(h, local) in held {
            consider(h, local);
        }
        for load in by_load.iter() {
            // The cap is a fixed number of tasks per thread and the order
            // is by tasks per thread, so from the first worker at its cap
            // on every worker is at its cap: without this stop, a task no
            // worker has room for would score every worker, on every turn.
            if load.in_flight >= self.cap_on(load.threads, root) {
                break;
            }
            let w = load.id;
            if held.binary_search_by_key(&w, |&(h, _)| h).is_ok() {
                continue;
            }
            // The worker to avoid is scored, and the search goes on.
            if consider(w, 0) && Some(w) != failed_on {
                break;
            }
        }
        best.filter(|_| any_room).map(|(_, w)| w)
    }

    /// Whom to ask for work back, and at most how many tasks, when a
    /// worker idles and nothing waits here: the worker with the most tasks
    /// in flight per thread among those with more than one task queued
    /// beyond their threads and no request out, for half of those.
    ///
    /// Walks the load order from both ends: idle workers come first, and
    /// the walk from the busy end stops at the first worker with no more
    /// tasks than threads, as every later one has no more either.
    pub(super) fn steal_from(
        &self,
        (workers, by_load): (&Workers, &ByLoad),
    ) -> Option<(WorkerId, u32)> {
        let mut idle = by_load.iter().take_while(|l| l.in_flight == 0);
        if !idle.any(|l| workers.get(&l.id).is_some_and(|w| !w.paused)) {
            return None;
        }
        by_load
            .iter()
            .rev()
            .take_while(|l| l.in_flight > l.threads)
            .filter_map(|l| workers.get(&l.id).map(|w| (l.id, w)))
            .find(|(_, w)| !w.stealing && w.in_flight > w.info.nthreads + 1)
            .map(|(id, w)| (id, ((w.in_flight - w.info.nthreads) / 2).max(1)))
    }
}

/// The bytes of the inputs among `args` each worker holds (by id, each
/// once), and their total. Summed after a sort, so that a fan-in of n
/// inputs costs n log n, not n × holders.
pub(super) fn tally(job: &Job, args: &[rask_core::Arg]) -> (Vec<(WorkerId, u64)>, u64) {
    let mut held: Vec<(WorkerId, u64)> = Vec::new();
    let mut total = 0u64;
    for d in args.iter().filter_map(|a| a.as_dep()) {
        let b = job.bytes[d.index()];
        total += b;
        held.extend(job.holders(d.index()).map(|h| (h, b)));
    }
    held.sort_unstable_by_key(|&(w, _)| w);
    held.dedup_by(|next, kept| {
        let same = next.0 == kept.0;
        if same {
            kept.1 += next.1;
        }
        same
    });
    (held, total)
}
