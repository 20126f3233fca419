//! Soak: many consecutive computes on the `threads`, `processes` and
//! `distributed` backends, with open fds, threads, live child processes and
//! RSS measured after a warm-up and at the end; growth past the bounds
//! below fails the test. On `distributed` the worker processes are measured
//! too (the scheduler is a thread of this process, so it is counted here).
//!
//! `RASK_SOAK_COMPUTES` sets the count (default [`DEFAULT_COMPUTES`]); the
//! full run prints its figures as a table:
//!
//! ```text
//! RASK_SOAK_COMPUTES=1000 cargo test -p rask --release --test soak -- --nocapture --test-threads=1
//! ```
//!
//! Bounds on growth from the end of the warm-up to the end of the run, and
//! why each is small but not zero where it is not zero:
//! - open fds: at most +2. Every descriptor a compute needs (socket pairs of
//!   forked children, the client's connections to workers) is either closed
//!   when the compute ends or opened once during the warm-up; a leak of one
//!   per compute shows as +N. The slack of 2 is the client's connection to
//!   each of the two workers, opened the first time it fetches a result
//!   from that worker, which the warm-up need not have done.
//! - threads: at most +1. Pools, the client's IO thread and the scheduler
//!   start during the warm-up. The slack of 1 is the test harness's own:
//!   when an earlier test of this file ends, libtest may start the thread
//!   of a later one while this one runs (it then waits on [`SERIAL`]).
//! - live child processes (zombies included): +0, exactly. Forked children
//!   are reaped when their run ends; workers live as long as the cluster.
//! - RSS: at most +2 MiB, in this process and in each worker. What grows
//!   legitimately after the warm-up is the allocator's free lists and
//!   arenas, up to a high-water mark: at most about 250 KiB per process
//!   in runs of up to 8,000 computes. Keeping each compute's graph (about
//!   25 KiB for 511 tasks, measured by leaking it) adds 3.5 MiB within the
//!   default count.
//!
//! The cluster runs without a dashboard: its task-stream ring (100,000
//! records of 32 bytes, about 3 MiB, filled after about 200 computes of
//! this graph) is bounded by design, and filling it would hide a leak
//! of that order.
//!
//! Every loop is bounded by its count and by [`DEADLINE`].

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rask::distributed::LocalOptions;
use rask::{delayed, Client, Delayed, Options};
use rask_core::IgnorePoison;

/// Computes per test when `RASK_SOAK_COMPUTES` is not set: a few seconds
/// on every backend in a debug build on two cores.
const DEFAULT_COMPUTES: usize = 150;
/// Computes before the first measurement: pools, connections and the
/// allocator's arenas settle in these.
const WARM_UP: usize = 10;
/// A test that has not finished its computes by then fails.
const DEADLINE: Duration = Duration::from_secs(15 * 60);
/// Leaves of the tree; the graph has `2 * LEAVES - 1` tasks.
const LEAVES: i64 = 256;

const FD_BOUND: i64 = 2;
const THREAD_BOUND: i64 = 1;
const CHILD_BOUND: i64 = 0;
const RSS_BOUND_KIB: i64 = 2 * 1024;

/// The measurements are of the whole process, so the tests take turns.
static SERIAL: Mutex<()> = Mutex::new(());

fn computes() -> usize {
    match std::env::var("RASK_SOAK_COMPUTES") {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("RASK_SOAK_COMPUTES={v:?} is not a count")),
        Err(_) => DEFAULT_COMPUTES,
    }
    .max(WARM_UP + 1)
}

fn square(x: &i64) -> i64 {
    x * x
}

fn add(a: &i64, b: &i64) -> i64 {
    a + b
}

/// The sum of the squares of `offset .. offset + LEAVES`, as a tree
/// reduction: `LEAVES` squares, then pairwise sums level by level.
fn tree(offset: i64) -> Delayed<i64> {
    let square = delayed(square);
    let add = delayed(add);
    let mut level: Vec<Delayed<i64>> = (offset..offset + LEAVES)
        .map(|i| square.call((i,)))
        .collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [a, b] => add.call((a, b)),
                [a] => a.clone(),
                _ => unreachable!("chunks(2) yields one or two"),
            })
            .collect();
    }
    level.pop().expect("LEAVES > 0")
}

fn expected(offset: i64) -> i64 {
    (offset..offset + LEAVES).map(|i| i * i).sum()
}

/// What a process holds, from `/proc`.
#[derive(Clone, Copy, Debug)]
struct Usage {
    fds: i64,
    threads: i64,
    /// Processes whose parent it is, zombies included.
    children: i64,
    rss_kib: i64,
}

impl Usage {
    /// `pid`'s usage; `None` is this process.
    fn of(pid: Option<u32>) -> io::Result<Usage> {
        let pid = pid.unwrap_or_else(std::process::id);
        let dir = Path::new("/proc").join(pid.to_string());
        // For this process the listing's own descriptor is counted too,
        // the same one in every measurement.
        let fds = std::fs::read_dir(dir.join("fd"))?.count() as i64;
        let status = std::fs::read_to_string(dir.join("status"))?;
        let field = |name: &str| -> io::Result<i64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| io::Error::other(format!("no `{name}` in {dir:?}/status")))
        };
        Ok(Usage {
            fds,
            threads: field("Threads:")?,
            children: children_of(pid)? as i64,
            rss_kib: field("VmRSS:")?,
        })
    }
}

/// How many processes have `pid` as their parent, from every
/// `/proc/<pid>/stat`; one that exits while it is read is skipped.
fn children_of(pid: u32) -> io::Result<usize> {
    let mut n = 0;
    for entry in std::fs::read_dir("/proc")? {
        let entry = entry?;
        if !entry
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            n += 1;
        }
    }
    Ok(n)
}

