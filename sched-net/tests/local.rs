//! A local cluster end to end: worker processes re-executed from this
//! test binary, stateless ops sent by code reference.

use std::sync::Arc;

use rask_core::{Arg, Error, Inputs, JobBuilder, Op, Scheduler};
use rask_sched_net::{Client, LocalOptions};

fn inc(x: &i64) -> i64 {
    x + 1
}

fn two_workers() -> Client {
    Client::local(LocalOptions {
        workers: 2,
        ..LocalOptions::default()
    })
    .unwrap()
}

#[test]
fn a_graph_runs_on_a_local_cluster() {
    let client = two_workers();
    assert_eq!(client.workers().len(), 2);
    let mut b = JobBuilder::new();
    let inc = b.op(&Op::new("inc", inc));
    let sum = b.op(&Op::new("sum", |xs: Inputs<i64>| xs.sum::<i64>()));
    let leaves: Vec<Arg> = (0..100i64)
        .map(|i| {
            let l = b.lit(i);
            Arg::dep(b.task(inc, &[l]))
        })
        .collect();
    let total = b.task(sum, &leaves);
    let job = Arc::new(b.finish());
    let out = client.run(&job, &[total], &rask_core::NoEvents).unwrap();
    assert_eq!(out[0].downcast_ref::<i64>(), Some(&5050));
}

#[test]
fn a_failing_task_names_its_key() {
    let client = two_workers();
    let mut b = JobBuilder::new();
    let parse = b.op(&Op::new(
        "parse",
        rask_core::fallible(|s: &String| s.parse::<i64>()),
    ));
    let x = b.lit(String::from("x"));
    let t = b.keyed_task("parse-x", parse, &[x]);
    let job = Arc::new(b.finish());
    let err = client.run(&job, &[t], &rask_core::NoEvents).unwrap_err();
    assert_eq!(
        err,
        Error::TaskFailed {
            key: "parse-x".into(),
            op: "parse".into(),
            message: "invalid digit found in string".into()
        }
    );
}

#[test]
fn an_op_no_worker_has_fails_its_job_and_the_cluster_serves_on() {
    let client = two_workers();
    // A closure that captures a value is neither registered on the
    // workers nor sendable as code.
    let offset = 7i64;
    let mut b = JobBuilder::new();
    let add = b.op(&Op::new("add-offset", move |x: &i64| x + offset));
    let x = b.lit(1i64);
    let t = b.keyed_task("add-offset-1", add, &[x]);
    let job = Arc::new(b.finish());
    let err = client.run(&job, &[t], &rask_core::NoEvents).unwrap_err();
    assert_eq!(
        err,
        Error::UnknownOp {
            key: "add-offset-1".into(),
            op: "add-offset".into()
        }
    );
    let mut b = JobBuilder::new();
    let inc = b.op(&Op::new("inc", inc));
    let x = b.lit(1i64);
    let t = b.task(inc, &[x]);
    let out = client
        .run(&Arc::new(b.finish()), &[t], &rask_core::NoEvents)
        .unwrap();
    assert_eq!(out[0].downcast_ref::<i64>(), Some(&2));
}
