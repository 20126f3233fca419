//! The runtime under failure and change, with real processes on 127.0.0.1:
//! a worker killed with SIGKILL mid-run, a worker joining mid-run, a wrong
//! token, garbage on the scheduler's port, and a worker over its memory
//! limit: paused, and spilling results to disk. And a task with more
//! inputs than a worker takes in one turn of its loop.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{
    alive, builtin_job, fan_in, impure, peak_rss, rss, scheduler, spin, with_token, worker,
};
use rask_core::{Arg, Inputs, Job, JobBuilder, Op, TaskId};
use rask_sched_net::{Client, FutureStatus, LocalOptions};

fn step(x: &u64) -> u64 {
    spin(60);
    x.wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        >> 1
}

fn total(xs: Inputs<u64>) -> u64 {
    xs.fold(0u64, |a, x| a.wrapping_add(*x))
}

/// `chains` chains of `len` steps, summed: chains × len + 1 tasks.
fn chains(chains: u64, len: usize) -> (Job, TaskId, u64) {
    let mut b = JobBuilder::new();
    let step_op = b.op(&Op::new("step", step));
    let total_op = b.op(&Op::new("total", total));
    let mut ends = Vec::new();
    let mut expected = 0u64;
    for c in 0..chains {
        let mut arg = b.lit(c);
        let mut x = c;
        for _ in 0..len {
            arg = Arg::dep(b.task(step_op, &[arg]));
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407)
                >> 1;
        }
        ends.push(arg);
        expected = expected.wrapping_add(x);
    }
    let out = b.keyed_task("total", total_op, &ends);
    (b.finish(), out, expected)
}

#[test]
fn sigkill_of_a_worker_mid_run_still_gives_the_right_answer() {
    let client = Client::local(LocalOptions {
        workers: 3,
        ..LocalOptions::default()
    })
    .unwrap();
    let (job, out, expected) = chains(200, 100);
    assert_eq!(job.len(), 20_001);
    let future = client
        .submit_job(&job, &[out], &[], &impure())
        .unwrap()
        .pop()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        future.status() == FutureStatus::Pending,
        "the run must still be going when the worker dies"
    );
    let pids = client.cluster().unwrap().worker_pids();
    let victim = pids[1];
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let value = future.result(None).unwrap();
    assert_eq!(value.downcast_ref::<u64>(), Some(&expected));
    assert_eq!(
        client.workers().len(),
        2,
        "the dead worker left the cluster"
    );
    // Every worker process is gone once the client is.
    drop(future);
    drop(client);
    for pid in pids {
        assert!(!alive(pid), "worker {pid} outlived its cluster");
    }
}

#[test]
fn a_task_with_more_inputs_than_one_turn_takes_reads_them_all() {
    let client = Client::local(LocalOptions {
        workers: 2,
        ..LocalOptions::default()
    })
    .unwrap();
    // Above the worker's 65,536 inputs a turn, in several turns on both
    // sides: half the inputs are fetched from the other worker.
    let (job, out, expected) = chains(150_000, 1);
    let future = client
        .submit_job(&job, &[out], &[], &impure())
        .unwrap()
        .pop()
        .unwrap();
    let value = future.result(Some(Duration::from_secs(300))).unwrap();
    assert_eq!(value.downcast_ref::<u64>(), Some(&expected));
}

fn whoami(_: &u64) -> u32 {
    spin(2_000);
    std::process::id()
}

