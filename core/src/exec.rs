//! The execution state machine every scheduler drives.
//!
//! [`Plan`] is what a run needs to know about the graph, computed once:
//! which tasks the outputs need, their priorities, and who depends on whom.
//! [`ExecState`] adds the mutable part: how many inputs each task still
//! waits for, how many dependents still need each result, and the ready
//! queue, ordered by priority. A driver loops: `pop_ready` → run the task →
//! `complete` (which makes dependents ready and names the results that may
//! now be dropped) or `fail`.

use core::fmt;

use crate::graph::{Graph, GraphError, TaskId};
use crate::order::{post_order, NOT_NEEDED};
use crate::storage::{Buf, Heap, Storage};

/// The static part of a run: needed tasks, priorities, reverse edges.
pub struct Plan<S: Storage = Heap> {
    priority: S::Vec<u32>,
    /// Start of each task's slice in `dependents` (CSR); the slice ends where
    /// the next task's starts.
    dep_start: S::Vec<u32>,
    dependents: S::Vec<TaskId>,
    /// Dependency edges of each needed task.
    waiting: S::Vec<u32>,
    is_output: S::Vec<bool>,
    needed: u32,
}

impl<S: Storage> fmt::Debug for Plan<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plan")
            .field("tasks", &self.priority.len())
            .field("needed", &self.needed)
            .finish()
    }
}

impl<S: Storage> Plan<S> {
    /// Plans the computation of `outputs` (culling every task they do not
    /// need). Fails on a cycle, a dangling or undefined task, or an output
    /// outside the graph.
    pub fn new(graph: &Graph<S>, outputs: &[TaskId]) -> Result<Self, GraphError> {
        Self::resuming(graph, outputs, |_| false)
    }

    /// Plans `outputs` when the results of the tasks for which `held` is
    /// true already exist (kept from an earlier run, or still alive after a
    /// worker was lost): those tasks become dependency-free roots, and what
    /// only they needed is culled. A driver completes them without running
    /// them. This is how a distributed run recomputes lost results from
    /// lineage: re-plan with `held` = "a live worker still has it".
    pub fn resuming(
        graph: &Graph<S>,
        outputs: &[TaskId],
        held: impl Fn(TaskId) -> bool,
    ) -> Result<Self, GraphError> {
        let n = graph.len();
        let mut priority = S::Vec::empty();
        priority.try_resize(n, NOT_NEEDED)?;
        let mut stack = S::Vec::empty();
        let mut needed = 0;
        post_order(
            graph,
            outputs.iter().copied(),
            &held,
            &mut priority,
            &mut stack,
            &mut needed,
        )?;
        drop(stack);

        let mut is_output = S::Vec::empty();
        is_output.try_resize(n, false)?;
        for &t in outputs {
            is_output[t.index()] = true;
        }

        // Count dependents per task, then place them (CSR, filled backwards so
        // each task's dependents come out in ascending order).
        let mut waiting = S::Vec::empty();
        waiting.try_resize(n, 0u32)?;
        let mut dep_start = S::Vec::empty();
        dep_start.try_resize(n, 0u32)?;
        let mut edges = 0u32;
        let walked = |t: &TaskId| priority[t.index()] != NOT_NEEDED && !held(*t);
        for t in graph.task_ids().filter(walked) {
            for d in graph.deps(t) {
                dep_start[d.index()] += 1;
                waiting[t.index()] += 1;
                edges += 1;
            }
        }
        let mut end = 0;
        for slot in dep_start.iter_mut() {
            end += *slot;
            *slot = end;
        }
        let mut dependents = S::Vec::empty();
        dependents.try_resize(edges as usize, TaskId(0))?;
        for t in graph.task_ids().rev().filter(walked) {
            for d in graph.deps(t) {
                let pos = &mut dep_start[d.index()];
                *pos -= 1;
                dependents[*pos as usize] = t;
            }
        }
        Ok(Plan {
            priority,
            dep_start,
            dependents,
            waiting,
            is_output,
            needed,
        })
    }

    /// Number of tasks in the graph (needed or not).
    pub fn len(&self) -> usize {
        self.priority.len()
    }

    /// True when the graph has no task.
    pub fn is_empty(&self) -> bool {
        self.priority.is_empty()
    }

    /// Number of tasks the outputs need.
    pub fn needed(&self) -> usize {
        self.needed as usize
    }

    /// True if some output needs `task`.
    #[inline]
    pub fn is_needed(&self, task: TaskId) -> bool {
        self.priority[task.index()] != NOT_NEEDED
    }

