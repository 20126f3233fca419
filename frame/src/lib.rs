//! `rask-frame`: partitioned data frames over CSV files, on Apache Arrow,
//! that build rask task graphs.
//!
//! [`read_csv`] takes a path, a glob pattern or a list, reads the headers,
//! guesses column types from the first file's start, and splits every file
//! into byte ranges ([`CsvOptions::blocksize`]). A [`Frame`] is lazy:
//! [`select`](Frame::select), [`column`](Frame::column) and
//! [`filter`](Frame::filter) only narrow what the scan tasks will read, and
//! reductions ([`Column::count`], `sum`, `mean`, `min`, `max`,
//! [`Frame::len`], [`Frame::head`], [`Frame::groupby`]) return a [`Lazy`]
//! value: one scan task per partition, one combine task, one finish task.
//! Collections never pick a scheduler: `compute_with` takes one.
//!
//! ```no_run
//! use rask_frame::{read_csv, CsvOptions, Pred};
//!
//! let sched = rask::scheduler_by_name("threads", None)?;
//! let df = read_csv("data1/*.csv", CsvOptions::default())?;
//! let keys = df.column("Key")?.count().compute_with(&*sched)?;
//! let big = df.filter("Value", Pred::Gt(500.0))?.len().compute_with(&*sched)?;
//! let by_name = df.groupby("Name")?.mean("Value")?.compute_with(&*sched)?;
//! println!("{keys} keys, {big} big values, means {by_name:?}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A frame is [`Persistable`](rask_core::Persistable): `client.persist(&df)`
//! (or `df.persist_with(&*sched)`) parses each partition once, filters and
//! column selection applied, and keeps it as an Arrow batch; the persisted
//! frame's results scan the kept batches and never read the CSV again.
//!
//! Only the columns a result needs are parsed, and a `count` builds no
//! array at all. Results that are rows ([`Batch`]) cross process
//! boundaries as Arrow IPC. CSV rules: a header line names the columns;
//! `"` quotes, doubled inside quotes; `\r\n` or `\n` line ends; blank
//! lines skipped; an empty field is null; missing trailing fields are null;
//! a line break inside quotes needs `blocksize(None)` (an error says so).
//!
//! Neighbours: `rask-core` (graphs, ops, the scheduler contract) is the only
//! rask crate this one uses; the `rask` facade picks schedulers.

mod agg;
mod csv_scan;
mod error;
mod file_ops;
mod frame;
// Entry points for the fuzz targets in `fuzz/`; not API.
#[doc(hidden)]
pub mod fuzzing;
mod ipc;
mod lazy;
mod parse;
mod partition;
mod persist;
mod query;
mod read;
mod scan;
mod schema;
pub mod seed_data;

pub use agg::{Key, Number};
pub use error::FrameError;
pub use file_ops::count_column;
pub use frame::{Column, Frame, GroupBy};
pub use ipc::Batch;
pub use lazy::Lazy;
pub use partition::Partition;
pub use query::{Literal, Pred};
pub use read::{read_csv, CsvOptions, IntoSources};
pub use schema::{Dtype, Schema};
