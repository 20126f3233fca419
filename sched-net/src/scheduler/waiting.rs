//! Jobs waiting for workers: a job admitted to a cluster with no worker
//! says so, as Dask's "waiting for workers", instead of hanging silently.
//!
//! After each loop turn, while no worker is connected, every unfinished
//! job not yet told is logged once and its client gets
//! [`ToClient::Waiting`]. A worker joining ends every wait (clients learn
//! it from the `Workers` message they get anyway); if the last worker
//! leaves again, the jobs are told again.

use std::collections::HashSet;

use super::state::{Cluster, Sink};
use crate::protocol::{JobId, ToClient};

/// The jobs told that they wait.
#[derive(Debug, Default)]
pub struct WaitingForWorkers {
    told: HashSet<JobId>,
}

impl WaitingForWorkers {
    /// Tells the clients of jobs that now wait, given whether any worker
    /// is connected.
    pub fn check(&mut self, cluster: &Cluster, any_worker: bool, sink: &mut impl Sink) {
        if any_worker {
            self.told.clear();
            return;
        }
        for (job, client) in cluster.unfinished_jobs() {
            if self.told.insert(job) {
                log::info!(
                    "job {job:#x} of client {client} is waiting for workers: none is connected"
                );
                sink.to_client(client, &ToClient::Waiting { job });
            }
        }
        // Jobs that finished or left meanwhile are forgotten here too.
        if self.told.len() > cluster.job_count() {
            let now: HashSet<JobId> = cluster.unfinished_jobs().map(|(j, _)| j).collect();
            self.told.retain(|j| now.contains(j));
        }
    }
}
