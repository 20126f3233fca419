//! Chaos: a 100,000-task graph on a local cluster of 3 workers while a
//! driver kills a random worker with SIGKILL every 2 seconds and starts a
//! replacement. The answer must be right, five times over; published
//! datasets whose data lived on workers that survived must be intact; and
//! once the cluster is dropped no worker process may be left.
//!
//! `RASK_CHAOS_REPEATS` sets how many runs (default 5).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rask_core::splitmix::{mix, SplitMix64};
use rask_core::{Arg, Codec, Inputs, Job, JobBuilder, Op, TaskId};
use rask_sched_net::{Client, LocalOptions, SubmitOptions};

mod common;
use common::{alive, impure, spin};

const LEAVES: u64 = 100_000;
/// Leaves per first-level sum, and sums per second-level sum.
const FAN: usize = 100;
const KILL_EVERY: Duration = Duration::from_secs(2);

fn leaf(i: &u64) -> u64 {
    spin(50);
    mix(*i) >> 8
}

fn total(xs: Inputs<u64>) -> u64 {
    xs.fold(0u64, |a, x| a.wrapping_add(*x))
}

/// The leaves summed in a tree: 100,000 leaves, then sums of 100, sums of
/// those, and the total.
fn tree() -> (Job, TaskId, u64) {
    let mut b = JobBuilder::new();
    let leaf_op = b.op(&Op::new("leaf", leaf));
    let total_op = b.op(&Op::new("total", total));
    let mut level: Vec<TaskId> = (0..LEAVES)
        .map(|i| {
            let l = b.lit(i);
            b.task(leaf_op, &[l])
        })
        .collect();
    while level.len() > 1 {
        level = level
            .chunks(FAN)
            .map(|group| {
                let args: Vec<Arg> = group.iter().map(|&t| Arg::dep(t)).collect();
                b.task(total_op, &args)
            })
            .collect();
    }
    let out = level[0];
    let expected = (0..LEAVES).fold(0u64, |a, i| a.wrapping_add(mix(i) >> 8));
    (b.finish(), out, expected)
}

/// A dataset's value: the worker that made it, and a number to check.
fn tagged(n: &u64) -> (u32, u64) {
    (std::process::id(), mix(*n))
}

