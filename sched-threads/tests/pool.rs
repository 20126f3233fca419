//! The thread pool on its own: reuse, nested computes, failures, shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rask_core::{fallible, Arg, Error, Inputs, Job, JobBuilder, NoEvents, Op, Scheduler, TaskId};
use rask_sched_threads::ThreadPool;

/// `n` leaves `leaf(i)`, summed by one task.
fn sum_over(n: u64, leaf: Op) -> (Arc<Job>, TaskId) {
    let sum = Op::new("sum", |xs: Inputs<u64>| xs.sum::<u64>());
    let mut b = JobBuilder::new();
    let (leaf, sum) = (b.op(&leaf), b.op(&sum));
    let leaves: Vec<Arg> = (0..n)
        .map(|i| {
            let lit = b.lit(i);
            Arg::dep(b.task(leaf, &[lit]))
        })
        .collect();
    let out = b.task(sum, &leaves);
    (Arc::new(b.finish()), out)
}

fn sum_of(n: u64, f: impl Fn(&u64) -> u64 + Send + Sync + 'static) -> (Arc<Job>, TaskId) {
    sum_over(n, Op::new("leaf", f))
}

fn fallible_sum_of(
    n: u64,
    f: impl Fn(&u64) -> Result<u64, String> + Send + Sync + 'static,
) -> (Arc<Job>, TaskId) {
    sum_over(n, Op::new("leaf", fallible(f)))
}

#[test]
fn a_panicking_task_is_a_task_error() {
    let pool = ThreadPool::new(2).unwrap();
    let (job, out) = sum_of(4, |i| {
        if *i == 3 {
            panic!("leaf {i} is broken")
        } else {
            *i
        }
    });
    let err = pool.run(&job, &[out], &NoEvents).unwrap_err();
    assert_eq!(
        err.to_string(),
        "task `leaf-3` (op `leaf`) failed: panicked: leaf 3 is broken"
    );
}

fn threads_of_this_process() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Threads:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn the_pool_is_reused_and_computes_correctly() {
    let pool = ThreadPool::new(3).unwrap();
    assert_eq!(pool.workers(), 3);
    for round in 0..20u64 {
        let (job, out) = sum_of(1000, move |i| i * round);
        let v = pool.run(&job, &[out], &NoEvents).unwrap();
        assert_eq!(v[0].downcast_ref::<u64>(), Some(&(round * 999 * 1000 / 2)));
    }
}

#[test]
fn a_compute_inside_a_task_does_not_deadlock() {
    // Every pool thread can be inside an outer task that itself computes on
    // the same pool; the callers work on their own runs, so all finish.
    for workers in [1, 2] {
        let pool = Arc::new(ThreadPool::new(workers).unwrap());
        let inner_pool = pool.clone();
        let (job, out) = sum_of(16, move |i| {
            let (inner, inner_out) = sum_of(50, |x| x + 1);
            let v = inner_pool.run(&inner, &[inner_out], &NoEvents).unwrap();
            v[0].downcast_ref::<u64>().copied().unwrap() + i
        });
        let v = pool.run(&job, &[out], &NoEvents).unwrap();
        // Inner sum: 1 + ... + 50 = 1275, plus i for i in 0..16.
        assert_eq!(v[0].downcast_ref::<u64>(), Some(&(16 * 1275 + 120)));
        // The outer tasks hold the only other handle, released with the job.
        drop(job);
    }
}

#[test]
fn first_failure_ends_the_run_and_names_the_task() {
    let pool = ThreadPool::new(2).unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    let (job, out) = fallible_sum_of(2000, move |i| {
        s.fetch_add(1, Ordering::SeqCst);
        // ~50 µs of work, so the run cannot finish the 2000 leaves in the
        // moment between the failure and the scheduler noticing it.
        let until = std::time::Instant::now() + Duration::from_micros(50);
        while std::time::Instant::now() < until {
            std::hint::spin_loop();
        }
        if *i == 10 {
            return Err(format!("leaf {i} is broken"));
        }
        Ok(*i)
    });
    let err = pool.run(&job, &[out], &NoEvents).unwrap_err();
    match &err {
        Error::TaskFailed { key, op, message } => {
            assert_eq!(key, "leaf-10");
            assert_eq!(op, "leaf");
            assert_eq!(message, "leaf 10 is broken");
        }
        other => panic!("unexpected error {other}"),
    }
    let n = started.load(Ordering::SeqCst);
    assert!(
        n < 1000,
        "the run went on after the failure: {n} leaves started"
    );
    // The pool still works.
    let (job, out) = sum_of(100, |i| *i);
    assert_eq!(
        pool.run(&job, &[out], &NoEvents).unwrap()[0].downcast_ref::<u64>(),
        Some(&4950)
    );
}

