//! The client: a blocking API over a background IO thread.
//!
//! The IO thread owns the connection to the scheduler and one connection
//! per worker it fetches results from; callers hand it commands through a
//! channel and a mio waker. A job's status lives in a [`JobHandle`] shared
//! by the futures of its outputs; when the last future of one output goes,
//! that output is released on the cluster, and when the last of the job
//! goes, the whole job is. Pure submissions (the default) are deduplicated
//! here, on their encoded spec: an equal spec whose futures all live gets
//! those futures back.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpStream as StdStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Poll, Token, Waker};
use rask_core::{
    Codec, Error, Events as RunEvents, Inputs, Job, JobBuilder, Op, Scheduler, TaskId, Value,
};

use crate::conn::Conn;
use crate::local::LocalCluster;
use crate::portable::{encode_job_with, CodeKey};
use crate::protocol::{
    messages, Answer, AskOp, DataKey, Hello, JobId, PeerMsg, QueueOp, Queued, QueuedRef, Role,
    ToClient, ToScheduler, Welcome, WireError, WorkerId, DEFAULT_MAX_FRAME,
};
use crate::submit::SubmitOptions;

/// The workers the client knows, and a condition for waiting on joins.
type WorkerList = (Mutex<Vec<(WorkerId, String)>>, Condvar);

/// What the scheduler said about itself (`None` until it has), and a
/// condition for waiting on it.
type ClusterInfo = (Mutex<Option<Option<String>>>, Condvar);

/// Pure submissions by a hash of their spec.
type PureJobs = HashMap<u64, Vec<PureJob>>;

const SCHEDULER: Token = Token(0);
const WAKER: Token = Token(1);

/// How a client connects.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The cluster's shared secret.
    pub token: Option<String>,
    /// Largest frame accepted.
    pub max_frame: usize,
    /// The code key of a local cluster
    /// ([`LocalCluster::code_key`](crate::local::LocalCluster::code_key)):
    /// another client in the same binary then sends stateless functions
    /// to its workers as code references, as the cluster's own client does.
    pub code_key: Option<CodeKey>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            token: None,
            max_frame: DEFAULT_MAX_FRAME,
            code_key: None,
        }
    }
}

fn net_error(message: impl Into<String>) -> Error {
    Error::Backend {
        backend: "distributed",
        message: message.into(),
    }
}

/// Where a job stands, as the IO thread last heard.
#[derive(Debug, Clone)]
enum Status {
    Pending,
    Done,
    Failed(Error),
    Cancelled,
    /// The connection to the scheduler is gone, and with it the result.
    Lost(Error),
}

/// Where a future stands, as Dask's `Future.status` tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FutureStatus {
    /// Not finished yet (see also [`RawFuture::waiting_for_workers`]).
    Pending,
    /// Finished; the result is on the cluster.
    Finished,
    /// Its task, or one it needed, failed.
    Error,
    /// Cancelled before it finished.
    Cancelled,
    /// The client lost its scheduler.
    Lost,
}

/// Runs once a job has settled (finished or failed).
type Callback = Box<dyn FnOnce() + Send>;

/// Takes the answer to a fetch, on the IO thread.
type Reply = Box<dyn FnOnce(Result<Vec<Value>, Error>) + Send>;

/// One submitted job; shared by the futures of its outputs.
pub struct JobHandle {
    client: Arc<Inner>,
    job: JobId,
    status: Mutex<(Status, Vec<Callback>)>,
    /// The scheduler said it has no worker to run the job, and no worker
    /// has joined since.
    waiting: AtomicBool,
}

impl std::fmt::Debug for JobHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobHandle").field("job", &self.job).finish()
    }
}

impl Drop for JobHandle {
    fn drop(&mut self) {
        self.client.send(Cmd::Release(self.job));
    }
}

impl JobHandle {
    /// Records the status (a cancelled job stays cancelled); the first
    /// time the job settles, runs the callbacks (on the IO thread, outside
    /// the lock).
    fn set(&self, status: Status) {
        let callbacks = {
            let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
            if matches!(s.0, Status::Cancelled) {
                return;
            }
            s.0 = status;
            std::mem::take(&mut s.1)
        };
        callbacks.into_iter().for_each(|f| f());
    }

    /// Marks a pending job cancelled (running the callbacks); false if it
    /// had settled already.
    fn cancel(&self) -> bool {
        let callbacks = {
            let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
            if !matches!(s.0, Status::Pending) {
                return false;
            }
            s.0 = Status::Cancelled;
            std::mem::take(&mut s.1)
        };
        callbacks.into_iter().for_each(|f| f());
        true
    }

