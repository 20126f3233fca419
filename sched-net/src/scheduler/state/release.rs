//! Releasing results once every task using them has run, a bounded number
//! per loop turn.
//!
//! A task with ten million inputs (a merge) frees ten million results when
//! it completes. Building and sending those release lists at once held the
//! loop for seconds, with the job's `Done` waiting behind them. The results
//! go on a per-job list instead; each turn releases at most
//! [`RELEASE_PER_TURN`] of them, the first batch right away.

use std::collections::BTreeMap;

use super::{Cluster, Job, Sink};
use crate::protocol::{DataKey, JobId, ToWorker, WorkerId};

/// Results released per job and loop turn: a few milliseconds of work.
const RELEASE_PER_TURN: usize = 1 << 16;

impl Job {
    /// Releases up to [`RELEASE_PER_TURN`] of the results waiting for it:
    /// each worker holding one (or a copy) is told to drop it.
    pub(super) fn release_some(&mut self, id: JobId, sink: &mut impl Sink) {
        if self.releasing.is_empty() {
            return;
        }
        let from = self.releasing.len().saturating_sub(RELEASE_PER_TURN);
        let mut by_worker: BTreeMap<WorkerId, Vec<DataKey>> = BTreeMap::new();
        for r in self.releasing.drain(from..) {
            let w = std::mem::take(&mut self.holder[r.index()]);
            let copies = self.replicas.remove(&r.0).unwrap_or_default();
            if w != 0 && !self.externals.contains_key(&r.0) {
                self.progress.released(r.index());
                for w in std::iter::once(w).chain(copies) {
                    by_worker
                        .entry(w)
                        .or_default()
                        .push(DataKey { job: id, task: r.0 });
                }
            }
        }
        for (w, keys) in by_worker {
            sink.to_worker(w, &ToWorker::Release { keys });
        }
        if self.releasing.is_empty() {
            // Ten million task ids are 40 MB: given back once done.
            self.releasing = Vec::new();
        }
    }
}

impl Cluster {
    /// Goes on with the releases left from earlier turns.
    pub(super) fn release_pending(&mut self, sink: &mut impl Sink) {
        for (id, job) in self.jobs.iter_mut() {
            job.release_some(*id, sink);
        }
    }

    /// True if results wait to be released: the loop should come back at
    /// once rather than sleep.
    pub fn releasing(&self) -> bool {
        self.jobs.values().any(|j| !j.releasing.is_empty())
    }
}