fn pids(xs: Inputs<u32>) -> Vec<u32> {
    let mut v: Vec<u32> = xs.copied().collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Submits `n` 2 ms tasks that return their pid, gathered into the
/// sorted distinct pids.
fn submit_whoami(client: &Client, n: u64) -> rask_sched_net::RawFuture {
    let who = Op::new("whoami", whoami);
    let gather = Op::new("pids", pids);
    let (job, out) = fan_in(0..n, &who, &gather, None);
    client
        .submit_job(&job, &[out], &[], &impure())
        .unwrap()
        .pop()
        .unwrap()
}

#[test]
fn a_worker_that_joins_mid_run_receives_work() {
    let client = Client::local(LocalOptions {
        workers: 1,
        ..LocalOptions::default()
    })
    .unwrap();
    let future = submit_whoami(&client, 1000);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        future.status() == FutureStatus::Pending,
        "the run must still be going when the worker joins"
    );
    let cluster = client.cluster().unwrap();
    let newcomer = cluster.add_worker().unwrap();
    client.wait_for_workers(2, Duration::from_secs(20)).unwrap();
    let seen = future
        .result(None)
        .unwrap()
        .downcast_ref::<Vec<u32>>()
        .unwrap()
        .clone();
    assert!(
        seen.contains(&newcomer),
        "the new worker {newcomer} ran nothing: {seen:?}"
    );
    assert_eq!(seen.len(), 2);
}

#[test]
fn a_wrong_token_is_refused_with_a_log_line_on_both_sides() {
    let (mut sched, addr) = scheduler("right");
    let mut bad = worker(&addr, "wrong");
    let status = bad.child.wait().unwrap();
    assert!(!status.success());
    bad.expect("refused this worker: wrong token");
    sched.expect("refused: wrong token");
    let err = Client::connect(&addr, with_token("nope")).unwrap_err();
    assert!(matches!(err, rask_core::Error::Refused { .. }), "{err:?}");
    assert!(
        err.to_string().contains("refused this client: wrong token"),
        "{err}"
    );
    // The right token works.
    let _good = worker(&addr, "right");
    let client = Client::connect(&addr, with_token("right")).unwrap();
    client.wait_for_workers(1, Duration::from_secs(10)).unwrap();
    let (job, out) = builtin_job(10);
    let v = client
        .gather(&client.submit_job(&job, &[out], &[], &impure()).unwrap())
        .unwrap();
    assert_eq!(v[0].downcast_ref::<i64>(), Some(&55));
}

