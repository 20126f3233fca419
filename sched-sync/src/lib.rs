//! `rask-sched-sync`: runs a task graph on the calling thread, one task at a
//! time in priority order. Deterministic, so it is the debugging default,
//! and the reference every other backend is tested against.
//!
//! Two entry points drive the same [`ExecState`]:
//! - [`SyncScheduler`] (feature `alloc`) runs a [`Job`](rask_core::Job) of
//!   shared, type-erased values;
//! - [`run_fixed`] runs a fixed-capacity graph (`Graph<Fixed<N>>`) of plain
//!   `fn` ops over one value type with no heap allocation at all, for
//!   `no_std` targets.
//!
//! ```
//! use rask_core::{Arg, Fixed, Graph, OpId};
//!
//! fn one(_: &[i64]) -> Result<i64, &'static str> { Ok(1) }
//! fn sum(xs: &[i64]) -> Result<i64, &'static str> { Ok(xs.iter().sum()) }
//!
//! let mut g: Graph<Fixed<16>> = Graph::new();
//! let a = g.add_task(OpId(0), &[]).unwrap();
//! let b = g.add_task(OpId(0), &[]).unwrap();
//! let s = g.add_task(OpId(1), &[Arg::dep(a), Arg::dep(b)]).unwrap();
//! let total = rask_sched_sync::run_fixed(&g, &[one, sum], &[], s).unwrap();
//! assert_eq!(total, 2);
//! ```

#![no_std]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod fixed;
#[cfg(feature = "alloc")]
mod job;

pub use fixed::{run_fixed, FixedError, FixedOp};
#[cfg(feature = "alloc")]
pub use job::SyncScheduler;

#[doc(no_inline)]
pub use rask_core::ExecState;
