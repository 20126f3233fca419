//! `sanity_check` catches a broken invariant: each test breaks one on
//! purpose, through a hook only tests have, after a run that kept them.

use super::harness::{info, Sim, Spec};
use crate::protocol::{DataKey, WorkerId};

/// A cluster mid-run: two workers, a job with tasks out and results held.
fn mid_run() -> Sim {
    let mut sim = Sim::new();
    sim.join(info(2, &[("GPU", 4.0)]));
    sim.join(info(2, &[("GPU", 4.0)]));
    let job = sim.submit(&Spec {
        resources: vec![("GPU".into(), 1.0)],
        ..Spec::of(&[&[], &[], &[], &[0, 1, 2]])
    });
    let runs = sim.schedule().runs();
    assert!(runs.len() >= 2);
    let (w, k, _) = runs[0].clone();
    sim.done(w, k, 8);
    let _ = job;
    sim
}

fn broken(sim: &Sim) -> String {
    sim.cluster
        .sanity_check()
        .expect_err("the broken invariant is caught")
}

/// The worker holding some result, that result's job and task.
fn a_held_result(sim: &Sim) -> (WorkerId, DataKey) {
    sim.cluster
        .jobs
        .iter()
        .find_map(|(id, j)| {
            j.holder.iter().position(Option::is_some).map(|t| {
                (
                    j.holder[t].unwrap(),
                    DataKey {
                        job: *id,
                        task: t as u32,
                    },
                )
            })
        })
        .unwrap()
}

#[test]
fn a_worker_counting_a_task_it_was_not_sent_is_caught() {
    let mut sim = mid_run();
    let w = *sim.cluster.workers.keys().next().unwrap();
    sim.cluster
        .corrupt(|c| c.workers.get_mut(&w).unwrap().in_flight += 1);
    assert!(broken(&sim).contains("in_flight"), "{}", broken(&sim));
}

#[test]
fn a_result_held_by_a_worker_that_left_is_caught() {
    let mut sim = mid_run();
    let (_, k) = a_held_result(&sim);
    let gone = WorkerId::new(99).unwrap();
    sim.cluster.corrupt(|c| {
        c.jobs.get_mut(&k.job).unwrap().holder[k.task as usize] = Some(gone);
    });
    assert!(broken(&sim).contains("who is gone"), "{}", broken(&sim));
}

#[test]
fn a_holder_listed_as_its_own_copy_is_caught() {
    let mut sim = mid_run();
    let (w, k) = a_held_result(&sim);
    sim.cluster.corrupt(|c| {
        c.jobs
            .get_mut(&k.job)
            .unwrap()
            .replicas
            .insert(k.task, vec![w]);
    });
    assert!(broken(&sim).contains("also a copy"), "{}", broken(&sim));
}

#[test]
fn an_unbalanced_pin_is_caught() {
    let mut sim = mid_run();
    let (_, k) = a_held_result(&sim);
    sim.cluster
        .corrupt(|c| c.jobs.get_mut(&k.job).unwrap().pins += 1);
    assert!(broken(&sim).contains("pins"), "{}", broken(&sim));
}

#[test]
fn resource_use_that_is_not_the_sum_of_the_tasks_out_is_caught() {
    let mut sim = mid_run();
    let w = *sim.cluster.workers.keys().next().unwrap();
    sim.cluster
        .corrupt(|c| c.workers.get_mut(&w).unwrap().used[0] += 1.0);
    assert!(broken(&sim).contains("GPU"), "{}", broken(&sim));
}

#[test]
fn a_task_sent_to_a_worker_that_left_is_caught() {
    let mut sim = mid_run();
    let (_, k) = a_held_result(&sim);
    sim.cluster.corrupt(|c| {
        let gone = WorkerId::new(42).unwrap();
        c.jobs.get_mut(&k.job).unwrap().sent[k.task as usize] = Some(gone);
    });
    assert!(
        broken(&sim).contains("sent to worker 42"),
        "{}",
        broken(&sim)
    );
}

#[test]
fn a_task_running_in_the_state_machine_but_sent_nowhere_is_caught() {
    let mut sim = mid_run();
    let (job, t) = sim
        .cluster
        .jobs
        .iter()
        .find_map(|(id, j)| j.sent.iter().position(Option::is_some).map(|t| (*id, t)))
        .unwrap();
    let w = sim.cluster.jobs[&job].sent[t].unwrap();
    sim.cluster.corrupt(|c| {
        c.jobs.get_mut(&job).unwrap().sent[t] = None;
        let worker = c.workers.get_mut(&w).unwrap();
        c.by_load.step(w, worker, false);
        worker.used[0] -= 1.0;
    });
    assert!(broken(&sim).contains("sent nowhere"), "{}", broken(&sim));
}
