//! Results computed by an earlier run and kept: the chunks of a persisted
//! collection (Dask's `persist`).
//!
//! A [`Held`] result is either a value in this process, which a job carries
//! as a literal, or a result left where it was computed (a cluster's
//! memory), behind a [`Holder`]. A job standing on a held result gets one
//! task for it ([`JobBuilder::held`](crate::JobBuilder::held)): the holder's
//! own scheduler reads the result where it lives, any other scheduler runs
//! the task, which fetches the value. A collection that can be rebuilt over
//! held chunks is [`Persistable`].

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::fmt;

use crate::error::Error;
use crate::events::NoEvents;
use crate::graph::TaskId;
use crate::job::Job;
use crate::op::Codec;
use crate::scheduler::Scheduler;
use crate::value::Value;

/// What keeps a result where it was computed, and can bring it here.
pub trait Holder: Any + Send + Sync + fmt::Debug {
    /// The key of the task standing for the result in a job; one result
    /// has one key, so that a result used twice in a job is one task.
    fn key(&self) -> String;
    /// The codec of the value, if it can cross process boundaries.
    fn codec(&self) -> Option<Codec>;
    /// The value, brought into this process: what the task standing for
    /// the result does on a scheduler that is not the holder's.
    fn fetch(&self) -> Result<Value, String>;
}

/// A result an earlier run computed, kept here or elsewhere. Cloning
/// shares it; a result held elsewhere stays there while a clone lives (as
/// long as its holder keeps it).
#[derive(Clone, Debug)]
pub struct Held(Kind);

#[derive(Clone, Debug)]
enum Kind {
    Here(Value, Option<Codec>),
    Elsewhere(Arc<dyn Holder>),
}

impl Held {
    /// A value in this process; `codec` lets it travel with a job to other
    /// processes.
    pub fn here(value: Value, codec: Option<Codec>) -> Held {
        Held(Kind::Here(value, codec))
    }

    /// A result kept by `holder`.
    pub fn elsewhere(holder: impl Holder) -> Held {
        Held(Kind::Elsewhere(Arc::new(holder)))
    }

    /// The value, when it is held in this process.
    pub fn value(&self) -> Option<&Value> {
        match &self.0 {
            Kind::Here(v, _) => Some(v),
            Kind::Elsewhere(_) => None,
        }
    }

    /// The holder, when it is a `H`: how a scheduler recognises results it
    /// keeps itself.
    pub fn holder<H: Holder>(&self) -> Option<&H> {
        match &self.0 {
            Kind::Here(..) => None,
            Kind::Elsewhere(h) => (&**h as &dyn Any).downcast_ref(),
        }
    }

    pub(crate) fn kind(&self) -> HeldRef<'_> {
        match &self.0 {
            Kind::Here(v, c) => HeldRef::Here(v, *c),
            Kind::Elsewhere(h) => HeldRef::Elsewhere(h),
        }
    }
}

/// A look inside a [`Held`], for the job builder.
pub(crate) enum HeldRef<'a> {
    Here(&'a Value, Option<Codec>),
    Elsewhere(&'a Arc<dyn Holder>),
}

/// A collection made of chunks that can be computed once and kept, so that
/// later graphs start from the kept chunks instead of recomputing them
/// (Dask's `persist`). A distributed client keeps them on its cluster;
/// [`persist_with`](Persistable::persist_with) keeps them in this process.
pub trait Persistable {
    /// The collection over kept chunks: the same kind, with its chunks as
    /// leaves and no pending steps.
    type Persisted;

    /// The job computing every chunk, and its outputs: one per chunk, in
    /// the collection's chunk order.
    fn chunks_job(&self) -> Result<(Arc<Job>, Vec<TaskId>), Error>;

    /// The collection whose chunks are `chunks`, one per output of
    /// [`chunks_job`](Self::chunks_job) and in that order; another count is
    /// an error saying both.
    fn with_held_chunks(&self, chunks: Vec<Held>) -> Result<Self::Persisted, Error>;

    /// Computes the chunks on `scheduler` and keeps their values in this
    /// process (each travels with later jobs as a literal).
    fn persist_with(&self, scheduler: &dyn Scheduler) -> Result<Self::Persisted, Error> {
        let (job, outputs) = self.chunks_job()?;
        let values = scheduler.run(&job, &outputs, &NoEvents)?;
        if values.len() != outputs.len() {
            return Err(wrong_count("the collection", outputs.len(), values.len()));
        }
        let held = values
            .into_iter()
            .zip(&outputs)
            .map(|(v, &t)| Held::here(v, job.op(t).and_then(|op| op.codec())))
            .collect();
        self.with_held_chunks(held)
    }
}

/// The error for `got` held chunks given to `what`, which has `expected`.
pub fn wrong_count(what: &str, expected: usize, got: usize) -> Error {
    Error::Backend {
        backend: "persist",
        message: alloc::format!("{what} has {expected} chunks, but {got} were given to persist it"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobBuilder;
    use crate::op::Op;
    use alloc::string::ToString;

    /// A result kept "elsewhere" by this test: only its key matters to the
    /// builder.
    #[derive(Debug)]
    struct Kept(u32);

    impl Holder for Kept {
        fn key(&self) -> String {
            alloc::format!("kept-{}", self.0)
        }
        fn codec(&self) -> Option<Codec> {
            Some(Codec::of::<i64>())
        }
        fn fetch(&self) -> Result<Value, String> {
            Ok(Value::new(i64::from(self.0)))
        }
    }

    #[test]
    fn a_held_result_is_one_task_per_job_and_a_held_value_a_literal() {
        let add = Op::new("add", |a: &i64, b: &i64| a + b);
        let kept = Held::elsewhere(Kept(7));
        let here = Held::here(Value::new(5i64), Some(Codec::of::<i64>()));
        let mut b = JobBuilder::new();
        let op = b.op(&add);
        let (x, y) = (b.held(&kept), b.held(&kept.clone()));
        assert_eq!(x, y, "the same result twice is one task");
        let lit = b.held(&here);
        assert!(lit.as_dep().is_none(), "a value held here is a literal");
        let t = b.task(op, &[x, lit]);
        let job = b.finish();
        let dep = x.as_dep().unwrap();
        assert_eq!(job.held_tasks().count(), 1);
        assert!(job.held(dep).and_then(Held::holder::<Kept>).is_some());
        assert_eq!(job.key(dep).to_string(), "kept-7");
        // A copy of the job keeps the mark on a task of its own.
        let (culled, _) = crate::cull(&job, &[t]).unwrap();
        assert_eq!(culled.held_tasks().count(), 1);
    }
}
