//! `schedule` returns at once after a turn of heartbeats that change
//! nothing, and still dispatches whenever it must: a cluster that skips
//! clean turns sends exactly what one that never skips sends, through
//! reports, joins, losses, pauses and steals.

use super::harness::{info, Sim, Spec};
use crate::protocol::{ToClient, ToWorker, WorkerId};
use crate::scheduler::state::Placement;

#[test]
fn a_heartbeat_that_changes_nothing_leaves_schedule_clean() {
    let mut sim = Sim::new();
    let w = sim.join(info(1, &[]));
    sim.submit(&Spec::roots(10));
    let first = sim.schedule().runs();
    assert_eq!(first.len(), 2, "the cap of one thread: {first:?}");
    sim.status(w, false);
    assert!(!sim.cluster.dirty, "a heartbeat alone is no news");
    assert!(sim.schedule().to_workers().is_empty());
    // Pausing and un-pausing are news: the second dispatches again.
    sim.status(w, true);
    assert!(sim.cluster.dirty);
    sim.done(w, first[0].1, 8);
    assert!(sim.schedule().runs().is_empty(), "paused: nothing goes");
    sim.status(w, false);
    assert!(sim.cluster.dirty);
    let runs = sim.schedule().runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    // A finished task frees room.
    sim.done(w, runs[0].1, 8);
    assert_eq!(sim.schedule().runs().len(), 1);
}

#[test]
fn a_turn_of_joins_tells_each_worker_of_its_peers_once() {
    let mut sim = Sim::new();
    let old = sim.join(info(1, &[]));
    sim.schedule();
    let joined: Vec<WorkerId> = (0..3).map(|_| sim.join(info(1, &[]))).collect();
    sim.lose(joined[2]);
    let late = sim.join(info(1, &[]));
    // The joins of the turn in one update each; one that came and went
    // between two turns is not announced at all.
    let sent = sim.schedule();
    let address = |w: WorkerId| (w, format!("10.0.0.{}:7000", w.get()));
    let added = ToWorker::Peers {
        add: vec![address(joined[0]), address(joined[1]), address(late)],
        remove: vec![],
        heartbeat_ms: 500,
    };
    let expect: Vec<_> = [old, joined[0], joined[1], late]
        .into_iter()
        .map(|w| (w, added.clone()))
        .collect();
    assert_eq!(sent.to_workers(), expect);
    sim.lose(late);
    let sent = sim.schedule();
    let gone = ToWorker::Peers {
        add: vec![],
        remove: vec![late],
        heartbeat_ms: 500,
    };
    let expect: Vec<_> = [old, joined[0], joined[1]]
        .into_iter()
        .map(|w| (w, gone.clone()))
        .collect();
    assert_eq!(sent.to_workers(), expect);
}

#[test]
fn joins_before_a_turn_are_announced_together() {
    let mut sim = Sim::new();
    let a = sim.join(info(1, &[]));
    let b = sim.join(info(1, &[]));
    assert!(sim.sent().to_workers().is_empty(), "nothing until the turn");
    let sent = sim.schedule();
    let add: Vec<(WorkerId, String)> = vec![
        (a, "10.0.0.1:7000".to_owned()),
        (b, "10.0.0.2:7000".to_owned()),
    ];
    let expect = ToWorker::Peers {
        add,
        remove: vec![],
        heartbeat_ms: 500,
    };
    assert_eq!(sent.to_workers(), vec![(a, expect.clone()), (b, expect)]);
}

/// A fixed-seed source of choices.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n.max(1) as u64) as usize
    }
}

