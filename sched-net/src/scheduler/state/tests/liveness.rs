//! A worker is judged alive by when its latest message arrived, on the
//! clock the caller passes in: a slow loop turn does not make it silent.

use std::time::Duration;

use super::harness::{info, Sim};

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
