//! The scheduler's state: workers, jobs, placement and recovery, with no
//! IO. The event loop feeds it messages and it answers through a [`Sink`].
//!
//! Each job is driven by the core's [`ExecState`]. Beside it the cluster
//! keeps, per task, which worker holds its result (`holder`), which worker
//! it was sent to (`sent`), its result size, and how many workers died
//! while running it. Data never passes through here: a task is sent with
//! the list of its inputs held elsewhere, and workers fetch from each other.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rask_core::{ExecState, Graph, TaskId};

use crate::dashboard::{Board, JobProgress};
use crate::portable::{decode_spec, JobSpec};
use crate::protocol::{
    run_priority, Answer, AskOp, DataKey, JobId, RunTime, ToClient, ToWorker, WireError, WorkerId,
    WorkerInfo,
};

mod admit;
mod constraints;
mod queues;
mod release;
mod replicas;
mod view;

pub use admit::{Prepared, Retired};
use constraints::Constraints;
use queues::{ParkedGet, QueueItem};

/// A client, numbered by the scheduler from 1.
pub type ClientId = u32;

/// Where the state's messages go.
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

/// A task that killed this many workers fails.
const MAX_DEATHS: u8 = 3;
/// How far ahead of its threads a worker is kept busy: enough queued work
/// to cover a round trip to the scheduler.
const LOOKAHEAD_NS: f64 = 300_000.0;
/// Most tasks in flight per worker thread, however short tasks are.
const MAX_PER_THREAD: f64 = 512.0;
/// Assumed transfer speed between workers, for placement: 1 byte per ns.
const BYTES_PER_NS: f64 = 1.0;

struct Worker {
    info: WorkerInfo,
    /// Tasks sent and not reported back.
    in_flight: u32,
    paused: bool,
    memory: u64,
    /// Bytes of results it has spilled to disk.
    spilled: u64,
    /// Running and queued there, and its CPU use (per mille of a core),
    /// at its last heartbeat: shown on the dashboard.
    executing: u32,
    queued: u32,
    cpu_permille: u32,
    last_seen: Instant,
    /// Jobs whose spec it has.
    has_spec: HashSet<JobId>,
    /// A steal request is out.
    stealing: bool,
    /// Of each resource it offers (`info.resources`), how much the tasks
    /// sent here hold.
    used: Vec<f64>,
}

/// An `ExecState` together with the graph it borrows.
struct Exec {
    // Declared first: dropped before the graph it points into.
    state: ExecState<'static>,
    graph: Arc<Graph>,
}

impl Exec {
    fn new(
        graph: Arc<Graph>,
        outputs: &[TaskId],
        held: impl Fn(TaskId) -> bool,
    ) -> Result<Exec, rask_core::GraphError> {
        // SAFETY: the graph lives in an `Arc` owned by this struct and is
        // never mutated; `state` is declared first, so it is dropped before
        // `graph`. The `'static` never escapes: `state` is private here.
        let borrowed: &'static Graph = unsafe { &*Arc::as_ptr(&graph) };
        let state = ExecState::resuming(borrowed, outputs, held)?;
        Ok(Exec { state, graph })
    }
}

struct Job {
    client: ClientId,
    spec: Arc<[u8]>,
    code_id: Option<u64>,
    /// What a worker must have: (name, has a code reference) of each op,
    /// then of each literal and external type.
    needs: Vec<(String, bool, bool)>,
    exec: Exec,
    outputs: Vec<TaskId>,
    /// Tasks standing for earlier jobs' results.
    externals: HashMap<u32, DataKey>,
    holder: Vec<WorkerId>,
    /// Workers besides the holder with a copy of a task's result.
    replicas: HashMap<u32, Vec<WorkerId>>,
    sent: Vec<WorkerId>,
    bytes: Vec<u64>,
    deaths: Vec<u8>,
    eligible: HashMap<WorkerId, bool>,
    /// Outputs reported to the client; results kept until released.
    finished: bool,
    released: bool,
    /// Later jobs and datasets using this job's results.
    pins: u32,
    /// Earlier jobs whose results this job uses.
    pinned: Vec<JobId>,
    /// Those results, each pinned by key.
    pinned_keys: Vec<DataKey>,
    /// Priority, retries, worker restrictions and resources.
    constraints: Constraints,
    /// Per failed task: runs that failed, and the worker of the last.
    retried: HashMap<u32, (u32, WorkerId)>,
    /// Runs to its end whoever lets go of it (`fire_and_forget`).
    forgotten: bool,
    /// Outputs the client let go of: each goes once the job has finished
    /// and nothing pins it.
    dropped: HashSet<u32>,
    /// Its tasks by prefix and state, for the dashboard.
    progress: JobProgress,
    /// Results all of whose users have run, not yet released.
    releasing: Vec<TaskId>,
}

