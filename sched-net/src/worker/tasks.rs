//! A task's way through a worker: its inputs pinned here or fetched from
//! the workers holding them, queued to the executor once all are here,
//! and its outcome reported and stored. The walks over its inputs are in
//! `walk.rs`.

use std::collections::HashMap;

use rask_core::TaskId;

use super::Worker;
use crate::portable::SharedJob;
use crate::protocol::{DataKey, FromWorker, JobId, RunTime, WorkerId};

/// The worker's maps keyed by result: a merge looks millions of keys up
/// per task, where SipHash was a tenth of the worker's time.
pub(super) type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;

/// A task waiting for inputs from peers.
pub(super) struct Pending {
    pub(super) priority: u64,
    pub(super) missing: usize,
    /// Its inputs are all walked (a wide task's are walked over several
    /// turns): only then does it start when `missing` reaches 0.
    pub(super) admitted: bool,
    /// Its inputs' task ids, sorted and distinct (once admitted).
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
const OUTCOMES_PER_TURN: usize = 1 << 12;

impl Worker {
    /// The key of `dep`'s result in `job`.
    pub(super) fn data_key(job: JobId, loaded: &SharedJob, dep: TaskId) -> DataKey {
        loaded
            .externals
            .get(&dep.0)
            .map_or(DataKey { job, task: dep.0 }, |(k, _)| *k)
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
            self.unpin(&job, outcome.key, outcome.inputs);
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
