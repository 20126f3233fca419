//! A task with more inputs than one turn handles is tallied and sent over
//! several `schedule` calls: no call weighs or writes more than
//! `WIDE_PER_TURN` of its inputs, it still goes where most of its input
//! bytes are, and the parts of its fetch list add up to every input held
//! elsewhere.

use std::collections::HashSet;

use super::harness::{info, key, Sim, Spec};
use crate::protocol::{DataKey, JobId, ToWorker, WorkerId};
use crate::scheduler::state::recording::RecordingSink;
use crate::scheduler::state::wide::{WIDE_ARGS, WIDE_PER_TURN};

/// `roots` tasks reading nothing and a gather of them all.
fn gather(sim: &mut Sim, roots: u32) -> JobId {
    let mut tasks = vec![Vec::new(); roots as usize];
    tasks.push((0..roots).collect());
    sim.submit(&Spec {
        tasks,
        outputs: vec![roots],
        ..Spec::default()
    })
}

/// Runs every root, reporting `bytes(worker)` for each; returns where each
/// ran.
fn run_roots(sim: &mut Sim, roots: u32, bytes: impl Fn(WorkerId) -> u64) -> Vec<WorkerId> {
    let mut ran = vec![None; roots as usize];
    for _ in 0..roots {
        for (w, k, _) in sim.schedule().runs() {
            assert!(k.task < roots, "the gather waits for its inputs");
            ran[k.task as usize] = Some(w);
            sim.done(w, k, bytes(w));
        }
        if ran.iter().all(Option::is_some) {
            break;
        }
    }
    ran.into_iter()
        .map(|w| w.expect("every root ran"))
        .collect()
}

/// One part of a fetch list: the worker it went to, and what it names.
type Part = (WorkerId, Vec<(DataKey, WorkerId)>);

/// The parts of task `task`'s fetch list sent in `sent`, and whether its
/// `Run` (the last part) is among them.
fn parts(sent: &RecordingSink, task: DataKey) -> (Vec<Part>, bool) {
    let mut parts = Vec::new();
    let mut run = false;
    for (w, m) in sent.to_workers() {
        match m {
            ToWorker::Fetch { key, fetch } if key == task => parts.push((w, fetch)),
            ToWorker::Run { key, fetch, .. } if key == task => {
                parts.push((w, fetch));
                run = true;
            }
            _ => {}
        }
    }
    (parts, run)
}

#[test]
fn a_wide_gather_is_weighed_and_sent_in_parts_where_its_bytes_are() {
    let mut sim = Sim::new();
    let a = sim.join(info(2, &[]));
    let b = sim.join(info(2, &[]));
    let roots = (WIDE_ARGS * 3) as u32;
    let job = gather(&mut sim, roots);
    // b's results are ten times bigger: the gather belongs there.
    let ran = run_roots(&mut sim, roots, |w| if w == b { 1000 } else { 100 });
    assert!(ran.contains(&a) && ran.contains(&b), "both ran roots");

    let task = key(job, roots);
    let mut fetched = Vec::new();
    let mut to = HashSet::new();
    let mut turns = 0;
    let mut sent = false;
    while !sent && turns < 100 {
        let (batch, run) = parts(&sim.schedule(), task);
        assert!(batch.len() <= 1, "one part per turn");
        for (w, fetch) in batch {
            assert!(fetch.len() <= WIDE_PER_TURN, "{} in one part", fetch.len());
            to.insert(w);
            fetched.extend(fetch);
        }
        sent = run;
        turns += 1;
    }
    assert!(sent, "the gather's Run went out");
    assert_eq!(
        to,
        HashSet::from([b]),
        "every part went where most bytes are"
    );
    let chunks = roots as usize / WIDE_PER_TURN;
    assert!(turns > 2 * chunks, "tallied then sent over {turns} turns");
    let want: HashSet<_> = (0..roots)
        .filter(|&t| ran[t as usize] == a)
        .map(|t| (key(job, t), a))
        .collect();
    let got: HashSet<_> = fetched.iter().copied().collect();
    assert_eq!(got.len(), fetched.len(), "each input named once");
    assert_eq!(got, want, "the parts name every input held on a, from a");

    // It runs as any other task.
    sim.done(b, task, 8);
    assert!(sim.run_to_end(job, 10).is_some(), "the job finished");
}

#[test]
fn a_send_cut_short_by_its_worker_leaving_starts_over_elsewhere() {
    let mut sim = Sim::new();
    let a = sim.join(info(2, &[]));
    let b = sim.join(info(2, &[]));
    let roots = (WIDE_ARGS * 3) as u32;
    let job = gather(&mut sim, roots);
    run_roots(&mut sim, roots, |w| if w == b { 1000 } else { 100 });
    let task = key(job, roots);
    // Tally, then the first part to b.
    let mut turns = 0;
    loop {
        let (batch, run) = parts(&sim.schedule(), task);
        assert!(!run, "cut short before its Run");
        if !batch.is_empty() {
            break;
        }
        turns += 1;
        assert!(turns < 100, "the gather's send began");
    }

    // b leaves with its results: they are recomputed on a, and the gather
    // is then sent to a, whole, with nothing more to b.
    sim.lose(b);
    let mut sent = false;
    for _ in 0..20 * roots {
        let out = sim.schedule();
        for (w, k, _) in out.runs() {
            if k.task < roots {
                sim.done(w, k, 100);
            }
        }
        let (batch, run) = parts(&out, task);
        for (w, fetch) in batch {
            assert_eq!(w, a, "nothing more goes to b");
            assert!(fetch.is_empty(), "a holds every input now");
        }
        if run {
            sent = true;
            break;
        }
    }
    assert!(sent, "the gather was sent again, to a");
    sim.done(a, task, 8);
    assert!(sim.run_to_end(job, 10).is_some(), "the job finished");
}