/// What one turn sent, comparable across the two clusters.
type Turn = (Vec<(WorkerId, ToWorker<'static>)>, Vec<ToClient>);

fn owned(sim: &mut Sim) -> Turn {
    let sent = sim.sent();
    let workers = sent
        .to_workers()
        .into_iter()
        .map(|(w, m)| {
            // Job specs borrow the sink's bytes: compared by presence.
            let m = match m {
                ToWorker::Job { job, .. } => ToWorker::DropJob { job },
                ToWorker::Run {
                    key,
                    priority,
                    fetch,
                } => ToWorker::Run {
                    key,
                    priority,
                    fetch,
                },
                ToWorker::Release { keys } => ToWorker::Release { keys },
                ToWorker::Steal { max } => ToWorker::Steal { max },
                ToWorker::Peers {
                    add,
                    remove,
                    heartbeat_ms,
                } => ToWorker::Peers {
                    add,
                    remove,
                    heartbeat_ms,
                },
                ToWorker::DropJob { job } => ToWorker::DropJob { job },
                ToWorker::Replicate { key, from } => ToWorker::Replicate { key, from },
                ToWorker::Shutdown => ToWorker::Shutdown,
                ToWorker::Fetch { key, fetch } => ToWorker::Fetch { key, fetch },
            };
            (w, m)
        })
        .collect();
    let clients = sent.to_clients().iter().map(|(_, m)| m.clone()).collect();
    (workers, clients)
}

#[test]
fn skipping_clean_turns_sends_exactly_what_scheduling_every_turn_sends() {
    for seed in 1..=20u64 {
        let placement = Placement::with_mean_task_ns(20_000.0);
        let (mut lazy, mut eager) = (Sim::with(placement.clone()), Sim::with(placement));
        let mut dice = Dice(seed);
        let mut workers: Vec<WorkerId> = Vec::new();
        let mut paused: Vec<bool> = Vec::new();
        // Tasks sent and not yet reported: (worker, key).
        let mut out = Vec::new();
        let mut jobs = 0;
        for step in 0..400 {
            let act = dice.below(10);
            let both = [&mut lazy, &mut eager];
            match act {
                0 if workers.len() < 6 => {
                    let threads = 1 + dice.below(3) as u32;
                    let ids: Vec<WorkerId> = both
                        .into_iter()
                        .map(|s| s.join(info(threads, &[])))
                        .collect();
                    assert_eq!(ids[0], ids[1]);
                    workers.push(ids[0]);
                    paused.push(false);
                }
                1 if jobs < 4 => {
                    // Roots, a layer reading pairs of them, and a merge.
                    let n = 4 + dice.below(12) as u32;
                    let mut tasks: Vec<Vec<u32>> = vec![Vec::new(); n as usize];
                    for i in 0..n / 2 {
                        tasks.push(vec![2 * i, 2 * i + 1]);
                    }
                    tasks.push((n..n + n / 2).collect());
                    let spec = Spec {
                        outputs: vec![tasks.len() as u32 - 1],
                        tasks,
                        ..Spec::default()
                    };
                    for s in both {
                        s.submit(&spec);
                    }
                    jobs += 1;
                }
                2 if workers.len() > 1 && dice.below(4) == 0 => {
                    let i = dice.below(workers.len());
                    let w = workers.remove(i);
                    paused.remove(i);
                    out.retain(|(on, _)| *on != w);
                    for s in both {
                        s.lose(w);
                    }
                }
                3 | 4 if !workers.is_empty() => {
                    // A heartbeat: mostly no news, sometimes a pause flips.
                    let i = dice.below(workers.len());
                    if dice.below(4) == 0 {
                        paused[i] = !paused[i];
                    }
                    for s in both {
                        s.status(workers[i], paused[i]);
                    }
                }
                5 if !out.is_empty() => {
                    // A stolen task comes back.
                    let (w, k) = out.remove(dice.below(out.len()));
                    for s in both {
                        s.cluster.on_returned(w, k);
                        s.check();
                    }
                }
                _ if !out.is_empty() => {
                    let (w, k) = out.remove(dice.below(out.len()));
                    for s in both {
                        s.done(w, k, 8);
                    }
                }
                _ => {}
            }
            let before = (owned(&mut lazy), owned(&mut eager));
            assert_eq!(
                before.0, before.1,
                "seed {seed}, step {step}: handlers differ"
            );
            eager.cluster.dirty = true;
            lazy.cluster.schedule(&mut lazy.sink);
            eager.cluster.schedule(&mut eager.sink);
            lazy.check();
            eager.check();
            let (l, e) = (owned(&mut lazy), owned(&mut eager));
            assert_eq!(l, e, "seed {seed}, step {step}: schedule differs");
            for (w, m) in &l.0 {
                if let ToWorker::Run { key, .. } = m {
                    out.push((*w, *key));
                }
            }
        }
    }
}
