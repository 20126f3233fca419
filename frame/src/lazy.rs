//! [`Lazy`]: a frame result not computed yet.
//!
//! Its graph is one scan task per partition (the query is a literal; the
//! partition is a literal byte range, or a kept batch of a persisted
//! frame), one task combining the partials in partition order, and
//! one task turning the combination into the result. Every op is a fn item,
//! so the graph runs on every backend: in process, in forked children, and
//! on network workers started from the same binary.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use rask_core::{
    fallible, Arg, Args, Error, Events, Fetch, Job, JobBuilder, NoEvents, Op, Scheduler, TaskId,
    Value,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::agg::{combine, merge, Partial};
use crate::error::FrameError;
use crate::persist::Source;
use crate::query::Query;

/// A computation over a frame's partitions that yields a `T`. Nothing runs
/// until [`compute_with`](Lazy::compute_with); [`build`](Lazy::build) adds
/// the tasks to a bigger graph instead.
pub struct Lazy<T> {
    source: Source,
    query: Arc<Query>,
    scan: Op,
    combine: Op,
    finish: Op,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Lazy<T> {
    fn clone(&self) -> Self {
        Lazy {
            source: self.source.clone(),
            query: self.query.clone(),
            scan: self.scan.clone(),
            combine: self.combine.clone(),
            finish: self.finish.clone(),
            _type: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Lazy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Lazy<{}>({}, {} partitions)",
            std::any::type_name::<T>(),
            self.finish.name(),
            self.source.len()
        )
    }
}

impl<T: Any + Send + Sync + Clone + Serialize + DeserializeOwned> Lazy<T> {
    /// A lazy result named `name` (`count`, `sum`, ...) of `query` over
    /// `source`'s partitions. `finish` is a fn item: its op then travels by code
    /// reference to network workers.
    pub(crate) fn new<F>(name: &str, source: Source, query: Query, finish: F) -> Lazy<T>
    where
        F: Fn(&Partial, &Query) -> Result<T, FrameError> + Copy + Send + Sync + 'static,
    {
        Lazy {
            scan: source.scan_op(name),
            source,
            query: Arc::new(query),
            combine: Op::new(&format!("{name}-combine"), fallible(combine)),
            finish: Op::new(&format!("{name}-finish"), fallible(finish)),
            _type: PhantomData,
        }
    }
}

impl<T: Any + Send + Sync + Clone> Lazy<T> {
    /// Adds this computation's tasks to `b`; returns the task of the result.
    pub fn build(&self, b: &mut JobBuilder) -> TaskId {
        let scan = b.op(&self.scan);
        let combine = b.op(&self.combine);
        let finish = b.op(&self.finish);
        let query = b.lit((*self.query).clone());
        let parts: Vec<Arg> = (0..self.source.len())
            .map(|i| {
                let part = self.source.arg(b, i);
                Arg::dep(b.task(scan, &[part, query]))
            })
            .collect();
        let all = b.task(combine, &parts);
        b.task(finish, &[Arg::dep(all), query])
    }

    /// The graph alone, and its output task.
    pub fn job(&self) -> (Arc<Job>, TaskId) {
        let mut b = JobBuilder::new();
        let out = self.build(&mut b);
        (Arc::new(b.finish()), out)
    }

    /// Number of partitions scanned (one task each).
    pub fn npartitions(&self) -> usize {
        self.source.len()
    }

    /// Computes the result on `scheduler`.
    pub fn compute_with(&self, scheduler: &dyn Scheduler) -> Result<T, FrameError> {
        self.compute_with_events(scheduler, &NoEvents)
    }

    /// Computes the result on `scheduler`, reporting to `events` (a
    /// progress bar, a profiler).
    pub fn compute_with_events(
        &self,
        scheduler: &dyn Scheduler,
        events: &dyn Events,
    ) -> Result<T, FrameError> {
        let (job, out) = self.job();
        let value = scheduler
            .run(&job, &[out], events)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::NoSuchOutput {
                key: job.key(out).to_string(),
            })?;
        Ok(value.take_output(job.key(out))?)
    }

    /// Computes the result on the calling thread without a graph: the scan
    /// of each partition in turn, then the combination. For ops that run
    /// inside another graph's task ([`count_column`](crate::count_column)).
    pub fn compute_here(&self) -> Result<T, FrameError> {
        let partials = (0..self.source.len())
            .map(|i| self.source.scan_here(i, &self.query))
            .collect::<Result<Vec<_>, _>>()?;
        let all = merge(&partials.iter().collect::<Vec<_>>())?;
        // The finish op is called as a task would call it, on literals.
        let mut b = JobBuilder::new();
        let args = [b.local_lit(all), b.local_lit((*self.query).clone())];
        let job = b.finish();
        let value = self
            .finish
            .call(&Args::new(&args, job.lits(), &NothingFetched))
            .map_err(|e| {
                FrameError::Compute(Error::TaskFailed {
                    key: self.finish.name().to_owned(),
                    op: self.finish.name().to_owned(),
                    message: e.message().to_owned(),
                })
            })?;
        Ok(value.take_output(self.finish.name())?)
    }
}

/// No results: the finish op's arguments are all literals.
struct NothingFetched;

impl Fetch for NothingFetched {
    fn fetch(&self, _: TaskId) -> Option<&Value> {
        None
    }
}