/// Everything the scheduler knows.
pub struct Cluster {
    workers: BTreeMap<WorkerId, Worker>,
    next_worker: WorkerId,
    jobs: HashMap<JobId, Job>,
    /// Jobs with work left, oldest first.
    active: Vec<JobId>,
    /// Running mean of task durations (ns), for how far ahead to send.
    mean_task_ns: f64,
    heartbeat_timeout: Duration,
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
    /// An empty cluster; a worker silent for `heartbeat_timeout` is dead.
    /// With `task_stream`, the last that many task runs are kept for the
    /// dashboard.
    pub fn new(heartbeat_timeout: Duration, task_stream: Option<usize>) -> Cluster {
        Cluster {
            workers: BTreeMap::new(),
            next_worker: 1,
            jobs: HashMap::new(),
            active: Vec::new(),
            mean_task_ns: 50_000.0,
            heartbeat_timeout,
            datasets: BTreeMap::new(),
            key_pins: HashMap::new(),
            queues: HashMap::new(),
            parked: Vec::new(),
            lent: Vec::new(),
            board: Board::new(task_stream),
            retired: None,
        }
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

    /// Adds a worker and tells the others and the clients (the caller
    /// sends the new worker the list of its peers).
    pub fn add_worker(
        &mut self,
        info: WorkerInfo,
        sink: &mut impl Sink,
        clients: &[ClientId],
    ) -> WorkerId {
        let id = self.next_worker;
        self.next_worker += 1;
        let info_resources = info.resources.len();
        let add = vec![(id, info.listen.clone())];
        for other in self.workers.keys() {
            sink.to_worker(
                *other,
                &ToWorker::Peers {
                    add: add.clone(),
                    remove: vec![],
                },
            );
        }
        for c in clients {
            sink.to_client(
                *c,
                &ToClient::Workers {
                    add: add.clone(),
                    remove: vec![],
                },
            );
        }
        self.workers.insert(
            id,
            Worker {
                info,
                in_flight: 0,
                paused: false,
                memory: 0,
                spilled: 0,
                executing: 0,
                queued: 0,
                cpu_permille: 0,
                last_seen: Instant::now(),
                has_spec: HashSet::new(),
                stealing: false,
                used: vec![0.0; info_resources],
            },
        );
        id
    }

    /// A client asks to run a job. Errors are reported to the client.
    pub fn submit(&mut self, client: ClientId, job: JobId, spec: &[u8], sink: &mut impl Sink) {
        self.install(client, job, Prepared::new(spec.into()), sink);
    }

    /// Puts a job [prepared](Prepared::new) elsewhere on the cluster, or
    /// reports to the client why it cannot run.
    pub fn install(
        &mut self,
        client: ClientId,
        job: JobId,
        prepared: Result<Prepared, WireError>,
        sink: &mut impl Sink,
    ) {
        match prepared.and_then(|p| self.admit(client, job, p)) {
            Ok(()) => {
                self.activate(job);
                self.return_lent(client, job, sink);
            }
            Err(error) => sink.to_client(client, &ToClient::Failed { job, error }),
        }
    }

    /// Puts `job` on the active list: after every job of its priority or
    /// higher, so that higher priorities are scheduled first and equal
    /// ones oldest first.
    fn activate(&mut self, job: JobId) {
        let priority = self.jobs.get(&job).map_or(0, |j| j.constraints.priority);
        let at = self
            .active
            .iter()
            .rposition(|a| {
                self.jobs
                    .get(a)
                    .is_none_or(|j| j.constraints.priority >= priority)
            })
            .map_or(0, |i| i + 1);
        self.active.insert(at, job);
    }

    /// The client no longer needs `job`'s results. A job a dataset holds
    /// runs on to its end.
    pub fn release(&mut self, job: JobId, sink: &mut impl Sink) {
        if let Some(j) = self.jobs.get_mut(&job) {
            j.released = true;
            if j.forgotten && !j.finished {
                return; // dropped once it finishes
            }
            if j.pins == 0 {
                self.active.retain(|a| *a != job);
            }
            self.drop_if_unused(job, sink);
        }
    }

    /// Runs `job` to its end even if its client lets go of it or leaves.
    pub fn forget(&mut self, job: JobId) {
        if let Some(j) = self.jobs.get_mut(&job) {
            j.forgotten = !j.finished;
        }
    }

    /// The client let go of these outputs of `job`: each is dropped once
    /// the job has finished and nothing else holds it.
    pub fn release_outputs(&mut self, job: JobId, tasks: &[u32], sink: &mut impl Sink) {
        let Some(j) = self.jobs.get_mut(&job) else {
            return;
        };
        for &t in tasks {
            if j.outputs.contains(&TaskId(t)) {
                j.dropped.insert(t);
            }
        }
        if j.finished {
            self.free_dropped(job, sink);
        }
    }

    /// Drops the results of `job`'s let-go outputs that nothing pins.
    fn free_dropped(&mut self, id: JobId, sink: &mut impl Sink) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        let mut by_worker: BTreeMap<WorkerId, Vec<DataKey>> = BTreeMap::new();
        let dropped: Vec<u32> = job.dropped.iter().copied().collect();
        for t in dropped {
            let key = DataKey { job: id, task: t };
            let w = job.holder[t as usize];
            if w == 0 || job.externals.contains_key(&t) || self.key_pins.contains_key(&key) {
                continue;
            }
            job.holder[t as usize] = 0;
            job.progress.released(t as usize);
            by_worker.entry(w).or_default().push(key);
            for c in job.take_replicas(t) {
                by_worker.entry(c).or_default().push(key);
            }
        }
        for (w, keys) in by_worker {
            sink.to_worker(w, &ToWorker::Release { keys });
        }
    }

