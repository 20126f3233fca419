//! A job's run, as the core's [`ExecState`] drives it, sharing the graph
//! it runs.

use std::sync::Arc;

use rask_core::{ExecState, Graph, GraphError, TaskId};

/// A job's `ExecState`, and the graph it runs.
pub(super) struct Exec {
    pub state: ExecState<Arc<Graph>>,
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
        let state = ExecState::resuming(graph.clone(), outputs, held)?;
        Ok(Exec { state, graph })
    }
}
