//! The lazy side of an array: an expression DAG over chunk-aligned leaves.
//!
//! Every node of one expression has the same shape and chunks, so the
//! whole DAG evaluates chunk by chunk: graph building turns it into one
//! [`Program`](crate::program::Program) run once per chunk. Leaves are
//! generated in place (random numbers, constants) or come in as blocks
//! (data given by the user, results of reductions, and "staged" arrays: the
//! result of another expression that could not be fused into this one).

use std::any::TypeId;
use std::fmt;
use std::sync::Arc;

use ndarray::ArrayD;
use rask_core::{Held, Op};

use crate::chunks::Chunks;
use crate::kernels::{Binary, Unary};
use crate::ops::EvalOp;
use crate::reduce::ReduceNode;

/// A node of an array expression.
pub(crate) enum Expr {
    /// Uniform [0, 1) numbers, generated per chunk from the seed.
    Random {
        seed: u64,
    },
    /// The same number everywhere.
    Const(f64),
    /// The user's data, cut into chunks when the graph is built.
    Data(Arc<ArrayD<f64>>),
    /// Another array computed by its own tasks.
    Staged(Arc<Core>),
    /// The result of a reduction.
    Reduced(Arc<ReduceNode>),
    /// Chunks computed earlier and kept (a persisted array), one per chunk
    /// in C order of the chunk grid.
    Held(Arc<[Held]>),
    Unary(Unary, Arc<Expr>),
    Binary(Binary, Arc<Expr>, Arc<Expr>),
    /// The array's user function (see [`Core::map`]).
    Map(Arc<Expr>),
}

impl Expr {
    /// A short description for task keys: the outermost operation.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Expr::Random { .. } => "random",
            Expr::Const(_) => "full",
            Expr::Data(_) => "array",
            Expr::Staged(_) => "stage",
            Expr::Reduced(_) => "reduced",
            Expr::Held(_) => "persisted",
            Expr::Unary(op, _) => op.name(),
            Expr::Binary(op, _, _) => op.name(),
            Expr::Map(_) => "map",
        }
    }
}

/// An array: shape, chunks, and the expression of its elements.
pub(crate) struct Core {
    pub(crate) shape: Vec<usize>,
    pub(crate) chunks: Chunks,
    pub(crate) expr: Arc<Expr>,
    /// The one user function the expression's `Map` nodes apply. One per
    /// expression, because it is baked into the op's type (so that the op
    /// travels by code reference to distributed workers); combining two
    /// different functions stages one side first.
    pub(crate) map: Option<Arc<dyn MapFn>>,
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Array(shape={:?}, chunks={:?}, {})",
            self.shape,
            self.chunks,
            self.expr.label()
        )
    }
}

/// A user function `f64 -> f64`, kept with its type so that its eval op
/// can be made.
pub(crate) trait MapFn: Send + Sync + 'static {
    /// The op that evaluates programs applying this function.
    fn eval_op(&self) -> Op;
    /// The function's type, when that alone identifies the function (a fn
    /// item or a closure that captures nothing).
    fn stateless_type(&self) -> Option<TypeId>;
}

/// A user function of type `F`.
pub(crate) struct MapOf<F>(pub(crate) F);

impl<F: Fn(f64) -> f64 + Copy + Send + Sync + 'static> MapFn for MapOf<F> {
    fn eval_op(&self) -> Op {
        Op::new("array-eval-map", EvalOp(self.0))
    }
    fn stateless_type(&self) -> Option<TypeId> {
        (std::mem::size_of::<F>() == 0).then(TypeId::of::<F>)
    }
}

/// True when both are the same function.
pub(crate) fn same_map(a: &Arc<dyn MapFn>, b: &Arc<dyn MapFn>) -> bool {
    Arc::ptr_eq(a, b)
        || matches!((a.stateless_type(), b.stateless_type()), (Some(x), Some(y)) if x == y)
}
