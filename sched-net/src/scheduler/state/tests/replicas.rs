//! Copies of a result on more workers: asked for with `replicate`, listed
//! by `who_has`, used by placement, surviving the holder's death, and
//! released with the original.

use super::harness::{info, key, Sim, Spec};
use crate::protocol::{Answer, AskOp, DataKey, ToWorker, WorkerId};

fn who_has(sim: &mut Sim, k: DataKey) -> Vec<WorkerId> {
    let answer = sim
        .cluster
        .ask(AskOp::WhoHas { keys: vec![k] }, &mut sim.sink);
    sim.check();
    match answer {
        Answer::Holders(mut h) => {
            let mut h = h.remove(0);
            h.sort();
            h
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_copy_is_asked_for_listed_and_survives_the_holder() {
    let mut sim = Sim::new();
    let w1 = sim.join(info(1, &[]));
    let w2 = sim.join(info(1, &[]));
    let w3 = sim.join(info(1, &[]));
    let job = sim.submit(&Spec::roots(1));
    let (holder, k, _) = sim.schedule().runs().remove(0);
    sim.done(holder, k, 8);
    sim.schedule();
    let answer = sim.cluster.ask(
        AskOp::Replicate {
            keys: vec![k],
            n: 2,
        },
        &mut sim.sink,
    );
    sim.check();
    assert_eq!(answer, Answer::Done);
    let sent = sim.sent();
    let asks: Vec<(WorkerId, ToWorker)> = sent
        .to_workers()
        .into_iter()
        .filter(|(_, m)| matches!(m, ToWorker::Replicate { .. }))
        .map(|(w, m)| (w, m.clone()))
        .collect();
    assert_eq!(asks.len(), 1, "one copy more makes two: {asks:?}");
    let (copy, msg) = asks[0].clone();
    assert_ne!(copy, holder);
    assert_eq!(
        msg,
        ToWorker::Replicate {
            key: k,
            from: holder
        }
    );
    assert_eq!(who_has(&mut sim, k), vec![holder]);
    sim.cluster.on_replicated(copy, k, &mut sim.sink);
    sim.check();
    let mut both = vec![holder, copy];
    both.sort();
    assert_eq!(who_has(&mut sim, k), both);
    // A second report of the same copy changes nothing.
    sim.cluster.on_replicated(copy, k, &mut sim.sink);
    sim.check();
    assert_eq!(who_has(&mut sim, k).len(), 2);
    sim.lose(holder);
    assert_eq!(who_has(&mut sim, k), vec![copy]);
    assert!(sim.schedule().runs().is_empty(), "nothing is recomputed");
    let _ = (w1, w2, w3, job);
}

#[test]
fn a_copy_made_after_its_result_went_is_dropped() {
    let mut sim = Sim::new();
    let w1 = sim.join(info(1, &[]));
    let w2 = sim.join(info(1, &[]));
    let job = sim.submit(&Spec::roots(1));
    let (holder, k, _) = sim.schedule().runs().remove(0);
    sim.done(holder, k, 8);
    sim.schedule();
    sim.cluster.release(job, &mut sim.sink);
    sim.check();
    sim.sent();
    let late = if holder == w1 { w2 } else { w1 };
    sim.cluster.on_replicated(late, k, &mut sim.sink);
    sim.check();
    assert_eq!(sim.sent().releases(), vec![(late, k)]);
}

#[test]
fn a_task_runs_where_a_copy_of_its_input_is_and_fetches_nothing() {
    for with_copy in [false, true] {
        let mut sim = Sim::new();
        let w1 = sim.join(info(1, &[]));
        let w2 = sim.join(info(1, &[]));
        let job = sim.submit(&Spec::of(&[&[], &[0]]));
        let (holder, k0, _) = sim.schedule().runs().remove(0);
        let other = if holder == w1 { w2 } else { w1 };
        sim.done(holder, k0, 1 << 30);
        if with_copy {
            sim.cluster.on_replicated(other, k0, &mut sim.sink);
            sim.check();
        }
        // The holder is over its memory limit: 1 goes to the other worker.
        sim.status(holder, true);
        let fetch = if with_copy {
            vec![]
        } else {
            vec![(k0, holder)]
        };
        assert_eq!(sim.schedule().runs(), vec![(other, key(job, 1), fetch)]);
    }
}

#[test]
fn releasing_a_result_releases_its_copies() {
    let mut sim = Sim::new();
    sim.join(info(1, &[]));
    sim.join(info(1, &[]));
    sim.submit(&Spec::of(&[&[], &[0]]));
    let (holder, k, _) = sim.schedule().runs().remove(0);
    sim.done(holder, k, 8);
    sim.cluster.ask(
        AskOp::Replicate {
            keys: vec![k],
            n: 0,
        },
        &mut sim.sink,
    );
    let copy = sim
        .sent()
        .to_workers()
        .into_iter()
        .find_map(|(w, m)| matches!(m, ToWorker::Replicate { .. }).then_some(w))
        .unwrap();
    sim.cluster.on_replicated(copy, k, &mut sim.sink);
    sim.check();
    let (runner, k1, _) = sim.schedule().runs().remove(0);
    sim.done(runner, k1, 8);
    let mut released = sim.sent().releases();
    released.sort();
    let mut want = vec![(holder, k), (copy, k)];
    want.sort();
    assert_eq!(released, want);
}