/// One process's figures before and after, checked against the bounds.
struct Row {
    backend: &'static str,
    process: String,
    before: Usage,
    after: Usage,
}

impl Row {
    /// Each metric past its bound, as one line.
    fn violations(&self) -> Vec<String> {
        let checks = [
            ("fds", self.before.fds, self.after.fds, FD_BOUND),
            (
                "threads",
                self.before.threads,
                self.after.threads,
                THREAD_BOUND,
            ),
            (
                "children",
                self.before.children,
                self.after.children,
                CHILD_BOUND,
            ),
            (
                "RSS KiB",
                self.before.rss_kib,
                self.after.rss_kib,
                RSS_BOUND_KIB,
            ),
        ];
        checks
            .into_iter()
            .filter(|&(_, before, after, bound)| after - before > bound)
            .map(|(name, before, after, bound)| {
                format!(
                    "{} {}: {name} grew from {before} to {after} (+{}, bound +{bound})",
                    self.backend,
                    self.process,
                    after - before
                )
            })
            .collect()
    }
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (b, a) = (self.before, self.after);
        write!(
            f,
            "{:<12} {:<22} {:>4} → {:<4} {:>+4}  {:>3} → {:<3} {:>+3}  {:>3} → {:<3} {:>+3}  {:>7} → {:<7} {:>+6}",
            self.backend,
            self.process,
            b.fds,
            a.fds,
            a.fds - b.fds,
            b.threads,
            a.threads,
            a.threads - b.threads,
            b.children,
            a.children,
            a.children - b.children,
            b.rss_kib,
            a.rss_kib,
            a.rss_kib - b.rss_kib,
        )
    }
}

/// Prints the table and fails on any growth past a bound.
fn report(computes: usize, elapsed: Duration, rows: &[Row]) {
    println!(
        "\n{computes} computes of a {}-task tree in {elapsed:.2?}; after the {WARM_UP}-compute warm-up → at the end, growth \
         (bounds: fds +{FD_BOUND}, threads +{THREAD_BOUND}, children +{CHILD_BOUND}, RSS +{RSS_BOUND_KIB} KiB)",
        2 * LEAVES - 1
    );
    println!(
        "{:<12} {:<22} {:^16}  {:^13}  {:^13}  {:^24}",
        "backend", "process", "fds", "threads", "children", "RSS KiB"
    );
    for row in rows {
        println!("{row}");
    }
    let violations: Vec<String> = rows.iter().flat_map(Row::violations).collect();
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

/// Runs `compute(i)` for `i` in `0..n`, each checked against the tree's
/// sum; measures `pids` (`None`: this process) after the warm-up and at
/// the end.
fn soak(
    backend: &'static str,
    pids: &[(String, Option<u32>)],
    mut compute: impl FnMut(&Delayed<i64>, usize) -> i64,
) {
    let n = computes();
    let started = Instant::now();
    let mut before = Vec::new();
    for i in 0..n {
        assert!(
            started.elapsed() < DEADLINE,
            "{backend}: only {i} of {n} computes within {DEADLINE:?}"
        );
        if i == WARM_UP {
            before = measure(pids);
        }
        // A different sum each time: nothing can be answered from a cache.
        let offset = i as i64;
        assert_eq!(
            compute(&tree(offset), i),
            expected(offset),
            "{backend}: compute {i}"
        );
    }
    let after = measure(pids);
    let rows: Vec<Row> = pids
        .iter()
        .zip(before.into_iter().zip(after))
        .map(|((process, _), (before, after))| Row {
            backend,
            process: process.clone(),
            before,
            after,
        })
        .collect();
    report(n, started.elapsed(), &rows);
}

fn measure(pids: &[(String, Option<u32>)]) -> Vec<Usage> {
    pids.iter()
        .map(|(name, pid)| Usage::of(*pid).unwrap_or_else(|e| panic!("measuring {name}: {e}")))
        .collect()
}

fn this_process() -> Vec<(String, Option<u32>)> {
    vec![("this process".to_owned(), None)]
}

#[test]
fn threads_soak() {
    let _turn = SERIAL.lock().ignore_poison();
    let options = Options::new().scheduler("threads").num_workers(2);
    soak("threads", &this_process(), |tree, _| {
        tree.compute_with(&options).unwrap()
    });
}

#[test]
fn processes_soak() {
    let _turn = SERIAL.lock().ignore_poison();
    let options = Options::new().scheduler("processes").num_workers(2);
    soak("processes", &this_process(), |tree, _| {
        tree.compute_with(&options).unwrap()
    });
}

#[test]
fn distributed_soak() {
    let _turn = SERIAL.lock().ignore_poison();
    let client = Client::local_with(LocalOptions {
        workers: 2,
        dashboard_port: None,
        ..LocalOptions::default()
    })
    .unwrap();
    let workers = client.cluster().expect("a local cluster").worker_pids();
    assert_eq!(workers.len(), 2, "worker pids: {workers:?}");
    let mut pids = vec![("client + scheduler".to_owned(), None)];
    pids.extend(
        workers
            .iter()
            .map(|&pid| (format!("worker {pid}"), Some(pid))),
    );
    let distributed = Options::new().scheduler("distributed");
    // Both ways users compute on a cluster, in turn: `compute` with the
    // active client as the scheduler, and `persist` then a future's result.
    soak("distributed", &pids, |tree, i| {
        if i % 2 == 0 {
            tree.compute_with(&distributed).unwrap()
        } else {
            let future = client.persist(tree).unwrap();
            future.result_timeout(Duration::from_secs(60)).unwrap()
        }
    });
    // The workers are this process's children until the cluster stops.
    client.close();
    let left = children_of(std::process::id()).unwrap();
    assert_eq!(left, 0, "child processes left after the cluster closed");
}