    fn status(&self) -> Status {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    /// Runs `f` once the job settles, or now if it has.
    fn on_settled(&self, f: Callback) {
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(s.0, Status::Pending) {
            s.1.push(f);
        } else {
            drop(s);
            f();
        }
    }

    /// Asks the IO thread for `tasks`' results; it fetches them as soon as
    /// the job finishes (again, if a holder dies meanwhile), without a
    /// round trip through the caller's thread.
    fn request(&self, futures: &[RawFuture]) -> Receiver<Result<Vec<Value>, Error>> {
        let (tx, rx) = channel();
        self.request_then(
            futures,
            Box::new(move |answer| {
                let _ = tx.send(answer);
            }),
        );
        rx
    }

    /// [`request`](Self::request), answered by calling `reply` on the IO
    /// thread.
    fn request_then(&self, futures: &[RawFuture], reply: Reply) {
        let tasks = futures.iter().map(|f| (f.task.0, f.key, f.codec)).collect();
        self.client.send(Cmd::Fetch(self.job, tasks, reply));
    }
}

fn cancelled(key: DataKey) -> Error {
    net_error(format!("{}/{} was cancelled", key.job, key.task))
}

/// The answer to a [`JobHandle::request`].
fn answer(rx: Receiver<Result<Vec<Value>, Error>>) -> Result<Vec<Value>, Error> {
    rx.recv()
        .unwrap_or_else(|_| Err(net_error("the client's IO thread stopped")))
}

/// The result of one output of a submitted job, held on the cluster until
/// every handle to it is dropped.
#[derive(Debug, Clone)]
pub struct RawFuture {
    handle: Arc<JobHandle>,
    /// Its output task in its job.
    task: TaskId,
    /// Where the result lives: the task's own key, or the earlier result
    /// it stands for.
    key: DataKey,
    codec: Codec,
    /// Shared by the clones of this output; declared after `handle`, so
    /// that its drop sees only the other outputs' holds on the job.
    hold: Arc<OutputHold>,
}

/// One output of a job, held while a future of it lives: the last one
/// dropped releases that output on the cluster (the others stay).
struct OutputHold {
    handle: Arc<JobHandle>,
    task: u32,
}

impl std::fmt::Debug for OutputHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OutputHold({:#x}/{})", self.handle.job, self.task)
    }
}

impl Drop for OutputHold {
    fn drop(&mut self) {
        // With no other hold on the job, the job itself is released as
        // this drop completes: no message for the output alone.
        if Arc::strong_count(&self.handle) > 1 {
            self.handle
                .client
                .send(Cmd::ReleaseOutput(self.handle.job, self.task));
        }
    }
}

/// A pure submission, found again by its spec while its futures live.
struct PureJob {
    spec: Arc<[u8]>,
    handle: Weak<JobHandle>,
    outputs: Vec<(Weak<OutputHold>, TaskId, DataKey, Codec)>,
}

impl PureJob {
    /// Its futures again, if every one still lives and the job was not
    /// cancelled or lost.
    fn futures(&self) -> Option<Vec<RawFuture>> {
        let handle = self.handle.upgrade()?;
        if matches!(handle.status(), Status::Cancelled | Status::Lost(_)) {
            return None;
        }
        self.outputs
            .iter()
            .map(|(hold, task, key, codec)| {
                Some(RawFuture {
                    handle: handle.clone(),
                    task: *task,
                    key: *key,
                    codec: *codec,
                    hold: hold.upgrade()?,
                })
            })
            .collect()
    }
}

impl RawFuture {
    /// Waits for the value.
    pub fn result(&self) -> Result<Value, Error> {
        let mut v = answer(self.handle.request(std::slice::from_ref(self)))?;
        v.pop().ok_or_else(|| net_error("no value came back"))
    }

    /// Waits for the value at most `timeout`; then an error that says so.
    pub fn result_timeout(&self, timeout: Duration) -> Result<Value, Error> {
        match self
            .handle
            .request(std::slice::from_ref(self))
            .recv_timeout(timeout)
        {
            Ok(v) => v?.pop().ok_or_else(|| net_error("no value came back")),
            Err(_) => Err(net_error(format!(
                "no result for {}/{} within {timeout:?}",
                self.key.job, self.key.task
            ))),
        }
    }

    /// True once the task finished, failed or was cancelled.
    pub fn done(&self) -> bool {
        !matches!(self.handle.status(), Status::Pending)
    }

    /// True while its job is pending on a cluster with no worker: the
    /// scheduler has admitted it and runs it once a worker joins (Dask's
    /// "waiting for workers"). A job that has settled is not waiting.
    pub fn waiting_for_workers(&self) -> bool {
        self.handle.waiting.load(Ordering::Acquire) && !self.done()
    }

    /// Where it stands.
    pub fn status(&self) -> FutureStatus {
        match self.handle.status() {
            Status::Pending => FutureStatus::Pending,
            Status::Done => FutureStatus::Finished,
            Status::Failed(_) => FutureStatus::Error,
            Status::Cancelled => FutureStatus::Cancelled,
            Status::Lost(_) => FutureStatus::Lost,
        }
    }

    /// Why it has no value: the error its job failed with, the
    /// cancellation, or the lost connection.
    pub fn error(&self) -> Option<Error> {
        match self.handle.status() {
            Status::Failed(e) | Status::Lost(e) => Some(e),
            Status::Cancelled => Some(cancelled(self.key)),
            Status::Pending | Status::Done => None,
        }
    }

    /// Stops its job if it has not finished: the scheduler drops its
    /// tasks, and the futures of the job (every output of one `map`, and
    /// clones) read as cancelled. A finished job is left as it is.
    pub fn cancel(&self) {
        if self.handle.cancel() {
            self.handle.client.send(Cmd::Cancel(self.handle.job));
        }
    }

    /// Waits until the task's job has finished (`Ok`) or failed.
    pub fn wait(&self) -> Result<(), Error> {
        let (tx, rx) = channel();
        self.on_done(move || {
            let _ = tx.send(());
        });
        let _ = rx.recv();
        self.error().map_or(Ok(()), Err)
    }

    /// Calls `f` with the value (or why there is none), on the client's
    /// IO thread, without blocking the caller: the base of `async` use.
    /// `f` must be quick.
    pub fn result_then(&self, f: impl FnOnce(Result<Value, Error>) + Send + 'static) {
        self.handle.request_then(
            std::slice::from_ref(self),
            Box::new(move |answer| {
                f(answer.and_then(|mut v| v.pop().ok_or_else(|| net_error("no value came back"))))
            }),
        );
    }

    /// Runs `f` on the client's IO thread once the task's job has
    /// finished or failed (at once if it has). `f` must be quick: the
    /// client's IO waits for it.
    pub fn on_done(&self, f: impl FnOnce() + Send + 'static) {
        self.handle.on_settled(Box::new(f));
    }

    /// Where the result lives on the cluster.
    pub fn key(&self) -> DataKey {
        self.key
    }

    /// True if both are futures of the same output of the same job.
    pub fn same_as(&self, other: &RawFuture) -> bool {
        Arc::ptr_eq(&self.hold, &other.hold)
    }

    /// Lets its job run to the end even when every future of it is
    /// dropped and the client goes away, as Dask's `fire_and_forget`; its
    /// results are released once it has finished.
    pub fn fire_and_forget(&self) {
        self.handle.client.send(Cmd::Forget(self.handle.job));
    }

    /// The codec of its value.
    pub fn codec(&self) -> Codec {
        self.codec
    }
}

/// A future is how a cluster holds a persisted collection's chunk: this
/// client's jobs read it where it lives (see [`Client::submit_job_with`]);
/// other schedulers fetch it.
impl rask_core::Holder for RawFuture {
    fn key(&self) -> String {
        format!("future-{:x}-{}", self.key.job, self.key.task)
    }

