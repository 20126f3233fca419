//! How long results stay on the cluster: a job's results while its
//! client holds it, an intermediate result until its last consumer is
//! done, and whatever a dataset, a queue or a later job pins.
//!
//! Two counts keep results: `Job::pins` (later jobs and key pins keep the
//! whole job) and `Cluster::key_pins` (one result, by key). A job goes once
//! it is released, not pinned and not running on as fire-and-forget.
//!
//! Results whose last consumer ran are released a bounded number per job
//! and turn ([`RELEASE_PER_TURN`]): a task with ten million inputs (a
//! merge) frees ten million results when it completes, and building and
//! sending those release lists at once held the loop for seconds, with the
//! job's `Done` waiting behind them. They wait on the job's `releasing`
//! list instead, the first batch going at once. Finding them is bounded
//! too: the state machine walks [`WALK_PER_TURN`] of a task's inputs when
//! it completes, and the rest as the list runs low
//! ([`ExecState::complete_bounded`](rask_core::ExecState::complete_bounded)).

use std::collections::BTreeMap;

use rask_core::TaskId;

use super::job::Job;
use super::{ClientId, Cluster, Retired, Sink};
use crate::protocol::{DataKey, JobId, ToWorker, WorkerId};

/// Results released per job and loop turn: a few milliseconds of work.
/// The in-memory tests use a small turn, so that their jobs cross it.
/// At 10,000 workers a batch is up to one message per worker, about
/// 0.2 µs per result in all: 16,384 are some 3 ms.
pub(super) const RELEASE_PER_TURN: usize = if cfg!(test) { 100 } else { 1 << 14 };

/// A completed task's inputs counted down per job and turn: a few
/// nanoseconds each, so 65,536 take well under a millisecond.
pub(super) const WALK_PER_TURN: usize = if cfg!(test) { 150 } else { 1 << 16 };

impl Cluster {
    /// The client no longer needs `job`'s results. A job a dataset holds
    /// runs on to its end.
    pub fn release(&mut self, job: JobId, sink: &mut impl Sink) {
        self.dirty = true;
        if let Some(j) = self.jobs.get_mut(&job) {
            j.released = true;
            if j.forgotten && !j.finished {
                return; // dropped once it finishes
            }
            if j.pins == 0 {
                self.active.retain(|a| *a != job);
            }
            self.drop_if_unused(job, sink);
        }
    }

    /// Runs `job` to its end even if its client lets go of it or leaves.
    pub fn forget(&mut self, job: JobId) {
        self.dirty = true;
        if let Some(j) = self.jobs.get_mut(&job) {
            j.forgotten = !j.finished;
        }
    }

    /// The client let go of these outputs of `job`: each is dropped once
    /// the job has finished and nothing else holds it.
    pub fn release_outputs(&mut self, job: JobId, tasks: &[u32], sink: &mut impl Sink) {
        self.dirty = true;
        let Some(j) = self.jobs.get_mut(&job) else {
            return;
        };
        for &t in tasks {
            if j.outputs.contains(&TaskId(t)) {
                j.dropped.insert(t);
            }
        }
        if j.finished {
            self.free_dropped(job, sink);
        }
    }

    /// A client went away: its jobs are released (but those it fired and
    /// forgot run on), its waiting gets end, and what it took from queues
    /// and had not yet held goes.
    pub fn client_gone(&mut self, client: ClientId, sink: &mut impl Sink) {
        self.dirty = true;
        self.parked.retain(|g| g.client != client);
        let lent: Vec<DataKey> = self
            .lent
            .iter()
            .filter(|(c, _)| *c == client)
            .map(|(_, k)| *k)
            .collect();
        self.lent.retain(|(c, _)| *c != client);
        for k in lent {
            self.unpin_key(k, sink);
        }
        let jobs: Vec<JobId> = self
            .jobs
            .iter()
            .filter(|(_, j)| j.client == client)
            .map(|(id, _)| *id)
            .collect();
        for job in jobs {
            self.release(job, sink);
        }
    }

