//! Reductions of a bag to one [`Item`]: `fold`, `count`, `sum`,
//! `frequencies` and `take`, each a tree of tasks as in Dask.
//!
//! Each partition's task runs the bag's fused pipeline straight into a
//! partial result (no partition is collected first); combine tasks then
//! merge `split_every` partials at a time, level by level, until one is
//! left; some reductions end with a task that shapes the answer.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Add;
use std::sync::Arc;

use rask_core::{
    fallible, Arg, Error, Events, Inputs, Job, JobBuilder, NoEvents, Op, Scheduler, TaskError,
    TaskId,
};

use crate::bag::{run, take, Bag};
use crate::stage::{drive, Flow, Halt, Sink, Stage};
use crate::Element;

/// A lazily computed single value of type `A`, as Dask's `dask.bag.Item`.
pub struct Item<A> {
    build: Arc<dyn Fn(&mut JobBuilder) -> TaskId + Send + Sync>,
    _value: PhantomData<fn() -> A>,
}

impl<A> Clone for Item<A> {
    fn clone(&self) -> Self {
        Item {
            build: self.build.clone(),
            _value: PhantomData,
        }
    }
}

impl<A> fmt::Debug for Item<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Item<{}>", std::any::type_name::<A>())
    }
}

impl<A: Any + Send + Sync + Clone> Item<A> {
    /// The job computing this value, and its output.
    pub fn to_job(&self) -> (Arc<Job>, TaskId) {
        let mut b = JobBuilder::new();
        let out = (self.build)(&mut b);
        (Arc::new(b.finish()), out)
    }

    /// Computes the value on `scheduler`.
    pub fn compute(&self, scheduler: &dyn Scheduler) -> Result<A, Error> {
        self.compute_with_events(scheduler, &NoEvents)
    }

    /// [`compute`](Self::compute), reporting the run to `events`.
    pub fn compute_with_events(
        &self,
        scheduler: &dyn Scheduler,
        events: &dyn Events,
    ) -> Result<A, Error> {
        let (job, out) = self.to_job();
        let value = run(scheduler, events, &job, &[out])?
            .pop()
            .ok_or_else(|| Error::Backend {
                backend: scheduler.name(),
                message: "the run returned no output".into(),
            })?;
        take(&job, out, value)
    }
}

/// Adds combine tasks over `level` until one task is left: groups of
/// `split_every` consecutive partials (so order is kept), a lone partial
/// passing through untouched. Keys are `("<combine name>", depth, i)`.
fn tree(
    b: &mut JobBuilder,
    mut level: Vec<TaskId>,
    combine: &Op,
    split_every: usize,
) -> Option<TaskId> {
    let id = b.op(combine);
    let mut depth = 0;
    let mut args = Vec::new();
    while level.len() > 1 {
        depth += 1;
        level = level
            .chunks(split_every)
            .enumerate()
            .map(|(i, group)| match group {
                [only] => *only,
                _ => {
                    args.clear();
                    args.extend(group.iter().map(|&t| Arg::dep(t)));
                    b.keyed_task(
                        &format!("(\"{}\", {depth}, {i})", combine.name()),
                        id,
                        &args,
                    )
                }
            })
            .collect();
    }
    level.pop()
}

/// The parts of a tree reduction: per-partition op (the partition's input,
/// then `lit` if any), the combine op over any number of partials, and an
/// optional last op shaping the answer.
struct Reduction<L> {
    partial: Op,
    lit: Option<L>,
    combine: Op,
    finish: Option<Op>,
}

