//! What workers report about tasks: done, failed (retried while the job
//! allows), an input missing (the holder lost it), or given back after a
//! steal. A report about a task not sent to that worker (a late duplicate,
//! a job gone) changes nothing it should not.

use std::time::Instant;

use rask_core::TaskId;

use super::job::Job;
use super::load::ByLoad;
use super::table::Workers;
use super::{Cluster, Sink};
use crate::protocol::{DataKey, RunTime, WireError, WorkerId};

/// One failure report: the task, what went wrong, the inner (key, op)
/// that failed inside a fused task, and the run if the task started.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The task.
    pub key: DataKey,
    /// What went wrong.
    pub message: String,
    /// The inner (key, op) that failed, inside a fused task.
    pub origin: Option<(String, String)>,
    /// How it ran; `None` when it never started.
    pub run: Option<RunTime>,
}

impl Cluster {
    /// A task finished on worker `w`; `run` says when and on which
    /// thread, as of `received`. Its result, `bytes` long, stays there.
    pub fn on_done(
        &mut self,
        w: WorkerId,
        key: DataKey,
        bytes: u64,
        run: RunTime,
        received: Instant,
        sink: &mut impl Sink,
    ) {
        self.dirty = true;
        self.advance(received);
        self.placement.observe(run.nanos);
        let Some(job) = self.jobs.get_mut(&key.job) else {
            return;
        };
        let t = key.task as usize;
        if t >= job.holder.len() {
            return;
        }
        unsend((&mut self.workers, &mut self.by_load), job, t, w);
        self.board
            .record(w, job.progress.prefix(t), &run, received, false);
        if job.holder[t].is_some() || !self.workers.contains_key(&w) {
            // A duplicate run (after a steal or a re-plan): keep the first.
            // From a worker already removed: its result went with it.
            return;
        }
        job.holder[t] = Some(w);
        job.bytes[t] = bytes;
        job.progress.done(t);
        // Completes it if the state machine handed it out; a task sent
        // before a re-plan and not handed out again completes when popped.
        job.complete(key.job, TaskId(key.task), sink);
    }

    /// A task failed on worker `w`, reported at `received`: it runs again
    /// (elsewhere when it can) while its job allows retries, else its job
    /// fails.
    pub fn on_failed(
        &mut self,
        w: WorkerId,
        failure: Failure,
        received: Instant,
        sink: &mut impl Sink,
    ) {
        self.dirty = true;
        self.advance(received);
        let Failure {
            key,
            message,
            origin,
            run,
        } = failure;
        let Some(job) = self.jobs.get_mut(&key.job) else {
            return;
        };
        let t = key.task as usize;
        if t >= job.holder.len() || job.sent[t] != Some(w) {
            return; // not running there: a late report of a run superseded
        }
        unsend((&mut self.workers, &mut self.by_load), job, t, w);
        if let Some(run) = run {
            self.board
                .record(w, job.progress.prefix(t), &run, received, true);
        }
        let failures = job.retried.get(&key.task).map_or(0, |r| r.0);
        if failures < job.constraints.retries {
            job.retried.insert(key.task, (failures + 1, w));
            let _ = job.exec.state.requeue(TaskId(key.task));
            return;
        }
        job.progress.erred(t);
        let _ = job.exec.state.fail(TaskId(key.task));
        let (task_key, op) = origin.unwrap_or_else(|| job.names(key.task));
        self.fail_job(
            key.job,
            WireError::Task {
                key: task_key,
                op,
                message,
            },
            sink,
        );
    }

    /// Worker `w` could not fetch `input` for `key`: the task goes back to
    /// the queue; if the input's holder is still here it lost the result,
    /// and a copy takes over or it is recomputed.
    pub fn on_missing(&mut self, w: WorkerId, key: DataKey, input: DataKey, sink: &mut impl Sink) {
        self.dirty = true;
        if !self.take_back(w, key) {
            return;
        }
        let Some(job) = self.jobs.get_mut(&key.job) else {
            return;
        };
        let i = input.task as usize;
        let lost_here = input.job == key.job
            && job
                .holder
                .get(i)
                .copied()
                .flatten()
                .is_some_and(|h| self.workers.contains_key(&h));
        if lost_here {
            let copy = job.replicas.get_mut(&input.task).and_then(Vec::pop);
            if job.replicas.get(&input.task).is_some_and(Vec::is_empty) {
                job.replicas.remove(&input.task);
            }
            job.holder[i] = copy;
            if copy.is_none() {
                self.replan(key.job, sink);
            }
        }
    }

    /// A task given back by worker `w` after a steal request.
    pub fn on_returned(&mut self, w: WorkerId, key: DataKey) {
        self.dirty = true;
        self.take_back(w, key);
    }

    /// Puts task `key`, sent to worker `w`, back in its job's ready queue;
    /// false (and nothing changes) if it was not out on `w`.
    fn take_back(&mut self, w: WorkerId, key: DataKey) -> bool {
        let Some(job) = self.jobs.get_mut(&key.job) else {
            return false;
        };
        let t = key.task as usize;
        if t >= job.holder.len() || job.sent[t] != Some(w) {
            return false;
        }
        unsend((&mut self.workers, &mut self.by_load), job, t, w);
        let _ = job.exec.state.requeue(TaskId(key.task));
        true
    }
}

/// Clears the record that `t` was sent to `w`, and what it held there.
fn unsend((workers, by_load): (&mut Workers, &mut ByLoad), job: &mut Job, t: usize, w: WorkerId) {
    if job.sent[t] == Some(w) {
        job.sent[t] = None;
        job.progress.unsent(t);
        if let Some(worker) = workers.get_mut(&w) {
            by_load.step(w, worker, false);
            worker.stealing = false;
            job.constraints.give_back(worker);
        }
    }
}
