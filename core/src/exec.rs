//! The execution state machine every scheduler drives.
//!
//! [`Plan`] is what a run needs to know about the graph, computed once:
//! which tasks the outputs need, their priorities, and who depends on whom.
//! [`ExecState`] adds the mutable part: how many inputs each task still
//! waits for, how many dependents still need each result, and the ready
//! queue, ordered by priority. A driver loops: `peek_ready` (or any ready
//! task it prefers) → `start` → run the task → `complete` (which makes
//! dependents ready and names the results that may now be dropped) or
//! `fail`. `pop_ready` is `peek_ready` then `start`.

use core::fmt;
use core::ops::Deref;

use crate::graph::{Graph, GraphError, TaskId};
use crate::order::{post_order, NOT_NEEDED};
use crate::ready::ReadyQueue;
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

/// Where a task is in its life, as [`ExecState::state`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// No output needs it: it never runs.
    NotNeeded,
    /// Some of its inputs are not done yet.
    Waiting,
    /// Every input is done; it may be started.
    Ready,
    /// Started and not reported back.
    Running,
    /// Finished; its result is still needed (or is an output).
    Done,
    /// Reported failed.
    Failed,
    /// Finished, and every dependent has read its result: the driver
    /// dropped it.
    Released,
}

/// [`TaskState`] plus one state the queue needs: a task started ahead of
/// better ones whose entry still sits in the ready queue. Knowing the entry
/// is there keeps one entry per task at most, so a requeued task is not
/// pushed twice and a fixed-capacity queue never outgrows the task count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    NotNeeded,
    Waiting,
    Ready,
    Running,
    /// Running, with a stale entry still in the ready queue.
    RunningQueued,
    Done,
    Failed,
    Released,
}

impl State {
    fn public(self) -> TaskState {
        match self {
            State::NotNeeded => TaskState::NotNeeded,
            State::Waiting => TaskState::Waiting,
            State::Ready => TaskState::Ready,
            State::Running | State::RunningQueued => TaskState::Running,
            State::Done => TaskState::Done,
            State::Failed => TaskState::Failed,
            State::Released => TaskState::Released,
        }
    }
}

/// A driver told the state machine something impossible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecError {
    /// `task` was completed, failed or requeued while it was not running.
    NotRunning {
        /// The task.
        task: TaskId,
    },
    /// `task` was started while it was not ready.
    NotReady {
        /// The task.
        task: TaskId,
    },
    /// `task` was started after the run had failed.
    RunFailed {
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
            ExecError::NotReady { task } => {
                write!(f, "{task} was started but was not ready")
            }
            ExecError::RunFailed { task } => {
                write!(f, "{task} was started after the run failed")
            }
        }
    }
}

/// The sans-IO scheduling state machine over one graph and its outputs.
///
/// `G` is how the graph is held: `&Graph` to borrow it, `Arc<Graph>` (or
/// any other pointer to it) when the driver owns the state and the graph
/// together.
pub struct ExecState<G, S: Storage = Heap> {
    graph: G,
    plan: Plan<S>,
    /// Unfinished dependency edges per task (counts down).
    waiting: S::Vec<u32>,
    /// Dependents per task that still need its result (counts down).
    refs: S::Vec<u32>,
    state: S::Vec<State>,
    /// Ready tasks by priority. Entries delete lazily: one is live only
    /// while its task is `Ready`, so starting any ready task is O(1). Both
    /// tops are kept live (stale ones are dropped after every start), so
    /// the best ready task is read without a search.
    queue: ReadyQueue<S>,
    /// Tasks in state `Ready`.
    ready: u32,
    done: u32,
    running: u32,
    failed: Option<TaskId>,
    /// Completed tasks whose inputs are not all walked yet, with the index
    /// of the next argument to walk ([`complete_bounded`]).
    ///
    /// [`complete_bounded`]: ExecState::complete_bounded
    unwalked: S::Vec<(TaskId, u32)>,
}

impl<G, S: Storage> fmt::Debug for ExecState<G, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecState")
            .field("needed", &self.plan.needed)
            .field("done", &self.done)
            .field("running", &self.running)
            .field("ready", &self.ready)
            .field("failed", &self.failed)
            .finish()
    }
}

