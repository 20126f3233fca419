//! `rask-sched-threads`: runs task graphs on a persistent pool of threads.
//!
//! One pool serves every compute (default one thread per core). A compute
//! publishes a [`run`](crate::run) to the pool; idle workers join it, each
//! with its own LIFO deque, and steal from the run's injector (seeded with
//! the first ready tasks in priority order) and from each other when their
//! deque runs dry, so exactly `num_workers` threads execute tasks. A compute
//! started from inside a task (on a pool thread) works on its own run, so it
//! makes progress even when every other pool thread is busy: nested computes
//! cannot deadlock.
//!
//! The hot path holds no lock and allocates only the task's result: each
//! task has an atomic count of inputs still missing and of dependents still
//! to read it, the same counts [`ExecState`](rask_core::ExecState) keeps,
//! driven with atomics instead of a lock. Tests check both give the same
//! results and errors on random graphs.
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
