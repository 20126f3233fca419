//! Worker restrictions (by id or address, strict or loose) and abstract
//! resources (a task holds its amount while on its worker).

use super::harness::{failure_of, info, key, Sim, Spec};
use crate::protocol::WireError;

#[test]
fn a_job_restricted_to_a_worker_runs_only_there() {
    for by_address in [false, true] {
        let mut sim = Sim::new();
        sim.join(info(4, &[]));
        let named = sim.join(info(1, &[]));
        let name = if by_address {
            "10.0.0.2:7000".to_owned()
        } else {
            named.to_string()
        };
        let job = sim.submit(&Spec {
            workers: vec![name],
            ..Spec::roots(4)
        });
        let runs = sim.schedule().runs();
        assert!(!runs.is_empty());
        assert!(runs.iter().all(|r| r.0 == named), "{runs:?}");
        for (w, k, _) in runs {
            sim.done(w, k, 8);
        }
        let end = sim.run_to_end(job, 20);
        assert!(matches!(end, Some(crate::protocol::ToClient::Done { .. })));
    }
}

#[test]
fn a_strict_restriction_naming_no_worker_here_fails_the_job() {
    let mut sim = Sim::new();
    sim.join(info(1, &[]));
    let job = sim.submit(&Spec {
        workers: vec!["7".into()],
        ..Spec::roots(1)
    });
    // The turn that finds no worker can run it says why.
    let error = failure_of(&sim.schedule(), job);
    assert!(
        matches!(&error, Some(WireError::Refused { message }) if message.contains("may only run on workers [7]")),
        "{error:?}"
    );
}

#[test]
fn a_loose_restriction_runs_elsewhere_when_the_named_worker_cannot() {
    let mut sim = Sim::new();
    let other = sim.join(info(1, &[]));
    let job = sim.submit(&Spec {
        workers: vec!["7".into()],
        loose: true,
        ..Spec::roots(1)
    });
    assert_eq!(sim.schedule().runs(), vec![(other, key(job, 0), vec![])]);
}

#[test]
fn a_resource_caps_how_many_tasks_a_worker_runs_at_once() {
    let mut sim = Sim::new();
    let _plain = sim.join(info(8, &[]));
    let gpu = sim.join(info(8, &[("GPU", 2.0)]));
    let job = sim.submit(&Spec {
        resources: vec![("GPU".into(), 1.0)],
        ..Spec::roots(5)
    });
    let mut finished = 0;
    for _ in 0..10 {
        let runs = sim.schedule().runs();
        assert!(runs.iter().all(|r| r.0 == gpu), "{runs:?}");
        let out = sim.cluster.workers[&gpu].in_flight;
        assert!(out <= 2, "{out} tasks hold 1 GPU each of 2");
        for (w, k, _) in runs {
            sim.done(w, k, 8);
            finished += 1;
        }
        if finished == 5 {
            break;
        }
    }
    assert_eq!(finished, 5);
    assert!(matches!(
        super::harness::end_of(&sim.schedule(), job),
        Some(crate::protocol::ToClient::Done { .. })
    ));
    assert_eq!(sim.cluster.workers[&gpu].used, vec![0.0]);
}

#[test]
fn a_resource_no_worker_offers_enough_of_fails_the_job() {
    let mut sim = Sim::new();
    sim.join(info(1, &[("GPU", 1.0)]));
    let job = sim.submit(&Spec {
        resources: vec![("GPU".into(), 2.0)],
        ..Spec::roots(1)
    });
    let error = failure_of(&sim.schedule(), job);
    assert!(
        matches!(&error, Some(WireError::Refused { message }) if message.contains("resource `GPU`") && message.contains("most: 1")),
        "{error:?}"
    );
}

#[test]
fn a_job_no_worker_has_the_op_of_fails_naming_it() {
    let mut sim = Sim::new();
    let mut offer = info(1, &[]);
    offer.ops = vec!["other".into()];
    sim.join(offer);
    let job = sim.submit(&Spec::roots(1));
    let error = failure_of(&sim.schedule(), job);
    assert!(
        matches!(&error, Some(WireError::UnknownOp { op, .. }) if op == super::harness::OP),
        "{error:?}"
    );
}