impl<G, S> ExecState<G, S>
where
    G: Deref<Target = Graph<S>>,
    S: Storage,
{
    /// Plans `outputs` of `graph` and makes every task without dependencies ready.
    pub fn new(graph: G, outputs: &[TaskId]) -> Result<Self, GraphError> {
        let plan = Plan::new(&graph, outputs)?;
        Self::from_plan(graph, plan)
    }

    /// Plans `outputs` of `graph` when the tasks for which `held` is true
    /// already have results (see [`Plan::resuming`]): those are ready from
    /// the start and the driver completes them without running them.
    pub fn resuming(
        graph: G,
        outputs: &[TaskId],
        held: impl Fn(TaskId) -> bool,
    ) -> Result<Self, GraphError> {
        let plan = Plan::resuming(&graph, outputs, held)?;
        Self::from_plan(graph, plan)
    }

    /// Starts a run from an existing plan of `graph`.
    pub fn from_plan(graph: G, plan: Plan<S>) -> Result<Self, GraphError> {
        let n = plan.len();
        let mut waiting = S::Vec::empty();
        let mut refs = S::Vec::empty();
        let mut state = S::Vec::empty();
        waiting.try_resize(n, 0)?;
        refs.try_resize(n, 0)?;
        state.try_resize(n, State::NotNeeded)?;
        let mut roots = S::Vec::empty();
        for t in graph.task_ids() {
            if !plan.is_needed(t) {
                continue;
            }
            let i = t.index();
            waiting[i] = plan.dep_count(t);
            refs[i] = plan.dependents(t).len() as u32;
            if waiting[i] == 0 {
                state[i] = State::Ready;
                roots.try_push(t)?;
            } else {
                state[i] = State::Waiting;
            }
        }
        Ok(ExecState {
            graph,
            waiting,
            refs,
            state,
            ready: roots.len() as u32,
            queue: ReadyQueue::from_roots(roots, &plan.priority),
            done: 0,
            running: 0,
            failed: None,
            unwalked: S::Vec::empty(),
            plan,
        })
    }

    /// The graph this run executes.
    pub fn graph(&self) -> &Graph<S> {
        &self.graph
    }

    /// Records that `task` finished. Dependents whose inputs are now all
    /// present become ready (returned: how many); each input whose last
    /// dependent this was, and that is not an output, is passed to `release`
    /// so the driver can drop its result.
    #[inline]
    pub fn complete(
        &mut self,
        task: TaskId,
        release: impl FnMut(TaskId),
    ) -> Result<usize, ExecError> {
        self.complete_bounded(task, usize::MAX, release)
    }

    /// [`complete`](Self::complete), walking at most `max_inputs` of
    /// `task`'s arguments now: a task of ten million inputs would hold a
    /// driver's loop for a fifth of a second. The rest wait for
    /// [`release_more`](Self::release_more); until then those inputs stay
    /// `Done` (their results are still wanted by nobody but not yet given
    /// up). Dependents become ready at once, whatever the bound.
    #[inline]
    pub fn complete_bounded(
        &mut self,
        task: TaskId,
        max_inputs: usize,
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
                // At most one entry per task (see `State::RunningQueued`),
                // so the heap never outgrows the task count.
                let _ = self.queue.push(d, &self.plan.priority);
                newly_ready += 1;
            }
        }
        self.ready += newly_ready as u32;
        if self.refs[task.index()] == 0 && !self.plan.is_output(task) {
            self.state[task.index()] = State::Released;
            release(task);
        }
        // A held task of a resumed plan waits for nothing: its inputs are
        // not part of this run.
        if self.plan.dep_count(task) > 0 {
            let next = self.walk_inputs(task, 0, max_inputs, &mut release);
            if next < self.graph.args(task).len() {
                let left = (task, next as u32);
                if self.unwalked.try_push(left).is_err() {
                    // Each task is queued at most once, so storage sized
                    // for the tasks never fills; if it did, walk it all.
                    self.walk_inputs(task, next, usize::MAX, &mut release);
                }
            }
        }
        Ok(newly_ready)
    }

    /// Goes on walking the inputs [`complete_bounded`](Self::complete_bounded)
    /// left, at most `max_inputs` arguments in all, releasing as
    /// `complete` does. Returns true while some are left.
    pub fn release_more(&mut self, max_inputs: usize, mut release: impl FnMut(TaskId)) -> bool {
        let mut budget = max_inputs;
        while budget > 0 {
            let Some(&(task, next)) = self.unwalked.last() else {
                break;
            };
            let args = self.graph.args(task).len();
            let from = next as usize;
            let upto = self.walk_inputs(task, from, budget, &mut release);
            budget -= upto - from;
            match self.unwalked.last_mut() {
                Some(last) if upto < args => last.1 = upto as u32,
                _ => {
                    self.unwalked.pop_last();
                }
            }
        }
        !self.unwalked.is_empty()
    }

    /// True while completed tasks have inputs not walked yet.
    pub fn releasing(&self) -> bool {
        !self.unwalked.is_empty()
    }

    /// Counts down the inputs among `task`'s arguments `from..from + max`,
    /// releasing each whose last dependent this was; returns where it
    /// stopped.
    // Always: left out of line (with `start`), the sync chain graph ran 5%
    // more instructions (callgrind, whole process).
    #[inline(always)]
    fn walk_inputs(
        &mut self,
        task: TaskId,
        from: usize,
        max: usize,
        release: &mut impl FnMut(TaskId),
    ) -> usize {
        let args = self.graph.args(task);
        let upto = from.saturating_add(max).min(args.len());
        for dep in args[from..upto].iter().filter_map(|a| a.as_dep()) {
            let r = &mut self.refs[dep.index()];
            *r -= 1;
            if *r == 0 && !self.plan.is_output(dep) {
                self.state[dep.index()] = State::Released;
                release(dep);
            }
        }
        upto
    }
}

