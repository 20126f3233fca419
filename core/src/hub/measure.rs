//! What the hub learns as a run goes: how long tasks take and how big
//! their results are, which placement rules weigh against each other.

use alloc::vec;
use alloc::vec::Vec;

use crate::graph::{Graph, TaskId};

/// Assumed size of a result when nothing of its op has been seen.
pub const UNKNOWN_BYTES: u64 = 65_536;

/// Task durations reported so far.
#[derive(Clone, Debug)]
pub struct Durations {
    recent_ns: f64,
    sum_ns: f64,
    count: u64,
}

impl Default for Durations {
    fn default() -> Self {
        // Pessimistic until measured: 100 µs, so few tasks go ahead at first.
        Durations {
            recent_ns: 100_000.0,
            sum_ns: 0.0,
            count: 0,
        }
    }
}

impl Durations {
    /// Adds one task's duration.
    pub fn record(&mut self, ns: f64) {
        let ns = ns.max(0.0);
        self.recent_ns = 0.9 * self.recent_ns + 0.1 * ns;
        self.sum_ns += ns;
        self.count += 1;
    }

    /// A moving mean that follows the latest tasks (100 µs before any).
    pub fn recent_ns(&self) -> f64 {
        self.recent_ns
    }

    /// The mean over every task reported, if any was.
    pub fn mean_ns(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_ns / self.count as f64)
    }

    /// Tasks reported.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// Encoded result sizes: exact for results that crossed, by op for the
/// others.
#[derive(Debug)]
pub struct Sizes {
    /// Per task; 0 until its result crossed.
    known: Vec<u64>,
    /// Per op id, a running mean of its results that crossed; 0: none yet.
    by_op: Vec<u64>,
}

impl Sizes {
    /// Nothing known, for `tasks` tasks.
    pub fn new(tasks: usize) -> Sizes {
        Sizes {
            known: vec![0; tasks],
            by_op: Vec::new(),
        }
    }

    /// Records that `task`'s result is `bytes` long.
    pub fn record(&mut self, graph: &Graph, task: TaskId, bytes: u64) {
        if let Some(k) = self.known.get_mut(task.index()) {
            *k = bytes;
        }
        let Some(op) = graph.op(task) else {
            return;
        };
        let op = op.0 as usize;
        if self.by_op.len() <= op {
            self.by_op.resize(op + 1, 0);
        }
        let typical = &mut self.by_op[op];
        *typical = match *typical {
            0 => bytes,
            t => (t + bytes) / 2,
        };
    }

    /// `task`'s size if it crossed, else the typical size of its op's
    /// results, else [`UNKNOWN_BYTES`].
    pub fn estimate(&self, graph: &Graph, task: TaskId) -> u64 {
        let op = graph.op(task).map_or(usize::MAX, |op| op.0 as usize);
        match (
            self.known.get(task.index()).copied().unwrap_or(0),
            self.by_op.get(op).copied().unwrap_or(0),
        ) {
            (0, 0) => UNKNOWN_BYTES,
            (0, typical) => typical,
            (known, _) => known,
        }
    }
}
