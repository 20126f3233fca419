//! Graph rewrites: [`cull`] drops what the outputs do not need; [`fuse`]
//! also merges linear chains. Both keep every task's key, so errors and
//! profiles name the tasks the user built.
//!
//! Linear fusion: a chain of tasks, each the only user of the one before,
//! becomes one task that runs the chain's ops in sequence. Fewer tasks means
//! less scheduling and, out of process, fewer crossings.
//!
//! A task is folded into its dependent when that dependent is its only user,
//! it is not an output, and it is the dependent's only dependency. The fused
//! task keeps the key of the chain's last task, so outputs keep their names;
//! an error inside the chain names the inner task, as if it ran alone.

use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::error::Error;
use crate::graph::{Arg, TaskId};
use crate::job::{Job, JobBuilder};
use crate::op::{Args, Fetch, Op, TaskError};
use crate::value::Value;

/// Hands the previous chain member's result to the next one.
struct Previous<'a>(&'a Value);

impl Fetch for Previous<'_> {
    fn fetch(&self, _task: TaskId) -> Option<&Value> {
        Some(self.0)
    }
}

/// The tasks of `job` that `outputs` need, as a job of its own. Returns it
/// and the outputs' ids in it.
pub fn cull(job: &Job, outputs: &[TaskId]) -> Result<(Job, Vec<TaskId>), Error> {
    rewrite(job, outputs, false)
}

/// Culls `job` to `outputs` and fuses its linear chains. Returns the fused
/// job and the outputs' ids in it.
pub fn fuse(job: &Job, outputs: &[TaskId]) -> Result<(Job, Vec<TaskId>), Error> {
    rewrite(job, outputs, true)
}

fn rewrite(job: &Job, outputs: &[TaskId], fuse_chains: bool) -> Result<(Job, Vec<TaskId>), Error> {
    let plan = job.plan(outputs)?;
    let graph = job.graph();
    let n = graph.len();
    // absorbed[t]: t is folded into its only dependent.
    let absorbed: Vec<bool> = graph
        .task_ids()
        .map(|t| {
            fuse_chains
                && plan.is_needed(t)
                && !plan.is_output(t)
                && plan.dependents(t).len() == 1
                && plan.dep_count(plan.dependents(t)[0]) == 1
        })
        .collect();

    let mut b = JobBuilder::new();
    let mut new_id: Vec<Option<TaskId>> = alloc::vec![None; n];
    let heads: Vec<TaskId> = graph.task_ids().filter(|&t| plan.is_needed(t) && !absorbed[t.index()]).collect();
    for &h in &heads {
        // Explicit keys carry over; other tasks are named after their new id.
        new_id[h.index()] = Some(match job.explicit_key(h) {
            Some(key) => b.key(key),
            None => b.reserve(),
        });
    }
    for &head in &heads {
        // Walk back from the head to the chain's first task.
        let mut chain = alloc::vec![head];
        while let Some(prev) = graph.deps(*chain.last().unwrap_or(&head)).find(|d| absorbed[d.index()]) {
            chain.push(prev);
        }
        chain.reverse();
        let first = chain[0];
        let remap = |a: &Arg| match a.as_dep() {
            Some(d) => new_id[d.index()].map(Arg::dep).unwrap_or(*a),
            None => *a,
        };
        let mut args: Vec<Arg> = graph.args(first).iter().map(remap).collect();
        let op = if chain.len() == 1 {
            job.op(head).cloned()
        } else {
            Some(chain_op(job, &chain))
        };
        let op = op.ok_or_else(|| Error::UnknownOp {
            key: job.key(head).to_string(),
            op: "?".into(),
        })?;
        // Literals move over with their own ids.
        for a in args.iter_mut() {
            if let crate::graph::ArgKind::Lit(l) = a.kind() {
                let lit = &job.lits()[l.0 as usize];
                *a = b.lit_value(lit.value().clone(), lit.codec());
            }
        }
        let op_id = b.op(&op);
        if let Some(t) = new_id[head.index()] {
            b.define(t, op_id, &args);
            // A held task kept as a task of its own stays marked, so that
            // its holder's scheduler still reads it where it lives.
            if let Some(held) = job.held(head) {
                b.mark_held(t, held.clone());
            }
        }
    }
    let outs = outputs.iter().map(|o| new_id[o.index()].unwrap_or(*o)).collect();
    Ok((b.finish(), outs))
}

