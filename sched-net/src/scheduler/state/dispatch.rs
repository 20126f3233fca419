//! Applying the [`Placement`](super::Placement) policy to the books: hand
//! out ready tasks, job by job in the active order, while the policy finds
//! a worker with room; finish jobs whose outputs are all held; ask a busy
//! worker for work back when another idles.
//!
//! Tasks come out of each job's [`ExecState`](rask_core::ExecState) in
//! its priority order, and a job's turn stops at the first task no worker
//! has room for: a root task held back by saturation stops the job until
//! a worker drains (consumers come before later roots in the graph's
//! order, so they are not held behind them).
//!
//! A call sends at most [`RUNS_PER_TURN`] tasks: a job of a million roots
//! on 10,000 empty workers would otherwise fill them all in one turn of
//! about 90 ms, every worker waiting for the last `Run` of that turn to be
//! written. The least-loaded worker is chosen first, so the first turns
//! give every thread a task before any gets a second.

use rask_core::TaskId;

use super::job::Job;
use super::wide::WIDE_ARGS;
use super::{Cluster, Sink};

/// Tasks sent per [`Cluster::schedule`] call, about 0.3 µs each: a few
/// milliseconds. The in-memory tests use a small turn, so that their jobs
/// cross it.
pub(super) const RUNS_PER_TURN: u32 = if cfg!(test) { 64 } else { 1 << 13 };
use crate::protocol::{run_priority, DataKey, JobId, ToClient, ToWorker, WireError, WorkerId};

impl Cluster {
    /// Tells workers of new and gone peers; goes on with the releases
    /// earlier turns left; hands out ready tasks, job by job in priority
    /// order, while workers have room; finishes jobs; asks busy workers to
    /// give work to idle ones. Returns at once (after the peers) when
    /// nothing that could change a decision happened since the last call.
    pub fn schedule(&mut self, sink: &mut impl Sink) {
        self.announce_peers(sink);
        if !self.dirty {
            return;
        }
        let mut held_over = self.release_pending(sink);
        self.runs_left = RUNS_PER_TURN;
        // With every worker at its cap, no job can place a task: each only
        // goes on with a send under way and checks whether it finished
        // (10,000 one-task jobs waiting for room were each asked per turn).
        let full = self.placement.cluster_full(&self.by_load);
        let mut i = 0;
        while i < self.active.len() {
            let id = self.active[i];
            if full {
                self.send_wide(id, sink);
                self.finish_if_done(id, sink);
            } else {
                self.schedule_job(id, sink);
            }
            if self.active.get(i) != Some(&id) {
                continue; // the job failed and took itself off the list
            }
            let job = self.jobs.get(&id);
            // Its turn may have completed held tasks (releases) or begun a
            // wide task: work for the next turns, whether or not it stays.
            held_over |= job.is_some_and(|j| j.releases_left() || j.widening());
            let finished = job.is_none_or(|j| j.finished || (j.released && !j.forgotten));
            if finished {
                self.active.remove(i);
            } else {
                i += 1;
            }
        }
        self.steal(sink);
        // What this call left undone waits for a handler to change
        // something, except releases and wide tasks held over to the next
        // turns.
        self.held_over = held_over || self.runs_left == 0;
        self.dirty = self.held_over;
    }

    /// True if the last [`Cluster::schedule`] left work for the next turns
    /// (tasks past its budget, releases, a wide task's tally or send): the
    /// caller should come back
    /// at once rather than sleep.
    pub fn held_over(&self) -> bool {
        self.held_over
    }

    fn schedule_job(&mut self, id: JobId, sink: &mut impl Sink) {
        let Some(eligible) = self.eligible_workers(id, sink) else {
            return;
        };
        self.send_wide(id, sink);
        self.place_ready(id, &eligible, sink);
        if let Some(job) = self.jobs.get_mut(&id) {
            job.eligible_now = Some((self.membership, eligible));
        }
        self.finish_if_done(id, sink);
    }

    /// Starts `id`'s ready tasks on `eligible` workers while they have
    /// room.
    fn place_ready(&mut self, id: JobId, eligible: &[WorkerId], sink: &mut impl Sink) {
        while self.runs_left > 0 {
            let Some(job) = self.jobs.get_mut(&id) else {
                return;
            };
            // Held results complete without a worker, so keep going even
            // when every worker is full; a task that needs one stays ready.
            let Some(t) = job.exec.state.peek_ready() else {
                break;
            };
            let ti = t.index();
            if job.holder[ti].is_some() || job.sent[ti].is_some() {
                // Peeked, so ready: starting it cannot fail.
                let _ = job.exec.state.start(t);
                if job.holder[ti].is_some() {
                    job.complete(id, t, sink);
                } // else still running from before a re-plan
                continue;
            }
            if job.exec.graph.args(t).len() > WIDE_ARGS {
                let Some(w) = self.tally_wide(id, t, eligible) else {
                    break; // counted on over the next turns, or no room
                };
                if let Some(job) = self.jobs.get_mut(&id) {
                    let _ = job.exec.state.start(t);
                }
                self.dispatch_wide(id, t, w, sink);
                self.runs_left -= 1;
                continue;
            }
            let root = job.is_root(t);
            let chosen =
                self.placement
                    .choose(job, t, root, eligible, (&self.workers, &self.by_load));
            let Some(w) = chosen else {
                break; // it stays ready until a worker has room
            };
            let _ = job.exec.state.start(t);
            self.dispatch(id, t, w, sink);
            self.runs_left -= 1;
        }
    }

