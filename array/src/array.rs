//! The user's handle: a lazy chunked array, its constructors, elementwise
//! math (methods and `std::ops`), reductions and compute.
//!
//! Operations never fail on the spot: an operator cannot return a
//! `Result`, so an invalid operation (shapes that differ, an axis that
//! does not exist) yields an array that carries the error, every array
//! built from it carries it on, and `compute` returns it. [`Array::error`]
//! shows it early.

use std::fmt;
use std::ops::{Add, Div, Mul, Neg, Sub};
use std::sync::Arc;

use ndarray::{ArrayBase, ArrayD, Data, Dimension};
use rask_core::{wrong_count, Events, Held, Job, NoEvents, Persistable, Scheduler, TaskId};

use crate::chunks::{self, Chunks};
use crate::error::ArrayError;
use crate::expr::{same_map, Core, Expr, MapFn, MapOf};
use crate::graph::{self, ArrayGraph};
use crate::kernels::{Binary, Unary};
use crate::reduce::{per_axis, ReduceNode, Reduction, DEFAULT_SPLIT_EVERY};

/// A lazy, chunked, n-dimensional array of `f64`. Cloning is cheap.
#[derive(Clone)]
pub struct Array(Result<Arc<Core>, ArrayError>);

impl fmt::Debug for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Ok(core) => core.fmt(f),
            Err(e) => write!(f, "Array(error: {e})"),
        }
    }
}

fn leaf(shape: &[usize], chunk_sizes: &[usize], expr: Expr) -> Result<Array, ArrayError> {
    let chunks = chunks::regular(shape, chunk_sizes)?;
    Ok(Array(Ok(Arc::new(Core {
        shape: shape.to_vec(),
        chunks,
        expr: Arc::new(expr),
        map: None,
    }))))
}

/// Uniform random numbers on [0, 1): chunks of `chunks` elements per axis
/// (edge chunks shorter). The same seed and chunks give the same numbers
/// on every backend; each chunk is generated where it is used, in blocks.
pub fn random(shape: &[usize], chunks: &[usize], seed: u64) -> Result<Array, ArrayError> {
    leaf(shape, chunks, Expr::Random { seed })
}

/// `value` everywhere.
pub fn full(shape: &[usize], chunks: &[usize], value: f64) -> Result<Array, ArrayError> {
    leaf(shape, chunks, Expr::Const(value))
}

/// Zeros.
pub fn zeros(shape: &[usize], chunks: &[usize]) -> Result<Array, ArrayError> {
    full(shape, chunks, 0.0)
}

/// Ones.
pub fn ones(shape: &[usize], chunks: &[usize]) -> Result<Array, ArrayError> {
    full(shape, chunks, 1.0)
}

/// An in-memory array, cut into chunks when the graph is built (each chunk
/// travels with its task).
pub fn from_ndarray<S, D>(array: ArrayBase<S, D>, chunks: &[usize]) -> Result<Array, ArrayError>
where
    S: Data<Elem = f64>,
    D: Dimension,
{
    let array = array.into_owned().into_dyn();
    let shape = array.shape().to_vec();
    leaf(&shape, chunks, Expr::Data(Arc::new(array)))
}

impl Array {
    fn core(&self) -> Option<&Arc<Core>> {
        self.0.as_ref().ok()
    }

    fn with(&self, f: impl FnOnce(&Arc<Core>) -> Result<Core, ArrayError>) -> Array {
        Array(match &self.0 {
            Ok(core) => f(core).map(Arc::new),
            Err(e) => Err(e.clone()),
        })
    }

    /// The error this array carries, if an operation building it was invalid.
    pub fn error(&self) -> Option<&ArrayError> {
        self.0.as_ref().err()
    }

    /// The shape (empty for an array that carries an error).
    pub fn shape(&self) -> &[usize] {
        self.core().map_or(&[], |c| &c.shape)
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.shape().len()
    }

