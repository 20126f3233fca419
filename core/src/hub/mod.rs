//! The hub: one driver of [`ExecState`](crate::ExecState) for a set of
//! workers that keep their results, with every message between them
//! passing through the driver (child processes of a parent, Web Workers
//! of a page).
//!
//! It does three things, with no IO: it places each ready task on a
//! worker, by a [`Placement`] rule (ideally where its inputs already
//! are); it keeps each worker a little ahead (the rule's depth), so a
//! worker does not wait for the driver between tasks; and it relays what
//! must move: an input held elsewhere is asked of a holder
//! ([`HubSink::get`]), and once the driver has it ([`Hub::on_value`]) it is
//! put to each worker waiting for it, after which the tasks that waited
//! are sent. Released results are dropped on every holder.
//!
//! A driver only decodes what its workers send, calls [`Hub::on_done`] and
//! [`Hub::on_value`], then [`Hub::dispatch`], and carries out what the hub
//! asked of its [`HubSink`]. Two rules come with it: [`EarliestStart`]
//! (where a task would start soonest, by measured task times and result
//! sizes) and [`Families`] (where most inputs are, roots with their
//! family).
//!
//! ```
//! use rask_core::hub::{EarliestStart, Hub, HubSink, Workers};
//! use rask_core::{Arg, ExecState, Graph, OpId, TaskId};
//!
//! /// Records what the hub asks for.
//! #[derive(Default)]
//! struct Log(Vec<(usize, TaskId)>);
//! impl HubSink for Log {
//!     fn run(&mut self, worker: usize, task: TaskId, _output: bool) {
//!         self.0.push((worker, task));
//!     }
//!     fn get(&mut self, _holder: usize, _task: TaskId) {}
//!     fn put(&mut self, _worker: usize, _task: TaskId) {}
//!     fn release(&mut self, _task: TaskId, _holders: Workers) {}
//! }
//!
//! // a -> b: b runs where a's result is.
//! let mut g: Graph = Graph::new();
//! let a = g.add_task(OpId(0), &[]).unwrap();
//! let b = g.add_task(OpId(0), &[Arg::dep(a)]).unwrap();
//! let exec = ExecState::new(&g, &[b]).unwrap();
//! let mut hub = Hub::new(exec, 2, EarliestStart::default());
//! let mut log = Log::default();
//! hub.dispatch(&mut log);
//! let (w, _) = log.0[0];
//! hub.on_done(w, a, 1_000.0, &mut log).unwrap();
//! hub.dispatch(&mut log);
//! assert_eq!(log.0, [(w, a), (w, b)]);
//! ```

mod earliest;
mod families;
mod holders;
mod measure;
mod placement;
mod sink;
mod state;
#[cfg(test)]
mod tests;

pub use earliest::EarliestStart;
pub use families::Families;
pub use holders::{Holders, Workers, MAX_WORKERS};
pub use measure::{Durations, Sizes, UNKNOWN_BYTES};
pub use placement::{Placement, View};
pub use sink::HubSink;
pub use state::{Hub, MAX_PASSED};
