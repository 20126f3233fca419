//! The allocation-free path: a fixed-capacity graph of `fn` ops over one
//! value type, run with fixed-capacity state.

use core::fmt;

use heapless::Vec;
use rask_core::{ArgKind, ExecState, Fixed, Graph, GraphError, TaskId};

/// An op of a fixed-capacity graph: inputs in argument order, a result or a
/// static error message.
pub type FixedOp<V> = fn(&[V]) -> Result<V, &'static str>;

/// Why [`run_fixed`] produced no result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FixedError {
    /// The graph cannot run (cycle, dangling task, capacity).
    Graph(GraphError),
    /// A task's op returned an error.
    Task {
        /// The task.
        task: TaskId,
        /// The op's message.
        message: &'static str,
    },
}

impl From<GraphError> for FixedError {
    fn from(e: GraphError) -> Self {
        FixedError::Graph(e)
    }
}

impl fmt::Display for FixedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FixedError::Graph(e) => e.fmt(f),
            FixedError::Task { task, message } => write!(f, "{task} failed: {message}"),
        }
    }
}

/// Computes `output` of `graph` on this thread without touching the heap:
/// `ops[op]` runs each task, `lits[lit]` supplies literals. Results are
/// dropped as soon as their last dependent has run.
pub fn run_fixed<V: Clone, const N: usize>(
    graph: &Graph<Fixed<N>>,
    ops: &[FixedOp<V>],
    lits: &[V],
    output: TaskId,
) -> Result<V, FixedError> {
    rask_core::validate(graph, |op| (op.0 as usize) < ops.len())?;
    let mut state = ExecState::new(graph, &[output])?;
    let mut results: Vec<Option<V>, N> = Vec::new();
    results
        .resize(graph.len(), None)
        .map_err(|_| GraphError::Capacity)?;
    let mut inputs: Vec<V, N> = Vec::new();
    while let Some(task) = state.pop_ready() {
        inputs.clear();
        for arg in graph.args(task) {
            let value = match arg.kind() {
                ArgKind::Dep(d) => results[d.index()].clone(),
                ArgKind::Lit(l) => lits.get(l.0 as usize).cloned(),
            };
            let value = value.ok_or(FixedError::Task {
                task,
                message: "an input is missing",
            })?;
            inputs.push(value).map_err(|_| GraphError::Capacity)?;
        }
        let op = graph.op(task).and_then(|op| ops.get(op.0 as usize));
        let op = op.ok_or(FixedError::Task {
            task,
            message: "unknown op",
        })?;
        match op(&inputs) {
            Ok(v) => {
                results[task.index()] = Some(v);
                let _ = state.complete(task, |t| results[t.index()] = None);
            }
            Err(message) => {
                let _ = state.fail(task);
                return Err(FixedError::Task { task, message });
            }
        }
    }
    results[output.index()].take().ok_or(FixedError::Task {
        task: output,
        message: "no result",
    })
}
