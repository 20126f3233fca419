//! Worker processes do not outlive a parent that is killed outright.
//!
//! The test runs a copy of this test binary as the parent (selected by an
//! environment variable), waits until that copy has forked its workers,
//! kills it with SIGKILL, and checks that the workers die too.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rask_core::{Arg, Inputs, JobBuilder, NoEvents, Op, Scheduler};
use rask_sched_procs::ProcessScheduler;

mod common;
use common::children_of;

const HELPER: &str = "RASK_ORPHAN_TEST_PARENT";

/// True while `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rfind(')').and_then(|i| stat[i + 2..].chars().next()) != Some('Z'),
        Err(_) => false,
    }
}

/// The parent's part: a run whose tasks sleep far longer than the test waits.
fn be_the_parent() {
    let nap = Op::new("nap", |_: &u64| {
        std::thread::sleep(Duration::from_secs(60));
        1u64
    });
    let sum = Op::new("sum", |xs: Inputs<u64>| xs.sum::<u64>());
    let mut b = JobBuilder::new();
    let (nap, sum) = (b.op(&nap), b.op(&sum));
    let naps: Vec<Arg> = (0..2u64)
        .map(|i| {
            let lit = b.lit(i);
            Arg::dep(b.task(nap, &[lit]))
        })
        .collect();
    let out = b.task(sum, &naps);
    let job = Arc::new(b.finish());
    let _ = ProcessScheduler::new(2).run(&job, &[out], &NoEvents);
}

#[test]
fn workers_die_with_a_killed_parent() {
    if std::env::var_os(HELPER).is_some() {
        be_the_parent();
        return;
    }
    let mut parent = Command::new(std::env::current_exe().unwrap())
        .args([
            "workers_die_with_a_killed_parent",
            "--exact",
            "--test-threads=1",
        ])
        .env(HELPER, "1")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = parent.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    let workers = loop {
        let found = children_of(pid);
        if found.len() >= 2 || Instant::now() > deadline {
            break found;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    parent.kill().unwrap();
    parent.wait().unwrap();
    assert_eq!(workers.len(), 2, "the parent never forked its workers");
    let deadline = Instant::now() + Duration::from_secs(10);
    while workers.iter().any(|&(w, _)| alive(w)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let survivors: Vec<u32> = workers
        .iter()
        .map(|&(w, _)| w)
        .filter(|&w| alive(w))
        .collect();
    for &w in &survivors {
        // Do not leave them running even when the test fails.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(w as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert_eq!(
        survivors,
        [] as [u32; 0],
        "workers outlived their killed parent"
    );
}
