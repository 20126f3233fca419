//! The scheduler's state machine: workers, jobs, where results live,
//! placement and recovery, with no IO and no clock of its own.
//!
//! The event loop decodes a frame, calls one `on_*` handler (or
//! [`Cluster::schedule`]) with the time it read the frame, and flushes what
//! the handler queued through the [`Sink`]: that trait is the only way out.
//! `README.md` beside this file writes the state machine down: handlers,
//! invariants ([`Cluster::sanity_check`]) and the placement policy.
//!
//! The state is split by concern:
//! - bookkeeping: [`job`] (what was submitted, per task who holds its
//!   result and where it was sent), [`worker`] (membership and liveness),
//!   [`holds`] (how long results stay), [`datasets`], [`queues`],
//!   [`replicas`];
//! - what workers report, and recovery from their loss: [`reports`],
//!   [`recovery`];
//! - placement: [`placement`] is the policy (pure: which worker, how many
//!   tasks in flight, root-task saturation, whom to steal from),
//!   [`dispatch`] applies it to the books.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::dashboard::Board;
use crate::protocol::{DataKey, JobId, ToClient, ToWorker, WorkerId};

mod admit;
mod beat;
mod constraints;
mod datasets;
mod dispatch;
mod exec;
pub(super) mod holds;
mod job;
mod load;
mod placement;
mod queues;
mod recovery;
mod replicas;
mod reports;
mod sanity;
mod table;
mod view;
mod wide;
mod worker;

#[cfg(test)]
mod recording;
#[cfg(test)]
mod tests;

pub use admit::{Prepared, Retired};
pub use placement::Placement;
pub use reports::Failure;

use beat::Beat;
use job::Job;
use load::ByLoad;
use queues::{ParkedGet, QueueItem};
use table::Workers;
use worker::PeerNews;

/// A client, numbered by the scheduler from 1.
pub type ClientId = u32;

/// Where the state's messages go: the only way out of a handler.
pub trait Sink {
    /// Queues `msg` for worker `w`.
    fn to_worker(&mut self, w: WorkerId, msg: &ToWorker<'_>);
    /// Queues `msg` for client `c`.
    fn to_client(&mut self, c: ClientId, msg: &ToClient);
    /// Queues job `job`'s spec for worker `w`: a sink may share the bytes
    /// rather than copy them for every worker.
    fn job_to_worker(&mut self, w: WorkerId, job: JobId, spec: &Arc<[u8]>) {
        self.to_worker(w, &ToWorker::Job { job, spec });
    }
}

/// Everything the scheduler knows.
pub struct Cluster {
    workers: Workers,
    /// The same workers, least loaded first.
    by_load: ByLoad,
    /// How many times a worker joined or left: what a job's list of the
    /// workers it may run on is as of.
    membership: u64,
    /// The id the next worker gets; `None` once every id was given.
    next_worker: Option<WorkerId>,
    jobs: HashMap<JobId, Job>,
    /// Jobs with work left: higher priority first, equal ones oldest first.
    active: Vec<JobId>,
    /// How tasks are placed, and what it has learnt of their durations.
    placement: Placement,
    /// The heartbeat interval workers are told, and the liveness timeout.
    beat: Beat,
    /// The latest time a handler was given: what the dashboard's view of
    /// the state counts ages from.
    clock: Instant,
    /// Published datasets: name → results, each with its type's name.
    datasets: BTreeMap<String, Vec<(DataKey, String)>>,
    /// Results held by key: by datasets, queues, later jobs, and results
    /// taken from a queue until the taker's job holding them is in.
    key_pins: HashMap<DataKey, u32>,
    /// Named queues, oldest item first.
    queues: HashMap<String, VecDeque<QueueItem>>,
    /// Gets waiting for an item, oldest first.
    parked: Vec<ParkedGet>,
    /// Results taken from a queue, held for the client that took them.
    lent: Vec<(ClientId, DataKey)>,
    /// What the dashboard shows beyond the above.
    board: Board,
    /// Jobs that left, for the caller to free where it suits it, if it
    /// asked to ([`Cluster::hand_back_retired`]).
    retired: Option<Vec<Retired>>,
    /// Something that could change what [`Cluster::schedule`] decides has
    /// happened since it last ran: a report on a task, a worker joining,
    /// leaving, pausing or answering a steal, a job or a hold changing.
    /// Every handler sets it but `seen`, `expire_gets` and a heartbeat
    /// that changes none of that, so a turn of heartbeats alone returns
    /// from `schedule` at once instead of walking every active job.
    dirty: bool,
    /// The last [`Cluster::schedule`] left work for the next turns: tasks
    /// past its budget, releases, a wide task part way (noted as it walks
    /// the jobs, so the loop need not walk them again to ask).
    held_over: bool,
    /// Tasks the current [`Cluster::schedule`] call may still send.
    runs_left: u32,
    /// Joins and leaves the workers have not been told of yet.
    peer_news: PeerNews,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("workers", &self.workers.len())
            .field("jobs", &self.jobs.len())
            .finish()
    }
}

impl Cluster {
    /// An empty cluster at time `now`, placing with the default
    /// [`Placement`]; a worker silent for `heartbeat_timeout` is dead while
    /// the cluster beats every 500 ms, and for as many heartbeats when it
    /// beats less often (as the cluster grows, `beat.rs`). With
    /// `task_stream`, the last that many task runs are kept for the
    /// dashboard.
    pub fn new(heartbeat_timeout: Duration, task_stream: Option<usize>, now: Instant) -> Cluster {
        Cluster::with_placement(heartbeat_timeout, task_stream, now, Placement::default())
    }

    /// [`new`](Self::new) with another placement policy.
    pub fn with_placement(
        heartbeat_timeout: Duration,
        task_stream: Option<usize>,
        now: Instant,
        placement: Placement,
    ) -> Cluster {
        Cluster {
            workers: Workers::default(),
            by_load: ByLoad::default(),
            membership: 0,
            next_worker: Some(WorkerId::FIRST),
            jobs: HashMap::new(),
            active: Vec::new(),
            placement,
            beat: Beat::new(heartbeat_timeout),
            clock: now,
            datasets: BTreeMap::new(),
            key_pins: HashMap::new(),
            queues: HashMap::new(),
            parked: Vec::new(),
            lent: Vec::new(),
            board: Board::new(now, task_stream),
            retired: None,
            dirty: true,
            held_over: false,
            runs_left: 0,
            peer_news: PeerNews::default(),
        }
    }

    /// Moves the state's clock to `now`; a clock never goes back.
    fn advance(&mut self, now: Instant) {
        self.clock = self.clock.max(now);
    }

    /// Jobs with work left, and the client of each.
    pub fn unfinished_jobs(&self) -> impl Iterator<Item = (JobId, ClientId)> + '_ {
        self.active
            .iter()
            .filter_map(|id| self.jobs.get(id).map(|j| (*id, j)))
            .filter(|(_, j)| !j.finished)
            .map(|(id, j)| (id, j.client))
    }

    /// Jobs on the cluster, finished or not.
    pub fn job_count(&self) -> usize {
        self.jobs.len()
    }

    /// Workers now: (id, address).
    pub fn worker_list(&self) -> Vec<(WorkerId, String)> {
        self.workers
            .iter()
            .map(|(id, w)| (*id, w.info.listen.clone()))
            .collect()
    }
}
