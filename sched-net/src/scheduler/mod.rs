//! The scheduler: one mio event loop that accepts workers and clients,
//! reads their frames, feeds the scheduler's state (`state::Cluster`,
//! specified in `state/README.md`) and writes what
//! it answers. A connection that sends a bad hello, a malformed frame or an
//! oversized length is closed with a log line; nothing else is touched.
//!
//! The same loop serves the dashboard over HTTP: its
//! listener and connections are more tokens of the loop, answered from the
//! cluster's state in place between two turns of scheduling.
//!
//! No handler may hold the loop long: a big job is decoded and planned on
//! the admission thread. Liveness is judged by what arrived,
//! not by when the loop got round to reading it: any bytes from a worker
//! count as a sign of life, and a worker that looks silent has its socket
//! read once more before it is removed, so a loop turn that took long
//! never counts against the workers.

mod admission;
mod held;
pub(crate) mod state;
mod waiting;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Poll, Token, Waker};

use crate::conn::Conn;
use crate::dashboard::{self, Dashboard};
use crate::protocol::{
    messages, FrameError, FromClient, FromWorker, Hello, JobId, Role, ToClient, ToWorker, Welcome,
    WorkerId, DEFAULT_MAX_FRAME,
};
use admission::Admission;
use held::Holdback;
use state::{ClientId, Cluster, Failure, Sink};
use waiting::WaitingForWorkers;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const DASHBOARD: Token = Token(2);
const FIRST_CONN: usize = 3;
/// The longest the loop sleeps: how often it checks heartbeats.
const TICK: Duration = Duration::from_millis(250);
/// A loop turn longer than this is logged: something held the loop.
const SLOW_TURN: Duration = Duration::from_millis(100);

/// How a scheduler runs.
#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    /// Shared secret every worker and client must present.
    pub token: Option<String>,
    /// Largest frame accepted.
    pub max_frame: usize,
    /// A worker silent this long is considered dead while workers beat
    /// every 500 ms (up to 10 workers); a bigger cluster beats less often
    /// and waits as many heartbeats (20 by default: 51 s each at 10,000
    /// workers).
    pub heartbeat_timeout: Duration,
    /// Log workers joining and leaving, and the dashboard's address
    /// (problems, and a dashboard port found taken, are always logged).
    pub log_membership: bool,
    /// The dashboard's HTTP port, on the scheduler's address: `None` turns
    /// the dashboard off, `Some(0)` takes any free port, and a taken port
    /// is replaced by the next free one, with a log line. Default 8787.
    pub dashboard_port: Option<u16>,
    /// Task runs kept for the dashboard's task stream (32 bytes each).
    pub task_stream: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            token: None,
            max_frame: DEFAULT_MAX_FRAME,
            heartbeat_timeout: Duration::from_secs(10),
            log_membership: true,
            dashboard_port: Some(dashboard::DEFAULT_PORT),
            task_stream: dashboard::DEFAULT_TASK_STREAM,
        }
    }
}

/// Who a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    /// No hello yet.
    New,
    Worker(WorkerId),
    Client(ClientId),
}

struct Server {
    poll: Poll,
    listener: TcpListener,
    config: SchedulerConfig,
    conns: HashMap<Token, (Conn, Peer)>,
    workers: HashMap<WorkerId, Token>,
    clients: HashMap<ClientId, Token>,
    next_token: usize,
    next_client: ClientId,
    cluster: Cluster,
    dashboard: Option<Dashboard>,
    admission: Admission,
    /// Per client with a job on the admission thread: what it sent since.
    held: HashMap<ClientId, Holdback>,
    waiting: WaitingForWorkers,
}

/// The [`Sink`] over the server's connections.
struct Outboxes<'a> {
    conns: &'a mut HashMap<Token, (Conn, Peer)>,
    workers: &'a HashMap<WorkerId, Token>,
    clients: &'a HashMap<ClientId, Token>,
}

