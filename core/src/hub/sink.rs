//! The only way out of the hub: what it asks its driver to send.

use crate::graph::TaskId;

use super::holders::Workers;

/// Where the hub's messages go. A driver implements it over its transport
/// (pipes to child processes, `postMessage` to Web Workers) or, in tests,
/// records the calls.
pub trait HubSink {
    /// Worker `worker` is to run `task`; every input is there, or will be
    /// produced there before it (see [`Placement::runs_ahead`]).
    ///
    /// [`Placement::runs_ahead`]: super::Placement::runs_ahead
    fn run(&mut self, worker: usize, task: TaskId, output: bool);

    /// Worker `holder` is to send `task`'s result to the driver, which
    /// passes it on with [`Hub::on_value`](super::Hub::on_value).
    fn get(&mut self, holder: usize, task: TaskId);

    /// Worker `worker` is to keep `task`'s result, which the driver has:
    /// it is being handed to [`Hub::on_value`](super::Hub::on_value) now,
    /// or was kept then.
    fn put(&mut self, worker: usize, task: TaskId);

    /// Nothing needs `task`'s result any more: `holders` drop it, and the
    /// driver drops any copy it kept.
    fn release(&mut self, task: TaskId, holders: Workers);
}
