//! The Rust-facing API: compute a [`GraphSpec`] on a backend, as a future.
//!
//! ```ignore
//! let (graph, out) = rask_wasm::spec::demo([200, 200, 10], 25, 1)?;
//! let pool = rask_wasm::Pool::new(2, "./worker.js")?;
//! let values = rask_wasm::compute(&graph, &[out], Backend::Workers(&pool)).await?;
//! let sums: &rask_wasm::Chunk = values[0].downcast_ref().unwrap();
//! ```

use rask_core::Value;

use crate::error::RunError;
use crate::spec::GraphSpec;

/// Where to run a graph.
#[derive(Clone, Copy, Debug)]
pub enum Backend<'a> {
    /// The calling thread, in priority order.
    Sync,
    /// The Web Workers of this pool; the calling thread stays free.
    #[cfg(feature = "workers")]
    Workers(&'a crate::pool::Pool),
    #[doc(hidden)]
    #[cfg(not(feature = "workers"))]
    _Lifetime(std::marker::PhantomData<&'a ()>),
}

/// The results of `outputs` (task indices of `graph`), in order.
pub async fn compute(
    graph: &GraphSpec,
    outputs: &[u32],
    backend: Backend<'_>,
) -> Result<Vec<Value>, RunError> {
    match backend {
        Backend::Sync => crate::sync::run(graph, outputs, false).map(|(v, _)| v),
        #[cfg(feature = "workers")]
        Backend::Workers(pool) => crate::drive::run(pool, graph, outputs, &mut |_| {}).await,
        #[cfg(not(feature = "workers"))]
        Backend::_Lifetime(_) => Err(RunError::Browser("no such backend".into())),
    }
}