    /// Holds result `k` (and its job) on the cluster.
    fn pin_key(&mut self, k: DataKey) {
        if let Some(j) = self.jobs.get_mut(&k.job) {
            j.pins += 1;
            *self.key_pins.entry(k).or_default() += 1;
        }
    }

    /// Lets go of a hold taken by [`pin_key`](Self::pin_key).
    fn unpin_key(&mut self, k: DataKey, sink: &mut impl Sink) {
        let Some(j) = self.jobs.get_mut(&k.job) else {
            return;
        };
        j.pins = j.pins.saturating_sub(1);
        if j.pins == 0 && j.released && !j.forgotten {
            self.active.retain(|a| *a != k.job);
        }
        self.key_unpinned(k, sink);
        self.drop_if_unused(k.job, sink);
    }

    /// One key-level hold on `k` is gone; a let-go output then goes.
    fn key_unpinned(&mut self, k: DataKey, sink: &mut impl Sink) {
        if let Some(n) = self.key_pins.get_mut(&k) {
            *n -= 1;
            if *n == 0 {
                self.key_pins.remove(&k);
                let free = self
                    .jobs
                    .get(&k.job)
                    .is_some_and(|j| j.finished && j.dropped.contains(&k.task));
                if free {
                    self.free_dropped(k.job, sink);
                }
            }
        }
    }

    /// Answers a client's question about datasets or copies of results.
    pub fn ask(&mut self, op: AskOp, sink: &mut impl Sink) -> Answer {
        match op {
            AskOp::Publish {
                name,
                keys,
                replace,
            } => {
                if self.datasets.contains_key(&name) && !replace {
                    return Answer::Error(format!(
                        "a dataset named `{name}` already exists (publish with replace to \
                         overwrite it)"
                    ));
                }
                let gone = keys.iter().find(|(k, _)| {
                    !self
                        .jobs
                        .get(&k.job)
                        .is_some_and(|j| j.outputs.contains(&TaskId(k.task)))
                });
                if let Some((k, _)) = gone {
                    return Answer::Error(format!(
                        "cannot publish `{name}`: result {}/{} is not on the cluster",
                        k.job, k.task
                    ));
                }
                for (k, _) in &keys {
                    self.pin_key(*k);
                }
                if let Some(old) = self.datasets.insert(name, keys) {
                    self.unpin(&old, sink);
                }
                Answer::Done
            }
            AskOp::Unpublish { name } => match self.datasets.remove(&name) {
                Some(keys) => {
                    self.unpin(&keys, sink);
                    Answer::Done
                }
                None => Answer::Error(format!("no dataset named `{name}`")),
            },
            AskOp::List => Answer::Names(self.datasets.keys().cloned().collect()),
            AskOp::Get { name } => match self.datasets.get(&name) {
                Some(keys) => Answer::Keys(keys.clone()),
                None => Answer::Error(format!("no dataset named `{name}`")),
            },
            AskOp::Replicate { keys, n } => self.replicate(&keys, n, sink),
            AskOp::WhoHas { keys } => self.who_has(&keys),
        }
    }