    /// Per axis, the lengths of its chunks.
    pub fn chunks(&self) -> &[Vec<usize>] {
        self.core().map_or(&[], |c| &c.chunks)
    }

    fn unary(&self, op: Unary) -> Array {
        self.with(|c| {
            Ok(Core {
                shape: c.shape.clone(),
                chunks: c.chunks.clone(),
                expr: Arc::new(Expr::Unary(op, c.expr.clone())),
                map: c.map.clone(),
            })
        })
    }

    /// Elementwise sine.
    pub fn sin(&self) -> Array {
        self.unary(Unary::Sin)
    }
    /// Elementwise cosine.
    pub fn cos(&self) -> Array {
        self.unary(Unary::Cos)
    }
    /// Elementwise arcsine (NaN outside [-1, 1]); within 2 ulp of `f64::asin`.
    pub fn arcsin(&self) -> Array {
        self.unary(Unary::Arcsin)
    }
    /// Elementwise arccosine (NaN outside [-1, 1]); within 2 ulp of `f64::acos`.
    pub fn arccos(&self) -> Array {
        self.unary(Unary::Arccos)
    }
    /// Elementwise e^x.
    pub fn exp(&self) -> Array {
        self.unary(Unary::Exp)
    }
    /// Elementwise natural logarithm.
    pub fn log(&self) -> Array {
        self.unary(Unary::Log)
    }
    /// Elementwise square root.
    pub fn sqrt(&self) -> Array {
        self.unary(Unary::Sqrt)
    }
    /// Elementwise absolute value.
    pub fn abs(&self) -> Array {
        self.unary(Unary::Abs)
    }

