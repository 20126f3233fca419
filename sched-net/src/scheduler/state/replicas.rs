//! Copies of a result on more than one worker (Dask's `replicate`, and
//! `scatter(broadcast=True)`): a task placed where a copy is needs no
//! fetch, and a result survives the death of the worker that made it
//! while a copy lives.
//!
//! The worker that made a result stays its `holder`; the others are kept
//! per task in `Job::replicas`. A later job passed the result copies both
//! lists, as it copies the holder.

use super::job::Job;
use super::{Cluster, Sink};
use crate::protocol::{Answer, DataKey, JobId, ToWorker, WorkerId};

impl Job {
    /// Whether worker `w` holds task `t`'s result.
    pub(super) fn held_on(&self, t: usize, w: WorkerId) -> bool {
        self.holders(t).any(|h| h == w)
    }

    /// Every worker holding task `t`'s result: its holder, then its copies
    /// (no lookup for a job without copies, most jobs).
    pub(super) fn holders(&self, t: usize) -> impl Iterator<Item = WorkerId> + '_ {
        let copies = match self.replicas.is_empty() {
            true => None,
            false => self.replicas.get(&(t as u32)),
        };
        self.holder[t]
            .iter()
            .chain(copies.into_iter().flatten())
            .copied()
    }

    /// Takes task `t`'s copies, for release.
    pub(super) fn take_replicas(&mut self, t: u32) -> Vec<WorkerId> {
        self.replicas.remove(&t).unwrap_or_default()
    }

    /// Worker `w` is gone: its copies with it. A result it held that has
    /// a copy elsewhere is now held there.
    pub(super) fn forget_worker(&mut self, w: WorkerId) {
        self.replicas.retain(|t, copies| {
            copies.retain(|c| *c != w);
            let t = *t as usize;
            if self.holder[t] == Some(w) {
                if let Some(c) = copies.pop() {
                    self.holder[t] = Some(c);
                }
            }
            !copies.is_empty()
        });
    }
}

impl Cluster {
    /// Asks workers to copy `keys` until each is on `n` workers (0: every
    /// worker). Results not finished, or gone, are an error naming them.
    pub(super) fn replicate(&mut self, keys: &[DataKey], n: u32, sink: &mut impl Sink) -> Answer {
        for key in keys {
            if self.holder_of(*key).is_none() {
                return Answer::Error(format!(
                    "cannot replicate result {}/{}: it is not on the cluster (not finished, or \
                     released)",
                    key.job, key.task
                ));
            }
        }
        let workers: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, w)| !w.paused)
            .map(|(id, _)| *id)
            .collect();
        for &key in keys {
            let Some(job) = self.jobs.get(&key.job) else {
                continue;
            };
            let t = key.task as usize;
            let Some(from) = job.holder[t] else {
                continue;
            };
            let have = 1 + job.replicas.get(&key.task).map_or(0, Vec::len);
            let want = if n == 0 { workers.len() } else { n as usize };
            let targets: Vec<WorkerId> = workers
                .iter()
                .copied()
                .filter(|w| !job.held_on(t, *w))
                .take(want.saturating_sub(have))
                .collect();
            for w in targets {
                self.send_spec(key.job, w, sink);
                sink.to_worker(w, &ToWorker::Replicate { key, from });
            }
        }
        Answer::Done
    }

    /// Where each of `keys` is held.
    pub(super) fn who_has(&self, keys: &[DataKey]) -> Answer {
        Answer::Holders(
            keys.iter()
                .map(|k| {
                    let Some(job) = self.jobs.get(&k.job) else {
                        return Vec::new();
                    };
                    let t = k.task as usize;
                    match job.holder.get(t).copied().flatten() {
                        Some(h) => std::iter::once(h)
                            .chain(job.replicas.get(&k.task).into_iter().flatten().copied())
                            .collect(),
                        _ => Vec::new(),
                    }
                })
                .collect(),
        )
    }

    /// Worker `w` made its copy of `key`; if the result went meanwhile,
    /// the copy goes too.
    pub fn on_replicated(&mut self, w: WorkerId, key: DataKey, sink: &mut impl Sink) {
        self.dirty = true;
        let alive = self.workers.contains_key(&w);
        let kept = alive
            && self.jobs.get_mut(&key.job).is_some_and(|job| {
                let t = key.task as usize;
                if job.holder.get(t).is_none_or(Option::is_none) {
                    return false;
                }
                if !job.held_on(t, w) {
                    job.replicas.entry(key.task).or_default().push(w);
                }
                true
            });
        if alive && !kept {
            sink.to_worker(w, &ToWorker::Release { keys: vec![key] });
        }
    }

    /// The worker holding `key`, if it is finished and still here.
    fn holder_of(&self, key: DataKey) -> Option<WorkerId> {
        let job = self.jobs.get(&key.job)?;
        job.holder.get(key.task as usize).copied().flatten()
    }

    /// Sends worker `w` the spec of `job` unless it has it.
    pub(super) fn send_spec(&mut self, job: JobId, w: WorkerId, sink: &mut impl Sink) {
        let (Some(j), Some(worker)) = (self.jobs.get(&job), self.workers.get_mut(&w)) else {
            return;
        };
        if worker.has_spec.insert(job) {
            sink.job_to_worker(w, job, &j.spec);
        }
    }
}
