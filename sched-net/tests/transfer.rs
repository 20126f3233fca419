//! Results of any size between processes: above the frame limit (256 MiB)
//! a result moves worker to worker and worker to client as a bulk payload;
//! one above the fetching worker's memory limit fails its task once, with
//! an error naming both sizes.
//!
//! The CI run moves 300 MiB (above the frame limit, so it could not move
//! before protocol 6); `RASK_BIG_TRANSFER=1` moves 2 GiB as well, and
//! prints the workers' peak resident memory.

use std::time::{Duration, Instant};

use rask_core::{Arg, JobBuilder, Op};
use rask_sched_net::{Client, LocalOptions, RawFuture, SubmitOptions};
use serde_bytes::ByteBuf;

/// Bytes between the stamps of `stamped`: a page.
const PAGE: usize = 4096;

/// `len` bytes, each page starting with its own number: a misplaced or
/// missing piece shows, and making it touches every page once.
fn stamped(len: &u64) -> ByteBuf {
    let mut v = vec![0u8; *len as usize];
    for (i, page) in v.chunks_mut(PAGE).enumerate() {
        let stamp = (i as u64).to_le_bytes();
        let n = page.len().min(8);
        page[..n].copy_from_slice(&stamp[..n]);
    }
    ByteBuf::from(v)
}

/// The number of pages of `x` whose stamp is right (all of them, if it
/// arrived whole), and its length.
fn check(x: &ByteBuf) -> (u64, u64) {
    let good = x
        .chunks(PAGE)
        .enumerate()
        .filter(|(i, page)| {
            let stamp = (*i as u64).to_le_bytes();
            let n = page.len().min(8);
            page[..n] == stamp[..n] && page[n..].iter().all(|b| *b == 0)
        })
        .count();
    (good as u64, x.len() as u64)
}

fn pages(len: u64) -> u64 {
    len.div_ceil(PAGE as u64)
}

/// A two-worker cluster, and its workers' ids as `workers` options take them.
fn pair(memory_limit: u64) -> (Client, [String; 2]) {
    let client = Client::local(LocalOptions {
        workers: 2,
        memory_limit,
        spill: false,
        dashboard_port: None,
        ..LocalOptions::default()
    })
    .unwrap();
    client.wait_for_workers(2, Duration::from_secs(20)).unwrap();
    let ids = client.workers();
    (client, [ids[0].0.to_string(), ids[1].0.to_string()])
}

/// A `len`-byte result made on worker `on`.
fn make(client: &Client, len: u64, on: &str) -> RawFuture {
    let mut b = JobBuilder::new();
    let op = b.op(&Op::new("stamped", stamped));
    let l = b.lit(len);
    let t = b.task(op, &[l]);
    let opts = SubmitOptions::default()
        .pure(false)
        .workers(&[on.to_owned()]);
    client
        .submit_job(&b.finish(), &[t], &[], &opts)
        .unwrap()
        .pop()
        .unwrap()
}

/// `check` of `input`, run on worker `on`: the input has to move there.
fn check_on(client: &Client, input: &RawFuture, on: &str) -> Result<(u64, u64), String> {
    let mut b = JobBuilder::new();
    let hold = b.op(&Op::new("stamped", stamped));
    let check_op = b.op(&Op::new("check", check));
    let held = b.task(hold, &[]);
    let t = b.task(check_op, &[Arg::dep(held)]);
    let opts = SubmitOptions::default()
        .pure(false)
        .workers(&[on.to_owned()]);
    let out = client
        .submit_job(&b.finish(), &[t], &[(held, input)], &opts)
        .unwrap();
    let got = client.gather(&out).map_err(|e| e.to_string())?;
    Ok(*got[0].downcast_ref::<(u64, u64)>().unwrap())
}

/// Peak resident bytes of process `pid`, from /proc.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Moves a `len`-byte result from one worker to the other and to the client.
fn moves_whole(len: u64) {
    let (client, [a, b]) = pair(0);
    let big = make(&client, len, &a);
    let started = Instant::now();
    assert_eq!(check_on(&client, &big, &b), Ok((pages(len), len)));
    let worker_to_worker = started.elapsed();
    let got = client.gather(std::slice::from_ref(&big)).unwrap();
    let bytes = got[0].downcast_ref::<ByteBuf>().unwrap();
    assert_eq!(bytes.len() as u64, len);
    let pids = client.cluster().unwrap().worker_pids();
    let peaks: Vec<u64> = pids.iter().map(|&p| peak_rss(p)).collect();
    println!("{len} bytes worker to worker in {worker_to_worker:?}; workers' peak RSS {peaks:?}");
    // Every page of what the client holds is where it belongs.
    let whole = bytes.chunks(PAGE).enumerate().all(|(i, page)| {
        let stamp = (i as u64).to_le_bytes();
        page[..page.len().min(8)] == stamp[..page.len().min(8)]
    });
    assert!(whole, "the client's copy is out of order");
}

#[test]
fn a_result_above_the_frame_limit_moves_between_workers_and_to_the_client() {
    moves_whole((300 << 20) + 123);
}

/// `RASK_BIG_TRANSFER=1`: 2 GiB and a bit, which no `u32` frame length
/// could announce.
#[test]
fn a_two_gib_result_moves_when_asked_for() {
    if std::env::var_os("RASK_BIG_TRANSFER").is_none() {
        return;
    }
    moves_whole((2 << 30) + 4097);
}

#[test]
fn an_input_above_the_memory_limit_fails_its_task_once_naming_sizes() {
    const LIMIT: u64 = 64 << 20;
    const LEN: u64 = 96 << 20;
    let (client, [a, b]) = pair(LIMIT);
    let big = make(&client, LEN, &a);
    let started = Instant::now();
    let err = check_on(&client, &big, &b).unwrap_err();
    // The encoding is the bytes and their length's varint.
    let encoded = LEN + 4;
    assert!(
        err.contains(&format!(
            "{encoded} bytes are above the limit of {LIMIT} bytes (this worker's memory limit)"
        )),
        "{err}"
    );
    // No fetch loop: it failed on the first refusal.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // The result itself is fine where it is, and the client takes it.
    let got = client.gather(std::slice::from_ref(&big)).unwrap();
    assert_eq!(got[0].downcast_ref::<ByteBuf>().unwrap().len() as u64, LEN);
}
