//! One compute on the pool: per-task atomic counters, result slots, deques.
//!
//! Memory ordering: a task's result is written to its slot before the task
//! decrements its dependents' `waiting` counts (AcqRel); the dependent that
//! brings a count to zero has therefore seen every input's slot. Likewise
//! every reader of a result decrements that result's `refs` after reading,
//! so the thread that brings `refs` to zero may drop it.
//!
//! Sleeping and waking follow the protocol in the crate docs; no wait here
//! has a timeout, so none can paper over a lost wake-up.

use std::cell::UnsafeCell;
use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use crossbeam_utils::CachePadded;
use rask_core::{Error, Events, Fetch, IgnorePoison, Job, Plan, RunInfo, TaskId, TaskSpan, Value};
use std::sync::Arc;

use crate::pool::PoolShared;

/// Idle rounds spent spinning (then yielding) before a worker sleeps.
const SPINS: u32 = 64;
const YIELDS: u32 = 16;

/// A result slot, written once by the task's own worker and read by its
/// dependents (see the module docs for why this is race-free).
struct Slot(UnsafeCell<Option<Value>>);

// SAFETY: access follows the happens-before edges set up by `waiting` and
// `refs` (module docs): one writer, readers only after it, dropper last.
unsafe impl Sync for Slot {}

pub(crate) struct Run {
    job: Arc<Job>,
    plan: Plan,
    waiting: Box<[AtomicU32]>,
    refs: Box<[AtomicU32]>,
    slots: Box<[Slot]>,
    injector: Injector<TaskId>,
    stealers: Box<[Stealer<TaskId>]>,
    /// Each participant's deque until it joins: pool thread `i` takes `i`,
    /// the calling thread takes the last.
    deques: Box<[Mutex<Option<Worker<TaskId>>>]>,
    outputs_left: CachePadded<AtomicUsize>,
    failed: CachePadded<AtomicBool>,
    error: Mutex<Option<Error>>,
    /// Pool threads inside the run (or about to see that they may not be).
    active: CachePadded<AtomicUsize>,
    /// How many pool threads may join: the calling thread makes up the
    /// pool's size, so exactly `workers` threads run tasks.
    helpers: usize,
    /// Tasks ready before any ran.
    ready_at_start: usize,
    /// Participants asleep on `wake`, or about to be.
    sleepers: CachePadded<AtomicUsize>,
    lock: Mutex<()>,
    /// Idle participants sleep here.
    wake: Condvar,
    /// The run's owner waits here for the pool threads to leave.
    ended: Condvar,
    pool: Arc<PoolShared>,
    events: &'static dyn Events,
    timed: bool,
    start: Instant,
}

impl Fetch for Run {
    #[inline]
    fn fetch(&self, task: TaskId) -> Option<&Value> {
        // SAFETY: ops fetch only their own task's dependencies, which are
        // complete (acquired through `waiting`) and not yet released (this
        // task has not decremented their `refs`).
        unsafe { (*self.slots.get(task.index())?.0.get()).as_ref() }
    }
}