    /// A dataset lets go of its results' jobs.
    fn unpin(&mut self, keys: &[(DataKey, String)], sink: &mut impl Sink) {
        for (k, _) in keys {
            self.unpin_key(*k, sink);
        }
    }

    fn drop_if_unused(&mut self, job: JobId, sink: &mut impl Sink) {
        let Some(j) = self.jobs.get(&job) else { return };
        if !j.released || j.pins > 0 || (j.forgotten && !j.finished) {
            return;
        }
        let Some(mut j) = self.jobs.remove(&job) else {
            return;
        };
        self.board.history.fold(&j.progress);
        for w in self.workers.keys() {
            sink.to_worker(*w, &ToWorker::DropJob { job });
        }
        for w in self.workers.values_mut() {
            w.has_spec.remove(&job);
        }
        for &w in &j.sent {
            if w != 0 {
                if let Some(worker) = self.workers.get_mut(&w) {
                    worker.in_flight = worker.in_flight.saturating_sub(1);
                    j.constraints.give_back(worker);
                }
            }
        }
        for k in &j.pinned_keys {
            self.key_unpinned(*k, sink);
        }
        for earlier in std::mem::take(&mut j.pinned) {
            if let Some(e) = self.jobs.get_mut(&earlier) {
                e.pins -= 1;
            }
            self.drop_if_unused(earlier, sink);
        }
        if let Some(retired) = &mut self.retired {
            retired.push(Retired::from(j));
        }
    }

    /// A client went away: its jobs are released (but those it fired and
    /// forgot run on), its waiting gets end, and what it took from queues
    /// and had not yet held goes.
    pub fn client_gone(&mut self, client: ClientId, sink: &mut impl Sink) {
        self.parked.retain(|g| g.client != client);
        let lent: Vec<DataKey> = self
            .lent
            .iter()
            .filter(|(c, _)| *c == client)
            .map(|(_, k)| *k)
            .collect();
        self.lent.retain(|(c, _)| *c != client);
        for k in lent {
            self.unpin_key(k, sink);
        }
        let jobs: Vec<JobId> = self
            .jobs
            .iter()
            .filter(|(_, j)| j.client == client)
            .map(|(id, _)| *id)
            .collect();
        for job in jobs {
            self.release(job, sink);
        }
    }

    /// A task finished on worker `w`; `run` says when and on which
    /// thread, as of `received`.
    pub fn on_done(
        &mut self,
        w: WorkerId,
        key: DataKey,
        bytes: u64,
        run: RunTime,
        received: Instant,
        sink: &mut impl Sink,
    ) {
        self.mean_task_ns = 0.95 * self.mean_task_ns + 0.05 * run.nanos as f64;
        let Some(job) = self.jobs.get_mut(&key.job) else {
            return;
        };
        let t = key.task as usize;
        if t >= job.holder.len() {
            return;
        }
        Self::unsend(&mut self.workers, job, t, w);
        self.board
            .record(w, job.progress.prefix(t), &run, received, false);
        if job.holder[t] != 0 {
            return; // a duplicate run (after a steal or a re-plan); keep the first
        }
        job.holder[t] = w;
        job.bytes[t] = bytes;
        job.progress.done(t);
        // Completes it if the state machine handed it out; a task sent
        // before a re-plan and not handed out again completes when popped.
        Self::complete(job, key.job, TaskId(key.task), sink);
    }

    /// Clears the record that `t` was sent to `w`.
    fn unsend(workers: &mut BTreeMap<WorkerId, Worker>, job: &mut Job, t: usize, w: WorkerId) {
        if job.sent[t] == w {
            job.sent[t] = 0;
            job.progress.unsent(t);
            if let Some(worker) = workers.get_mut(&w) {
                worker.in_flight = worker.in_flight.saturating_sub(1);
                worker.stealing = false;
                job.constraints.give_back(worker);
            }
        }
    }

    /// Completes `t` in the job's state machine and releases what it allows
    /// (a task with very many inputs: some now, the rest over the next
    /// turns, see `release`).
    fn complete(job: &mut Job, id: JobId, t: TaskId, sink: &mut impl Sink) {
        let releasing = &mut job.releasing;
        if job.exec.state.complete(t, |r| releasing.push(r)).is_err() {
            return;
        }
        job.release_some(id, sink);
    }

