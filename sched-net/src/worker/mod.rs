//! A worker: one mio loop for the network (the scheduler, peers fetching
//! from it, peers it fetches from) and [`exec`] threads for the tasks.
//!
//! It keeps its results in memory, serves them to whoever asks, and fetches
//! the inputs the scheduler says live elsewhere straight from the worker
//! holding them. Copies fetched for a task are dropped once the tasks on
//! this worker that wanted them have run. A heartbeat every half second
//! reports memory and load; above its memory limit the worker tells the
//! scheduler to send it nothing new, and before that it spills results to
//! disk ([`store`]).
//!
//! A user's own binary becomes a worker with its own ops by calling
//! [`run`] with its registry:
//!
//! ```no_run
//! let mut ops = rask_core::Registry::new();
//! ops.op("inc", |x: &i64| x + 1);
//! rask_sched_net::worker::run(ops, "127.0.0.1:8786").unwrap();
//! ```

mod exec;
mod store;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use rask_core::{Registry, TaskId, Value};

use crate::conn::Conn;
use crate::portable::{decode_spec, CodeKey, Loader, SharedJob};
use crate::protocol::{
    messages, DataKey, Hello, JobId, Outbox, PeerMsg, Role, RunTime, ToScheduler, ToWorker,
    Welcome, WorkerId, WorkerInfo, DEFAULT_MAX_FRAME,
};
use exec::{Executor, Item, Outcome};
use store::{SpillDir, Store};

const SCHEDULER: Token = Token(0);
const LISTENER: Token = Token(1);
const WAKER: Token = Token(2);
const FIRST_PEER: usize = 3;
const HEARTBEAT: Duration = Duration::from_millis(500);
/// Shares of the memory limit, as Dask has them: results in memory above
/// `SPILL_AT` are spilled down to `SPILL_TO`; a process above
/// `SPILL_PROCESS` (allocator slack, task scratch space) spills as much
/// of its results as it is over.
const SPILL_AT: f64 = 0.6;
const SPILL_TO: f64 = 0.5;
const SPILL_PROCESS: f64 = 0.7;

/// How a worker runs.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// Threads executing tasks.
    pub nthreads: usize,
    /// Resident bytes above which it takes no new task (0: no limit).
    /// Results past a share of it are spilled to `local_directory`.
    pub memory_limit: u64,
    /// Spill least recently used results to disk under the memory limit
    /// (default true; no effect without a limit).
    pub spill: bool,
    /// Where this worker makes its own spill directory (removed when it
    /// exits); the system's temporary directory if `None`.
    pub local_directory: Option<PathBuf>,
    /// The cluster's shared secret.
    pub token: Option<String>,
    /// Largest frame accepted.
    pub max_frame: usize,
    /// Accept code references made with this key (workers started by
    /// `Client::local` from the client's own binary).
    pub code_key: Option<CodeKey>,
    /// Prefix of log lines (stderr).
    pub log_name: String,
    /// Abstract resources it offers (`("GPU", 2.0)`); a task asking for
    /// some runs here only while that much is not held by other tasks.
    pub resources: Vec<(String, f64)>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            nthreads: 1,
            memory_limit: 0,
            spill: true,
            local_directory: None,
            token: None,
            max_frame: DEFAULT_MAX_FRAME,
            code_key: None,
            log_name: "rask-worker".into(),
            resources: Vec::new(),
        }
    }
}

/// Joins the scheduler at `addr` with the ops of `registry` and works until
/// the scheduler goes away or tells it to stop.
pub fn run(registry: Registry, addr: &str) -> io::Result<()> {
    run_with(registry, addr, WorkerOptions::default())
}

/// [`run`] with options.
pub fn run_with(registry: Registry, addr: &str, options: WorkerOptions) -> io::Result<()> {
    let loader = Loader::new(registry, options.code_key);
    Worker::connect(loader, addr, options)?.run()
}