    fn codec(&self) -> Option<Codec> {
        Some(self.codec)
    }

    fn fetch(&self) -> Result<Value, String> {
        // A forked child has the client's memory but not its IO thread: a
        // fetch there would wait forever.
        if std::process::id() != self.handle.client.pid {
            return Err(format!(
                "result {:x}/{} is held on a cluster, and this forked process cannot reach \
                 the client holding it: compute with that client, `sync` or `threads`",
                self.key.job, self.key.task
            ));
        }
        self.result().map_err(|e| e.to_string())
    }
}

/// An item taken from a queue.
#[derive(Debug)]
pub enum QueueItem {
    /// A result on the cluster.
    Future(RawFuture),
    /// A value put on the queue.
    Value(Value),
}

/// A job waiting for earlier futures it uses before it is submitted.
struct Deferred {
    client: Weak<Inner>,
    job: JobId,
    spec: Mutex<Option<Vec<u8>>>,
    /// Held so that their results stay on the cluster until the job is in.
    earlier: Vec<RawFuture>,
    left: std::sync::atomic::AtomicUsize,
}

impl Deferred {
    fn start(client: &Arc<Inner>, job: JobId, spec: Vec<u8>, earlier: Vec<RawFuture>) {
        let d = Arc::new(Deferred {
            client: Arc::downgrade(client),
            job,
            spec: Mutex::new(Some(spec)),
            left: std::sync::atomic::AtomicUsize::new(earlier.len()),
            earlier,
        });
        for f in &d.earlier {
            let d = d.clone();
            f.on_done(move || d.one_settled());
        }
    }

    /// Runs when one earlier future settles; the last one sends the job.
    fn one_settled(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let Some(client) = self.client.upgrade() else {
            return;
        };
        let spec = self.spec.lock().unwrap_or_else(|e| e.into_inner()).take();
        let launch = match self.earlier.iter().find_map(RawFuture::error) {
            Some(e) => Err(e),
            None => spec.ok_or_else(|| net_error("the job was sent twice")),
        };
        client.send(Cmd::Launch(self.job, launch));
    }
}

enum Cmd {
    /// A new job, with its spec, or `None` while it waits (see [`Deferred`]).
    Submit(JobId, Option<Vec<u8>>, Weak<JobHandle>),
    /// A waiting job's spec, or the error of an earlier job it needed.
    Launch(JobId, Result<Vec<u8>, Error>),
    Release(JobId),
    /// The last future of one output of a job is gone.
    ReleaseOutput(JobId, u32),
    /// Run the job to its end whatever happens to its futures.
    Forget(JobId),
    /// Ask the scheduler about a queue.
    Queue(String, QueueCmd, Sender<Answer>),
    /// Fetch these outputs of a job once it has finished.
    Fetch(JobId, Vec<(u32, DataKey, Codec)>, Reply),
    /// Ask the scheduler about datasets or copies of results.
    Ask(AskOp, Sender<Answer>),
    /// Stop a job that has not finished.
    Cancel(JobId),
    Stop,
}

/// A queue request, owned until the IO thread sends it.
#[derive(Debug)]
enum QueueCmd {
    PutKey(DataKey, String),
    PutValue(Vec<u8>, String),
    Get(String, u64),
    Size,
}

struct Inner {
    id: u32,
    /// The process whose IO thread serves this client.
    pid: u32,
    next_job: AtomicU32,
    commands: Mutex<Sender<Cmd>>,
    waker: Waker,
    /// Set when the IO thread has been woken and has not yet drained its
    /// commands: a burst of commands (dropping a `Vec` of futures) costs
    /// one wake, not one each.
    woken: Arc<AtomicBool>,
    io: Mutex<Option<JoinHandle<()>>>,
    code_key: Option<CodeKey>,
    workers: Arc<WorkerList>,
    info: Arc<ClusterInfo>,
    pure: Mutex<PureJobs>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner").field("id", &self.id).finish()
    }
}

impl Inner {
    fn send(&self, cmd: Cmd) {
        let sent = self
            .commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(cmd)
            .is_ok();
        if sent && !self.woken.swap(true, Ordering::AcqRel) {
            let _ = self.waker.wake();
        }
    }
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Cmd::Submit(..) => "Submit",
            Cmd::Launch(..) => "Launch",
            Cmd::Release(_) => "Release",
            Cmd::ReleaseOutput(..) => "ReleaseOutput",
            Cmd::Forget(_) => "Forget",
            Cmd::Queue(..) => "Queue",
            Cmd::Fetch(..) => "Fetch",
            Cmd::Ask(..) => "Ask",
            Cmd::Cancel(_) => "Cancel",
            Cmd::Stop => "Stop",
        })
    }
}

/// A connection to a cluster. Cloning shares it; the last clone closes it
/// (and stops a local cluster).
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
    // Declared after `inner`: a local cluster stops after the client is off.
    local: Option<Arc<LocalCluster>>,
}

/// Closes the IO thread when the last clone of a client goes.
impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self
            .commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(Cmd::Stop);
        let _ = self.waker.wake();
        if let Some(t) = self.io.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

impl Client {
    /// Connects to the scheduler at `addr`.
    pub fn connect(addr: &str) -> Result<Client, Error> {
        Client::connect_with(addr, ClientOptions::default())
    }

    /// Connects with options (a token).
    pub fn connect_with(addr: &str, options: ClientOptions) -> Result<Client, Error> {
        let code_key = options.code_key;
        Client::open(addr, options, code_key, None)
    }

    /// A cluster on this machine: an embedded scheduler and worker
    /// processes re-executed from this binary (one per core, one thread
    /// each), stopped with no process left behind when the last clone of
    /// the client is dropped.
    pub fn local() -> Result<Client, Error> {
        Client::local_with(crate::LocalOptions::default())
    }

    /// [`local`](Self::local) with options.
    pub fn local_with(options: crate::LocalOptions) -> Result<Client, Error> {
        let cluster = LocalCluster::start(&options)
            .map_err(|e| net_error(format!("starting a local cluster: {e}")))?;
        let client = Client::open(
            &cluster.addr().to_string(),
            ClientOptions {
                token: Some(cluster.token().to_owned()),
                ..ClientOptions::default()
            },
            Some(*cluster.code_key()),
            Some(Arc::new(cluster)),
        )?;
        client.wait_for_workers(options.workers, Duration::from_secs(30))?;
        Ok(client)
    }

