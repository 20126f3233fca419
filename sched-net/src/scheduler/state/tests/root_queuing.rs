//! Root-task saturation: tasks that read nothing this job computes are
//! held at the scheduler until their worker has fewer than
//! `ceil(threads × (saturation + cover))` in flight, while tasks whose
//! inputs exist may fill it further, so producers never outrun consumers.

use std::collections::HashSet;

use super::harness::{info, key, Sim, Spec};
use crate::protocol::{DataKey, ToClient};
use crate::scheduler::state::Placement;

/// Tasks far longer than the round trip (no cover) and Dask's default
/// saturation: Dask's rule exactly.
fn long_tasks() -> Placement {
    let mut placement = Placement::with_mean_task_ns(1e9);
    placement.round_trip_ns = 0.0;
    placement.saturation = 1.1;
    placement
}

#[test]
fn roots_wait_until_a_worker_has_fewer_than_1_1_times_its_threads_in_flight() {
    let mut sim = Sim::with(long_tasks());
    let w = sim.join(info(2, &[]));
    let job = sim.submit(&Spec::roots(20));
    // ceil(1.1 × 2) = 3.
    let first = sim.schedule().runs();
    assert_eq!(first.len(), 3, "{first:?}");
    assert!(sim.schedule().runs().is_empty(), "saturated");
    sim.done(w, first[0].1, 8);
    let next = sim.schedule().runs();
    assert_eq!(next.len(), 1, "one out, one in: {next:?}");
    assert_eq!(sim.cluster.workers[&w].in_flight, 3);
    let _ = job;
}

#[test]
fn the_root_cap_grows_with_how_many_short_tasks_cover_a_round_trip() {
    // 10 µs tasks against a 300 µs round trip: 30 queued per thread.
    let mut placement = Placement::with_mean_task_ns(10_000.0);
    placement.saturation = 1.1;
    let mut sim = Sim::with(placement);
    sim.join(info(2, &[]));
    sim.submit(&Spec::roots(1000));
    // ceil(2 × (1.1 + 30)) = 63.
    assert_eq!(sim.schedule().runs().len(), 63);
}

#[test]
fn by_default_roots_fill_each_thread_and_its_round_trip_cover() {
    let mut sim = Sim::with(Placement::with_mean_task_ns(10_000.0));
    sim.join(info(2, &[]));
    sim.submit(&Spec::roots(1000));
    // ceil(2 × (1.0 + 30)) = 62.
    assert_eq!(sim.schedule().runs().len(), 62);
}

#[test]
fn without_saturation_roots_fill_the_whole_lookahead() {
    let mut placement = long_tasks();
    placement.saturation = placement.headroom;
    let mut sim = Sim::with(placement);
    sim.join(info(2, &[]));
    sim.submit(&Spec::roots(20));
    assert_eq!(sim.schedule().runs().len(), 4);
}

#[test]
fn consumers_are_never_held_behind_roots_and_few_root_results_wait() {
    let mut sim = Sim::with(long_tasks());
    let w = sim.join(info(2, &[]));
    // 30 roots, each read by its own consumer.
    let n = 30u32;
    let mut tasks: Vec<Vec<u32>> = vec![Vec::new(); n as usize];
    tasks.extend((0..n).map(|r| vec![r]));
    let spec = Spec {
        outputs: (n..2 * n).collect(),
        tasks,
        ..Spec::default()
    };
    let job = sim.submit(&spec);
    let mut out: Vec<DataKey> = Vec::new();
    let mut done_roots: HashSet<u32> = HashSet::new();
    let mut most_waiting = 0;
    for turn in 0..500 {
        let sent = sim.schedule();
        if let Some(end) = super::harness::end_of(&sent, job) {
            assert!(matches!(end, ToClient::Done { .. }));
            break;
        }
        assert!(turn < 499, "the job never finished");
        out.extend(sent.runs().into_iter().map(|r| r.1));
        let roots_out = out.iter().filter(|k| k.task < n).count();
        assert!(roots_out <= 3, "{roots_out} roots in flight");
        assert!(out.len() <= 4, "{} tasks in flight", out.len());
        // Every consumer whose root is done was sent in this turn.
        for r in &done_roots {
            let consumer = key(job, r + n);
            let sent_or_done = out.contains(&consumer)
                || sim.cluster.jobs[&job].holder[(r + n) as usize].is_some();
            assert!(sent_or_done, "consumer of {r} held back");
        }
        // Root results waiting for their consumer.
        let waiting = (0..n)
            .filter(|r| sim.cluster.jobs[&job].holder[*r as usize].is_some())
            .count();
        most_waiting = most_waiting.max(waiting);
        // The oldest task out finishes.
        if !out.is_empty() {
            let k = out.remove(0);
            if k.task < n {
                done_roots.insert(k.task);
            }
            sim.done(w, k, 8);
        }
    }
    assert!(
        most_waiting <= 4,
        "{most_waiting} root results waited at once"
    );
}
