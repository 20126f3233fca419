//! The dashboard over real HTTP on 127.0.0.1: its JSON API after a graph
//! ran on a local cluster, keep-alive, bad clients that must only lose
//! their own connection while the scheduler computes, and a taken port.

mod common;
mod http;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{builtin_job, impure, spin, with_token, worker, Proc};
use rask_core::{Inputs, Job, Op, TaskId};
use rask_sched_net::{Client, LocalOptions};
use serde_json::Value as Json;

fn step(x: &u64) -> u64 {
    spin(300);
    x + 1
}

fn total(xs: Inputs<u64>) -> u64 {
    xs.sum()
}

/// `n` `step` tasks summed by a task keyed `total-sum`.
fn steps(n: u64) -> (Job, TaskId) {
    let step_op = Op::new("step", step);
    let total_op = Op::new("total", total);
    common::fan_in(0..n, &step_op, &total_op, Some("total-sum"))
}

fn json(addr: SocketAddr, path: &str) -> Json {
    serde_json::from_str(&http::get(addr, path)).unwrap()
}

/// Reads until the server closes `sock` (5 s at most); what it sent.
fn read_until_closed(sock: &mut TcpStream) -> String {
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn the_json_api_lists_workers_progress_and_the_task_stream() {
    let client = Client::local(LocalOptions {
        workers: 2,
        threads_per_worker: 2,
        dashboard_port: Some(0),
        ..LocalOptions::default()
    })
    .unwrap();
    client.wait_for_workers(2, Duration::from_secs(10)).unwrap();
    let dash = client.cluster().unwrap().dashboard_addr().unwrap();
    assert!(dash.ip().is_loopback());

    let (job, out) = steps(200);
    let future = client
        .submit_job(&job, &[out], &[], &impure())
        .unwrap()
        .pop()
        .unwrap();
    let value = future.result(None).unwrap();
    assert_eq!(value.downcast_ref::<u64>(), Some(&(200 * 201 / 2)));

    // The workers table: both workers, their threads, a heartbeat's memory.
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        let s = json(dash, "/api/status.json");
        let beat = s["workers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["memory"].as_u64() > Some(0));
        if beat || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let workers = status["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 2, "{status}");
    let listed: HashSet<String> = workers
        .iter()
        .map(|w| w["address"].as_str().unwrap().to_owned())
        .collect();
    let known: HashSet<String> = client.workers().into_iter().map(|(_, a)| a).collect();
    assert_eq!(listed, known);
    for w in workers {
        assert_eq!(w["threads"], 2);
        assert!(w["memory"].as_u64().unwrap() > 0, "{w}");
        assert!(w["cpu"].as_f64().is_some());
    }

    // Progress per prefix: the job is held (the future is alive), so its
    // 200 steps and its total are counted live, all finished.
    let progress = status["progress"].as_array().unwrap();
    let row = |prefix: &str| {
        progress
            .iter()
            .find(|p| p["prefix"] == prefix)
            .unwrap_or_else(|| panic!("no progress for `{prefix}`: {status}"))
    };
    let step_row = row("step");
    assert_eq!(step_row["total"], 200);
    assert_eq!(
        step_row["memory"].as_u64().unwrap() + step_row["released"].as_u64().unwrap(),
        200
    );
    assert_eq!(step_row["waiting"], 0);
    assert_eq!(step_row["processing"], 0);
    assert_eq!(step_row["erred"], 0);
    assert_eq!(row("total-sum")["memory"], 1, "the output is held");

    // The task stream: every task, on a known worker thread, in time.
    let tasks = json(dash, "/api/tasks.json?since=0");
    let ids: HashSet<u64> = workers.iter().map(|w| w["id"].as_u64().unwrap()).collect();
    let names = tasks["names"].as_object().unwrap();
    let records = tasks["tasks"].as_array().unwrap();
    assert_eq!(records.len(), 201, "{tasks}");
    let now = tasks["now_ms"].as_f64().unwrap();
    let mut steps_seen = 0;
    let mut threads = HashSet::new();
    for r in records {
        let r = r.as_array().unwrap();
        assert!(ids.contains(&r[0].as_u64().unwrap()), "{r:?}");
        assert!(r[1].as_u64().unwrap() < 2, "thread index {r:?}");
        threads.insert((r[0].as_u64(), r[1].as_u64()));
        let (start, stop) = (r[3].as_f64().unwrap(), r[4].as_f64().unwrap());
        assert!(
            0.0 <= start && start <= stop && stop <= now,
            "{r:?} now {now}"
        );
        assert_eq!(r[5], 0, "not erred");
        let name = names[&r[2].to_string()].as_str().unwrap();
        if name == "step" {
            steps_seen += 1;
            assert!(stop - start >= 0.25, "a step spins 300 µs: {r:?}");
        } else {
            assert_eq!(name, "total-sum");
        }
    }
    assert_eq!(steps_seen, 200);
    assert!(
        threads.len() >= 2,
        "more than one lane was used: {threads:?}"
    );
    let next = tasks["next"].as_u64().unwrap();
    assert_eq!(next, 201);
    let later = json(dash, &format!("/api/tasks.json?since={next}"));
    assert_eq!(later["tasks"].as_array().unwrap().len(), 0);

    // The page, and what is not there.
    let page = http::request(dash, "GET", "/", None).unwrap();
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(page.text().contains("id=\"task-stream\""));
    assert_eq!(
        http::request(dash, "GET", "/nope", None).unwrap().status,
        404
    );
    assert_eq!(
        http::request(dash, "GET", "/api/tasks.json?since=x", None)
            .unwrap()
            .status,
        400
    );
    let head = http::request(dash, "HEAD", "/api/status.json", None).unwrap();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());

    // Keep-alive: two requests on one connection, then a close on request.
    let mut sock = TcpStream::connect(dash).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for _ in 0..2 {
        sock.write_all(b"GET /api/status.json HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let r = read_one_response(&mut sock);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("connection"), Some("keep-alive"));
        serde_json::from_slice::<Json>(&r.body).unwrap();
    }
    sock.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let rest = read_until_closed(&mut sock);
    assert!(rest.starts_with("HTTP/1.1 200"), "{rest}");

    // Jobs that leave are kept as history per prefix.
    drop(future);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = json(dash, "/api/status.json");
        let gone = s["jobs"] == 0;
        if gone {
            let p = s["progress"].as_array().unwrap();
            let step = p.iter().find(|p| p["prefix"] == "step").unwrap();
            assert_eq!(step["total"], 0);
            assert_eq!(step["finished_before"], 200);
            break;
        }
        assert!(Instant::now() < deadline, "the job was never released: {s}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads exactly one response (framed by Content-Length) from a kept-alive
/// connection.
fn read_one_response(sock: &mut TcpStream) -> http::Response {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        assert_eq!(sock.read(&mut byte).unwrap(), 1, "closed mid-response");
        raw.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut body = vec![0u8; len];
    sock.read_exact(&mut body).unwrap();
    raw.extend_from_slice(&body);
    http::parse_response(&raw).unwrap()
}

/// A `rask-scheduler` with `args` and a token; its address.
fn scheduler_with(args: &[&str]) -> (Proc, String) {
    let mut s = Proc::start(
        Command::new(env!("CARGO_BIN_EXE_rask-scheduler"))
            .args(["--port", "0", "--token", "t"])
            .args(args),
    );
    let line = s.expect("listening on ");
    (s, line.rsplit(' ').next().unwrap().to_owned())
}

/// The address in a log line's `http://ADDR/`.
fn url_addr(line: &str) -> SocketAddr {
    let from = line.find("http://").unwrap() + "http://".len();
    let rest = &line[from..];
    rest[..rest.find('/').unwrap()].parse().unwrap()
}

#[test]
fn bad_http_clients_lose_only_their_connection_while_the_scheduler_computes() {
    let (mut sched, addr) = scheduler_with(&["--dashboard-port", "0"]);
    let dash = url_addr(&sched.expect("dashboard at http://"));
    let _w = worker(&addr, "t");
    let client = Client::connect(&addr, with_token("t")).unwrap();
    client.wait_for_workers(1, Duration::from_secs(10)).unwrap();

    // A graph runs while the bad clients come and go.
    let n = 30_000;
    let (job, out) = builtin_job(n);
    let running = client.submit_job(&job, &[out], &[], &impure()).unwrap();

    // A client that sends half a request and waits: it must not hold up
    // anyone (it is closed later, by its timeout).
    let mut stalled = TcpStream::connect(dash).unwrap();
    stalled
        .write_all(b"GET /api/status.json HTTP/1.1\r\nHo")
        .unwrap();

    let mut garbage = TcpStream::connect(dash).unwrap();
    garbage
        .write_all(b"\x16\x03\x01\x02\x00garbage that is not http\r\n\r\n")
        .unwrap();
    let answer = read_until_closed(&mut garbage);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    sched.expect("dashboard: closing connection from");

    let mut oversized = TcpStream::connect(dash).unwrap();
    let mut big = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
    big.resize(64 << 10, b'a');
    // The server may close before taking it all; that is the point.
    let _ = oversized.write_all(&big);
    let answer = read_until_closed(&mut oversized);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    sched.expect("request head above");

    let mut many = TcpStream::connect(dash).unwrap();
    let mut req = String::from("GET / HTTP/1.1\r\n");
    for i in 0..100 {
        req += &format!("X-{i}: y\r\n");
    }
    req += "\r\n";
    many.write_all(req.as_bytes()).unwrap();
    assert!(read_until_closed(&mut many).starts_with("HTTP/1.1 431"));

    let mut post = TcpStream::connect(dash).unwrap();
    post.write_all(b"POST /api/status.json HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd")
        .unwrap();
    assert!(read_until_closed(&mut post).starts_with("HTTP/1.1 413"));

    // A client that vanishes mid-request.
    let mut gone = TcpStream::connect(dash).unwrap();
    gone.write_all(b"GET / HT").unwrap();
    drop(gone);

    // Meanwhile the dashboard still answers, and the graph finishes right.
    let status = json(dash, "/api/status.json");
    assert_eq!(status["workers"].as_array().unwrap().len(), 1);
    let v = client.gather(&running).unwrap();
    assert_eq!(v[0].downcast_ref::<i64>(), Some(&(n * (n + 1) / 2)));
    let tasks = json(dash, "/api/tasks.json?since=0");
    assert_eq!(tasks["next"], n + 1, "every task was recorded");
    // And the scheduler takes new work.
    let (job, out) = builtin_job(100);
    let v = client
        .gather(&client.submit_job(&job, &[out], &[], &impure()).unwrap())
        .unwrap();
    assert_eq!(v[0].downcast_ref::<i64>(), Some(&5050));
    drop(stalled);
}

#[test]
fn a_taken_dashboard_port_falls_back_to_a_free_one_and_says_so() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (mut sched, _) = scheduler_with(&["--dashboard-port", &port.to_string()]);
    let line = sched.expect("is not available");
    assert!(
        line.contains(&format!("dashboard port {port} ")),
        "the line names the taken port: {line}"
    );
    let dash = url_addr(&line);
    assert_ne!(dash.port(), port);
    assert_eq!(url_addr(&sched.expect("dashboard at http://")), dash);
    let status = json(dash, "/api/status.json");
    assert!(status["workers"].as_array().unwrap().is_empty());
    // The taken port is still the other listener's.
    drop(taken);

    // Turned off: no dashboard at all.
    let client = Client::local(LocalOptions {
        workers: 1,
        dashboard_port: None,
        ..LocalOptions::default()
    })
    .unwrap();
    assert_eq!(client.cluster().unwrap().dashboard_addr(), None);
}
