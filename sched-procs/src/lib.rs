//! `rask-sched-procs`: runs a task graph on forked worker processes.
//!
//! At the start of a run the parent forks `n` children (default one per
//! core). They inherit the graph, the ops, the literals and any closures, so
//! only results cross, and only when they must: a result stays in the child
//! that made it, the parent places each task where its inputs already are
//! (unless that child is backed up), relays a missing input child → parent →
//! child, drops results the state machine releases, and fetches only the
//! requested outputs. Those decisions are the core's hub
//! ([`rask_core::hub`], its earliest-start rule); the parent is its IO. Messages are length-prefixed postcard frames over a
//! socket pair per child, batched per system call. Linear chains are fused
//! into one task first, so a chain costs one assignment.
//!
//! A child that dies — a signal, an abort, an `exit` — ends the run with an
//! error naming the task it was running and how it died; a panic inside a
//! task is an ordinary task error. Every child is killed and reaped when the
//! run ends, however it ends.
//!
//! Forking copies only the calling thread: ops run in a child must not wait
//! on locks or threads of the parent (as with Dask's `fork` start method).
//!
//! ```
//! use std::sync::Arc;
//! use rask_core::{Arg, Inputs, JobBuilder, NoEvents, Op, Scheduler};
//!
//! let square = Op::new("square", |x: &i64| x * x);
//! let sum = Op::new("sum", |xs: Inputs<i64>| xs.sum::<i64>());
//! let mut b = JobBuilder::new();
//! let (sq, su) = (b.op(&square), b.op(&sum));
//! let squares: Vec<Arg> = (1..10i64)
//!     .map(|i| {
//!         let lit = b.lit(i);
//!         Arg::dep(b.task(sq, &[lit]))
//!     })
//!     .collect();
//! let total = b.task(su, &squares);
//! let job = Arc::new(b.finish());
//!
//! let procs = rask_sched_procs::ProcessScheduler::new(2);
//! let out = procs.run(&job, &[total], &NoEvents).unwrap();
//! assert_eq!(out[0].downcast_ref::<i64>(), Some(&285));
//! ```

#![cfg(unix)]

mod child;
mod children;
mod driver;
pub mod frame;
mod running;

use std::sync::Arc;
use std::time::Instant;

use rask_core::{report_run, Error, Events, Job, RunInfo, Scheduler, TaskId, Value};

use crate::children::Children;
use crate::driver::{decode_outputs, Driver};

/// At most this many children: holders of a result are kept as bits of a `u64`.
pub const MAX_WORKERS: usize = 64;

/// The `processes` scheduler: forks its workers at the start of every run.
#[derive(Clone, Debug)]
pub struct ProcessScheduler {
    workers: usize,
    fuse: bool,
}

impl ProcessScheduler {
    /// Runs on `workers` children (1 to [`MAX_WORKERS`]).
    pub fn new(workers: usize) -> Self {
        ProcessScheduler {
            workers: workers.clamp(1, MAX_WORKERS),
            fuse: true,
        }
    }

    /// Whether linear chains are fused into one task first (default: yes).
    pub fn with_fusion(mut self, fuse: bool) -> Self {
        self.fuse = fuse;
        self
    }

    /// Number of children per run.
    pub fn workers(&self) -> usize {
        self.workers
    }
}

impl Default for ProcessScheduler {
    /// One child per core.
    fn default() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

impl Scheduler for ProcessScheduler {
    fn name(&self) -> &'static str {
        "processes"
    }

    fn run(
        &self,
        job: &Arc<Job>,
        outputs: &[TaskId],
        events: &dyn Events,
    ) -> Result<Vec<Value>, Error> {
        let (job, outputs) = if self.fuse {
            let (fused, outs) = rask_core::fuse(job, outputs)?;
            (Arc::new(fused), outs)
        } else {
            (job.clone(), outputs.to_vec())
        };
        let plan = job.plan(&outputs)?;
        check_codecs(&job, &plan)?;
        if plan.needed() == 0 {
            return Ok(Vec::new());
        }
        let workers = self.workers.min(plan.needed());
        let info = RunInfo {
            tasks: plan.needed(),
            workers,
            job: Some(job.clone()),
        };
        report_run(events, info, || run(&job, &outputs, plan, workers, events))
    }
}

fn run(
    job: &Job,
    outputs: &[TaskId],
    plan: rask_core::Plan,
    workers: usize,
    events: &dyn Events,
) -> Result<Vec<Value>, Error> {
    let start = Instant::now();
    let children = Children::fork(workers, job, start).map_err(|e| Error::Backend {
        backend: "processes",
        message: format!("cannot start {workers} worker processes: {e}"),
    })?;
    // The driver owns the children: when it is dropped, on any path, they
    // are killed and reaped.
    let bytes = Driver::new(job, plan, children, events)?.run()?;
    decode_outputs(job, outputs, &bytes)
}

/// Every result of the run may have to leave the child that made it, so
/// every needed task's op must have a codec. Checked before any fork.
fn check_codecs(job: &Job, plan: &rask_core::Plan) -> Result<(), Error> {
    for task in job.graph().task_ids().filter(|&t| plan.is_needed(t)) {
        if let Some(op) = job.op(task).filter(|op| op.codec().is_none()) {
            return Err(Error::Backend {
                backend: "processes",
                message: format!(
                    "op `{}` (task `{}`) returns a value with no codec, so its result cannot leave a worker process; \
                     register it with `Op::new` / `rask::delayed` instead of a local op",
                    op.name(),
                    job.key(task)
                ),
            });
        }
    }
    Ok(())
}