/// Kills a random worker every [`KILL_EVERY`] and starts another until
/// `stop`; returns the pids it killed.
fn killer(
    client: Arc<Client>,
    stop: Arc<AtomicBool>,
    seed: u64,
    started: Arc<Mutex<Vec<u32>>>,
) -> Vec<u32> {
    let mut rng = SplitMix64(seed);
    let mut killed = Vec::new();
    let cluster = client.cluster().expect("a local cluster");
    // Bounded: a run never takes more than a few minutes.
    for _ in 0..200 {
        // The first kill comes half a period in, so that even a quick
        // run sees one.
        let wait = if killed.is_empty() {
            KILL_EVERY / 2
        } else {
            KILL_EVERY
        };
        let wake = Instant::now() + wait;
        while Instant::now() < wake {
            if stop.load(Ordering::SeqCst) {
                return killed;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let pids = cluster.worker_pids();
        if pids.is_empty() {
            continue;
        }
        let victim = pids[(rng.next_u64() % pids.len() as u64) as usize];
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(victim as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        killed.push(victim);
        if let Ok(pid) = cluster.add_worker() {
            started.lock().unwrap().push(pid);
        }
    }
    killed
}

/// Publishes one dataset made on each worker now in the cluster:
/// (name, the worker's pid, the value).
fn publish_on_each_worker(client: &Client, run: usize) -> Vec<(String, u32, u64)> {
    let mut out = Vec::new();
    for (id, _) in client.workers() {
        let n = (run as u64) << 32 | u64::from(id.get());
        let mut b = JobBuilder::new();
        let op = b.op(&Op::new("tagged", tagged));
        let l = b.lit(n);
        let t = b.task(op, &[l]);
        let options = SubmitOptions::default()
            .pure(false)
            .workers(&[id.to_string()]);
        let Ok(f) = client.submit_job(&b.finish(), &[t], &[], &options) else {
            continue; // that worker has just gone
        };
        let Ok(value) = client.gather(&f) else {
            continue;
        };
        let (pid, v) = *value[0].downcast_ref::<(u32, u64)>().unwrap();
        let name = format!("tagged-{n:x}");
        client.publish(&name, &f, false).unwrap();
        out.push((name, pid, v));
    }
    out
}

/// Reads every dataset back: those whose worker lives must be intact;
/// the others may be lost (an error) but never wrong. Returns how many
/// were read from living workers.
fn check_datasets(client: &Client, datasets: &[(String, u32, u64)], killed: &[u32]) -> usize {
    let mut intact = 0;
    for (name, pid, v) in datasets {
        let value = client
            .get_dataset(name, Codec::of::<(u32, u64)>())
            .and_then(|f| {
                f[0].result(Some(Duration::from_secs(20)))
                    .map(|v| *v.downcast_ref::<(u32, u64)>().unwrap())
            });
        if killed.contains(pid) {
            match value {
                Ok((_, got)) => assert_eq!(got, *v, "dataset {name} came back wrong"),
                Err(e) => eprintln!("dataset {name} lost with worker {pid}: {e}"),
            }
        } else {
            assert_eq!(
                value.unwrap(),
                (*pid, *v),
                "dataset {name} on a live worker"
            );
            intact += 1;
        }
    }
    intact
}

#[test]
fn a_graph_under_a_worker_killed_every_two_seconds_is_still_right() {
    let repeats: usize = std::env::var("RASK_CHAOS_REPEATS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let client = Arc::new(
        Client::local(LocalOptions {
            workers: 3,
            dashboard_port: None,
            ..LocalOptions::default()
        })
        .unwrap(),
    );
    client.wait_for_workers(3, Duration::from_secs(20)).unwrap();
    let started = Arc::new(Mutex::new(client.cluster().unwrap().worker_pids()));

    let (job, out, expected) = tree();
    assert!(job.len() > 100_000, "{} tasks", job.len());
    let mut datasets = Vec::new();
    let mut killed = Vec::new();
    let mut intact = 0;
    for run in 0..repeats {
        datasets.extend(publish_on_each_worker(&client, run));
        let seed = 0xc4a05 + run as u64;
        let stop = Arc::new(AtomicBool::new(false));
        let driver = {
            let (client, stop, started) = (client.clone(), stop.clone(), started.clone());
            std::thread::spawn(move || killer(client, stop, seed, started))
        };
        let began = Instant::now();
        let result = client
            .submit_job(&job, &[out], &[], &impure())
            .and_then(|mut f| f.pop().unwrap().result(Some(Duration::from_secs(180))));
        stop.store(true, Ordering::SeqCst);
        let victims = driver.join().unwrap();
        eprintln!(
            "chaos run {run} (seed {seed:#x}): {:.1} s, {} workers killed",
            began.elapsed().as_secs_f64(),
            victims.len()
        );
        let value = result.unwrap_or_else(|e| panic!("run {run} (seed {seed:#x}) failed: {e}"));
        assert_eq!(value.downcast_ref::<u64>(), Some(&expected), "run {run}");
        assert!(!victims.is_empty(), "run {run} ended before its first kill");
        killed.extend(victims);
        intact += check_datasets(&client, &datasets, &killed);
    }
    eprintln!(
        "{} workers killed over {repeats} runs; {intact} dataset reads from surviving workers intact",
        killed.len()
    );
    assert!(
        intact > 0,
        "no dataset's worker survived a run: nothing was checked"
    );

    // No orphans: every worker ever started is gone with the cluster.
    drop(client);
    let all = started.lock().unwrap().clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    for pid in all {
        while alive(pid) {
            assert!(
                Instant::now() < deadline,
                "worker {pid} outlived its cluster"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "worker {pid} was never reaped"
        );
    }
}
