//! `rask-array`: lazy chunked n-dimensional `f64` arrays that build rask
//! task graphs, in the manner of `dask.array`.
//!
//! An [`Array`] is a shape, a chunking and an expression. Elementwise
//! operations (`+ - * /` with arrays and numbers, [`Array::sin`],
//! [`Array::arcsin`], [`Array::map`], ...) chain into one expression that
//! runs as **one task per chunk**, block by block, so no intermediate
//! chunk is ever materialised; a reduction ([`Array::sum`], `mean`, `min`,
//! `max` over any axes) folds each chunk into a small partial in that same
//! task, then combines partials in a tree. `random(..).arcsin().sum(..)`
//! thus generates, transforms and sums each chunk in one pass, in blocks
//! of 2048 elements, without ever holding the chunk.
//!
//! Arrays never pick a scheduler: [`Array::compute_with`] takes any
//! [`rask_core::Scheduler`], and every backend (sync, threads, forked
//! processes, distributed) gives the same result.
//!
//! ```
//! use rask_array::random;
//!
//! let x = random(&[200, 200, 10], &[50, 50, 5], 1).unwrap();
//! let y = random(&[200, 200, 10], &[50, 50, 5], 2).unwrap();
//! let z = (x.arcsin() + y.arccos()).sum(&[1, 2]);
//! let scheduler = rask::scheduler_by_name("threads", Some(2)).unwrap();
//! let out = z.compute_with(&*scheduler).unwrap();
//! assert_eq!(out.shape(), &[200]);
//! // Each element sums 2000 values whose mean is π/2.
//! let mean = out.mean().unwrap() / 2000.0;
//! assert!((mean - std::f64::consts::FRAC_PI_2).abs() < 0.02);
//! ```
//!
//! Modules: `array` (the API), `expr` (the lazy DAG), `program` (a fused
//! DAG compiled for one chunk, and its block loop), `kernels` (vectorised
//! math, our `asin`/`acos`), `random` (the counter-based generator),
//! `reduce` (per-chunk folding and the tree), `graph` (jobs and assembly),
//! `ops` (the zero-sized ops tasks run), `block` (chunks on the wire).

mod array;
mod block;
mod chunks;
mod error;
mod expr;
mod graph;
mod kernels;
mod ops;
mod program;
mod random;
mod reduce;

pub use array::{from_ndarray, full, ones, random, zeros, Array};
pub use error::ArrayError;
pub use graph::ArrayGraph;
pub use reduce::Reduction;

/// Our `asin` and `acos` approximations, for checking their accuracy
/// against std (the crate's tests do, over the whole domain).
#[doc(hidden)]
pub mod approx {
    /// `asin` as the kernels compute it without FMA.
    pub fn asin(x: f64) -> f64 {
        crate::kernels::asin::<crate::kernels::Plain>(x)
    }
    /// `asin` with fused multiply-adds.
    pub fn asin_fused(x: f64) -> f64 {
        crate::kernels::asin::<crate::kernels::Fused>(x)
    }
    /// `acos` as the kernels compute it without FMA.
    pub fn acos(x: f64) -> f64 {
        crate::kernels::acos::<crate::kernels::Plain>(x)
    }
    /// `acos` with fused multiply-adds.
    pub fn acos_fused(x: f64) -> f64 {
        crate::kernels::acos::<crate::kernels::Fused>(x)
    }
}