impl<G, S: Storage> ExecState<G, S> {
    /// The plan this run follows.
    pub fn plan(&self) -> &Plan<S> {
        &self.plan
    }

    /// The highest-priority ready task, left ready; `None` when nothing is
    /// ready or the run has failed.
    pub fn peek_ready(&self) -> Option<TaskId> {
        if self.failed.is_some() {
            return None;
        }
        self.queue.peek(&self.plan.priority)
    }

    /// The highest-priority runnable task, now marked running; `None` when
    /// nothing is ready or the run has failed. The same as
    /// [`peek_ready`](Self::peek_ready) then [`start`](Self::start).
    #[inline]
    pub fn pop_ready(&mut self) -> Option<TaskId> {
        let task = self.peek_ready()?;
        self.start(task).ok()?;
        Some(task)
    }

    /// Ready tasks best first, without taking them: for a driver whose
    /// worker for the best task is full and that looks for one to start
    /// elsewhere. In exact priority order; it may end early, but only after
    /// at least 128 entries of the queue (stale entries of tasks started out
    /// of turn count). Nothing once the run has failed.
    pub fn ready_by_priority(&self) -> impl Iterator<Item = TaskId> + '_ {
        let live = self.failed.is_none();
        self.queue
            .best_first(&self.plan.priority)
            .filter(move |t| live && self.state[t.index()] == State::Ready)
    }

    /// Marks a ready `task` running, whether or not it is the best one (a
    /// driver may start a task because its inputs are where a worker has
    /// room). O(1) for any ready task. Starting a task that is not ready,
    /// or any task once the run has failed, is an error.
    #[inline]
    pub fn start(&mut self, task: TaskId) -> Result<(), ExecError> {
        if self.state.get(task.index()) != Some(&State::Ready) {
            return Err(ExecError::NotReady { task });
        }
        if self.failed.is_some() {
            return Err(ExecError::RunFailed { task });
        }
        self.ready -= 1;
        self.running += 1;
        self.state[task.index()] = match self.queue.remove_if_top(task, &self.plan.priority) {
            true => State::Running,
            // Its entry stays behind, stale, until it reaches a top.
            false => State::RunningQueued,
        };
        let state = &mut self.state;
        self.queue.drop_stale_tops(&self.plan.priority, |t| {
            // The entry goes now, so a running task no longer has one.
            let s = &mut state[t.index()];
            match *s {
                State::Ready => false,
                State::RunningQueued => {
                    *s = State::Running;
                    true
                }
                _ => true,
            }
        });
        Ok(())
    }

    /// Where `task` is in its life; `None` if it is not in the graph.
    pub fn state(&self, task: TaskId) -> Option<TaskState> {
        self.state.get(task.index()).map(|s| s.public())
    }

    /// Records that `task` failed: nothing more is handed out, and the run is
    /// finished once the tasks still running have reported back. The first
    /// failure is the one kept.
    pub fn fail(&mut self, task: TaskId) -> Result<(), ExecError> {
        self.take_running(task)?;
        self.state[task.index()] = State::Failed;
        self.failed.get_or_insert(task);
        Ok(())
    }

    /// Puts a running `task` back in the ready queue (its worker was lost).
    pub fn requeue(&mut self, task: TaskId) -> Result<(), ExecError> {
        let queued = self.state.get(task.index()) == Some(&State::RunningQueued);
        self.take_running(task)?;
        self.state[task.index()] = State::Ready;
        self.ready += 1;
        // Priorities never change, so a stale entry is still in its place
        // and becomes live again.
        if !queued {
            let _ = self.queue.push(task, &self.plan.priority);
        }
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
        self.ready as usize
    }

    /// Needed tasks that completed.
    pub fn done(&self) -> usize {
        self.done as usize
    }

    fn take_running(&mut self, task: TaskId) -> Result<(), ExecError> {
        match self.state.get(task.index()) {
            Some(State::Running | State::RunningQueued) => {
                self.running -= 1;
                Ok(())
            }
            _ => Err(ExecError::NotRunning { task }),
        }
    }
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

    /// Four independent roots feeding one join: `[r0, r1, r2, r3] -> j`.
    fn fan_in() -> (Graph, [TaskId; 4], TaskId) {
        let mut g: Graph = Graph::new();
        let r = [(); 4].map(|_| g.add_task(OpId(0), &[]).unwrap());
        let j = g.add_task(OpId(0), &r.map(Arg::dep)).unwrap();
        (g, r, j)
    }

    #[test]
    fn peek_leaves_the_best_task_ready() {
        let (g, r, j) = fan_in();
        let s = ExecState::new(&g, &[j]).unwrap();
        let best = s.peek_ready().unwrap();
        assert_eq!(
            s.peek_ready(),
            Some(best),
            "peeking twice gives the same task"
        );
        assert_eq!(s.state(best), Some(TaskState::Ready));
        assert_eq!(s.ready_len(), 4);
        assert_eq!(s.running(), 0);
        assert!(r.contains(&best));
        assert_eq!(s.state(j), Some(TaskState::Waiting));
        assert_eq!(s.state(TaskId(99)), None);
    }

    #[test]
    fn any_ready_task_starts_and_the_rest_keep_their_order() {
        let (g, _, j) = fan_in();
        let mut s = ExecState::new(&g, &[j]).unwrap();
        // The order `pop_ready` alone would give.
        let mut sequential = ExecState::new(&g, &[j]).unwrap();
        let order: Vec<TaskId> = core::iter::from_fn(|| sequential.pop_ready()).collect();
        // Start the third best and the best out of turn.
        s.start(order[2]).unwrap();
        assert_eq!(s.state(order[2]), Some(TaskState::Running));
        assert_eq!(s.peek_ready(), Some(order[0]));
        s.start(order[0]).unwrap();
        assert_eq!(s.peek_ready(), Some(order[1]), "the stale entry is skipped");
        assert_eq!((s.ready_len(), s.running()), (2, 2));
        assert_eq!(s.pop_ready(), Some(order[1]));
        assert_eq!(s.pop_ready(), Some(order[3]));
        assert_eq!(s.pop_ready(), None);
        for &t in &order {
            s.complete(t, |_| {}).unwrap();
        }
        assert_eq!(s.state(j), Some(TaskState::Ready));
        assert_eq!(s.state(order[0]), Some(TaskState::Done));
    }

    #[test]
    fn starting_a_task_that_is_not_ready_is_an_error() {
        let (g, r, j) = fan_in();
        let mut s = ExecState::new(&g, &[j]).unwrap();
        assert_eq!(s.start(j), Err(ExecError::NotReady { task: j }));
        assert_eq!(
            s.start(TaskId(99)),
            Err(ExecError::NotReady { task: TaskId(99) })
        );
        s.start(r[1]).unwrap();
        assert_eq!(s.start(r[1]), Err(ExecError::NotReady { task: r[1] }));
        s.fail(r[1]).unwrap();
        assert_eq!(s.state(r[1]), Some(TaskState::Failed));
        assert_eq!(
            s.peek_ready(),
            None,
            "nothing is handed out after a failure"
        );
        assert_eq!(s.start(r[0]), Err(ExecError::RunFailed { task: r[0] }));
        assert!(s.is_finished());
    }

    #[test]
    fn a_task_started_out_of_turn_and_requeued_runs_once_more() {
        let (g, _, j) = fan_in();
        let mut sequential = ExecState::new(&g, &[j]).unwrap();
        let order: Vec<TaskId> = core::iter::from_fn(|| sequential.pop_ready()).collect();
        let mut s = ExecState::new(&g, &[j]).unwrap();
        s.start(order[1]).unwrap();
        s.requeue(order[1]).unwrap();
        s.start(order[1]).unwrap();
        s.requeue(order[1]).unwrap();
        assert_eq!(s.state(order[1]), Some(TaskState::Ready));
        let mut popped = Vec::new();
        while let Some(t) = s.pop_ready() {
            popped.push(t);
        }
        assert_eq!(popped, order, "one entry per task, in priority order");
    }

    #[test]
    fn fixed_capacity_queue_survives_requeues() {
        // The heap holds at most one entry per task, so requeueing over and
        // over in a heap with room for exactly the tasks never overflows.
        let mut g: Graph<crate::storage::Fixed<6>> = Graph::new();
        let a = g.add_task(OpId(0), &[]).unwrap();
        let b = g.add_task(OpId(0), &[Arg::dep(a)]).unwrap();
        let c = g.add_task(OpId(0), &[Arg::dep(a)]).unwrap();
        let d = g.add_task(OpId(0), &[Arg::dep(a)]).unwrap();
        let e = g
            .add_task(OpId(0), &[Arg::dep(b), Arg::dep(c), Arg::dep(d)])
            .unwrap();
        let mut s = ExecState::new(&g, &[e]).unwrap();
        let t = s.pop_ready().unwrap();
        s.complete(t, |_| {}).unwrap();
        for _ in 0..20 {
            for t in [d, b, c] {
                s.start(t).unwrap();
            }
            for t in [c, d, b] {
                s.requeue(t).unwrap();
            }
        }
        let mut ran = 0;
        while let Some(t) = s.pop_ready() {
            s.complete(t, |_| {}).unwrap();
            ran += 1;
        }
        assert_eq!(ran, 4);
        assert!(s.is_finished());
    }

    #[test]
    fn an_arc_graph_is_owned_by_the_state() {
        let (g, _, j) = fan_in();
        let mut s = ExecState::new(alloc::sync::Arc::new(g), &[j]).unwrap();
        while let Some(t) = s.pop_ready() {
            s.complete(t, |_| {}).unwrap();
        }
        assert!(s.is_finished());
        assert_eq!(s.graph().len(), 5);
    }

    #[test]
    fn ready_tasks_are_listed_best_first_without_being_taken() {
        // One root feeding 300 tasks: once it is done they all wait in the
        // heap, and the listing walks it in priority order.
        let mut g: Graph = Graph::new();
        let root = g.add_task(OpId(0), &[]).unwrap();
        let users: Vec<TaskId> = (0..300)
            .map(|_| g.add_task(OpId(0), &[Arg::dep(root)]).unwrap())
            .collect();
        let mut s = ExecState::new(&g, &users).unwrap();
        assert_eq!(s.ready_by_priority().collect::<Vec<_>>(), [root]);
        let t = s.pop_ready().unwrap();
        s.complete(t, |_| {}).unwrap();
        let mut by_priority = users.clone();
        by_priority.sort_by_key(|&t| s.plan().priority(t));
        let listed: Vec<TaskId> = s.ready_by_priority().collect();
        assert!(listed.len() >= 128, "{} listed", listed.len());
        assert_eq!(listed, by_priority[..listed.len()]);
        assert_eq!(s.ready_len(), 300, "listing takes nothing");
        // Started out of turn, a task is no longer listed.
        s.start(by_priority[1]).unwrap();
        assert_eq!(s.ready_by_priority().nth(1), Some(by_priority[2]));
    }
}
