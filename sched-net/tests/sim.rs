//! The simulator checked against makespans worked out by hand: with a
//! scheduler that takes no time, every run is a sum of latencies,
//! durations and transfer times that can be written down.

use rask_sched_net::sim::{run, Model, NoProbe, Probe, SchedulerTime, Workload};

const MS: u64 = 1_000_000;

fn model(workers: u32, threads: u32) -> Model {
    Model {
        workers,
        threads,
        latency_ns: 100_000,
        bytes_per_ns: 0.5,
        scheduler_time: SchedulerTime::Free,
    }
}

#[test]
fn independent_tasks_take_their_rounds_plus_one_round_trip() {
    for (workers, threads, rounds) in [(1, 1, 3), (4, 2, 2), (3, 4, 1), (10, 1, 5)] {
        let m = model(workers, threads);
        let mut work = Workload::new("flat");
        for _ in 0..workers * threads * rounds {
            work.task(&[], MS, 64).unwrap();
        }
        let r = run(&work, &m, &mut NoProbe).unwrap();
        let expected = 2 * m.latency_ns + u64::from(rounds) * MS;
        assert_eq!(
            r.makespan_ns, expected,
            "{workers}x{threads}, {rounds} rounds"
        );
        assert_eq!(r.ideal_ns, u64::from(rounds) * MS);
        assert_eq!(r.critical_path_ns, MS);
        assert_eq!(r.decisions, r.tasks, "each task sent once");
        assert_eq!((r.fetches, r.bytes_moved), (0, 0));
    }
}

#[test]
fn a_chain_pays_a_round_trip_per_task_and_stays_on_one_worker() {
    let m = model(5, 2);
    let n = 20;
    let mut work = Workload::new("chain");
    let mut last = work.task(&[], 3 * MS, 1_000).unwrap();
    for _ in 1..n {
        last = work.task(&[last], 3 * MS, 1_000).unwrap();
    }
    let r = run(&work, &m, &mut NoProbe).unwrap();
    assert_eq!(r.makespan_ns, n * (2 * m.latency_ns + 3 * MS));
    assert_eq!(r.critical_path_ns, n * 3 * MS);
    assert_eq!(
        r.bytes_moved, 0,
        "each link of the chain runs where its input is"
    );
}

#[test]
fn workers_beat_as_often_as_the_scheduler_tells_them() {
    // 10 s of chain: at 10 workers every 500 ms, at 20 every second.
    let mut work = Workload::new("chain");
    let mut last = work.task(&[], 10 * MS, 1_000).unwrap();
    for _ in 1..1_000 {
        last = work.task(&[last], 10 * MS, 1_000).unwrap();
    }
    for (workers, per_worker) in [(10, 20), (20, 10)] {
        let r = run(&work, &model(workers, 1), &mut NoProbe).unwrap();
        let seconds = r.makespan_ns / 1_000 / MS;
        assert_eq!(seconds, 10, "{r:?}");
        let expected = u64::from(workers) * per_worker;
        assert!(
            r.heartbeats.abs_diff(expected) <= u64::from(workers),
            "{workers} workers: {} heartbeats, not about {expected}",
            r.heartbeats
        );
    }
}

#[test]
fn an_input_on_another_worker_is_fetched_over_the_link() {
    let m = model(2, 1);
    let (d, bytes) = (2 * MS, 400_000);
    let mut work = Workload::new("pair");
    let a = work.task(&[], d, bytes).unwrap();
    let b = work.task(&[], d, bytes).unwrap();
    work.task(&[a, b], d, 8).unwrap();
    let r = run(&work, &m, &mut NoProbe).unwrap();
    // Leaves on both workers; the merge on the first, which fetches the
    // second leaf: request out, transfer at 0.5 B/ns, reply back.
    let transfer = (bytes as f64 / m.bytes_per_ns) as u64;
    assert_eq!(r.makespan_ns, 6 * m.latency_ns + 2 * d + transfer);
    assert_eq!((r.fetches, r.bytes_moved), (1, bytes));
}

#[test]
fn a_free_scheduler_replays_exactly() {
    let m = model(7, 3);
    let mut work = Workload::new("tree");
    let leaves: Vec<u32> = (0..500)
        .map(|i| work.task(&[], MS + i * 1_000, 10_000).unwrap())
        .collect();
    let mut level = leaves;
    while level.len() > 1 {
        level = level
            .chunks(8)
            .map(|c| work.task(c, MS / 2, 1_000).unwrap())
            .collect();
    }
    let one = run(&work, &m, &mut NoProbe).unwrap();
    let two = run(&work, &m, &mut NoProbe).unwrap();
    let timeless = |mut r: rask_sched_net::sim::Report| {
        (r.join_ns, r.submit_ns, r.turns_ns) = (0, 0, 0);
        r
    };
    assert_eq!(timeless(one.clone()), timeless(two));
    assert!(one.makespan_ns >= one.critical_path_ns.max(one.ideal_ns));
    assert!(
        one.bytes_moved > 0,
        "500 leaves on 7 workers meet somewhere"
    );
}

/// Counts calls, to check the probe brackets scheduler code.
#[derive(Default)]
struct Depth {
    inside: i32,
    calls: u32,
    unbalanced: bool,
}

impl Probe for Depth {
    fn enter(&mut self) {
        self.inside += 1;
        self.calls += 1;
        self.unbalanced |= self.inside != 1;
    }
    fn leave(&mut self) {
        self.inside -= 1;
        self.unbalanced |= self.inside != 0;
    }
    fn held_bytes(&self) -> Option<u64> {
        Some(42)
    }
}

#[test]
fn measured_time_counts_and_the_probe_brackets_every_call() {
    let m = Model {
        scheduler_time: SchedulerTime::Measured,
        ..model(20, 4)
    };
    let mut work = Workload::new("flat");
    for _ in 0..5_000 {
        work.task(&[], MS, 8).unwrap();
    }
    let mut probe = Depth::default();
    let r = run(&work, &m, &mut probe).unwrap();
    assert!(!probe.unbalanced && probe.inside == 0);
    // One per turn and per join, and one each for the cluster and the submit.
    assert!(probe.calls as u64 > r.turns + u64::from(m.workers));
    assert!(r.turns_ns > 0 && r.submit_ns > 0 && r.join_ns > 0);
    assert!(r.makespan_ns >= r.ideal_ns + 2 * m.latency_ns);
    assert_eq!((r.held_after_join, r.held_peak), (Some(42), Some(42)));
}
