//! [`Bag`]: a lazy partitioned sequence, its element-wise steps and `compute`.
//!
//! A bag is its partitions' inputs (literals of the job it builds, or
//! partitions an earlier run computed and kept, for a persisted bag) and one
//! [`Stage`] chain applied to each. Element-wise steps only grow the chain;
//! the tasks appear when a job is built, one per partition.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use rask_core::{
    fallible, wrong_count, Arg, Codec, Error, Events, Held, Job, JobBuilder, NoEvents, Op,
    Persistable, Scheduler, TaskError, TaskId, Value,
};

use crate::stage::{drive, Collect, Filter, FlatMap, FromVec, Map, Stage, TryMap};
use crate::Element;

/// How many partial results one combine task of a reduction takes, as
/// Dask's `split_every` default for bags.
pub(crate) const DEFAULT_SPLIT_EVERY: usize = 8;

/// A lazy, partitioned sequence of `T`, as Dask's `dask.bag.Bag`.
///
/// `P` is the fused per-partition pipeline ([`Stage`]) that produces the
/// items; it grows with each element-wise step, as iterator adapters do,
/// and users rarely name it. Cloning a bag is cheap (its partitions are
/// shared).
pub struct Bag<T, P = FromVec<T>> {
    pub(crate) stage: P,
    /// One input per partition, each a `P::Input`: held here (a literal)
    /// or, for a persisted bag, wherever the run that made it left it.
    pub(crate) parts: Arc<[Held]>,
    /// The step names so far (`from_iter-map-filter`), for op names and keys.
    pub(crate) name: Arc<str>,
    pub(crate) split_every: usize,
    _items: PhantomData<fn() -> T>,
}

impl<T, P: Copy> Clone for Bag<T, P> {
    fn clone(&self) -> Self {
        Bag {
            stage: self.stage,
            parts: self.parts.clone(),
            name: self.name.clone(),
            split_every: self.split_every,
            _items: PhantomData,
        }
    }
}

impl<T, P> fmt::Debug for Bag<T, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Bag<{}>({}, {} partitions)",
            std::any::type_name::<T>(),
            self.name,
            self.parts.len()
        )
    }
}

/// A bag of `items` in `npartitions` partitions of nearly equal length
/// (they differ by at most one item; some are empty when there are fewer
/// items than partitions). `npartitions` of 0 is taken as 1. Dask's
/// `from_sequence`.
pub fn from_iter<T: Element>(items: impl IntoIterator<Item = T>, npartitions: usize) -> Bag<T> {
    let items: Vec<T> = items.into_iter().collect();
    let n = npartitions.max(1);
    let (size, extra) = (items.len() / n, items.len() % n);
    let mut rest = items.into_iter();
    let parts: Vec<Value> = (0..n)
        .map(|i| {
            Value::new(
                rest.by_ref()
                    .take(size + usize::from(i < extra))
                    .collect::<Vec<T>>(),
            )
        })
        .collect();
    Bag::from_parts(FromVec::new(), parts, "from_iter")
}

impl<T, P: Stage<Output = T>> Bag<T, P> {
    /// A bag of the stage `stage` over `parts` (each a `P::Input`; at least one).
    pub(crate) fn from_parts(stage: P, parts: Vec<Value>, name: &str) -> Self {
        let codec = Some(Codec::of::<P::Input>());
        Bag {
            stage,
            parts: parts.into_iter().map(|p| Held::here(p, codec)).collect(),
            name: name.into(),
            split_every: DEFAULT_SPLIT_EVERY,
            _items: PhantomData,
        }
    }

    fn then<U, Q: Stage<Output = U>>(&self, stage: Q, step: &str) -> Bag<U, Q> {
        Bag {
            stage,
            parts: self.parts.clone(),
            name: format!("{}-{step}", self.name).into(),
            split_every: self.split_every,
            _items: PhantomData,
        }
    }

    /// Number of partitions (one task each).
    pub fn npartitions(&self) -> usize {
        self.parts.len()
    }

