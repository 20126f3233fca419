//! The persistent pool: threads that wait for runs and join them.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

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
    /// Pool threads waiting on `changed` (changed only under `runs`' lock).
    idle: AtomicUsize,
    shutdown: AtomicBool,
}

impl PoolShared {
    /// Wakes one idle pool thread, if there is one, to join a run that has
    /// work to spare. The caller's run is already on the list (see the
    /// crate docs: a thread that went idle after that would have joined it).
    pub(crate) fn wake_idle(&self) {
        if self.idle.load(Ordering::SeqCst) > 0 {
            let _runs = self.runs.lock().ignore_poison();
            self.changed.notify_one();
        }
    }
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
            idle: AtomicUsize::new(0),
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

/// A pool thread: waits for a run it has not joined yet, works on it until
/// it ends, and goes back to waiting.
fn worker_loop(shared: &PoolShared, index: usize) {
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
                shared.idle.fetch_add(1, Ordering::SeqCst);
                runs = shared.changed.wait(runs).ignore_poison();
                shared.idle.fetch_sub(1, Ordering::SeqCst);
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
        let run =
            Arc::new(unsafe { Run::new(job.clone(), plan, workers, self.shared.clone(), events) });
        {
            let mut runs = self.shared.runs.lock().ignore_poison();
            runs.push(run.clone());
            // The calling thread takes the first ready task itself; pool
            // threads are woken only for the others, so a one-task compute
            // wakes none.
            let helpers = run
                .spare_at_start()
                .min(self.shared.idle.load(Ordering::SeqCst));
            for _ in 0..helpers {
                self.shared.changed.notify_one();
            }
        }
        // The caller works on its own run: it would otherwise sit idle, and
        // a compute from inside a task (on a pool thread) makes progress even
        // when every other pool thread is busy, so nested computes cannot
        // deadlock.
        run.work_as_owner();
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