impl Sink for Outboxes<'_> {
    fn to_worker(&mut self, w: WorkerId, msg: &ToWorker<'_>) {
        if let Some((conn, _)) = self.workers.get(&w).and_then(|t| self.conns.get_mut(t)) {
            conn.outbox.push(msg);
        }
    }
    fn to_client(&mut self, c: ClientId, msg: &ToClient) {
        if let Some((conn, _)) = self.clients.get(&c).and_then(|t| self.conns.get_mut(t)) {
            conn.outbox.push(msg);
        }
    }
    fn job_to_worker(&mut self, w: WorkerId, job: JobId, spec: &Arc<[u8]>) {
        if let Some((conn, _)) = self.workers.get(&w).and_then(|t| self.conns.get_mut(t)) {
            conn.outbox
                .push_shared(spec, |spec| ToWorker::Job { job, spec });
        }
    }
}

/// A scheduler running on a thread of this process; stopped (workers
/// told to exit first) when dropped.
#[derive(Debug)]
pub(crate) struct SchedulerHandle {
    addr: SocketAddr,
    dashboard: Option<SocketAddr>,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
}

impl SchedulerHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where its dashboard serves, if it has one.
    pub fn dashboard_addr(&self) -> Option<SocketAddr> {
        self.dashboard
    }
}

impl Drop for SchedulerHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts a scheduler on its own thread, listening on `addr`.
pub(crate) fn spawn(addr: SocketAddr, config: SchedulerConfig) -> io::Result<SchedulerHandle> {
    let listener = std::net::TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    let http = bind_dashboard(addr.ip(), &config);
    let dashboard = http.as_ref().and_then(|l| l.local_addr().ok());
    let stop = Arc::new(AtomicBool::new(false));
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let waker_in = waker.clone();
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("rask-scheduler".into())
        .spawn(move || {
            if let Err(e) = serve_on(poll, waker_in, listener, http, config, &flag) {
                log::error!("the scheduler stopped: {e}");
            }
        })?;
    Ok(SchedulerHandle {
        addr,
        dashboard,
        stop,
        waker,
        thread: Some(thread),
    })
}

/// Runs a scheduler on `listener` (and its dashboard, if configured, on
/// the same address) until the process ends.
pub fn serve(listener: std::net::TcpListener, config: SchedulerConfig) -> io::Result<()> {
    let http = bind_dashboard(listener.local_addr()?.ip(), &config);
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    serve_on(poll, waker, listener, http, config, &AtomicBool::new(false))
}

/// The dashboard's listener, if the config asks for one. A dashboard that
/// cannot listen at all is logged and left out: the scheduler runs on.
fn bind_dashboard(ip: IpAddr, config: &SchedulerConfig) -> Option<std::net::TcpListener> {
    let port = config.dashboard_port?;
    match dashboard::bind(ip, port) {
        Ok(l) => Some(l),
        Err(e) => {
            log::warn!("no dashboard: cannot listen on {ip}:{port}: {e}");
            None
        }
    }
}

fn serve_on(
    poll: Poll,
    waker: Arc<Waker>,
    listener: std::net::TcpListener,
    http: Option<std::net::TcpListener>,
    config: SchedulerConfig,
    stop: &AtomicBool,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut listener = TcpListener::from_std(listener);
    poll.registry()
        .register(&mut listener, LISTENER, mio::Interest::READABLE)?;
    let dashboard = match http {
        Some(l) => match Dashboard::new(l, poll.registry(), DASHBOARD) {
            Ok(d) => Some(d),
            Err(e) => {
                log::warn!("no dashboard: {e}");
                None
            }
        },
        None => None,
    };
    if let (Some(d), true) = (&dashboard, config.log_membership) {
        log::info!("dashboard at http://{}/", d.addr());
    }
    let stream = dashboard.as_ref().map(|_| config.task_stream);
    let mut cluster = Cluster::new(config.heartbeat_timeout, stream, Instant::now());
    cluster.hand_back_retired();
    let mut server = Server {
        poll,
        listener,
        cluster,
        dashboard,
        config,
        conns: HashMap::new(),
        workers: HashMap::new(),
        clients: HashMap::new(),
        next_token: FIRST_CONN,
        next_client: 1,
        admission: Admission::start(waker)?,
        held: HashMap::new(),
        waiting: WaitingForWorkers::default(),
    };
    server.run(stop)
}