impl<T: 'static, P: Stage<Output = T>> Bag<T, P> {
    fn reduce<A, L>(&self, r: Reduction<L>) -> Item<A>
    where
        L: Element,
    {
        let bag = self.clone();
        let build = move |b: &mut JobBuilder| {
            let extra: Vec<Arg> = r.lit.iter().map(|l| b.lit(l.clone())).collect();
            let partials = bag.partition_tasks(b, &r.partial, &extra);
            // A bag has at least one partition, so the tree has a root.
            let root = tree(b, partials, &r.combine, bag.split_every).unwrap_or(TaskId(0));
            match &r.finish {
                Some(op) => {
                    let id = b.op(op);
                    b.keyed_task(op.name(), id, &[Arg::dep(root)])
                }
                None => root,
            }
        };
        Item {
            build: Arc::new(build),
            _value: PhantomData,
        }
    }

    fn op_name(&self, what: &str) -> String {
        format!("{}-{what}", self.name)
    }

    /// Folds each partition with `binop` from `initial`, then merges the
    /// partial results with `combine`, as Dask's `Bag.fold`. `initial`
    /// starts every partition's fold, so it should be `binop`'s identity
    /// (`0` for a sum) for the result not to depend on the partitioning.
    ///
    /// `binop` and `combine` follow the rules of [`map`](Self::map).
    pub fn fold<A, B, C>(&self, initial: A, binop: B, combine: C) -> Item<A>
    where
        A: Element,
        B: Fn(A, &T) -> A + Copy + Send + Sync + 'static,
        C: Fn(A, &A) -> A + Copy + Send + Sync + 'static,
    {
        let stage = self.stage;
        let partial = move |input: &P::Input, initial: &A| -> Result<A, TaskError> {
            let mut sink = FoldSink {
                acc: Some(initial.clone()),
                binop,
            };
            drive(&stage, input, &mut sink)?;
            sink.acc.ok_or_else(lost_accumulator)
        };
        let merge = move |partials: Inputs<A>| -> Result<A, TaskError> {
            let mut partials = partials;
            let first = partials.next().cloned().ok_or_else(no_partials)?;
            Ok(partials.fold(first, combine))
        };
        self.reduce(Reduction {
            partial: Op::new(&self.op_name("fold"), fallible(partial)),
            lit: Some(initial),
            combine: Op::new(&self.op_name("fold-combine"), fallible(merge)),
            finish: None,
        })
    }

    /// The number of items.
    pub fn count(&self) -> Item<u64> {
        let stage = self.stage;
        let partial = move |input: &P::Input| -> Result<u64, TaskError> {
            let mut sink = CountSink(0);
            drive(&stage, input, &mut sink)?;
            Ok(sink.0)
        };
        self.reduce::<u64, ()>(Reduction {
            partial: Op::new(&self.op_name("count"), fallible(partial)),
            lit: None,
            combine: Op::new(&self.op_name("count-combine"), |xs: Inputs<u64>| {
                xs.sum::<u64>()
            }),
            finish: None,
        })
    }

    /// The sum of the items (`T::default()` for none).
    pub fn sum(&self) -> Item<T>
    where
        T: Element + Default + Add<Output = T>,
    {
        fn add<T: Add<Output = T> + Clone>(acc: T, x: &T) -> T {
            acc + x.clone()
        }
        self.fold(T::default(), add::<T>, add::<T>)
    }

    /// How often each distinct item occurs, most frequent first (ties in
    /// item order), as Dask's `frequencies(sort=True)`.
    pub fn frequencies(&self) -> Item<Vec<(T, u64)>>
    where
        T: Element + Ord,
    {
        let stage = self.stage;
        let partial = move |input: &P::Input| -> Result<BTreeMap<T, u64>, TaskError> {
            let mut sink = CountEach(BTreeMap::new());
            drive(&stage, input, &mut sink)?;
            Ok(sink.0)
        };
        self.reduce::<Vec<(T, u64)>, ()>(Reduction {
            partial: Op::new(&self.op_name("frequencies"), fallible(partial)),
            lit: None,
            combine: Op::new(&self.op_name("frequencies-combine"), merge_counts::<T>),
            finish: Some(Op::new(
                &self.op_name("frequencies-sort"),
                most_frequent_first::<T>,
            )),
        })
    }

    /// The first `n` items, in partition order. Every partition's pipeline
    /// runs, but stops after `n` items. (Dask's `take` looks at the first
    /// partition only unless told otherwise; this looks as far as needed.)
    pub fn take(&self, n: usize) -> Item<Vec<T>>
    where
        T: Element,
    {
        let stage = self.stage;
        let partial = move |input: &P::Input, n: &u64| -> Result<(u64, Vec<T>), TaskError> {
            let mut sink = TakeSink {
                n: *n,
                items: Vec::new(),
            };
            drive(&stage, input, &mut sink)?;
            Ok((*n, sink.items))
        };
        self.reduce::<Vec<T>, u64>(Reduction {
            partial: Op::new(&self.op_name("take"), fallible(partial)),
            lit: Some(n as u64),
            combine: Op::new(&self.op_name("take-combine"), first_n::<T>),
            finish: Some(Op::new(
                &self.op_name("take-items"),
                |taken: &(u64, Vec<T>)| taken.1.clone(),
            )),
        })
    }
}

fn no_partials() -> TaskError {
    TaskError::new("a combine task got no partial results")
}

fn lost_accumulator() -> TaskError {
    TaskError::new("the fold lost its accumulator to a panic")
}

struct FoldSink<A, B> {
    /// `None` only while `binop` runs.
    acc: Option<A>,
    binop: B,
}