    /// True if `task` is a requested output.
    #[inline]
    pub fn is_output(&self, task: TaskId) -> bool {
        self.is_output[task.index()]
    }

    /// Priority of `task`: lower runs first.
    #[inline]
    pub fn priority(&self, task: TaskId) -> u32 {
        self.priority[task.index()]
    }

    /// Needed tasks that use `task`'s result, one entry per edge.
    #[inline]
    pub fn dependents(&self, task: TaskId) -> &[TaskId] {
        let start = self.dep_start[task.index()] as usize;
        let end = self
            .dep_start
            .get(task.index() + 1)
            .map_or(self.dependents.len(), |&e| e as usize);
        &self.dependents[start..end]
    }

    /// Number of dependency edges of `task` (what it waits for at the start).
    #[inline]
    pub fn dep_count(&self, task: TaskId) -> u32 {
        self.waiting[task.index()]
    }

    /// Bytes held by this plan (per-task arrays and reverse edges).
    pub fn bytes(&self) -> usize {
        let n = self.priority.len();
        n * (3 * core::mem::size_of::<u32>() + 1)
            + self.dependents.len() * core::mem::size_of::<TaskId>()
    }
}

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    NotNeeded,
    Waiting,
    Ready,
    Running,
    Done,
    Released,
}

/// A driver told the state machine something impossible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecError {
    /// `task` was completed, failed or requeued while it was not running.
    NotRunning {
        /// The task.
        task: TaskId,
    },
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::NotRunning { task } => {
                write!(f, "{task} was reported done but was not running")
            }
        }
    }
}

/// The sans-IO scheduling state machine over one graph and its outputs.
pub struct ExecState<'g, S: Storage = Heap> {
    graph: &'g Graph<S>,
    plan: Plan<S>,
    /// Unfinished dependency edges per task (counts down).
    waiting: S::Vec<u32>,
    /// Dependents per task that still need its result (counts down).
    refs: S::Vec<u32>,
    state: S::Vec<State>,
    /// Tasks ready from the start, sorted by priority, best last: popped
    /// in O(1), which matters because wide graphs start with most tasks ready.
    roots: S::Vec<TaskId>,
    /// Binary min-heap by priority of tasks that became ready later.
    ready: S::Vec<TaskId>,
    done: u32,
    running: u32,
    failed: Option<TaskId>,
}

impl<S: Storage> fmt::Debug for ExecState<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecState")
            .field("needed", &self.plan.needed)
            .field("done", &self.done)
            .field("running", &self.running)
            .field("ready", &self.ready_len())
            .field("failed", &self.failed)
            .finish()
    }
}

impl<'g, S: Storage> ExecState<'g, S> {
    /// Plans `outputs` of `graph` and makes every task without dependencies ready.
    pub fn new(graph: &'g Graph<S>, outputs: &[TaskId]) -> Result<Self, GraphError> {
        let plan = Plan::new(graph, outputs)?;
        Self::from_plan(graph, plan)
    }

    /// Plans `outputs` of `graph` when the tasks for which `held` is true
    /// already have results (see [`Plan::resuming`]): those are ready from
    /// the start and the driver completes them without running them.
    pub fn resuming(
        graph: &'g Graph<S>,
        outputs: &[TaskId],
        held: impl Fn(TaskId) -> bool,
    ) -> Result<Self, GraphError> {
        let plan = Plan::resuming(graph, outputs, held)?;
        Self::from_plan(graph, plan)
    }

    /// Starts a run from an existing plan of `graph`.
    pub fn from_plan(graph: &'g Graph<S>, plan: Plan<S>) -> Result<Self, GraphError> {
        let n = plan.len();
        let mut waiting = S::Vec::empty();
        let mut refs = S::Vec::empty();
        let mut state = S::Vec::empty();
        waiting.try_resize(n, 0)?;
        refs.try_resize(n, 0)?;
        state.try_resize(n, State::NotNeeded)?;
        let mut this = ExecState {
            graph,
            waiting,
            refs,
            state,
            roots: S::Vec::empty(),
            ready: S::Vec::empty(),
            done: 0,
            running: 0,
            failed: None,
            plan,
        };
        for t in graph.task_ids() {
            if !this.plan.is_needed(t) {
                continue;
            }
            let i = t.index();
            this.waiting[i] = this.plan.dep_count(t);
            this.refs[i] = this.plan.dependents(t).len() as u32;
            if this.waiting[i] == 0 {
                this.state[i] = State::Ready;
                this.roots.try_push(t)?;
            } else {
                this.state[i] = State::Waiting;
            }
        }
        // Ids mostly come in priority order; the sort finds such runs in O(n).
        let prio = &this.plan.priority;
        this.roots
            .sort_unstable_by_key(|t| core::cmp::Reverse(prio[t.index()]));
        Ok(this)
    }