impl Run {
    /// A run of `plan` for `workers` pool threads plus the calling thread.
    ///
    /// # Safety
    /// `events` must outlive every use by the run: the caller must not let
    /// it go before [`wait_for_workers`](Self::wait_for_workers) returns.
    pub(crate) unsafe fn new(
        job: Arc<Job>,
        plan: Plan,
        workers: usize,
        pool: Arc<PoolShared>,
        events: &dyn Events,
    ) -> Run {
        // SAFETY: lifetime extension covered by this function's contract.
        let events: &'static dyn Events =
            unsafe { std::mem::transmute::<&dyn Events, &'static dyn Events>(events) };
        let n = plan.len();
        let mut ready = Vec::new();
        let mut outputs = 0;
        let waiting = (0..n as u32)
            .map(|i| {
                let t = TaskId(i);
                let w = plan.dep_count(t);
                if plan.is_needed(t) {
                    if w == 0 {
                        ready.push(t);
                    }
                    outputs += usize::from(plan.is_output(t));
                }
                AtomicU32::new(w)
            })
            .collect();
        let refs = (0..n as u32)
            .map(|i| AtomicU32::new(plan.dependents(TaskId(i)).len() as u32))
            .collect();
        let slots = (0..n).map(|_| Slot(UnsafeCell::new(None))).collect();
        // Ids usually come in priority order already, which this sort detects.
        ready.sort_unstable_by_key(|&t| plan.priority(t));
        let injector = Injector::new();
        let ready_at_start = ready.len();
        for t in ready {
            injector.push(t);
        }
        let deques: Vec<Worker<TaskId>> = (0..=workers).map(|_| Worker::new_lifo()).collect();
        let stealers = deques.iter().map(Worker::stealer).collect();
        let deques = deques.into_iter().map(|d| Mutex::new(Some(d))).collect();
        let timed = events.wants_tasks();
        events.run_start(&RunInfo {
            tasks: plan.needed(),
            workers: workers + 1,
            job: Some(job.clone()),
        });
        Run {
            job,
            plan,
            waiting,
            refs,
            slots,
            injector,
            stealers,
            deques,
            outputs_left: CachePadded::new(AtomicUsize::new(outputs)),
            failed: CachePadded::new(AtomicBool::new(false)),
            error: Mutex::new(None),
            active: CachePadded::new(AtomicUsize::new(0)),
            helpers: workers.saturating_sub(1),
            ready_at_start,
            sleepers: CachePadded::new(AtomicUsize::new(0)),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            ended: Condvar::new(),
            pool,
            events,
            timed,
            start: Instant::now(),
        }
    }

    /// True once every output is done or a task failed.
    #[inline]
    fn is_over(&self) -> bool {
        self.outputs_left.load(Ordering::SeqCst) == 0 || self.failed.load(Ordering::SeqCst)
    }

    /// How many pool threads the tasks ready at the start could keep busy
    /// beside the calling thread.
    pub(crate) fn spare_at_start(&self) -> usize {
        self.ready_at_start.saturating_sub(1).min(self.helpers)
    }

    /// Pool thread `index` joins, taking its deque; `None` if the run is
    /// over, has all the helpers it may have, or the thread already joined.
    /// Called under the pool's lock, so claims never race each other.
    pub(crate) fn claim(&self, index: usize) -> Option<Worker<TaskId>> {
        // Count ourselves in before looking, so the owner either sees us in
        // `active` or we see the run over (both SeqCst).
        let before = self.active.fetch_add(1, Ordering::SeqCst);
        let deque = if before >= self.helpers || self.is_over() {
            None
        } else {
            self.deques
                .get(index)
                .and_then(|d| d.lock().ignore_poison().take())
        };
        if deque.is_none() {
            self.leave();
        }
        deque
    }

    /// A pool thread leaves the run.
    pub(crate) fn leave(&self) {
        if self.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            let _guard = self.lock.lock().ignore_poison();
            self.ended.notify_all();
        }
    }

    /// The calling thread works on its own run until it is over.
    pub(crate) fn work_as_owner(&self) {
        let me = self.deques.len() - 1;
        let deque = self.deques[me].lock().ignore_poison().take();
        if let Some(deque) = deque {
            self.work(me, deque);
        }
    }

    /// Waits until no pool thread is inside the run any more.
    pub(crate) fn wait_for_workers(&self) {
        let mut guard = self.lock.lock().ignore_poison();
        while self.active.load(Ordering::SeqCst) > 0 {
            guard = self.ended.wait(guard).ignore_poison();
        }
        drop(guard);
        self.events.run_finish(!self.failed.load(Ordering::SeqCst));
    }

    /// The outputs' results, or the first task error.
    pub(crate) fn outputs(&self, outputs: &[TaskId]) -> Result<Vec<Value>, Error> {
        if let Some(error) = self.error.lock().ignore_poison().take() {
            return Err(error);
        }
        outputs
            .iter()
            .map(|&o| {
                self.fetch(o).cloned().ok_or_else(|| Error::Backend {
                    backend: "threads",
                    message: format!("output `{}` has no result", self.job.key(o)),
                })
            })
            .collect()
    }

