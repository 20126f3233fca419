//! `GraphSpec`: a task graph as data — keys, op names and literal
//! arguments — that can be built from JavaScript, shipped to workers as
//! postcard bytes, and turned into the same [`Job`] on every side.
//!
//! A task may only depend on tasks added before it, so a spec is acyclic by
//! construction, and task `i` of the spec is `TaskId(i)` of the job.

use std::sync::Arc;

use rask_core::{Arg, Job, JobBuilder, OpId, Registry};
use serde::{Deserialize, Serialize};

/// One argument of a task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ArgSpec {
    /// The result of the task with this index.
    Task(u32),
    /// A number.
    Num(f64),
    /// A string.
    Text(String),
    /// A list of sizes or axes.
    Dims(Vec<u32>),
}

/// One task: a unique key, an op name and its arguments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub key: String,
    pub op: String,
    pub args: Vec<ArgSpec>,
}

/// A task graph as data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphSpec {
    tasks: Vec<TaskSpec>,
}

impl GraphSpec {
    /// An empty graph.
    pub fn new() -> GraphSpec {
        GraphSpec::default()
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// True when there is no task.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The tasks, in the order they were added.
    pub fn tasks(&self) -> &[TaskSpec] {
        &self.tasks
    }

    /// Adds a task and returns its index. Errors name the key: an argument
    /// naming a task not added yet (which also rules out cycles).
    pub fn add(&mut self, key: &str, op: &str, args: Vec<ArgSpec>) -> Result<u32, String> {
        let id = self.tasks.len() as u32;
        if let Some(ArgSpec::Task(t)) = args
            .iter()
            .find(|a| matches!(a, ArgSpec::Task(t) if *t >= id))
        {
            return Err(format!(
                "task '{key}' depends on task #{t}, which does not exist yet (tasks so far: {id})"
            ));
        }
        self.tasks.push(TaskSpec {
            key: key.to_owned(),
            op: op.to_owned(),
            args,
        });
        Ok(id)
    }

    /// The index of the task named `key`.
    pub fn find(&self, key: &str) -> Option<u32> {
        self.tasks
            .iter()
            .position(|t| t.key == key)
            .map(|i| i as u32)
    }

    /// The job this spec describes, with ops from `registry`. Errors name
    /// the task: an op the registry lacks, a key used twice.
    pub fn build(&self, registry: &Registry) -> Result<Arc<Job>, String> {
        let mut b = JobBuilder::new();
        let mut ops: std::collections::HashMap<&str, OpId> = Default::default();
        let mut args = Vec::new();
        for (i, task) in self.tasks.iter().enumerate() {
            let op = match ops.get(task.op.as_str()) {
                Some(&id) => id,
                None => {
                    let op = registry.get(&task.op).ok_or_else(|| {
                        format!(
                            "task '{}' uses op '{}', which is not registered",
                            task.key, task.op
                        )
                    })?;
                    let id = b.op(op);
                    ops.insert(&task.op, id);
                    id
                }
            };
            args.clear();
            for a in &task.args {
                args.push(match a {
                    ArgSpec::Task(t) => Arg::dep(rask_core::TaskId(*t)),
                    ArgSpec::Num(x) => b.lit(*x),
                    ArgSpec::Text(s) => b.lit(s.clone()),
                    ArgSpec::Dims(d) => b.lit(d.clone()),
                });
            }
            let id = b.keyed_task(&task.key, op, &args);
            if id.index() != i {
                return Err(format!("task key '{}' is used twice", task.key));
            }
        }
        let job = b.finish();
        job.validate().map_err(|e| e.to_string())?;
        Ok(Arc::new(job))
    }
}

/// The seed's array workload at browser scale: `(asin(x) + acos(y))`
/// summed over axes 1 and 2, for random `x` and `y` of `shape` cut into
/// blocks of `rows` rows (axis 0). Returns the spec and its output task.
pub fn demo(shape: [u32; 3], rows: u32, seed: u64) -> Result<(GraphSpec, u32), String> {
    if rows == 0 || shape.contains(&0) {
        return Err(format!(
            "demo needs a non-empty shape and rows, got {shape:?} and {rows}"
        ));
    }
    let mut g = GraphSpec::new();
    let mut parts = Vec::new();
    let blocks = shape[0].div_ceil(rows);
    for i in 0..blocks {
        let n = rows.min(shape[0] - i * rows);
        let block = vec![n, shape[1], shape[2]];
        let random = |g: &mut GraphSpec, name: &str, seed: u64| {
            g.add(
                &format!("{name}-{i}"),
                "array.random",
                vec![
                    ArgSpec::Dims(block.clone()),
                    ArgSpec::Num(seed as f64),
                    ArgSpec::Num(i as f64),
                ],
            )
        };
        let x = random(&mut g, "x", seed)?;
        let y = random(&mut g, "y", seed + 1)?;
        let ax = g.add(&format!("asin-{i}"), "array.asin", vec![ArgSpec::Task(x)])?;
        let ay = g.add(&format!("acos-{i}"), "array.acos", vec![ArgSpec::Task(y)])?;
        let s = g.add(
            &format!("add-{i}"),
            "array.add",
            vec![ArgSpec::Task(ax), ArgSpec::Task(ay)],
        )?;
        let r = g.add(
            &format!("sum-{i}"),
            "array.sum_axes",
            vec![ArgSpec::Task(s), ArgSpec::Dims(vec![1, 2])],
        )?;
        parts.push(ArgSpec::Task(r));
    }
    let out = g.add("result", "array.concat", parts)?;
    Ok((g, out))
}

/// `n` trivial tasks merged into one: the overhead benchmark `merge-n`.
pub fn merge(n: u32) -> Result<(GraphSpec, u32), String> {
    let mut g = GraphSpec::new();
    let mut parts = Vec::with_capacity(n as usize);
    for i in 0..n {
        parts.push(ArgSpec::Task(g.add(
            &format!("inc-{i}"),
            "inc",
            vec![ArgSpec::Num(i as f64)],
        )?));
    }
    let out = g.add("merge", "add", parts)?;
    Ok((g, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_same_ids_and_names_errors() {
        let (g, out) = demo([20, 4, 3], 5, 1).unwrap();
        let job = g.build(&crate::ops::registry()).unwrap();
        assert_eq!(job.len(), g.len());
        assert_eq!(job.key(rask_core::TaskId(out)).to_string(), "result");

        let mut bad = GraphSpec::new();
        assert!(bad
            .add("a", "inc", vec![ArgSpec::Task(0)])
            .unwrap_err()
            .contains("'a'"));
        bad.add("a", "nope", vec![]).unwrap();
        assert!(bad
            .build(&crate::ops::registry())
            .unwrap_err()
            .contains("'nope'"));

        let mut twice = GraphSpec::new();
        twice.add("a", "value", vec![ArgSpec::Num(1.0)]).unwrap();
        twice.add("a", "value", vec![ArgSpec::Num(2.0)]).unwrap();
        assert!(twice
            .build(&crate::ops::registry())
            .unwrap_err()
            .contains("used twice"));
    }
}