impl<T, A, B: Fn(A, &T) -> A> Sink<T> for FoldSink<A, B> {
    fn lent(&mut self, item: &T) -> Flow {
        let acc = self
            .acc
            .take()
            .ok_or_else(|| Halt::Failed(lost_accumulator()))?;
        self.acc = Some((self.binop)(acc, item));
        Ok(())
    }
    fn given(&mut self, item: T) -> Flow {
        self.lent(&item)
    }
}

struct CountSink(u64);

impl<T> Sink<T> for CountSink {
    fn lent(&mut self, _: &T) -> Flow {
        self.0 += 1;
        Ok(())
    }
    fn given(&mut self, _: T) -> Flow {
        self.0 += 1;
        Ok(())
    }
}

struct CountEach<T>(BTreeMap<T, u64>);

impl<T: Ord + Clone> Sink<T> for CountEach<T> {
    fn lent(&mut self, item: &T) -> Flow {
        // Clone only items not seen before.
        match self.0.get_mut(item) {
            Some(n) => *n += 1,
            None => {
                self.0.insert(item.clone(), 1);
            }
        }
        Ok(())
    }
    fn given(&mut self, item: T) -> Flow {
        *self.0.entry(item).or_insert(0) += 1;
        Ok(())
    }
}

fn merge_counts<T: Ord + Clone + Any>(partials: Inputs<BTreeMap<T, u64>>) -> BTreeMap<T, u64> {
    let mut total = BTreeMap::new();
    for counts in partials {
        for (item, n) in counts {
            match total.get_mut(item) {
                Some(m) => *m += n,
                None => {
                    total.insert(item.clone(), *n);
                }
            }
        }
    }
    total
}

fn most_frequent_first<T: Ord + Clone>(counts: &BTreeMap<T, u64>) -> Vec<(T, u64)> {
    let mut pairs: Vec<(T, u64)> = counts.iter().map(|(t, n)| (t.clone(), *n)).collect();
    // Stable: equal counts stay in item order.
    pairs.sort_by_key(|p| std::cmp::Reverse(p.1));
    pairs
}

struct TakeSink<T> {
    n: u64,
    items: Vec<T>,
}

impl<T: Clone> Sink<T> for TakeSink<T> {
    fn lent(&mut self, item: &T) -> Flow {
        self.given(item.clone())
    }
    fn given(&mut self, item: T) -> Flow {
        if self.items.len() as u64 >= self.n {
            return Err(Halt::Enough);
        }
        self.items.push(item);
        if self.items.len() as u64 >= self.n {
            Err(Halt::Enough)
        } else {
            Ok(())
        }
    }
}

/// The first `n` items of consecutive partials; each carries `n`.
fn first_n<T: Clone + Any>(partials: Inputs<(u64, Vec<T>)>) -> (u64, Vec<T>) {
    let mut n = 0;
    let mut items = Vec::new();
    for (limit, part) in partials {
        n = *limit;
        let room = (n as usize).saturating_sub(items.len());
        items.extend(part.iter().take(room).cloned());
    }
    (n, items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_groups_consecutive_partials() {
        let op = Op::new("c", |xs: Inputs<u64>| xs.sum::<u64>());
        let mut b = JobBuilder::new();
        let id = b.op(&op);
        let leaves: Vec<TaskId> = (0..10).map(|_| b.task(id, &[])).collect();
        let root = tree(&mut b, leaves, &op, 3).unwrap();
        let job = b.finish();
        // 10 -> 4 (groups of 3,3,3 and a lone one passed through) -> 2 -> 1.
        assert_eq!(job.len(), 10 + 3 + 1 + 1);
        assert_eq!(job.key(root).to_string(), "(\"c\", 3, 0)");
    }

    #[test]
    fn take_sink_stops_at_n() {
        let mut sink = TakeSink {
            n: 2,
            items: Vec::new(),
        };
        assert!(sink.given(1).is_ok());
        assert!(matches!(sink.lent(&2), Err(Halt::Enough)));
        assert!(matches!(sink.lent(&3), Err(Halt::Enough)));
        assert_eq!(sink.items, [1, 2]);
        let mut none = TakeSink {
            n: 0,
            items: Vec::new(),
        };
        assert!(matches!(none.given(1), Err(Halt::Enough)));
        assert!(none.items.is_empty());
    }

    #[test]
    fn frequencies_sort_by_count_then_item() {
        let counts = BTreeMap::from([("b", 2), ("a", 2), ("c", 5), ("d", 1)]);
        assert_eq!(
            most_frequent_first(&counts),
            [("c", 5), ("a", 2), ("b", 2), ("d", 1)]
        );
    }
}
