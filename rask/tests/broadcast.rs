//! `scatter_broadcast` and `replicate` through the facade, on a real local
//! cluster: a lookup table put on every worker is read by tasks on every
//! worker, and `who_has` names them all.

use rask::distributed::LocalOptions;
use rask::Client;

/// Looks `i` up in the table, and says which worker did.
#[allow(clippy::ptr_arg)] // ops take their inputs by reference to the stored type
fn look_up(table: &Vec<i64>, i: &usize) -> (u32, i64) {
    (std::process::id(), table[*i % table.len()])
}

#[test]
fn a_broadcast_table_is_on_every_worker_and_read_by_tasks_on_each() {
    let client = Client::local_with(LocalOptions {
        workers: 3,
        dashboard_port: None,
        ..LocalOptions::default()
    })
    .unwrap();
    client
        .raw()
        .wait_for_workers(3, std::time::Duration::from_secs(20))
        .unwrap();
    let table: Vec<i64> = (0..1000).map(|i| i * i).collect();
    let scattered = client.scatter_broadcast([table.clone()]).unwrap();
    let holders = client.who_has(&scattered).unwrap();
    assert_eq!(holders[0].len(), 3, "on every worker: {holders:?}");

    let lookups: Vec<_> = (0..60usize)
        .map(|i| client.submit(look_up, (&scattered[0], i * 17)).unwrap())
        .collect();
    let got = client.gather(&lookups).unwrap();
    for (i, (_, v)) in got.iter().enumerate() {
        assert_eq!(*v, table[i * 17 % 1000]);
    }
    let mut ran_on: Vec<u32> = got.iter().map(|(pid, _)| *pid).collect();
    ran_on.sort_unstable();
    ran_on.dedup();
    assert!(
        ran_on.len() >= 2,
        "every lookup ran on one worker: {ran_on:?}"
    );

    // A plain scatter is on one worker until replicated to two.
    let one = client.scatter([5i64]).unwrap();
    assert_eq!(one[0].result().unwrap(), 5);
    assert_eq!(client.who_has(&one).unwrap()[0].len(), 1);
    client.replicate(&one, Some(2)).unwrap();
    assert_eq!(client.who_has(&one).unwrap()[0].len(), 2);
}
