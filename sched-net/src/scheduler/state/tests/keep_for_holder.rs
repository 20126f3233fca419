//! A task whose input is large is kept for the worker holding it, past
//! that worker's in-flight cap, while waiting in its queue is quicker than
//! moving the input; a small input moves to a worker with room, and with
//! no worker with room the task waits here as before.

use super::harness::{info, key, Sim, Spec};
use crate::protocol::WorkerId;

/// One root read by `readers` tasks, the root done on the first worker
/// with a result of `bytes`; returns the workers and where the readers went.
fn readers_of(bytes: u64, readers: u32, pause_second: bool) -> (WorkerId, Vec<WorkerId>) {
    let mut sim = Sim::new();
    let a = sim.join(info(1, &[]));
    let b = sim.join(info(1, &[]));
    let mut tasks = vec![Vec::new()];
    tasks.extend((0..readers).map(|_| vec![0]));
    let job = sim.submit(&Spec {
        outputs: (1..=readers).collect(),
        tasks,
        ..Spec::default()
    });
    let root = sim.schedule().runs();
    assert_eq!(root.iter().map(|r| r.0).collect::<Vec<_>>(), [a]);
    sim.done(a, key(job, 0), bytes);
    if pause_second {
        sim.status(b, true);
    }
    let runs = sim.schedule().runs();
    (a, runs.into_iter().map(|r| r.0).collect())
}

#[test]
fn a_large_input_keeps_its_readers_on_its_holder_past_the_cap() {
    // 1 ms tasks on one thread: a cap of 3 tasks, a queue of 3 ms; the
    // input would take 100 ms to move.
    let (a, went) = readers_of(100_000_000, 6, false);
    assert_eq!(went, vec![a; 6], "every reader stays with the input");
}

#[test]
fn a_small_input_moves_to_a_worker_with_room() {
    let (a, went) = readers_of(10, 6, false);
    let moved = went.iter().filter(|w| **w != a).count();
    assert_eq!((went.len(), moved), (6, 3), "each to its cap: {went:?}");
}

#[test]
fn with_no_worker_with_room_a_reader_waits() {
    let (a, went) = readers_of(100_000_000, 6, true);
    assert_eq!(went, vec![a; 3], "the holder to its cap, then nothing");
}
