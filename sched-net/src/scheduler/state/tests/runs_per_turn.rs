//! One `schedule` call sends at most `RUNS_PER_TURN` tasks and says it
//! left work over; the first turns give every worker a task before any
//! gets many.

use std::collections::HashMap;

use super::harness::{info, Sim, Spec};
use crate::scheduler::state::dispatch::RUNS_PER_TURN;

#[test]
fn a_turn_sends_a_bounded_number_of_tasks_least_loaded_first() {
    let mut sim = Sim::new();
    let workers: Vec<_> = (0..4).map(|_| sim.join(info(100, &[]))).collect();
    let budget = RUNS_PER_TURN as usize;
    let roots = 3 * budget + 10;
    sim.submit(&Spec {
        tasks: vec![Vec::new(); roots],
        outputs: (0..roots as u32).collect(),
        ..Spec::default()
    });

    let first = sim.schedule().runs();
    assert_eq!(first.len(), budget, "one turn's worth");
    assert!(sim.cluster.held_over(), "the rest is held over");
    let mut per_worker: HashMap<_, usize> = HashMap::new();
    for (w, _, _) in &first {
        *per_worker.entry(*w).or_default() += 1;
    }
    for w in &workers {
        assert_eq!(per_worker.get(w), Some(&(budget / 4)), "spread evenly");
    }

    // Nothing happens meanwhile: the held-over turns go on by themselves.
    let mut sent = first.len();
    let mut turns = 1;
    while sim.cluster.held_over() && turns < 10 {
        let runs = sim.schedule().runs();
        assert!(runs.len() <= budget, "{} in one turn", runs.len());
        sent += runs.len();
        turns += 1;
    }
    assert_eq!(sent, roots, "every root went out");
    assert_eq!(turns, 4);
}
