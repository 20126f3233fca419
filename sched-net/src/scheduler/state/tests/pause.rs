//! A worker over its memory limit says so in its heartbeat, and takes no
//! new task until a heartbeat says it is below again.

use super::harness::{info, key, Sim, Spec};

#[test]
fn a_paused_worker_gets_no_new_task() {
    let mut sim = Sim::new();
    let w1 = sim.join(info(1, &[]));
    let w2 = sim.join(info(1, &[]));
    sim.status(w1, true);
    let job = sim.submit(&Spec::roots(4));
    let runs = sim.schedule().runs();
    assert!(!runs.is_empty());
    assert!(runs.iter().all(|r| r.0 == w2), "{runs:?}");
    sim.status(w2, true);
    for (w, k, _) in runs {
        sim.done(w, k, 8);
    }
    assert!(sim.schedule().runs().is_empty(), "both paused: tasks wait");
    sim.status(w1, false);
    let runs = sim.schedule().runs();
    assert!(!runs.is_empty());
    assert!(runs.iter().all(|r| r.0 == w1), "{runs:?}");
    let _ = key(job, 0);
}

#[test]
fn a_paused_worker_finishes_what_it_has() {
    let mut sim = Sim::new();
    let w = sim.join(info(1, &[]));
    let job = sim.submit(&Spec::roots(1));
    assert_eq!(sim.schedule().runs(), vec![(w, key(job, 0), vec![])]);
    sim.status(w, true);
    sim.done(w, key(job, 0), 8);
    assert!(matches!(
        super::harness::end_of(&sim.schedule(), job),
        Some(crate::protocol::ToClient::Done { .. })
    ));
}

#[test]
fn a_paused_worker_is_not_stolen_for() {
    let mut sim = Sim::with(crate::scheduler::state::Placement::with_mean_task_ns(
        10_000.0,
    ));
    let busy = sim.join(info(1, &[]));
    let _job = sim.submit(&Spec::roots(6));
    assert_eq!(sim.schedule().runs().len(), 6);
    let idle = sim.join(info(1, &[]));
    sim.status(idle, true);
    let steals = sim
        .schedule()
        .to_workers()
        .into_iter()
        .filter(|(_, m)| matches!(m, crate::protocol::ToWorker::Steal { .. }))
        .count();
    assert_eq!(steals, 0, "the only idle worker is paused");
    let _ = busy;
}
