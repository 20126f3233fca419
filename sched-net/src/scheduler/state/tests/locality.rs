//! A task goes where most of its input bytes already are, and is told to
//! fetch only the inputs held elsewhere.

use super::harness::{info, key, Sim, Spec};

#[test]
fn a_task_goes_to_the_worker_holding_its_largest_input() {
    let mut sim = Sim::new();
    let w1 = sim.join(info(1, &[]));
    let w2 = sim.join(info(1, &[]));
    // Tasks 0 and 1 read nothing; 2 reads both.
    let job = sim.submit(&Spec::of(&[&[], &[], &[0, 1]]));
    let runs = sim.schedule().runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let on = |t: u32| runs.iter().find(|r| r.1.task == t).map(|r| r.0).unwrap();
    let (big, small) = (on(0), on(1));
    assert_ne!(big, small, "two idle workers share the roots");
    sim.done(big, key(job, 0), 50_000_000);
    sim.done(small, key(job, 1), 10);
    let runs = sim.schedule().runs();
    assert_eq!(runs, vec![(big, key(job, 2), vec![(key(job, 1), small)])]);
    assert!([w1, w2].contains(&big));
}

#[test]
fn the_small_input_moves_whichever_worker_made_it() {
    for big_first in [true, false] {
        let mut sim = Sim::new();
        sim.join(info(1, &[]));
        sim.join(info(1, &[]));
        let job = sim.submit(&Spec::of(&[&[], &[], &[0, 1]]));
        let runs = sim.schedule().runs();
        let on = |t: u32| runs.iter().find(|r| r.1.task == t).map(|r| r.0).unwrap();
        let (a, b) = (on(0), on(1));
        let (size_a, size_b) = if big_first {
            (1 << 20, 1)
        } else {
            (1, 1 << 20)
        };
        sim.done(a, key(job, 0), size_a);
        sim.done(b, key(job, 1), size_b);
        let runs = sim.schedule().runs();
        let (holder, fetched) = if big_first {
            (a, (key(job, 1), b))
        } else {
            (b, (key(job, 0), a))
        };
        assert_eq!(runs, vec![(holder, key(job, 2), vec![fetched])]);
    }
}

#[test]
fn with_no_inputs_the_least_loaded_worker_is_chosen() {
    let mut sim = Sim::new();
    let w1 = sim.join(info(1, &[]));
    let w2 = sim.join(info(4, &[]));
    let job = sim.submit(&Spec::roots(3));
    let runs = sim.schedule().runs();
    let on_w2 = runs.iter().filter(|r| r.0 == w2).count();
    let on_w1 = runs.iter().filter(|r| r.0 == w1).count();
    assert_eq!(on_w1 + on_w2, 3);
    assert!(
        on_w2 >= 2,
        "the worker with more threads starts sooner: {runs:?}"
    );
    assert!(runs.iter().all(|r| r.1.job == job && r.2.is_empty()));
}
