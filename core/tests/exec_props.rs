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

/// The graph of `dag()`'s dependency lists.
fn graph(deps: &[Vec<u32>]) -> Graph {
    let mut g: Graph = Graph::new();
    for d in deps {
        let args: Vec<Arg> = d.iter().map(|&x| Arg::dep(TaskId(x))).collect();
        g.add_task(OpId(0), &args).unwrap();
    }
    g
}

proptest! {
    #[test]
    fn sequential_runs_follow_priorities_and_release_exactly_once((deps, outputs) in dag()) {
        let g = graph(&deps);
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

/// The value of task `t`: a hash of its index and its inputs' values.
fn value_of(t: TaskId, inputs: impl Iterator<Item = u64>) -> u64 {
    inputs.fold(u64::from(t.0).wrapping_mul(0x9E37_79B9), |acc, x| {
        acc.rotate_left(7) ^ x.wrapping_mul(0x100_0000_01b3)
    })
}

proptest! {
    /// Results lost mid-run (a worker died) are recomputed from lineage by
    /// re-planning with `resuming`: the outputs come out right, held results
    /// are never recomputed, and every task that runs finds its inputs.
    #[test]
    fn resuming_after_losing_results_gives_the_same_outputs(
        (deps, outputs) in dag(),
        steps in 0usize..300,
        lose in proptest::collection::vec(any::<bool>(), 300),
    ) {
        let g = graph(&deps);
        let outs: Vec<TaskId> = outputs.iter().map(|&o| TaskId(o)).collect();
        let compute = |t: TaskId, values: &[Option<u64>]| -> Option<u64> {
            let inputs: Option<Vec<u64>> = g.deps(t).map(|d| values[d.index()]).collect();
            Some(value_of(t, inputs?.into_iter()))
        };

        // The reference: one uninterrupted run.
        let mut reference = vec![None; deps.len()];
        let mut s = ExecState::new(&g, &outs).unwrap();
        while let Some(t) = s.pop_ready() {
            reference[t.index()] = compute(t, &reference);
            s.complete(t, |_| {}).unwrap();
        }

        // A run that stops after `steps` tasks and loses some held results.
        let mut values = vec![None; deps.len()];
        let mut s = ExecState::new(&g, &outs).unwrap();
        for _ in 0..steps {
            let Some(t) = s.pop_ready() else { break };
            values[t.index()] = compute(t, &values);
            s.complete(t, |r| values[r.index()] = None).unwrap();
        }
        for (v, lost) in values.iter_mut().zip(&lose) {
            if *lost {
                *v = None;
            }
        }
        let held: Vec<bool> = values.iter().map(Option::is_some).collect();
        // What the resumed run must do: walk back from the outputs, stopping
        // at held results.
        let mut must = vec![false; deps.len()];
        let mut stack = outs.clone();
        while let Some(t) = stack.pop() {
            if !std::mem::replace(&mut must[t.index()], true) && !held[t.index()] {
                stack.extend(g.deps(t));
            }
        }
        let mut s = ExecState::resuming(&g, &outs, |t| held[t.index()]).unwrap();
        prop_assert_eq!(s.plan().needed(), must.iter().filter(|m| **m).count());
        while let Some(t) = s.pop_ready() {
            prop_assert!(must[t.index()], "{:?} is not needed to resume", t);
            if held[t.index()] {
                prop_assert!(values[t.index()].is_some());
            } else {
                let v = compute(t, &values);
                prop_assert!(v.is_some(), "{:?} ran before its inputs existed", t);
                values[t.index()] = v;
            }
            s.complete(t, |r| values[r.index()] = None).unwrap();
        }
        prop_assert!(s.is_finished());
        for &o in &outs {
            prop_assert_eq!(values[o.index()], reference[o.index()]);
        }
    }
}

proptest! {
    /// A driver may start any ready task, not only the best, and put
    /// running tasks back: against a plain model of the ready set, the
    /// best ready task, the ready count and each task's state stay exact,
    /// and every needed task completes exactly once.
    #[test]
    fn starting_any_ready_task_keeps_the_ready_queue_exact(
        (deps, outputs) in dag(),
        choices in proptest::collection::vec((0u8..4, any::<u16>()), 1..600),
    ) {
        use rask_core::TaskState;
        use std::collections::BTreeSet;

        let g = graph(&deps);
        let outs: Vec<TaskId> = outputs.iter().map(|&o| TaskId(o)).collect();
        let mut s = ExecState::new(&g, &outs).unwrap();
        let plan_prio = |s: &ExecState<&Graph>, t: TaskId| s.plan().priority(t);
        // The model: ready tasks by (priority, id), running tasks, and the
        // dependency edges each task still waits for.
        let mut ready: BTreeSet<(u32, u32)> = g
            .task_ids()
            .filter(|&t| s.plan().is_needed(t) && s.plan().dep_count(t) == 0)
            .map(|t| (plan_prio(&s, t), t.0))
            .collect();
        let mut running: Vec<TaskId> = Vec::new();
        let mut missing: Vec<u32> = g.task_ids().map(|t| s.plan().dep_count(t)).collect();
        let mut completed = vec![0u32; deps.len()];
        let mut finish = |s: &mut ExecState<&Graph>, t: TaskId, ready: &mut BTreeSet<(u32, u32)>| {
            s.complete(t, |_| {}).unwrap();
            completed[t.index()] += 1;
            for &d in s.plan().dependents(t) {
                missing[d.index()] -= 1;
                if missing[d.index()] == 0 {
                    ready.insert((s.plan().priority(d), d.0));
                }
            }
        };
        for (action, pick) in choices {
            prop_assert_eq!(s.peek_ready(), ready.first().map(|&(_, t)| TaskId(t)));
            prop_assert_eq!(s.ready_len(), ready.len());
            // Looking past the best: a prefix of the ready set, in order.
            let listed: Vec<TaskId> = s.ready_by_priority().collect();
            let expected: Vec<TaskId> =
                ready.iter().map(|&(_, t)| TaskId(t)).take(listed.len()).collect();
            prop_assert_eq!(&listed, &expected);
            prop_assert!(listed.len() >= ready.len().min(1));
            let pick = usize::from(pick);
            match action {
                0 | 1 if !ready.is_empty() => {
                    let entry = *ready.iter().nth(pick % ready.len()).unwrap();
                    ready.remove(&entry);
                    let t = TaskId(entry.1);
                    prop_assert_eq!(s.state(t), Some(TaskState::Ready));
                    s.start(t).unwrap();
                    prop_assert_eq!(s.state(t), Some(TaskState::Running));
                    running.push(t);
                }
                2 if !running.is_empty() => {
                    let t = running.swap_remove(pick % running.len());
                    finish(&mut s, t, &mut ready);
                }
                3 if !running.is_empty() => {
                    let t = running.swap_remove(pick % running.len());
                    s.requeue(t).unwrap();
                    ready.insert((s.plan().priority(t), t.0));
                }
                _ => {}
            }
        }
        // Drain what is left, best first.
        for t in running.drain(..) {
            finish(&mut s, t, &mut ready);
        }
        while let Some(t) = s.pop_ready() {
            prop_assert_eq!(ready.pop_first().map(|(_, t)| TaskId(t)), Some(t));
            finish(&mut s, t, &mut ready);
        }
        prop_assert!(ready.is_empty());
        prop_assert!(s.is_finished());
        for t in g.task_ids() {
            let expected = u32::from(s.plan().is_needed(t));
            prop_assert_eq!(completed[t.index()], expected, "{:?} completed", t);
        }
    }
}

proptest! {
    /// Completing with a bound on the inputs walked, and walking the rest
    /// later in small parts, releases exactly what an unbounded run does,
    /// each result once and never before its last dependent ran.
    #[test]
    fn bounded_completion_releases_what_the_unbounded_one_does(
        (deps, outputs) in dag(),
        bounds in proptest::collection::vec((0usize..4, 0usize..4), 1..64),
    ) {
        let g = graph(&deps);
        let outs: Vec<TaskId> = outputs.iter().map(|&o| TaskId(o)).collect();
        let mut whole = ExecState::new(&g, &outs).unwrap();
        let mut expected = vec![false; deps.len()];
        while let Some(t) = whole.pop_ready() {
            whole.complete(t, |r| expected[r.index()] = true).unwrap();
        }
        let plan = whole.plan();

        let mut s = ExecState::new(&g, &outs).unwrap();
        let mut done = vec![false; deps.len()];
        let mut released = vec![false; deps.len()];
        let mut step = 0;
        let mut out = Vec::new();
        loop {
            let t = s.pop_ready();
            if let Some(t) = t {
                let (now, later) = bounds[step % bounds.len()];
                step += 1;
                done[t.index()] = true;
                s.complete_bounded(t, now, |r| out.push(r)).unwrap();
                s.release_more(later, |r| out.push(r));
            } else {
                // Nothing to run: the walk left over goes on in parts.
                step += 1;
                prop_assert!(step <= 10_000, "the walk does not end");
                if !s.release_more(3, |r| out.push(r)) && out.is_empty() {
                    break;
                }
            }
            for r in out.drain(..) {
                prop_assert!(!released[r.index()], "released twice");
                prop_assert!(
                    plan.dependents(r).iter().all(|d| done[d.index()]),
                    "released before a dependent ran"
                );
                released[r.index()] = true;
            }
        }
        prop_assert!(!s.releasing());
        prop_assert!(s.is_finished());
        prop_assert_eq!(released, expected);
    }
}
