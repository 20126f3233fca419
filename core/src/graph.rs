//! The graph IR: dense task ids, each task an op and a range into one flat
//! argument array. No allocation per task; 12 bytes per task and 4 per
//! argument.

use core::fmt;

use crate::storage::{Buf, CapacityError, Heap, Storage};

/// A task, by its dense index in a [`Graph`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub u32);

/// A literal argument, by its index in the job's literal table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LitId(pub u32);

/// An operation, by its index in the job's op table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub u32);

impl TaskId {
    /// The index as a `usize`, for indexing per-task arrays.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task #{}", self.0)
    }
}

const LIT_BIT: u32 = 1 << 31;

/// One argument of a task, packed in 4 bytes: a dependency on another task's
/// result, or a literal.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Arg(u32);

/// An [`Arg`], unpacked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// The result of another task.
    Dep(TaskId),
    /// A literal value.
    Lit(LitId),
}

impl Arg {
    /// The result of `task`.
    #[inline]
    pub const fn dep(task: TaskId) -> Arg {
        Arg(task.0 & !LIT_BIT)
    }
    /// The literal `lit`.
    #[inline]
    pub const fn lit(lit: LitId) -> Arg {
        Arg(lit.0 | LIT_BIT)
    }
    /// Which kind of argument this is.
    #[inline]
    pub fn kind(self) -> ArgKind {
        if self.0 & LIT_BIT == 0 {
            ArgKind::Dep(TaskId(self.0))
        } else {
            ArgKind::Lit(LitId(self.0 & !LIT_BIT))
        }
    }
    /// The packed form, for wire formats.
    #[inline]
    pub const fn bits(self) -> u32 {
        self.0
    }
    /// An argument from its packed form (every `u32` is a valid argument).
    #[inline]
    pub const fn from_bits(bits: u32) -> Arg {
        Arg(bits)
    }
    /// The task this argument depends on, if it is a dependency.
    #[inline]
    pub fn as_dep(self) -> Option<TaskId> {
        (self.0 & LIT_BIT == 0).then_some(TaskId(self.0))
    }
}

impl fmt::Debug for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind().fmt(f)
    }
}

/// One task: its op and where its arguments sit in the flat argument array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TaskNode {
    pub(crate) op: OpId,
    pub(crate) start: u32,
    pub(crate) len: u32,
}

/// Marks a task that was named (by a dependency or a key) but never defined.
pub(crate) const UNDEFINED: OpId = OpId(u32::MAX);

/// A task graph: tasks with their ops and arguments. Structure only; ops and
/// literal values live beside it (in a [`Job`](crate::Job) with `alloc`).
///
/// A dependency may name a task that is defined later (or never): [`validate`](crate::validate)
/// reports dangling and undefined tasks and cycles before anything runs.
pub struct Graph<S: Storage = Heap> {
    tasks: S::Vec<TaskNode>,
    args: S::Vec<Arg>,
}

impl<S: Storage> Default for Graph<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Storage> fmt::Debug for Graph<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph")
            .field("tasks", &self.tasks.len())
            .field("args", &self.args.len())
            .finish()
    }
}

impl<S: Storage> Clone for Graph<S>
where
    S::Vec<TaskNode>: Clone,
    S::Vec<Arg>: Clone,
{
    fn clone(&self) -> Self {
        Graph {
            tasks: self.tasks.clone(),
            args: self.args.clone(),
        }
    }
}

impl<S: Storage> Graph<S> {
    /// An empty graph.
    pub fn new() -> Self {
        Graph {
            tasks: S::Vec::empty(),
            args: S::Vec::empty(),
        }
    }

    /// Appends a task running `op` on `args`.
    pub fn add_task(&mut self, op: OpId, args: &[Arg]) -> Result<TaskId, CapacityError> {
        let id = self.reserve()?;
        self.define(id, op, args)?;
        Ok(id)
    }

