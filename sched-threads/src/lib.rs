//! `rask-sched-threads`: runs task graphs on a persistent pool of threads.
//!
//! One pool serves every compute (default one thread per core). A compute
//! publishes a [`run`](crate::run) to the pool and works on it itself; pool
//! threads join it, each with its own LIFO deque, and steal from the run's
//! injector (seeded with the first ready tasks in priority order) and from
//! each other when their deque runs dry. At most `num_workers - 1` pool
//! threads join a run, so with the calling thread exactly `num_workers`
//! threads execute tasks. Because the caller always works on its own run, a
//! compute started from inside a task makes progress even when every other
//! pool thread is busy: nested computes cannot deadlock.
//!
//! The hot path holds no lock and allocates only the task's result: each
//! task has an atomic count of inputs still missing and of dependents still
//! to read it, the same counts [`ExecState`](rask_core::ExecState) keeps,
//! driven with atomics instead of a lock. Tests check both give the same
//! results and errors on random graphs.
//!
//! # Sleeping and waking
//!
//! A one-task compute should cost what the task costs, so waking is lazy:
//! a pool thread is woken only when a run has work to spare, and the
//! calling thread never waits for a wake-up to start. No wait has a
//! timeout; each wake-up below is guaranteed, not merely likely.
//!
//! - **Idle pool threads** wait on the pool's condvar, counted in `idle`,
//!   after scanning the run list under the pool's lock and finding no run
//!   to join. A thread joins any run that is not over and has room for
//!   another helper, whether or not it has work at that moment. So a run
//!   on the list never lacks a helper because one went idle after it was
//!   published: only threads that were idle before it (and saw the
//!   publication's lock) can be missed, and those are woken by whoever has
//!   work to spare: the publisher, one per extra ready task, and any
//!   participant that makes more tasks ready than it keeps (`wake_idle`,
//!   under the pool's lock, so the notification cannot fall between a
//!   thread's scan and its wait).
//! - **Idle participants** of a run spin, yield, then sleep on the run's
//!   condvar, counted in `sleepers`. A sleeper increments `sleepers`, issues
//!   a SeqCst fence, and only then checks for work and for the end of the
//!   run; a participant that pushes work, or ends the run, issues a SeqCst
//!   fence after doing so and then reads `sleepers`. Of two fenced
//!   sides, at least one sees the other's write: either the sleeper sees
//!   the work (or the end) and does not sleep, or the waker sees the
//!   sleeper and notifies under the run's lock, which the sleeper holds
//!   from its check until its wait begins. No notify is issued when nobody
//!   sleeps, so a run whose participants stay busy makes no system calls.
//! - **The end of a run**: the thread that finishes the last output (or
//!   records the first failure) wakes the sleepers as above. The calling
//!   thread then takes the run off the list, so no thread can join it any
//!   more, and waits on the run's `ended` condvar until `active` (pool
//!   threads inside) is zero; the thread that brings `active` to zero
//!   notifies `ended` under the run's lock, which the owner holds from its
//!   check until its wait begins.
//!
//! ```
//! use std::sync::Arc;
//! use rask_core::{Arg, JobBuilder, NoEvents, Op, Scheduler};
//!
//! let inc = Op::new("inc", |x: &i64| x + 1);
//! let mut b = JobBuilder::new();
//! let op = b.op(&inc);
//! let zero = b.lit(0i64);
//! let one = b.task(op, &[zero]);
//! let two = b.task(op, &[Arg::dep(one)]);
//! let job = Arc::new(b.finish());
//!
//! let pool = rask_sched_threads::ThreadPool::new(2).unwrap();
//! let out = pool.run(&job, &[two], &NoEvents).unwrap();
//! assert_eq!(out[0].downcast_ref::<i64>(), Some(&2));
//! ```

mod pool;
mod run;

pub use pool::{default_workers, ThreadPool};
