//! The persistent pool: threads that wait for runs and join them.

use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rask_core::{Error, Events, IgnorePoison, Job, Scheduler, TaskId, Value};

use crate::run::Run;

/// One thread per core, as the machine reports it.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// What the pool threads share: the runs they may join.
pub(crate) struct PoolShared {
    runs: Mutex<Vec<Arc<Run>>>,
    changed: Condvar,
    shutdown: AtomicBool,
}

/// A persistent pool of worker threads; a [`Scheduler`] named `threads`.
/// Dropping it stops and joins every thread.
pub struct ThreadPool {
    shared: Arc<PoolShared>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPool")
            .field("workers", &self.threads.len())
            .finish()
    }
}

impl ThreadPool {
    /// Starts `workers` threads (at least one).
    pub fn new(workers: usize) -> io::Result<ThreadPool> {
        let shared = Arc::new(PoolShared {
            runs: Mutex::new(Vec::new()),
            changed: Condvar::new(),
            shutdown: AtomicBool::new(false),
        });
        let mut pool = ThreadPool {
            shared,
            threads: Vec::new(),
        };
        for index in 0..workers.max(1) {
            let shared = pool.shared.clone();
            let handle = std::thread::Builder::new()
                .name(format!("rask-worker-{index}"))
                .spawn(move || worker_loop(&shared, index))?;
            pool.threads.push(handle);
        }
        Ok(pool)
    }

    /// Number of pool threads (a run also uses the calling thread).
    pub fn workers(&self) -> usize {
        self.threads.len()
    }
}

thread_local! {
    /// True on pool threads: a compute started there comes from inside a task.
    static IN_POOL: Cell<bool> = const { Cell::new(false) };
}

/// A pool thread: waits for a run it has not joined yet, works on it until
/// it ends, and goes back to waiting.
fn worker_loop(shared: &PoolShared, index: usize) {
    IN_POOL.with(|p| p.set(true));
    loop {
        let (run, deque) = {
            let mut runs = shared.runs.lock().ignore_poison();
            loop {
                if shared.shutdown.load(Ordering::Acquire) {
                    return;
                }
                if let Some(joined) = runs
                    .iter()
                    .find_map(|r| r.claim(index).map(|deque| (r.clone(), deque)))
                {
                    break joined;
                }
                // The timeout only bounds how long a missed wake-up could cost.
                runs = shared
                    .changed
                    .wait_timeout(runs, Duration::from_millis(100))
                    .ignore_poison()
                    .0;
            }
        };
        run.work(index, deque);
        run.leave();
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        {
            let _runs = self.shared.runs.lock().ignore_poison();
            self.shared.changed.notify_all();
        }
        for handle in self.threads.drain(..) {
            let _ = handle.join();
        }
    }
}

impl Scheduler for ThreadPool {
    fn name(&self) -> &'static str {
        "threads"
    }

    fn run(
        &self,
        job: &Arc<Job>,
        outputs: &[TaskId],
        events: &dyn Events,
    ) -> Result<Vec<Value>, Error> {
        let workers = self.threads.len();
        let plan = job.plan(outputs)?;
        // SAFETY: this function returns only after `wait_for_workers`, when
        // every thread that joined the run has left it, so `events` outlives all its uses.
        let run = Arc::new(unsafe { Run::new(job.clone(), plan, workers, events) });
        {
            let mut runs = self.shared.runs.lock().ignore_poison();
            runs.push(run.clone());
            self.shared.changed.notify_all();
        }
        if IN_POOL.with(Cell::get) {
            // A compute from inside a task: this pool thread would otherwise
            // sit idle, and if every pool thread did the same nothing would
            // run. Working on its own run keeps `workers` threads busy and
            // guarantees progress.
            run.work_as_owner(workers);
        } else {
            run.wait_until_over();
        }
        // No thread can join once the run is off the list; then wait for
        // those inside to leave before `events` goes out of scope.
        self.shared
            .runs
            .lock()
            .ignore_poison()
            .retain(|r| !Arc::ptr_eq(r, &run));
        run.wait_for_workers();
        run.outputs(outputs)
    }
}