    /// Appends a task whose op and arguments are not known yet (a forward
    /// reference); give them later with [`define`](Self::define).
    pub fn reserve(&mut self) -> Result<TaskId, CapacityError> {
        let id = u32::try_from(self.tasks.len())
            .ok()
            .filter(|&id| id < LIT_BIT)
            .ok_or(CapacityError)?;
        self.tasks.try_push(TaskNode {
            op: UNDEFINED,
            start: 0,
            len: 0,
        })?;
        Ok(TaskId(id))
    }

    /// Sets the op and arguments of `task`, replacing any earlier definition.
    pub fn define(&mut self, task: TaskId, op: OpId, args: &[Arg]) -> Result<(), CapacityError> {
        let start = self.args.len();
        for &arg in args {
            self.args.try_push(arg)?;
        }
        let node = self.tasks.get_mut(task.index()).ok_or(CapacityError)?;
        *node = TaskNode {
            op,
            start: start as u32,
            len: args.len() as u32,
        };
        Ok(())
    }

    /// Number of tasks.
    #[inline]
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// True when the graph has no task.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Total number of arguments over all tasks.
    #[inline]
    pub fn arg_count(&self) -> usize {
        self.args.len()
    }

    /// The op of `task`, or `None` if it was never defined.
    #[inline]
    pub fn op(&self, task: TaskId) -> Option<OpId> {
        let op = self.tasks[task.index()].op;
        (op != UNDEFINED).then_some(op)
    }

    /// The arguments of `task`.
    #[inline]
    pub fn args(&self, task: TaskId) -> &[Arg] {
        let node = &self.tasks[task.index()];
        &self.args[node.start as usize..(node.start + node.len) as usize]
    }

    /// The tasks whose results `task` needs (one entry per dependency edge).
    #[inline]
    pub fn deps(&self, task: TaskId) -> impl Iterator<Item = TaskId> + '_ {
        self.args(task).iter().filter_map(|a| a.as_dep())
    }

    /// All task ids, in order.
    pub fn task_ids(&self) -> impl DoubleEndedIterator<Item = TaskId> + ExactSizeIterator {
        (0..self.tasks.len() as u32).map(TaskId)
    }

    /// True if `task` is an id of this graph.
    #[inline]
    pub fn contains(&self, task: TaskId) -> bool {
        task.index() < self.tasks.len()
    }

    /// Bytes of IR held by this graph (tasks and arguments), not counting
    /// spare capacity.
    pub fn ir_bytes(&self) -> usize {
        self.tasks.len() * core::mem::size_of::<TaskNode>()
            + self.args.len() * core::mem::size_of::<Arg>()
    }
}

/// A graph that cannot run, found before any task starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphError {
    /// `task` depends on `dep`, which is not in the graph.
    Dangling {
        /// The task with the bad argument.
        task: TaskId,
        /// The id it names.
        dep: TaskId,
    },
    /// `task` was referenced but never given an op.
    Undefined {
        /// The task.
        task: TaskId,
    },
    /// `task` runs an op that the job does not know.
    UnknownOp {
        /// The task.
        task: TaskId,
        /// Its op.
        op: OpId,
    },
    /// `task` lies on a dependency cycle.
    Cycle {
        /// A task on the cycle.
        task: TaskId,
    },
    /// A requested output is not a task of the graph.
    NoSuchOutput {
        /// The id asked for.
        task: TaskId,
    },
    /// Fixed-capacity storage was too small for the run state.
    Capacity,
}

impl From<CapacityError> for GraphError {
    fn from(_: CapacityError) -> Self {
        GraphError::Capacity
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::Dangling { task, dep } => {
                write!(f, "{task} depends on {dep}, which is not in the graph")
            }
            GraphError::Undefined { task } => write!(f, "{task} is referenced but never defined"),
            GraphError::UnknownOp { task, op } => write!(f, "{task} uses unknown op #{}", op.0),
            GraphError::Cycle { task } => write!(f, "{task} lies on a dependency cycle"),
            GraphError::NoSuchOutput { task } => write!(f, "output {task} is not in the graph"),
            GraphError::Capacity => {
                f.write_str("fixed-capacity storage is too small for this graph")
            }
        }
    }
}
