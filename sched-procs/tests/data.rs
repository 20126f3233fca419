//! What crosses between processes arrives intact, big graphs complete, and
//! results move between children when a task needs inputs from several.

use std::sync::Arc;

use rask_core::{Arg, Events, Inputs, JobBuilder, NoEvents, Op, Scheduler, TaskId, TaskSpan};
use rask_sched_procs::ProcessScheduler;
use rask_sched_sync::SyncScheduler;

fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[test]
fn a_100_megabyte_result_round_trips_intact() {
    let make = Op::new("make", |len: &u64| {
        (0..*len)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect::<Vec<u8>>()
    });
    let mut b = JobBuilder::new();
    let op = b.op(&make);
    let len = b.lit(100u64 << 20);
    let out = b.task(op, &[len]);
    let job = Arc::new(b.finish());
    let expected = SyncScheduler.run(&job, &[out], &NoEvents).unwrap();
    let got = ProcessScheduler::new(2)
        .run(&job, &[out], &NoEvents)
        .unwrap();
    let (e, g) = (
        expected[0].downcast_ref::<Vec<u8>>().unwrap(),
        got[0].downcast_ref::<Vec<u8>>().unwrap(),
    );
    assert_eq!(g.len(), 100 << 20);
    assert_eq!(checksum(g), checksum(e));
}

#[test]
fn fifty_thousand_tasks_complete() {
    let leaf = Op::new("leaf", |i: &u64| i % 7);
    let pair = Op::new("pair", |a: &u64, b: &u64| a + b);
    let sum = Op::new("sum", |xs: Inputs<u64>| xs.sum::<u64>());
    let mut b = JobBuilder::new();
    let (leaf, pair, sum) = (b.op(&leaf), b.op(&pair), b.op(&sum));
    // 25,000 leaves, 24,999 pairwise sums of neighbours, one total.
    let leaves: Vec<TaskId> = (0..25_000u64)
        .map(|i| {
            let lit = b.lit(i);
            b.task(leaf, &[lit])
        })
        .collect();
    let pairs: Vec<Arg> = leaves
        .windows(2)
        .map(|w| Arg::dep(b.task(pair, &[Arg::dep(w[0]), Arg::dep(w[1])])))
        .collect();
    let out = b.task(sum, &pairs);
    let job = Arc::new(b.finish());
    assert_eq!(job.len(), 50_000);
    let expected = SyncScheduler.run(&job, &[out], &NoEvents).unwrap();
    let got = ProcessScheduler::new(2)
        .run(&job, &[out], &NoEvents)
        .unwrap();
    assert_eq!(
        got[0].downcast_ref::<u64>(),
        expected[0].downcast_ref::<u64>()
    );
}

#[test]
fn a_ten_thousand_task_chain_completes_fused_and_unfused() {
    let one = Op::new("one", || 1u64);
    let inc = Op::new("inc", |x: &u64| x + 1);
    let mut b = JobBuilder::new();
    let (one, inc) = (b.op(&one), b.op(&inc));
    let mut t = b.task(one, &[]);
    for _ in 1..10_000 {
        t = b.task(inc, &[Arg::dep(t)]);
    }
    let job = Arc::new(b.finish());
    for fuse in [true, false] {
        let got = ProcessScheduler::new(2)
            .with_fusion(fuse)
            .run(&job, &[t], &NoEvents)
            .unwrap();
        assert_eq!(got[0].downcast_ref::<u64>(), Some(&10_000), "fuse: {fuse}");
    }
}

/// Records which worker ran each task.
#[derive(Default)]
struct Placement(std::sync::Mutex<Vec<(TaskId, usize)>>);

impl Events for Placement {
    fn task_finish(&self, task: TaskId, worker: usize, _: TaskSpan) {
        self.0.lock().unwrap().push((task, worker));
    }
}

#[test]
fn inputs_on_different_children_are_moved_and_results_stay_put() {
    // Two independent heavy branches (1 MB vectors through 5 steps each)
    // end in one task that needs both, so one branch's result must move.
    let make = Op::new("make", |seed: &u64| vec![*seed as u8; 1 << 20]);
    let step = Op::new("step", |v: &Vec<u8>| {
        v.iter().map(|x| x.wrapping_add(1)).collect::<Vec<u8>>()
    });
    let join = Op::new("join", |a: &Vec<u8>, b: &Vec<u8>| {
        checksum(a) ^ checksum(b).rotate_left(1)
    });
    let mut b = JobBuilder::new();
    let (make, step, join) = (b.op(&make), b.op(&step), b.op(&join));
    let mut ends = Vec::new();
    for seed in [3u64, 200] {
        let lit = b.lit(seed);
        let mut t = b.task(make, &[lit]);
        for _ in 0..5 {
            t = b.task(step, &[Arg::dep(t)]);
        }
        ends.push(Arg::dep(t));
    }
    let out = b.task(join, &ends);
    let job = Arc::new(b.finish());
    let expected = SyncScheduler.run(&job, &[out], &NoEvents).unwrap();
    let placement = Placement::default();
    let procs = ProcessScheduler::new(2).with_fusion(false);
    let got = procs.run(&job, &[out], &placement).unwrap();
    assert_eq!(
        got[0].downcast_ref::<u64>(),
        expected[0].downcast_ref::<u64>()
    );
    // Each chain stayed on one child (its 1 MB results never moved).
    let ran = placement.0.into_inner().unwrap();
    let worker_of = |t: u32| ran.iter().find(|(task, _)| task.0 == t).map(|&(_, w)| w);
    for chain in [0u32..6, 6..12] {
        let first = worker_of(chain.start);
        assert!(
            chain.clone().all(|t| worker_of(t) == first),
            "a chain hopped between children: {ran:?}"
        );
    }
    assert_ne!(
        worker_of(0),
        worker_of(6),
        "the two chains ran on different children"
    );
}

/// A value whose drop, in whatever process, appends a line to a file.
#[derive(serde::Serialize, serde::Deserialize)]
struct Tracked {
    value: u64,
    log: String,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(&self.log) {
            let _ = writeln!(f, "{}", self.value);
        }
    }
}

#[test]
fn children_drop_what_the_state_machine_releases() {
    let log = std::env::temp_dir().join(format!("rask-procs-drops-{}", std::process::id()));
    std::fs::write(&log, "").unwrap();
    let path = log.to_string_lossy().into_owned();
    let start = Op::new("start", move || Tracked {
        value: 0,
        log: path.clone(),
    });
    let step = Op::new("step", |t: &Tracked| Tracked {
        value: t.value + 1,
        log: t.log.clone(),
    });
    let mut b = JobBuilder::new();
    let (start, step) = (b.op(&start), b.op(&step));
    let mut t = b.task(start, &[]);
    for _ in 0..20 {
        t = b.task(step, &[Arg::dep(t)]);
    }
    let job = Arc::new(b.finish());
    // One child, no fusion: all 21 results are made in that child, and the
    // 20 intermediates must be dropped there as the run goes. The output is
    // encoded and sent home; the parent drops its decoded copy below.
    let procs = ProcessScheduler::new(1).with_fusion(false);
    let out = procs.run(&job, &[t], &NoEvents).unwrap();
    assert_eq!(out[0].downcast_ref::<Tracked>().map(|t| t.value), Some(20));
    let dropped_in_children = std::fs::read_to_string(&log).unwrap();
    let mut values: Vec<u64> = dropped_in_children
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    values.sort_unstable();
    assert_eq!(
        values,
        (0..20).collect::<Vec<u64>>(),
        "each intermediate dropped once, in the child"
    );
    drop(out);
    std::fs::remove_file(&log).unwrap();
}
