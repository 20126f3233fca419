//! Jobs across the wire: the graph, its ops and its literals as a
//! [`JobSpec`], and how a worker turns one back into a runnable [`Job`].
//!
//! An op reaches a worker in one of two ways:
//! - **by name**, looked up in the worker's [`Registry`] (the built-in ops of
//!   `rask-worker`, or the ops a user's own worker binary registers);
//! - **by code reference**, for stateless functions (fn items and closures
//!   that capture nothing, see [`Op::rebuilder`]) on workers started from
//!   the same binary by [`Client::local`](crate::Client::local). The
//!   reference is the function's offset from an anchor function in this
//!   binary, which is the same in every process running it, whatever the
//!   address-space randomisation. Each reference carries a SipHash tag
//!   keyed with a secret only the client and the workers it started know,
//!   so a worker calls no address it was not given by that client.
//!
//! Literal and result types travel the same way: by a codec reference, or
//! by type name among the codecs the worker knows.

mod code;
mod encode;
mod load;
mod spec;
#[cfg(test)]
mod tests;

pub use code::CodeKey;
#[cfg(any(test, feature = "fuzzing"))]
pub use encode::encode_job;
pub use encode::encode_job_with;
pub use load::{Loader, SharedJob};
pub use spec::{decode_spec, JobOptions, JobSpec};
// Specs built by hand: the in-memory scheduler tests and the simulator.
#[allow(unused_imports)]
pub(crate) use spec::{CodecSpec, External, OpSpec};

/// The op of a task whose result comes from an earlier job (a future
/// passed as an argument); it never runs.
pub const EXTERNAL_OP: &str = "rask-external";
