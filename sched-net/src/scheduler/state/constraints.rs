//! What a job's submit options ask of placement: its priority, how often
//! a failing task is retried, the workers it may run on, and the
//! resources each task holds on its worker from being sent there until
//! it reports back (so a worker never has more of a resource out than
//! it declared).

use crate::portable::JobOptions;
use crate::protocol::{WorkerId, WorkerInfo};

use super::worker::Worker;

/// Below this a resource counts as free: sums of floats drift.
const EPSILON: f64 = 1e-9;

/// A job's submit options, owned by the scheduler.
#[derive(Debug, Default)]
pub(super) struct Constraints {
    /// Higher is scheduled first.
    pub priority: i32,
    /// Runs a failing task may have beyond its first.
    pub retries: u32,
    /// Workers allowed, by id or address; empty: any.
    workers: Vec<String>,
    /// Others are allowed when none of `workers` can run it.
    loose: bool,
    /// Held by each task while on a worker.
    resources: Vec<(String, f64)>,
}

impl Constraints {
    pub fn of(options: &JobOptions<'_>) -> Constraints {
        Constraints {
            priority: options.priority,
            retries: options.retries,
            workers: options.workers.iter().map(|w| (*w).to_owned()).collect(),
            loose: options.allow_other_workers,
            resources: options
                .resources
                .iter()
                .map(|(n, a)| ((*n).to_owned(), *a))
                .collect(),
        }
    }

    /// True if the restriction names worker `id` (by id or address).
    fn names(&self, id: WorkerId, info: &WorkerInfo) -> bool {
        self.workers
            .iter()
            .any(|n| n.parse::<WorkerId>().ok() == Some(id) || *n == info.listen)
    }

    /// True if worker `id` may ever run this job's tasks: allowed by the
    /// restriction (a loose one allows any) and offering enough of each
    /// resource.
    pub fn fits(&self, id: WorkerId, info: &WorkerInfo) -> bool {
        (self.workers.is_empty() || self.loose || self.names(id, info))
            && self
                .resources
                .iter()
                .all(|(name, amount)| offered(info, name) + EPSILON >= *amount)
    }

    /// Under a loose restriction, narrows `eligible` to the named workers
    /// when any of them is eligible.
    pub fn prefer<'a>(
        &self,
        eligible: &mut Vec<WorkerId>,
        info: impl Fn(WorkerId) -> Option<&'a WorkerInfo>,
    ) {
        if !self.loose || self.workers.is_empty() {
            return;
        }
        let named = |w: &WorkerId| info(*w).is_some_and(|i| self.names(*w, i));
        if eligible.iter().any(named) {
            eligible.retain(named);
        }
    }

    /// Why no worker of `workers` (id, info, has the job's ops) can run
    /// the job because of these options, if that is why.
    pub fn unmet<'a>(
        &self,
        workers: impl Iterator<Item = (WorkerId, &'a WorkerInfo, bool)> + Clone,
    ) -> Option<String> {
        for (name, amount) in &self.resources {
            let best = workers
                .clone()
                .filter(|(.., can)| *can)
                .map(|(_, info, _)| offered(info, name))
                .fold(0.0, f64::max);
            if best + EPSILON < *amount {
                return Some(format!(
                    "each task asks for {amount} of resource `{name}`, and no worker that \
                     can run it offers that much (most: {best})"
                ));
            }
        }
        if !self.workers.is_empty()
            && !self.loose
            && !workers.clone().any(|(id, info, _)| self.names(id, info))
        {
            return Some(format!(
                "it may only run on workers [{}], and none of them is in the cluster",
                self.workers.join(", ")
            ));
        }
        None
    }

    /// Each resource a task holds while on its worker, and how much.
    #[cfg_attr(not(test), allow(dead_code))] // read by the sanity check
    pub fn resources(&self) -> impl Iterator<Item = (&str, f64)> {
        self.resources.iter().map(|(n, a)| (n.as_str(), *a))
    }

    /// True if `worker` has this job's resources free for one more task.
    pub fn free_on(&self, worker: &Worker) -> bool {
        self.resources.iter().all(|(name, amount)| {
            slot(&worker.info, name)
                .is_some_and(|i| worker.info.resources[i].1 - worker.used[i] + EPSILON >= *amount)
        })
    }

    /// A task of this job was sent to `worker`.
    pub fn take(&self, worker: &mut Worker) {
        self.shift(worker, 1.0);
    }

    /// A task of this job left `worker` (done, failed, returned, dropped).
    pub fn give_back(&self, worker: &mut Worker) {
        self.shift(worker, -1.0);
    }

    fn shift(&self, worker: &mut Worker, sign: f64) {
        for (name, amount) in &self.resources {
            if let Some(i) = slot(&worker.info, name) {
                if let Some(used) = worker.used.get_mut(i) {
                    *used = (*used + sign * amount).max(0.0);
                }
            }
        }
    }
}

fn slot(info: &WorkerInfo, name: &str) -> Option<usize> {
    info.resources.iter().position(|(n, _)| n == name)
}

fn offered(info: &WorkerInfo, name: &str) -> f64 {
    slot(info, name).map_or(0.0, |i| info.resources[i].1)
}
