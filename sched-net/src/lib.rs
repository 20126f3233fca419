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
//! - The **dashboard** is HTTP served by the scheduler's
//!   own loop (port 8787 by default): the task stream, progress per task
//!   prefix and the workers table, fed by a JSON API.
//!
//! The wire protocol is specified in `src/protocol/README.md`; how ops
//! reach workers is told in `src/portable/mod.rs`. Neither is public API:
//! the `fuzzing` feature opens both to the fuzz targets in `fuzz/`, with
//! no promise of stability.
//!
//! The library logs through the `log` crate and never writes to stderr on
//! its own; [`log_to_stderr`] is the logger of rask's own processes.

/// Items that only the fuzz targets call from outside the crate: public
/// with the `fuzzing` feature, crate-private without it, so that the
/// public surface stays what users need.
macro_rules! fuzzing_pub {
    ($(#[$attr:meta])* fn $($rest:tt)*) => {
        #[cfg(feature = "fuzzing")]
        $(#[$attr])*
        pub fn $($rest)*
        #[cfg(not(feature = "fuzzing"))]
        $(#[$attr])*
        pub(crate) fn $($rest)*
    };
}
pub(crate) use fuzzing_pub;

pub mod builtin;
mod client;
mod conn;
mod dashboard;
mod local;
#[cfg(feature = "fuzzing")]
pub mod portable;
#[cfg(not(feature = "fuzzing"))]
mod portable;
#[cfg(feature = "fuzzing")]
pub mod protocol;
#[cfg(not(feature = "fuzzing"))]
mod protocol;
pub mod scheduler;
#[cfg(feature = "sim")]
pub mod sim;
mod stderr_log;
mod submit;
pub mod worker;

pub use client::{Client, ClientOptions, FutureStatus, QueueItem, RawFuture};
pub use local::{LocalCluster, LocalOptions};
pub use portable::CodeKey;
pub use protocol::{DataKey, JobId, WorkerId};
pub use stderr_log::log_to_stderr;
pub use submit::SubmitOptions;
