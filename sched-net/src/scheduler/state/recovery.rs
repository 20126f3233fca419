//! Recovery from a lost worker: what it was running goes back to the
//! queue (a task that has now killed [`MAX_DEATHS`] workers fails its job
//! with `KilledWorker`), and results that lived only on it are recomputed
//! from lineage by re-planning the job from the results still held.

use rask_core::TaskId;

use super::exec::Exec;
use super::{Cluster, Sink};
use crate::protocol::{JobId, WireError, WorkerId};

/// A task that killed this many workers fails (Dask's
/// `allowed-failures` + 1).
pub const MAX_DEATHS: u8 = 3;

impl Cluster {
    /// Worker `w` is gone (already off the worker table): every job lets
    /// go of what it sent there and held there.
    pub(super) fn recover_from_loss(&mut self, w: WorkerId, sink: &mut impl Sink) {
        // Oldest first, not in the map's order: jobs re-planned here are
        // re-activated in this order, and a replay must repeat it.
        let mut ids: Vec<JobId> = self.jobs.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let Some(job) = self.jobs.get_mut(&id) else {
                continue;
            };
            job.forget_worker(w);
            job.eligible.remove(&w);
            let mut killed = None;
            for t in 0..job.sent.len() {
                if job.sent[t] != Some(w) {
                    continue;
                }
                job.sent[t] = None;
                job.progress.unsent(t);
                job.deaths[t] = job.deaths[t].saturating_add(1);
                if job.deaths[t] >= MAX_DEATHS {
                    killed = Some(t as u32);
                }
                let _ = job.exec.state.requeue(TaskId(t as u32));
            }
            // Results held only there are gone, whatever happens next.
            let mut lost = false;
            let mut lost_external = None;
            for (t, h) in job.holder.iter_mut().enumerate() {
                if *h == Some(w) {
                    *h = None;
                    lost = true;
                    if lost_external.is_none() && job.externals.contains_key(&(t as u32)) {
                        lost_external = Some(t as u32);
                    }
                }
            }
            if let Some(t) = killed {
                let (key, op) = job.names(t);
                let error = WireError::KilledWorker {
                    key,
                    op,
                    workers: u32::from(MAX_DEATHS),
                };
                self.fail_job(id, error, sink);
            } else if let Some(t) = lost_external {
                let (name, _) = job.names(t);
                let message = format!(
                    "the result `{name}` passed in from an earlier job was lost with its worker"
                );
                self.fail_job(id, WireError::Refused { message }, sink);
            } else if lost {
                self.replan(id, sink);
            }
        }
    }

    /// Re-plans a job from the results still held: lost ones are recomputed.
    pub(super) fn replan(&mut self, id: JobId, sink: &mut impl Sink) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        // Inputs of completed tasks not yet counted down are let go before
        // the old state goes: the new plan would see them only as held.
        let releasing = &mut job.releasing;
        job.exec
            .state
            .release_more(usize::MAX, |r| releasing.push(r));
        let holder = &job.holder;
        // Let-go outputs are not recomputed: they are plain tasks now.
        let wanted: Vec<TaskId> = job
            .outputs
            .iter()
            .copied()
            .filter(|t| !job.dropped.contains(&t.0) || holder[t.index()].is_some())
            .collect();
        match Exec::new(job.exec.graph.clone(), &wanted, |t| {
            holder[t.index()].is_some()
        }) {
            Ok(exec) => {
                job.exec = exec;
                // A count of where a wide task's inputs were is stale; a
                // send under way goes on (its task is still booked).
                if job.wide.as_ref().is_some_and(|w| w.tallying()) {
                    job.wide = None;
                }
                let plan = job.exec.state.plan();
                job.progress
                    .recount(|t| plan.is_needed(TaskId(t as u32)), &job.holder, &job.sent);
                job.finished = false;
                if !self.active.contains(&id) && (!job.released || job.forgotten) {
                    self.activate(id);
                }
            }
            Err(e) => {
                let message = format!("cannot recompute lost results: {e}");
                self.fail_job(id, WireError::Refused { message }, sink);
            }
        }
    }
}