    /// The names of the steps so far (`from_iter-map-filter`): the prefix
    /// of this bag's op names and task keys.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same bag, whose reductions combine `n` partial results per task
    /// (at least 2; default 8), as Dask's `split_every`.
    pub fn split_every(&self, n: usize) -> Self {
        Bag {
            split_every: n.max(2),
            ..self.clone()
        }
    }

    /// `f` applied to every item.
    ///
    /// `f` must be `Copy`. A fn item or a closure that captures nothing runs
    /// on every backend; a closure that captures values runs only on
    /// in-process backends and forked processes (`sync`, `threads`,
    /// `processes`), and `distributed` refuses it with an error naming the op.
    pub fn map<U, F>(&self, f: F) -> Bag<U, Map<P, F, U>>
    where
        F: Fn(&T) -> U + Copy + Send + Sync + 'static,
        U: 'static,
    {
        self.then(Map::new(self.stage, f), "map")
    }

    /// The items for which `f` is true.
    pub fn filter<F>(&self, f: F) -> Bag<T, Filter<P, F>>
    where
        F: Fn(&T) -> bool + Copy + Send + Sync + 'static,
    {
        self.then(Filter::new(self.stage, f), "filter")
    }

    /// The items of every `f(item)`, in order.
    pub fn flat_map<I, F>(&self, f: F) -> Bag<I::Item, FlatMap<P, F, I>>
    where
        F: Fn(&T) -> I + Copy + Send + Sync + 'static,
        I: IntoIterator + 'static,
        I::Item: 'static,
    {
        self.then(FlatMap::new(self.stage, f), "flat_map")
    }

    /// `f` applied to every item; the first `Err` fails the partition's
    /// task with its message.
    pub fn try_map<U, E, F>(&self, f: F) -> Bag<U, TryMap<P, F, U, E>>
    where
        F: Fn(&T) -> Result<U, E> + Copy + Send + Sync + 'static,
        U: 'static,
        E: fmt::Display + 'static,
    {
        self.then(TryMap::new(self.stage, f), "try_map")
    }

    /// Adds one task per partition running `op` on the partition's input
    /// followed by `extra`; their keys are `("<op name>", i)`.
    pub(crate) fn partition_tasks(
        &self,
        b: &mut JobBuilder,
        op: &Op,
        extra: &[Arg],
    ) -> Vec<TaskId> {
        let id = b.op(op);
        let mut args = Vec::with_capacity(1 + extra.len());
        self.parts
            .iter()
            .enumerate()
            .map(|(i, part)| {
                args.clear();
                args.push(b.held(part));
                args.extend_from_slice(extra);
                b.keyed_task(&partition_key(op.name(), i), id, &args)
            })
            .collect()
    }

    /// The job computing every partition as a `Vec<T>`, and its outputs in
    /// partition order.
    pub fn to_job(&self) -> (Arc<Job>, Vec<TaskId>)
    where
        T: Element,
    {
        let stage = self.stage;
        let op = Op::new(
            &self.name,
            fallible(move |input: &P::Input| -> Result<Vec<T>, TaskError> {
                let mut out = Collect(Vec::new());
                drive(&stage, input, &mut out)?;
                Ok(out.0)
            }),
        );
        let mut b = JobBuilder::new();
        let outputs = self.partition_tasks(&mut b, &op, &[]);
        (Arc::new(b.finish()), outputs)
    }

    /// Computes every item on `scheduler`, in partition order.
    pub fn compute(&self, scheduler: &dyn Scheduler) -> Result<Vec<T>, Error>
    where
        T: Element,
    {
        self.compute_with_events(scheduler, &NoEvents)
    }

    /// [`compute`](Self::compute), reporting the run to `events` (a
    /// progress bar, a profiler).
    pub fn compute_with_events(
        &self,
        scheduler: &dyn Scheduler,
        events: &dyn Events,
    ) -> Result<Vec<T>, Error>
    where
        T: Element,
    {
        let (job, outputs) = self.to_job();
        let mut items = Vec::new();
        for (value, &task) in run(scheduler, events, &job, &outputs)?
            .into_iter()
            .zip(&outputs)
        {
            items.append(&mut take::<Vec<T>>(&job, task, value)?);
        }
        Ok(items)
    }
}

