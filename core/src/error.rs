//! The errors a user sees: one sentence that names the task.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Why a computation did not produce its outputs.
///
/// A scheduler that reaches its workers over connections (the distributed
/// one) tells apart what a caller acts on differently: [`Unreachable`]
/// and [`Disconnected`] may pass on retrying, [`Refused`] needs another
/// token or build, [`JobRefused`] another job, [`Timeout`] a longer wait,
/// and [`Cancelled`] was asked for. Everything else a backend reports is
/// [`Backend`]. Each variant is shown as one sentence; these keep the
/// backend's name in front, as [`Backend`] does.
///
/// [`Unreachable`]: Error::Unreachable
/// [`Disconnected`]: Error::Disconnected
/// [`Refused`]: Error::Refused
/// [`JobRefused`]: Error::JobRefused
/// [`Timeout`]: Error::Timeout
/// [`Cancelled`]: Error::Cancelled
/// [`Backend`]: Error::Backend
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A task's op returned an error or panicked.
    TaskFailed {
        /// The task's key.
        key: String,
        /// Its op.
        op: String,
        /// What went wrong.
        message: String,
    },
    /// The graph has a dependency cycle through these tasks.
    Cycle {
        /// Keys on the cycle, in dependency order.
        keys: Vec<String>,
    },
    /// A task depends on something that is not in the graph.
    MissingDependency {
        /// The task.
        key: String,
        /// What it names.
        dep: String,
    },
    /// A task was referenced but never defined.
    UndefinedTask {
        /// The task.
        key: String,
    },
    /// A task uses an op that is not known where it would run.
    UnknownOp {
        /// The task.
        key: String,
        /// The op's name or id.
        op: String,
    },
    /// A requested output is not in the graph.
    NoSuchOutput {
        /// What was asked for.
        key: String,
    },
    /// An output had another type than the caller expected.
    OutputType {
        /// The output's key.
        key: String,
        /// The type asked for.
        expected: &'static str,
        /// The type it has.
        found: &'static str,
    },
    /// No scheduler has this name.
    UnknownScheduler {
        /// The name given.
        name: String,
        /// The names that exist.
        valid: &'static [&'static str],
    },
    /// The scheduler exists but its cargo feature is off.
    BackendDisabled {
        /// The scheduler.
        backend: &'static str,
        /// The feature of `rask` that enables it.
        feature: &'static str,
    },
    /// A task was running on this many workers, and each of them died.
    KilledWorker {
        /// The task.
        key: String,
        /// Its op.
        op: String,
        /// How many workers died running it.
        workers: u32,
    },
    /// A backend failed for a reason of its own (a lost worker, IO).
    Backend {
        /// The backend.
        backend: &'static str,
        /// What happened.
        message: String,
    },
    /// The scheduler could not be reached: its address does not resolve,
    /// nothing listens there, or it did not answer the handshake.
    Unreachable {
        /// The backend.
        backend: &'static str,
        /// What happened, naming the address.
        message: String,
    },
    /// The scheduler refused this client at the handshake: a wrong or
    /// missing token, or another protocol version (the message names both
    /// versions).
    Refused {
        /// The backend.
        backend: &'static str,
        /// What happened, with the scheduler's reason.
        message: String,
    },
    /// The connection to the scheduler broke; what was in flight on it
    /// did not finish.
    Disconnected {
        /// The backend.
        backend: &'static str,
        /// What happened.
        message: String,
    },
    /// The job cannot run on this backend: it holds a value that cannot
    /// leave its process, or the scheduler refused it or could not go on
    /// with it (a malformed spec, an invalid graph, a lost result that
    /// cannot be recomputed). Submitting it again fails the same way.
    JobRefused {
        /// The backend.
        backend: &'static str,
        /// Why.
        message: String,
    },
    /// A wait given a limit ran past it; what it waited for may still come.
    Timeout {
        /// The backend.
        backend: &'static str,
        /// What was waited for, and how long.
        message: String,
    },
    /// The caller cancelled the job this result belongs to.
    Cancelled {
        /// The backend.
        backend: &'static str,
        /// Which result.
        message: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TaskFailed { key, op, message } => write!(f, "task `{key}` (op `{op}`) failed: {message}"),
            Error::Cycle { keys } => {
                f.write_str("the graph has a cycle: ")?;
                for key in keys {
                    write!(f, "`{key}` -> ")?;
                }
                match keys.first() {
                    Some(first) => write!(f, "`{first}`"),
                    None => Ok(()),
                }
            }
            Error::MissingDependency { key, dep } => {
                write!(f, "task `{key}` depends on `{dep}`, which is not in the graph")
            }
            Error::UndefinedTask { key } => write!(f, "task `{key}` is referenced but never defined"),
            Error::UnknownOp { key, op } => write!(f, "task `{key}` uses op `{op}`, which is not registered"),
            Error::NoSuchOutput { key } => write!(f, "output `{key}` is not in the graph"),
            Error::OutputType { key, expected, found } => {
                write!(f, "output `{key}` is a {found}, not a {expected}")
            }
            Error::UnknownScheduler { name, valid } => {
                write!(f, "unknown scheduler `{name}`; valid names: {}", valid.join(", "))
            }
            Error::BackendDisabled { backend, feature } => write!(
                f,
                "the `{backend}` scheduler is not compiled in; enable the `{feature}` feature of `rask`"
            ),
            Error::KilledWorker { key, op, workers } => write!(
                f,
                "task `{key}` (op `{op}`) killed worker: {workers} workers died while running it"
            ),
            Error::Backend { backend, message }
            | Error::Unreachable { backend, message }
            | Error::Refused { backend, message }
            | Error::Disconnected { backend, message }
            | Error::JobRefused { backend, message }
            | Error::Timeout { backend, message }
            | Error::Cancelled { backend, message } => write!(f, "{backend} scheduler: {message}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
