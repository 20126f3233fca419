//! The heap-backed scheduler over [`Job`]s.

use alloc::sync::Arc;
use alloc::vec::Vec;

use rask_core::{
    report_run, Error, Events, ExecState, Fetch, Job, Results, RunInfo, Scheduler, TaskId,
    TaskSpan, Value,
};

/// Runs jobs on the calling thread in priority order.
#[derive(Clone, Copy, Debug, Default)]
pub struct SyncScheduler;

/// Nanoseconds since the run started, where there is a clock.
///
/// `std::time::Instant` panics on `wasm32-unknown-unknown`, so there the
/// clock must be injected ([`SyncScheduler::run_with_clock`]); without one,
/// task spans read 0.
enum Clock {
    #[cfg(all(
        feature = "std",
        not(all(target_arch = "wasm32", target_os = "unknown"))
    ))]
    Std(std::time::Instant),
    Injected {
        now_ns: fn() -> u64,
        start: u64,
    },
    #[cfg(not(all(
        feature = "std",
        not(all(target_arch = "wasm32", target_os = "unknown"))
    )))]
    None,
}

impl Clock {
    fn start() -> Self {
        #[cfg(all(
            feature = "std",
            not(all(target_arch = "wasm32", target_os = "unknown"))
        ))]
        {
            Clock::Std(std::time::Instant::now())
        }
        #[cfg(not(all(
            feature = "std",
            not(all(target_arch = "wasm32", target_os = "unknown"))
        )))]
        {
            Clock::None
        }
    }
    fn now_ns(&self) -> u64 {
        match self {
            #[cfg(all(
                feature = "std",
                not(all(target_arch = "wasm32", target_os = "unknown"))
            ))]
            Clock::Std(start) => start.elapsed().as_nanos() as u64,
            Clock::Injected { now_ns, start } => now_ns().saturating_sub(*start),
            #[cfg(not(all(
                feature = "std",
                not(all(target_arch = "wasm32", target_os = "unknown"))
            )))]
            Clock::None => 0,
        }
    }
}

impl SyncScheduler {
    /// Runs `job` like [`Scheduler::run`], timing task spans with `now_ns`
    /// (nanoseconds from any fixed origin) instead of the standard clock:
    /// the way to get task timings where `std::time::Instant` does not
    /// exist, such as a browser.
    pub fn run_with_clock(
        &self,
        job: &Arc<Job>,
        outputs: &[TaskId],
        events: &dyn Events,
        now_ns: fn() -> u64,
    ) -> Result<Vec<Value>, Error> {
        let plan = job.plan(outputs)?;
        let info = RunInfo {
            tasks: plan.needed(),
            workers: 1,
            job: Some(job.clone()),
        };
        let clock = Clock::Injected {
            now_ns,
            start: now_ns(),
        };
        report_run(events, info, || run(job, outputs, plan, events, clock))
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
        report_run(events, info, || {
            run(job, outputs, plan, events, Clock::start())
        })
    }
}

fn run(
    job: &Job,
    outputs: &[TaskId],
    plan: rask_core::Plan,
    events: &dyn Events,
    clock: Clock,
) -> Result<Vec<Value>, Error> {
    let mut state = ExecState::from_plan(job.graph(), plan).map_err(|e| job.graph_error(e))?;
    // Finished results by task id; a released result is dropped at once.
    let mut results = Results::new(job.len());
    let timed = events.wants_tasks();
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
                results.put(task, value);
                state
                    .complete(task, |t| results.release(t))
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