/// Persisting a bag keeps every partition's items (`client.persist(&bag)`
/// on a cluster, [`persist_with`](Persistable::persist_with) in this
/// process): the persisted bag is a plain `Bag<T>` over the kept partitions,
/// named `<steps>-persisted`, and whatever is built from it runs only its
/// own steps. It holds the partitions while it, a clone or a bag built from
/// it lives.
impl<T: Element, P: Stage<Output = T>> Persistable for Bag<T, P> {
    type Persisted = Bag<T>;

    fn chunks_job(&self) -> Result<(Arc<Job>, Vec<TaskId>), Error> {
        Ok(self.to_job())
    }

    fn with_held_chunks(&self, held: Vec<Held>) -> Result<Bag<T>, Error> {
        if held.len() != self.parts.len() {
            return Err(wrong_count("the bag", self.parts.len(), held.len()));
        }
        Ok(Bag {
            stage: FromVec::new(),
            parts: held.into(),
            name: format!("{}-persisted", self.name).into(),
            split_every: self.split_every,
            _items: PhantomData,
        })
    }
}

/// The key of partition `i`'s task, as Dask's `(name, i)`.
pub(crate) fn partition_key(name: &str, i: usize) -> String {
    format!("(\"{name}\", {i})")
}

/// Runs `job` on `scheduler`, first refusing ops that could not reach the
/// workers of a distributed cluster.
pub(crate) fn run(
    scheduler: &dyn Scheduler,
    events: &dyn Events,
    job: &Arc<Job>,
    outputs: &[TaskId],
) -> Result<Vec<Value>, Error> {
    if scheduler.name() == "distributed" {
        // A bag's ops are never registered on workers by name, so only ops
        // that travel by code reference (zero-sized functions) can run
        // there. Without this check the worker would report the op as
        // unregistered, which hides the cause.
        // Tasks standing for held partitions are read where they live, never
        // sent as ops.
        let sent = job.graph().task_ids().filter(|&t| job.held(t).is_none());
        if let Some(op) = sent
            .filter_map(|t| job.op(t))
            .find(|op| op.rebuilder().is_none())
        {
            return Err(Error::Backend {
                backend: "distributed",
                message: format!(
                    "op `{}` uses a closure that captures variables, which cannot be sent to \
                     cluster workers; use a fn item or a closure that captures nothing",
                    op.name()
                ),
            });
        }
    }
    scheduler.run(job, outputs, events)
}

/// The output `value` of `task` as a `T`.
pub(crate) fn take<T: Any + Send + Sync + Clone>(
    job: &Job,
    task: TaskId,
    value: Value,
) -> Result<T, Error> {
    value.take_output(job.key(task))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes<T: Element>(bag: &Bag<T>) -> Vec<usize> {
        bag.parts
            .iter()
            .map(|p| {
                p.value()
                    .and_then(|v| v.downcast_ref::<Vec<T>>())
                    .map_or(usize::MAX, Vec::len)
            })
            .collect()
    }

    #[test]
    fn partitions_are_balanced_and_never_missing() {
        assert_eq!(sizes(&from_iter(0..10, 4)), [3, 3, 2, 2]);
        assert_eq!(sizes(&from_iter(0..2, 4)), [1, 1, 0, 0]);
        assert_eq!(sizes(&from_iter(0..5, 0)), [5]);
        assert_eq!(sizes(&from_iter(Vec::<u8>::new(), 1)), [0]);
    }

    #[test]
    fn names_follow_the_steps() {
        let bag = from_iter(0..4i64, 2).map(|x| x + 1).filter(|x| *x > 1);
        assert_eq!(bag.name(), "from_iter-map-filter");
        let (job, outputs) = bag.to_job();
        assert_eq!(
            job.key(outputs[1]).to_string(),
            "(\"from_iter-map-filter\", 1)"
        );
    }
}