    /// A task failed on a worker: its job fails. `run` is there when the
    /// task ran (rather than failing to start).
    #[allow(clippy::too_many_arguments)] // one message's fields, and the clock
    pub fn on_failed(
        &mut self,
        w: WorkerId,
        key: DataKey,
        message: String,
        origin: Option<(String, String)>,
        run: Option<RunTime>,
        received: Instant,
        sink: &mut impl Sink,
    ) {
        let Some(job) = self.jobs.get_mut(&key.job) else {
            return;
        };
        let t = key.task as usize;
        if t >= job.holder.len() {
            return;
        }
        Self::unsend(&mut self.workers, job, t, w);
        if let Some(run) = run {
            self.board
                .record(w, job.progress.prefix(t), &run, received, true);
        }
        let failures = job.retried.get(&key.task).map_or(0, |r| r.0);
        if failures < job.constraints.retries {
            // Runs again, on another worker where one can take it.
            job.retried.insert(key.task, (failures + 1, w));
            let _ = job.exec.state.requeue(TaskId(key.task));
            return;
        }
        job.progress.erred(t);
        let (task_key, op) = origin.unwrap_or_else(|| job.names(key.task));
        self.fail_job(
            key.job,
            WireError::Task {
                key: task_key,
                op,
                message,
            },
            sink,
        );
    }

    fn fail_job(&mut self, job: JobId, error: WireError, sink: &mut impl Sink) {
        let Some(j) = self.jobs.get_mut(&job) else {
            return;
        };
        j.forgotten = false;
        sink.to_client(j.client, &ToClient::Failed { job, error });
        self.release(job, sink);
    }

    /// A worker could not fetch `input` for `key`: the task goes back to
    /// the queue; if the input's holder is still here it lost the result.
    pub fn on_missing(&mut self, w: WorkerId, key: DataKey, input: DataKey, sink: &mut impl Sink) {
        let Some(job) = self.jobs.get_mut(&key.job) else {
            return;
        };
        let t = key.task as usize;
        if t >= job.holder.len() {
            return;
        }
        Self::unsend(&mut self.workers, job, t, w);
        let _ = job.exec.state.requeue(TaskId(key.task));
        let lost_here = input.job == key.job
            && job
                .holder
                .get(input.task as usize)
                .is_some_and(|h| self.workers.contains_key(h));
        if lost_here {
            // Its holder lost it: a copy elsewhere takes over, or it is
            // recomputed.
            let copy = job.replicas.get_mut(&input.task).and_then(Vec::pop);
            job.holder[input.task as usize] = copy.unwrap_or(0);
            if copy.is_none() {
                self.replan(key.job, sink);
            }
        }
    }

    /// A stolen task came back.
    pub fn on_returned(&mut self, w: WorkerId, key: DataKey) {
        let Some(job) = self.jobs.get_mut(&key.job) else {
            return;
        };
        let t = key.task as usize;
        if t >= job.holder.len() || job.sent[t] != w {
            return;
        }
        Self::unsend(&mut self.workers, job, t, w);
        let _ = job.exec.state.requeue(TaskId(key.task));
    }

    /// A worker's heartbeat: its memory, tasks running and queued there,
    /// CPU use (per mille of a core), and whether it is over its limit.
    pub fn on_status(
        &mut self,
        w: WorkerId,
        (memory, spilled): (u64, u64),
        (executing, queued, cpu_permille): (u32, u32, u32),
        paused: bool,
    ) {
        if let Some(worker) = self.workers.get_mut(&w) {
            worker.memory = memory;
            worker.spilled = spilled;
            worker.executing = executing;
            worker.queued = queued;
            worker.cpu_permille = cpu_permille;
            worker.paused = paused;
            worker.last_seen = Instant::now();
            worker.stealing = false;
        }
    }

    /// Any message from `w` shows it is alive.
    pub fn seen(&mut self, w: WorkerId) {
        if let Some(worker) = self.workers.get_mut(&w) {
            worker.last_seen = Instant::now();
        }
    }

    /// Workers silent for longer than the heartbeat timeout.
    pub fn silent_workers(&self) -> Vec<WorkerId> {
        let now = Instant::now();
        self.workers
            .iter()
            .filter(|(_, w)| now.duration_since(w.last_seen) > self.heartbeat_timeout)
            .map(|(id, _)| *id)
            .collect()
    }