    /// Drops the results of `job`'s let-go outputs that nothing pins.
    pub(super) fn free_dropped(&mut self, id: JobId, sink: &mut impl Sink) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        let mut by_worker: BTreeMap<WorkerId, Vec<DataKey>> = BTreeMap::new();
        let dropped: Vec<u32> = job.dropped.iter().copied().collect();
        for t in dropped {
            let key = DataKey { job: id, task: t };
            if job.externals.contains_key(&t) || self.key_pins.contains_key(&key) {
                continue;
            }
            let Some(w) = job.holder[t as usize].take() else {
                continue;
            };
            job.progress.released(t as usize);
            by_worker.entry(w).or_default().push(key);
            for c in job.take_replicas(t) {
                by_worker.entry(c).or_default().push(key);
            }
        }
        for (w, keys) in by_worker {
            sink.to_worker(w, &ToWorker::Release { keys });
        }
    }

    /// Holds result `k` (and its job) on the cluster.
    pub(super) fn pin_key(&mut self, k: DataKey) {
        if let Some(j) = self.jobs.get_mut(&k.job) {
            j.pins += 1;
            *self.key_pins.entry(k).or_default() += 1;
        }
    }

    /// Lets go of a hold taken by [`pin_key`](Self::pin_key).
    pub(super) fn unpin_key(&mut self, k: DataKey, sink: &mut impl Sink) {
        let Some(j) = self.jobs.get_mut(&k.job) else {
            return;
        };
        j.pins = j.pins.saturating_sub(1);
        if j.pins == 0 && j.released && !j.forgotten {
            self.active.retain(|a| *a != k.job);
        }
        self.key_unpinned(k, sink);
        self.drop_if_unused(k.job, sink);
    }

    /// One key-level hold on `k` is gone; a let-go output then goes.
    fn key_unpinned(&mut self, k: DataKey, sink: &mut impl Sink) {
        if let Some(n) = self.key_pins.get_mut(&k) {
            *n -= 1;
            if *n == 0 {
                self.key_pins.remove(&k);
                let free = self
                    .jobs
                    .get(&k.job)
                    .is_some_and(|j| j.finished && j.dropped.contains(&k.task));
                if free {
                    self.free_dropped(k.job, sink);
                }
            }
        }
    }

    /// Removes `job` if nothing needs it any more: workers drop its spec
    /// and results, its tasks still out stop counting against their
    /// workers, and the earlier jobs it pinned are let go.
    pub(super) fn drop_if_unused(&mut self, job: JobId, sink: &mut impl Sink) {
        let Some(j) = self.jobs.get(&job) else { return };
        if !j.released || j.pins > 0 || (j.forgotten && !j.finished) {
            return;
        }
        let Some(mut j) = self.jobs.remove(&job) else {
            return;
        };
        self.active.retain(|a| *a != job);
        self.board.history.fold(&j.progress);
        for w in self.workers.keys() {
            sink.to_worker(*w, &ToWorker::DropJob { job });
        }
        for w in self.workers.values_mut() {
            w.has_spec.remove(&job);
        }
        for w in j.sent.iter().flatten() {
            if let Some(worker) = self.workers.get_mut(w) {
                self.by_load.step(*w, worker, false);
                j.constraints.give_back(worker);
            }
        }
        for k in &j.pinned_keys {
            self.key_unpinned(*k, sink);
        }
        for earlier in std::mem::take(&mut j.pinned) {
            if let Some(e) = self.jobs.get_mut(&earlier) {
                e.pins = e.pins.saturating_sub(1);
            }
            self.drop_if_unused(earlier, sink);
        }
        if let Some(retired) = &mut self.retired {
            retired.push(Retired::from(j));
        }
    }

    /// Goes on with the releases left from earlier turns; true if some are
    /// left still.
    pub(super) fn release_pending(&mut self, sink: &mut impl Sink) -> bool {
        let mut left = false;
        for (id, job) in self.jobs.iter_mut() {
            job.release_some(*id, sink);
            left |= job.releases_left();
        }
        left
    }

    /// True if results wait to be released.
    #[cfg(test)]
    pub(super) fn releasing(&self) -> bool {
        self.jobs.values().any(Job::releases_left)
    }
}

impl Job {
    /// True if results of this job wait to be released, or inputs of a
    /// completed task to be counted down.
    pub(super) fn releases_left(&self) -> bool {
        !self.releasing.is_empty() || self.exec.state.releasing()
    }

    /// Completes `t` in the job's state machine and releases the results
    /// no task needs any more: some now, the rest over the next turns.
    pub(super) fn complete(&mut self, id: JobId, t: TaskId, sink: &mut impl Sink) {
        let releasing = &mut self.releasing;
        let walk = |r| releasing.push(r);
        if self
            .exec
            .state
            .complete_bounded(t, WALK_PER_TURN, walk)
            .is_err()
        {
            return;
        }
        self.release_some(id, sink);
    }

    /// Releases up to [`RELEASE_PER_TURN`] of the results waiting for it:
    /// each worker holding one (or a copy) is told to drop it.
    pub(super) fn release_some(&mut self, id: JobId, sink: &mut impl Sink) {
        if self.releasing.len() < RELEASE_PER_TURN && self.exec.state.releasing() {
            let releasing = &mut self.releasing;
            self.exec
                .state
                .release_more(WALK_PER_TURN, |r| releasing.push(r));
        }
        if self.releasing.is_empty() {
            return;
        }
        let from = self.releasing.len().saturating_sub(RELEASE_PER_TURN);
        // Grouped by a sort: one vector, not a list per worker in a map.
        let mut to: Vec<(WorkerId, DataKey)> = Vec::new();
        for r in self.releasing.drain(from..) {
            if self.externals.contains_key(&r.0) {
                // Held for the earlier job: this job only lets go of it.
                self.holder[r.index()] = None;
                self.replicas.remove(&r.0);
                continue;
            }
            let copies = self.replicas.remove(&r.0).unwrap_or_default();
            if let Some(w) = self.holder[r.index()].take() {
                self.progress.released(r.index());
                for w in std::iter::once(w).chain(copies) {
                    to.push((w, DataKey { job: id, task: r.0 }));
                }
            }
        }
        to.sort_by_key(|&(w, _)| w);
        for group in to.chunk_by(|a, b| a.0 == b.0) {
            let keys = group.iter().map(|&(_, k)| k).collect();
            sink.to_worker(group[0].0, &ToWorker::Release { keys });
        }
        if self.releasing.is_empty() {
            // Ten million task ids are 40 MB: given back once done.
            self.releasing = Vec::new();
        }
    }
}
