//! Placement by inputs held and by *families* of roots.
//!
//! A ready task goes to the worker with room already holding most of its
//! inputs, then to the least busy one. A task without inputs (a root) goes
//! with its family: the roots whose chains of single dependents meet at
//! the same small join (`x-i → asin-i → add-i ← acos-i ← y-i`) are placed
//! together, in one go, so the join finds every input local instead of
//! pulling a whole chunk across. Other roots go where the previous root
//! went while that worker has room, so fewer results travel to the wide
//! join they meet at (a reduction over many roots). Dependents whose
//! inputs are all on a worker are sent right behind them
//! ([`Placement::runs_ahead`]).
//!
//! The depth is small (a few tasks) while tasks take a while, and wide
//! when they are tiny, so that many of them share one message.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::exec::Plan;
use crate::graph::{Graph, TaskId};

use super::measure::Durations;
use super::placement::{Placement, View};

/// Tasks ahead per worker when tasks take a while.
const WINDOW: usize = 8;
/// Tasks ahead per worker when the mean task is shorter than
/// [`TINY_TASK_NS`]: messages, not tasks, are then the cost.
const WIDE_WINDOW: usize = 256;
const TINY_TASK_NS: f64 = 50_000.0;
/// A join with more inputs than this is a reduction over many roots, not
/// a family: its roots are spread for parallelism, and their (small,
/// reduced) results travel.
const FAMILY_MAX_INPUTS: usize = 8;
/// How far down a chain of single dependents a root's join is looked for.
const FAMILY_MAX_DEPTH: usize = 16;

/// The families rule; see the module docs.
#[derive(Debug, Default)]
pub struct Families {
    /// Roots that go together, by the join their chains meet at, in
    /// priority order.
    by_join: BTreeMap<u32, Vec<TaskId>>,
    /// The join of each root that has a family.
    join_of: BTreeMap<u32, u32>,
    /// The worker the last root went to.
    last_root: usize,
    /// Scratch: the inputs of the task being placed.
    deps: Vec<TaskId>,
}

impl Families {
    /// The join a root's chain of single dependents leads to, when that
    /// join has at most [`FAMILY_MAX_INPUTS`] distinct inputs.
    fn family_of(graph: &Graph, plan: &Plan, root: TaskId) -> Option<u32> {
        let mut t = root;
        for _ in 0..FAMILY_MAX_DEPTH {
            // One dependent, perhaps using the result more than once.
            let next = match plan.dependents(t) {
                [first, rest @ ..] if rest.iter().all(|d| d == first) => *first,
                _ => return None,
            };
            // The edge count bounds the distinct inputs and costs nothing:
            // the roots of a wide reduction stop here, before its inputs
            // are gathered once per root.
            if plan.dep_count(next) as usize > FAMILY_MAX_INPUTS {
                return None;
            }
            let mut inputs: Vec<TaskId> = graph.deps(next).collect();
            inputs.sort_unstable();
            inputs.dedup();
            match inputs.len() {
                1 => t = next,
                n if n <= FAMILY_MAX_INPUTS => return Some(next.0),
                _ => return None,
            }
        }
        None
    }
}

impl Placement for Families {
    /// Every needed root's family, once per run.
    fn prepare(&mut self, graph: &Graph, plan: &Plan) {
        self.by_join.clear();
        self.join_of.clear();
        let roots = graph.task_ids().filter(|&t| {
            plan.is_needed(t) && plan.dep_count(t) == 0 && graph.deps(t).next().is_none()
        });
        for root in roots {
            if let Some(j) = Self::family_of(graph, plan, root) {
                self.by_join.entry(j).or_default().push(root);
                self.join_of.insert(root.0, j);
            }
        }
        for members in self.by_join.values_mut() {
            members.sort_unstable_by_key(|&t| plan.priority(t));
        }
    }

    fn depth(&self, times: &Durations) -> usize {
        match times.count() >= 8 && times.mean_ns().is_some_and(|m| m < TINY_TASK_NS) {
            true => WIDE_WINDOW,
            false => WINDOW,
        }
    }

    fn choose(&mut self, task: TaskId, view: &View<'_>) -> Option<usize> {
        let mut deps = core::mem::take(&mut self.deps);
        deps.clear();
        deps.extend(view.graph().deps(task));
        let has_family = self.join_of.contains_key(&task.0);
        let worker = match deps.is_empty() && !has_family {
            // Other roots taken one after another feed the same
            // dependents (priorities finish one chain at a time), so
            // they go together while the worker has room: fewer results
            // to relay to the wide join they meet at.
            true if view.has_room(self.last_root) => Some(self.last_root),
            _ => (0..view.workers())
                .filter(|&w| view.has_room(w))
                .max_by_key(|&w| {
                    let held = deps.iter().filter(|&&d| view.holders().has(d, w)).count();
                    // More inputs here first, then fewer tasks placed,
                    // then the lower index.
                    (held, usize::MAX - view.load(w), usize::MAX - w)
                }),
        };
        if let (true, Some(w)) = (deps.is_empty(), worker) {
            self.last_root = w;
        }
        self.deps = deps;
        worker
    }

    fn companions(&self, task: TaskId) -> &[TaskId] {
        self.join_of
            .get(&task.0)
            .and_then(|j| self.by_join.get(j))
            .map_or(&[], Vec::as_slice)
    }

    fn runs_ahead(&self) -> bool {
        true
    }
}