    fn open(
        addr: &str,
        options: ClientOptions,
        code_key: Option<CodeKey>,
        local: Option<Arc<LocalCluster>>,
    ) -> Result<Client, Error> {
        let target: SocketAddr = addr
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| net_error(format!("no address for `{addr}`")))?;
        let io_err = |e: io::Error| net_error(format!("scheduler at {addr}: {e}"));
        let mut sock =
            StdStream::connect_timeout(&target, Duration::from_secs(10)).map_err(io_err)?;
        sock.set_nodelay(true).map_err(io_err)?;
        crate::worker::send_frame(
            &mut sock,
            &Hello::new(Role::Client, options.token.as_deref()),
        )
        .map_err(io_err)?;
        sock.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(io_err)?;
        let body = crate::worker::recv_frame(&mut sock, options.max_frame).map_err(io_err)?;
        let id = match postcard::from_bytes::<Welcome>(&body) {
            Ok(Welcome::Accepted { id }) => id,
            Ok(Welcome::Refused { reason }) => {
                eprintln!("rask client: the scheduler at {addr} refused this client: {reason}");
                return Err(net_error(format!(
                    "the scheduler at {addr} refused this client: {reason}"
                )));
            }
            Err(e) => return Err(net_error(format!("bad welcome from {addr}: {e}"))),
        };
        sock.set_read_timeout(None).map_err(io_err)?;
        sock.set_nonblocking(true).map_err(io_err)?;
        let poll = Poll::new().map_err(io_err)?;
        let waker = Waker::new(poll.registry(), WAKER).map_err(io_err)?;
        let sched = Conn::register(
            TcpStream::from_std(sock),
            poll.registry(),
            SCHEDULER,
            options.max_frame,
        )
        .map_err(io_err)?;
        let (tx, rx) = channel();
        let workers = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let info: Arc<ClusterInfo> = Arc::new((Mutex::new(None), Condvar::new()));
        let woken = Arc::new(AtomicBool::new(false));
        let mut io = Io {
            woken: woken.clone(),
            info: info.clone(),
            let_go: Vec::new(),
            poll,
            sched,
            options,
            commands: rx,
            jobs: HashMap::new(),
            workers: workers.clone(),
            peers: HashMap::new(),
            by_worker: HashMap::new(),
            next_token: 2,
            fetches: HashMap::new(),
            waiting: HashMap::new(),
            next_fetch: 0,
            asks: HashMap::new(),
            next_ask: 0,
        };
        let thread = std::thread::Builder::new()
            .name("rask-client-io".into())
            .spawn(move || io.run())
            .map_err(io_err)?;
        Ok(Client {
            inner: Arc::new(Inner {
                id,
                pid: std::process::id(),
                next_job: AtomicU32::new(1),
                commands: Mutex::new(tx),
                waker,
                woken,
                io: Mutex::new(Some(thread)),
                code_key,
                workers,
                info,
                pure: Mutex::new(HashMap::new()),
            }),
            local,
        })
    }

    /// True if both are clones of one client.
    pub fn same_as(&self, other: &Client) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Workers now: (id, address).
    pub fn workers(&self) -> Vec<(WorkerId, String)> {
        self.inner
            .workers
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until at least `n` workers are connected.
    pub fn wait_for_workers(&self, n: usize, timeout: Duration) -> Result<(), Error> {
        let (lock, cond) = &*self.inner.workers;
        let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = cond
            .wait_timeout_while(guard, timeout, |w| w.len() < n)
            .unwrap_or_else(|e| e.into_inner());
        if guard.len() < n {
            return Err(net_error(format!(
                "only {} of {n} workers joined within {timeout:?}",
                guard.len()
            )));
        }
        Ok(())
    }

    /// The local cluster this client started, if any.
    pub fn cluster(&self) -> Option<&LocalCluster> {
        self.local.as_deref()
    }

    /// The dashboard's page (`http://host:port/`), if the scheduler serves
    /// one: a local cluster's, or the one a scheduler named on connecting.
    pub fn dashboard_link(&self) -> Option<String> {
        if let Some(local) = self.cluster() {
            return local.dashboard_link();
        }
        let (lock, cond) = &*self.inner.info;
        let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        // Sent right after the welcome; waiting covers a first call made
        // before the IO thread has read it.
        let (guard, _) = cond
            .wait_timeout_while(guard, Duration::from_secs(5), |i| i.is_none())
            .unwrap_or_else(|e| e.into_inner());
        let addr = guard.clone().flatten()?;
        let addr: SocketAddr = addr.parse().ok()?;
        // A scheduler listening on every interface is reached where this
        // client reached it.
        if addr.ip().is_unspecified() {
            return None;
        }
        Some(format!("http://{addr}/"))
    }

    /// Submits `outputs` of `job`. `externals` are tasks of `job` that stand
    /// for results of earlier submissions. Returns one future per output.
    pub fn submit_job(
        &self,
        job: &Job,
        outputs: &[TaskId],
        externals: &[(TaskId, &RawFuture)],
    ) -> Result<Vec<RawFuture>, Error> {
        self.submit_job_with(job, outputs, externals, &SubmitOptions::new().pure(false))
    }

    /// [`submit_job`](Self::submit_job) with options: a pure submission
    /// equal to one whose futures all live returns those futures. Tasks of
    /// `job` standing for results held by futures
    /// ([`JobBuilder::held`](rask_core::JobBuilder::held)) are externals
    /// too.
    pub fn submit_job_with(
        &self,
        job: &Job,
        outputs: &[TaskId],
        externals: &[(TaskId, &RawFuture)],
        options: &SubmitOptions,
    ) -> Result<Vec<RawFuture>, Error> {
        let held = job
            .held_tasks()
            .filter_map(|(t, h)| Some((t, h.holder::<RawFuture>()?)))
            .filter(|(_, f)| Arc::ptr_eq(&f.handle.client, &self.inner));
        let externals: Vec<(TaskId, &RawFuture)> = externals.iter().copied().chain(held).collect();
        let wire: Vec<(TaskId, DataKey, Codec)> = externals
            .iter()
            .map(|(t, f)| (*t, f.key(), f.codec()))
            .collect();
        let waiting: Vec<RawFuture> = externals
            .iter()
            .filter(|(_, f)| !f.done() || f.error().is_some())
            .map(|(_, f)| (*f).clone())
            .collect();
        self.submit_wire(job, outputs, &wire, waiting, options)
    }

    /// Submits a job whose externals are `wire`; `waiting` are the earlier
    /// futures not finished yet: the job goes to the scheduler once they
    /// have (the scheduler needs their results in place), or fails with
    /// the first one's error.
    fn submit_wire(
        &self,
        job: &Job,
        outputs: &[TaskId],
        externals: &[(TaskId, DataKey, Codec)],
        waiting: Vec<RawFuture>,
        options: &SubmitOptions,
    ) -> Result<Vec<RawFuture>, Error> {
        job.plan(outputs)?;
        let spec = encode_job_with(
            job,
            outputs,
            externals,
            self.inner.code_key.as_ref(),
            &options.job_options(),
        )?;
        if options.is_pure() {
            return self.submit_pure(spec, job, outputs, externals, waiting);
        }
        self.submit_spec(spec, job, outputs, externals, waiting)
    }

    /// Submits pure `spec` unless an equal one's futures all live, which
    /// it returns instead; either way the job is then findable.
    fn submit_pure(
        &self,
        spec: Vec<u8>,
        job: &Job,
        outputs: &[TaskId],
        externals: &[(TaskId, DataKey, Codec)],
        waiting: Vec<RawFuture>,
    ) -> Result<Vec<RawFuture>, Error> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        spec.hash(&mut hasher);
        let hash = hasher.finish();
        let mut pure = self.inner.pure.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(same) = pure
            .get(&hash)
            .into_iter()
            .flatten()
            .filter(|p| *p.spec == *spec)
            .find_map(PureJob::futures)
        {
            return Ok(same);
        }
        let spec: Arc<[u8]> = spec.into();
        let futures = self.submit_spec(spec.to_vec(), job, outputs, externals, waiting)?;
        let entry = PureJob {
            spec,
            handle: futures
                .first()
                .map_or_else(Weak::new, |f| Arc::downgrade(&f.handle)),
            outputs: futures
                .iter()
                .map(|f| (Arc::downgrade(&f.hold), f.task, f.key, f.codec))
                .collect(),
        };
        let bucket = pure.entry(hash).or_default();
        bucket.retain(|p| p.handle.strong_count() > 0);
        bucket.push(entry);
        // Now and then, forget submissions whose futures have all gone.
        if pure.len().is_multiple_of(256) {
            pure.retain(|_, b| {
                b.retain(|p| p.handle.strong_count() > 0);
                !b.is_empty()
            });
        }
        Ok(futures)
    }

    /// Submits an encoded job: one future per output.
    fn submit_spec(
        &self,
        spec: Vec<u8>,
        job: &Job,
        outputs: &[TaskId],
        externals: &[(TaskId, DataKey, Codec)],
        waiting: Vec<RawFuture>,
    ) -> Result<Vec<RawFuture>, Error> {
        let mut codecs = Vec::with_capacity(outputs.len());
        for &t in outputs {
            let codec = externals
                .iter()
                .find(|(e, ..)| *e == t)
                .map(|(.., c)| *c)
                .or_else(|| job.op(t).and_then(|op| op.codec()))
                .ok_or_else(|| net_error(format!("output `{}` has no codec", job.key(t))))?;
            codecs.push(codec);
        }
        let id = (u64::from(self.inner.id) << 32)
            | u64::from(self.inner.next_job.fetch_add(1, Ordering::Relaxed));
        let handle = Arc::new(JobHandle {
            client: self.inner.clone(),
            job: id,
            status: Mutex::new((Status::Pending, Vec::new())),
            waiting: AtomicBool::new(false),
        });
        if waiting.is_empty() {
            self.inner
                .send(Cmd::Submit(id, Some(spec), Arc::downgrade(&handle)));
        } else {
            self.inner
                .send(Cmd::Submit(id, None, Arc::downgrade(&handle)));
            Deferred::start(&self.inner, id, spec, waiting);
        }
        Ok(outputs
            .iter()
            .zip(codecs)
            .map(|(&task, codec)| RawFuture {
                hold: Arc::new(OutputHold {
                    handle: handle.clone(),
                    task: task.0,
                }),
                handle: handle.clone(),
                task,
                key: externals.iter().find(|(e, ..)| *e == task).map_or(
                    DataKey {
                        job: id,
                        task: task.0,
                    },
                    |(_, k, _)| *k,
                ),
                codec,
            })
            .collect())
    }

    /// Futures for results already on the cluster (`keys`, decoded with
    /// `codec`), holding them there while these futures live.
    fn hold(&self, name: &str, keys: &[DataKey], codec: Codec) -> Result<Vec<RawFuture>, Error> {
        fn placeholder(_: Inputs<()>) {}
        let mut b = JobBuilder::new();
        let op = b.op(&Op::new("rask-held", placeholder));
        let mut externals = Vec::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            let t = b.keyed_task(&format!("{name}-{i}"), op, &[]);
            externals.push((t, *key, codec));
        }
        let outputs: Vec<TaskId> = externals.iter().map(|(t, ..)| *t).collect();
        let impure = SubmitOptions::new().pure(false);
        self.submit_wire(&b.finish(), &outputs, &externals, Vec::new(), &impure)
    }

    fn ask(&self, op: AskOp) -> Result<Answer, Error> {
        let (tx, rx) = channel();
        self.inner.send(Cmd::Ask(op, tx));
        match rx.recv() {
            Ok(Answer::Error(message)) => Err(net_error(message)),
            Ok(reply) => Ok(reply),
            Err(_) => Err(net_error("lost the connection to the scheduler")),
        }
    }

    /// Names `futures` on the cluster as dataset `name`, once they have
    /// finished (a failed one is the error): they stay there,
    /// readable by any client, after this one has gone, until
    /// [`unpublish`](Self::unpublish). A taken name is an error unless
    /// `replace`.
    pub fn publish(&self, name: &str, futures: &[RawFuture], replace: bool) -> Result<(), Error> {
        for f in futures {
            f.wait()?;
        }
        let keys = futures
            .iter()
            .map(|f| (f.key(), f.codec().type_name().to_owned()))
            .collect();
        self.ask(AskOp::Publish {
            name: name.to_owned(),
            keys,
            replace,
        })
        .map(drop)
    }

    /// Forgets dataset `name`; an unknown name is an error naming it.
    pub fn unpublish(&self, name: &str) -> Result<(), Error> {
        self.ask(AskOp::Unpublish {
            name: name.to_owned(),
        })
        .map(drop)
    }

    /// The names of the published datasets, sorted.
    pub fn list_datasets(&self) -> Result<Vec<String>, Error> {
        match self.ask(AskOp::List)? {
            Answer::Names(names) => Ok(names),
            other => Err(net_error(format!("unexpected reply {other:?}"))),
        }
    }

    /// Futures of dataset `name`'s results, decoded with `codec`: an
    /// unknown name, or results of another type, is an error naming it.
    pub fn get_dataset(&self, name: &str, codec: Codec) -> Result<Vec<RawFuture>, Error> {
        let keys = match self.ask(AskOp::Get {
            name: name.to_owned(),
        })? {
            Answer::Keys(keys) => keys,
            other => return Err(net_error(format!("unexpected reply {other:?}"))),
        };
        if let Some((_, other)) = keys.iter().find(|(_, t)| t != codec.type_name()) {
            return Err(net_error(format!(
                "dataset `{name}` holds `{other}` values, not `{}`",
                codec.type_name()
            )));
        }
        let keys: Vec<DataKey> = keys.into_iter().map(|(k, _)| k).collect();
        self.hold(name, &keys, codec)
    }

    /// Copies the results of `futures` (once finished; a failed one is the
    /// error) to more workers, until each is on `n` of them (`None`: on
    /// every worker), and waits up to `timeout` for the copies. A task
    /// placed where a copy is reads it without a fetch, and the result
    /// outlives the worker that made it while a copy lives.
    pub fn replicate(
        &self,
        futures: &[RawFuture],
        n: Option<usize>,
        timeout: Duration,
    ) -> Result<(), Error> {
        for f in futures {
            f.wait()?;
        }
        let keys: Vec<DataKey> = futures.iter().map(RawFuture::key).collect();
        let n = n.map_or(0, |n| n.max(1));
        self.ask(AskOp::Replicate {
            keys: keys.clone(),
            n: n.min(u32::MAX as usize) as u32,
        })?;
        let deadline = Instant::now() + timeout;
        loop {
            let workers = self.workers().len();
            let want = if n == 0 { workers } else { n.min(workers) };
            let holders = self.who_has_keys(&keys)?;
            let short = holders.iter().zip(&keys).find(|(h, _)| h.len() < want);
            let Some((h, key)) = short else {
                return Ok(());
            };
            if Instant::now() >= deadline {
                return Err(net_error(format!(
                    "result {}/{} is on {} of {want} workers after {timeout:?}",
                    key.job,
                    key.task,
                    h.len()
                )));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The workers holding the result of each of `futures` (none: not
    /// finished, or lost).
    pub fn who_has(&self, futures: &[RawFuture]) -> Result<Vec<Vec<WorkerId>>, Error> {
        let keys: Vec<DataKey> = futures.iter().map(RawFuture::key).collect();
        self.who_has_keys(&keys)
    }

    /// [`who_has`](Self::who_has) by key.
    pub fn who_has_keys(&self, keys: &[DataKey]) -> Result<Vec<Vec<WorkerId>>, Error> {
        match self.ask(AskOp::WhoHas {
            keys: keys.to_vec(),
        })? {
            Answer::Holders(h) => Ok(h),
            other => Err(net_error(format!("unexpected reply {other:?}"))),
        }
    }

    fn ask_queue(&self, name: &str, cmd: QueueCmd) -> Result<Answer, Error> {
        let (tx, rx) = channel();
        self.inner.send(Cmd::Queue(name.to_owned(), cmd, tx));
        match rx.recv() {
            Ok(Answer::Error(message)) => Err(net_error(message)),
            Ok(reply) => Ok(reply),
            Err(_) => Err(net_error("lost the connection to the scheduler")),
        }
    }

    /// Appends `future` to queue `name` once it has finished (a failed one
    /// is the error); its result stays on the cluster while queued, even
    /// after this client has gone.
    pub fn queue_put_future(&self, name: &str, future: &RawFuture) -> Result<(), Error> {
        future.wait()?;
        let cmd = QueueCmd::PutKey(future.key(), future.codec().type_name().to_owned());
        self.ask_queue(name, cmd).map(drop)
    }

    /// Appends an encoded value of type `type_name` to queue `name`.
    pub fn queue_put_value(
        &self,
        name: &str,
        bytes: Vec<u8>,
        type_name: &str,
    ) -> Result<(), Error> {
        self.ask_queue(name, QueueCmd::PutValue(bytes, type_name.to_owned()))
            .map(drop)
    }

    /// Takes the oldest item of queue `name`, waiting up to `timeout` for
    /// one (`None` if none came); decoded with `codec`, and an error
    /// naming both types if the item is of another type (it then stays
    /// queued).
    pub fn queue_get(
        &self,
        name: &str,
        codec: Codec,
        timeout: Duration,
    ) -> Result<Option<QueueItem>, Error> {
        let cmd = QueueCmd::Get(
            codec.type_name().to_owned(),
            u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        );
        match self.ask_queue(name, cmd)? {
            Answer::Empty => Ok(None),
            Answer::Item(Queued::Value(bytes)) => codec
                .decode(&bytes)
                .map(|v| Some(QueueItem::Value(v)))
                .map_err(|e| net_error(format!("decoding an item of queue `{name}`: {e}"))),
            Answer::Item(Queued::Key(key)) => {
                let mut held = self.hold(name, &[key], codec)?;
                held.pop()
                    .map(|f| Some(QueueItem::Future(f)))
                    .ok_or_else(|| net_error("no future"))
            }
            other => Err(net_error(format!("unexpected reply {other:?}"))),
        }
    }

    /// How many items queue `name` holds.
    pub fn queue_size(&self, name: &str) -> Result<u64, Error> {
        match self.ask_queue(name, QueueCmd::Size)? {
            Answer::Size(n) => Ok(n),
            other => Err(net_error(format!("unexpected reply {other:?}"))),
        }
    }

    /// Waits for every future and fetches the values in one round.
    pub fn gather(&self, futures: &[RawFuture]) -> Result<Vec<Value>, Error> {
        // Consecutive futures of one job are fetched together; every
        // request is out before the first answer is awaited.
        let mut requests = Vec::new();
        let mut i = 0;
        while i < futures.len() {
            let h = &futures[i].handle;
            let n = futures[i..]
                .iter()
                .take_while(|f| Arc::ptr_eq(&f.handle, h))
                .count();
            requests.push(h.request(&futures[i..i + n]));
            i += n;
        }
        let mut out = Vec::with_capacity(futures.len());
        for rx in requests {
            out.extend(answer(rx)?);
        }
        Ok(out)
    }
}

impl Scheduler for Client {
    fn name(&self) -> &'static str {
        "distributed"
    }

    fn run(
        &self,
        job: &Arc<Job>,
        outputs: &[TaskId],
        events: &dyn RunEvents,
    ) -> Result<Vec<Value>, Error> {
        let info = rask_core::RunInfo {
            tasks: job.len(),
            workers: self.workers().len(),
            job: Some(job.clone()),
        };
        rask_core::report_run(events, info, || {
            let futures = self.submit_job(job, outputs, &[])?;
            self.gather(&futures)
        })
    }
}

/// The IO thread's state.
struct Io {
    woken: Arc<AtomicBool>,
    info: Arc<ClusterInfo>,
    /// Jobs with outputs let go of this turn.
    let_go: Vec<JobId>,
    poll: Poll,
    sched: Conn,
    options: ClientOptions,
    commands: Receiver<Cmd>,
    jobs: HashMap<JobId, JobEntry>,
    workers: Arc<WorkerList>,
    /// Connections to workers: token → (conn, worker, welcomed).
    peers: HashMap<Token, (Conn, WorkerId, bool)>,
    by_worker: HashMap<WorkerId, Token>,
    next_token: usize,
    fetches: HashMap<u64, FetchState>,
    /// Which fetches (id, index) wait for each result.
    waiting: HashMap<DataKey, Vec<(u64, usize)>>,
    next_fetch: u64,
    /// Dataset requests waiting for the scheduler's reply.
    asks: HashMap<u64, Sender<Answer>>,
    next_ask: u64,
}

/// A job as the IO thread tracks it.
struct JobEntry {
    handle: Weak<JobHandle>,
    /// Where each output lives, from the latest `Done`.
    outputs: Vec<(u32, WorkerId)>,
    /// How many times the job finished; it finishes again after a holder
    /// dies and its outputs are recomputed.
    finishes: u64,
    /// Fetches waiting for the job to finish (again).
    parked: Vec<u64>,
    failed: Option<Error>,
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

struct FetchState {
    job: JobId,
    /// (output task, where its result lives, its codec).
    tasks: Vec<(u32, DataKey, Codec)>,
    /// The holder asked for each task, and the finish it came from.
    holders: Vec<WorkerId>,
    finish: u64,
    values: Vec<Option<Value>>,
    left: usize,
    reply: Reply,
}

impl Io {
    fn run(&mut self) {
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
        let lost = || net_error("lost the connection to the scheduler");
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
                        outputs: Vec::new(),
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
                        .push(&ToScheduler::Submit { job, spec: &spec });
                }
            }
            Cmd::Cancel(job) => {
                if let Some(entry) = self.jobs.get_mut(&job) {
                    // Releasing an unfinished job drops its tasks; its
                    // fetches end with the cancellation.
                    self.sched.outbox.push(&ToScheduler::Release { job });
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
                        .push(&ToScheduler::Submit { job, spec: &spec });
                    let Some(entry) = self.jobs.get_mut(&job) else {
                        return;
                    };
                    entry.sent = true;
                    if entry.forgotten {
                        self.sched.outbox.push(&ToScheduler::Forget { job });
                    }
                    if entry.released {
                        self.jobs.remove(&job);
                        self.sched.outbox.push(&ToScheduler::Release { job });
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
                self.sched.outbox.push(&ToScheduler::Release { job });
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
                        self.sched.outbox.push(&ToScheduler::Forget { job });
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
                    .push(&ToScheduler::Queue { request, name, op });
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
                        holders: vec![0; n],
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
                self.sched.outbox.push(&ToScheduler::Ask { request, op });
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
                        .push(&ToScheduler::ReleaseOutputs { job, tasks });
                }
            }
        }
    }

    /// Sends the `Get`s of fetch `id` if its job has finished, else parks
    /// it; a failed job answers it with the job's error.
    fn start_fetch(&mut self, id: u64) {
        let Some(f) = self.fetches.get_mut(&id) else {
            return;
        };
        let Some(entry) = self.jobs.get_mut(&f.job) else {
            let job = f.job;
            self.end_fetch(id, Err(net_error(format!("job {job:#x} was released"))));
            return;
        };
        if let Some(e) = entry.failed.clone() {
            self.end_fetch(id, Err(e));
            return;
        }
        if entry.finishes == 0 || entry.finishes == f.finish {
            entry.parked.push(id);
            return;
        }
        f.finish = entry.finishes;
        let mut by_worker: HashMap<WorkerId, Vec<DataKey>> = HashMap::new();
        let mut missing = None;
        for (i, (task, key, _)) in f.tasks.iter().enumerate() {
            if f.values[i].is_some() {
                continue;
            }
            match entry.outputs.iter().find(|(o, _)| o == task) {
                Some(&(_, w)) => {
                    f.holders[i] = w;
                    let key = *key;
                    by_worker.entry(w).or_default().push(key);
                    self.waiting.entry(key).or_default().push((id, i));
                }
                None => missing = Some(*task),
            }
        }
        if let Some(task) = missing {
            let job = f.job;
            self.end_fetch(
                id,
                Err(net_error(format!(
                    "task {task} is not an output of job {job:#x}"
                ))),
            );
            return;
        }
        if f.left == 0 {
            self.finish_fetch(id);
            return;
        }
        for (w, keys) in by_worker {
            match self.peer(w) {
                Some(token) => {
                    if let Some((conn, ..)) = self.peers.get_mut(&token) {
                        conn.outbox.push(&PeerMsg::Get { keys });
                    }
                }
                None => self.lost(w, None),
            }
        }
    }

    /// The connection to worker `w`, opened on first use.
    fn peer(&mut self, w: WorkerId) -> Option<Token> {
        if let Some(t) = self.by_worker.get(&w) {
            return Some(*t);
        }
        let addr: SocketAddr = {
            let workers = self.workers.0.lock().unwrap_or_else(|e| e.into_inner());
            workers.iter().find(|(id, _)| *id == w)?.1.parse().ok()?
        };
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
        self.peers.insert(token, (conn, w, false));
        self.by_worker.insert(w, token);
        Some(token)
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
                let mut workers = lock.lock().unwrap_or_else(|e| e.into_inner());
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
                entry.outputs = outputs;
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
                *lock.lock().unwrap_or_else(|e| e.into_inner()) = Some(dashboard);
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

    /// Every fetch of `job` ends with `error`.
    fn end_fetches_of(&mut self, job: JobId, error: Error) {
        let ids: Vec<u64> = self
            .fetches
            .iter()
            .filter(|(_, f)| f.job == job)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.end_fetch(id, Err(error.clone()));
        }
    }

    fn read_worker(&mut self, token: Token) {
        let Some((conn, ..)) = self.peers.get_mut(&token) else {
            return;
        };
        let closed = conn.read().unwrap_or(true);
        let mut inbox = conn.inbox.take();
        let result = inbox.drain(|body| self.worker_frame(token, body));
        if let Some((conn, ..)) = self.peers.get_mut(&token) {
            conn.inbox = inbox;
        }
        if closed || result.is_err() {
            self.close_peer(token);
        }
    }

    fn worker_frame(&mut self, token: Token, body: &[u8]) -> Result<(), String> {
        let Some((_, w, welcomed)) = self.peers.get_mut(&token) else {
            return Err("no such connection".into());
        };
        let w = *w;
        if !*welcomed {
            return match postcard::from_bytes::<Welcome>(body) {
                Ok(Welcome::Accepted { .. }) => {
                    *welcomed = true;
                    Ok(())
                }
                _ => Err(format!("worker {w} did not accept us")),
            };
        }
        for msg in messages::<PeerMsg>(body) {
            match msg.map_err(|e| e.to_string())? {
                PeerMsg::Data { key, bytes } => self.arrived(key, bytes),
                PeerMsg::Missing { key } => self.lost(w, Some(key)),
                PeerMsg::Get { .. } => return Err("a worker asked the client for data".into()),
            }
        }
        Ok(())
    }

    fn arrived(&mut self, key: DataKey, bytes: &[u8]) {
        let Some(waiters) = self.waiting.remove(&key) else {
            return;
        };
        for (id, i) in waiters {
            let Some(f) = self.fetches.get_mut(&id) else {
                continue;
            };
            if f.values[i].is_some() {
                continue;
            }
            match f.tasks[i].2.decode(bytes) {
                Ok(v) => {
                    f.values[i] = Some(v);
                    f.left -= 1;
                    if f.left == 0 {
                        self.finish_fetch(id);
                    }
                }
                Err(e) => self.end_fetch(id, Err(net_error(format!("decoding a result: {e}")))),
            }
        }
    }

    /// Results expected from `w` (all of them, or just `key`) will not
    /// come: those fetches wait for the job to finish again (the scheduler
    /// recomputes what a dead worker held), or ask the new holders at once
    /// if it already has.
    fn lost(&mut self, w: WorkerId, key: Option<DataKey>) {
        let hit: Vec<u64> = self
            .fetches
            .iter()
            .filter(|(_, f)| {
                f.tasks.iter().enumerate().any(|(i, (_, k, _))| {
                    f.values[i].is_none() && f.holders[i] == w && key.is_none_or(|key| key == *k)
                })
            })
            .map(|(id, _)| *id)
            .collect();
        for id in hit {
            self.unwait(id);
            self.start_fetch(id);
        }
    }

    /// Forgets which keys fetch `id` waits for.
    fn unwait(&mut self, id: u64) {
        let Some(f) = self.fetches.get(&id) else {
            return;
        };
        for (i, (_, key, _)) in f.tasks.iter().enumerate() {
            if let Some(w) = self.waiting.get_mut(key) {
                w.retain(|&(f, j)| (f, j) != (id, i));
                if w.is_empty() {
                    self.waiting.remove(key);
                }
            }
        }
    }

    /// Answers fetch `id` with its values, all present.
    fn finish_fetch(&mut self, id: u64) {
        let values = match self.fetches.get_mut(&id) {
            Some(f) => std::mem::take(&mut f.values)
                .into_iter()
                .map(|v| v.unwrap_or_else(|| Value::new(())))
                .collect(),
            None => return,
        };
        self.end_fetch(id, Ok(values));
    }

    fn end_fetch(&mut self, id: u64, answer: Result<Vec<Value>, Error>) {
        self.unwait(id);
        if let Some(f) = self.fetches.remove(&id) {
            if let Some(entry) = self.jobs.get_mut(&f.job) {
                entry.parked.retain(|p| *p != id);
            }
            (f.reply)(answer);
        }
    }

    fn close_peer(&mut self, token: Token) {
        if let Some((mut conn, w, _)) = self.peers.remove(&token) {
            let _ = self.poll.registry().deregister(&mut conn.sock);
            self.by_worker.remove(&w);
            self.lost(w, None);
        }
    }
}

/// A job's failure as the user sees it.
fn wire_error(error: WireError) -> Error {
    match error {
        WireError::Task { key, op, message } => Error::TaskFailed { key, op, message },
        WireError::KilledWorker { key, op, workers } => Error::KilledWorker { key, op, workers },
        WireError::UnknownOp { key, op } => Error::UnknownOp { key, op },
        WireError::Refused { message } => net_error(message),
    }
}
