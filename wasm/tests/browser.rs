//! rask-core and rask-sched-sync compiled to wasm32 and run in headless
//! Chromium (`cargo xtask test` runs these through wasm-bindgen-test-runner):
//! the state machine, a job on the sync scheduler with a browser clock,
//! the demo workload, and a failing task named in the error.
#![cfg(target_arch = "wasm32")]

use std::sync::Arc;

use rask_core::{fallible, Arg, ExecState, Graph, JobBuilder, NoEvents, OpId, Registry, Scheduler};
use rask_sched_sync::SyncScheduler;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn exec_state_runs_a_diamond_in_order() {
    let mut g: Graph = Graph::new();
    let a = g.add_task(OpId(0), &[]).unwrap();
    let b = g.add_task(OpId(0), &[Arg::dep(a)]).unwrap();
    let c = g.add_task(OpId(0), &[Arg::dep(a)]).unwrap();
    let d = g.add_task(OpId(0), &[Arg::dep(b), Arg::dep(c)]).unwrap();
    let mut state = ExecState::new(&g, &[d]).unwrap();
    let mut order = Vec::new();
    while let Some(t) = state.pop_ready() {
        order.push(t);
        state.complete(t, |_| {}).unwrap();
    }
    assert!(state.is_finished());
    assert_eq!(order.first(), Some(&a));
    assert_eq!(order.last(), Some(&d));
}

#[wasm_bindgen_test]
fn sync_scheduler_runs_a_job_and_names_a_failing_task() {
    let mut r = Registry::new();
    let inc = r.op("inc", |x: &i64| x + 1);
    let fail = r.op(
        "fail",
        fallible(|_: &i64| -> Result<i64, String> { Err("no".into()) }),
    );
    let mut b = JobBuilder::new();
    let (inc, fail) = (b.op(&inc), b.op(&fail));
    let one = b.lit(1i64);
    let x = b.keyed_task("x", inc, &[one]);
    let y = b.keyed_task("y", inc, &[Arg::dep(x)]);
    let bad = b.keyed_task("bad-9", fail, &[Arg::dep(x)]);
    let job = Arc::new(b.finish());
    let out = SyncScheduler.run(&job, &[y], &NoEvents).unwrap();
    assert_eq!(out[0].downcast_ref::<i64>(), Some(&3));
    let e = SyncScheduler.run(&job, &[bad], &NoEvents).unwrap_err();
    assert!(e.to_string().contains("bad-9"), "{e}");
}

#[wasm_bindgen_test]
fn demo_workload_runs_with_browser_timings() {
    let (g, out) = rask_wasm::spec::demo([20, 10, 4], 5, 3).unwrap();
    let (values, stream) = rask_wasm::run_sync(&g, &[out], true).unwrap();
    let sums = values[0].downcast_ref::<rask_wasm::Chunk>().unwrap();
    assert_eq!(sums.shape(), &[20]);
    assert_eq!(stream.len(), g.len());
    // performance.now() was read: spans are ordered and in this decade.
    assert!(stream
        .iter()
        .all(|r| r.end_ms >= r.start_ms && r.start_ms > 1.5e12));
}
