//! What can go wrong reading and computing a frame, each as one sentence
//! that names the file, the column or the type involved.

use std::fmt;

use crate::schema::Dtype;

/// An error from building or computing a frame.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameError {
    /// A glob pattern matched no file.
    NoMatch {
        /// The pattern.
        pattern: String,
    },
    /// A named file does not exist.
    MissingFile {
        /// The path.
        path: String,
    },
    /// A file could not be read.
    Io {
        /// The path.
        path: String,
        /// What the operating system said.
        message: String,
    },
    /// A file has no header line.
    NoHeader {
        /// The path.
        path: String,
    },
    /// A file's header differs from the first file's.
    HeaderMismatch {
        /// The file that differs.
        path: String,
        /// The first file.
        first: String,
        /// The first file's columns.
        expected: Vec<String>,
        /// This file's columns.
        found: Vec<String>,
    },
    /// A column the frame does not have.
    MissingColumn {
        /// The column asked for.
        column: String,
        /// The columns there are.
        available: Vec<String>,
    },
    /// A value that does not parse as its column's type.
    BadRow {
        /// The file.
        path: String,
        /// The 1-based line the row starts on.
        line: u64,
        /// The column.
        column: String,
        /// The text found.
        text: String,
        /// The column's type.
        expected: Dtype,
    },
    /// A row that is not well-formed CSV (an unterminated quote, text after
    /// a closing quote, a line break inside quotes in a file read in ranges).
    Malformed {
        /// The file.
        path: String,
        /// The 1-based line the row starts on.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// `CsvOptions` name a dialect the scanner cannot read (a line break as
    /// the delimiter or the quote, or one byte as both).
    Dialect {
        /// The delimiter asked for.
        delimiter: u8,
        /// The quote asked for.
        quote: u8,
        /// Why it cannot be read.
        reason: String,
    },
    /// An operation the column's type does not support (`sum` of text).
    WrongType {
        /// The operation.
        op: String,
        /// The column.
        column: String,
        /// The column's type.
        dtype: Dtype,
    },
    /// An integer sum past the range of `i64`.
    Overflow {
        /// The column.
        column: String,
    },
    /// Encoding or decoding an Arrow IPC batch failed.
    Ipc {
        /// What Arrow said.
        message: String,
    },
    /// An Arrow kernel failed.
    Arrow {
        /// What Arrow said.
        message: String,
    },
    /// The run failed: a task's error (often one of the above, as text),
    /// or the scheduler's.
    Compute(rask_core::Error),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::NoMatch { pattern } => write!(f, "no file matches `{pattern}`"),
            FrameError::MissingFile { path } => write!(f, "file `{path}` does not exist"),
            FrameError::Io { path, message } => write!(f, "cannot read `{path}`: {message}"),
            FrameError::NoHeader { path } => {
                write!(
                    f,
                    "file `{path}` is empty: a CSV file needs a header line naming its columns"
                )
            }
            FrameError::HeaderMismatch {
                path,
                first,
                expected,
                found,
            } => write!(
                f,
                "file `{path}` has columns {found:?}, but `{first}` has {expected:?}"
            ),
            FrameError::MissingColumn { column, available } => {
                write!(f, "no column `{column}`; the columns are {available:?}")
            }
            FrameError::BadRow {
                path,
                line,
                column,
                text,
                expected,
            } => write!(
                f,
                "`{path}` line {line}, column `{column}`: {text:?} is not {}",
                expected.described()
            ),
            FrameError::Malformed {
                path,
                line,
                message,
            } => write!(f, "`{path}` line {line}: {message}"),
            FrameError::Dialect {
                delimiter,
                quote,
                reason,
            } => write!(
                f,
                "cannot read CSV with delimiter {:?} and quote {:?}: {reason}",
                char::from(*delimiter),
                char::from(*quote)
            ),
            FrameError::WrongType { op, column, dtype } => write!(
                f,
                "cannot take the {op} of column `{column}`: it holds {}",
                dtype.plural()
            ),
            FrameError::Overflow { column } => {
                write!(f, "the sum of column `{column}` overflows a 64-bit integer")
            }
            FrameError::Ipc { message } => write!(f, "Arrow IPC: {message}"),
            FrameError::Arrow { message } => write!(f, "Arrow: {message}"),
            FrameError::Compute(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for FrameError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FrameError::Compute(e) => Some(e),
            _ => None,
        }
    }
}

impl From<rask_core::Error> for FrameError {
    fn from(e: rask_core::Error) -> Self {
        FrameError::Compute(e)
    }
}
