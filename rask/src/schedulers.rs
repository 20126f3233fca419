//! Choosing a scheduler by name, the way Dask does.
//!
//! Names and aliases: `sync` / `synchronous` / `single-threaded`, `threads` /
//! `threading`, `processes` / `multiprocessing`, `distributed` /
//! `dask.distributed`. Precedence, first that is set wins:
//! 1. the per-call [`Options::scheduler`];
//! 2. a [`scoped`] setting on this thread (restored when its guard drops);
//! 3. the process-wide [`set_scheduler`];
//! 4. the `RASK_SCHEDULER` environment variable;
//! 5. `threads`.

use std::cell::RefCell;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};

use rask_core::{Error, Events, IgnorePoison, Scheduler};

/// Every accepted scheduler name, aliases included.
pub const SCHEDULER_NAMES: &[&str] = &[
    "sync",
    "synchronous",
    "single-threaded",
    "threads",
    "threading",
    "processes",
    "multiprocessing",
    "distributed",
    "dask.distributed",
];

/// A kind of scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The calling thread ([`rask_sched_sync`]).
    Sync,
    /// A persistent thread pool (`rask-sched-threads`).
    Threads,
    /// Forked worker processes (`rask-sched-procs`).
    Processes,
    /// A cluster over TCP (`rask-sched-net`).
    Distributed,
}

impl Backend {
    /// The backend's canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sync => "sync",
            Backend::Threads => "threads",
            Backend::Processes => "processes",
            Backend::Distributed => "distributed",
        }
    }

    /// Every backend, in the order the bench reports them.
    pub const ALL: [Backend; 4] = [
        Backend::Sync,
        Backend::Threads,
        Backend::Processes,
        Backend::Distributed,
    ];
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = Error;
    fn from_str(name: &str) -> Result<Backend, Error> {
        match name {
            "sync" | "synchronous" | "single-threaded" => Ok(Backend::Sync),
            "threads" | "threading" => Ok(Backend::Threads),
            "processes" | "multiprocessing" => Ok(Backend::Processes),
            "distributed" | "dask.distributed" => Ok(Backend::Distributed),
            _ => Err(Error::UnknownScheduler {
                name: name.to_owned(),
                valid: SCHEDULER_NAMES,
            }),
        }
    }
}

/// How one compute should run: scheduler, pool size, event sinks.
#[derive(Clone, Default)]
pub struct Options<'a> {
    scheduler: Option<String>,
    num_workers: Option<usize>,
    pub(crate) events: Vec<&'a dyn Events>,
}

impl fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("scheduler", &self.scheduler)
            .field("num_workers", &self.num_workers)
            .field("events", &self.events.len())
            .finish()
    }
}

impl<'a> Options<'a> {
    /// Defaults: the scheduler from the settings, the backend's pool size.
    pub fn new() -> Self {
        Self::default()
    }
    /// Uses the scheduler called `name` for this call.
    pub fn scheduler(mut self, name: &str) -> Self {
        self.scheduler = Some(name.to_owned());
        self
    }
    /// Uses `n` workers (threads, processes) for this call.
    pub fn num_workers(mut self, n: usize) -> Self {
        self.num_workers = Some(n.max(1));
        self
    }
    /// Reports this call's events to `sink` too (a progress bar, a profiler).
    pub fn events(mut self, sink: &'a dyn Events) -> Self {
        self.events.push(sink);
        self
    }

