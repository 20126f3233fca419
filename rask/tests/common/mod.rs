//! Helpers for the tests on a local cluster: one cluster shared by a
//! file's tests, its dashboard's JSON, and waiting for the cluster to
//! reach a state.

#![allow(dead_code)] // each test binary uses its own share of these

use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use rask::distributed::LocalOptions;
use rask::Client;
use rask_core::IgnorePoison;

/// The cluster in `cell`, started with `options` on first use; the tests
/// of a file take turns on it (so that counts read from it are theirs).
pub fn shared_cluster(
    cell: &'static OnceLock<Mutex<Client>>,
    options: LocalOptions,
) -> MutexGuard<'static, Client> {
    cell.get_or_init(|| Mutex::new(Client::local_with(options).unwrap()))
        .lock()
        .ignore_poison()
}

/// [`shared_cluster`] of two workers, its dashboard on any free port.
pub fn two_workers_and_a_dashboard(
    cell: &'static OnceLock<Mutex<Client>>,
) -> MutexGuard<'static, Client> {
    let options = LocalOptions {
        workers: 2,
        dashboard_port: Some(0),
        ..LocalOptions::default()
    };
    shared_cluster(cell, options)
}

/// `GET path` on `link` (`http://host:port/`): the body, as JSON.
pub fn get_json(link: &str, path: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let addr = link.trim_start_matches("http://").trim_end_matches('/');
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(sock, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut reply = String::new();
    sock.read_to_string(&mut reply).unwrap();
    let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap()
}

/// The dashboard's progress row of task prefix `prefix`: (memory, released).
pub fn held(link: &str, prefix: &str) -> (u64, u64) {
    let status = get_json(link, "/api/status.json");
    let row = status["progress"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["prefix"] == prefix))
        .cloned()
        .unwrap_or_default();
    (
        row["memory"].as_u64().unwrap_or(0),
        row["released"].as_u64().unwrap_or(0),
    )
}

/// The dashboard's count of tasks of prefix `prefix` that jobs no longer
/// on the scheduler (every future of them dropped) had finished.
pub fn finished_before(link: &str, prefix: &str) -> u64 {
    let status = get_json(link, "/api/status.json");
    status["progress"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["prefix"] == prefix))
        .and_then(|r| r["finished_before"].as_u64())
        .unwrap_or(0)
}

/// Polls `f` every 50 ms for at most 10 s until it returns `want`.
pub fn eventually<T: PartialEq + std::fmt::Debug>(want: T, mut f: impl FnMut() -> T) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = f();
        if got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {got:?}, waiting for {want:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