/// True if the server closes `sock` within 5 s.
fn closed_by_server(sock: &mut TcpStream) -> bool {
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match sock.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // a refusal frame, then the close
            Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

#[test]
fn garbage_truncated_and_oversized_frames_close_only_their_connection() {
    let (mut sched, addr) = scheduler("t");
    let _w = worker(&addr, "t");
    let client = Client::connect(&addr, with_token("t")).unwrap();
    client.wait_for_workers(1, Duration::from_secs(10)).unwrap();

    // A frame whose body is not a hello.
    let mut garbage = TcpStream::connect(&addr).unwrap();
    garbage
        .write_all(&[6, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
        .unwrap();
    assert!(closed_by_server(&mut garbage));
    sched.expect("bad hello");

    // A length prefix far above the 256 MiB limit.
    let mut huge = TcpStream::connect(&addr).unwrap();
    huge.write_all(&[0xff, 0xff, 0xff, 0x7f, 1, 2, 3]).unwrap();
    assert!(closed_by_server(&mut huge));
    sched.expect("above the limit");

    // A frame cut short: the scheduler waits for the rest, then sees the
    // connection end.
    let mut cut = TcpStream::connect(&addr).unwrap();
    cut.write_all(&[100, 0, 0, 0, 1, 2, 3]).unwrap();
    cut.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(closed_by_server(&mut cut));

    // Nothing else was touched: the client computes.
    let (job, out) = builtin_job(1000);
    let v = client
        .gather(&client.submit_job(&job, &[out], &[], &impure()).unwrap())
        .unwrap();
    assert_eq!(v[0].downcast_ref::<i64>(), Some(&500_500));
}

fn die(_: &i64) -> i64 {
    std::process::exit(3)
}

#[test]
fn a_task_that_kills_three_workers_fails_naming_it() {
    let client = Client::local(LocalOptions {
        workers: 3,
        ..LocalOptions::default()
    })
    .unwrap();
    let mut b = JobBuilder::new();
    let die = b.op(&Op::new("die", die));
    let x = b.lit(1i64);
    let t = b.keyed_task("poison", die, &[x]);
    let job = b.finish();
    let err = client
        .gather(&client.submit_job(&job, &[t], &[], &impure()).unwrap())
        .unwrap_err();
    assert_eq!(
        err,
        rask_core::Error::KilledWorker {
            key: "poison".into(),
            op: "die".into(),
            workers: 3
        }
    );
    assert_eq!(
        err.to_string(),
        "task `poison` (op `die`) killed worker: 3 workers died while running it"
    );
}

/// Holds `HOG_BYTES` of touched memory as its result.
fn hog(_: &u64) -> Vec<u8> {
    vec![1u8; HOG_BYTES]
}

const HOG_BYTES: usize = 160 << 20;

/// The distinct pids that ran 200 short tasks.
fn who_runs(client: &Client) -> Vec<u32> {
    let value = submit_whoami(client, 200).result(None).unwrap();
    value.downcast_ref::<Vec<u32>>().unwrap().clone()
}

#[test]
fn a_worker_over_its_memory_limit_takes_no_new_tasks_until_it_is_under() {
    const LIMIT: u64 = 96 << 20;
    let client = Client::local(LocalOptions {
        workers: 2,
        memory_limit: LIMIT,
        // This test is about pausing alone: spilled, the result would
        // take the worker back under.
        spill: false,
        ..LocalOptions::default()
    })
    .unwrap();
    client.wait_for_workers(2, Duration::from_secs(20)).unwrap();
    let cluster = client.cluster().unwrap();
    let workers = cluster.worker_pids();
    for &pid in &workers {
        assert!(rss(pid) < LIMIT, "worker {pid} starts above the limit");
    }

    // One worker ends up holding a result bigger than the limit; the
    // test never fetches it, so it stays on that worker alone.
    let mut b = JobBuilder::new();
    let op = b.op(&Op::new("hog", hog));
    let l = b.lit(0u64);
    let t = b.task(op, &[l]);
    let held = client
        .submit_job(&b.finish(), &[t], &[], &impure())
        .unwrap()
        .pop()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while held.status() == FutureStatus::Pending {
        assert!(Instant::now() < deadline, "the hog task never finished");
        std::thread::sleep(Duration::from_millis(10));
    }
    let over: Vec<u32> = workers
        .iter()
        .copied()
        .filter(|&p| rss(p) > LIMIT)
        .collect();
    assert_eq!(over.len(), 1, "exactly one worker should be over: {over:?}");
    let hog_pid = over[0];

    // Two heartbeats later the scheduler knows it is paused.
    std::thread::sleep(Duration::from_millis(1200));
    let ran = who_runs(&client);
    assert!(
        !ran.contains(&hog_pid),
        "the paused worker {hog_pid} was given tasks: {ran:?}"
    );
    assert_eq!(ran.len(), 1);

    // Released, its memory goes back, and it takes work again.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    while rss(hog_pid) > LIMIT {
        assert!(
            Instant::now() < deadline,
            "the released result was never freed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(1200));
    let ran = who_runs(&client);
    assert!(ran.contains(&hog_pid), "the worker never resumed: {ran:?}");
}

/// Bytes in one spill-test chunk: 36 MiB, above the largest block glibc
/// serves from its heap, so a freed chunk goes back to the system and the
/// worker's resident size follows what it holds.
const CHUNK_LEN: usize = 36 << 20;

/// Chunk `i`: its number, then bytes of one value that depends on it.
/// Bytes, so that encoding is a copy even in a debug build.
fn chunk(i: &u64) -> serde_bytes::ByteBuf {
    let mut v = vec![fill(*i); CHUNK_LEN];
    v[..8].copy_from_slice(&i.to_le_bytes());
    serde_bytes::ByteBuf::from(v)
}

fn fill(i: u64) -> u8 {
    (i as u8).wrapping_mul(37).wrapping_add(11)
}

/// The number a chunk carries if the rest of it is intact, else `u64::MAX`.
fn chunk_check(xs: &serde_bytes::ByteBuf) -> u64 {
    let Some((head, rest)) = xs.split_first_chunk::<8>() else {
        return u64::MAX;
    };
    let i = u64::from_le_bytes(*head);
    let intact = rest.len() == CHUNK_LEN - 8 && *rest == vec![fill(i); rest.len()][..];
    if intact {
        i
    } else {
        u64::MAX
    }
}

fn files_in(dir: &std::path::Path) -> Vec<(String, u64)> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let len = e.metadata().map_or(0, |m| m.len());
                    (e.file_name().to_string_lossy().into_owned(), len)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_worker_spills_results_past_its_limit_to_disk_and_reads_them_back() {
    const LIMIT: u64 = 128 << 20;
    const CHUNKS: u64 = 16; // 576 MiB of results: 4.5 times the limit
    let local = std::env::temp_dir().join(format!("rask-spill-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&local);
    std::fs::create_dir_all(&local).unwrap();
    let client = Client::local(LocalOptions {
        workers: 1,
        memory_limit: LIMIT,
        local_directory: Some(local.clone()),
        dashboard_port: None,
        ..LocalOptions::default()
    })
    .unwrap();
    client.wait_for_workers(1, Duration::from_secs(20)).unwrap();
    let pid = client.cluster().unwrap().worker_pids()[0];
    let spill_dir = local.join(format!("rask-worker-{pid}"));

    // Every chunk is an output the client holds: all of them stay live.
    let mut b = JobBuilder::new();
    let chunk_op = b.op(&Op::new("chunk", chunk));
    let tasks: Vec<TaskId> = (0..CHUNKS)
        .map(|i| {
            let l = b.lit(i);
            b.task(chunk_op, &[l])
        })
        .collect();
    let chunks = client
        .submit_job(&b.finish(), &tasks, &[], &impure())
        .unwrap();
    client.gather(&chunks[..1]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while chunks.iter().any(|c| c.status() == FutureStatus::Pending) {
        assert!(Instant::now() < deadline, "the chunks never finished");
        std::thread::sleep(Duration::from_millis(10));
    }
    let spilled = files_in(&spill_dir);
    let on_disk: u64 = spilled.iter().map(|(_, len)| len).sum();
    let total = CHUNKS * CHUNK_LEN as u64;
    assert!(
        on_disk >= total - LIMIT,
        "{on_disk} of {total} bytes spilled to {}: {spilled:?}",
        spill_dir.display()
    );

    // A later job reads every chunk back, and the client fetches one
    // straight from the disk.
    let mut b = JobBuilder::new();
    let hold = b.op(&Op::new("chunk", chunk));
    let check_op = b.op(&Op::new("chunk_check", chunk_check));
    let inputs: Vec<TaskId> = (0..CHUNKS).map(|_| b.task(hold, &[])).collect();
    let sums: Vec<TaskId> = inputs
        .iter()
        .map(|&t| b.task(check_op, &[Arg::dep(t)]))
        .collect();
    let externals: Vec<(TaskId, &rask_sched_net::RawFuture)> =
        inputs.iter().copied().zip(&chunks).collect();
    let got = client
        .gather(
            &client
                .submit_job(&b.finish(), &sums, &externals, &impure())
                .unwrap(),
        )
        .unwrap();
    for (i, g) in got.iter().enumerate() {
        assert_eq!(*g.downcast_ref::<u64>().unwrap(), i as u64, "chunk {i}");
    }
    let first = client.gather(&chunks[..1]).unwrap();
    assert_eq!(
        *first[0].downcast_ref::<serde_bytes::ByteBuf>().unwrap(),
        chunk(&0)
    );

    // It never held all its results at once.
    let peak = peak_rss(pid);
    assert!(peak < total, "worker peak {peak} bytes, results {total}");

    // Released, their files go; stopped, the worker removes its directory.
    drop(chunks);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !files_in(&spill_dir).is_empty() {
        assert!(Instant::now() < deadline, "released results stayed on disk");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(client);
    let deadline = Instant::now() + Duration::from_secs(10);
    while spill_dir.exists() {
        assert!(
            Instant::now() < deadline,
            "the spill directory outlived its worker"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_dir_all(&local);
}
