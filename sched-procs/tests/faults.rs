//! Dying children: each death is an error naming the task and how the child
//! died; every child is reaped (no zombie), no descriptor leaks, and the
//! next run works. One test function, so that no other test of this binary
//! forks children while the process table is inspected.

use std::sync::Arc;

use rask_core::{Arg, Error, Inputs, Job, JobBuilder, NoEvents, Op, Scheduler, TaskId};
use rask_sched_procs::ProcessScheduler;

mod common;

/// Children of this process still in the process table (alive or zombie).
fn children_of_this_process() -> Vec<(u32, char)> {
    common::children_of(std::process::id())
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// 40 leaves summed; leaf 17 runs `leaf17` instead of returning its index.
fn graph_with(leaf17: impl Fn(&u64) -> u64 + Send + Sync + 'static) -> (Arc<Job>, TaskId) {
    let leaf = Op::new("leaf", |i: &u64| *i);
    let special = Op::new("special", leaf17);
    let sum = Op::new("sum", |xs: Inputs<u64>| xs.sum::<u64>());
    let mut b = JobBuilder::new();
    let (leaf, special, sum) = (b.op(&leaf), b.op(&special), b.op(&sum));
    let leaves: Vec<Arg> = (0..40u64)
        .map(|i| {
            let lit = b.lit(i);
            let op = if i == 17 { special } else { leaf };
            Arg::dep(b.keyed_task(&format!("leaf-{i}"), op, &[lit]))
        })
        .collect();
    let out = b.keyed_task("total", sum, &leaves);
    (Arc::new(b.finish()), out)
}

fn expect_death(
    scheduler: &ProcessScheduler,
    how: &str,
    leaf17: impl Fn(&u64) -> u64 + Send + Sync + 'static,
) {
    let (job, out) = graph_with(leaf17);
    let err = scheduler.run(&job, &[out], &NoEvents).unwrap_err();
    match &err {
        Error::TaskFailed { key, op, message } => {
            assert_eq!((key.as_str(), op.as_str()), ("leaf-17", "special"), "{err}");
            assert!(message.starts_with("its worker process (pid "), "{err}");
            assert!(message.ends_with(how), "{err}");
        }
        other => panic!("expected the task to be named, got: {other}"),
    }
    assert_eq!(
        children_of_this_process(),
        [],
        "a child was left behind after: {err}"
    );
}

#[test]
fn dying_children_are_named_reaped_and_forgotten() {
    let scheduler = ProcessScheduler::new(2);
    // Warm up whatever the first run allocates, then count descriptors.
    let (job, out) = graph_with(|i| *i);
    scheduler.run(&job, &[out], &NoEvents).unwrap();
    let fds = open_fds();

    expect_death(&scheduler, "was killed by signal SIGABRT", |_| {
        std::process::abort()
    });
    expect_death(&scheduler, "was killed by signal SIGSEGV", |_| {
        // A real invalid write (a raised SIGSEGV is caught and ignored by
        // Rust's stack-overflow handler).
        let address = std::hint::black_box(8usize) as *mut u8;
        // SAFETY: it is not; that is the point of this task.
        unsafe { address.write_volatile(1) };
        0
    });
    expect_death(&scheduler, "was killed by signal SIGKILL", |_| {
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL).unwrap();
        0
    });
    expect_death(&scheduler, "exited with status 3", |_| {
        std::process::exit(3)
    });

    // A panic is a task error, not a death.
    let (job, out) = graph_with(|i| panic!("leaf {i} refuses"));
    let err = scheduler.run(&job, &[out], &NoEvents).unwrap_err();
    assert_eq!(
        err.to_string(),
        "task `leaf-17` (op `special`) failed: panicked: leaf 17 refuses"
    );
    assert_eq!(children_of_this_process(), []);

    // And the next run works, with no descriptor left open.
    let (job, out) = graph_with(|i| *i);
    let v = scheduler.run(&job, &[out], &NoEvents).unwrap();
    assert_eq!(v[0].downcast_ref::<u64>(), Some(&(39 * 40 / 2)));
    assert_eq!(open_fds(), fds, "descriptors leaked");
    assert_eq!(children_of_this_process(), []);
}
