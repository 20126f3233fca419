//! `RunError`: why a run in the browser did not produce its outputs, as one
//! sentence that names the task (and the worker) involved.

use std::fmt;

/// Why a run failed.
#[derive(Clone, Debug, PartialEq)]
pub enum RunError {
    /// The graph is malformed: an unknown op, a cycle, a missing output.
    Graph(String),
    /// A task's op returned an error (or panicked, on the sync scheduler).
    Task {
        key: String,
        op: String,
        message: String,
    },
    /// A worker died while it was running `key`; it has been replaced.
    WorkerCrashed {
        worker: usize,
        key: String,
        message: String,
    },
    /// The browser refused something: a worker could not start, a message
    /// could not be posted or decoded.
    Browser(String),
    /// A result exists but cannot be handed to JavaScript.
    Output(String),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Graph(m) => write!(f, "invalid graph: {m}"),
            RunError::Task { key, op, message } => {
                write!(f, "task '{key}' (op {op}) failed: {message}")
            }
            RunError::WorkerCrashed { worker, key, message } => write!(
                f,
                "worker {worker} crashed while running task '{key}' (it has been replaced): {message}"
            ),
            RunError::Browser(m) => write!(f, "browser error: {m}"),
            RunError::Output(m) => write!(f, "cannot return the result: {m}"),
        }
    }
}

impl std::error::Error for RunError {}

impl From<rask_core::Error> for RunError {
    fn from(e: rask_core::Error) -> RunError {
        match e {
            rask_core::Error::TaskFailed { key, op, message } => {
                RunError::Task { key, op, message }
            }
            other => RunError::Graph(other.to_string()),
        }
    }
}
