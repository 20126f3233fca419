//! Validation and ordering: one iterative depth-first walk over dependencies.
//!
//! Priorities are the post-order of a depth-first walk from the outputs,
//! taking each task's arguments in order. Running ready tasks lowest number
//! first then replays exactly what a single-threaded recursive evaluation
//! would do: a subtree is finished before the next one starts, so one chain
//! completes before the next begins and results are dropped as early as the
//! graph allows (the goal of Dask's `dask.order`). With several workers the
//! same numbers steer everyone toward finishing the oldest goal first.

use crate::graph::{Graph, GraphError, OpId, TaskId};
use crate::storage::{Buf, Storage};

/// Priority of a task that no requested output needs.
pub(crate) const NOT_NEEDED: u32 = u32::MAX;
/// Transient mark of a task on the walk's stack.
const ON_STACK: u32 = u32::MAX - 1;

/// Depth-first walk from `roots`, numbering tasks in post-order from
/// `*next`. `prio` doubles as the visit mark: `NOT_NEEDED` = unvisited.
/// The walk does not descend below a task for which `leaf` is true.
pub(crate) fn post_order<S: Storage>(
    graph: &Graph<S>,
    roots: impl IntoIterator<Item = TaskId>,
    leaf: impl Fn(TaskId) -> bool,
    prio: &mut [u32],
    stack: &mut S::Vec<(TaskId, u32)>,
    next: &mut u32,
) -> Result<(), GraphError> {
    for root in roots {
        if !graph.contains(root) {
            return Err(GraphError::NoSuchOutput { task: root });
        }
        if prio[root.index()] != NOT_NEEDED {
            continue;
        }
        enter(graph, root, prio, stack)?;
        while let Some(top) = stack.last_mut() {
            let (task, i) = *top;
            let args = if leaf(task) { &[] } else { graph.args(task) };
            if let Some(arg) = args.get(i as usize) {
                top.1 += 1;
                let Some(dep) = arg.as_dep() else { continue };
                if !graph.contains(dep) {
                    return Err(GraphError::Dangling { task, dep });
                }
                match prio[dep.index()] {
                    NOT_NEEDED => enter(graph, dep, prio, stack)?,
                    ON_STACK => return Err(GraphError::Cycle { task: dep }),
                    _ => {}
                }
            } else {
                stack.pop_last();
                prio[task.index()] = *next;
                *next += 1;
            }
        }
    }
    Ok(())
}

fn enter<S: Storage>(
    graph: &Graph<S>,
    task: TaskId,
    prio: &mut [u32],
    stack: &mut S::Vec<(TaskId, u32)>,
) -> Result<(), GraphError> {
    if graph.op(task).is_none() {
        return Err(GraphError::Undefined { task });
    }
    prio[task.index()] = ON_STACK;
    stack.try_push((task, 0))?;
    Ok(())
}

/// Priorities for computing `outputs`: lower runs first; tasks no output
/// needs get `u32::MAX`. Fails on a cycle, a dangling or undefined task.
pub fn order<S: Storage>(graph: &Graph<S>, outputs: &[TaskId]) -> Result<S::Vec<u32>, GraphError> {
    let mut prio = S::Vec::empty();
    prio.try_resize(graph.len(), NOT_NEEDED)?;
    let mut stack = S::Vec::empty();
    post_order(
        graph,
        outputs.iter().copied(),
        |_| false,
        &mut prio,
        &mut stack,
        &mut 0,
    )?;
    Ok(prio)
}

/// Checks the whole graph before anything runs: every task defined, every op
/// known to `known_op`, every dependency inside the graph, no cycle.
pub fn validate<S: Storage>(
    graph: &Graph<S>,
    known_op: impl Fn(OpId) -> bool,
) -> Result<(), GraphError> {
    for task in graph.task_ids() {
        let op = graph.op(task).ok_or(GraphError::Undefined { task })?;
        if !known_op(op) {
            return Err(GraphError::UnknownOp { task, op });
        }
        if let Some(dep) = graph.deps(task).find(|d| !graph.contains(*d)) {
            return Err(GraphError::Dangling { task, dep });
        }
    }
    let mut prio = S::Vec::empty();
    prio.try_resize(graph.len(), NOT_NEEDED)?;
    let mut stack = S::Vec::empty();
    post_order(
        graph,
        graph.task_ids(),
        |_| false,
        &mut prio,
        &mut stack,
        &mut 0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Arg;
    use crate::storage::Heap;

    fn chain_merge(k: u32, len: u32) -> (Graph<Heap>, TaskId) {
        let mut g = Graph::<Heap>::new();
        let mut ends = alloc::vec::Vec::new();
        for _ in 0..k {
            let mut prev = g.add_task(OpId(0), &[]).unwrap();
            for _ in 1..len {
                prev = g.add_task(OpId(0), &[Arg::dep(prev)]).unwrap();
            }
            ends.push(Arg::dep(prev));
        }
        let out = g.add_task(OpId(0), &ends).unwrap();
        (g, out)
    }

    #[test]
    fn chains_are_ordered_one_after_another() {
        let (g, out) = chain_merge(3, 4);
        let prio = order(&g, &[out]).unwrap();
        // Task ids were allocated chain by chain, so post-order equals id order.
        let expected: alloc::vec::Vec<u32> = (0..13).collect();
        assert_eq!(prio, expected);
    }

    #[test]
    fn unreachable_tasks_are_not_needed() {
        let mut g = Graph::<Heap>::new();
        let a = g.add_task(OpId(0), &[]).unwrap();
        let _b = g.add_task(OpId(0), &[]).unwrap();
        let prio = order(&g, &[a]).unwrap();
        assert_eq!(prio, [0, NOT_NEEDED]);
    }

    #[test]
    fn cycle_is_reported_with_a_task_on_it() {
        let mut g = Graph::<Heap>::new();
        let a = g.reserve().unwrap();
        let b = g.add_task(OpId(0), &[Arg::dep(a)]).unwrap();
        g.define(a, OpId(0), &[Arg::dep(b)]).unwrap();
        let c = g.add_task(OpId(0), &[Arg::dep(b)]).unwrap();
        match order(&g, &[c]) {
            Err(GraphError::Cycle { task }) => assert!(task == a || task == b),
            other => panic!("expected a cycle, got {other:?}"),
        }
        assert!(matches!(
            validate(&g, |_| true),
            Err(GraphError::Cycle { .. })
        ));
    }

    #[test]
    fn dangling_undefined_and_unknown_are_reported() {
        let mut g = Graph::<Heap>::new();
        let a = g.add_task(OpId(0), &[Arg::dep(TaskId(7))]).unwrap();
        assert_eq!(
            validate(&g, |_| true),
            Err(GraphError::Dangling {
                task: a,
                dep: TaskId(7)
            })
        );

        let mut g = Graph::<Heap>::new();
        let a = g.reserve().unwrap();
        let b = g.add_task(OpId(0), &[Arg::dep(a)]).unwrap();
        assert_eq!(order(&g, &[b]), Err(GraphError::Undefined { task: a }));

        let mut g = Graph::<Heap>::new();
        let a = g.add_task(OpId(3), &[]).unwrap();
        assert_eq!(
            validate(&g, |op| op.0 < 3),
            Err(GraphError::UnknownOp {
                task: a,
                op: OpId(3)
            })
        );
    }

    #[test]
    fn deep_chain_does_not_recurse() {
        let (g, out) = chain_merge(1, 1_000_000);
        let prio = order(&g, &[out]).unwrap();
        assert_eq!(prio[out.index()], 1_000_000);
    }
}
