//! The cross-structure invariants of the state, checked in one pass.
//! Every in-memory test calls [`Cluster::sanity_check`] after every step;
//! `README.md` beside this file explains why each holds.

use std::collections::HashMap;

use rask_core::{TaskId, TaskState};

use super::queues::QueueItem;
use super::Cluster;
use crate::protocol::{DataKey, JobId, Queued, WorkerId};

/// Sums of floats drift; resource use is compared within this.
#[cfg_attr(not(test), allow(dead_code))]
const RESOURCE_EPSILON: f64 = 1e-6;

// Called by the in-memory tests and the simulator, not the socket loop:
// it is a pass over every task.
#[cfg_attr(not(test), allow(dead_code))]
impl Cluster {
    /// Checks every invariant; the first broken one is described.
    pub fn sanity_check(&self) -> Result<(), String> {
        self.check_tasks()?;
        self.check_workers()?;
        self.check_pins()?;
        self.check_active()
    }

    /// Per task: vectors sized to the graph; holders, copies and the
    /// workers tasks were sent to are live; copies never repeat the holder
    /// or each other, and exist only beside a holder; a task the job's
    /// `ExecState` runs is sent somewhere, and a task sent is not over.
    fn check_tasks(&self) -> Result<(), String> {
        let live = |w: &WorkerId| self.workers.contains_key(w);
        for (id, job) in &self.jobs {
            let n = job.exec.graph.len();
            if [
                job.holder.len(),
                job.sent.len(),
                job.bytes.len(),
                job.deaths.len(),
            ]
            .iter()
            .any(|&l| l != n)
            {
                return Err(format!("job {id}: per-task books are not {n} long"));
            }
            for (t, h) in job.holder.iter().enumerate() {
                if let Some(w) = h.filter(|w| !live(w)) {
                    return Err(format!(
                        "job {id} task {t}: held by worker {w}, who is gone"
                    ));
                }
            }
            for (t, s) in job.sent.iter().enumerate() {
                if let Some(w) = s.filter(|w| !live(w)) {
                    return Err(format!(
                        "job {id} task {t}: sent to worker {w}, who is gone"
                    ));
                }
            }
            for (t, copies) in &job.replicas {
                let holder = job.holder.get(*t as usize).copied().flatten();
                let Some(holder) = holder else {
                    return Err(format!("job {id} task {t}: copies but no holder"));
                };
                if copies.is_empty() {
                    return Err(format!("job {id} task {t}: an empty list of copies"));
                }
                for (i, c) in copies.iter().enumerate() {
                    if *c == holder {
                        return Err(format!("job {id} task {t}: its holder {c} is also a copy"));
                    }
                    if copies[..i].contains(c) {
                        return Err(format!("job {id} task {t}: worker {c} is a copy twice"));
                    }
                    if !live(c) {
                        return Err(format!(
                            "job {id} task {t}: a copy on worker {c}, who is gone"
                        ));
                    }
                }
            }
            for t in 0..n {
                let state = job.exec.state.state(TaskId(t as u32));
                let sent = job.sent[t].is_some();
                if state == Some(TaskState::Running) && !sent {
                    return Err(format!("job {id} task {t}: running, but sent nowhere"));
                }
                let over = [TaskState::Done, TaskState::Released, TaskState::Failed];
                if sent && state.is_some_and(|s| over.contains(&s)) {
                    return Err(format!("job {id} task {t}: {state:?}, but still sent"));
                }
            }
            if let Some(w) = job.eligible.keys().find(|w| !live(w)) {
                return Err(format!(
                    "job {id}: eligibility kept for worker {w}, who is gone"
                ));
            }
        }
        Ok(())
    }

