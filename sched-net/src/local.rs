//! A cluster on this machine: the scheduler on a thread of this process,
//! workers in processes re-executed from this same binary.
//!
//! A worker process is this executable started again with `RASK_WORKER_*`
//! variables set. Before `main` runs, a constructor in `.init_array` sees
//! them, turns the process into a worker and exits when the scheduler says
//! so: the user's `main` (or test harness) never runs there. Because the
//! binary is the same, the worker can rebuild any stateless function the
//! client sends by code reference (see [`portable`](crate::portable)).
//!
//! Workers are started by a keeper thread that lives as long as the
//! cluster, with `PR_SET_PDEATHSIG`: if this process dies, they die too.
//! Dropping the cluster tells them to exit, waits, kills stragglers and
//! reaps them all.

use std::io;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rask_core::IgnorePoison;

use crate::client::ClientOptions;
use crate::portable::CodeKey;
use crate::scheduler::{spawn as spawn_scheduler, SchedulerConfig, SchedulerHandle};
use crate::worker::{run as run_worker, WorkerOptions};

const ENV_ADDR: &str = "RASK_WORKER_OF";
const ENV_TOKEN: &str = "RASK_WORKER_TOKEN";
const ENV_KEY: &str = "RASK_WORKER_CODE_KEY";
const ENV_THREADS: &str = "RASK_WORKER_NTHREADS";
const ENV_MEMORY: &str = "RASK_WORKER_MEMORY_LIMIT";
const ENV_RESOURCES: &str = "RASK_WORKER_RESOURCES";
const ENV_SPILL: &str = "RASK_WORKER_SPILL";
const ENV_LOCAL_DIR: &str = "RASK_WORKER_LOCAL_DIRECTORY";

/// The shape of a local cluster.
#[derive(Clone, Debug)]
pub struct LocalOptions {
    /// Worker processes (default: one per core).
    pub workers: usize,
    /// Threads per worker (default 1).
    pub threads_per_worker: usize,
    /// Per-worker memory limit in bytes (0: none).
    pub memory_limit: u64,
    /// Under a memory limit, spill least recently used results to disk
    /// (default true).
    pub spill: bool,
    /// Where each worker makes its spill directory (default: the system's
    /// temporary directory).
    pub local_directory: Option<std::path::PathBuf>,
    /// The dashboard's port on 127.0.0.1, as Dask's `LocalCluster` has it:
    /// 8787 by default, the next free port if that one is taken (with a
    /// log line); `Some(0)` any free port; `None` no dashboard.
    pub dashboard_port: Option<u16>,
    /// Abstract resources each worker offers (`("GPU", 1.0)`), for tasks
    /// submitted with resources.
    pub resources: Vec<(String, f64)>,
}

impl Default for LocalOptions {
    fn default() -> Self {
        LocalOptions {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            threads_per_worker: 1,
            memory_limit: 0,
            spill: true,
            local_directory: None,
            dashboard_port: Some(crate::dashboard::DEFAULT_PORT),
            resources: Vec::new(),
        }
    }
}

enum Keep {
    Spawn(Sender<io::Result<u32>>),
    Stop,
}

/// A scheduler and its worker processes; stopped when dropped.
#[derive(Debug)]
pub struct LocalCluster {
    // Dropped first: the scheduler tells the workers to exit.
    scheduler: Mutex<Option<SchedulerHandle>>,
    addr: SocketAddr,
    dashboard: Option<SocketAddr>,
    token: String,
    code_key: CodeKey,
    keeper: Mutex<Sender<Keep>>,
    keeper_thread: Mutex<Option<JoinHandle<()>>>,
    pids: Arc<Mutex<Vec<u32>>>,
}

