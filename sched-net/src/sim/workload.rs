//! What the simulator runs: a task graph where every task has a duration
//! and a result size, and how it reaches the scheduler (a job spec, the
//! very bytes a client would submit).

use rask_core::{Arg, TaskId};

use crate::portable::{JobOptions, JobSpec, OpSpec};

/// The one op name of every simulated task; each simulated worker offers it.
pub(crate) const SIM_OP: &str = "sim";

/// A task graph with a duration and a result size per task. Tasks are
/// numbered from 0 in the order they are added, and a task's inputs are
/// always earlier tasks, so the numbering is a topological order.
#[derive(Clone, Debug, Default)]
pub struct Workload {
    name: String,
    duration_ns: Vec<u64>,
    bytes: Vec<u64>,
    /// Inputs of task `t` are `deps[dep_start[t]..dep_start[t + 1]]`.
    dep_start: Vec<u32>,
    deps: Vec<u32>,
    outputs: Vec<u32>,
}

/// A task could not be added to a [`Workload`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkloadError {
    /// An input named a task that is not (yet) in the workload.
    UnknownInput {
        /// The task being added.
        task: u32,
        /// The input it named.
        input: u32,
    },
    /// More tasks than a job spec can number.
    TooManyTasks,
}

impl std::fmt::Display for WorkloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorkloadError::UnknownInput { task, input } => write!(
                f,
                "task {task} takes task {input} as an input, which is not an earlier task"
            ),
            WorkloadError::TooManyTasks => write!(f, "a workload holds at most 2^31 tasks"),
        }
    }
}

impl std::error::Error for WorkloadError {}

impl Workload {
    /// An empty workload; `name` labels its rows.
    pub fn new(name: &str) -> Workload {
        Workload {
            name: name.to_owned(),
            dep_start: vec![0],
            ..Workload::default()
        }
    }

    /// Adds a task that runs `duration_ns` once its `inputs` are on its
    /// worker and makes a result of `bytes`; returns its number.
    pub fn task(
        &mut self,
        inputs: &[u32],
        duration_ns: u64,
        bytes: u64,
    ) -> Result<u32, WorkloadError> {
        let task = u32::try_from(self.duration_ns.len())
            .ok()
            .filter(|t| *t < 1 << 31)
            .ok_or(WorkloadError::TooManyTasks)?;
        if let Some(&input) = inputs.iter().find(|&&i| i >= task) {
            return Err(WorkloadError::UnknownInput { task, input });
        }
        self.deps.extend_from_slice(inputs);
        let end = u32::try_from(self.deps.len()).map_err(|_| WorkloadError::TooManyTasks)?;
        self.dep_start.push(end);
        self.duration_ns.push(duration_ns);
        self.bytes.push(bytes);
        Ok(task)
    }

    /// Marks `task` as a result the client wants. A workload with no
    /// outputs marked wants every task that no other task uses.
    pub fn output(&mut self, task: u32) {
        if (task as usize) < self.len() && !self.outputs.contains(&task) {
            self.outputs.push(task);
        }
    }

    /// The name given to [`new`](Self::new).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Tasks in the workload.
    pub fn len(&self) -> usize {
        self.duration_ns.len()
    }

    /// True when it has no task.
    pub fn is_empty(&self) -> bool {
        self.duration_ns.is_empty()
    }

    /// How long `task` runs.
    pub fn duration_ns(&self, task: u32) -> u64 {
        self.duration_ns.get(task as usize).copied().unwrap_or(0)
    }

    /// The size of `task`'s result.
    pub fn bytes(&self, task: u32) -> u64 {
        self.bytes.get(task as usize).copied().unwrap_or(0)
    }

    /// `task`'s inputs.
    pub fn inputs(&self, task: u32) -> &[u32] {
        let t = task as usize;
        match (self.dep_start.get(t), self.dep_start.get(t + 1)) {
            (Some(&a), Some(&b)) => &self.deps[a as usize..b as usize],
            _ => &[],
        }
    }

    /// The sum of every task's duration.
    pub fn total_work_ns(&self) -> u64 {
        self.duration_ns.iter().sum()
    }

    /// The longest chain of durations from a task with no inputs to any
    /// task: no schedule finishes sooner, whatever the number of threads.
    pub fn critical_path_ns(&self) -> u64 {
        // Inputs come before their users, so one pass in task order sees
        // every input's finish before the tasks that need it.
        let mut finish = vec![0u64; self.len()];
        for t in 0..self.len() {
            let start = self
                .inputs(t as u32)
                .iter()
                .map(|&i| finish[i as usize])
                .max()
                .unwrap_or(0);
            finish[t] = start + self.duration_ns[t];
        }
        finish.into_iter().max().unwrap_or(0)
    }

    /// The tasks the client wants: those marked, or else every sink.
    pub(crate) fn wanted(&self) -> Vec<u32> {
        if !self.outputs.is_empty() {
            return self.outputs.clone();
        }
        let mut used = vec![false; self.len()];
        for &d in &self.deps {
            used[d as usize] = true;
        }
        (0..self.len() as u32)
            .filter(|&t| !used[t as usize])
            .collect()
    }

    /// The job spec a client would submit for this graph, encoded: one op
    /// ([`SIM_OP`]), no literals, no options.
    pub(crate) fn encode_spec(&self) -> Result<Vec<u8>, String> {
        let spec = JobSpec {
            code_id: None,
            ops: vec![OpSpec {
                name: SIM_OP,
                code: None,
            }],
            lits: Vec::new(),
            task_ops: vec![0; self.len()],
            arg_counts: self.dep_start.windows(2).map(|w| w[1] - w[0]).collect(),
            args: self
                .deps
                .iter()
                .map(|&d| Arg::dep(TaskId(d)).bits())
                .collect(),
            keys: Vec::new(),
            outputs: self.wanted(),
            externals: Vec::new(),
            options: JobOptions::default(),
        };
        postcard::to_allocvec(&spec).map_err(|e| format!("encoding the job spec: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_and_critical_path_follow_the_inputs() {
        let mut w = Workload::new("diamond");
        let a = w.task(&[], 10, 1).unwrap();
        let b = w.task(&[a], 30, 1).unwrap();
        let c = w.task(&[a], 5, 1).unwrap();
        let d = w.task(&[b, c], 7, 1).unwrap();
        assert_eq!(w.total_work_ns(), 52);
        assert_eq!(w.critical_path_ns(), 10 + 30 + 7);
        assert_eq!(w.inputs(d), [b, c]);
        assert_eq!(w.wanted(), [d]);
        w.output(b);
        assert_eq!(w.wanted(), [b]);
    }

    #[test]
    fn refuses_inputs_that_are_not_earlier_tasks() {
        let mut w = Workload::new("bad");
        assert_eq!(
            w.task(&[0], 1, 1),
            Err(WorkloadError::UnknownInput { task: 0, input: 0 })
        );
        assert!(w.is_empty());
    }

    #[test]
    fn its_spec_decodes_to_the_same_graph() {
        let mut w = Workload::new("v");
        let a = w.task(&[], 1, 1).unwrap();
        let b = w.task(&[], 1, 1).unwrap();
        w.task(&[a, b, a], 1, 1).unwrap();
        let bytes = w.encode_spec().unwrap();
        let spec = crate::portable::decode_spec(&bytes).unwrap();
        let g = spec.graph();
        assert_eq!(g.len(), 3);
        let deps: Vec<u32> = g.deps(TaskId(2)).map(|t| t.0).collect();
        assert_eq!(deps, [0, 1, 0]);
        assert_eq!(spec.outputs, [2]);
    }
}