    /// Applies `f` to every element, fused with the operations around it.
    ///
    /// A fn item or a closure that captures nothing runs on every backend
    /// (it reaches distributed workers by code reference). A closure that
    /// captures values, or a `fn` pointer, runs on the in-process and
    /// forked-process backends only.
    pub fn map<F: Fn(f64) -> f64 + Copy + Send + Sync + 'static>(&self, f: F) -> Array {
        let new: Arc<dyn MapFn> = Arc::new(MapOf(f));
        self.with(|c| {
            // One function per fused program: a different one already
            // applied is computed first, by its own tasks.
            let (expr, map) = match &c.map {
                Some(m) if same_map(m, &new) => (c.expr.clone(), m.clone()),
                Some(_) => (Arc::new(Expr::Staged(c.clone())), new),
                None => (c.expr.clone(), new),
            };
            Ok(Core {
                shape: c.shape.clone(),
                chunks: c.chunks.clone(),
                expr: Arc::new(Expr::Map(expr)),
                map: Some(map),
            })
        })
    }

    fn binary(&self, op: Binary, other: &Array) -> Array {
        let b = match &other.0 {
            Ok(b) => b,
            Err(e) => return Array(Err(self.error().unwrap_or(e).clone())),
        };
        self.with(|a| {
            if a.shape != b.shape {
                return Err(ArrayError::ShapeMismatch {
                    op: op.name(),
                    left: a.shape.clone(),
                    right: b.shape.clone(),
                });
            }
            if a.chunks != b.chunks {
                return Err(ArrayError::ChunkMismatch {
                    op: op.name(),
                    left: a.chunks.clone(),
                    right: b.chunks.clone(),
                });
            }
            let (map, right) = match (&a.map, &b.map) {
                (Some(ma), Some(mb)) if !same_map(ma, mb) => {
                    (Some(ma.clone()), Arc::new(Expr::Staged(b.clone())))
                }
                (Some(m), _) | (None, Some(m)) => (Some(m.clone()), b.expr.clone()),
                (None, None) => (None, b.expr.clone()),
            };
            Ok(Core {
                shape: a.shape.clone(),
                chunks: a.chunks.clone(),
                expr: Arc::new(Expr::Binary(op, a.expr.clone(), right)),
                map,
            })
        })
    }

    fn scalar(&self, op: Binary, value: f64, array_left: bool) -> Array {
        self.with(|c| {
            let k = Arc::new(Expr::Const(value));
            let expr = if array_left {
                Expr::Binary(op, c.expr.clone(), k)
            } else {
                Expr::Binary(op, k, c.expr.clone())
            };
            Ok(Core {
                shape: c.shape.clone(),
                chunks: c.chunks.clone(),
                expr: Arc::new(expr),
                map: c.map.clone(),
            })
        })
    }

    /// Reduces over `axes` with a tree that combines about `split_every`
    /// blocks per step (default 16, spread over the reduced axes as Dask
    /// does). The result drops the reduced axes.
    pub fn reduce(
        &self,
        reduction: Reduction,
        axes: &[usize],
        split_every: Option<usize>,
    ) -> Array {
        self.with(|c| {
            let ndim = c.shape.len();
            let mut mask = vec![false; ndim];
            for &axis in axes {
                let bad = |reason| ArrayError::BadAxis {
                    op: reduction.name(),
                    axis,
                    ndim,
                    reason,
                };
                if axis >= ndim {
                    return Err(bad("is out of range"));
                }
                if mask[axis] {
                    return Err(bad("is named twice"));
                }
                mask[axis] = true;
            }
            let empty = c.shape.iter().zip(&mask).any(|(&n, &r)| r && n == 0);
            if empty && matches!(reduction, Reduction::Min | Reduction::Max) {
                return Err(ArrayError::EmptyReduction {
                    op: reduction.name(),
                    shape: c.shape.clone(),
                });
            }
            let fan_in = per_axis(split_every.unwrap_or(DEFAULT_SPLIT_EVERY), axes.len());
            let node = ReduceNode {
                input: c.clone(),
                reduction,
                split_every: mask.iter().map(|&r| if r { fan_in } else { 1 }).collect(),
                axes: mask.clone(),
            };
            let keep = |v: &[usize]| -> Vec<usize> {
                v.iter()
                    .zip(&mask)
                    .filter(|(_, &r)| !r)
                    .map(|(&n, _)| n)
                    .collect()
            };
            let chunks: Chunks = c
                .chunks
                .iter()
                .zip(&mask)
                .filter(|(_, &r)| !r)
                .map(|(ch, _)| ch.clone())
                .collect();
            Ok(Core {
                shape: keep(&c.shape),
                chunks,
                expr: Arc::new(Expr::Reduced(Arc::new(node))),
                map: None,
            })
        })
    }

    fn all_axes(&self) -> Vec<usize> {
        (0..self.ndim()).collect()
    }

    /// Sum over `axes`.
    pub fn sum(&self, axes: &[usize]) -> Array {
        self.reduce(Reduction::Sum, axes, None)
    }
    /// Mean over `axes`.
    pub fn mean(&self, axes: &[usize]) -> Array {
        self.reduce(Reduction::Mean, axes, None)
    }
    /// Minimum over `axes` (NaNs skipped).
    pub fn min(&self, axes: &[usize]) -> Array {
        self.reduce(Reduction::Min, axes, None)
    }
    /// Maximum over `axes` (NaNs skipped).
    pub fn max(&self, axes: &[usize]) -> Array {
        self.reduce(Reduction::Max, axes, None)
    }
    /// Sum of all elements, as a 0-dimensional array.
    pub fn sum_all(&self) -> Array {
        self.sum(&self.all_axes())
    }
    /// Mean of all elements.
    pub fn mean_all(&self) -> Array {
        self.mean(&self.all_axes())
    }
    /// Minimum of all elements.
    pub fn min_all(&self) -> Array {
        self.min(&self.all_axes())
    }
    /// Maximum of all elements.
    pub fn max_all(&self) -> Array {
        self.max(&self.all_axes())
    }

    /// The task graph computing this array, with its output tasks.
    pub fn graph(&self) -> Result<ArrayGraph, ArrayError> {
        match &self.0 {
            Ok(core) => Ok(graph::build(core)),
            Err(e) => Err(e.clone()),
        }
    }

    /// Computes the array on `scheduler`.
    pub fn compute_with(&self, scheduler: &dyn Scheduler) -> Result<ArrayD<f64>, rask_core::Error> {
        self.compute_with_events(scheduler, &NoEvents)
    }

    /// Computes the array on `scheduler`, reporting to `events` (a
    /// progress bar, a profiler).
    pub fn compute_with_events(
        &self,
        scheduler: &dyn Scheduler,
        events: &dyn Events,
    ) -> Result<ArrayD<f64>, rask_core::Error> {
        let graph = self.graph()?;
        let values = scheduler.run(graph.job(), graph.outputs(), events)?;
        graph.assemble(values)
    }
}

