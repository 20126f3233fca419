//! Copies of a result on several workers, on a real local cluster: asked
//! for with `replicate`, seen with `who_has`, used by later tasks, and
//! keeping the result when the worker that made it is killed.

mod common;

use std::time::{Duration, Instant};

use common::impure;
use rask_core::{Arg, JobBuilder, Op, TaskId};
use rask_sched_net::{Client, LocalOptions, RawFuture};

/// A result that names the worker that made it.
fn made_by(n: &u64) -> (u32, u64) {
    (std::process::id(), *n * 3)
}

/// Reads a copy: the pid of the worker it ran on, and the copy's numbers.
fn read(x: &(u32, u64)) -> (u32, u32, u64) {
    (std::process::id(), x.0, x.1)
}

fn cluster(workers: usize) -> Client {
    let client = Client::local(LocalOptions {
        workers,
        dashboard_port: None,
        ..LocalOptions::default()
    })
    .unwrap();
    client
        .wait_for_workers(workers, Duration::from_secs(20))
        .unwrap();
    client
}

fn make(client: &Client, n: u64) -> RawFuture {
    let mut b = JobBuilder::new();
    let op = b.op(&Op::new("made_by", made_by));
    let l = b.lit(n);
    let t = b.task(op, &[l]);
    let f = client
        .submit_job(&b.finish(), &[t], &[], &impure())
        .unwrap()
        .pop()
        .unwrap();
    f.wait().unwrap();
    f
}

/// `count` tasks reading `input`, each giving (its pid, the copy's maker,
/// the copy's number).
fn readers(client: &Client, input: &RawFuture, count: usize) -> Vec<(u32, u32, u64)> {
    let mut b = JobBuilder::new();
    let hold = b.op(&Op::new("made_by", made_by));
    let read_op = b.op(&Op::new("read", read));
    let x = b.task(hold, &[]);
    let outs: Vec<TaskId> = (0..count)
        .map(|_| b.task(read_op, &[Arg::dep(x)]))
        .collect();
    let fs = client
        .submit_job(&b.finish(), &outs, &[(x, input)], &impure())
        .unwrap();
    client
        .gather(&fs)
        .unwrap()
        .iter()
        .map(|v| *v.downcast_ref::<(u32, u32, u64)>().unwrap())
        .collect()
}

#[test]
fn replicate_puts_a_copy_on_every_worker_and_who_has_lists_them() {
    let client = cluster(3);
    let f = make(&client, 7);
    assert_eq!(client.who_has(&[f.key()]).unwrap()[0].len(), 1);

    client
        .replicate(std::slice::from_ref(&f), None, Duration::from_secs(20))
        .unwrap();
    let mut holders = client.who_has(&[f.key()]).unwrap().remove(0);
    holders.sort_unstable();
    let mut all: Vec<_> = client.workers().iter().map(|(id, _)| *id).collect();
    all.sort_unstable();
    assert_eq!(holders, all);

    // Every copy is the same value, whichever worker a reader runs on.
    let maker = *f
        .result(None)
        .unwrap()
        .downcast_ref::<(u32, u64)>()
        .unwrap();
    for (_, by, n) in readers(&client, &f, 30) {
        assert_eq!((by, n), maker);
    }

    // Released, it is nowhere.
    let key = f.key();
    drop(f);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !client.who_has(&[key]).unwrap()[0].is_empty() {
        assert!(Instant::now() < deadline, "its copies outlived it");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn replicate_to_n_workers_stops_at_n() {
    let client = cluster(3);
    let f = make(&client, 1);
    client
        .replicate(std::slice::from_ref(&f), Some(2), Duration::from_secs(20))
        .unwrap();
    let holders = client.who_has(&[f.key()]).unwrap().remove(0);
    assert_eq!(holders.len(), 2, "{holders:?}");
}

#[test]
fn a_copy_keeps_the_result_when_its_maker_is_killed() {
    let client = cluster(2);
    let f = make(&client, 11);
    let (maker, _) = *f
        .result(None)
        .unwrap()
        .downcast_ref::<(u32, u64)>()
        .unwrap();
    client
        .replicate(std::slice::from_ref(&f), None, Duration::from_secs(20))
        .unwrap();

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(maker as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.workers().len() != 1 {
        assert!(Instant::now() < deadline, "the killed worker never left");
        std::thread::sleep(Duration::from_millis(10));
    }

    // Not recomputed (a recomputed value would name another worker):
    // read from the copy on the survivor.
    let holders = client.who_has(&[f.key()]).unwrap().remove(0);
    assert_eq!(holders.len(), 1);
    for (ran_on, by, n) in readers(&client, &f, 4) {
        assert_ne!(ran_on, maker);
        assert_eq!((by, n), (maker, 33));
    }
}

#[test]
fn replicating_a_failed_result_is_its_error() {
    let client = cluster(1);
    let mut b = JobBuilder::new();
    let op = b.op(&Op::new(
        "fails",
        rask_core::fallible(|_: &u64| Err::<u64, _>("no such thing")),
    ));
    let l = b.lit(0u64);
    let t = b.task(op, &[l]);
    let f = client
        .submit_job(&b.finish(), &[t], &[], &impure())
        .unwrap();
    let err = client
        .replicate(&f, None, Duration::from_secs(5))
        .unwrap_err();
    assert!(err.to_string().contains("no such thing"), "{err}");
}
