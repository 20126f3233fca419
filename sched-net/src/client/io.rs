//! The IO thread: one mio loop over the scheduler connection and the
//! worker connections results are fetched on; it owns every job's
//! bookkeeping and answers callers through their channels and callbacks.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Weak};
use std::time::Duration;

use mio::{Events, Poll, Token};
use rask_core::{Codec, Error, IgnorePoison, Value};

use super::commands::{ClusterInfo, Cmd, WorkerList};
use super::connect::ClientOptions;
use super::errors;
use super::future::{cancelled, JobHandle, Reply, Status};
use super::queues::QueueCmd;
use crate::conn::Conn;
use crate::protocol::{
    messages, Answer, DataKey, FromClient, JobId, QueueOp, QueuedRef, ToClient, WireError, WorkerId,
};

pub(super) const SCHEDULER: Token = Token(0);
pub(super) const WAKER: Token = Token(1);

/// The IO thread's state.
pub(super) struct Io {
    pub(super) woken: Arc<AtomicBool>,
    pub(super) info: Arc<ClusterInfo>,
    /// Jobs with outputs let go of this turn.
    pub(super) let_go: Vec<JobId>,
    pub(super) poll: Poll,
    pub(super) sched: Conn,
    pub(super) options: ClientOptions,
    pub(super) commands: Receiver<Cmd>,
    pub(super) jobs: HashMap<JobId, JobEntry>,
    pub(super) workers: Arc<WorkerList>,
    /// Connections to workers: token → (conn, worker, welcomed).
    pub(super) peers: HashMap<Token, (Conn, WorkerId, bool)>,
    pub(super) by_worker: HashMap<WorkerId, Token>,
    pub(super) next_token: usize,
    pub(super) fetches: HashMap<u64, FetchState>,
    /// Which fetches (id, index) wait for each result.
    pub(super) waiting: HashMap<DataKey, Vec<(u64, usize)>>,
    pub(super) next_fetch: u64,
    /// Dataset requests waiting for the scheduler's reply.
    pub(super) asks: HashMap<u64, Sender<Answer>>,
    pub(super) next_ask: u64,
}

/// A job as the IO thread tracks it.
pub(super) struct JobEntry {
    handle: Weak<JobHandle>,
    /// Where each output lives, from the latest `Done`, by task: a fetch
    /// of every output of a 100k-task `map` looks each one up.
    pub(super) outputs: HashMap<u32, WorkerId>,
    /// How many times the job finished; it finishes again after a holder
    /// dies and its outputs are recomputed.
    pub(super) finishes: u64,
    /// Fetches waiting for the job to finish (again).
    pub(super) parked: Vec<u64>,
    pub(super) failed: Option<Error>,
    /// Its spec has gone to the scheduler (it may wait for earlier jobs).
    sent: bool,
    /// Fired and forgotten: sent, forgotten and released even if every
    /// future goes before it is sent.
    forgotten: bool,
    /// Every future is gone (kept only while a forgotten job waits).
    released: bool,
    /// Outputs whose futures have all gone, to tell the scheduler.
    let_go: Vec<u32>,
}

pub(super) struct FetchState {
    pub(super) job: JobId,
    /// (output task, where its result lives, its codec).
    pub(super) tasks: Vec<(u32, DataKey, Codec)>,
    /// The holder asked for each task, and the finish it came from.
    pub(super) holders: Vec<Option<WorkerId>>,
    pub(super) finish: u64,
    pub(super) values: Vec<Option<Value>>,
    pub(super) left: usize,
    pub(super) reply: Reply,
}