    /// The plan this run follows.
    pub fn plan(&self) -> &Plan<S> {
        &self.plan
    }

    /// The graph this run executes.
    pub fn graph(&self) -> &'g Graph<S> {
        self.graph
    }

    /// The highest-priority runnable task, now marked running; `None` when
    /// nothing is ready or the run has failed.
    pub fn pop_ready(&mut self) -> Option<TaskId> {
        if self.failed.is_some() {
            return None;
        }
        let prio = &self.plan.priority;
        let from_roots = match (self.roots.last(), self.ready.first()) {
            (Some(r), Some(h)) => prio[r.index()] < prio[h.index()],
            (Some(_), None) => true,
            (None, _) => false,
        };
        let task = if from_roots {
            self.roots.pop_last()?
        } else {
            let last = self.ready.len().checked_sub(1)?;
            self.ready.swap(0, last);
            let task = self.ready.pop_last()?;
            self.sift_down(0);
            task
        };
        self.state[task.index()] = State::Running;
        self.running += 1;
        Some(task)
    }

    /// Records that `task` finished. Dependents whose inputs are now all
    /// present become ready (returned: how many); each input whose last
    /// dependent this was, and that is not an output, is passed to `release`
    /// so the driver can drop its result.
    pub fn complete(
        &mut self,
        task: TaskId,
        mut release: impl FnMut(TaskId),
    ) -> Result<usize, ExecError> {
        self.take_running(task)?;
        self.state[task.index()] = State::Done;
        self.done += 1;
        let mut newly_ready = 0;
        let dependents = self.plan.dependents(task);
        for &d in dependents {
            let w = &mut self.waiting[d.index()];
            *w -= 1;
            if *w == 0 {
                self.state[d.index()] = State::Ready;
                // A heap never holds more entries than there are tasks.
                let _ = push_heap::<S>(&mut self.ready, &self.plan.priority, d);
                newly_ready += 1;
            }
        }
        // A held task of a resumed plan waits for nothing: its inputs are
        // not part of this run.
        let deps = self
            .graph
            .deps(task)
            .take(if self.plan.dep_count(task) == 0 {
                0
            } else {
                usize::MAX
            });
        for dep in deps {
            let r = &mut self.refs[dep.index()];
            *r -= 1;
            if *r == 0 && !self.plan.is_output(dep) {
                self.state[dep.index()] = State::Released;
                release(dep);
            }
        }
        if self.refs[task.index()] == 0 && !self.plan.is_output(task) {
            self.state[task.index()] = State::Released;
            release(task);
        }
        Ok(newly_ready)
    }

    /// Records that `task` failed: nothing more is handed out, and the run is
    /// finished once the tasks still running have reported back. The first
    /// failure is the one kept.
    pub fn fail(&mut self, task: TaskId) -> Result<(), ExecError> {
        self.take_running(task)?;
        self.state[task.index()] = State::Done;
        self.failed.get_or_insert(task);
        Ok(())
    }

    /// Puts a running `task` back in the ready queue (its worker was lost).
    pub fn requeue(&mut self, task: TaskId) -> Result<(), ExecError> {
        self.take_running(task)?;
        self.state[task.index()] = State::Ready;
        let _ = push_heap::<S>(&mut self.ready, &self.plan.priority, task);
        Ok(())
    }

    /// The first task that failed, if any.
    pub fn failed(&self) -> Option<TaskId> {
        self.failed
    }

    /// True when every needed task is done, or a task failed and nothing is
    /// running any more.
    pub fn is_finished(&self) -> bool {
        match self.failed {
            Some(_) => self.running == 0,
            None => self.done == self.plan.needed,
        }
    }

    /// Tasks handed out and not yet reported back.
    pub fn running(&self) -> usize {
        self.running as usize
    }

    /// Tasks ready to run.
    pub fn ready_len(&self) -> usize {
        self.roots.len() + self.ready.len()
    }

    /// Needed tasks that completed.
    pub fn done(&self) -> usize {
        self.done as usize
    }

    fn take_running(&mut self, task: TaskId) -> Result<(), ExecError> {
        match self.state.get(task.index()) {
            Some(State::Running) => {
                self.running -= 1;
                Ok(())
            }
            _ => Err(ExecError::NotRunning { task }),
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let heap = &mut self.ready[..];
        let prio = &self.plan.priority;
        loop {
            let l = 2 * i + 1;
            if l >= heap.len() {
                break;
            }
            let r = l + 1;
            let c = if r < heap.len() && prio[heap[r].index()] < prio[heap[l].index()] {
                r
            } else {
                l
            };
            if prio[heap[c].index()] >= prio[heap[i].index()] {
                break;
            }
            heap.swap(c, i);
            i = c;
        }
    }
}

