//! The cluster as the dashboard sees it: the answers of its JSON API,
//! computed from the state in place when a page asks (never kept up to
//! date between asks).

use super::Cluster;
use crate::dashboard::api::{self, WorkerRow};
use crate::dashboard::{progress, Source};

impl Source for Cluster {
    fn status_json(&self) -> String {
        let now = self.clock;
        let workers = self.workers.iter().map(|(id, w)| WorkerRow {
            id: id.get(),
            address: &w.info.listen,
            pid: w.info.pid,
            threads: w.info.nthreads,
            in_flight: w.in_flight,
            executing: w.executing,
            queued: w.queued,
            memory: w.memory,
            memory_limit: w.info.memory_limit,
            spilled: w.spilled,
            cpu_permille: w.cpu_permille,
            paused: w.paused,
            last_seen_ms: now.saturating_duration_since(w.last_seen).as_millis() as u64,
        });
        let progress =
            progress::summary(self.jobs.values().map(|j| &j.progress), &self.board.history);
        api::status(
            self.board.micros(now),
            workers,
            &progress,
            &self.board.prefixes,
            self.jobs.len(),
            self.board.stream.as_ref(),
        )
    }

    fn tasks_json(&self, since: u64) -> String {
        let now = self.board.micros(self.clock);
        match &self.board.stream {
            Some(stream) => api::tasks(now, stream, &self.board.prefixes, since),
            None => api::tasks(
                now,
                &crate::dashboard::TaskStream::new(1),
                &self.board.prefixes,
                0,
            ),
        }
    }
}
