//! A worker is judged alive by when its latest message arrived, on the
//! clock the caller passes in: a slow loop turn does not make it silent.

use std::time::Duration;

use super::harness::{info, Sim};
use crate::protocol::{ToWorker, WorkerId};

#[test]
fn a_worker_is_silent_only_a_timeout_after_its_latest_message() {
    let mut sim = Sim::new();
    let w = sim.join(info(1, &[]));
    sim.wait(Duration::from_secs(9));
    assert!(sim.cluster.silent_workers(sim.now).is_empty());
    sim.cluster.seen(w, sim.now);
    sim.wait(Duration::from_secs(9));
    assert!(
        sim.cluster.silent_workers(sim.now).is_empty(),
        "seen 9 s ago"
    );
    sim.status(w, false);
    sim.wait(Duration::from_secs(11));
    assert_eq!(sim.cluster.silent_workers(sim.now), vec![w]);
}

#[test]
fn a_message_stamped_earlier_than_the_latest_does_not_age_the_worker() {
    let mut sim = Sim::new();
    let w = sim.join(info(1, &[]));
    sim.wait(Duration::from_secs(8));
    sim.cluster.seen(w, sim.now);
    // A frame read late but stamped when it arrived, before the last one.
    sim.cluster.seen(w, sim.now - Duration::from_secs(5));
    sim.check();
    sim.wait(Duration::from_secs(9));
    assert!(sim.cluster.silent_workers(sim.now).is_empty());
}

/// The heartbeat interval in each worker's latest `Peers` of a turn.
fn intervals_told(sim: &mut Sim) -> Vec<(WorkerId, u32)> {
    let sent = sim.schedule();
    sent.to_workers()
        .into_iter()
        .filter_map(|(w, m)| match m {
            ToWorker::Peers { heartbeat_ms, .. } => Some((w, heartbeat_ms)),
            _ => None,
        })
        .collect()
}

#[test]
fn workers_are_told_a_longer_interval_as_the_cluster_grows() {
    let mut sim = Sim::new();
    let first: Vec<WorkerId> = (0..10).map(|_| sim.join(info(1, &[]))).collect();
    let told = intervals_told(&mut sim);
    assert_eq!(told.len(), 10);
    assert!(told.iter().all(|(_, ms)| *ms == 500), "{told:?}");
    let more: Vec<WorkerId> = (0..40).map(|_| sim.join(info(1, &[]))).collect();
    let told = intervals_told(&mut sim);
    assert_eq!(told.len(), 50, "every worker hears, old and new");
    assert!(told.iter().all(|(_, ms)| *ms == 2_000), "50 workers: 2 s");
    assert_eq!(sim.cluster.heartbeat_ms(), 2_000);
    for w in more.iter().chain(&first[1..]) {
        sim.lose(*w);
    }
    assert_eq!(intervals_told(&mut sim), vec![(first[0], 500)]);
    sim.check();
}

#[test]
fn a_big_cluster_gives_its_workers_as_many_heartbeats_before_they_count_as_gone() {
    let mut sim = Sim::new();
    let workers: Vec<WorkerId> = (0..200).map(|_| sim.join(info(1, &[]))).collect();
    // 200 workers beat every 2 s: 20 heartbeats are 40 s.
    sim.wait(Duration::from_secs(39));
    assert!(sim.cluster.silent_workers(sim.now).is_empty());
    sim.status(workers[0], false);
    sim.wait(Duration::from_secs(2));
    let silent = sim.cluster.silent_workers(sim.now);
    assert_eq!(silent.len(), 199);
    assert!(!silent.contains(&workers[0]));
}

#[test]
fn a_shrunk_cluster_waits_out_the_longer_interval_its_workers_may_still_use() {
    let mut sim = Sim::new();
    let workers: Vec<WorkerId> = (0..200).map(|_| sim.join(info(1, &[]))).collect();
    sim.wait(Duration::from_secs(30));
    for w in &workers[1..] {
        sim.status(*w, false);
    }
    // Down to one worker: 500 ms, 10 s; but it may not have heard yet,
    // and beats every 2 s until it does, so 40 s still hold for now.
    for w in &workers[1..] {
        sim.lose(*w);
    }
    assert_eq!(sim.cluster.heartbeat_ms(), 500);
    assert!(
        sim.cluster.silent_workers(sim.now).is_empty(),
        "silent 30 s"
    );
    sim.wait(Duration::from_secs(11));
    assert_eq!(sim.cluster.silent_workers(sim.now), vec![workers[0]]);
}