    /// A worker is gone: what it was running goes back to the queue (a task
    /// that has now killed [`MAX_DEATHS`] workers fails), and results that
    /// lived only on it are recomputed from lineage.
    pub fn remove_worker(&mut self, w: WorkerId, sink: &mut impl Sink, clients: &[ClientId]) {
        if self.workers.remove(&w).is_none() {
            return;
        }
        for other in self.workers.keys() {
            sink.to_worker(
                *other,
                &ToWorker::Peers {
                    add: vec![],
                    remove: vec![w],
                },
            );
        }
        for c in clients {
            sink.to_client(
                *c,
                &ToClient::Workers {
                    add: vec![],
                    remove: vec![w],
                },
            );
        }
        let ids: Vec<JobId> = self.jobs.keys().copied().collect();
        for id in ids {
            let Some(job) = self.jobs.get_mut(&id) else {
                continue;
            };
            job.forget_worker(w);
            let mut killed = None;
            for t in 0..job.sent.len() {
                if job.sent[t] != w {
                    continue;
                }
                job.sent[t] = 0;
                job.progress.unsent(t);
                job.deaths[t] += 1;
                if job.deaths[t] >= MAX_DEATHS {
                    killed = Some(t);
                }
                let _ = job.exec.state.requeue(TaskId(t as u32));
            }
            if let Some(t) = killed {
                let (key, op) = job.names(t as u32);
                let error = WireError::KilledWorker {
                    key,
                    op,
                    workers: MAX_DEATHS as u32,
                };
                self.fail_job(id, error, sink);
                continue;
            }
            let lost_external = job
                .externals
                .iter()
                .find(|(t, _)| job.holder[**t as usize] == w);
            if let Some((t, _)) = lost_external {
                let (name, _) = job.names(*t);
                let message = format!(
                    "the result `{name}` passed in from an earlier job was lost with its worker"
                );
                self.fail_job(id, WireError::Refused { message }, sink);
                continue;
            }
            let mut lost = false;
            for h in job.holder.iter_mut().filter(|h| **h == w) {
                *h = 0;
                lost = true;
            }
            job.eligible.remove(&w);
            if lost {
                self.replan(id, sink);
            }
        }
    }

