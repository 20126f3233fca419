//! Properties of `ExecState` on random graphs, driven sequentially.

use proptest::prelude::*;
use rask_core::{Arg, ExecState, Graph, OpId, TaskId};

/// A random DAG: each task depends on up to 5 earlier tasks; 1 to 3 outputs.
fn dag() -> impl Strategy<Value = (Vec<Vec<u32>>, Vec<u32>)> {
    (1usize..300).prop_flat_map(|n| {
        let deps = (0..n)
            .map(|i| {
                let fan_in = if i == 0 { 0..1 } else { 0..6 };
                proptest::collection::vec(0..(i.max(1) as u32), fan_in)
            })
            .collect::<Vec<_>>();
        let outputs = proptest::collection::vec(0..n as u32, 1..4);
        (deps, outputs)
    })
}

proptest! {
    #[test]
    fn sequential_runs_follow_priorities_and_release_exactly_once((deps, outputs) in dag()) {
        let mut g: Graph = Graph::new();
        for d in &deps {
            let args: Vec<Arg> = d.iter().map(|&x| Arg::dep(TaskId(x))).collect();
            g.add_task(OpId(0), &args).unwrap();
        }
        let outs: Vec<TaskId> = outputs.iter().map(|&o| TaskId(o)).collect();
        let mut s = ExecState::new(&g, &outs).unwrap();
        let needed = s.plan().needed();
        let mut done = vec![false; deps.len()];
        let mut released = vec![false; deps.len()];
        let mut last_priority = None;
        while let Some(t) = s.pop_ready() {
            // Dependencies first, and in strictly increasing priority: the
            // sequential replay of a depth-first evaluation.
            for d in g.deps(t) {
                prop_assert!(done[d.index()]);
                prop_assert!(!released[d.index()], "input released before its dependent ran");
            }
            let p = s.plan().priority(t);
            prop_assert!(last_priority.is_none_or(|l| l < p));
            last_priority = Some(p);
            done[t.index()] = true;
            let mut newly = Vec::new();
            s.complete(t, |r| newly.push(r)).unwrap();
            for r in newly {
                prop_assert!(!released[r.index()], "released twice");
                prop_assert!(!outs.contains(&r), "an output was released");
                // Released only once every needed dependent has run.
                prop_assert!(s.plan().dependents(r).iter().all(|d| done[d.index()]));
                released[r.index()] = true;
            }
        }
        prop_assert!(s.is_finished());
        prop_assert_eq!(s.done(), needed);
        for t in 0..deps.len() {
            let t = TaskId(t as u32);
            if s.plan().is_needed(t) && !outs.contains(&t) {
                prop_assert!(released[t.index()], "an intermediate was never released");
            }
            if !s.plan().is_needed(t) {
                prop_assert!(!done[t.index()], "a culled task ran");
            }
        }
    }
}
