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

/// The best worker by the policy's score, found by scoring every one.
fn best_of_all(
    sim: &Sim,
    job: crate::protocol::JobId,
    t: u32,
) -> Option<crate::protocol::WorkerId> {
    let c = &sim.cluster;
    let j = &c.jobs[&job];
    let task = rask_core::TaskId(t);
    let root = j.is_root(task);
    let mean = 1_000_000.0; // Sim::new's tasks, all reported at that length
    let mut best: Option<(f64, crate::protocol::WorkerId)> = None;
    let mut any_room = false;
    for (w, worker) in c.workers.iter() {
        let (mut lacking, mut total) = (0u64, 0u64);
        for d in j.exec.graph.deps(task) {
            total += j.bytes[d.index()];
            if !j.held_on(d.index(), *w) {
                lacking += j.bytes[d.index()];
            }
        }
        // A worker at its cap holding input bytes competes too, beside a
        // worker with room.
        let room = c.placement.has_room(worker, j, root);
        if !(room || lacking < total && c.placement.may_queue(worker, j)) {
            continue;
        }
        any_room |= room;
        let score =
            f64::from(worker.in_flight) * mean / f64::from(worker.info.nthreads) + lacking as f64;
        if best.is_none_or(|(s, _)| score < s) {
            best = Some((score, *w));
        }
    }
    best.filter(|_| any_room).map(|(_, w)| w)
}

#[test]
fn scoring_holders_and_the_least_loaded_worker_finds_the_best_of_all() {
    let mut sim = Sim::new();
    for i in 0..40 {
        sim.join(info(1 + i % 4, &[]));
    }
    // Pairs of roots, each pair read by one task.
    let pairs = 60u32;
    let mut tasks: Vec<Vec<u32>> = vec![Vec::new(); 2 * pairs as usize];
    tasks.extend((0..pairs).map(|p| vec![2 * p, 2 * p + 1]));
    let job = sim.submit(&Spec {
        outputs: (2 * pairs..3 * pairs).collect(),
        tasks,
        ..Spec::default()
    });
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut out = Vec::new();
    let mut checked = 0;
    for _ in 0..400 {
        // Before each turn: where would each ready task go?
        let ready: Vec<u32> = (0..3 * pairs)
            .filter(|&t| {
                let j = &sim.cluster.jobs[&job];
                j.holder[t as usize].is_none()
                    && j.sent[t as usize].is_none()
                    && j.exec
                        .graph
                        .deps(rask_core::TaskId(t))
                        .all(|d| j.holder[d.index()].is_some())
            })
            .collect();
        if let Some(&t) = ready.first() {
            let eligible: Vec<_> = sim.cluster.workers.keys().copied().collect();
            let c = &sim.cluster;
            let j = &c.jobs[&job];
            let task = rask_core::TaskId(t);
            let chosen = c.placement.choose(
                j,
                task,
                j.is_root(task),
                &eligible,
                (&c.workers, &c.by_load),
            );
            assert_eq!(chosen, best_of_all(&sim, job, t), "task {t}");
            checked += 1;
        }
        out.extend(sim.schedule().runs());
        if out.is_empty() {
            break;
        }
        // A random task out finishes, its result of a random size.
        let i = (next() % out.len() as u64) as usize;
        let (w, k, _) = out.swap_remove(i);
        sim.done(w, k, next() % 1_000_000);
    }
    assert!(checked > 50, "only {checked} placements compared");
}

#[test]
fn a_fan_in_goes_to_the_worker_holding_the_most_bytes_in_all() {
    // Three one-thread workers; 12 roots, and a merge reading all of them.
    let mut sim = Sim::new();
    for _ in 0..3 {
        sim.join(info(1, &[]));
    }
    let mut tasks: Vec<Vec<u32>> = vec![Vec::new(); 12];
    tasks.push((0..12).collect());
    let spec = Spec {
        outputs: vec![12],
        tasks,
        ..Spec::default()
    };
    let job = sim.submit(&spec);
    let mut ran_on = std::collections::BTreeMap::new();
    let mut held_bytes = std::collections::BTreeMap::new();
    for _ in 0..20 {
        let runs = sim.schedule().runs();
        if let Some(merge) = runs.iter().find(|r| r.1.task == 12) {
            let most = held_bytes.iter().max_by_key(|(_, b)| **b).map(|(w, _)| *w);
            assert_eq!(Some(merge.0), most, "{held_bytes:?}");
            assert_ne!(Some(&merge.0), ran_on.get(&0), "not the largest input's");
            return;
        }
        for (w, k, _) in runs {
            ran_on.insert(k.task, w);
        }
        // Root 0 weighs 3 MB; the roots beside root 1 weigh 1 MB each, and
        // 4 MB together; the rest 10 B.
        let out: Vec<_> = ran_on
            .iter()
            .filter(|(t, _)| sim.cluster.jobs[&job].holder[**t as usize].is_none())
            .map(|(t, w)| (*t, *w))
            .collect();
        for (t, w) in out {
            let bytes = match t {
                0 => 3_000_000,
                _ if ran_on.get(&1) == Some(&w) => 1_000_000,
                _ => 10,
            };
            *held_bytes.entry(w).or_insert(0u64) += bytes;
            sim.done(w, key(job, t), bytes);
        }
    }
    panic!("the merge was never sent");
}
