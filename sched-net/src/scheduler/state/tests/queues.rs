//! Named queues on the virtual clock: a get with nothing queued waits at
//! the scheduler until an item comes or its deadline passes, and a queued
//! result is held on the cluster while it waits.

use std::time::Duration;

use super::harness::{info, key, Sim, Spec, CLIENT};
use crate::protocol::{Answer, DataKey, QueueOp, Queued, QueuedRef, ToClient};

fn get(sim: &mut Sim, request: u64, timeout_ms: u64) -> Option<Answer> {
    let op = QueueOp::Get {
        type_name: "i64".into(),
        timeout_ms,
    };
    let answer = sim
        .cluster
        .queue(CLIENT, request, "q", op, sim.now, &mut sim.sink);
    sim.check();
    answer
}

fn put_key(sim: &mut Sim, k: DataKey) -> Option<Answer> {
    let op = QueueOp::Put(QueuedRef::Key(k, "i64"));
    let answer = sim
        .cluster
        .queue(CLIENT, 0, "q", op, sim.now, &mut sim.sink);
    sim.check();
    answer
}

fn replies(sim: &mut Sim) -> Vec<(u64, Answer)> {
    sim.sent()
        .to_clients()
        .iter()
        .filter_map(|(_, m)| match m {
            ToClient::Reply { request, reply } => Some((*request, reply.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_waiting_get_ends_empty_at_its_deadline_on_the_given_clock() {
    let mut sim = Sim::new();
    assert_eq!(get(&mut sim, 7, 500), None, "it waits");
    assert_eq!(
        sim.cluster.next_deadline(),
        Some(sim.now + Duration::from_millis(500))
    );
    sim.wait(Duration::from_millis(499));
    sim.cluster.expire_gets(sim.now, &mut sim.sink);
    sim.check();
    assert!(replies(&mut sim).is_empty());
    sim.wait(Duration::from_millis(1));
    sim.cluster.expire_gets(sim.now, &mut sim.sink);
    sim.check();
    assert_eq!(replies(&mut sim), vec![(7, Answer::Empty)]);
    assert_eq!(sim.cluster.next_deadline(), None);
}

#[test]
fn a_queued_result_is_held_and_goes_to_the_waiting_get() {
    let mut sim = Sim::new();
    sim.join(info(1, &[]));
    let job = sim.submit(&Spec::roots(1));
    sim.run_to_end(job, 5);
    assert_eq!(get(&mut sim, 3, 10_000), None);
    assert_eq!(put_key(&mut sim, key(job, 0)), Some(Answer::Done));
    assert_eq!(
        replies(&mut sim),
        vec![(3, Answer::Item(Queued::Key(key(job, 0))))]
    );
    // Lent to the taker: the job stays though its client released it.
    sim.cluster.release(job, &mut sim.sink);
    sim.check();
    assert!(sim.cluster.jobs.contains_key(&job));
    sim.cluster.client_gone(CLIENT, &mut sim.sink);
    sim.check();
    assert!(
        !sim.cluster.jobs.contains_key(&job),
        "the taker left: it goes"
    );
}