    /// Per worker: `in_flight` counts exactly the tasks sent there, `used`
    /// is the sum of those tasks' resources, and it has only specs of jobs
    /// still here.
    fn check_workers(&self) -> Result<(), String> {
        let mut in_flight: HashMap<WorkerId, u32> = HashMap::new();
        let mut used: HashMap<(WorkerId, &str), f64> = HashMap::new();
        for job in self.jobs.values() {
            for w in job.sent.iter().flatten() {
                *in_flight.entry(*w).or_default() += 1;
                for (name, amount) in job.constraints.resources() {
                    *used.entry((*w, name)).or_default() += amount;
                }
            }
        }
        if self.by_load.len() != self.workers.len() {
            return Err(format!(
                "{} workers, but {} in the load order",
                self.workers.len(),
                self.by_load.len()
            ));
        }
        for (id, worker) in self.workers.iter() {
            let sent = in_flight.get(id).copied().unwrap_or(0);
            if worker.in_flight != sent {
                return Err(format!(
                    "worker {id}: in_flight is {} but {sent} tasks are sent there",
                    worker.in_flight
                ));
            }
            for (i, (name, _)) in worker.info.resources.iter().enumerate() {
                let want = used.get(&(*id, name.as_str())).copied().unwrap_or(0.0);
                let have = worker.used.get(i).copied().unwrap_or(0.0);
                if (have - want).abs() > RESOURCE_EPSILON {
                    return Err(format!(
                        "worker {id}: holds {have} of `{name}` but its tasks ask for {want}"
                    ));
                }
            }
            if !self
                .by_load
                .has(*id, worker.info.nthreads, worker.in_flight)
            {
                return Err(format!(
                    "worker {id}: not in the load order with {} in flight",
                    worker.in_flight
                ));
            }
            if let Some(job) = worker.has_spec.iter().find(|j| !self.jobs.contains_key(j)) {
                return Err(format!(
                    "worker {id}: has the spec of job {job}, which is gone"
                ));
            }
        }
        Ok(())
    }

    /// Pins balance: each key's count is the datasets, queue items, lent
    /// results and later jobs holding it; each job's count is the later
    /// jobs using it plus the key holds of the first three kinds.
    fn check_pins(&self) -> Result<(), String> {
        // Key holds by datasets, queues and lent results also hold the job.
        let by_key = self
            .datasets
            .values()
            .flat_map(|entries| entries.iter().map(|(k, _)| *k))
            .chain(self.queues.values().flatten().filter_map(|item| {
                match QueueItem::queued(item) {
                    Queued::Key(k) => Some(*k),
                    Queued::Value(_) => None,
                }
            }))
            .chain(self.lent.iter().map(|(_, k)| *k));
        let mut keys: HashMap<DataKey, u32> = HashMap::new();
        let mut jobs: HashMap<JobId, u32> = HashMap::new();
        for k in by_key {
            *keys.entry(k).or_default() += 1;
            *jobs.entry(k.job).or_default() += 1;
        }
        for (id, job) in &self.jobs {
            for k in &job.pinned_keys {
                *keys.entry(*k).or_default() += 1;
            }
            for earlier in &job.pinned {
                if !self.jobs.contains_key(earlier) {
                    return Err(format!("job {id} uses job {earlier}, which is gone"));
                }
                *jobs.entry(*earlier).or_default() += 1;
            }
        }
        if keys != self.key_pins {
            return Err(format!(
                "key pins {:?} do not match their holders {keys:?}",
                self.key_pins
            ));
        }
        for (id, job) in &self.jobs {
            let want = jobs.get(id).copied().unwrap_or(0);
            if job.pins != want {
                return Err(format!("job {id}: {} pins, but {want} holders", job.pins));
            }
        }
        if let Some(k) = keys.keys().find(|k| !self.jobs.contains_key(&k.job)) {
            return Err(format!(
                "result {}/{} is pinned but its job is gone",
                k.job, k.task
            ));
        }
        Ok(())
    }

    /// The active list names jobs still here, each once.
    fn check_active(&self) -> Result<(), String> {
        for (i, id) in self.active.iter().enumerate() {
            if !self.jobs.contains_key(id) {
                return Err(format!("active job {id} is gone"));
            }
            if self.active[..i].contains(id) {
                return Err(format!("job {id} is active twice"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
impl Cluster {
    /// Changes the state behind the handlers' back: how the tests show
    /// that [`sanity_check`](Self::sanity_check) catches a broken
    /// invariant.
    pub(super) fn corrupt(&mut self, break_it: impl FnOnce(&mut Cluster)) {
        break_it(self);
    }
}
