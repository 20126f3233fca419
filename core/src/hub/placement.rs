//! The seam between the hub's bookkeeping and its policy: what a
//! placement rule may read ([`View`]) and what it decides ([`Placement`]).

use crate::exec::Plan;
use crate::graph::{Graph, TaskId};

use super::holders::Holders;
use super::measure::{Durations, Sizes};

/// A rule that picks the worker for each ready task.
///
/// The hub calls [`choose`](Placement::choose) for the best ready task
/// while some worker has fewer than [`depth`](Placement::depth) tasks
/// placed and unfinished; `None` leaves the task ready (it waits for a
/// better worker to have room) and ends the round.
pub trait Placement {
    /// Called once, before the first task is placed.
    fn prepare(&mut self, graph: &Graph, plan: &Plan) {
        let _ = (graph, plan);
    }

    /// How many tasks a worker is given ahead (placed and not finished),
    /// given the task times measured so far.
    fn depth(&self, times: &Durations) -> usize;

    /// The worker for `task`, or `None` to leave it waiting.
    fn choose(&mut self, task: TaskId, view: &View<'_>) -> Option<usize>;

    /// Tasks that go to the same worker as `task`, in order, `task` among
    /// them; empty when it goes alone. Those that are not ready, or already
    /// placed, are passed over.
    fn companions(&self, task: TaskId) -> &[TaskId] {
        let _ = task;
        &[]
    }

    /// When true, the hub sends a task's dependents to its worker right
    /// behind it once all their inputs are (or will be) there, up to twice
    /// the depth: a worker that runs its messages in order then needs no
    /// round trip between them.
    fn runs_ahead(&self) -> bool {
        false
    }
}

/// What a placement rule sees of the hub.
#[derive(Debug)]
pub struct View<'a> {
    pub(super) graph: &'a Graph,
    pub(super) plan: &'a Plan,
    pub(super) holders: &'a Holders,
    pub(super) load: &'a [u32],
    pub(super) placed: &'a [u8],
    pub(super) times: &'a Durations,
    pub(super) sizes: &'a Sizes,
    pub(super) depth: usize,
}

/// [`View::placed`] of a task that was not placed.
pub(super) const NOWHERE: u8 = u8::MAX;

impl<'a> View<'a> {
    /// The graph being run.
    pub fn graph(&self) -> &'a Graph {
        self.graph
    }

    /// The run's plan (priorities, dependents).
    pub fn plan(&self) -> &'a Plan {
        self.plan
    }

    /// Where each result is held.
    pub fn holders(&self) -> &'a Holders {
        self.holders
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.load.len()
    }

    /// Tasks placed on `worker` and not finished.
    pub fn load(&self, worker: usize) -> usize {
        self.load.get(worker).map_or(0, |&l| l as usize)
    }

    /// True if `worker` has fewer than [`depth`](Self::depth) tasks.
    pub fn has_room(&self, worker: usize) -> bool {
        self.load(worker) < self.depth
    }

    /// The depth the rule asked for, now.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The worker `task` was placed on, if it was.
    pub fn placed(&self, task: TaskId) -> Option<usize> {
        match self.placed.get(task.index()) {
            Some(&w) if w != NOWHERE => Some(usize::from(w)),
            _ => None,
        }
    }

    /// Task times measured so far.
    pub fn times(&self) -> &'a Durations {
        self.times
    }

    /// Result sizes seen so far.
    pub fn sizes(&self) -> &'a Sizes {
        self.sizes
    }
}