    /// The worker loop of participant `me`: run what is at hand, steal when
    /// empty, spin briefly, then sleep until woken.
    pub(crate) fn work(&self, me: usize, local: Worker<TaskId>) {
        let mut next = None;
        let mut idle = 0;
        while !self.is_over() {
            let task = next
                .take()
                .or_else(|| local.pop())
                .or_else(|| self.steal(me, &local));
            if let Some(task) = task {
                idle = 0;
                next = self.execute(task, me, &local);
                continue;
            }
            idle += 1;
            if idle <= SPINS {
                std::hint::spin_loop();
            } else if idle <= SPINS + YIELDS {
                std::thread::yield_now();
            } else {
                self.sleep();
            }
        }
    }

    fn steal(&self, me: usize, local: &Worker<TaskId>) -> Option<TaskId> {
        let n = self.stealers.len();
        // Retry only while some queue reported a lost race; bounded anyway.
        for _ in 0..64 {
            let mut retry = false;
            match self.injector.steal_batch_and_pop(local) {
                Steal::Success(t) => return Some(t),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            for i in 1..n {
                match self.stealers[(me + i) % n].steal() {
                    Steal::Success(t) => return Some(t),
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                break;
            }
        }
        None
    }

    fn has_work(&self) -> bool {
        !self.injector.is_empty() || self.stealers.iter().any(|s| !s.is_empty())
    }

    /// Sleeps until woken, unless there is work or the run is over. The
    /// fence pairs with the one in `wake_one` and `end` (crate docs).
    fn sleep(&self) {
        let guard = self.lock.lock().ignore_poison();
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if !self.is_over() && !self.has_work() {
            drop(self.wake.wait(guard));
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }

    /// After pushing work to spare: wakes a sleeping participant, or else
    /// an idle pool thread if the run has room for one.
    fn wake_one(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock().ignore_poison();
            self.wake.notify_one();
        } else if self.active.load(Ordering::SeqCst) < self.helpers {
            self.pool.wake_idle();
        }
    }

    /// After the run is over: wakes every sleeping participant.
    fn end(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock().ignore_poison();
            self.wake.notify_all();
        }
    }

    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Runs `task`; returns the newly ready dependent to run next (the one
    /// with the best priority), the others go to this worker's deque.
    fn execute(&self, task: TaskId, me: usize, local: &Worker<TaskId>) -> Option<TaskId> {
        // Nothing new starts after a failure.
        if self.failed.load(Ordering::Relaxed) {
            return None;
        }
        let start_ns = if self.timed {
            self.events.task_start(task, me);
            self.now_ns()
        } else {
            0
        };
        let outcome = self.job.execute(task, self);
        if self.timed {
            let span = TaskSpan {
                start_ns,
                end_ns: self.now_ns(),
                result_bytes: None,
            };
            self.events.task_finish(task, me, span);
        }
        let value = match outcome {
            Ok(value) => value,
            Err(error) => {
                self.fail(self.job.task_failed(task, error));
                return None;
            }
        };
        // SAFETY: only this worker runs `task`, and no dependent reads the
        // slot before the `waiting` decrements below publish it.
        unsafe { *self.slots[task.index()].0.get() = Some(value) };

        let mut keep: Option<TaskId> = None;
        let mut pushed = false;
        for &d in self.plan.dependents(task) {
            if self.waiting[d.index()].fetch_sub(1, Ordering::AcqRel) == 1 {
                match keep {
                    Some(k) if self.plan.priority(k) <= self.plan.priority(d) => local.push(d),
                    Some(k) => {
                        local.push(k);
                        keep = Some(d);
                    }
                    None => {
                        keep = Some(d);
                        continue;
                    }
                }
                pushed = true;
            }
        }
        for dep in self.job.graph().deps(task) {
            if self.refs[dep.index()].fetch_sub(1, Ordering::AcqRel) == 1
                && !self.plan.is_output(dep)
            {
                // SAFETY: this was the last reader of `dep` (see module docs).
                drop(unsafe { (*self.slots[dep.index()].0.get()).take() });
            }
        }
        if self.plan.is_output(task) && self.outputs_left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.end();
        }
        if pushed {
            self.wake_one();
        }
        keep
    }

    fn fail(&self, error: Error) {
        self.error.lock().ignore_poison().get_or_insert(error);
        self.failed.store(true, Ordering::SeqCst);
        self.end();
    }
}
