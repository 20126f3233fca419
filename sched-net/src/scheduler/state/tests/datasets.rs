//! A published dataset keeps its results on the cluster after their job
//! is released, later jobs read them, and they go when the last holder
//! lets go.

use super::harness::{info, key, Sim, Spec};
use crate::protocol::{Answer, AskOp, DataKey, ToClient, ToWorker};

fn publish(sim: &mut Sim, name: &str, k: DataKey, replace: bool) -> Answer {
    let answer = sim.cluster.ask(
        AskOp::Publish {
            name: name.into(),
            keys: vec![(k, "i64".into())],
            replace,
        },
        &mut sim.sink,
    );
    sim.check();
    answer
}

fn dropped(sent: &crate::scheduler::state::recording::RecordingSink) -> bool {
    sent.to_workers()
        .iter()
        .any(|(_, m)| matches!(m, ToWorker::DropJob { .. }))
}

#[test]
fn a_dataset_keeps_results_for_later_jobs_until_unpublished() {
    let mut sim = Sim::new();
    let w = sim.join(info(1, &[]));
    let first = sim.submit(&Spec::roots(1));
    assert!(matches!(
        sim.run_to_end(first, 5),
        Some(ToClient::Done { .. })
    ));
    let k = key(first, 0);
    assert_eq!(publish(&mut sim, "x", k, false), Answer::Done);
    sim.cluster.release(first, &mut sim.sink);
    sim.check();
    assert!(!dropped(&sim.sent()), "the dataset holds it");
    // A later job reads it: it runs where the result is, fetching nothing.
    let later = sim.submit(&Spec {
        externals: vec![(0, k)],
        ..Spec::of(&[&[], &[0]])
    });
    assert_eq!(sim.schedule().runs(), vec![(w, key(later, 1), vec![])]);
    sim.done(w, key(later, 1), 8);
    assert!(matches!(
        super::harness::end_of(&sim.schedule(), later),
        Some(ToClient::Done { .. })
    ));
    let answer = sim
        .cluster
        .ask(AskOp::Unpublish { name: "x".into() }, &mut sim.sink);
    sim.check();
    assert_eq!(answer, Answer::Done);
    assert!(!dropped(&sim.sent()), "the later job still holds it");
    sim.cluster.release(later, &mut sim.sink);
    sim.check();
    let sent = sim.sent();
    let drops: Vec<_> = sent
        .to_workers()
        .into_iter()
        .filter_map(|(_, m)| match m {
            ToWorker::DropJob { job } => Some(job),
            _ => None,
        })
        .collect();
    assert_eq!(drops, vec![later, first]);
    assert!(sim.cluster.jobs.is_empty());
}

#[test]
fn names_are_listed_and_a_taken_name_needs_replace() {
    let mut sim = Sim::new();
    sim.join(info(1, &[]));
    let job = sim.submit(&Spec::roots(2));
    sim.run_to_end(job, 5);
    assert_eq!(publish(&mut sim, "a", key(job, 0), false), Answer::Done);
    assert!(matches!(
        publish(&mut sim, "a", key(job, 1), false),
        Answer::Error(_)
    ));
    assert_eq!(publish(&mut sim, "a", key(job, 1), true), Answer::Done);
    let names = sim.cluster.ask(AskOp::List, &mut sim.sink);
    assert_eq!(names, Answer::Names(vec!["a".into()]));
    let got = sim
        .cluster
        .ask(AskOp::Get { name: "a".into() }, &mut sim.sink);
    assert_eq!(got, Answer::Keys(vec![(key(job, 1), "i64".into())]));
    sim.check();
}

#[test]
fn only_results_on_the_cluster_can_be_published() {
    let mut sim = Sim::new();
    let gone = key(crate::protocol::JobId::new(1, 99), 0);
    assert!(
        matches!(publish(&mut sim, "x", gone, false), Answer::Error(m) if m.contains("not on the cluster"))
    );
    let missing = sim.cluster.ask(
        AskOp::Unpublish {
            name: "nope".into(),
        },
        &mut sim.sink,
    );
    assert!(matches!(missing, Answer::Error(_)));
    sim.check();
}

#[test]
fn a_job_reading_a_result_no_longer_held_is_refused() {
    let mut sim = Sim::new();
    sim.join(info(1, &[]));
    let first = sim.submit(&Spec::roots(1));
    sim.run_to_end(first, 5);
    sim.cluster.release(first, &mut sim.sink);
    sim.check();
    let later = sim.submit(&Spec {
        externals: vec![(0, key(first, 0))],
        ..Spec::of(&[&[], &[0]])
    });
    let error = super::harness::failure_of(&sim.sent(), later);
    assert!(
        matches!(&error, Some(crate::protocol::WireError::Refused { message }) if message.contains("no longer on the cluster")),
        "{error:?}"
    );
}