fn push_heap<S: Storage>(
    heap: &mut S::Vec<TaskId>,
    prio: &[u32],
    task: TaskId,
) -> Result<(), crate::storage::CapacityError> {
    heap.try_push(task)?;
    let mut i = heap.len() - 1;
    while i > 0 {
        let parent = (i - 1) / 2;
        if prio[heap[parent].index()] <= prio[heap[i].index()] {
            break;
        }
        heap.swap(parent, i);
        i = parent;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Arg, OpId};
    use alloc::vec::Vec;

    #[test]
    fn diamond_releases_inputs_after_last_dependent() {
        // a -> b, a -> c, (b, c) -> d
        let mut g: Graph = Graph::new();
        let a = g.add_task(OpId(0), &[]).unwrap();
        let b = g.add_task(OpId(0), &[Arg::dep(a)]).unwrap();
        let c = g.add_task(OpId(0), &[Arg::dep(a)]).unwrap();
        let d = g.add_task(OpId(0), &[Arg::dep(b), Arg::dep(c)]).unwrap();
        let mut s = ExecState::new(&g, &[d]).unwrap();
        let mut released = Vec::new();
        assert_eq!(s.pop_ready(), Some(a));
        assert_eq!(s.pop_ready(), None);
        assert_eq!(s.complete(a, |t| released.push(t)), Ok(2));
        assert!(released.is_empty());
        assert_eq!(s.pop_ready(), Some(b));
        s.complete(b, |t| released.push(t)).unwrap();
        assert!(released.is_empty(), "a is still needed by c");
        assert_eq!(s.pop_ready(), Some(c));
        s.complete(c, |t| released.push(t)).unwrap();
        assert_eq!(released, [a]);
        assert_eq!(s.pop_ready(), Some(d));
        s.complete(d, |t| released.push(t)).unwrap();
        assert_eq!(released, [a, b, c], "the output itself is kept");
        assert!(s.is_finished());
    }

    #[test]
    fn failure_stops_new_work_and_waits_for_running() {
        let mut g: Graph = Graph::new();
        let a = g.add_task(OpId(0), &[]).unwrap();
        let b = g.add_task(OpId(0), &[]).unwrap();
        let c = g.add_task(OpId(0), &[]).unwrap();
        let d = g
            .add_task(OpId(0), &[Arg::dep(a), Arg::dep(b), Arg::dep(c)])
            .unwrap();
        let mut s = ExecState::new(&g, &[d]).unwrap();
        let x = s.pop_ready().unwrap();
        let y = s.pop_ready().unwrap();
        s.fail(x).unwrap();
        assert!(!s.is_finished(), "y is still running");
        assert_eq!(s.pop_ready(), None);
        s.complete(y, |_| {}).unwrap();
        assert!(s.is_finished());
        assert_eq!(s.failed(), Some(x));
    }

    #[test]
    fn completing_a_task_twice_is_an_error_not_a_panic() {
        let mut g: Graph = Graph::new();
        let a = g.add_task(OpId(0), &[]).unwrap();
        let mut s = ExecState::new(&g, &[a]).unwrap();
        assert_eq!(
            s.complete(a, |_| {}),
            Err(ExecError::NotRunning { task: a })
        );
        let t = s.pop_ready().unwrap();
        s.complete(t, |_| {}).unwrap();
        assert_eq!(
            s.complete(t, |_| {}),
            Err(ExecError::NotRunning { task: a })
        );
        assert_eq!(
            s.complete(TaskId(99), |_| {}),
            Err(ExecError::NotRunning { task: TaskId(99) })
        );
    }

    #[test]
    fn requeued_task_runs_again() {
        let mut g: Graph = Graph::new();
        let a = g.add_task(OpId(0), &[]).unwrap();
        let mut s = ExecState::new(&g, &[a]).unwrap();
        let t = s.pop_ready().unwrap();
        s.requeue(t).unwrap();
        assert_eq!(s.pop_ready(), Some(a));
        s.complete(a, |_| {}).unwrap();
        assert!(s.is_finished());
    }
}
