//! Admitting jobs with real sockets on 127.0.0.1: a job submitted to a
//! cluster with no worker says it waits and runs once one joins, and a big
//! job being admitted does not make the scheduler drop live workers.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{builtin_job, impure, with_token, worker, Proc};
use rask_core::{Arg, Inputs, JobBuilder, Op};
use rask_sched_net::{Client, FutureStatus, SubmitOptions};

const TOKEN: &str = "admission-test";

/// A `rask-scheduler` on a free port that drops a worker silent for
/// `heartbeat_timeout`, and its address.
fn scheduler(heartbeat_timeout: Duration) -> (Proc, String) {
    let timeout = heartbeat_timeout.as_secs_f64().to_string();
    let mut s = Proc::start(Command::new(env!("CARGO_BIN_EXE_rask-scheduler")).args([
        "--port",
        "0",
        "--token",
        TOKEN,
        "--no-dashboard",
        "--heartbeat-timeout",
        &timeout,
    ]));
    let line = s.expect("listening on ");
    let addr = line.rsplit(' ').next().unwrap_or_default().to_owned();
    (s, addr)
}

/// Polls `cond` every 10 ms for up to `limit`; true if it held.
fn within(limit: Duration, cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

#[test]
fn a_job_with_no_worker_says_it_waits_and_runs_once_one_joins() {
    let (_sched, addr) = scheduler(Duration::from_secs(10));
    let client = Client::connect(&addr, with_token(TOKEN)).unwrap();
    let (job, out) = builtin_job(10);
    let futures = client.submit_job(&job, &[out], &[], &impure()).unwrap();
    let f = &futures[0];
    assert!(
        within(Duration::from_secs(10), || f.waiting_for_workers()),
        "the job never said it waits for workers"
    );
    assert_eq!(f.status(), FutureStatus::Pending);

    let _worker = worker(&addr, TOKEN);
    let v = f.result(Some(Duration::from_secs(30))).unwrap();
    assert_eq!(v.downcast_ref::<i64>(), Some(&55));
    assert!(!f.waiting_for_workers(), "a finished job does not wait");
}

/// `n` tasks gathered by one, asking for a resource no worker offers: the
/// scheduler must decode and plan all of it before it can refuse it, and
/// the worker never loads it.
fn big_unrunnable_job(client: &Client, n: usize) -> rask_sched_net::RawFuture {
    let leaf = Op::new("big-leaf", || 1u8);
    let gather = Op::new("big-gather", |xs: Inputs<u8>| xs.count_all() as u64);
    let mut b = JobBuilder::new();
    let (leaf, gather) = (b.op(&leaf), b.op(&gather));
    let leaves: Vec<Arg> = (0..n).map(|_| Arg::dep(b.task(leaf, &[]))).collect();
    let out = b.task(gather, &leaves);
    let job = b.finish();
    let options = SubmitOptions::default()
        .pure(false)
        .resources(&[("unobtainium", 1.0)]);
    let mut futures = client.submit_job(&job, &[out], &[], &options).unwrap();
    futures.remove(0)
}

#[test]
fn admitting_a_big_job_does_not_drop_live_workers() {
    // Workers send a heartbeat every 500 ms; decoding and planning this
    // job in place held the scheduler's loop past the timeout (about 1.5 s
    // on a 2-core machine), and the worker was removed.
    let timeout = Duration::from_secs(1);
    let (_sched, addr) = scheduler(timeout);
    let client = Client::connect(&addr, with_token(TOKEN)).unwrap();
    let _worker = worker(&addr, TOKEN);
    client
        .wait_for_workers(1, Duration::from_secs(10))
        .expect("the worker joined");
    let joined = client.workers();

    let big = big_unrunnable_job(&client, 4_000_000);
    let error = big
        .result(Some(Duration::from_secs(120)))
        .expect_err("no worker offers the resource");
    assert!(
        error.to_string().contains("unobtainium"),
        "refused for its resource: {error}"
    );
    // A scheduler that held its loop while admitting removed the worker
    // at the end of that same turn, right after the refusal; wait one
    // more timeout for a late removal too.
    std::thread::sleep(timeout + Duration::from_millis(500));
    assert_eq!(client.workers(), joined, "the live worker was kept");

    let (job, out) = builtin_job(10);
    let v = client
        .gather(&client.submit_job(&job, &[out], &[], &impure()).unwrap())
        .unwrap();
    assert_eq!(v[0].downcast_ref::<i64>(), Some(&55));
}

#[test]
fn a_worker_that_stops_sending_is_still_removed() {
    // A silent worker's socket is read once more before it goes: a read
    // that finds nothing must not count as a sign of life.
    let timeout = Duration::from_secs(1);
    let (_sched, addr) = scheduler(timeout);
    let client = Client::connect(&addr, with_token(TOKEN)).unwrap();
    let worker = worker(&addr, TOKEN);
    client
        .wait_for_workers(1, Duration::from_secs(10))
        .expect("the worker joined");
    let pid = nix::unistd::Pid::from_raw(worker.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let removed = within(Duration::from_secs(10), || client.workers().is_empty());
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT);
    assert!(removed, "the stopped worker was kept");
}