    /// The scheduler this call will use, following the precedence above.
    pub fn resolve(&self) -> Result<Arc<dyn Scheduler>, Error> {
        let setting = match &self.scheduler {
            Some(name) => Setting {
                backend: name.parse()?,
                num_workers: self.num_workers,
            },
            None => {
                let mut s = current_setting()?;
                s.num_workers = self.num_workers.or(s.num_workers);
                s
            }
        };
        scheduler(setting.backend, setting.num_workers)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Setting {
    backend: Backend,
    num_workers: Option<usize>,
}

static GLOBAL: RwLock<Option<Setting>> = RwLock::new(None);

thread_local! {
    static SCOPED: RefCell<Vec<Setting>> = const { RefCell::new(Vec::new()) };
}

/// Sets the process-wide default scheduler (`None` workers: the backend's default).
pub fn set_scheduler(name: &str, num_workers: Option<usize>) -> Result<(), Error> {
    let setting = Setting {
        backend: name.parse()?,
        num_workers,
    };
    *GLOBAL.write().ignore_poison() = Some(setting);
    Ok(())
}

/// Clears the process-wide default set by [`set_scheduler`].
pub fn reset_scheduler() {
    *GLOBAL.write().ignore_poison() = None;
}

/// Uses the scheduler `name` for computes on this thread until the guard drops.
pub fn scoped(name: &str, num_workers: Option<usize>) -> Result<ScopeGuard, Error> {
    let setting = Setting {
        backend: name.parse()?,
        num_workers,
    };
    SCOPED.with(|s| s.borrow_mut().push(setting));
    Ok(ScopeGuard {
        _not_send: std::marker::PhantomData,
    })
}

/// Restores the previous scheduler setting of this thread when dropped.
#[derive(Debug)]
#[must_use = "the setting is undone when the guard drops"]
pub struct ScopeGuard {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        SCOPED.with(|s| s.borrow_mut().pop());
    }
}

fn current_setting() -> Result<Setting, Error> {
    if let Some(s) = SCOPED.with(|s| s.borrow().last().copied()) {
        return Ok(s);
    }
    if let Some(s) = *GLOBAL.read().ignore_poison() {
        return Ok(s);
    }
    if let Ok(name) = std::env::var("RASK_SCHEDULER") {
        return Ok(Setting {
            backend: name.trim().parse()?,
            num_workers: None,
        });
    }
    Ok(Setting {
        backend: Backend::Threads,
        num_workers: None,
    })
}

/// The name of the backend a compute with default options would use now.
pub fn current_backend() -> Result<Backend, Error> {
    current_setting().map(|s| s.backend)
}

/// The scheduler for `backend` with `num_workers` (its default if `None`).
/// Thread pools are persistent: one per size, reused by every compute.
pub fn scheduler(
    backend: Backend,
    num_workers: Option<usize>,
) -> Result<Arc<dyn Scheduler>, Error> {
    match backend {
        Backend::Sync => Ok(Arc::new(rask_sched_sync::SyncScheduler)),
        Backend::Threads => threads(num_workers),
        Backend::Processes => processes(num_workers),
        Backend::Distributed => distributed(),
    }
}

#[cfg(all(feature = "net", unix))]
fn distributed() -> Result<Arc<dyn Scheduler>, Error> {
    crate::distributed::active()
}

#[cfg(not(all(feature = "net", unix)))]
fn distributed() -> Result<Arc<dyn Scheduler>, Error> {
    Err(Error::BackendDisabled {
        backend: "distributed",
        feature: "net",
    })
}

/// The scheduler called `name` (any alias) with `num_workers`.
pub fn scheduler_by_name(
    name: &str,
    num_workers: Option<usize>,
) -> Result<Arc<dyn Scheduler>, Error> {
    scheduler(name.parse()?, num_workers)
}

#[cfg(all(feature = "procs", unix))]
fn processes(num_workers: Option<usize>) -> Result<Arc<dyn Scheduler>, Error> {
    use rask_sched_procs::ProcessScheduler;
    Ok(Arc::new(match num_workers {
        Some(n) => ProcessScheduler::new(n),
        None => ProcessScheduler::default(),
    }))
}

#[cfg(not(all(feature = "procs", unix)))]
fn processes(_: Option<usize>) -> Result<Arc<dyn Scheduler>, Error> {
    Err(Error::BackendDisabled {
        backend: "processes",
        feature: "procs",
    })
}

#[cfg(feature = "threads")]
fn threads(num_workers: Option<usize>) -> Result<Arc<dyn Scheduler>, Error> {
    use rask_sched_threads::ThreadPool;
    // Pools belong to the process that started them: a forked worker
    // process inherits the list but not the threads, so it starts its own.
    static POOLS: Mutex<Vec<(u32, Arc<ThreadPool>)>> = Mutex::new(Vec::new());
    let n = num_workers.unwrap_or_else(rask_sched_threads::default_workers);
    let pid = std::process::id();
    let mut pools = POOLS.lock().ignore_poison();
    if let Some((_, pool)) = pools
        .iter()
        .find(|(p, pool)| *p == pid && pool.workers() == n)
    {
        return Ok(pool.clone());
    }
    let pool = Arc::new(ThreadPool::new(n).map_err(|e| Error::Backend {
        backend: "threads",
        message: format!("cannot start {n} worker threads: {e}"),
    })?);
    // A parent's pools are forgotten here, never dropped: dropping one would
    // join threads that do not exist in this process.
    for (_, foreign) in pools.extract_if(.., |(p, _)| *p != pid) {
        std::mem::forget(foreign);
    }
    pools.push((pid, pool.clone()));
    Ok(pool)
}

#[cfg(not(feature = "threads"))]
fn threads(_: Option<usize>) -> Result<Arc<dyn Scheduler>, Error> {
    let _ = &Mutex::new(());
    Err(Error::BackendDisabled {
        backend: "threads",
        feature: "threads",
    })
}