#[test]
fn dropping_the_pool_joins_every_thread() {
    // Tests run in parallel threads, so other tests' threads come and go:
    // an attempt counts only if the count rose by the pool's 4 threads while
    // it lived, and it passes when the count is back to the baseline after
    // the drop. Retry a few times for a quiet moment.
    let mut ok = false;
    for _ in 0..20 {
        let before = threads_of_this_process();
        let pool = ThreadPool::new(4).unwrap();
        let (job, out) = sum_of(100, |i| *i);
        pool.run(&job, &[out], &NoEvents).unwrap();
        let during = threads_of_this_process();
        drop(pool);
        let after = threads_of_this_process();
        if during >= before + 4 && after <= before {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(ok, "the pool's threads did not start, or outlived the pool");
}

#[test]
fn graph_errors_come_before_any_task_runs() {
    let pool = ThreadPool::new(2).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let op = Op::new("count", move |x: &u64| {
        r.fetch_add(1, Ordering::SeqCst);
        *x
    });
    let mut b = JobBuilder::new();
    let id = b.op(&op);
    let a = b.key("a");
    let bb = b.keyed_task("b", id, &[Arg::dep(a)]);
    b.keyed_task("a", id, &[Arg::dep(bb)]);
    let job = Arc::new(b.finish());
    let err = pool.run(&job, &[bb], &NoEvents).unwrap_err();
    assert!(matches!(err, Error::Cycle { .. }), "{err}");
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[test]
fn work_made_ready_by_one_task_wakes_a_pool_thread() {
    // One root makes 40 tasks ready at once: the calling thread starts
    // alone (one ready task wakes nobody), so the second thread only joins
    // if spare work wakes it. Each task sleeps, so one thread alone would
    // take every task in turn while the other sat idle.
    let pool = ThreadPool::new(2).unwrap();
    // Let the new threads find no run and go idle, as between computes.
    std::thread::sleep(Duration::from_millis(50));
    let threads = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let seen = threads.clone();
    let root = Op::new("root", || 1u64);
    let leaf = Op::new("leaf", move |x: &u64| {
        seen.lock().unwrap().insert(std::thread::current().id());
        std::thread::sleep(Duration::from_millis(2));
        *x
    });
    let sum = Op::new("sum", |xs: Inputs<u64>| xs.sum::<u64>());
    let mut b = JobBuilder::new();
    let (root, leaf, sum) = (b.op(&root), b.op(&leaf), b.op(&sum));
    let r = b.task(root, &[]);
    let leaves: Vec<Arg> = (0..40)
        .map(|_| Arg::dep(b.task(leaf, &[Arg::dep(r)])))
        .collect();
    let out = b.task(sum, &leaves);
    let job = Arc::new(b.finish());
    let v = pool.run(&job, &[out], &NoEvents).unwrap();
    assert_eq!(v[0].downcast_ref::<u64>(), Some(&40));
    assert_eq!(
        threads.lock().unwrap().len(),
        2,
        "one thread ran every leaf"
    );
}

#[test]
fn a_one_task_compute_runs_on_the_calling_thread() {
    // Nothing to spare, so no pool thread is woken: the caller runs it.
    let pool = ThreadPool::new(2).unwrap();
    let here = std::thread::current().id();
    let op = Op::new("where", move || std::thread::current().id() == here);
    let mut b = JobBuilder::new();
    let id = b.op(&op);
    let t = b.task(id, &[]);
    let job = Arc::new(b.finish());
    for _ in 0..100 {
        let v = pool.run(&job, &[t], &NoEvents).unwrap();
        assert_eq!(v[0].downcast_ref::<bool>(), Some(&true));
    }
}

/// Two leaves that can only finish together: each waits (at most 10 s)
/// until the other has started. A pool of two that ran them one after the
/// other would see each wait time out.
#[test]
fn a_pool_of_two_runs_two_ready_tasks_at_once() {
    use std::sync::{Condvar, Mutex};
    use std::time::Instant;
    let met = Arc::new((Mutex::new(0u64), Condvar::new()));
    let m = met.clone();
    let (job, out) = sum_of(2, move |_| {
        let (count, cv) = &*m;
        let mut n = count.lock().unwrap();
        *n += 1;
        cv.notify_all();
        let deadline = Instant::now() + Duration::from_secs(10);
        while *n < 2 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return 0;
            }
            n = cv.wait_timeout(n, left).unwrap().0;
        }
        1
    });
    let pool = ThreadPool::new(2).unwrap();
    for rep in 0..3 {
        *met.0.lock().unwrap() = 0;
        let got = pool.run(&job, &[out], &NoEvents).unwrap();
        let both = *got[0].downcast_ref::<u64>().unwrap();
        assert_eq!(
            both, 2,
            "run {rep}: the two leaves did not run at the same time"
        );
    }
}
