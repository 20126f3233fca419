//! When a worker idles and nothing waits at the scheduler, the busiest
//! worker is asked to give queued tasks back, once at a time; what it
//! returns goes to the idle worker.

use super::harness::{info, Sim, Spec};
use crate::protocol::ToWorker;
use crate::scheduler::state::Placement;

#[test]
fn a_busy_worker_gives_tasks_back_for_an_idle_one() {
    // Short tasks: a worker takes many at once.
    let mut sim = Sim::with(Placement::with_mean_task_ns(10_000.0));
    let busy = sim.join(info(1, &[]));
    let job = sim.submit(&Spec::roots(6));
    assert_eq!(sim.schedule().runs().len(), 6);
    let idle = sim.join(info(1, &[]));
    let sent = sim.schedule();
    let steals: Vec<_> = sent
        .to_workers()
        .into_iter()
        .filter(|(_, m)| matches!(m, ToWorker::Steal { .. }))
        .collect();
    // Six queued on one thread: half of those beyond the thread.
    assert_eq!(steals, vec![(busy, ToWorker::Steal { max: 2 })]);
    // One request at a time.
    assert!(sim.schedule().to_workers().is_empty());
    for t in [4, 5] {
        sim.cluster.on_returned(busy, super::harness::key(job, t));
        sim.check();
    }
    let runs = sim.schedule().runs();
    let moved: Vec<u32> = runs
        .iter()
        .filter(|r| r.0 == idle)
        .map(|r| r.1.task)
        .collect();
    assert_eq!(moved.len(), 2, "{runs:?}");
    assert!(moved.contains(&4) && moved.contains(&5));
}

#[test]
fn nothing_is_stolen_while_tasks_wait_at_the_scheduler() {
    let mut sim = Sim::new();
    let w = sim.join(info(1, &[]));
    let _job = sim.submit(&Spec::roots(50));
    let sent = sim.schedule();
    assert!(sent.runs().iter().all(|r| r.0 == w));
    sim.join(info(1, &[]));
    let sent = sim.schedule();
    assert!(!sent
        .to_workers()
        .iter()
        .any(|(_, m)| matches!(m, ToWorker::Steal { .. })));
    assert!(
        !sent.runs().is_empty(),
        "the new worker gets waiting tasks instead"
    );
}

#[test]
fn a_returned_task_that_was_not_sent_there_changes_nothing() {
    let mut sim = Sim::new();
    let w1 = sim.join(info(1, &[]));
    let w2 = sim.join(info(1, &[]));
    let job = sim.submit(&Spec::roots(1));
    let runs = sim.schedule().runs();
    let other = if runs[0].0 == w1 { w2 } else { w1 };
    sim.cluster.on_returned(other, runs[0].1);
    sim.check();
    assert!(sim.schedule().runs().is_empty());
    let _ = job;
}
