//! A failing task runs again, on another worker when one can take it,
//! while its job allows; then the job fails with the task's error.

use super::harness::{failure_of, info, key, Sim, Spec};
use crate::protocol::WireError;

#[test]
fn a_retried_task_avoids_the_worker_it_failed_on() {
    let mut sim = Sim::new();
    let w1 = sim.join(info(1, &[]));
    let w2 = sim.join(info(1, &[]));
    let job = sim.submit(&Spec {
        retries: 1,
        ..Spec::roots(1)
    });
    let runs = sim.schedule().runs();
    assert_eq!(runs.len(), 1);
    let first = runs[0].0;
    sim.fail(first, key(job, 0));
    assert!(failure_of(&sim.sink, job).is_none(), "one retry is left");
    let runs = sim.schedule().runs();
    let second = if first == w1 { w2 } else { w1 };
    assert_eq!(runs, vec![(second, key(job, 0), vec![])]);
    sim.fail(second, key(job, 0));
    let error = failure_of(&sim.sent(), job);
    assert!(
        matches!(&error, Some(WireError::Task { message, .. }) if message == "boom"),
        "{error:?}"
    );
    assert!(!sim.cluster.jobs.contains_key(&job), "a failed job is gone");
}

#[test]
fn without_retries_the_first_failure_fails_the_job() {
    let mut sim = Sim::new();
    let w = sim.join(info(1, &[]));
    let job = sim.submit(&Spec::roots(2));
    let runs = sim.schedule().runs();
    sim.fail(w, runs[0].1);
    assert!(matches!(
        failure_of(&sim.sent(), job),
        Some(WireError::Task { .. })
    ));
}

#[test]
fn a_failure_reported_by_a_worker_not_running_the_task_is_ignored() {
    let mut sim = Sim::new();
    let w1 = sim.join(info(1, &[]));
    let w2 = sim.join(info(1, &[]));
    let job = sim.submit(&Spec::roots(1));
    let runs = sim.schedule().runs();
    let other = if runs[0].0 == w1 { w2 } else { w1 };
    sim.fail(other, key(job, 0));
    assert!(failure_of(&sim.sent(), job).is_none());
    assert_eq!(sim.cluster.jobs[&job].sent[0], Some(runs[0].0));
}

#[test]
fn a_lone_worker_runs_the_retry_itself() {
    let mut sim = Sim::new();
    let w = sim.join(info(1, &[]));
    let job = sim.submit(&Spec {
        retries: 2,
        ..Spec::roots(1)
    });
    for _ in 0..2 {
        assert_eq!(sim.schedule().runs(), vec![(w, key(job, 0), vec![])]);
        sim.fail(w, key(job, 0));
    }
    assert_eq!(sim.schedule().runs(), vec![(w, key(job, 0), vec![])]);
    sim.done(w, key(job, 0), 8);
    assert!(failure_of(&sim.schedule(), job).is_none());
}
