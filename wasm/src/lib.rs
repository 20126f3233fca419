//! `rask-wasm`: rask in the browser.
//!
//! The same [`rask_core`] graph IR and `ExecState`, compiled to
//! `wasm32-unknown-unknown`, run two ways:
//! - the **sync scheduler** ([`rask_sched_sync::SyncScheduler`]) on the
//!   calling thread — the page's main thread or a worker;
//! - the **Web Worker scheduler** (feature `workers`, on by default): `n`
//!   module Workers each instantiate this same module and its op registry;
//!   the main thread drives `ExecState` through the core's hub
//!   ([`rask_core::hub`], its families rule), sends tasks and receives results as
//!   postcard bytes in transferable `ArrayBuffer`s, never blocks, and
//!   settles a Promise. Results stay in the worker that made them; a
//!   dependent runs where its inputs are.
//!
//! Graphs are [`GraphSpec`]s of built-in [`ops`] (numbers; `f64` array
//! chunks: random, elementwise math, reductions) and of a crate's own ops
//! ([`ops::extend`], from the module's start function, so that every
//! worker's instance has them too), built from JavaScript through
//! [`api::Graph`] or from Rust directly, and computed with [`compute`]
//! (Rust, async) or `runSync` / `WorkerPool.run` (JavaScript).
//! `www/` holds the demo page and `worker.js`; `cargo xtask wasm` builds it.

pub mod api;
pub mod chunk;
mod clock;
mod compute;
mod convert;
pub mod error;
pub mod ops;
pub mod spec;
pub mod stream;
mod sync;

#[cfg(feature = "workers")]
mod drive;
#[cfg(feature = "workers")]
mod pool;
#[cfg(feature = "workers")]
pub mod wire;
#[cfg(feature = "workers")]
pub mod worker;
#[cfg(feature = "workers")]
mod worker_entry;

pub use chunk::Chunk;
pub use compute::{compute, Backend};
pub use error::RunError;
#[cfg(feature = "workers")]
pub use pool::Pool;
pub use spec::{ArgSpec, GraphSpec, TaskSpec};
pub use stream::TaskRecord;

/// Runs `spec` on the calling thread (the sync scheduler); results of
/// `outputs` and, when `record` is set, the task stream.
pub use sync::run as run_sync;