/// One op running `chain` in sequence. The first member reads the fused
/// task's own arguments; each later member reads its own literals and the
/// previous member's result.
fn chain_op(job: &Job, chain: &[TaskId]) -> Op {
    struct Step {
        op: Op,
        key: alloc::string::String,
        args: Vec<Arg>,
        lits: Vec<crate::job::Lit>,
    }
    let steps: Vec<Step> = chain
        .iter()
        .map(|&t| {
            let mut lits = Vec::new();
            let args = job
                .graph()
                .args(t)
                .iter()
                .map(|a| match a.kind() {
                    crate::graph::ArgKind::Lit(l) => {
                        lits.push(job.lits()[l.0 as usize].clone());
                        Arg::lit(crate::graph::LitId(lits.len() as u32 - 1))
                    }
                    crate::graph::ArgKind::Dep(d) => Arg::dep(d),
                })
                .collect();
            Step {
                op: job.op(t).cloned().unwrap_or_else(|| Op::raw("missing", None, |_| Err(TaskError::new("no op")))),
                key: job.key(t).to_string(),
                args,
                lits,
            }
        })
        .collect();
    let steps = Arc::new(steps);
    let codec = steps.last().and_then(|s| s.op.codec());
    let name = steps.last().map_or("fused", |s| s.op.name()).to_string();
    Op::raw(&name, codec, move |args: &Args<'_>| {
        let mut prev: Option<Value> = None;
        for (i, step) in steps.iter().enumerate() {
            let result = match &prev {
                None if i == 0 => step.op.call(args),
                Some(p) => step.op.call(&Args::new(&step.args, &step.lits, &Previous(p))),
                None => Err(TaskError::new("fused chain lost its intermediate result")),
            };
            prev = Some(result.map_err(|e| e.within(&step.key, step.op.name()))?);
        }
        prev.ok_or_else(|| TaskError::new("empty fused chain"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::ExecState;
    use crate::op::Fetch;
    use alloc::collections::BTreeMap;

    /// Runs a job on this thread, for checking what fusion preserves.
    fn run(job: &Job, outputs: &[TaskId]) -> Result<Vec<Value>, Error> {
        struct Results(BTreeMap<TaskId, Value>);
        impl Fetch for Results {
            fn fetch(&self, t: TaskId) -> Option<&Value> {
                self.0.get(&t)
            }
        }
        let mut results = Results(BTreeMap::new());
        let mut state = ExecState::new(job.graph(), outputs).map_err(|e| job.graph_error(e))?;
        while let Some(t) = state.pop_ready() {
            let v = job.execute(t, &results).map_err(|e| job.task_failed(t, e))?;
            results.0.insert(t, v);
            state.complete(t, |r| drop(results.0.remove(&r))).unwrap();
        }
        Ok(outputs.iter().map(|o| results.0[o].clone()).collect())
    }

    #[test]
    fn chains_become_single_tasks_with_the_same_result() {
        let inc = Op::new("inc", |x: &i64| x + 1);
        let add = Op::new("add", |x: &i64, y: &i64| x + y);
        let mut b = JobBuilder::new();
        let (inc_id, add_id) = (b.op(&inc), b.op(&add));
        // Two chains of 50 incs from literals 0 and 100, then add, then one more inc.
        let mut ends = Vec::new();
        for start in [0i64, 100] {
            let lit = b.lit(start);
            let mut t = b.task(inc_id, &[lit]);
            for _ in 1..50 {
                t = b.task(inc_id, &[Arg::dep(t)]);
            }
            ends.push(Arg::dep(t));
        }
        let sum = b.task(add_id, &ends);
        let thousand = b.lit(1000i64);
        let out = b.keyed_task("out", add_id, &[Arg::dep(sum), thousand]);
        let job = b.finish();
        let (fused, outs) = fuse(&job, &[out]).unwrap();
        assert_eq!(fused.len(), 3, "two chains and the final pair of adds");
        assert_eq!(fused.key(outs[0]).to_string(), "out");
        let a = run(&job, &[out]).unwrap()[0].downcast_ref::<i64>().copied();
        let f = run(&fused, &outs).unwrap()[0].downcast_ref::<i64>().copied();
        assert_eq!(a, Some(1200));
        assert_eq!(a, f);
    }

    #[test]
    fn cull_keeps_what_the_outputs_need_with_their_keys() {
        let inc = Op::new("inc", |x: &i64| x + 1);
        let mut b = JobBuilder::new();
        let i = b.op(&inc);
        let one = b.lit(1i64);
        let a = b.keyed_task("a", i, &[one]);
        let _unused = b.keyed_task("unused", i, &[Arg::dep(a)]);
        let c = b.keyed_task("c", i, &[Arg::dep(a)]);
        let job = b.finish();
        let (culled, outs) = cull(&job, &[c]).unwrap();
        assert_eq!(culled.len(), 2);
        assert_eq!(culled.key(outs[0]).to_string(), "c");
        assert!(culled.task_by_key("unused").is_none());
        assert_eq!(run(&culled, &outs).unwrap()[0].downcast_ref::<i64>(), Some(&3));
    }

    #[test]
    fn errors_inside_a_chain_name_the_inner_task() {
        let inc = Op::new("inc", |x: &i64| x + 1);
        let boom = Op::new("boom", |x: &i64| -> i64 { if *x > 2 { panic!("too big") } else { *x } });
        let mut b = JobBuilder::new();
        let (i, bo) = (b.op(&inc), b.op(&boom));
        let zero = b.lit(0i64);
        let t1 = b.task(i, &[zero]);
        let t2 = b.task(i, &[Arg::dep(t1)]);
        let t3 = b.task(i, &[Arg::dep(t2)]);
        let t4 = b.keyed_task("bad", bo, &[Arg::dep(t3)]);
        let t5 = b.task(i, &[Arg::dep(t4)]);
        let job = b.finish();
        let (fused, outs) = fuse(&job, &[t5]).unwrap();
        assert_eq!(fused.len(), 1);
        let err = run(&fused, &outs).unwrap_err();
        assert_eq!(err, run(&job, &[t5]).unwrap_err(), "the same error as unfused");
        assert_eq!(err.to_string(), "task `bad` (op `boom`) failed: panicked: too big");
    }
}