impl LocalCluster {
    /// Starts the scheduler and `options.workers` workers (not waiting
    /// for them to join).
    pub(crate) fn start(options: &LocalOptions) -> io::Result<LocalCluster> {
        // The constructor below must be linked into every binary that can
        // start a local cluster; naming it here makes sure it is.
        std::hint::black_box(&WORKER_ENTRY);
        let code_key = CodeKey::random()?;
        let token = CodeKey::random()?.to_hex();
        let config = SchedulerConfig {
            token: Some(token.clone()),
            log_membership: false,
            dashboard_port: options.dashboard_port,
            ..SchedulerConfig::default()
        };
        let scheduler = spawn_scheduler(SocketAddr::from(([127, 0, 0, 1], 0)), config)?;
        let addr = scheduler.addr();
        let dashboard = scheduler.dashboard_addr();
        let pids = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = channel();
        let env = vec![
            (ENV_ADDR, addr.to_string()),
            (ENV_TOKEN, token.clone()),
            (ENV_KEY, code_key.to_hex()),
            (ENV_THREADS, options.threads_per_worker.max(1).to_string()),
            (ENV_MEMORY, options.memory_limit.to_string()),
            (ENV_SPILL, u8::from(options.spill).to_string()),
            (
                ENV_LOCAL_DIR,
                options
                    .local_directory
                    .as_ref()
                    .map(|d| d.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            (ENV_RESOURCES, resources_arg(&options.resources)?),
        ];
        let kept = pids.clone();
        let keeper_thread = std::thread::Builder::new()
            .name("rask-local-cluster".into())
            .spawn(move || keep(&rx, &env, &kept))?;
        let cluster = LocalCluster {
            scheduler: Mutex::new(Some(scheduler)),
            addr,
            dashboard,
            token,
            code_key,
            keeper: Mutex::new(tx),
            keeper_thread: Mutex::new(Some(keeper_thread)),
            pids,
        };
        for _ in 0..options.workers.max(1) {
            cluster.add_worker()?;
        }
        Ok(cluster)
    }

    /// The scheduler's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the dashboard serves, if it is on.
    pub fn dashboard_addr(&self) -> Option<SocketAddr> {
        self.dashboard
    }

    /// The dashboard's page, if it is on: `http://127.0.0.1:8787/`
    /// (what [`Client::dashboard_link`](crate::Client::dashboard_link)
    /// gives for a local cluster).
    pub(crate) fn dashboard_link(&self) -> Option<String> {
        self.dashboard.map(|a| format!("http://{a}/"))
    }

    /// What another client needs to join this cluster besides its
    /// [`addr`](Self::addr): the token, and the code key its workers
    /// accept, so that a client in this same binary sends stateless
    /// functions as code references, as the cluster's own client does.
    pub fn client_options(&self) -> ClientOptions {
        ClientOptions {
            token: Some(self.token.clone()),
            code_key: Some(self.code_key),
            ..ClientOptions::default()
        }
    }

    /// Starts one more worker process; returns its pid.
    pub fn add_worker(&self) -> io::Result<u32> {
        let (tx, rx) = channel();
        self.keeper
            .lock()
            .ignore_poison()
            .send(Keep::Spawn(tx))
            .map_err(|_| io::Error::other("the cluster is stopping"))?;
        rx.recv()
            .map_err(|_| io::Error::other("the cluster is stopping"))?
    }

    /// Pids of the worker processes still running.
    pub fn worker_pids(&self) -> Vec<u32> {
        self.pids.lock().ignore_poison().clone()
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        drop(self.scheduler.lock().ignore_poison().take());
        let _ = self.keeper.lock().ignore_poison().send(Keep::Stop);
        if let Some(t) = self.keeper_thread.lock().ignore_poison().take() {
            let _ = t.join();
        }
    }
}

/// The keeper thread: starts workers on request, reaps those that exit,
/// and at the end waits for the rest (killing any that linger).
fn keep(requests: &Receiver<Keep>, env: &[(&str, String)], pids: &Mutex<Vec<u32>>) {
    let mut children: Vec<Child> = Vec::new();
    let record = |children: &Vec<Child>| {
        *pids.lock().ignore_poison() = children.iter().map(Child::id).collect();
    };
    loop {
        match requests.recv_timeout(Duration::from_millis(100)) {
            Ok(Keep::Spawn(reply)) => {
                let started = spawn_worker(env);
                let pid = started
                    .as_ref()
                    .map(Child::id)
                    .map_err(|e| io::Error::new(e.kind(), e.to_string()));
                if let Ok(child) = started {
                    children.push(child);
                }
                record(&children);
                let _ = reply.send(pid);
            }
            Ok(Keep::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        let before = children.len();
        children.retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
        if children.len() != before {
            record(&children);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while !children.is_empty() && Instant::now() < deadline {
        children.retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
        std::thread::sleep(Duration::from_millis(10));
    }
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    record(&Vec::new());
}

/// `resources` as `--resources` takes them; a name that would not parse
/// back is an error naming it.
fn resources_arg(resources: &[(String, f64)]) -> io::Result<String> {
    let mut out = Vec::with_capacity(resources.len());
    for (name, amount) in resources {
        if name.is_empty() || name.contains([',', ' ', '=']) || !amount.is_finite() || *amount < 0.0
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("resource `{name}` = {amount}: names may not be empty or hold `,`, ` ` or `=`, and amounts must be finite and at least 0"),
            ));
        }
        out.push(format!("{name}={amount}"));
    }
    Ok(out.join(","))
}

fn spawn_worker(env: &[(&str, String)]) -> io::Result<Child> {
    let mut cmd = Command::new("/proc/self/exe");
    if let Some(arg0) = std::env::args_os().next() {
        cmd.arg0(arg0);
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    // SAFETY: between fork and exec only async-signal-safe calls are made:
    // prctl(2) through nix, which allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(io::Error::from)
        });
    }
    // `/proc/self/exe` is this very binary even if the file on disk was
    // replaced since, so code references stay valid.
    cmd.spawn()
}

/// Runs before `main`: in a process started by [`spawn_worker`], becomes
/// a worker and exits; anywhere else, returns at once.
extern "C" fn worker_entry() {
    let Some(addr) = std::env::var_os(ENV_ADDR) else {
        return;
    };
    crate::log_to_stderr(&format!("rask-worker[{}]", std::process::id()));
    let code = std::panic::catch_unwind(|| {
        let var = |k: &str| std::env::var(k).ok();
        let options = WorkerOptions {
            nthreads: var(ENV_THREADS).and_then(|v| v.parse().ok()).unwrap_or(1),
            memory_limit: var(ENV_MEMORY).and_then(|v| v.parse().ok()).unwrap_or(0),
            spill: var(ENV_SPILL).as_deref() != Some("0"),
            local_directory: var(ENV_LOCAL_DIR).filter(|d| !d.is_empty()).map(Into::into),
            token: var(ENV_TOKEN),
            code_key: var(ENV_KEY).and_then(|k| CodeKey::from_hex(&k)),
            resources: var(ENV_RESOURCES)
                .and_then(|r| crate::worker::parse_resources(&r).ok())
                .unwrap_or_default(),
            ..WorkerOptions::default()
        };
        match run_worker(crate::builtin::registry(), &addr.to_string_lossy(), options) {
            Ok(()) => 0,
            Err(e) => {
                log::error!("{e}");
                1
            }
        }
    })
    .unwrap_or(101);
    std::process::exit(code);
}

/// The constructor that makes re-executed processes workers.
#[used]
#[link_section = ".init_array"]
static WORKER_ENTRY: extern "C" fn() = worker_entry;
