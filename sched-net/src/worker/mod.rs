//! A worker: one mio loop for the network (the scheduler, peers fetching
//! from it, peers it fetches from) and executor threads for the tasks.
//!
//! It keeps its results in memory, serves them to whoever asks, and fetches
//! the inputs the scheduler says live elsewhere straight from the worker
//! holding them. Copies fetched for a task are dropped once the tasks on
//! this worker that wanted them have run. A heartbeat every half second
//! reports memory and load; above its memory limit the worker tells the
//! scheduler to send it nothing new, and before that it spills results to
//! disk.
//!
//! No turn of the loop does unbounded work, so that heartbeats go out on
//! time even beside a merge of millions: a wide task's inputs are walked
//! a bounded number per turn (`walk.rs`), peers' gets are answered a
//! bounded number per turn (`peers.rs`), what is read from the scheduler
//! and from each peer is bounded per turn, and the maps of results grow a
//! slice at a time (`spread.rs`).
//!
//! A user's own binary becomes a worker with its own ops by calling
//! [`run`] with its registry:
//!
//! ```no_run
//! let mut ops = rask_core::Registry::new();
//! ops.op("inc", |x: &i64| x + 1);
//! let options = rask_sched_net::worker::WorkerOptions::default();
//! rask_sched_net::worker::run(ops, "127.0.0.1:8786", options).unwrap();
//! ```

mod exec;
mod loading;
mod memory;
mod options;
mod peers;
mod spread;
mod store;
mod tasks;
mod walk;

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{SocketAddr, TcpStream as StdStream, ToSocketAddrs};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use rask_core::{Registry, TaskId};

use crate::conn::{recv_frame, send_frame, Conn};
use crate::portable::{decode_spec, Loader, SharedJob};
use crate::protocol::{
    messages, DataKey, FromWorker, Hello, JobId, Role, ToWorker, Welcome, WorkerId, WorkerInfo,
};
use exec::{Executor, Outcome};
use loading::Loading;
use memory::{cpu_time, thread_cpu_time};
use peers::PeerKind;
use spread::SpreadMap;
use store::{SpillDir, Store};
use tasks::{FastMap, Pending, Wanted};
use walk::Walks;

pub use options::{parse_resources, WorkerOptions};

const SCHEDULER: Token = Token(0);
const LISTENER: Token = Token(1);
const WAKER: Token = Token(2);
const FIRST_PEER: usize = 3;
/// The heartbeat interval until the scheduler tells one, and the
/// shortest it may tell.
const HEARTBEAT: Duration = Duration::from_millis(500);
/// Bytes read from the scheduler per turn.
const SCHEDULER_TURN_BYTES: usize = 16 << 20;
/// A loop turn longer than this is logged: the heartbeat waited for it.
const SLOW_TURN: Duration = Duration::from_millis(100);

/// Joins the scheduler at `addr` with the ops of `registry` and works until
/// the scheduler goes away or tells it to stop.
pub fn run(registry: Registry, addr: &str, options: WorkerOptions) -> io::Result<()> {
    let loader = Loader::new(registry, options.code_key);
    Worker::connect(loader, addr, options)?.run()
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
    pending: FastMap<DataKey, Pending>,
    wanted: SpreadMap<DataKey, Wanted>,
    /// Gets to send this turn, per peer.
    to_get: HashMap<WorkerId, Vec<DataKey>>,
    /// Fetch lists of tasks whose `Run` has not come yet: a task with
    /// millions of inputs is sent in parts.
    fetch_parts: HashMap<DataKey, Vec<(DataKey, WorkerId)>>,
    /// Wide tasks' inputs being walked, a bounded number per turn.
    walks: Walks,
    /// Peers' gets not yet answered, oldest first: (connection, keys,
    /// how many answered), a bounded number per turn.
    serving: VecDeque<(Token, Vec<DataKey>, usize)>,
    exec: Executor,
    outcomes: Receiver<Outcome>,
    /// Big job specs being loaded off the loop.
    loading: Loading,
    /// CPU time used by this process, and when, at the last heartbeat.
    last_cpu: (Instant, Duration),
    /// When the last heartbeat went out.
    last_beat: Instant,
    /// How often heartbeats go out: the scheduler says, in `Peers`.
    beat: Duration,
}

