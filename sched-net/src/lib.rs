//! `rask-sched-net`: the distributed runtime. One scheduler, many workers,
//! many clients, over TCP with mio event loops.
//!
//! - The **scheduler** ([`scheduler`]) keeps task metadata only: it plans
//!   each job with the core's `ExecState`, places each task on the worker
//!   where it would start soonest (its queue plus the bytes of inputs it
//!   lacks), holds root tasks back so no worker gets far ahead of its
//!   threads, steals queued work for idle workers, and recomputes results
//!   lost with a dead worker from their lineage.
//! - A **worker** ([`worker`]) runs tasks on its threads, keeps results in
//!   memory and serves them to other workers and to clients directly.
//! - The **client** ([`Client`]) submits graphs and fetches results from
//!   the workers; [`Client::local`] starts a scheduler and worker processes
//!   re-executed from the current binary, nothing to install.
//!
//! - The **dashboard** ([`dashboard`]) is HTTP served by the scheduler's
//!   own loop (port 8787 by default): the task stream, progress per task
//!   prefix and the workers table, fed by a JSON API.
//!
//! The wire protocol is in [`protocol`] (specified in its `README.md`);
//! how ops reach workers is in [`portable`].

pub mod builtin;
pub mod client;
mod conn;
pub mod dashboard;
pub mod local;
pub mod portable;
pub mod protocol;
pub mod scheduler;
#[cfg(feature = "sim")]
pub mod sim;
mod submit;
pub mod worker;

pub use client::QueueItem;
pub use client::{Client, ClientOptions, FutureStatus, RawFuture};
pub use local::LocalOptions;
pub use submit::SubmitOptions;