    /// Re-plans a job from the results still held: lost ones are recomputed.
    fn replan(&mut self, id: JobId, sink: &mut impl Sink) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        let holder = &job.holder;
        // Let-go outputs are not recomputed: they are plain tasks now.
        let wanted: Vec<TaskId> = job
            .outputs
            .iter()
            .copied()
            .filter(|t| !job.dropped.contains(&t.0) || holder[t.index()] != 0)
            .collect();
        match Exec::new(job.exec.graph.clone(), &wanted, |t| holder[t.index()] != 0) {
            Ok(exec) => {
                job.exec = exec;
                let plan = job.exec.state.plan();
                job.progress
                    .recount(|t| plan.is_needed(TaskId(t as u32)), &job.holder, &job.sent);
                if job.finished {
                    job.finished = false;
                }
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

    /// Hands out ready tasks, oldest job first, while workers have room;
    /// finishes jobs; asks busy workers to give work to idle ones.
    pub fn schedule(&mut self, sink: &mut impl Sink) {
        self.release_pending(sink);
        let mut i = 0;
        while i < self.active.len() {
            let id = self.active[i];
            self.schedule_job(id, sink);
            if self.active.get(i) != Some(&id) {
                continue; // the job failed and took itself off the list
            }
            let finished = self
                .jobs
                .get(&id)
                .is_none_or(|j| j.finished || (j.released && !j.forgotten));
            if finished {
                self.active.remove(i);
            } else {
                i += 1;
            }
        }
        self.steal(sink);
    }

    fn schedule_job(&mut self, id: JobId, sink: &mut impl Sink) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        // Which workers can run this job at all, decided once per worker.
        let fresh: Vec<(WorkerId, bool)> = self
            .workers
            .iter()
            .filter(|(w, _)| !job.eligible.contains_key(w))
            .map(|(w, worker)| {
                let can = job.needs.iter().all(|n| provides(worker, job, n))
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
        if eligible.is_empty() && !self.workers.is_empty() {
            if let Some(message) = job
                .constraints
                .unmet(self.workers.iter().map(|(w, worker)| {
                    let can = job.needs.iter().all(|n| provides(worker, job, n));
                    (*w, &worker.info, can)
                }))
            {
                self.fail_job(id, WireError::Refused { message }, sink);
                return;
            }
            let missing = job
                .needs
                .iter()
                .find(|n| !self.workers.values().any(|w| provides(w, job, n)));
            let error = match missing {
                Some((op, _, true)) => WireError::UnknownOp {
                    key: decode_spec(&job.spec)
                        .ok()
                        .and_then(|s| first_task_with_op(&s, op))
                        .unwrap_or_default(),
                    op: op.clone(),
                },
                Some((type_name, _, false)) => WireError::Refused {
                    message: format!("no worker can decode a `{type_name}`"),
                },
                None => WireError::Refused {
                    message: "no single worker can run every op of this job".into(),
                },
            };
            self.fail_job(id, error, sink);
            return;
        }
        loop {
            let mean = self.mean_task_ns;
            let Some(job) = self.jobs.get_mut(&id) else {
                return;
            };
            let has_room = eligible.iter().any(|w| {
                self.workers.get(w).is_some_and(|worker| {
                    !worker.paused
                        && worker.in_flight < slots(worker, mean)
                        && job.constraints.free_on(worker)
                })
            });
            // Held results complete without a worker, so keep popping even
            // when every worker is full; a task that needs one goes back.
            let Some(t) = job.exec.state.pop_ready() else {
                break;
            };
            let ti = t.index();
            if job.holder[ti] != 0 {
                Self::complete(job, id, t, sink);
                continue;
            }
            if job.sent[ti] != 0 {
                continue; // still running from before a re-plan
            }
            let chosen = if has_room {
                self.choose(id, t, &eligible)
            } else {
                None
            };
            match chosen {
                Some(w) => self.dispatch(id, t, w, sink),
                None => {
                    if let Some(job) = self.jobs.get_mut(&id) {
                        let _ = job.exec.state.requeue(t);
                    }
                    break;
                }
            }
        }
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        if job.exec.state.is_finished() && !job.finished {
            job.finished = true;
            let outputs = job
                .outputs
                .iter()
                .map(|t| (t.0, job.holder[t.index()]))
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
    }

    /// The worker where `t` would start soonest: its queue, plus moving the
    /// inputs it does not hold.
    fn choose(&self, id: JobId, t: TaskId, eligible: &[WorkerId]) -> Option<WorkerId> {
        let job = self.jobs.get(&id)?;
        let mut held: Vec<(WorkerId, u64)> = Vec::new();
        let mut total = 0u64;
        for d in job.exec.graph.deps(t) {
            let b = job.bytes[d.index()];
            total += b;
            let copies = job.replicas.get(&d.0).into_iter().flatten();
            for &h in std::iter::once(&job.holder[d.index()]).chain(copies) {
                match held.iter_mut().find(|(w, _)| *w == h) {
                    Some(e) => e.1 += b,
                    None => held.push((h, b)),
                }
            }
        }
        // A retried task avoids the worker it last failed on, if it can.
        let failed_on = job.retried.get(&t.0).map_or(0, |r| r.1);
        eligible
            .iter()
            .filter_map(|w| self.workers.get(w).map(|worker| (*w, worker)))
            .filter(|(_, worker)| !worker.paused && job.constraints.free_on(worker))
            .map(|(w, worker)| {
                let local = held.iter().find(|(h, _)| *h == w).map_or(0, |e| e.1);
                let queue = f64::from(worker.in_flight) * self.mean_task_ns
                    / f64::from(worker.info.nthreads.max(1));
                let transfer = (total - local) as f64 / BYTES_PER_NS;
                let avoid = if w == failed_on { f64::MAX / 4.0 } else { 0.0 };
                (w, queue + transfer + avoid)
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(w, _)| w)
    }

    fn dispatch(&mut self, id: JobId, t: TaskId, w: WorkerId, sink: &mut impl Sink) {
        let (Some(job), Some(worker)) = (self.jobs.get_mut(&id), self.workers.get_mut(&w)) else {
            return;
        };
        if worker.has_spec.insert(id) {
            sink.job_to_worker(w, id, &job.spec);
        }
        let fetch = job
            .exec
            .graph
            .deps(t)
            .filter(|d| !job.held_on(d.index(), w))
            .map(|d| {
                let key = job
                    .externals
                    .get(&d.0)
                    .copied()
                    .unwrap_or(DataKey { job: id, task: d.0 });
                (key, job.holder[d.index()])
            })
            .collect();
        let priority = run_priority(job.constraints.priority, job.exec.state.plan().priority(t));
        job.constraints.take(worker);
        sink.to_worker(
            w,
            &ToWorker::Run {
                key: DataKey { job: id, task: t.0 },
                priority,
                fetch,
            },
        );
        job.sent[t.index()] = w;
        job.progress.sent(t.index());
        worker.in_flight += 1;
    }

    /// When a worker is idle, no task waits here, and another worker has
    /// more queued than it can start, ask that one to give some back.
    fn steal(&mut self, sink: &mut impl Sink) {
        let any_ready = self
            .active
            .iter()
            .filter_map(|id| self.jobs.get(id))
            .any(|j| j.exec.state.ready_len() > 0);
        if any_ready || !self.workers.values().any(|w| w.in_flight == 0 && !w.paused) {
            return;
        }
        let busiest = self
            .workers
            .iter()
            .filter(|(_, w)| !w.stealing && w.in_flight > w.info.nthreads + 1)
            .max_by_key(|(_, w)| w.in_flight - w.info.nthreads)
            .map(|(id, w)| (*id, (w.in_flight - w.info.nthreads) / 2));
        if let Some((victim, max)) = busiest {
            if let Some(w) = self.workers.get_mut(&victim) {
                w.stealing = true;
            }
            sink.to_worker(victim, &ToWorker::Steal { max: max.max(1) });
        }
    }
}

impl Job {
    /// `task`'s key and op name, for errors. Only errors need them, so
    /// they are read from the spec then rather than kept per task.
    fn names(&self, task: u32) -> (String, String) {
        match decode_spec(&self.spec) {
            Ok(spec) => (spec.task_name(task), spec.op_name(task).to_owned()),
            Err(_) => (format!("task-{task}"), String::new()),
        }
    }
}

/// Tasks a worker may have in flight: its threads, times how many tasks of
/// the current mean length cover a round trip (at least one per thread).
fn slots(w: &Worker, mean_task_ns: f64) -> u32 {
    let per_thread = (1.0 + LOOKAHEAD_NS / mean_task_ns.max(1.0)).min(MAX_PER_THREAD);
    (f64::from(w.info.nthreads.max(1)) * per_thread).ceil() as u32
}

/// True if `worker` can supply `need` (an op or a type) for `job`: by code
/// reference when it was started with the job's code key, else by name.
fn provides(worker: &Worker, job: &Job, need: &(String, bool, bool)) -> bool {
    let (name, has_code, is_op) = need;
    (*has_code && job.code_id.is_some() && worker.info.code_id == job.code_id)
        || if *is_op {
            worker.info.ops.iter().any(|o| o == name)
        } else {
            worker.info.codecs.iter().any(|c| c == name)
        }
}

fn first_task_with_op(spec: &JobSpec, op: &str) -> Option<String> {
    let idx = spec.ops.iter().position(|o| o.name == op)? as u32;
    let t = spec.task_ops.iter().position(|&o| o == idx)? as u32;
    Some(spec.task_name(t))
}

/// What a worker must have to run `spec`: each op (name, has code, true)
/// and each literal or external type (name, has code, false).
fn needs_of(spec: &JobSpec) -> Vec<(String, bool, bool)> {
    let mut needs: Vec<(String, bool, bool)> = Vec::new();
    let mut add = |name: &str, code: bool, op: bool| {
        if !needs
            .iter()
            .any(|(n, c, o)| n == name && *c == code && *o == op)
        {
            needs.push((name.to_owned(), code, op));
        }
    };
    for op in &spec.ops {
        if op.name != crate::portable::EXTERNAL_OP {
            add(op.name, op.code.is_some(), true);
        }
    }
    for lit in &spec.lits {
        add(lit.codec.type_name, lit.codec.code.is_some(), false);
    }
    // A worker decodes an earlier result only to feed a task of this job;
    // results merely held (a dataset read) need nothing.
    // Scanned only for a job that has externals: hashing every argument
    // of a ten-million-task job costs more than planning it.
    let passed_in: HashSet<u32> = spec.externals.iter().map(|e| e.task).collect();
    let used: HashSet<u32> = if passed_in.is_empty() {
        HashSet::new()
    } else {
        spec.args
            .iter()
            .filter_map(|&a| rask_core::Arg::from_bits(a).as_dep())
            .map(|t| t.0)
            .filter(|t| passed_in.contains(t))
            .collect()
    };
    for e in spec.externals.iter().filter(|e| used.contains(&e.task)) {
        add(e.codec.type_name, e.codec.code.is_some(), false);
    }
    needs
}