    /// The workers that may run `id`'s tasks, by id (only the named ones
    /// under a loose restriction naming any that can), worked out again
    /// only when a worker joined or left since the last turn. When the
    /// cluster has workers and none of them can, the job fails with why,
    /// and this is `None`.
    fn eligible_workers(&mut self, id: JobId, sink: &mut impl Sink) -> Option<Vec<WorkerId>> {
        let job = self.jobs.get_mut(&id)?;
        if let Some((seen, eligible)) = job.eligible_now.take() {
            if seen == self.membership {
                return Some(eligible);
            }
        }
        let fresh: Vec<(WorkerId, bool)> = self
            .workers
            .iter()
            .filter(|(w, _)| !job.eligible.contains_key(w))
            .map(|(w, worker)| {
                let can = job.needs.iter().all(|n| worker.provides(job, n))
                    && job.constraints.fits(*w, &worker.info);
                (*w, can)
            })
            .collect();
        job.eligible.extend(fresh);
        let mut eligible: Vec<WorkerId> = self
            .workers
            .keys()
            .copied()
            .filter(|w| job.eligible.get(w) == Some(&true))
            .collect();
        job.constraints.prefer(&mut eligible, |w| {
            self.workers.get(&w).map(|worker| &worker.info)
        });
        if !eligible.is_empty() || self.workers.is_empty() {
            return Some(eligible);
        }
        let unmet = job
            .constraints
            .unmet(self.workers.iter().map(|(w, worker)| {
                let can = job.needs.iter().all(|n| worker.provides(job, n));
                (*w, &worker.info, can)
            }));
        let error = match unmet {
            Some(message) => WireError::Refused { message },
            None => {
                let missing = job
                    .needs
                    .iter()
                    .find(|n| !self.workers.values().any(|w| w.provides(job, n)));
                match missing {
                    Some(need) if need.is_op => WireError::UnknownOp {
                        key: job.first_task_with_op(&need.name),
                        op: need.name.clone(),
                    },
                    Some(need) => WireError::Refused {
                        message: format!("no worker can decode a `{}`", need.name),
                    },
                    None => WireError::Refused {
                        message: "no single worker can run every op of this job".into(),
                    },
                }
            }
        };
        self.fail_job(id, error, sink);
        None
    }

    /// Once every output of `id` is held, tells its client where.
    fn finish_if_done(&mut self, id: JobId, sink: &mut impl Sink) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        if !job.exec.state.is_finished() || job.finished {
            return;
        }
        job.finished = true;
        let outputs = job
            .outputs
            .iter()
            .filter_map(|t| job.holder[t.index()].map(|w| (t.0, w)))
            .collect();
        sink.to_client(job.client, &ToClient::Done { job: id, outputs });
        let forgotten = std::mem::take(&mut job.forgotten);
        if !job.dropped.is_empty() {
            self.free_dropped(id, sink);
        }
        if forgotten {
            // Fired and forgotten: released now if its client let go.
            self.drop_if_unused(id, sink);
        }
    }

    /// Sends task `t` of job `id` to worker `w` (its job's spec first, if
    /// `w` lacks it), with where to fetch each input it does not hold.
    fn dispatch(&mut self, id: JobId, t: TaskId, w: WorkerId, sink: &mut impl Sink) {
        self.book(id, t, w, sink);
        let Some(job) = self.jobs.get(&id) else {
            return;
        };
        let fetch = job.fetch_list(id, job.exec.graph.args(t), w);
        let priority = run_priority(job.constraints.priority, job.exec.state.plan().priority(t));
        sink.to_worker(
            w,
            &ToWorker::Run {
                key: DataKey { job: id, task: t.0 },
                priority,
                fetch,
            },
        );
    }

    /// Books task `t` of job `id` on worker `w`, sending the job's spec
    /// first if `w` lacks it: the `Run` is the caller's to send.
    pub(super) fn book(&mut self, id: JobId, t: TaskId, w: WorkerId, sink: &mut impl Sink) {
        let (Some(job), Some(worker)) = (self.jobs.get_mut(&id), self.workers.get_mut(&w)) else {
            return;
        };
        if worker.has_spec.insert(id) {
            sink.job_to_worker(w, id, &job.spec);
        }
        job.constraints.take(worker);
        job.sent[t.index()] = Some(w);
        job.progress.sent(t.index());
        self.by_load.step(w, worker, true);
    }

    /// When a worker is idle and no task waits here, asks the busiest
    /// worker the policy names to give some back.
    fn steal(&mut self, sink: &mut impl Sink) {
        // The policy first: with no idle worker (most turns) it answers at
        // once, before the walk over the jobs.
        let Some((victim, max)) = self.placement.steal_from((&self.workers, &self.by_load)) else {
            return;
        };
        let any_ready = self
            .active
            .iter()
            .filter_map(|id| self.jobs.get(id))
            .any(|j| j.exec.state.ready_len() > 0);
        if any_ready {
            return;
        }
        if let Some(w) = self.workers.get_mut(&victim) {
            w.stealing = true;
        }
        sink.to_worker(victim, &ToWorker::Steal { max });
    }
}

impl Job {
    /// Where worker `w` fetches each input among `args` (of a ready task,
    /// so all held) that it does not hold, under the key it is held by.
    pub(super) fn fetch_list(
        &self,
        id: JobId,
        args: &[rask_core::Arg],
        w: WorkerId,
    ) -> Vec<(DataKey, WorkerId)> {
        args.iter()
            .filter_map(|a| a.as_dep())
            .filter(|d| !self.held_on(d.index(), w))
            .filter_map(|d| {
                // Most jobs name no earlier results: no lookup then.
                let external = match self.externals.is_empty() {
                    true => None,
                    false => self.externals.get(&d.0).copied(),
                };
                let key = external.unwrap_or(DataKey { job: id, task: d.0 });
                self.holder[d.index()].map(|h| (key, h))
            })
            .collect()
    }
}
