//! The hub against simulated workers, in memory: each worker runs its
//! messages in order and keeps its results, as child processes and Web
//! Workers do, so what a placement rule decides and what the relay moves
//! can be checked exactly.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec;
use alloc::vec::Vec;

use crate::exec::ExecState;
use crate::graph::{Arg, Graph, OpId, TaskId};

use super::*;

/// What the hub asked for, per worker, in order.
#[derive(Debug)]
enum Msg {
    Run(TaskId),
    Get(TaskId),
    /// With the value, as a real driver writes the bytes at once.
    Put(TaskId, u64),
    Release(TaskId),
}

#[derive(Default)]
struct Sim {
    queues: Vec<VecDeque<Msg>>,
    /// Results each worker holds: task → value.
    held: Vec<BTreeMap<u32, u64>>,
    /// The value the driver has in hand or kept, by task.
    driver: BTreeMap<u32, u64>,
    puts: usize,
    ran_on: BTreeMap<u32, usize>,
}

impl Sim {
    /// `n` idle workers holding nothing.
    fn new(n: usize) -> Sim {
        Sim {
            queues: (0..n).map(|_| VecDeque::new()).collect(),
            held: vec![BTreeMap::new(); n],
            ..Sim::default()
        }
    }
}

impl HubSink for Sim {
    fn run(&mut self, worker: usize, task: TaskId, _output: bool) {
        self.queues[worker].push_back(Msg::Run(task));
    }
    fn get(&mut self, holder: usize, task: TaskId) {
        self.queues[holder].push_back(Msg::Get(task));
    }
    fn put(&mut self, worker: usize, task: TaskId) {
        self.puts += 1;
        let value = self.driver[&task.0];
        self.queues[worker].push_back(Msg::Put(task, value));
    }
    fn release(&mut self, task: TaskId, holders: Workers) {
        self.driver.remove(&task.0);
        for w in holders {
            self.queues[w].push_back(Msg::Release(task));
        }
    }
}

/// A task's value: a hash of its id and its inputs' values.
fn value_of(t: TaskId, inputs: impl Iterator<Item = u64>) -> u64 {
    inputs.fold(u64::from(t.0).wrapping_mul(0x9E37_79B9), |acc, x| {
        acc.rotate_left(7) ^ x.wrapping_mul(0x100_0000_01b3)
    })
}

/// The outputs' values computed in one sequential pass.
fn reference(g: &Graph, outputs: &[TaskId]) -> Vec<u64> {
    let mut values = vec![0u64; g.len()];
    let mut s = ExecState::new(g, outputs).unwrap();
    while let Some(t) = s.pop_ready() {
        values[t.index()] = value_of(t, g.deps(t).map(|d| values[d.index()]));
        s.complete(t, |_| {}).unwrap();
    }
    outputs.iter().map(|o| values[o.index()]).collect()
}

/// What a simulated run did.
struct Outcome {
    /// Results put to a worker that did not make them.
    puts: usize,
    /// The worker each task ran on.
    ran_on: BTreeMap<u32, usize>,
}

/// Runs `outputs` of `g` on `n` simulated workers through a hub with
/// `policy`; each task takes 1 ms. Checks that every task finds its inputs
/// on its worker, that the outputs match a sequential run, and that every
/// released result is dropped everywhere.
fn simulate<P: Placement>(g: &Graph, outputs: &[TaskId], n: usize, policy: P, keep: bool) -> Outcome {
    let exec = ExecState::new(g, outputs).unwrap();
    let mut hub = Hub::new(exec, n, policy);
    let mut sim = Sim::new(n);
    let mut got = BTreeMap::new();
    let mut turn = 0;
    for _ in 0..1_000_000 {
        hub.dispatch(&mut sim);
        if hub.exec().is_finished() && outputs.iter().all(|o| got.contains_key(&o.0)) {
            break;
        }
        // The next worker with something to do answers one message.
        let w = (0..n)
            .map(|i| (turn + i) % n)
            .find(|&w| !sim.queues[w].is_empty())
            .expect("the run stalled");
        turn = w + 1;
        match sim.queues[w].pop_front().unwrap() {
            Msg::Run(t) => {
                let inputs: Vec<u64> = g
                    .deps(t)
                    .map(|d| *sim.held[w].get(&d.0).expect("an input is missing"))
                    .collect();
                sim.held[w].insert(t.0, value_of(t, inputs.into_iter()));
                sim.ran_on.insert(t.0, w);
                hub.on_done(w, t, 1e6, &mut sim).unwrap();
                if hub.exec().plan().is_output(t) {
                    hub.want(t, &mut sim);
                }
            }
            Msg::Get(t) => {
                let v = sim.held[w][&t.0];
                sim.driver.insert(t.0, v);
                hub.on_value(t, 8, keep, &mut sim);
                if hub.exec().plan().is_output(t) {
                    got.insert(t.0, v);
                }
                if !keep {
                    sim.driver.remove(&t.0);
                }
            }
            Msg::Put(t, v) => {
                sim.held[w].insert(t.0, v);
            }
            Msg::Release(t) => {
                sim.held[w].remove(&t.0);
            }
        }
    }
    assert!(hub.exec().is_finished());
    let values: Vec<u64> = outputs.iter().map(|o| got[&o.0]).collect();
    assert_eq!(values, reference(g, outputs));
    // Only outputs are left on the workers.
    for held in &sim.held {
        assert!(held.keys().all(|t| outputs.contains(&TaskId(*t))), "{held:?}");
    }
    assert_eq!(hub.in_flight(), 0);
    Outcome {
        puts: sim.puts,
        ran_on: sim.ran_on,
    }
}

