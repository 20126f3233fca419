//! What can be wrong with an array expression, said in one sentence that
//! names the shapes, chunks or axes at fault.

use std::fmt;

/// Why an array cannot be built or computed.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ArrayError {
    /// The chunk sizes do not fit the shape.
    BadChunks {
        /// The array's shape.
        shape: Vec<usize>,
        /// The chunk sizes given.
        chunks: Vec<usize>,
        /// What is wrong with them.
        reason: String,
    },
    /// The two sides of an elementwise operation have different shapes.
    ShapeMismatch {
        /// The operation (`add`, `sub`, ...).
        op: &'static str,
        /// The left side's shape.
        left: Vec<usize>,
        /// The right side's shape.
        right: Vec<usize>,
    },
    /// The two sides of an elementwise operation have the same shape but
    /// are cut into different chunks.
    ChunkMismatch {
        /// The operation.
        op: &'static str,
        /// The left side's chunks, per axis.
        left: Vec<Vec<usize>>,
        /// The right side's chunks, per axis.
        right: Vec<Vec<usize>>,
    },
    /// An axis does not exist or is named twice.
    BadAxis {
        /// The reduction (`sum`, `mean`, ...).
        op: &'static str,
        /// The axis at fault.
        axis: usize,
        /// The array's number of dimensions.
        ndim: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `min`/`max` over an axis of length 0, which has no identity.
    EmptyReduction {
        /// The reduction.
        op: &'static str,
        /// The array's shape.
        shape: Vec<usize>,
    },
}

impl fmt::Display for ArrayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArrayError::BadChunks { shape, chunks, reason } => {
                write!(f, "chunks {chunks:?} do not fit shape {shape:?}: {reason}")
            }
            ArrayError::ShapeMismatch { op, left, right } => {
                write!(f, "cannot {op} arrays of shapes {left:?} and {right:?}")
            }
            ArrayError::ChunkMismatch { op, left, right } => write!(
                f,
                "cannot {op} arrays chunked differently: {left:?} and {right:?} (build both with the same chunks)"
            ),
            ArrayError::BadAxis { op, axis, ndim, reason } => {
                write!(f, "{op}: axis {axis} {reason} (the array has {ndim} dimensions)")
            }
            ArrayError::EmptyReduction { op, shape } => write!(
                f,
                "{op} of an array of shape {shape:?} reduces an axis of length 0, which has no identity"
            ),
        }
    }
}

impl std::error::Error for ArrayError {}

impl From<ArrayError> for rask_core::Error {
    fn from(e: ArrayError) -> Self {
        rask_core::Error::Backend {
            backend: "array",
            message: e.to_string(),
        }
    }
}
