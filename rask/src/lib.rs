//! `rask`: Dask's task scheduling, in Rust. Build a task graph with
//! [`delayed`] functions, then compute it on the scheduler of your choice:
//! the calling thread (`sync`), a thread pool (`threads`, the default), and
//! more backends behind cargo features. Every scheduler computes the same
//! result; only speed differs.
//!
//! ```
//! use rask::{delayed, delayed_many, Inputs, Options};
//!
//! fn square(x: &i64) -> i64 { x * x }
//!
//! let square = delayed(square);
//! let squares: Vec<_> = (1..10i64).map(|i| square.call((i,))).collect();
//! let total = delayed_many(|xs: Inputs<i64>| xs.sum::<i64>()).call(squares);
//! assert_eq!(total.compute().unwrap(), 285);
//! assert_eq!(total.compute_with(&Options::new().scheduler("sync")).unwrap(), 285);
//! ```
//!
//! Scheduler selection follows Dask's names and precedence (see
//! [`schedulers`]); [`ProgressBar`] and [`Profiler`] are [`Events`] sinks.
//! Collections (arrays, bags, frames) are [`Persistable`]: `client.persist(&x)`
//! keeps their chunks on a cluster, `x.persist_with(&*scheduler)` in this
//! process.
//!
//! Crates: `rask-core` (graph IR, `ExecState`, ops), `rask-sched-sync`,
//! `rask-sched-threads` (feature `threads`, on by default).

/// The README's example is compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExample;

mod compute;
mod delayed;
#[cfg(all(feature = "net", unix))]
pub mod distributed;
#[cfg(all(feature = "net", unix))]
mod persist;
mod profiler;
#[cfg(feature = "progress")]
mod progress;
pub mod schedulers;

pub use compute::compute_job;
pub use delayed::{
    compute_all, compute_many, delayed, delayed_local, delayed_many, Delayed, DelayedFn,
    DelayedTuple, Input, IntoArgs, IntoInput, Local,
};
#[cfg(all(feature = "net", unix))]
pub use distributed::{Client, Future};
pub use profiler::{Profiler, TaskRecord};
#[cfg(feature = "progress")]
pub use progress::ProgressBar;
pub use schedulers::{
    current_backend, reset_scheduler, scheduler, scheduler_by_name, scoped, set_scheduler, Backend,
    Options, ScopeGuard, SCHEDULER_NAMES,
};

pub use rask_core::{
    fallible, Arg, Error, Events, EventsList, Held, Holder, Inputs, Job, JobBuilder, NoEvents, Op,
    Persistable, Registry, RunInfo, Scheduler, TaskId, TaskSpan, Value,
};