/// `n` roots summed pairwise into one result (a tree reduction).
fn tree(n: u32) -> (Graph, TaskId) {
    let mut g: Graph = Graph::new();
    let mut level: Vec<TaskId> = (0..n).map(|_| g.add_task(OpId(0), &[]).unwrap()).collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|c| {
                let args: Vec<Arg> = c.iter().map(|&t| Arg::dep(t)).collect();
                g.add_task(OpId(1), &args).unwrap()
            })
            .collect();
    }
    (g, level[0])
}

/// `n` independent chains of `len` tasks, joined at the end.
fn chains(n: u32, len: u32) -> (Graph, TaskId) {
    let mut g: Graph = Graph::new();
    let mut ends = Vec::new();
    for _ in 0..n {
        let mut t = g.add_task(OpId(0), &[]).unwrap();
        for _ in 1..len {
            t = g.add_task(OpId(1), &[Arg::dep(t)]).unwrap();
        }
        ends.push(Arg::dep(t));
    }
    let out = g.add_task(OpId(2), &ends).unwrap();
    (g, out)
}

/// The demo's blocks: `x-i → asin-i → add-i ← acos-i ← y-i`, then one
/// sum over every `add-i`.
fn families(blocks: u32) -> (Graph, TaskId) {
    let mut g: Graph = Graph::new();
    let mut adds = Vec::new();
    for _ in 0..blocks {
        let x = g.add_task(OpId(0), &[]).unwrap();
        let y = g.add_task(OpId(0), &[]).unwrap();
        let asin = g.add_task(OpId(1), &[Arg::dep(x)]).unwrap();
        let acos = g.add_task(OpId(2), &[Arg::dep(y)]).unwrap();
        adds.push(Arg::dep(g.add_task(OpId(3), &[Arg::dep(asin), Arg::dep(acos)]).unwrap()));
    }
    let out = g.add_task(OpId(4), &adds).unwrap();
    (g, out)
}

#[test]
fn both_rules_give_the_sequential_outputs_on_every_shape() {
    for (g, out) in [tree(37), chains(6, 9), families(12), tree(1)] {
        for n in [1, 2, 3, 5] {
            for keep in [false, true] {
                simulate(&g, &[out], n, EarliestStart::default(), keep);
                simulate(&g, &[out], n, Families::default(), keep);
            }
        }
    }
}

#[test]
fn a_chain_never_leaves_its_worker() {
    let (g, out) = chains(4, 20);
    for outcome in [
        simulate(&g, &[out], 4, EarliestStart::default(), false),
        simulate(&g, &[out], 4, Families::default(), false),
    ] {
        // Only the 4 chain ends travel, to the join (at most 3 of them).
        assert!(outcome.puts <= 3, "{} puts", outcome.puts);
    }
}

#[test]
fn a_family_is_placed_on_one_worker() {
    let (g, out) = families(12);
    let outcome = simulate(&g, &[out], 3, Families::default(), false);
    // Only each block's sum travels to the final join, never an input.
    assert!(outcome.puts <= 12, "{} puts", outcome.puts);
    for block in 0..12u32 {
        let first = 5 * block;
        let w = outcome.ran_on[&first];
        for t in first..first + 5 {
            assert_eq!(outcome.ran_on[&t], w, "block {block}");
        }
    }
}

