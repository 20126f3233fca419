//! A worker lost mid-run: what it ran goes back to the queue, and the
//! results only it held are recomputed from lineage.

use super::harness::{end_of, info, key, Sim, Spec};
use crate::protocol::ToClient;

#[test]
fn results_lost_with_a_worker_are_recomputed_from_lineage() {
    let mut sim = Sim::new();
    let first = sim.join(info(1, &[]));
    // A chain 0 → 1 → 2.
    let job = sim.submit(&Spec::of(&[&[], &[0], &[1]]));
    assert_eq!(sim.schedule().runs(), vec![(first, key(job, 0), vec![])]);
    sim.done(first, key(job, 0), 8);
    assert_eq!(sim.schedule().runs(), vec![(first, key(job, 1), vec![])]);
    sim.done(first, key(job, 1), 8);
    // Task 0's result went once 1 had read it.
    assert_eq!(sim.sent().releases(), vec![(first, key(job, 0))]);
    let second = sim.join(info(1, &[]));
    sim.lose(first);
    // 1's result is gone, and 0's with it: both run again, in order.
    assert_eq!(sim.schedule().runs(), vec![(second, key(job, 0), vec![])]);
    sim.done(second, key(job, 0), 8);
    assert_eq!(sim.schedule().runs(), vec![(second, key(job, 1), vec![])]);
    sim.done(second, key(job, 1), 8);
    assert_eq!(sim.schedule().runs(), vec![(second, key(job, 2), vec![])]);
    sim.done(second, key(job, 2), 8);
    let end = end_of(&sim.schedule(), job);
    assert_eq!(
        end,
        Some(ToClient::Done {
            job,
            outputs: vec![(2, second)]
        })
    );
}

#[test]
fn a_task_running_on_a_lost_worker_runs_elsewhere() {
    let mut sim = Sim::new();
    let w1 = sim.join(info(1, &[]));
    let job = sim.submit(&Spec::roots(1));
    assert_eq!(sim.schedule().runs(), vec![(w1, key(job, 0), vec![])]);
    let w2 = sim.join(info(1, &[]));
    sim.lose(w1);
    assert_eq!(sim.schedule().runs(), vec![(w2, key(job, 0), vec![])]);
    // A late report from the lost worker is ignored.
    sim.done(w1, key(job, 0), 8);
    assert!(end_of(&sim.schedule(), job).is_none());
    sim.done(w2, key(job, 0), 8);
    assert!(matches!(
        end_of(&sim.schedule(), job),
        Some(ToClient::Done { .. })
    ));
}

#[test]
fn a_finished_job_whose_output_is_lost_finishes_again() {
    let mut sim = Sim::new();
    let w1 = sim.join(info(1, &[]));
    let w2 = sim.join(info(1, &[]));
    let job = sim.submit(&Spec::of(&[&[], &[0]]));
    assert!(matches!(
        sim.run_to_end(job, 10),
        Some(ToClient::Done { .. })
    ));
    let holder = sim.cluster.jobs[&job].holder[1].unwrap();
    let other = if holder == w1 { w2 } else { w1 };
    sim.lose(holder);
    let end = sim.run_to_end(job, 10);
    assert_eq!(
        end,
        Some(ToClient::Done {
            job,
            outputs: vec![(1, other)]
        })
    );
}

#[test]
fn a_missing_input_whose_holder_lost_it_is_recomputed() {
    let mut sim = Sim::new();
    let w1 = sim.join(info(1, &[]));
    let w2 = sim.join(info(1, &[]));
    let job = sim.submit(&Spec::of(&[&[], &[], &[0, 1]]));
    let runs = sim.schedule().runs();
    let on = |t: u32| runs.iter().find(|r| r.1.task == t).map(|r| r.0).unwrap();
    let (a, b) = (on(0), on(1));
    sim.done(a, key(job, 0), 1 << 20);
    sim.done(b, key(job, 1), 1);
    let runs = sim.schedule().runs();
    assert_eq!(runs.len(), 1);
    let (runner, _, fetch) = &runs[0];
    assert_eq!(fetch, &vec![(key(job, 1), b)]);
    // The fetch fails: `b` no longer has it (a spill lost, say).
    sim.cluster
        .on_missing(*runner, key(job, 2), key(job, 1), &mut sim.sink);
    sim.check();
    let runs = sim.schedule().runs();
    assert_eq!(
        runs.iter().map(|r| r.1).collect::<Vec<_>>(),
        vec![key(job, 1)]
    );
    let _ = (w1, w2);
}
