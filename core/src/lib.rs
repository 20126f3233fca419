//! `rask-core`: the graph IR and the scheduling semantics of rask, with no IO.
//!
//! A task graph is a [`Graph`]: dense [`TaskId`]s, each an [`OpId`] and a range
//! into one flat array of [`Arg`]s (a dependency on another task, or a literal).
//! [`Plan`] decides which tasks an output needs and in what order they should
//! run ([`order`]); [`ExecState`] is the state machine that every scheduler
//! drives: it hands out ready tasks by priority, takes completions, and says
//! which results may be dropped. It reads no clock, spawns nothing and does no
//! IO, so the same semantics hold on the calling thread, a thread pool, forked
//! processes, a cluster, or a browser.
//!
//! Storage is generic ([`Storage`]): [`Heap`] for `Vec`s, [`Fixed`] for
//! `heapless::Vec`s, so a graph can run with no heap at all.
//!
//! With the `alloc` feature come the pieces that need a heap: type-erased
//! shared [`Value`]s, typed [`Op`] registration in a [`Registry`], [`Job`]
//! (a graph with its ops and literals), the [`Scheduler`] contract and the
//! user-facing [`Error`].
//!
//! ```
//! use rask_core::{Arg, ExecState, Graph, OpId};
//!
//! // a -> b -> c
//! let mut g: Graph = Graph::new();
//! let a = g.add_task(OpId(0), &[]).unwrap();
//! let b = g.add_task(OpId(0), &[Arg::dep(a)]).unwrap();
//! let c = g.add_task(OpId(0), &[Arg::dep(b)]).unwrap();
//! let mut state = ExecState::new(&g, &[c]).unwrap();
//! let mut order = Vec::new();
//! while let Some(t) = state.pop_ready() {
//!     order.push(t);
//!     state.complete(t, |_released| {}).unwrap();
//! }
//! assert!(state.is_finished());
//! assert_eq!(order, [a, b, c]);
//! ```
//!
//! Features: `std` (default) = `alloc` + panic catching in ops and
//! [`IgnorePoison`] for locks; `alloc` =
//! everything that needs a heap. With neither, the crate is `no_std` and
//! allocation-free.

#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

/// Marks items that need the `alloc` feature, in code and in the docs.
macro_rules! cfg_alloc {
    ($($item:item)*) => {
        $(
            #[cfg(feature = "alloc")]
            #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
            $item
        )*
    };
}

mod events;
mod exec;
mod graph;
mod order;
mod ready;
pub mod splitmix;
mod storage;

pub use events::{Events, EventsList, NoEvents, RunInfo, TaskSpan};
pub use exec::{ExecError, ExecState, Plan, TaskState};
pub use graph::{Arg, ArgKind, Graph, GraphError, LitId, OpId, TaskId};
pub use order::{order, validate};
pub use storage::{Buf, CapacityError, Fixed, Heap, Storage};

cfg_alloc! {
    pub mod hub;
}

cfg_alloc! {
    mod error;
    mod frames;
    mod held;
    mod job;
    mod op;
    mod results;
    mod rewrite;
    mod scheduler;
    mod value;
}

cfg_alloc! {
    pub use error::Error;
    pub use frames::{bulk_head, Bulk, BulkRefused, FrameInbox, OversizedFrame, BULK, BULK_HEAD};
    pub use held::{wrong_count, Held, Holder, Persistable};
    pub use results::Results;
    pub use rewrite::{cull, fuse};
    pub use job::{Job, JobBuilder, Lit};
    pub use op::{fallible, Args, Codec, Fallible, Fetch, Inputs, IntoOp, Op, Registry, TaskError};
    #[doc(hidden)]
    pub use op::{FallibleMarker, VariadicMarker};
    pub use scheduler::{report_run, Scheduler};
    pub use value::Value;
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
mod sync;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use sync::IgnorePoison;
