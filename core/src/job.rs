//! A [`Job`]: a graph together with its ops, its literal values and the
//! names of its tasks. It is what every [`Scheduler`](crate::Scheduler) runs.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Error;
use crate::exec::Plan;
use crate::graph::{Arg, Graph, GraphError, LitId, OpId, TaskId};
use crate::held::{Held, HeldRef};
use crate::op::{Args, Codec, Fetch, Op, TaskError};
use crate::order::validate;
use crate::value::Value;

/// A literal argument: a value known when the graph is built.
#[derive(Clone, Debug)]
pub struct Lit {
    pub(crate) value: Value,
    pub(crate) codec: Option<Codec>,
}

impl Lit {
    /// The value.
    pub fn value(&self) -> &Value {
        &self.value
    }
    /// Its codec, if it can cross process boundaries.
    pub fn codec(&self) -> Option<Codec> {
        self.codec
    }
}

/// A graph with everything needed to run it.
#[derive(Clone, Debug, Default)]
pub struct Job {
    graph: Graph,
    ops: Vec<Op>,
    lits: Vec<Lit>,
    /// Names given to tasks explicitly; other tasks are named `op-id`.
    keys: BTreeMap<TaskId, Arc<str>>,
    by_key: BTreeMap<Arc<str>, TaskId>,
    /// Tasks standing for results held elsewhere (see [`JobBuilder::held`]).
    held: BTreeMap<TaskId, Held>,
}

/// A task's human-readable name: its key, or `op-<id>`.
#[derive(Clone, Copy, Debug)]
pub struct TaskKey<'a> {
    job: &'a Job,
    task: TaskId,
}

impl fmt::Display for TaskKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(key) = self.job.keys.get(&self.task) {
            return f.write_str(key);
        }
        match self.job.op(self.task) {
            Some(op) => write!(f, "{}-{}", op.name(), self.task.0),
            None => write!(f, "task-{}", self.task.0),
        }
    }
}

impl Job {
    /// The task graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.graph.len()
    }

    /// True if the job has no task.
    pub fn is_empty(&self) -> bool {
        self.graph.is_empty()
    }

    /// The op table.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The literal table.
    pub fn lits(&self) -> &[Lit] {
        &self.lits
    }

    /// The op `task` runs, if the task is defined and its op known.
    pub fn op(&self, task: TaskId) -> Option<&Op> {
        self.graph
            .contains(task)
            .then(|| self.graph.op(task))
            .flatten()
            .and_then(|op| self.ops.get(op.0 as usize))
    }

    /// The name of `task`, for messages, progress and profiles.
    pub fn key(&self, task: TaskId) -> TaskKey<'_> {
        TaskKey { job: self, task }
    }

    /// The key `task` was given explicitly, if any.
    pub fn explicit_key(&self, task: TaskId) -> Option<&str> {
        self.keys.get(&task).map(|k| &**k)
    }

    /// Every explicit key, by task.
    pub fn explicit_keys(&self) -> impl Iterator<Item = (TaskId, &str)> {
        self.keys.iter().map(|(t, k)| (*t, &**k))
    }

    /// The task with the explicit key `key`.
    pub fn task_by_key(&self, key: &str) -> Option<TaskId> {
        self.by_key.get(key).copied()
    }

    /// The result `task` stands for, if it stands for one held elsewhere
    /// (see [`JobBuilder::held`]).
    pub fn held(&self, task: TaskId) -> Option<&Held> {
        self.held.get(&task)
    }

    /// Every task standing for a result held elsewhere, with the result.
    pub fn held_tasks(&self) -> impl Iterator<Item = (TaskId, &Held)> {
        self.held.iter().map(|(t, h)| (*t, h))
    }

    /// Checks the whole graph: tasks defined, ops known, dependencies inside
    /// the graph, no cycle. Errors name the tasks by key.
    pub fn validate(&self) -> Result<(), Error> {
        validate(&self.graph, |op| (op.0 as usize) < self.ops.len()).map_err(|e| self.graph_error(e))
    }

    /// Plans a run of `outputs`: culls unneeded tasks, orders the rest, and
    /// checks what it keeps (cycles, dangling or undefined tasks, unknown ops).
    pub fn plan(&self, outputs: &[TaskId]) -> Result<Plan, Error> {
        let plan = Plan::new(&self.graph, outputs).map_err(|e| self.graph_error(e))?;
        for task in self.graph.task_ids().filter(|&t| plan.is_needed(t)) {
            if self.op(task).is_none() {
                let op = self.graph.op(task).unwrap_or(OpId(u32::MAX));
                return Err(self.graph_error(GraphError::UnknownOp { task, op }));
            }
        }
        Ok(plan)
    }

    /// Runs `task`'s op, fetching finished dependencies from `fetch`.
    #[inline]
    pub fn execute(&self, task: TaskId, fetch: &dyn Fetch) -> Result<Value, TaskError> {
        let op = self
            .op(task)
            .ok_or_else(|| TaskError::new(alloc::format!("{} has no known op", self.key(task))))?;
        op.call(&Args::new(self.graph.args(task), &self.lits, fetch))
    }

    /// The error a run ends with when `task` failed with `error`.
    pub fn task_failed(&self, task: TaskId, error: TaskError) -> Error {
        let (key, op) = match error.origin() {
            Some((key, op)) => (key.to_string(), op.to_string()),
            None => (
                self.key(task).to_string(),
                self.op(task).map_or_else(String::new, |op| op.name().to_string()),
            ),
        };
        Error::TaskFailed { key, op, message: error.message().to_string() }
    }

    /// A structural error, with task ids turned into keys.
    pub fn graph_error(&self, error: GraphError) -> Error {
        let key = |t: TaskId| self.key(t).to_string();
        match error {
            GraphError::Dangling { task, dep } => Error::MissingDependency {
                key: key(task),
                dep: alloc::format!("#{}", dep.0),
            },
            GraphError::Undefined { task } => {
                let user = self
                    .graph
                    .task_ids()
                    .find(|&t| self.graph.op(t).is_some() && self.graph.deps(t).any(|d| d == task));
                match user {
                    Some(user) => Error::MissingDependency { key: key(user), dep: key(task) },
                    None => Error::UndefinedTask { key: key(task) },
                }
            }
            GraphError::UnknownOp { task, op } => Error::UnknownOp {
                key: key(task),
                op: alloc::format!("#{}", op.0),
            },
            GraphError::Cycle { task } => Error::Cycle {
                keys: self.cycle_through(task).into_iter().map(key).collect(),
            },
            GraphError::NoSuchOutput { task } => Error::NoSuchOutput { key: alloc::format!("#{}", task.0) },
            GraphError::Capacity => Error::Backend {
                backend: "core",
                message: error.to_string(),
            },
        }
    }

    /// The tasks on a cycle through `start`, in dependency order.
    fn cycle_through(&self, start: TaskId) -> Vec<TaskId> {
        // Depth-first from `start` along dependencies, remembering how each
        // task was reached, until a dependency leads back to `start`.
        let mut came_from: BTreeMap<TaskId, TaskId> = BTreeMap::new();
        let mut stack = alloc::vec![start];
        while let Some(t) = stack.pop() {
            for d in self.graph.deps(t).filter(|d| self.graph.contains(*d)) {
                if d == start {
                    let mut path = alloc::vec![t];
                    let mut cur = t;
                    while cur != start {
                        cur = came_from[&cur];
                        path.push(cur);
                    }
                    path.reverse();
                    return path;
                }
                if let alloc::collections::btree_map::Entry::Vacant(e) = came_from.entry(d) {
                    e.insert(t);
                    stack.push(d);
                }
            }
        }
        alloc::vec![start]
    }
}