impl Server {
    fn run(&mut self, stop: &AtomicBool) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut last_check = Instant::now();
        loop {
            // A queue get waiting for an item ends at its deadline.
            let tick = self.cluster.next_deadline().map_or(TICK, |d| {
                d.saturating_duration_since(Instant::now())
                    .min(TICK)
                    .max(Duration::from_millis(1))
            });
            // Work left from the last turn is done after a look at the
            // sockets, not after a nap.
            let tick = if self.cluster.held_over() {
                Duration::ZERO
            } else {
                tick
            };
            match self.poll.poll(&mut events, Some(tick)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if stop.load(Ordering::Acquire) {
                self.shutdown();
                return Ok(());
            }
            let turn = Instant::now();
            // The longest event handled, and its token: what a slow turn
            // names.
            let mut longest = (Duration::ZERO, 0);
            for event in events.iter() {
                let started = Instant::now();
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => {}
                    DASHBOARD => {
                        if let Some(d) = &mut self.dashboard {
                            d.accept(self.poll.registry(), &mut self.next_token);
                        }
                    }
                    token if self.dashboard.as_ref().is_some_and(|d| d.owns(token)) => {
                        if let Some(d) = &mut self.dashboard {
                            d.ready(token, self.poll.registry(), &self.cluster);
                        }
                    }
                    token => {
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.readable(token);
                        }
                    }
                }
                if started.elapsed() > longest.0 {
                    longest = (started.elapsed(), event.token().0);
                }
            }
            let read = turn.elapsed();
            let admitting = Instant::now();
            while let Some(done) = self.admission.next() {
                self.admitted(done);
            }
            let admitted = admitting.elapsed();
            let mut sink = Outboxes {
                conns: &mut self.conns,
                workers: &self.workers,
                clients: &self.clients,
            };
            let scheduling = Instant::now();
            self.cluster.schedule(&mut sink);
            let scheduled = scheduling.elapsed();
            self.cluster.expire_gets(Instant::now(), &mut sink);
            self.waiting
                .check(&self.cluster, !self.workers.is_empty(), &mut sink);
            if last_check.elapsed() > Duration::from_millis(500) {
                last_check = Instant::now();
                if let Some(d) = &mut self.dashboard {
                    d.sweep(self.poll.registry());
                }
                self.remove_silent_workers();
            }
            self.admission.free(self.cluster.take_retired());
            let flushing = Instant::now();
            self.flush_all();
            let flushed = flushing.elapsed();
            let took = turn.elapsed();
            if took > SLOW_TURN {
                let (event, token) = longest;
                log::warn!(
                    "a turn of the scheduler's loop took {took:?}: events {read:?} \
                     (the longest {event:?}, token {token}), jobs admitted {admitted:?}, \
                     schedule {scheduled:?}, writes {flushed:?}"
                );
            }
        }
    }

    /// Removes the workers silent past the heartbeat timeout. What a worker
    /// sent while the loop was busy waits in its socket: that is read
    /// first, and counts.
    fn remove_silent_workers(&mut self) {
        let silent = self.cluster.silent_workers(Instant::now());
        if silent.is_empty() {
            return;
        }
        for w in &silent {
            if let Some(token) = self.workers.get(w).copied() {
                self.readable(token);
            }
        }
        for w in self.cluster.silent_workers(Instant::now()) {
            log::warn!("worker {w} sent nothing for too long; removing it");
            if let Some(token) = self.workers.get(&w).copied() {
                self.close(token);
            }
        }
    }

    fn flush_all(&mut self) {
        if let Some(d) = &mut self.dashboard {
            d.flush(self.poll.registry());
        }
        let mut broken = Vec::new();
        for (token, (conn, _)) in &mut self.conns {
            if conn.flush().is_err() {
                broken.push(*token);
            }
        }
        for token in broken {
            self.close(token);
        }
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((sock, _)) => {
                    let token = Token(self.next_token);
                    self.next_token += 1;
                    match Conn::register(sock, self.poll.registry(), token, self.config.max_frame) {
                        Ok(conn) => {
                            self.conns.insert(token, (conn, Peer::New));
                        }
                        Err(e) => log::warn!("cannot register a connection: {e}"),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    log::warn!("accept failed: {e}");
                    return;
                }
            }
        }
    }

    fn readable(&mut self, token: Token) {
        let Some((conn, peer)) = self.conns.get_mut(&token) else {
            return;
        };
        let before = conn.inbox.buffered();
        let closed = conn.read().unwrap_or(true);
        if let (Peer::Worker(w), true) = (*peer, conn.inbox.buffered() > before) {
            // Whatever arrived, even part of a frame, shows it is alive;
            // a read that found nothing does not.
            self.cluster.seen(w, Instant::now());
        }
        // Frames borrow from the inbox while the cluster writes to other
        // connections.
        let mut inbox = conn.inbox.take();
        let result = inbox.drain(|body| self.frame(token, body));
        if let Some((conn, _)) = self.conns.get_mut(&token) {
            conn.inbox = inbox;
        }
        if let Err(why) = result {
            let peer = self
                .conns
                .get(&token)
                .map(|(c, _)| c.peer.to_string())
                .unwrap_or_default();
            log::warn!("closing connection from {peer}: {why}");
            self.close(token);
        } else if closed {
            self.close(token);
        }
    }

    /// Handles one frame; an error closes the connection.
    fn frame(&mut self, token: Token, body: &[u8]) -> Result<(), String> {
        let Some(who) = self.conns.get(&token).map(|(_, p)| *p) else {
            return Ok(());
        };
        match who {
            Peer::New => self.hello(token, body),
            Peer::Worker(w) => {
                // One clock reading per frame places every task it reports
                // on the dashboard's task stream.
                let received = Instant::now();
                for msg in messages::<FromWorker>(body) {
                    let msg = msg.map_err(|e| format!("{e} (not a worker's message)"))?;
                    self.worker_message(w, msg, received)?;
                }
                Ok(())
            }
            Peer::Client(c) => {
                if let Some(h) = self.held.get_mut(&c).filter(|h| h.holds()) {
                    h.frames.push_back(body.to_vec());
                    return Ok(());
                }
                if let Some(rest) = self.client_frame(c, body)? {
                    self.held.entry(c).or_default().frames.push_back(rest);
                }
                Ok(())
            }
        }
    }

    fn hello(&mut self, token: Token, body: &[u8]) -> Result<(), String> {
        let hello: Hello = postcard::from_bytes(body)
            .map_err(|e| FrameError::Malformed(format!("bad hello: {e}")).to_string())?;
        if let Some(reason) = hello.refusal(self.config.token.as_deref()) {
            if let Some((conn, _)) = self.conns.get_mut(&token) {
                conn.outbox.push(&Welcome::Refused {
                    reason: reason.clone(),
                });
                conn.flush_all(Duration::from_millis(100));
            }
            return Err(format!("refused: {reason}"));
        }
        match hello.role {
            Role::Client => {
                let id = self.next_client;
                self.next_client += 1;
                self.clients.insert(id, token);
                let workers = self.cluster.worker_list();
                if let Some((conn, peer)) = self.conns.get_mut(&token) {
                    *peer = Peer::Client(id);
                    conn.outbox.push(&Welcome::Accepted { id });
                    conn.outbox.seal();
                    conn.outbox.push(&ToClient::Cluster {
                        dashboard: self.dashboard.as_ref().map(|d| d.addr().to_string()),
                    });
                    conn.outbox.push(&ToClient::Workers {
                        add: workers,
                        remove: vec![],
                    });
                }
                Ok(())
            }
            Role::Worker(info) => {
                let line = format!(
                    "worker joined: {} (pid {}, {} threads)",
                    info.listen, info.pid, info.nthreads
                );
                let clients: Vec<ClientId> = self.clients.keys().copied().collect();
                let id = {
                    // Welcome first, so the worker reads it before any job.
                    if let Some((conn, _)) = self.conns.get_mut(&token) {
                        conn.outbox.push(&Welcome::Accepted { id: 0 });
                        conn.outbox.seal();
                    }
                    let mut sink = Outboxes {
                        conns: &mut self.conns,
                        workers: &self.workers,
                        clients: &self.clients,
                    };
                    self.cluster
                        .add_worker(info, Instant::now(), &mut sink, &clients)
                        .ok_or("every worker id has been given out")?
                };
                self.workers.insert(id, token);
                if let Some((conn, peer)) = self.conns.get_mut(&token) {
                    *peer = Peer::Worker(id);
                    conn.outbox.push(&ToWorker::Peers {
                        add: self.cluster.worker_list(),
                        remove: vec![],
                        heartbeat_ms: self.cluster.heartbeat_ms(),
                    });
                }
                if self.config.log_membership {
                    log::info!("{line}");
                }
                Ok(())
            }
            Role::Peer => Err("a peer connection was made to the scheduler".into()),
        }
    }

    fn worker_message(
        &mut self,
        w: WorkerId,
        msg: FromWorker,
        received: Instant,
    ) -> Result<(), String> {
        let mut sink = Outboxes {
            conns: &mut self.conns,
            workers: &self.workers,
            clients: &self.clients,
        };
        match msg {
            FromWorker::Done { key, bytes, run } => self
                .cluster
                .on_done(w, key, bytes, run, received, &mut sink),
            FromWorker::Failed {
                key,
                message,
                origin,
                run,
            } => {
                let failure = Failure {
                    key,
                    message,
                    origin,
                    run,
                };
                self.cluster.on_failed(w, failure, received, &mut sink)
            }
            FromWorker::Missing { key, input } => self.cluster.on_missing(w, key, input, &mut sink),
            FromWorker::Returned { key } => self.cluster.on_returned(w, key),
            FromWorker::Replicated { key } => self.cluster.on_replicated(w, key, &mut sink),
            FromWorker::Status {
                memory,
                executing,
                queued,
                paused,
                cpu_permille,
                spilled,
            } => self.cluster.on_status(
                w,
                (memory, spilled),
                (executing, queued, cpu_permille),
                paused,
                received,
            ),
        }
        Ok(())
    }

    /// Handles one message of client `c`; `Ok(true)` if it handed a job
    /// to the admission thread.
    fn client_message(&mut self, c: ClientId, msg: FromClient<'_>) -> Result<bool, String> {
        let mut sink = Outboxes {
            conns: &mut self.conns,
            workers: &self.workers,
            clients: &self.clients,
        };
        match msg {
            FromClient::Submit { job, spec } => {
                if job.client() != c {
                    return Err(format!("job id {job:#x} does not belong to client {c}"));
                }
                if Admission::worth_it(spec.len()) && self.admission.prepare(c, job, spec) {
                    self.held.entry(c).or_default().admitting += 1;
                    return Ok(true);
                }
                self.cluster.submit(c, job, spec, &mut sink);
            }
            FromClient::Release { job } => {
                if job.client() == c {
                    self.cluster.release(job, &mut sink);
                }
            }
            FromClient::ReleaseOutputs { job, tasks } => {
                if job.client() == c {
                    self.cluster.release_outputs(job, &tasks, &mut sink);
                }
            }
            FromClient::Forget { job } => {
                if job.client() == c {
                    self.cluster.forget(job);
                }
            }
            FromClient::Ask { request, op } => {
                let reply = self.cluster.ask(op, &mut sink);
                sink.to_client(c, &ToClient::Reply { request, reply });
            }
            FromClient::Queue { request, name, op } => {
                let now = Instant::now();
                if let Some(reply) = self.cluster.queue(c, request, &name, op, now, &mut sink) {
                    sink.to_client(c, &ToClient::Reply { request, reply });
                }
            }
        }
        Ok(false)
    }

    fn close(&mut self, token: Token) {
        let Some((mut conn, who)) = self.conns.remove(&token) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut conn.sock);
        let clients: Vec<ClientId> = self.clients.keys().copied().collect();
        match who {
            Peer::New => {}
            Peer::Worker(w) => {
                self.workers.remove(&w);
                if self.config.log_membership {
                    log::info!("worker {w} at {} left", conn.peer);
                }
                let mut sink = Outboxes {
                    conns: &mut self.conns,
                    workers: &self.workers,
                    clients: &self.clients,
                };
                self.cluster.remove_worker(w, &mut sink, &clients);
            }
            Peer::Client(c) => {
                self.clients.remove(&c);
                self.held.remove(&c);
                let mut sink = Outboxes {
                    conns: &mut self.conns,
                    workers: &self.workers,
                    clients: &self.clients,
                };
                self.cluster.client_gone(c, &mut sink);
            }
        }
    }

    /// Tells every worker to exit and gives the messages a moment to leave.
    fn shutdown(&mut self) {
        for (conn, who) in self.conns.values_mut() {
            if matches!(who, Peer::Worker(_)) {
                conn.outbox.push(&ToWorker::Shutdown);
            }
        }
        for (conn, _) in self.conns.values_mut() {
            conn.flush_all(Duration::from_millis(200));
        }
    }
}