/// Persisting an array keeps its chunks (`client.persist(&x)` on a
/// cluster, [`persist_with`](Persistable::persist_with) in this process):
/// the persisted array has the same shape and chunks, and every array built
/// from it starts from the kept chunks, so its graph holds only the new
/// work. A persisted array holds its chunks while it, a clone or an array
/// built from it lives.
impl Persistable for Array {
    type Persisted = Array;

    fn chunks_job(&self) -> Result<(Arc<Job>, Vec<TaskId>), rask_core::Error> {
        let graph = self.graph()?;
        Ok((graph.job().clone(), graph.outputs().to_vec()))
    }

    fn with_held_chunks(&self, held: Vec<Held>) -> Result<Array, rask_core::Error> {
        let core = self.0.as_ref().map_err(Clone::clone)?;
        let expected = chunks::total(&core.chunks);
        if held.len() != expected {
            return Err(wrong_count("the array", expected, held.len()));
        }
        Ok(Array(Ok(Arc::new(Core {
            shape: core.shape.clone(),
            chunks: core.chunks.clone(),
            expr: Arc::new(Expr::Held(held.into())),
            map: None,
        }))))
    }
}

macro_rules! binary_ops {
    ($($trait:ident $method:ident $op:expr;)*) => {$(
        impl $trait<&Array> for &Array {
            type Output = Array;
            fn $method(self, rhs: &Array) -> Array { self.binary($op, rhs) }
        }
        impl $trait<Array> for Array {
            type Output = Array;
            fn $method(self, rhs: Array) -> Array { self.binary($op, &rhs) }
        }
        impl $trait<&Array> for Array {
            type Output = Array;
            fn $method(self, rhs: &Array) -> Array { self.binary($op, rhs) }
        }
        impl $trait<Array> for &Array {
            type Output = Array;
            fn $method(self, rhs: Array) -> Array { self.binary($op, &rhs) }
        }
        impl $trait<f64> for &Array {
            type Output = Array;
            fn $method(self, rhs: f64) -> Array { self.scalar($op, rhs, true) }
        }
        impl $trait<f64> for Array {
            type Output = Array;
            fn $method(self, rhs: f64) -> Array { self.scalar($op, rhs, true) }
        }
        impl $trait<&Array> for f64 {
            type Output = Array;
            fn $method(self, rhs: &Array) -> Array { rhs.scalar($op, self, false) }
        }
        impl $trait<Array> for f64 {
            type Output = Array;
            fn $method(self, rhs: Array) -> Array { rhs.scalar($op, self, false) }
        }
    )*};
}

binary_ops! {
    Add add Binary::Add;
    Sub sub Binary::Sub;
    Mul mul Binary::Mul;
    Div div Binary::Div;
}

impl Neg for &Array {
    type Output = Array;
    fn neg(self) -> Array {
        self.unary(Unary::Neg)
    }
}

impl Neg for Array {
    type Output = Array;
    fn neg(self) -> Array {
        self.unary(Unary::Neg)
    }
}