/// Builds a [`Job`] task by task.
#[derive(Debug, Default)]
pub struct JobBuilder {
    job: Job,
    /// Interned ops, by the identity of their function.
    op_ids: BTreeMap<usize, OpId>,
}

impl JobBuilder {
    /// An empty job.
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of `op` in this job, adding it on first use.
    pub fn op(&mut self, op: &Op) -> OpId {
        let next = OpId(self.job.ops.len() as u32);
        let id = *self.op_ids.entry(op.identity()).or_insert(next);
        if id == next {
            self.job.ops.push(op.clone());
        }
        id
    }

    /// A literal that can cross process boundaries.
    pub fn lit<T: Serialize + DeserializeOwned + Any + Send + Sync>(&mut self, value: T) -> Arg {
        self.lit_value(Value::new(value), Some(Codec::of::<T>()))
    }

    /// A literal that stays in this process.
    pub fn local_lit<T: Any + Send + Sync>(&mut self, value: T) -> Arg {
        self.lit_value(Value::new(value), None)
    }

    /// A literal from a value and its codec.
    pub fn lit_value(&mut self, value: Value, codec: Option<Codec>) -> Arg {
        let id = LitId(self.job.lits.len() as u32);
        self.job.lits.push(Lit { value, codec });
        Arg::lit(id)
    }

    /// Adds a task running `op` on `args`.
    ///
    /// # Panics
    /// Past 2^31 tasks.
    pub fn task(&mut self, op: OpId, args: &[Arg]) -> TaskId {
        self.job.graph.add_task(op, args).expect("a graph holds at most 2^31 tasks")
    }

    /// A new task to be defined later with [`define`](Self::define).
    ///
    /// # Panics
    /// Past 2^31 tasks.
    pub fn reserve(&mut self) -> TaskId {
        self.job.graph.reserve().expect("a graph holds at most 2^31 tasks")
    }

    /// Sets the op and arguments of a reserved (or any existing) task; an id
    /// this builder never handed out is ignored.
    pub fn define(&mut self, task: TaskId, op: OpId, args: &[Arg]) {
        // Heap storage never runs out of capacity, so the only error is an
        // id outside the graph.
        let _ = self.job.graph.define(task, op, args);
    }

