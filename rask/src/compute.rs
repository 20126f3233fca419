//! Running a job with the scheduler the options select.

use std::sync::Arc;

use rask_core::{Error, Events, Job, RunInfo, TaskId, TaskSpan, Value};

use crate::schedulers::Options;

/// Several event sinks seen as one.
#[derive(Clone, Copy)]
pub struct EventsList<'a>(pub &'a [&'a dyn Events]);

impl std::fmt::Debug for EventsList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EventsList({} sinks)", self.0.len())
    }
}

impl Events for EventsList<'_> {
    fn wants_tasks(&self) -> bool {
        self.0.iter().any(|e| e.wants_tasks())
    }
    fn run_start(&self, info: &RunInfo) {
        self.0.iter().for_each(|e| e.run_start(info));
    }
    fn task_start(&self, task: TaskId, worker: usize) {
        self.0.iter().for_each(|e| e.task_start(task, worker));
    }
    fn task_finish(&self, task: TaskId, worker: usize, span: TaskSpan) {
        self.0
            .iter()
            .for_each(|e| e.task_finish(task, worker, span));
    }
    fn run_finish(&self, ok: bool) {
        self.0.iter().for_each(|e| e.run_finish(ok));
    }
}

/// Computes `outputs` of `job` on the scheduler `options` select.
pub fn compute_job(
    job: &Arc<Job>,
    outputs: &[TaskId],
    options: &Options<'_>,
) -> Result<Vec<Value>, Error> {
    let scheduler = options.resolve()?;
    scheduler.run(job, outputs, &EventsList(&options.events))
}