impl Io {
    pub(super) fn run(&mut self) {
        let mut events = Events::with_capacity(256);
        loop {
            if self
                .poll
                .poll(&mut events, Some(Duration::from_secs(1)))
                .is_err()
            {
                continue;
            }
            let mut scheduler_ok = true;
            for event in events.iter() {
                match event.token() {
                    SCHEDULER => scheduler_ok &= self.read_scheduler(),
                    WAKER => {}
                    token => self.read_worker(token),
                }
            }
            self.woken.store(false, Ordering::Release);
            loop {
                match self.commands.try_recv() {
                    Ok(Cmd::Stop) | Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                        self.sched.flush_all(Duration::from_millis(200));
                        return;
                    }
                    Ok(cmd) => self.command(cmd),
                    Err(std::sync::mpsc::TryRecvError::Empty) => break,
                }
            }
            self.send_let_go();
            if !scheduler_ok || self.sched.flush().is_err() {
                self.lost_scheduler();
                return;
            }
            let broken: Vec<Token> = self
                .peers
                .iter_mut()
                .filter_map(|(t, (c, ..))| c.flush().is_err().then_some(*t))
                .collect();
            for t in broken {
                self.close_peer(t);
            }
        }
    }

    fn lost_scheduler(&mut self) {
        let lost = errors::disconnected;
        for handle in self.jobs.values().filter_map(|j| j.handle.upgrade()) {
            if matches!(handle.status(), Status::Pending | Status::Done) {
                handle.set(Status::Lost(lost()));
            }
        }
        for (_, f) in self.fetches.drain() {
            (f.reply)(Err(lost()));
        }
        // Dropping the senders answers the waiting dataset requests.
        self.asks.clear();
        // Keep answering commands until the client is dropped.
        while let Ok(cmd) = self.commands.recv() {
            match cmd {
                Cmd::Stop => return,
                Cmd::Submit(_, _, h) => {
                    if let Some(h) = h.upgrade() {
                        h.set(Status::Lost(lost()));
                    }
                }
                Cmd::Fetch(_, _, reply) => {
                    reply(Err(lost()));
                }
                Cmd::Release(_)
                | Cmd::ReleaseOutput(..)
                | Cmd::Forget(_)
                | Cmd::Ask(..)
                | Cmd::Queue(..)
                | Cmd::Launch(..)
                | Cmd::Cancel(_) => {}
            }
        }
    }

    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Submit(job, spec, handle) => {
                self.jobs.insert(
                    job,
                    JobEntry {
                        handle,
                        outputs: HashMap::new(),
                        finishes: 0,
                        parked: Vec::new(),
                        failed: None,
                        sent: spec.is_some(),
                        forgotten: false,
                        released: false,
                        let_go: Vec::new(),
                    },
                );
                if let Some(spec) = spec {
                    self.sched
                        .outbox
                        .push(&FromClient::Submit { job, spec: &spec });
                }
            }
            Cmd::Cancel(job) => {
                if let Some(entry) = self.jobs.get_mut(&job) {
                    // Releasing an unfinished job drops its tasks; its
                    // fetches end with the cancellation.
                    self.sched.outbox.push(&FromClient::Release { job });
                    let error = cancelled(DataKey { job, task: 0 });
                    entry.failed = Some(error.clone());
                    self.end_fetches_of(job, error);
                }
            }
            Cmd::Launch(job, launch) => match launch {
                _ if !self.jobs.contains_key(&job) => {} // released meanwhile
                Ok(spec) => {
                    self.sched
                        .outbox
                        .push(&FromClient::Submit { job, spec: &spec });
                    let Some(entry) = self.jobs.get_mut(&job) else {
                        return;
                    };
                    entry.sent = true;
                    if entry.forgotten {
                        self.sched.outbox.push(&FromClient::Forget { job });
                    }
                    if entry.released {
                        self.jobs.remove(&job);
                        self.sched.outbox.push(&FromClient::Release { job });
                    } else if !entry.let_go.is_empty() {
                        self.let_go.push(job);
                    }
                }
                Err(error) => {
                    self.job_failed(job, error);
                    if self.jobs.get(&job).is_some_and(|e| e.released) {
                        self.jobs.remove(&job);
                    }
                }
            },
            Cmd::Release(job) => {
                if let Some(entry) = self.jobs.get_mut(&job) {
                    if entry.forgotten && !entry.sent {
                        entry.released = true; // released once launched
                        return;
                    }
                }
                self.jobs.remove(&job);
                self.sched.outbox.push(&FromClient::Release { job });
            }
            Cmd::ReleaseOutput(job, task) => {
                if let Some(entry) = self.jobs.get_mut(&job) {
                    if entry.let_go.is_empty() && entry.sent {
                        self.let_go.push(job);
                    }
                    entry.let_go.push(task);
                }
            }
            Cmd::Forget(job) => {
                if let Some(entry) = self.jobs.get_mut(&job) {
                    if !entry.forgotten && entry.sent {
                        self.sched.outbox.push(&FromClient::Forget { job });
                    }
                    entry.forgotten = true;
                }
            }
            Cmd::Queue(name, cmd, reply) => {
                let request = self.next_ask;
                self.next_ask += 1;
                self.asks.insert(request, reply);
                let op = match &cmd {
                    QueueCmd::PutKey(key, ty) => QueueOp::Put(QueuedRef::Key(*key, ty)),
                    QueueCmd::PutValue(bytes, ty) => QueueOp::Put(QueuedRef::Value(bytes, ty)),
                    QueueCmd::Get(ty, timeout_ms) => QueueOp::Get {
                        type_name: ty.clone(),
                        timeout_ms: *timeout_ms,
                    },
                    QueueCmd::Size => QueueOp::Size,
                };
                self.sched
                    .outbox
                    .push(&FromClient::Queue { request, name, op });
            }
            Cmd::Fetch(job, tasks, reply) => {
                let id = self.next_fetch;
                self.next_fetch += 1;
                let n = tasks.len();
                self.fetches.insert(
                    id,
                    FetchState {
                        job,
                        tasks,
                        holders: vec![None; n],
                        finish: 0,
                        values: vec![None; n],
                        left: n,
                        reply,
                    },
                );
                self.start_fetch(id);
            }
            Cmd::Ask(op, reply) => {
                let request = self.next_ask;
                self.next_ask += 1;
                self.asks.insert(request, reply);
                self.sched.outbox.push(&FromClient::Ask { request, op });
            }
            Cmd::Stop => {}
        }
    }

    /// Tells the scheduler which outputs lost their last future this turn,
    /// one message per job.
    fn send_let_go(&mut self) {
        for job in std::mem::take(&mut self.let_go) {
            if let Some(entry) = self.jobs.get_mut(&job) {
                let tasks = std::mem::take(&mut entry.let_go);
                if !tasks.is_empty() {
                    self.sched
                        .outbox
                        .push(&FromClient::ReleaseOutputs { job, tasks });
                }
            }
        }
    }

    fn read_scheduler(&mut self) -> bool {
        let closed = self.sched.read().unwrap_or(true);
        let mut inbox = self.sched.inbox.take();
        let result = inbox.drain(|body| {
            for msg in messages::<ToClient>(body) {
                self.scheduler_message(msg.map_err(|e| e.to_string())?);
            }
            Ok(())
        });
        self.sched.inbox = inbox;
        !closed && result.is_ok()
    }

    fn scheduler_message(&mut self, msg: ToClient) {
        match msg {
            ToClient::Workers { add, remove } => {
                let (lock, cond) = &*self.workers;
                let mut workers = lock.lock().ignore_poison();
                workers.retain(|(id, _)| !remove.contains(id));
                let joined = !add.is_empty();
                workers.extend(add);
                cond.notify_all();
                drop(workers);
                if joined {
                    for h in self.jobs.values().filter_map(|e| e.handle.upgrade()) {
                        h.waiting.store(false, Ordering::Release);
                    }
                }
                for w in remove {
                    if let Some(t) = self.by_worker.get(&w).copied() {
                        self.close_peer(t);
                    }
                }
            }
            ToClient::Done { job, outputs } => {
                let Some(entry) = self.jobs.get_mut(&job) else {
                    return;
                };
                entry.outputs = outputs.into_iter().collect();
                entry.finishes += 1;
                if let Some(h) = entry.handle.upgrade() {
                    h.set(Status::Done);
                }
                for id in std::mem::take(&mut entry.parked) {
                    self.start_fetch(id);
                }
            }
            ToClient::Failed { job, error } => self.job_failed(job, wire_error(error)),
            ToClient::Waiting { job } => {
                if let Some(h) = self.jobs.get(&job).and_then(|e| e.handle.upgrade()) {
                    h.waiting.store(true, Ordering::Release);
                }
            }
            ToClient::Cluster { dashboard } => {
                let (lock, cond) = &*self.info;
                *lock.lock().ignore_poison() = Some(dashboard);
                cond.notify_all();
            }
            ToClient::Reply { request, reply } => {
                if let Some(tx) = self.asks.remove(&request) {
                    let _ = tx.send(reply);
                }
            }
        }
    }

    /// Job `job` failed: its handle and its fetches learn why.
    fn job_failed(&mut self, job: JobId, error: Error) {
        let Some(entry) = self.jobs.get_mut(&job) else {
            return;
        };
        entry.failed = Some(error.clone());
        if let Some(h) = entry.handle.upgrade() {
            h.set(Status::Failed(error.clone()));
        }
        self.end_fetches_of(job, error);
    }
}

/// A job's failure as the user sees it.
fn wire_error(error: WireError) -> Error {
    match error {
        WireError::Task { key, op, message } => Error::TaskFailed { key, op, message },
        WireError::KilledWorker { key, op, workers } => Error::KilledWorker { key, op, workers },
        WireError::UnknownOp { key, op } => Error::UnknownOp { key, op },
        WireError::Refused { message } => errors::job_refused(message),
    }
}
