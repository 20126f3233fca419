//! Dask's "earliest start" rule: a task goes to the worker where it would
//! start soonest.
//!
//! The estimate is the queue ahead of it (tasks placed there × the recent
//! mean task time) plus the cost of moving the inputs that worker lacks (a
//! fixed cost per transfer plus the bytes). A result's size is known once
//! it has crossed, else estimated from its op's ([`Sizes`](super::Sizes)).
//! So a task runs where its inputs are unless that worker is backed up.
//! A root task (no inputs, no locality of its own) is drawn to where the
//! other inputs of its dependents were placed, for small fan-ins, so the
//! two chunks one kernel combines are made on the same worker: the
//! co-assignment Dask does for root tasks.
//!
//! Each worker is kept about [`EarliestStart::queued_ns`] of work ahead.
//! A task whose best worker is full waits for it: by the same estimate,
//! sending it elsewhere would be slower.

use crate::graph::TaskId;

use super::holders::MAX_WORKERS;
use super::measure::Durations;
use super::placement::{Placement, View};

/// Sibling affinity looks at this many dependents of a root...
const SIBLING_DEPENDENTS: usize = 4;
/// ...whose fan-in is at most this.
const SIBLING_FAN_IN: u32 = 8;

/// The earliest-start rule, with the costs of the link it runs over.
#[derive(Clone, Debug)]
pub struct EarliestStart {
    /// Fixed cost of moving one result to another worker, in ns.
    pub transfer_ns: f64,
    /// Cost per byte moved, in ns.
    pub ns_per_byte: f64,
    /// Work a worker is given ahead, in ns: enough to batch tiny tasks,
    /// little enough that a worker that runs slow does not hold back the
    /// end of the run.
    pub queued_ns: f64,
    /// At most this many tasks ahead on one worker, however short.
    pub max_depth: usize,
}

impl Default for EarliestStart {
    /// Costs of relaying through a parent over local pipes (about a
    /// gigabyte per second): 30 µs per transfer, 1 ns per byte, 0.5 ms
    /// ahead, at most 4096 tasks.
    fn default() -> Self {
        EarliestStart {
            transfer_ns: 30_000.0,
            ns_per_byte: 1.0,
            queued_ns: 500_000.0,
            max_depth: 4096,
        }
    }
}

impl EarliestStart {
    /// Estimated ns until `task` could start on each worker.
    fn costs(&self, task: TaskId, view: &View<'_>) -> [f64; MAX_WORKERS] {
        let graph = view.graph();
        let plan = view.plan();
        let mean = view.times().recent_ns();
        let n = view.workers().min(MAX_WORKERS);
        // On the stack: this runs once per placed task.
        let mut cost = [f64::INFINITY; MAX_WORKERS];
        for (w, slot) in cost.iter_mut().enumerate().take(n) {
            *slot = view.load(w) as f64 * mean;
        }
        let moving = |t: TaskId| {
            self.transfer_ns + view.sizes().estimate(graph, t) as f64 * self.ns_per_byte
        };
        for dep in graph.deps(task) {
            let m = moving(dep);
            let held = view.holders().of(dep);
            for (w, slot) in cost.iter_mut().enumerate().take(n) {
                if !held.contains(w) {
                    *slot += m;
                }
            }
        }
        // Only small fan-ins: for a merge of thousands every worker is as
        // good as another. (A task with inputs stays with them: moving it
        // would only move the transfer.)
        if graph.args(task).iter().all(|a| a.as_dep().is_none()) {
            for &dependent in plan.dependents(task).iter().take(SIBLING_DEPENDENTS) {
                if plan.dep_count(dependent) > SIBLING_FAN_IN {
                    continue;
                }
                for sibling in graph.deps(dependent).filter(|&s| s != task) {
                    let Some(there) = view.placed(sibling) else {
                        continue;
                    };
                    let m = moving(task);
                    for (w, slot) in cost.iter_mut().enumerate().take(n) {
                        if w != there {
                            *slot += m;
                        }
                    }
                }
            }
        }
        cost
    }
}

impl Placement for EarliestStart {
    /// About [`queued_ns`](Self::queued_ns) of work at the recent mean task
    /// time, at least two so a worker never idles between one task and the
    /// next.
    fn depth(&self, times: &Durations) -> usize {
        let max = self.max_depth.max(2) as f64;
        (self.queued_ns / times.recent_ns().max(1.0)).clamp(2.0, max) as usize
    }

    fn choose(&mut self, task: TaskId, view: &View<'_>) -> Option<usize> {
        let cost = self.costs(task, view);
        let mut best = (f64::INFINITY, 0);
        for (w, &c) in cost.iter().enumerate() {
            if c < best.0 {
                best = (c, w);
            }
        }
        view.has_room(best.1).then_some(best.1)
    }
}
