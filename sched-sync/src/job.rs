//! The heap-backed scheduler over [`Job`]s.

use alloc::sync::Arc;
use alloc::vec::Vec;

use rask_core::{
    report_run, Error, Events, ExecState, Fetch, Job, RunInfo, Scheduler, TaskId, TaskSpan, Value,
};

/// Runs jobs on the calling thread in priority order.
#[derive(Clone, Copy, Debug, Default)]
pub struct SyncScheduler;

/// Finished results by task id; a released result is dropped at once.
struct Results(Vec<Option<Value>>);

impl Fetch for Results {
    #[inline]
    fn fetch(&self, task: TaskId) -> Option<&Value> {
        self.0.get(task.index())?.as_ref()
    }
}

/// Nanoseconds since the run started, where there is a clock.
struct Clock {
    #[cfg(feature = "std")]
    start: std::time::Instant,
}

impl Clock {
    fn start() -> Self {
        Clock {
            #[cfg(feature = "std")]
            start: std::time::Instant::now(),
        }
    }
    fn now_ns(&self) -> u64 {
        #[cfg(feature = "std")]
        {
            self.start.elapsed().as_nanos() as u64
        }
        #[cfg(not(feature = "std"))]
        {
            0
        }
    }
}

impl Scheduler for SyncScheduler {
    fn name(&self) -> &'static str {
        "sync"
    }

    fn run(
        &self,
        job: &Arc<Job>,
        outputs: &[TaskId],
        events: &dyn Events,
    ) -> Result<Vec<Value>, Error> {
        let plan = job.plan(outputs)?;
        let info = RunInfo {
            tasks: plan.needed(),
            workers: 1,
            job: Some(job.clone()),
        };
        report_run(events, info, || run(job, outputs, plan, events))
    }
}

fn run(
    job: &Job,
    outputs: &[TaskId],
    plan: rask_core::Plan,
    events: &dyn Events,
) -> Result<Vec<Value>, Error> {
    let mut state = ExecState::from_plan(job.graph(), plan).map_err(|e| job.graph_error(e))?;
    let mut results = Results(alloc::vec![None; job.len()]);
    let timed = events.wants_tasks();
    let clock = Clock::start();
    while let Some(task) = state.pop_ready() {
        let start_ns = if timed {
            events.task_start(task, 0);
            clock.now_ns()
        } else {
            0
        };
        let outcome = job.execute(task, &results);
        if timed {
            let span = TaskSpan {
                start_ns,
                end_ns: clock.now_ns(),
                result_bytes: None,
            };
            events.task_finish(task, 0, span);
        }
        match outcome {
            Ok(value) => {
                results.0[task.index()] = Some(value);
                let slots = &mut results.0;
                state
                    .complete(task, |t| slots[t.index()] = None)
                    .map_err(|e| internal(alloc::format!("{e}")))?;
            }
            Err(error) => return Err(job.task_failed(task, error)),
        }
    }
    if !state.is_finished() {
        return Err(internal(alloc::format!(
            "stalled with {} of {} tasks done",
            state.done(),
            state.plan().needed()
        )));
    }
    outputs
        .iter()
        .map(|o| {
            results
                .fetch(*o)
                .cloned()
                .ok_or_else(|| internal(alloc::format!("output {o} has no result")))
        })
        .collect()
}

fn internal(message: alloc::string::String) -> Error {
    Error::Backend {
        backend: "sync",
        message,
    }
}