    /// The task named `key`: the existing one, or a new forward reference
    /// to be defined by [`keyed_task`](Self::keyed_task).
    pub fn key(&mut self, key: &str) -> TaskId {
        if let Some(&t) = self.job.by_key.get(key) {
            return t;
        }
        let t = self.reserve();
        self.name(t, key);
        t
    }

    /// Adds a task named `key`. Building the same key twice yields the same
    /// task: the first definition stands.
    pub fn keyed_task(&mut self, key: &str, op: OpId, args: &[Arg]) -> TaskId {
        let t = self.key(key);
        if self.job.graph.op(t).is_none() {
            // A reserved task always exists, so this cannot fail on `Heap`.
            let _ = self.job.graph.define(t, op, args);
        }
        t
    }

    /// The argument standing for `held`: a value held here is a literal;
    /// a result held elsewhere is a dependency on the one task of this job
    /// standing for it (keyed by its holder), which the holder's scheduler
    /// reads where the result lives and any other scheduler runs, fetching
    /// the value.
    pub fn held(&mut self, held: &Held) -> Arg {
        let holder = match held.kind() {
            HeldRef::Here(value, codec) => return self.lit_value(value.clone(), codec),
            HeldRef::Elsewhere(holder) => holder,
        };
        let key = holder.key();
        let taken = self.job.by_key.get(key.as_str()).copied();
        if let Some(t) = taken.filter(|t| self.job.held.contains_key(t)) {
            return Arg::dep(t);
        }
        let fetching = holder.clone();
        let op = Op::raw("held", holder.codec(), move |_| fetching.fetch().map_err(TaskError::new));
        let op = self.op(&op);
        // A key some other task already has would merge the two: the held
        // task then goes unnamed.
        let t = match taken {
            None => self.keyed_task(&key, op, &[]),
            Some(_) => self.task(op, &[]),
        };
        self.job.held.insert(t, held.clone());
        Arg::dep(t)
    }

    /// Marks `task` as standing for `held` (for rewrites that copy a job).
    pub(crate) fn mark_held(&mut self, task: TaskId, held: Held) {
        self.job.held.insert(task, held);
    }

    /// Gives `task` the name `key`.
    pub fn name(&mut self, task: TaskId, key: &str) {
        let key: Arc<str> = key.into();
        self.job.by_key.insert(key.clone(), task);
        self.job.keys.insert(task, key);
    }

    /// Number of tasks so far.
    pub fn len(&self) -> usize {
        self.job.graph.len()
    }

    /// True if no task was added yet.
    pub fn is_empty(&self) -> bool {
        self.job.graph.is_empty()
    }

    /// The finished job.
    pub fn finish(self) -> Job {
        self.job
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_dedup_and_name_errors() {
        let inc = Op::new("inc", |x: &i64| x + 1);
        let mut b = JobBuilder::new();
        let op = b.op(&inc);
        assert_eq!(b.op(&inc), op, "ops are interned");
        let one = b.lit(1i64);
        let x = b.keyed_task("x", op, &[one]);
        assert_eq!(b.keyed_task("x", op, &[one]), x);
        let y = b.keyed_task("y", op, &[Arg::dep(x)]);
        let job = b.finish();
        assert_eq!(job.len(), 2);
        assert_eq!(job.key(y).to_string(), "y");
        assert_eq!(job.task_by_key("x"), Some(x));
        job.validate().unwrap();
    }

    #[test]
    fn cycle_error_lists_the_keys_on_the_cycle() {
        let inc = Op::new("inc", |x: &i64| x + 1);
        let mut b = JobBuilder::new();
        let op = b.op(&inc);
        let c = b.key("c");
        let a = b.keyed_task("a", op, &[Arg::dep(c)]);
        let bb = b.keyed_task("b", op, &[Arg::dep(a)]);
        b.keyed_task("c", op, &[Arg::dep(bb)]);
        let out = b.keyed_task("out", op, &[Arg::dep(c)]);
        let job = b.finish();
        let err = job.plan(&[out]).unwrap_err();
        let Error::Cycle { keys } = &err else { panic!("{err}") };
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(sorted, ["a", "b", "c"]);
        assert!(err.to_string().contains("cycle"), "{err}");
        assert!(matches!(job.validate(), Err(Error::Cycle { .. })));
    }

    #[test]
    fn missing_keys_and_unknown_ops_are_named() {
        let inc = Op::new("inc", |x: &i64| x + 1);
        let mut b = JobBuilder::new();
        let op = b.op(&inc);
        let ghost = b.key("ghost");
        let t = b.keyed_task("t", op, &[Arg::dep(ghost)]);
        let job = b.finish();
        let err = job.plan(&[t]).unwrap_err();
        assert_eq!(err.to_string(), "task `t` depends on `ghost`, which is not in the graph");

        let mut b = JobBuilder::new();
        let t = b.task(OpId(5), &[]);
        let job = b.finish();
        let err = job.plan(&[t]).unwrap_err();
        assert!(matches!(err, Error::UnknownOp { .. }), "{err}");
        assert!(job.validate().is_err());
    }
}