impl Worker {
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
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("the scheduler at {addr} refused this worker: {reason}"),
                ));
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
        let loading = Loading::start(loader.clone(), waker.clone())?;
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
            pending: FastMap::default(),
            wanted: SpreadMap::default(),
            to_get: HashMap::new(),
            fetch_parts: HashMap::new(),
            walks: Walks::default(),
            serving: VecDeque::new(),
            exec,
            outcomes,
            loading,
            last_cpu: (Instant::now(), cpu_time()),
            last_beat: Instant::now() - HEARTBEAT,
            beat: HEARTBEAT,
        })
    }

    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        let mut more = false;
        loop {
            // Outcomes left from the last turn are taken after a look at
            // the sockets, not after a nap.
            let nap = if more { Duration::ZERO } else { HEARTBEAT };
            match self.poll.poll(&mut events, Some(nap)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let turn = (Instant::now(), thread_cpu_time());
            // Time spent on the scheduler's frames, and on peers'.
            let (mut scheduler, mut peers) = (Duration::ZERO, Duration::ZERO);
            for event in events.iter() {
                let started = Instant::now();
                match event.token() {
                    SCHEDULER => {
                        if !self.read_scheduler()? {
                            return Ok(());
                        }
                        scheduler += started.elapsed();
                    }
                    LISTENER => self.accept(),
                    WAKER => {}
                    token => {
                        self.read_peer(token);
                        peers += started.elapsed();
                    }
                }
            }
            let started = Instant::now();
            more = self.collect_outcomes();
            self.collect_loaded();
            let outcomes = started.elapsed();
            let started = Instant::now();
            more |= self.walk();
            more |= self.serve();
            let walks = started.elapsed();
            self.beat_if_due();
            self.send_gets();
            self.flush()?;
            let took = turn.0.elapsed();
            if took > SLOW_TURN {
                let cpu = thread_cpu_time().saturating_sub(turn.1);
                log::warn!(
                    "a turn of the worker's loop took {took:?} ({cpu:?} of CPU): the scheduler's messages \
                     {scheduler:?}, peers {peers:?}, outcomes {outcomes:?}, walks and \
                     answers {walks:?}"
                );
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Err(e) = self.sched.flush() {
            log::error!("lost the scheduler: {e}");
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

    /// Handles the scheduler's frames; `Ok(false)`: time to stop.
    fn read_scheduler(&mut self) -> io::Result<bool> {
        // A ten-million-task spec is hundreds of megabytes: it comes in
        // over several turns.
        let mut budget = SCHEDULER_TURN_BYTES;
        let closed = self
            .sched
            .inbox
            .fill_up_to(&mut self.sched.sock, &mut budget)
            .unwrap_or(true);
        if budget == 0 {
            // Bytes may be left in the socket, and no new edge may come for
            // them: registering again reports it readable on the next poll.
            self.poll.registry().reregister(
                &mut self.sched.sock,
                SCHEDULER,
                Interest::READABLE | Interest::WRITABLE,
            )?;
        }
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
            log::error!("bad frame from the scheduler: {e}");
            keep_going = false;
        }
        if closed && keep_going {
            log::info!("the scheduler closed the connection; exiting");
            keep_going = false;
        }
        Ok(keep_going)
    }

    fn scheduler_message(&mut self, msg: ToWorker<'_>) {
        match msg {
            ToWorker::Job { job, spec } => {
                if Loading::worth_it(spec.len()) && self.loading.load(job, spec) {
                    return;
                }
                let loaded = decode_spec(spec).and_then(|s| self.loader.load(&s));
                match loaded {
                    Ok(j) => {
                        self.jobs.insert(job, Arc::new(j));
                    }
                    Err(message) => log::error!("cannot load job {job:#x}: {message}"),
                }
            }
            ToWorker::Fetch { key, fetch } => {
                self.fetch_parts.entry(key).or_default().extend(fetch);
            }
            ToWorker::Run {
                key,
                priority,
                mut fetch,
            } => {
                if let Some(mut parts) = self.fetch_parts.remove(&key) {
                    parts.append(&mut fetch);
                    fetch = parts;
                }
                match self.loading.held.get_mut(&key.job) {
                    Some(held) => held.push((key, priority, fetch)),
                    None => self.run_task(key, priority, fetch),
                }
            }
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
                self.loading.drop_job(job);
                self.jobs.remove(&job);
                self.exec.drop_job(job);
                self.data.remove_job(job);
                self.pending.retain(|k, _| k.job != job);
                self.walks.drop_job(job);
                self.fetch_parts.retain(|k, _| k.job != job);
                for w in self.wanted.values_mut() {
                    w.waiters.retain(|(k, _)| k.job != job);
                }
            }
            ToWorker::Replicate { key, from } => self.replicate(key, from),
            ToWorker::Steal { max } => {
                for item in self.exec.steal(max as usize) {
                    let deps: Vec<TaskId> = item.inputs.iter().map(|(t, _)| *t).collect();
                    self.unpin(&item.job, item.key, deps);
                    self.sched
                        .outbox
                        .push(&FromWorker::Returned { key: item.key });
                }
            }
            ToWorker::Peers {
                add,
                remove,
                heartbeat_ms,
            } => {
                self.beat = Duration::from_millis(heartbeat_ms.into()).max(HEARTBEAT);
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
}

impl Worker {
    /// Puts in the jobs loaded off the loop, then runs the tasks that
    /// waited for them, in the order they came.
    fn collect_loaded(&mut self) {
        while let Some((job, loaded, runs)) = self.loading.next() {
            match loaded {
                Ok(j) => {
                    self.jobs.insert(job, j);
                }
                // Its tasks then fail, each saying the job could not load.
                Err(message) => log::error!("cannot load job {job:#x}: {message}"),
            }
            for (key, priority, fetch) in runs {
                self.run_task(key, priority, fetch);
            }
        }
    }
}
