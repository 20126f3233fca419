//! Workers: joining, their heartbeats, liveness judged by the time a
//! message arrived (passed in, never read here), and leaving.
//!
//! Workers hear of each other's joins and leaves in batches: a join or a
//! leave is noted, and [`Cluster::announce_peers`] (the start of every
//! `schedule`) sends each worker one `Peers` update with all of them. A
//! message per peer per join would be W² messages for W workers joining
//! at once, 10⁸ at 10,000 workers; batched, a turn of joins costs one
//! message per worker.

use std::collections::HashSet;
use std::time::Instant;

use super::job::{Job, Need};
use super::{ClientId, Cluster, Sink};
use crate::protocol::{JobId, ToClient, ToWorker, WorkerId, WorkerInfo};

pub(super) struct Worker {
    pub info: WorkerInfo,
    /// Tasks sent and not reported back.
    pub in_flight: u32,
    /// Over its memory limit: it takes no new task.
    pub paused: bool,
    pub memory: u64,
    /// Bytes of results it has spilled to disk.
    pub spilled: u64,
    /// Running and queued there, and its CPU use (per mille of a core),
    /// at its last heartbeat: shown on the dashboard.
    pub executing: u32,
    pub queued: u32,
    pub cpu_permille: u32,
    /// When its latest message arrived.
    pub last_seen: Instant,
    /// Jobs whose spec it has.
    pub has_spec: HashSet<JobId>,
    /// A steal request is out.
    pub stealing: bool,
    /// Of each resource it offers (`info.resources`), how much the tasks
    /// sent here hold.
    pub used: Vec<f64>,
}

/// Membership changes not yet announced to the workers.
#[derive(Debug, Default)]
pub(super) struct PeerNews {
    add: Vec<(WorkerId, String)>,
    remove: Vec<WorkerId>,
}

impl Worker {
    /// A worker just joined at `now`, with nothing sent to it.
    pub fn new(info: WorkerInfo, now: Instant) -> Worker {
        Worker {
            used: vec![0.0; info.resources.len()],
            info,
            in_flight: 0,
            paused: false,
            memory: 0,
            spilled: 0,
            executing: 0,
            queued: 0,
            cpu_permille: 0,
            last_seen: now,
            has_spec: HashSet::new(),
            stealing: false,
        }
    }

    /// True if it can supply `need` for `job`: by code reference when it
    /// was started with the job's code key, else by name.
    pub fn provides(&self, job: &Job, need: &Need) -> bool {
        (need.has_code && job.code_id.is_some() && self.info.code_id == job.code_id)
            || if need.is_op {
                self.info.ops.contains(&need.name)
            } else {
                self.info.codecs.contains(&need.name)
            }
    }
}

impl Cluster {
    /// A worker joined at `now`: it gets the next id, and `clients` are
    /// told; the other workers are told at the next
    /// [`announce_peers`](Self::announce_peers) (the caller sends the new
    /// worker the list of its peers). `None` once every id has been given
    /// out.
    pub fn add_worker(
        &mut self,
        info: WorkerInfo,
        now: Instant,
        sink: &mut impl Sink,
        clients: &[ClientId],
    ) -> Option<WorkerId> {
        self.advance(now);
        let id = self.next_worker?;
        self.next_worker = id.next();
        self.dirty = true;
        let add = vec![(id, info.listen.clone())];
        self.peer_news.add.extend(add.iter().cloned());
        let workers = ToClient::Workers {
            add,
            remove: vec![],
        };
        for c in clients {
            sink.to_client(*c, &workers);
        }
        self.by_load.add(id, info.nthreads);
        self.membership += 1;
        self.workers.insert(id, Worker::new(info, now));
        self.beat.resize(self.workers.len(), self.clock);
        Some(id)
    }

    /// A worker's heartbeat, arrived at `now`: its memory and spilled
    /// bytes, tasks running and queued there, CPU use (per mille of a
    /// core), and whether it is over its memory limit (then it takes no
    /// new task until a heartbeat says otherwise).
    pub fn on_status(
        &mut self,
        w: WorkerId,
        (memory, spilled): (u64, u64),
        (executing, queued, cpu_permille): (u32, u32, u32),
        paused: bool,
        now: Instant,
    ) {
        self.advance(now);
        if let Some(worker) = self.workers.get_mut(&w) {
            // Only these change what `schedule` decides: a steal request
            // counts as answered once a heartbeat comes.
            self.dirty |= worker.paused != paused || worker.stealing;
            worker.memory = memory;
            worker.spilled = spilled;
            worker.executing = executing;
            worker.queued = queued;
            worker.cpu_permille = cpu_permille;
            worker.paused = paused;
            worker.last_seen = now;
            worker.stealing = false;
        }
    }

    /// A message from `w` arrived at `now`: it is alive.
    pub fn seen(&mut self, w: WorkerId, now: Instant) {
        self.advance(now);
        if let Some(worker) = self.workers.get_mut(&w) {
            worker.last_seen = worker.last_seen.max(now);
        }
    }

    /// Workers whose latest message arrived longer than the heartbeat
    /// timeout before `now`.
    pub fn silent_workers(&self, now: Instant) -> Vec<WorkerId> {
        let timeout = self.beat.timeout(now);
        self.workers
            .iter()
            .filter(|(_, w)| now.saturating_duration_since(w.last_seen) > timeout)
            .map(|(id, _)| *id)
            .collect()
    }

    /// A worker is gone: `clients` are told (the other workers at the next
    /// [`announce_peers`](Self::announce_peers)), and its jobs recover
    /// (see [`recovery`](super::recovery)).
    pub fn remove_worker(&mut self, w: WorkerId, sink: &mut impl Sink, clients: &[ClientId]) {
        let Some(gone) = self.workers.remove(&w) else {
            return;
        };
        self.dirty = true;
        self.by_load.remove(w, gone.info.nthreads, gone.in_flight);
        self.membership += 1;
        self.beat.resize(self.workers.len(), self.clock);
        // Ids are never given twice, so a worker that joins and leaves
        // before an announcement need not be announced at all.
        let news = &mut self.peer_news;
        let before = news.add.len();
        news.add.retain(|(id, _)| *id != w);
        if news.add.len() == before {
            news.remove.push(w);
        }
        let workers = ToClient::Workers {
            add: vec![],
            remove: vec![w],
        };
        for c in clients {
            sink.to_client(*c, &workers);
        }
        self.recover_from_loss(w, sink);
    }
}

impl Cluster {
    /// The heartbeat interval the workers are told, in milliseconds: it
    /// grows with the cluster (`beat.rs`).
    pub fn heartbeat_ms(&self) -> u32 {
        u32::try_from(self.beat.interval().as_millis()).unwrap_or(u32::MAX)
    }

    /// Tells every worker of the joins and leaves since the last call, and
    /// the heartbeat interval that goes with its new size, in one `Peers`
    /// update each (the same message for all, borrowed by the
    /// sink). [`schedule`](Self::schedule) calls it first, so a task sent
    /// in a turn never names a peer its worker has not heard of.
    pub fn announce_peers(&mut self, sink: &mut impl Sink) {
        if self.peer_news.add.is_empty() && self.peer_news.remove.is_empty() {
            return;
        }
        let PeerNews { add, remove } = std::mem::take(&mut self.peer_news);
        let peers = ToWorker::Peers {
            add,
            remove,
            heartbeat_ms: self.heartbeat_ms(),
        };
        for w in self.workers.keys() {
            sink.to_worker(*w, &peers);
        }
    }
}