/// Parses resources as `rask-worker --resources` takes them:
/// `NAME=AMOUNT` pairs separated by commas or spaces (`GPU=2,MEM=8e9`).
pub fn parse_resources(text: &str) -> Result<Vec<(String, f64)>, String> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for pair in text.split([',', ' ']).filter(|p| !p.is_empty()) {
        let (name, amount) = pair
            .split_once('=')
            .ok_or_else(|| format!("resource `{pair}` is not NAME=AMOUNT"))?;
        let amount: f64 = amount
            .parse()
            .map_err(|e| format!("resource `{name}`: amount `{amount}`: {e}"))?;
        if name.is_empty() || !amount.is_finite() || amount < 0.0 {
            return Err(format!(
                "resource `{pair}` needs a name and a finite amount of at least 0"
            ));
        }
        match out.iter_mut().find(|(n, _)| n == name) {
            Some(e) => e.1 = amount,
            None => out.push((name.to_owned(), amount)),
        }
    }
    Ok(out)
}

/// A task waiting for inputs from peers.
struct Pending {
    priority: u64,
    missing: usize,
    /// Its inputs' task ids, sorted and distinct.
    deps: Vec<TaskId>,
}

/// An input being fetched, and the tasks waiting for it.
struct Wanted {
    from: WorkerId,
    /// Kept as a copy the scheduler knows of (a replica), not only for
    /// the waiting tasks.
    keep: bool,
    /// (waiting task, the input's task id in that task's job).
    waiters: Vec<(DataKey, TaskId)>,
}

enum PeerKind {
    /// Someone fetching from us; `greeted` once its hello was accepted.
    Incoming { greeted: bool },
    /// Us fetching from worker `.0`; `welcomed` once it accepted us.
    Outgoing(WorkerId, bool),
}

struct Worker {
    poll: Poll,
    options: WorkerOptions,
    loader: Loader,
    sched: Conn,
    listener: TcpListener,
    peers: HashMap<Token, (Conn, PeerKind)>,
    outgoing: HashMap<WorkerId, Token>,
    peer_addrs: HashMap<WorkerId, String>,
    next_token: usize,
    jobs: HashMap<JobId, SharedJob>,
    data: Store,
    pending: HashMap<DataKey, Pending>,
    wanted: HashMap<DataKey, Wanted>,
    /// Gets to send this turn, per peer.
    to_get: HashMap<WorkerId, Vec<DataKey>>,
    exec: Executor,
    outcomes: Receiver<Outcome>,
    /// CPU time used by this process, and when, at the last heartbeat.
    last_cpu: (Instant, Duration),
}

/// Writes one frame holding `msg` on a blocking stream.
pub(crate) fn send_frame<M: serde::Serialize>(sock: &mut StdStream, msg: &M) -> io::Result<()> {
    let mut out = Outbox::new();
    out.push(msg);
    while !out.write_to(sock)? {}
    sock.flush()
}

/// Reads one frame on a blocking stream.
pub(crate) fn recv_frame(sock: &mut StdStream, max: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    sock.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "oversized frame",
        ));
    }
    let mut body = vec![0; len];
    sock.read_exact(&mut body)?;
    Ok(body)
}

/// Resident memory of this process, bytes.
pub(crate) fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// User and system CPU time of this process so far.
fn cpu_time() -> Duration {
    use nix::sys::resource::{getrusage, UsageWho};
    getrusage(UsageWho::RUSAGE_SELF).map_or(Duration::ZERO, |u| {
        let t = |tv: nix::sys::time::TimeVal| {
            Duration::new(tv.tv_sec().max(0) as u64, tv.tv_usec().max(0) as u32 * 1000)
        };
        t(u.user_time()) + t(u.system_time())
    })
}

impl Worker {
    fn log(&self, line: &str) {
        eprintln!("{}: {line}", self.options.log_name);
    }