#[test]
fn roots_of_a_wide_reduction_are_spread() {
    // 40 roots into one sum: no family, so every worker gets roots at once.
    let mut g: Graph = Graph::new();
    let roots: Vec<Arg> = (0..40).map(|_| Arg::dep(g.add_task(OpId(0), &[]).unwrap())).collect();
    let out = g.add_task(OpId(1), &roots).unwrap();
    let exec = ExecState::new(&g, &[out]).unwrap();
    let mut hub = Hub::new(exec, 2, Families::default());
    let mut sim = Sim::new(2);
    hub.dispatch(&mut sim);
    assert!(hub.load(0) > 0 && hub.load(1) > 0, "{hub:?}");
    let outcome = simulate(&g, &[out], 2, Families::default(), true);
    assert!(outcome.ran_on.values().any(|&w| w == 1));
}

#[test]
fn a_dependent_goes_where_its_input_is() {
    // a -> b on two workers: b follows a's result, nothing moves.
    let mut g: Graph = Graph::new();
    let a = g.add_task(OpId(0), &[]).unwrap();
    let b = g.add_task(OpId(1), &[Arg::dep(a)]).unwrap();
    let exec = ExecState::new(&g, &[b]).unwrap();
    let policy = EarliestStart {
        max_depth: 2,
        ..EarliestStart::default()
    };
    let mut hub = Hub::new(exec, 2, policy);
    let mut sim = Sim::new(2);
    hub.dispatch(&mut sim);
    let w = hub.placed(a).unwrap();
    hub.on_done(w, a, 1e6, &mut sim).unwrap();
    hub.dispatch(&mut sim);
    assert_eq!(hub.placed(b), Some(w), "b goes where a's result is");
    assert_eq!(sim.puts, 0);
}

#[test]
fn a_duplicated_completion_is_an_error_not_a_panic() {
    let (g, out) = tree(2);
    let exec = ExecState::new(&g, &[out]).unwrap();
    let mut hub = Hub::new(exec, 1, EarliestStart::default());
    let mut sim = Sim::new(1);
    hub.dispatch(&mut sim);
    hub.on_done(0, TaskId(0), 1.0, &mut sim).unwrap();
    assert!(hub.on_done(0, TaskId(0), 1.0, &mut sim).is_err());
    assert_eq!(hub.load(0), 1, "the duplicate changed nothing");
}

#[test]
fn tasks_behind_one_that_waits_for_its_worker_go_where_there_is_room() {
    // a -> b1, b2, b3 (moving a's result is dear); c -> r, after them in
    // priority. With two tasks per worker, b3 waits for a's worker, and r
    // goes to the other one meanwhile instead of waiting behind b3.
    let mut g: Graph = Graph::new();
    let a = g.add_task(OpId(0), &[]).unwrap();
    let b: Vec<TaskId> = (0..3)
        .map(|_| g.add_task(OpId(1), &[Arg::dep(a)]).unwrap())
        .collect();
    let c = g.add_task(OpId(0), &[]).unwrap();
    let r = g.add_task(OpId(2), &[Arg::dep(c)]).unwrap();
    let exec = ExecState::new(&g, &[b[0], b[1], b[2], r]).unwrap();
    let policy = EarliestStart {
        ns_per_byte: 100.0,
        max_depth: 2,
        ..EarliestStart::default()
    };
    let mut hub = Hub::new(exec, 2, policy);
    let mut sim = Sim::new(2);
    hub.dispatch(&mut sim);
    let (wa, wc) = (hub.placed(a).unwrap(), hub.placed(c).unwrap());
    assert_ne!(wa, wc);
    hub.on_done(wa, a, 1.0, &mut sim).unwrap();
    hub.dispatch(&mut sim);
    assert_eq!((hub.placed(b[0]), hub.placed(b[1])), (Some(wa), Some(wa)));
    assert_eq!(hub.placed(b[2]), None, "b3 waits for a's worker");
    hub.on_done(wc, c, 1.0, &mut sim).unwrap();
    hub.dispatch(&mut sim);
    assert_eq!(hub.placed(b[2]), None);
    assert_eq!(hub.placed(r), Some(wc), "r does not wait behind b3");
}
