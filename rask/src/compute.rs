//! Running a job with the scheduler the options select.

use std::sync::Arc;

use rask_core::{Error, EventsList, Job, TaskId, Value};

use crate::schedulers::Options;

/// Computes `outputs` of `job` on the scheduler `options` select.
pub fn compute_job(
    job: &Arc<Job>,
    outputs: &[TaskId],
    options: &Options<'_>,
) -> Result<Vec<Value>, Error> {
    let scheduler = options.resolve()?;
    scheduler.run(job, outputs, &EventsList(&options.events))
}