    fn connect(loader: Loader, addr: &str, options: WorkerOptions) -> io::Result<Worker> {
        let target = addr.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no address for {addr}"),
            )
        })?;
        let mut sock = StdStream::connect_timeout(&target, Duration::from_secs(10))?;
        sock.set_nodelay(true)?;
        // Serve peers on the interface that reaches the scheduler.
        let here = sock.local_addr()?.ip();
        let listener = std::net::TcpListener::bind(SocketAddr::new(here, 0))?;
        let info = WorkerInfo {
            listen: listener.local_addr()?.to_string(),
            nthreads: options.nthreads.max(1) as u32,
            memory_limit: options.memory_limit,
            ops: loader.op_names(),
            codecs: loader.codec_names(),
            code_id: loader.code_id(),
            pid: std::process::id(),
            resources: options.resources.clone(),
        };
        send_frame(
            &mut sock,
            &Hello::new(Role::Worker(info), options.token.as_deref()),
        )?;
        sock.set_read_timeout(Some(Duration::from_secs(30)))?;
        let body = recv_frame(&mut sock, options.max_frame)?;
        match postcard::from_bytes::<Welcome>(&body) {
            Ok(Welcome::Accepted { .. }) => {}
            Ok(Welcome::Refused { reason }) => {
                let line = format!("the scheduler at {addr} refused this worker: {reason}");
                eprintln!("{}: {line}", options.log_name);
                return Err(io::Error::new(io::ErrorKind::PermissionDenied, line));
            }
            Err(e) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad welcome: {e}"),
                ))
            }
        }
        sock.set_read_timeout(None)?;
        sock.set_nonblocking(true)?;
        listener.set_nonblocking(true)?;
        let poll = Poll::new()?;
        let sched = Conn::register(
            TcpStream::from_std(sock),
            poll.registry(),
            SCHEDULER,
            options.max_frame,
        )?;
        let mut listener = TcpListener::from_std(listener);
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (tx, outcomes) = channel();
        let exec = Executor::start(options.nthreads, tx, waker)?;
        let data = Store::new(
            (options.spill && options.memory_limit > 0)
                .then(|| SpillDir::new(options.local_directory.as_deref())),
        );
        Ok(Worker {
            poll,
            options,
            loader,
            sched,
            listener,
            peers: HashMap::new(),
            outgoing: HashMap::new(),
            peer_addrs: HashMap::new(),
            next_token: FIRST_PEER,
            jobs: HashMap::new(),
            data,
            pending: HashMap::new(),
            wanted: HashMap::new(),
            to_get: HashMap::new(),
            exec,
            outcomes,
            last_cpu: (Instant::now(), cpu_time()),
        })
    }

    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        let mut last_beat = Instant::now() - HEARTBEAT;
        loop {
            match self.poll.poll(&mut events, Some(HEARTBEAT)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for event in events.iter() {
                match event.token() {
                    SCHEDULER => {
                        if !self.read_scheduler()? {
                            return Ok(());
                        }
                    }
                    LISTENER => self.accept(),
                    WAKER => {}
                    token => self.read_peer(token),
                }
            }
            self.collect_outcomes();
            if last_beat.elapsed() >= HEARTBEAT {
                last_beat = Instant::now();
                self.heartbeat();
            }
            self.send_gets();
            self.flush()?;
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Err(e) = self.sched.flush() {
            self.log(&format!("lost the scheduler: {e}"));
            return Err(e);
        }
        let broken: Vec<Token> = self
            .peers
            .iter_mut()
            .filter_map(|(t, (c, _))| c.flush().is_err().then_some(*t))
            .collect();
        for t in broken {
            self.close_peer(t);
        }
        Ok(())
    }

    fn heartbeat(&mut self) {
        let mut memory = resident_bytes();
        let limit = self.options.memory_limit as f64;
        if memory as f64 > limit * SPILL_PROCESS && self.data.memory() > 0 {
            let over = memory as f64 - limit * SPILL_AT;
            self.spill_to((self.data.memory() as f64 - over).max(0.0) as u64);
            memory = resident_bytes();
        }
        let (executing, queued) = self.exec.load();
        let now = (Instant::now(), cpu_time());
        let (wall, cpu) = (
            now.0 - self.last_cpu.0,
            now.1.saturating_sub(self.last_cpu.1),
        );
        self.last_cpu = now;
        let cpu_permille = (cpu.as_secs_f64() / wall.as_secs_f64().max(1e-3) * 1000.0) as u32;
        let paused = self.options.memory_limit > 0 && memory > self.options.memory_limit;
        self.sched.outbox.push(&ToScheduler::Status {
            memory,
            executing,
            queued: queued + self.pending.len() as u32,
            paused,
            cpu_permille,
            spilled: self.data.spilled(),
        });
    }

    /// Spills results until at most `target` bytes of them are in memory.
    fn spill_to(&mut self, target: u64) {
        if let Err(e) = self.data.spill_to(target) {
            self.log(&format!("spilling is off from now on: {e}"));
        }
    }

    /// Spills when the results in memory have passed their share of the
    /// memory limit: called as results come in.
    fn spill_if_over(&mut self) {
        let limit = self.options.memory_limit as f64;
        if limit > 0.0 && self.data.memory() as f64 > limit * SPILL_AT {
            self.spill_to((limit * SPILL_TO) as u64);
        }
    }

    /// Handles the scheduler's frames; `Ok(false)`: time to stop.
    fn read_scheduler(&mut self) -> io::Result<bool> {
        let closed = self.sched.read().unwrap_or(true);
        let mut inbox = self.sched.inbox.take();
        let mut keep_going = true;
        let result = inbox.drain(|body| {
            for msg in messages::<ToWorker>(body) {
                match msg.map_err(|e| e.to_string())? {
                    ToWorker::Shutdown => keep_going = false,
                    msg => self.scheduler_message(msg),
                }
            }
            Ok(())
        });
        self.sched.inbox = inbox;
        if let Err(e) = result {
            self.log(&format!("bad frame from the scheduler: {e}"));
            keep_going = false;
        }
        if closed && keep_going {
            self.log("the scheduler closed the connection; exiting");
            keep_going = false;
        }
        Ok(keep_going)
    }

    fn scheduler_message(&mut self, msg: ToWorker<'_>) {
        match msg {
            ToWorker::Job { job, spec } => {
                let loaded = decode_spec(spec).and_then(|s| self.loader.load(&s));
                match loaded {
                    Ok(j) => {
                        self.jobs.insert(job, Arc::new(j));
                    }
                    Err(message) => self.log(&format!("cannot load job {job:#x}: {message}")),
                }
            }
            ToWorker::Run {
                key,
                priority,
                fetch,
            } => self.run_task(key, priority, fetch),
            ToWorker::Release { keys } => {
                for k in keys {
                    if let Some(s) = self.data.get_mut(&k) {
                        if s.users == 0 {
                            self.data.remove(k);
                        } else {
                            s.own = false;
                        }
                    }
                }
            }
            ToWorker::DropJob { job } => {
                self.jobs.remove(&job);
                self.exec.drop_job(job);
                self.data.remove_job(job);
                self.pending.retain(|k, _| k.job != job);
                for w in self.wanted.values_mut() {
                    w.waiters.retain(|(k, _)| k.job != job);
                }
            }
            ToWorker::Replicate { key, from } => self.replicate(key, from),
            ToWorker::Steal { max } => {
                for item in self.exec.steal(max as usize) {
                    let deps: Vec<TaskId> = item.inputs.iter().map(|(t, _)| *t).collect();
                    self.unpin(&item.job, item.key, &deps);
                    self.sched
                        .outbox
                        .push(&ToScheduler::Returned { key: item.key });
                }
            }
            ToWorker::Peers { add, remove } => {
                self.peer_addrs.extend(add);
                for w in remove {
                    self.peer_addrs.remove(&w);
                    if let Some(t) = self.outgoing.get(&w).copied() {
                        self.close_peer(t);
                    }
                }
            }
            ToWorker::Shutdown => {} // handled by the reader
        }
    }

    /// The key of `dep`'s result in `job`.
    fn data_key(job: JobId, loaded: &SharedJob, dep: TaskId) -> DataKey {
        loaded
            .externals
            .get(&dep.0)
            .map_or(DataKey { job, task: dep.0 }, |(k, _)| *k)
    }

    fn run_task(&mut self, key: DataKey, priority: u64, fetch: Vec<(DataKey, WorkerId)>) {
        let Some(job) = self.jobs.get(&key.job).cloned() else {
            self.sched.outbox.push(&ToScheduler::Failed {
                key,
                message: "this worker could not load the task's job".into(),
                origin: None,
                run: None,
            });
            return;
        };
        let fetch: HashMap<DataKey, WorkerId> = fetch.into_iter().collect();
        let mut deps: Vec<TaskId> = job.job.graph().deps(TaskId(key.task)).collect();
        deps.sort_unstable();
        deps.dedup();
        // Inputs already here are pinned now, so that another task
        // finishing cannot drop a fetched copy this one still needs.
        let mut missing = Vec::new();
        for &dep in &deps {
            let input = Self::data_key(key.job, &job, dep);
            match self.data.get_mut(&input) {
                Some(s) => s.users += 1,
                None => missing.push((dep, input)),
            }
        }
        for &(dep, input) in &missing {
            if let Some(w) = self.wanted.get_mut(&input) {
                w.waiters.push((key, dep));
                continue;
            }
            let Some(&from) = fetch.get(&input) else {
                self.unpin(&job, key, &deps);
                self.sched.outbox.push(&ToScheduler::Missing { key, input });
                return;
            };
            self.wanted.insert(
                input,
                Wanted {
                    from,
                    keep: false,
                    waiters: vec![(key, dep)],
                },
            );
            self.to_get.entry(from).or_default().push(input);
        }
        if missing.is_empty() {
            self.start(key, priority, &job, &deps);
        } else {
            let missing = missing.len();
            self.pending.insert(
                key,
                Pending {
                    priority,
                    missing,
                    deps,
                },
            );
        }
    }

    /// Fetches a copy of `key` from worker `from` to hold as if made here.
    fn replicate(&mut self, key: DataKey, from: WorkerId) {
        if self.data.get(&key).is_some() {
            // Here already (perhaps fetched for a task): kept from now on.
            match self.data.adopt(key) {
                Ok(()) => self.sched.outbox.push(&ToScheduler::Replicated { key }),
                Err(e) => self.log(&e),
            }
            return;
        }
        match self.wanted.get_mut(&key) {
            Some(w) => w.keep = true,
            None => {
                self.wanted.insert(
                    key,
                    Wanted {
                        from,
                        keep: true,
                        waiters: Vec::new(),
                    },
                );
                self.to_get.entry(from).or_default().push(key);
            }
        }
    }

    /// Drops this task's pins on its inputs (those present); fetched
    /// copies nobody uses any more go.
    fn unpin(&mut self, job: &SharedJob, key: DataKey, deps: &[TaskId]) {
        for &dep in deps {
            let input = Self::data_key(key.job, job, dep);
            if let Some(s) = self.data.get_mut(&input) {
                s.users = s.users.saturating_sub(1);
                if s.users == 0 && !s.own {
                    self.data.remove(input);
                }
            }
        }
    }

    /// Queues a task whose inputs (`deps`, sorted and distinct) are all
    /// here and pinned.
    fn start(&mut self, key: DataKey, priority: u64, job: &SharedJob, deps: &[TaskId]) {
        let mut inputs: Vec<(TaskId, Value)> = Vec::with_capacity(deps.len());
        for &dep in deps {
            let input = Self::data_key(key.job, job, dep);
            match self.data.value(input) {
                Some(Ok(value)) => inputs.push((dep, value)),
                Some(Err(e)) => {
                    // Lost to the disk: the scheduler recomputes it.
                    self.log(&e);
                    self.unpin(job, key, deps);
                    self.data.remove(input);
                    self.sched.outbox.push(&ToScheduler::Missing { key, input });
                    return;
                }
                None => {
                    self.unpin(job, key, deps);
                    self.sched.outbox.push(&ToScheduler::Missing { key, input });
                    return;
                }
            }
        }
        self.exec.push(Item {
            priority,
            key,
            job: job.clone(),
            inputs,
        });
        // Inputs read back from disk count again.
        self.spill_if_over();
    }

    fn collect_outcomes(&mut self) {
        let mut any = false;
        while let Ok(outcome) = self.outcomes.try_recv() {
            any = true;
            let Some(job) = self.jobs.get(&outcome.key.job).cloned() else {
                continue; // its job was dropped while it ran
            };
            self.unpin(&job, outcome.key, &outcome.inputs);
            let run = RunTime {
                nanos: outcome.nanos,
                ago_us: outcome.ended.elapsed().as_micros().min(u32::MAX.into()) as u32,
                thread: outcome.thread,
            };
            match outcome.result {
                Ok((value, bytes)) => {
                    let size = bytes.len() as u64;
                    self.sched.outbox.push(&ToScheduler::Done {
                        key: outcome.key,
                        bytes: size,
                        run,
                    });
                    // Needed only to read it back from disk.
                    let codec = if self.data.spills() {
                        job.codec(TaskId(outcome.key.task))
                    } else {
                        None
                    };
                    self.data
                        .insert(outcome.key, value, bytes, size, codec, true);
                }
                Err(e) => self.sched.outbox.push(&ToScheduler::Failed {
                    key: outcome.key,
                    message: e.message().to_owned(),
                    origin: e.origin().map(|(k, o)| (k.to_owned(), o.to_owned())),
                    run: Some(run),
                }),
            }
        }
        if any {
            self.spill_if_over();
        }
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((sock, _)) => {
                    let token = Token(self.next_token);
                    self.next_token += 1;
                    if let Ok(conn) =
                        Conn::register(sock, self.poll.registry(), token, self.options.max_frame)
                    {
                        self.peers
                            .insert(token, (conn, PeerKind::Incoming { greeted: false }));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return,
            }
        }
    }

    /// Opens (or reuses) the connection to worker `w` and asks for `keys`.
    fn send_gets(&mut self) {
        for (w, keys) in std::mem::take(&mut self.to_get) {
            let token = match self.outgoing.get(&w) {
                Some(t) => *t,
                None => match self.open_peer(w) {
                    Some(t) => t,
                    None => {
                        self.lost_from(w, &keys);
                        continue;
                    }
                },
            };
            if let Some((conn, _)) = self.peers.get_mut(&token) {
                conn.outbox.push(&PeerMsg::Get { keys });
            }
        }
    }

    fn open_peer(&mut self, w: WorkerId) -> Option<Token> {
        let addr: SocketAddr = self.peer_addrs.get(&w)?.parse().ok()?;
        let token = Token(self.next_token);
        self.next_token += 1;
        let conn = Conn::connect_peer(
            addr,
            self.poll.registry(),
            token,
            self.options.max_frame,
            self.options.token.as_deref(),
        )
        .ok()?;
        self.peers
            .insert(token, (conn, PeerKind::Outgoing(w, false)));
        self.outgoing.insert(w, token);
        Some(token)
    }

    /// Inputs that cannot come from `w`: their waiting tasks go back to
    /// the scheduler, which knows what was lost.
    fn lost_from(&mut self, w: WorkerId, keys: &[DataKey]) {
        for input in keys {
            let Some(wanted) = self.wanted.remove(input) else {
                continue;
            };
            debug_assert_eq!(wanted.from, w);
            for (task, _) in wanted.waiters {
                if self.pending.remove(&task).is_some() {
                    self.sched.outbox.push(&ToScheduler::Missing {
                        key: task,
                        input: *input,
                    });
                }
            }
        }
    }

    fn close_peer(&mut self, token: Token) {
        let Some((mut conn, kind)) = self.peers.remove(&token) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut conn.sock);
        if let PeerKind::Outgoing(w, _) = kind {
            self.outgoing.remove(&w);
            let keys: Vec<DataKey> = self
                .wanted
                .iter()
                .filter(|(_, want)| want.from == w)
                .map(|(k, _)| *k)
                .collect();
            self.lost_from(w, &keys);
        }
    }

    fn read_peer(&mut self, token: Token) {
        let Some((conn, _)) = self.peers.get_mut(&token) else {
            return;
        };
        let closed = conn.read().unwrap_or(true);
        let mut inbox = conn.inbox.take();
        let result = inbox.drain(|body| self.peer_frame(token, body));
        if let Some((conn, _)) = self.peers.get_mut(&token) {
            conn.inbox = inbox;
        }
        if let Err(why) = result {
            let peer = self
                .peers
                .get(&token)
                .map(|(c, _)| c.peer.to_string())
                .unwrap_or_default();
            self.log(&format!("closing peer connection {peer}: {why}"));
            self.close_peer(token);
        } else if closed {
            self.close_peer(token);
        }
    }

    fn peer_frame(&mut self, token: Token, body: &[u8]) -> Result<(), String> {
        let Some((conn, kind)) = self.peers.get_mut(&token) else {
            return Ok(());
        };
        match kind {
            PeerKind::Incoming { greeted: false } => {
                let hello: Hello =
                    postcard::from_bytes(body).map_err(|e| format!("bad hello: {e}"))?;
                let refusal = hello.refusal(self.options.token.as_deref()).or_else(|| {
                    (hello.role != Role::Peer).then(|| "only peers connect to a worker".to_owned())
                });
                if let Some(reason) = refusal {
                    conn.outbox.push(&Welcome::Refused {
                        reason: reason.clone(),
                    });
                    conn.flush_all(Duration::from_millis(100));
                    return Err(format!("refused: {reason}"));
                }
                conn.outbox.push(&Welcome::Accepted { id: 0 });
                conn.outbox.seal();
                *kind = PeerKind::Incoming { greeted: true };
                Ok(())
            }
            PeerKind::Outgoing(w, welcomed @ false) => {
                match postcard::from_bytes::<Welcome>(body)
                    .map_err(|e| format!("bad welcome: {e}"))?
                {
                    Welcome::Accepted { .. } => {
                        *welcomed = true;
                        Ok(())
                    }
                    Welcome::Refused { reason } => Err(format!("worker {w} refused us: {reason}")),
                }
            }
            PeerKind::Incoming { greeted: true } => {
                for msg in messages::<PeerMsg>(body) {
                    match msg.map_err(|e| e.to_string())? {
                        PeerMsg::Get { keys } => {
                            for key in keys {
                                match self.data.own_bytes(key) {
                                    Some(bytes) => {
                                        conn.outbox.push(&PeerMsg::Data { key, bytes: &bytes })
                                    }
                                    None => conn.outbox.push(&PeerMsg::Missing { key }),
                                }
                            }
                        }
                        _ => return Err("a peer sent data unasked".into()),
                    }
                }
                Ok(())
            }
            PeerKind::Outgoing(w, true) => {
                let w = *w;
                for msg in messages::<PeerMsg>(body) {
                    match msg.map_err(|e| e.to_string())? {
                        PeerMsg::Data { key, bytes } => self.arrived(key, bytes),
                        PeerMsg::Missing { key } => self.lost_from(w, &[key]),
                        PeerMsg::Get { .. } => {
                            return Err("a worker we fetch from asked for data".into())
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// An input arrived from a peer: decode it once and start the tasks
    /// that were waiting only for it.
    fn arrived(&mut self, key: DataKey, bytes: &[u8]) {
        let Some(wanted) = self.wanted.remove(&key) else {
            return;
        };
        let codec = wanted
            .waiters
            .iter()
            .find_map(|(task, dep)| self.jobs.get(&task.job).and_then(|j| j.codec(*dep)))
            .or_else(|| {
                let job = self.jobs.get(&key.job)?;
                job.codec(TaskId(key.task))
            });
        let value = match codec.map(|c| c.decode(bytes)) {
            Some(Ok(v)) => v,
            other => {
                let message = match other {
                    Some(Err(e)) => format!("input {}/{}: {e}", key.job, key.task),
                    _ => "an input's type is unknown here".into(),
                };
                for (task, _) in wanted.waiters {
                    self.pending.remove(&task);
                    self.sched.outbox.push(&ToScheduler::Failed {
                        key: task,
                        message: message.clone(),
                        origin: None,
                        run: None,
                    });
                }
                return;
            }
        };
        let size = bytes.len() as u64;
        if wanted.keep {
            self.data
                .insert(key, value, bytes.to_vec(), size, codec, true);
            self.sched.outbox.push(&ToScheduler::Replicated { key });
        } else {
            self.data.insert(key, value, Vec::new(), size, codec, false);
        }
        for (task, _) in wanted.waiters {
            if self.pending.contains_key(&task) {
                if let Some(s) = self.data.get_mut(&key) {
                    s.users += 1;
                }
            }
            let ready = self.pending.get_mut(&task).is_some_and(|p| {
                p.missing -= 1;
                p.missing == 0
            });
            if let Some(p) = ready.then(|| self.pending.remove(&task)).flatten() {
                if let Some(job) = self.jobs.get(&task.job).cloned() {
                    self.start(task, p.priority, &job, &p.deps);
                }
            }
        }
        // A copy no task ended up using (its tasks were dropped) goes now.
        if self.data.get(&key).is_some_and(|s| s.users == 0 && !s.own) {
            self.data.remove(key);
        }
        self.spill_if_over();
    }
}
