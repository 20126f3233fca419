//! The task stream: one record per finished task, as the demo page draws
//! it. Times are milliseconds since the Unix epoch, comparable across the
//! main thread and every worker.

/// One finished task.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TaskRecord {
    /// Its index in the graph.
    pub task: u32,
    /// Which worker ran it (0 on the sync scheduler).
    pub worker: u32,
    pub start_ms: f64,
    pub end_ms: f64,
}
