//! A job's run, as the core's [`ExecState`] drives it, together with the
//! graph it reads.

use std::sync::Arc;

use rask_core::{ExecState, Graph, GraphError, TaskId};

/// An `ExecState` together with the graph it borrows.
pub(super) struct Exec {
    // Declared first: dropped before the graph it points into.
    pub state: ExecState<'static>,
    pub graph: Arc<Graph>,
}

impl Exec {
    /// A run of `graph` towards `outputs`, where `held` tasks' results
    /// already exist.
    pub fn new(
        graph: Arc<Graph>,
        outputs: &[TaskId],
        held: impl Fn(TaskId) -> bool,
    ) -> Result<Exec, GraphError> {
        // SAFETY: the graph lives in an `Arc` owned by this struct and is
        // never mutated; `state` is declared first, so it is dropped before
        // `graph`. The `'static` never escapes: callers only reach `state`
        // through `&self`/`&mut self`, bounded by this struct's life.
        let borrowed: &'static Graph = unsafe { &*Arc::as_ptr(&graph) };
        let state = ExecState::resuming(borrowed, outputs, held)?;
        Ok(Exec { state, graph })
    }
}
