//! Persisting a frame (Dask's `df.persist()`): each partition is parsed
//! once, with the frame's filters and column selection applied, into an
//! Arrow batch that is kept (on a cluster by `client.persist(&frame)`, in
//! this process by [`persist_with`](rask_core::Persistable::persist_with)).
//! The persisted frame's results scan the kept batches, never the CSV.
//!
//! A frame's partitions are a [`Source`]: byte ranges of CSV files, or kept
//! batches. Kept batches cross process boundaries as Arrow IPC bytes
//! ([`Batch`]'s serde), like any row result.

use std::sync::Arc;

use rask_core::{
    fallible, wrong_count, Arg, Error, Held, Job, JobBuilder, Op, Persistable, TaskId,
};

use crate::agg::Partial;
use crate::error::FrameError;
use crate::frame::Frame;
use crate::ipc::Batch;
use crate::partition::Partition;
use crate::query::Query;
use crate::scan::{scan, scan_held};

/// Where a frame's partitions come from.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    /// Byte ranges of CSV files, read and parsed by every result.
    Csv(Arc<[Partition]>),
    /// One batch per partition, made by a persist and kept: each holds
    /// every column of the frame's schema, in order, filters applied.
    Held(Arc<[Held]>),
}

impl Source {
    /// Number of partitions.
    pub(crate) fn len(&self) -> usize {
        match self {
            Source::Csv(p) => p.len(),
            Source::Held(h) => h.len(),
        }
    }

    /// The op scanning one partition for the result `name` (`count`, ...).
    /// Both are fn items, so they travel by code reference to workers.
    pub(crate) fn scan_op(&self, name: &str) -> Op {
        match self {
            Source::Csv(_) => Op::new(&format!("read_csv-{name}"), fallible(scan)),
            Source::Held(_) => Op::new(&format!("persisted-{name}"), fallible(scan_held)),
        }
    }

    /// The argument standing for partition `i` in the job `b` builds: a
    /// byte range is a literal; a kept batch is a literal too when it is
    /// kept here, else a task the holder's scheduler reads where it lives.
    pub(crate) fn arg(&self, b: &mut JobBuilder, i: usize) -> Arg {
        match self {
            Source::Csv(p) => b.lit(p[i].clone()),
            Source::Held(h) => b.held(&h[i]),
        }
    }

    /// Scans partition `i` for `q` on the calling thread.
    pub(crate) fn scan_here(&self, i: usize, q: &Query) -> Result<Partial, FrameError> {
        match self {
            Source::Csv(p) => scan(&p[i], q),
            Source::Held(h) => match h[i].value().and_then(|v| v.downcast_ref::<Batch>()) {
                Some(batch) => scan_held(batch, q),
                None => Err(FrameError::Compute(Error::Backend {
                    backend: "rask-frame",
                    message: format!(
                        "partition {i} of the persisted frame is held on a cluster, \
                         not in this process: compute the result with the cluster's client"
                    ),
                })),
            },
        }
    }
}

/// The rows a scan kept, as one batch: what a persisted partition holds.
fn into_batch(p: Partial) -> Result<Batch, FrameError> {
    match p {
        Partial::Rows { batch, .. } => Ok(batch),
        _ => Err(FrameError::Compute(Error::Backend {
            backend: "rask-frame",
            message: "a partition to persist was not scanned for its rows".into(),
        })),
    }
}

/// The persist op of a frame over CSV: parse the partition's rows.
fn parse_rows(part: &Partition, q: &Query) -> Result<Batch, FrameError> {
    into_batch(scan(part, q)?)
}

/// The persist op of a frame over kept batches (persisting a filtered or
/// narrowed persisted frame): filter and project the kept rows.
fn held_rows(part: &Batch, q: &Query) -> Result<Batch, FrameError> {
    into_batch(scan_held(part, q)?)
}

/// Persisting a frame keeps one batch of rows per partition: its columns in
/// view, the rows that pass its filters. The persisted frame has those
/// columns, no filter, the same number of partitions, and no CSV behind it
/// ([`Frame::partitions`] is empty); it holds the batches while it, a clone
/// or a frame or result built from it lives.
impl Persistable for Frame {
    type Persisted = Frame;

    fn chunks_job(&self) -> Result<(Arc<Job>, Vec<TaskId>), Error> {
        let source = self.source();
        let op = match source {
            Source::Csv(_) => Op::new("read_csv-partition", fallible(parse_rows)),
            Source::Held(_) => Op::new("persisted-partition", fallible(held_rows)),
        };
        let mut b = JobBuilder::new();
        let id = b.op(&op);
        let query = b.lit(self.rows_query());
        let outputs = (0..source.len())
            .map(|i| {
                let part = source.arg(&mut b, i);
                // `("read_csv-partition", i)`, as Dask names a partition's
                // task: the dashboard groups the kept partitions by it.
                let key = format!("(\"{}\", {i})", op.name());
                b.keyed_task(&key, id, &[part, query])
            })
            .collect();
        Ok((Arc::new(b.finish()), outputs))
    }

    fn with_held_chunks(&self, chunks: Vec<Held>) -> Result<Frame, Error> {
        let expected = self.npartitions();
        if chunks.len() != expected {
            return Err(wrong_count("the frame", expected, chunks.len()));
        }
        Ok(self.over_held(chunks.into()))
    }
}
