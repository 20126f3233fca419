//! The messages between the main thread and its workers.
//!
//! Every `postMessage` carries one transferable `ArrayBuffer` holding a
//! postcard-encoded batch (`Vec`) of messages, so that several assignments
//! or results cross in one event. Result bytes are `serde_bytes`, which
//! postcard copies as one slice instead of byte by byte.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::spec::GraphSpec;

/// Main thread to worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToWorker<'a> {
    /// Start run `run` of this graph, dropping whatever the last run left.
    Load { run: u32, spec: Cow<'a, GraphSpec> },
    /// The encoded result of `task`, made by another worker, needed here.
    Put { task: u32, bytes: ByteBuf },
    /// Run `task` now; send its encoded result back when it is an output.
    Run { task: u32, output: bool },
    /// Send the encoded result of `task` (another worker needs it).
    Send { task: u32 },
    /// Drop the result of `task`: nothing needs it any more.
    Release { task: u32 },
    /// Run `run` is over: drop its graph and results.
    End { run: u32 },
}

/// Worker to main thread.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    /// `task` finished between these epoch times; `value` when an output.
    Done {
        run: u32,
        task: u32,
        start_ms: f64,
        end_ms: f64,
        value: Option<ByteBuf>,
    },
    /// `task` failed with this message.
    Failed {
        run: u32,
        task: u32,
        message: String,
    },
    /// The result of `task`, as asked for by `Send`.
    Data { run: u32, task: u32, bytes: ByteBuf },
    /// The worker cannot take part in `run` (bad graph, bad message).
    Refused { run: u32, message: String },
}

/// A batch as bytes.
pub fn encode<T: Serialize>(batch: &[T]) -> Result<Vec<u8>, String> {
    postcard::to_allocvec(batch).map_err(|e| format!("cannot encode a message batch: {e}"))
}
