//! The contract every blocking backend implements.

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::error::Error;
use crate::events::{Events, RunInfo};
use crate::graph::TaskId;
use crate::job::Job;
use crate::value::Value;

/// Runs a job to its outputs. Every scheduler returns the same values, or
/// the same error, for the same job; only speed differs.
pub trait Scheduler: Send + Sync {
    /// The scheduler's name (`sync`, `threads`, ...).
    fn name(&self) -> &'static str;

    /// Computes `outputs` of `job`, reporting to `events`. The first failing
    /// task ends the run with an error naming it; no new task starts after it.
    fn run(&self, job: &Arc<Job>, outputs: &[TaskId], events: &dyn Events) -> Result<Vec<Value>, Error>;
}

/// Reports a run to `events` around `run`: `run_start` with `info`, then
/// `run_finish` with whether it succeeded. For drivers that run on the
/// calling thread from start to end.
pub fn report_run<T>(
    events: &dyn Events,
    info: RunInfo,
    run: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    events.run_start(&info);
    let result = run();
    events.run_finish(result.is_ok());
    result
}
