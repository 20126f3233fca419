//! Memory-aware ordering on the sync scheduler: independent chains run one
//! after another, and every intermediate is dropped as soon as its last
//! dependent has run.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rask_core::{Arg, Events, Job, JobBuilder, Op, RunInfo, Scheduler, TaskId, TaskSpan};
use rask_sched_sync::SyncScheduler;

/// A result that counts how many of its kind are alive.
struct Tracked {
    value: i64,
    live: Arc<AtomicI64>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Counters {
    live: Arc<AtomicI64>,
    peak: AtomicI64,
}

impl Counters {
    fn new() -> Arc<Self> {
        Arc::new(Counters {
            live: Arc::new(AtomicI64::new(0)),
            peak: AtomicI64::new(0),
        })
    }
    fn make(&self, value: i64) -> Tracked {
        let now = self.live.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        Tracked {
            value,
            live: self.live.clone(),
        }
    }
}

/// Records which chain each started task belongs to.
struct ChainLog {
    chain_of: Vec<Option<usize>>,
    started: Mutex<Vec<usize>>,
}

impl Events for ChainLog {
    fn task_start(&self, task: TaskId, _worker: usize) {
        if let Some(c) = self.chain_of[task.index()] {
            self.started.lock().unwrap().push(c);
        }
    }
    fn run_start(&self, _: &RunInfo) {}
    fn task_finish(&self, _: TaskId, _: usize, _: TaskSpan) {}
}

/// `k` chains of `len` steps. With `accumulate`, chain ends are folded into
/// a running total one by one; otherwise one task merges all chain ends.
fn chains(
    k: usize,
    len: usize,
    accumulate: bool,
    counters: &Arc<Counters>,
) -> (Arc<Job>, TaskId, Vec<Option<usize>>) {
    let c = counters.clone();
    let start = Op::local("start", move |x: &i64| c.make(*x));
    let c = counters.clone();
    let step = Op::local("step", move |t: &Tracked| c.make(t.value + 1));
    let c = counters.clone();
    let add = Op::local("add", move |a: &Tracked, b: &Tracked| {
        c.make(a.value + b.value)
    });
    let c = counters.clone();
    let merge = Op::local("merge", move |xs: rask_core::Inputs<Tracked>| {
        c.make(xs.map(|t| t.value).sum())
    });
    let mut b = JobBuilder::new();
    let (start, step, add, merge) = (b.op(&start), b.op(&step), b.op(&add), b.op(&merge));
    let mut chain_of = Vec::new();
    let mut ends = Vec::new();
    let mut acc: Option<TaskId> = None;
    for chain in 0..k {
        let lit = b.lit(chain as i64);
        let mut t = b.task(start, &[lit]);
        chain_of.push(Some(chain));
        for _ in 1..len {
            t = b.task(step, &[Arg::dep(t)]);
            chain_of.push(Some(chain));
        }
        if accumulate {
            acc = Some(match acc {
                None => t,
                Some(a) => {
                    chain_of.push(None);
                    b.task(add, &[Arg::dep(a), Arg::dep(t)])
                }
            });
        } else {
            ends.push(Arg::dep(t));
        }
    }
    let out = match acc {
        Some(a) if accumulate => a,
        _ => {
            chain_of.push(None);
            b.task(merge, &ends)
        }
    };
    (Arc::new(b.finish()), out, chain_of)
}

fn expected_total(k: usize, len: usize) -> i64 {
    (0..k as i64).map(|c| c + len as i64 - 1).sum()
}

#[test]
fn chains_run_one_after_another() {
    let counters = Counters::new();
    let (job, out, chain_of) = chains(50, 20, false, &counters);
    let log = ChainLog {
        chain_of,
        started: Mutex::new(Vec::new()),
    };
    let result = SyncScheduler.run(&job, &[out], &log).unwrap();
    assert_eq!(
        result[0].downcast_ref::<Tracked>().unwrap().value,
        expected_total(50, 20)
    );
    let started = log.started.into_inner().unwrap();
    assert_eq!(started.len(), 50 * 20);
    assert!(
        started.windows(2).all(|w| w[0] <= w[1]),
        "a chain started before the previous one finished"
    );
    // Only the chain ends wait for the merge: 50 ends + the running step + the merge result.
    assert!(counters.peak.load(Ordering::SeqCst) <= 50 + 2);
}

#[test]
fn peak_live_results_do_not_grow_with_the_number_of_chains() {
    let mut peaks = Vec::new();
    for k in [10, 300] {
        let counters = Counters::new();
        let (job, out, _) = chains(k, 25, true, &counters);
        let result = SyncScheduler
            .run(&job, &[out], &rask_core::NoEvents)
            .unwrap();
        assert_eq!(
            result[0].downcast_ref::<Tracked>().unwrap().value,
            expected_total(k, 25)
        );
        drop(result);
        assert_eq!(
            counters.live.load(Ordering::SeqCst),
            0,
            "every result was dropped"
        );
        peaks.push(counters.peak.load(Ordering::SeqCst));
    }
    // Running total + the chain's current value + the one being made.
    assert!(peaks.iter().all(|&p| p <= 3), "peaks {peaks:?}");
}

#[test]
fn each_intermediate_is_dropped_when_its_last_dependent_finishes() {
    // One chain: when step i runs, only its input is alive (step i-2 and
    // earlier were dropped as soon as their only dependent finished).
    let live = Arc::new(AtomicI64::new(0));
    let worst = Arc::new(AtomicUsize::new(0));
    let (l, w) = (live.clone(), worst.clone());
    let step = Op::local("step", move |t: &Tracked| {
        w.fetch_max(l.load(Ordering::SeqCst) as usize, Ordering::SeqCst);
        l.fetch_add(1, Ordering::SeqCst);
        Tracked {
            value: t.value + 1,
            live: l.clone(),
        }
    });
    let l = live.clone();
    let start = Op::local("start", move || {
        l.fetch_add(1, Ordering::SeqCst);
        Tracked {
            value: 0,
            live: l.clone(),
        }
    });
    let mut b = JobBuilder::new();
    let (start, step) = (b.op(&start), b.op(&step));
    let mut t = b.task(start, &[]);
    for _ in 0..1000 {
        t = b.task(step, &[Arg::dep(t)]);
    }
    let job = Arc::new(b.finish());
    let out = SyncScheduler.run(&job, &[t], &rask_core::NoEvents).unwrap();
    assert_eq!(out[0].downcast_ref::<Tracked>().unwrap().value, 1000);
    assert_eq!(
        worst.load(Ordering::SeqCst),
        1,
        "more than the input was alive when a step ran"
    );
}
