//! A job prepared off the state (`Prepared::new`, as the admission thread
//! does) and installed later runs as a submitted one, and is refused when
//! the cluster changed meanwhile.

use super::harness::{end_of, failure_of, info, key, Sim, Spec, CLIENT};
use crate::protocol::{JobId, ToClient, WireError};
use crate::scheduler::state::Prepared;

#[test]
fn an_installed_job_runs_to_its_end() {
    let mut sim = Sim::new();
    sim.join(info(2, &[]));
    let spec = Spec::of(&[&[], &[], &[0, 1]]);
    let prepared = Prepared::new(spec.encode().into()).expect("a valid spec");
    assert_eq!(prepared.tasks(), 3);
    let job = JobId::new(CLIENT, 1);
    sim.cluster
        .install(CLIENT, job, Ok(prepared), &mut sim.sink);
    sim.check();
    match sim.run_to_end(job, 20) {
        Some(ToClient::Done { .. }) => {}
        other => panic!("the installed job did not finish: {other:?}"),
    }
}

#[test]
fn an_installed_job_is_refused_once_a_result_it_uses_is_gone() {
    let mut sim = Sim::new();
    sim.join(info(2, &[]));
    let earlier = sim.submit(&Spec::roots(1));
    assert!(matches!(
        sim.run_to_end(earlier, 20),
        Some(ToClient::Done { .. })
    ));
    // Prepared while the earlier result is there, installed after it left.
    let later = Spec {
        externals: vec![(0, key(earlier, 0))],
        ..Spec::of(&[&[], &[0]])
    };
    let prepared = Prepared::new(later.encode().into()).expect("a valid spec");
    sim.cluster.release(earlier, &mut sim.sink);
    sim.check();
    let job = JobId::new(CLIENT, 2);
    sim.cluster
        .install(CLIENT, job, Ok(prepared), &mut sim.sink);
    sim.check();
    match failure_of(&sim.sent(), job) {
        Some(WireError::Refused { message }) => {
            assert!(message.contains("no longer on the cluster"), "{message}");
        }
        other => panic!("not refused: {other:?}"),
    }
    assert!(!sim.cluster.jobs.contains_key(&job));
}

#[test]
fn a_spec_that_cannot_be_prepared_is_reported_to_its_client() {
    let mut sim = Sim::new();
    let job = JobId::new(CLIENT, 1);
    let prepared = Prepared::new(vec![0xff; 16].into());
    assert!(prepared.is_err());
    sim.cluster.install(CLIENT, job, prepared, &mut sim.sink);
    sim.check();
    assert!(end_of(&sim.sent(), job).is_some(), "the client is told");
    assert!(sim.cluster.jobs.is_empty());
}
