//! A task with more inputs than one turn releases or walks: its inputs go
//! over several `schedule` calls, each result once, and the job's `Done`
//! is not held behind them.

use std::collections::HashSet;

use super::harness::{end_of, info, key, Sim, Spec};
use crate::protocol::{DataKey, JobId, WorkerId};
use crate::scheduler::state::holds::{RELEASE_PER_TURN, WALK_PER_TURN};

/// A cluster of two workers of four threads.
fn two_workers() -> (Sim, [WorkerId; 2]) {
    let mut sim = Sim::new();
    let a = sim.join(info(4, &[]));
    let b = sim.join(info(4, &[]));
    (sim, [a, b])
}

/// Submits `roots` roots gathered by one task and runs every root: the
/// job, and the worker and key the gather was sent as, not yet done.
fn gather_of(sim: &mut Sim, roots: u32) -> (JobId, WorkerId, DataKey) {
    let mut tasks = vec![Vec::new(); roots as usize];
    tasks.push((0..roots).collect());
    let job = sim.submit(&Spec {
        tasks,
        outputs: vec![roots],
        ..Spec::default()
    });
    // The gather is sent once every root is held.
    for _ in 0..10 * roots {
        for (w, k, _) in sim.schedule().runs() {
            if k.task == roots {
                return (job, w, k);
            }
            sim.done(w, k, 8);
        }
    }
    panic!("the gather was never sent");
}

#[test]
fn the_inputs_of_a_wide_gather_are_released_over_several_turns() {
    let (mut sim, [_, _]) = two_workers();
    let roots = (WALK_PER_TURN * 5 / 2) as u32;
    let (job, w, k) = gather_of(&mut sim, roots);
    assert!(
        sim.sent().releases().is_empty(),
        "its inputs are still needed"
    );

    sim.done(w, k, 8);
    let mut released = HashSet::new();
    let first = sim.sent().releases();
    assert_eq!(first.len(), RELEASE_PER_TURN, "one turn's worth at once");
    released.extend(first);
    assert!(sim.cluster.releasing());
    let j = &sim.cluster.jobs[&job];
    assert!(
        j.exec.state.releasing(),
        "the walk of its inputs was bounded"
    );
    let mut turns = 0;
    let mut done = false;
    while sim.cluster.releasing() && turns < 10 {
        let sent = sim.schedule();
        done |= end_of(&sent, job).is_some();
        let batch = sent.releases();
        assert!(
            batch.len() <= RELEASE_PER_TURN,
            "{} in one turn",
            batch.len()
        );
        for r in batch {
            assert!(released.insert(r), "{r:?} released twice");
        }
        turns += 1;
    }
    let rest = (roots as usize).div_ceil(RELEASE_PER_TURN) - 1;
    assert_eq!(turns, rest, "the rest went over the next turns");
    assert!(!sim.cluster.jobs[&job].exec.state.releasing());
    assert!(done, "the job's Done went out meanwhile");
    let keys: HashSet<_> = released.iter().map(|(_, k)| *k).collect();
    assert_eq!(keys, (0..roots).map(|t| key(job, t)).collect());
    let j = &sim.cluster.jobs[&job];
    assert!((0..roots as usize).all(|t| j.holder[t].is_none()));
    assert!(j.holder[roots as usize].is_some(), "the output stays");
}

#[test]
fn a_re_plan_while_inputs_are_still_walked_releases_them_all() {
    let (mut sim, [a, b]) = two_workers();
    let roots = (WALK_PER_TURN * 5 / 2) as u32;
    let (job, w, k) = gather_of(&mut sim, roots);
    sim.done(w, k, 8);
    assert!(
        sim.cluster.jobs[&job].exec.state.releasing(),
        "the walk is part way"
    );

    // The other worker dies: its roots are lost and the job is re-planned
    // while the gather's inputs are still being counted down.
    sim.lose(if w == a { b } else { a });
    let mut turns = 0;
    while sim.cluster.releasing() && turns < 20 {
        sim.schedule();
        turns += 1;
    }
    let j = &sim.cluster.jobs[&job];
    let kept: Vec<usize> = (0..roots as usize)
        .filter(|&t| j.holder[t].is_some())
        .collect();
    assert!(
        kept.is_empty(),
        "inputs still held after the re-plan: {kept:?}"
    );
    assert!(j.holder[roots as usize].is_some(), "the output stays");
}
