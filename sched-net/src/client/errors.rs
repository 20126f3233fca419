//! The errors a client reports, each as the [`Error`] variant a caller
//! branches on (see [`Error`]'s documentation): every sentence a user
//! reads is made here or passed through from the scheduler.

use rask_core::Error;

/// The name every error of this backend starts with.
const BACKEND: &str = "distributed";

/// A failure with nothing a caller could do differently about it.
pub(super) fn net_error(message: impl Into<String>) -> Error {
    Error::Backend {
        backend: BACKEND,
        message: message.into(),
    }
}

/// The scheduler could not be reached or did not answer the handshake.
pub(super) fn unreachable(message: String) -> Error {
    Error::Unreachable {
        backend: BACKEND,
        message,
    }
}

/// The scheduler refused this client at the handshake.
pub(super) fn refused(message: String) -> Error {
    Error::Refused {
        backend: BACKEND,
        message,
    }
}

/// The connection to the scheduler is gone.
pub(super) fn disconnected() -> Error {
    Error::Disconnected {
        backend: BACKEND,
        message: "lost the connection to the scheduler".into(),
    }
}

/// The client's IO thread is gone, and with it the connection.
pub(super) fn io_thread_stopped() -> Error {
    Error::Disconnected {
        backend: BACKEND,
        message: "the client's IO thread stopped".into(),
    }
}

/// The scheduler refused the job, or could not go on with it.
pub(super) fn job_refused(message: String) -> Error {
    Error::JobRefused {
        backend: BACKEND,
        message,
    }
}

/// A wait with a limit ran past it.
pub(super) fn timeout(message: String) -> Error {
    Error::Timeout {
        backend: BACKEND,
        message,
    }
}

/// The job of this result was cancelled.
pub(super) fn cancelled(message: String) -> Error {
    Error::Cancelled {
        backend: BACKEND,
        message,
    }
}
