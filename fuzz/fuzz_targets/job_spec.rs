//! Untrusted job bytes to a graph, on both sides of the cluster.
//!
//! - The scheduler's path (`admit`): `decode_spec`, `JobSpec::graph`, then
//!   a plan of the outputs with the external tasks held, driven to the end
//!   as if every task succeeded: a plan that `resuming` accepts must finish.
//! - Core validation of the same graph (`rask_core::validate`), which must
//!   agree with planning about cycles in what the outputs need.
//! - The worker's path: `Loader::load` with the built-in registry of
//!   `rask-worker` (no code key: code references are refused, never
//!   called), then `Job::validate` and `Job::plan`.
//! - Task names for messages (`task_name`, `op_name`) for every task.

#![no_main]

use std::collections::HashSet;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rask_core::{ExecState, TaskId};
use rask_sched_net::portable::{decode_spec, Loader};

fn loader() -> &'static Loader {
    static LOADER: OnceLock<Loader> = OnceLock::new();
    LOADER.get_or_init(|| Loader::new(rask_sched_net::builtin::registry(), None))
}

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = decode_spec(data) else {
        return;
    };
    let n = spec.task_ops.len() as u32;
    for t in 0..n.min(64) {
        let _ = spec.task_name(t);
        let _ = spec.op_name(t);
    }

    let graph = spec.graph();
    assert_eq!(
        graph.len(),
        spec.task_ops.len(),
        "one graph task per spec task"
    );
    let outputs: Vec<TaskId> = spec.outputs.iter().map(|&t| TaskId(t)).collect();
    let held: HashSet<u32> = spec.externals.iter().map(|e| e.task).collect();
    let valid = rask_core::validate(&graph, |op| (op.0 as usize) < spec.ops.len()).is_ok();
    match ExecState::resuming(&graph, &outputs, |t| held.contains(&t.0)) {
        Ok(mut state) => {
            while let Some(t) = state.pop_ready() {
                state.complete(t, |_| {}).expect("a popped task is running");
            }
            assert!(state.is_finished(), "a planned run stalled");
        }
        // Only what the outputs need is checked, so a plan may fail only
        // where whole-graph validation also fails.
        Err(e) => assert!(!valid, "planning failed ({e}) on a graph that validates"),
    }

    if let Ok(loaded) = loader().load(&spec) {
        assert_eq!(loaded.job.len(), spec.task_ops.len());
        let _ = loaded.job.validate();
        let _ = loaded.job.plan(&outputs);
        for t in 0..n.min(64) {
            let _ = loaded.codec(TaskId(t));
            let _ = loaded.job.key(TaskId(t)).to_string();
        }
    }
});
