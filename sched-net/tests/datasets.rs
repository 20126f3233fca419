//! Named datasets on a cluster of real processes (the `rask-scheduler` and
//! `rask-worker` binaries): published by one client, read by another after
//! the first has gone, used in later jobs, unpublished; and the errors for
//! a taken name, a missing name and a wrong type.

mod common;

use std::time::Duration;

use common::{impure, scheduler, with_token, worker};
use rask_core::{Arg, Codec, Inputs, JobBuilder, Op, TaskId};
use rask_sched_net::{Client, RawFuture};

/// `square` over 1..10 with the worker's built-in op, one future each.
fn squares(client: &Client) -> Vec<RawFuture> {
    let mut b = JobBuilder::new();
    let square = b.op(&Op::new("square", |x: &i64| x * x));
    let outputs: Vec<TaskId> = (1..10i64)
        .map(|i| {
            let l = b.lit(i);
            b.task(square, &[l])
        })
        .collect();
    client
        .submit_job(&b.finish(), &outputs, &[], &impure())
        .unwrap()
}

fn values(client: &Client, futures: &[RawFuture]) -> Vec<i64> {
    client
        .gather(futures)
        .unwrap()
        .into_iter()
        .map(|v| *v.downcast_ref::<i64>().unwrap())
        .collect()
}

#[test]
fn a_dataset_outlives_its_publisher_and_is_read_by_another_client() {
    let (_sched, addr) = scheduler("ds");
    let _w1 = worker(&addr, "ds");
    let _w2 = worker(&addr, "ds");

    let first = Client::connect(&addr, with_token("ds")).unwrap();
    first.wait_for_workers(2, Duration::from_secs(20)).unwrap();
    let a = squares(&first);
    first.publish("squares", &a, false).unwrap();
    let taken = first.publish("squares", &a[..1], false).unwrap_err();
    assert!(
        taken.to_string().contains("`squares` already exists"),
        "{taken}"
    );
    assert_eq!(first.list_datasets().unwrap(), ["squares"]);
    // The publisher goes, and with it every handle it had.
    drop(a);
    drop(first);

    let second = Client::connect(&addr, with_token("ds")).unwrap();
    assert_eq!(second.list_datasets().unwrap(), ["squares"]);
    let got = second.get_dataset("squares", Codec::of::<i64>()).unwrap();
    assert_eq!(values(&second, &got), [1, 4, 9, 16, 25, 36, 49, 64, 81]);

    // The read results feed a later job: sum(A) on a worker.
    let mut b = JobBuilder::new();
    let hold = b.op(&Op::new("square", |x: &i64| x * x));
    let sum = b.op(&Op::new("sum", |xs: Inputs<i64>| xs.sum::<i64>()));
    let inputs: Vec<TaskId> = (0..got.len()).map(|_| b.task(hold, &[])).collect();
    let args: Vec<Arg> = inputs.iter().map(|&t| Arg::dep(t)).collect();
    let total = b.task(sum, &args);
    let externals: Vec<(TaskId, &RawFuture)> = inputs.iter().copied().zip(&got).collect();
    let f = second
        .submit_job(&b.finish(), &[total], &externals, &impure())
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(*f.result(None).unwrap().downcast_ref::<i64>().unwrap(), 285);

    // Unpublished, the name is gone; the reader's futures still hold
    // their results.
    second.unpublish("squares").unwrap();
    assert!(second.list_datasets().unwrap().is_empty());
    assert_eq!(values(&second, &got), [1, 4, 9, 16, 25, 36, 49, 64, 81]);
}

#[test]
fn missing_names_taken_names_and_wrong_types_are_errors_naming_them() {
    let (_sched, addr) = scheduler("ds");
    let _w = worker(&addr, "ds");
    let client = Client::connect(&addr, with_token("ds")).unwrap();
    client.wait_for_workers(1, Duration::from_secs(20)).unwrap();

    let missing = client.get_dataset("nope", Codec::of::<i64>()).unwrap_err();
    assert!(
        missing.to_string().contains("no dataset named `nope`"),
        "{missing}"
    );
    let missing = client.unpublish("nope").unwrap_err();
    assert!(
        missing.to_string().contains("no dataset named `nope`"),
        "{missing}"
    );

    let a = squares(&client);
    client.publish("x", &a, false).unwrap();
    client.publish("x", &a[..2], true).unwrap();
    let got = client.get_dataset("x", Codec::of::<i64>()).unwrap();
    assert_eq!(values(&client, &got), [1, 4]);
    let wrong = client.get_dataset("x", Codec::of::<String>()).unwrap_err();
    assert!(
        wrong.to_string().contains("dataset `x` holds `i64` values"),
        "{wrong}"
    );
}
