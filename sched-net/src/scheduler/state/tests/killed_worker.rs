//! A task whose runs kill worker after worker fails its job with
//! `KilledWorker` once three have died running it, as Dask's
//! `allowed-failures`.

use super::harness::{failure_of, info, key, Sim, Spec};
use crate::protocol::WireError;

#[test]
fn a_task_that_kills_three_workers_fails_its_job() {
    let mut sim = Sim::new();
    let job = sim.submit(&Spec::roots(1));
    for death in 1..=3u8 {
        let w = sim.join(info(1, &[]));
        assert_eq!(sim.schedule().runs(), vec![(w, key(job, 0), vec![])]);
        sim.lose(w);
        let error = failure_of(&sim.sent(), job);
        if death < 3 {
            assert_eq!(error, None, "death {death}");
            assert_eq!(sim.cluster.jobs[&job].deaths[0], death);
        } else {
            assert!(
                matches!(&error, Some(WireError::KilledWorker { workers: 3, .. })),
                "{error:?}"
            );
        }
    }
    assert!(!sim.cluster.jobs.contains_key(&job));
}

#[test]
fn deaths_of_workers_not_running_the_task_do_not_count() {
    let mut sim = Sim::new();
    let keep = sim.join(info(1, &[]));
    let job = sim.submit(&Spec::roots(1));
    assert_eq!(sim.schedule().runs(), vec![(keep, key(job, 0), vec![])]);
    for _ in 0..3 {
        let w = sim.join(info(1, &[]));
        sim.lose(w);
    }
    assert_eq!(failure_of(&sim.sent(), job), None);
    assert_eq!(sim.cluster.jobs[&job].deaths[0], 0);
}
