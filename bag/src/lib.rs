//! `rask-bag`: partitioned sequences that build rask task graphs, as Dask's
//! `dask.bag`.
//!
//! A [`Bag`] is lazy. [`from_iter`] and [`from_text_files`] make one;
//! `map`, `filter`, `flat_map` and `try_map` chain element-wise steps, which
//! are fused: each partition becomes one task that streams its items
//! through the whole chain (see [`stage`]). `compute` returns the items in
//! partition order; `fold`, `count`, `sum`, `frequencies` and `take` reduce
//! to an [`Item`] through a tree of tasks (`split_every` partials per task).
//!
//! A bag only builds graphs: `compute` takes the scheduler to run on, any
//! `rask_core::Scheduler` (`rask::scheduler_by_name("threads", None)`, a
//! distributed `rask::Client`, ...).
//!
//! ```
//! let sync = rask::scheduler_by_name("sync", None).unwrap();
//! let words = rask_bag::from_iter(["a b", "b c", "b"].map(String::from), 2)
//!     .flat_map(|line: &String| line.split(' ').map(String::from).collect::<Vec<_>>());
//! assert_eq!(words.count().compute(&*sync).unwrap(), 5);
//! let counts = words.frequencies().compute(&*sync).unwrap();
//! assert_eq!(counts[0], ("b".to_string(), 3));
//! let lengths = words.map(|w: &String| w.len() as u64).filter(|n: &u64| *n > 0);
//! assert_eq!(lengths.sum().compute(&*sync).unwrap(), 5);
//! ```
//!
//! Functions given to a bag are `Copy` and run wherever the scheduler puts
//! the task. Fn items and closures that capture nothing run on every
//! backend, the distributed one included (they travel as code references);
//! closures that capture values run on `sync`, `threads` and `processes`
//! only, and `distributed` refuses them with an error naming the op. Items
//! that leave the process are postcard-encoded, hence [`Element`].
//!
//! Task keys say where an error came from: partition `i` of
//! `from_iter(..).map(f).count()` is `("from_iter-map-count", i)`, a combine
//! task of its tree `("from_iter-map-count-combine", depth, i)`. A panic or
//! a `try_map` error fails that task, and `compute` returns rask's
//! `Error::TaskFailed` naming it.

mod bag;
mod glob;
mod reduce;
pub mod stage;
mod text;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use bag::{from_iter, Bag};
pub use reduce::Item;
pub use text::{from_text_files, Lines, TextBlock, TextError};

/// What a bag's partitions and results are made of: values that can be
/// shared between threads, cloned, and encoded to cross processes.
pub trait Element: Clone + Serialize + DeserializeOwned + Send + Sync + 'static {}

impl<T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static> Element for T {}
