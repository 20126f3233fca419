//! The walk over workers by load stops at the first worker at its cap
//! (every later one is at its cap too), and never at a worker skipped for
//! another reason: a worker with room is found behind paused ones, and
//! each worker of a mixed cluster fills to exactly its own cap.

use std::collections::BTreeMap;

use super::harness::{info, Sim, Spec};

// `Sim::new` assumes 1 ms tasks against a 0.3 ms round trip, so a root
// cap of ceil(threads × 1.3).

#[test]
fn workers_of_different_sizes_each_fill_to_their_own_cap() {
    let mut sim = Sim::new();
    let sizes = [1u32, 2, 4, 8];
    let ids: Vec<_> = sizes.iter().map(|&t| sim.join(info(t, &[]))).collect();
    sim.submit(&Spec::roots(100));
    let mut per_worker = BTreeMap::new();
    for (w, _, _) in sim.schedule().runs() {
        *per_worker.entry(w).or_insert(0u32) += 1;
    }
    let caps: Vec<u32> = ids.iter().map(|w| per_worker[w]).collect();
    assert_eq!(caps, vec![2, 3, 6, 11], "{per_worker:?}");
    assert!(
        sim.schedule().runs().is_empty(),
        "every worker is at its cap"
    );
}

#[test]
fn a_worker_with_room_is_found_behind_idle_paused_ones() {
    let mut sim = Sim::new();
    let paused: Vec<_> = (0..5).map(|_| sim.join(info(1, &[]))).collect();
    for &p in &paused {
        sim.status(p, true);
    }
    let open = sim.join(info(4, &[]));
    sim.submit(&Spec::roots(20));
    let runs = sim.schedule().runs();
    assert_eq!(runs.len(), 6, "{runs:?}");
    assert!(runs.iter().all(|r| r.0 == open), "{runs:?}");
}

#[test]
fn a_worker_that_drains_is_found_again_after_a_full_turn() {
    let mut sim = Sim::new();
    let a = sim.join(info(1, &[]));
    let b = sim.join(info(1, &[]));
    sim.submit(&Spec::roots(10));
    let first = sim.schedule().runs();
    assert_eq!(first.len(), 4, "{first:?}");
    assert!(sim.schedule().runs().is_empty());
    let on_b = first.iter().find(|r| r.0 == b).map(|r| r.1);
    sim.done(b, on_b.expect("b got a task"), 8);
    let next = sim.schedule().runs();
    assert_eq!(next.len(), 1, "{next:?}");
    assert_eq!(next[0].0, b);
    let _ = a;
}
