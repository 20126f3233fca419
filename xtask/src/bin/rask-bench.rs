//! `rask-bench`: runs one benchmark — one backend, one graph, one N — and
//! prints exactly one JSON line on stdout (see `xtask::record`).
//!
//! `cargo xtask bench` starts a fresh process of this binary per run, so
//! that the peak memory it reports (`VmHWM`) belongs to that run alone and
//! one run's heap or thread pool never skews the next.
//!
//! ```text
//! rask-bench --backend threads --graph merge --n 100000 --workers 8 --reps 5
//! ```
//!
//! `RASK_LOG=warn` (or `info`, `debug`) prints the libraries' log lines
//! on stderr, with the seconds since the start: the distributed
//! scheduler's slow loop turns and job admissions, for instance.
//!
//! Besides the names `rask` knows, `distributed-polled` is `distributed`
//! with a thread polling the scheduler's dashboard API every 500 ms, as an
//! open page does, and `distributed-nodash` is `distributed` with the
//! dashboard turned off: rows to compare what the dashboard costs.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use rask_core::{Error, NoEvents, Scheduler};
use xtask::flags;
use xtask::graphs::{self, Ops, Shape};
use xtask::record::{Outcome, Record};

/// What to run, from the command line.
struct Run {
    backend: String,
    shape: Shape,
    n: usize,
    workers: usize,
    reps: usize,
    /// Steps of the `busy` loop per task, calibrated once by the parent so
    /// that every backend's run does the same work.
    busy_iters: Option<u64>,
}

fn main() -> ExitCode {
    stderr_log::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `rask-bench --calibrate`: how many busy-loop steps take ~5 ms here.
    if args == ["--calibrate"] {
        println!("{}", graphs::calibrate(graphs::BUSY_TASK));
        return ExitCode::SUCCESS;
    }
    // `rask-bench --transfer N --reps R`, and its reference's sender.
    if let Some(code) = transfer(&args) {
        return code;
    }
    let run = match parse(&args) {
        Ok(run) => run,
        Err(e) => {
            eprintln!("rask-bench: {e}");
            eprintln!("usage: rask-bench --backend NAME --graph SHAPE --n N --workers W --reps R");
            return ExitCode::from(2);
        }
    };
    let outcome = measure(&run);
    #[cfg(unix)]
    dashboard::report();
    println!("{}", outcome.to_json());
    match outcome {
        Outcome::Failed { .. } => ExitCode::FAILURE,
        Outcome::Ran(_) | Outcome::Skipped { .. } => ExitCode::SUCCESS,
    }
}

/// The `transfer` row's runs, if `args` asks for one.
fn transfer(args: &[String]) -> Option<ExitCode> {
    let done = |r: Result<(), String>| match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rask-bench: {e}");
            ExitCode::FAILURE
        }
    };
    match args {
        [flag, rest @ ..] if flag == xtask::transfer::SEND_FLAG => {
            Some(done(xtask::transfer::send(rest)))
        }
        [flag, n, reps_flag, reps] if flag == "--transfer" && reps_flag == "--reps" => {
            let run = || -> Result<(), String> {
                let n = n.parse().map_err(|e| format!("--transfer: {e}"))?;
                let reps = reps.parse().map_err(|e| format!("--reps: {e}"))?;
                println!("{}", xtask::transfer::measure(n, reps)?.to_line());
                Ok(())
            };
            Some(done(run()))
        }
        _ => None,
    }
}

fn parse(args: &[String]) -> Result<Run, String> {
    let spec = &[
        ("backend", true),
        ("graph", true),
        ("n", true),
        ("workers", true),
        ("reps", true),
        ("busy-iters", true),
    ];
    let mut run = Run {
        backend: String::new(),
        shape: Shape::Merge,
        n: 0,
        workers: 0,
        reps: 0,
        busy_iters: None,
    };
    for flag in flags::split(args, spec)? {
        let value = flag.value.unwrap_or_default();
        match flag.name.as_str() {
            "backend" => run.backend = value,
            "graph" => run.shape = Shape::from_name(&value)?,
            "n" => run.n = flags::positive(&value, "--n")?,
            "workers" => run.workers = flags::positive(&value, "--workers")?,
            "reps" => run.reps = flags::positive(&value, "--reps")?,
            "busy-iters" => run.busy_iters = Some(flags::positive(&value, "--busy-iters")? as u64),
            _ => unreachable!("flags::split only returns flags of the spec"),
        }
    }
    if run.backend.is_empty() || run.n == 0 || run.workers == 0 || run.reps == 0 {
        return Err("--backend, --n, --workers and --reps are all required".into());
    }
    Ok(run)
}

/// The local cluster of a `distributed` backend, once started.
#[cfg(unix)]
static CLUSTER: std::sync::OnceLock<rask::Client> = std::sync::OnceLock::new();

/// The scheduler a backend name stands for: every name `rask` knows, and
/// `processes-unfused` (processes without chain fusion, to measure what
/// one assignment round trip costs).
fn scheduler(name: &str, workers: usize) -> Result<std::sync::Arc<dyn rask::Scheduler>, Error> {
    #[cfg(unix)]
    if name == "processes-unfused" {
        let procs = rask_sched_procs::ProcessScheduler::new(workers).with_fusion(false);
        return Ok(std::sync::Arc::new(procs));
    }
    #[cfg(unix)]
    if let Some(variant) = name.strip_prefix("distributed") {
        // A local cluster of `workers` worker processes (re-executed from
        // this binary), kept for the life of this process.
        if CLUSTER.get().is_none() {
            let start = Instant::now();
            let mut options = rask::distributed::LocalOptions {
                workers,
                ..Default::default()
            };
            match variant {
                "" | "-polled" => {}
                "-nodash" => options.dashboard_port = None,
                _ => return rask::scheduler_by_name(name, Some(workers)),
            }
            let client = rask::Client::local_with(options)?;
            eprintln!(
                "{name}: local cluster of {workers} workers started in {:.1} ms",
                start.elapsed().as_secs_f64() * 1e3
            );
            if variant == "-polled" {
                let addr = client.raw().cluster().and_then(|c| c.dashboard_addr());
                match addr {
                    Some(addr) => dashboard::poll_every(addr, Duration::from_millis(500)),
                    None => eprintln!("{name}: the cluster has no dashboard to poll"),
                }
            }
            let _ = CLUSTER.set(client);
        }
        return rask::scheduler_by_name("distributed", Some(workers));
    }
    rask::scheduler_by_name(name, Some(workers))
}

fn measure(run: &Run) -> Outcome {
    let failed = |error: String| Outcome::Failed {
        backend: run.backend.clone(),
        graph: run.shape.name().to_owned(),
        n: run.n as u64,
        error,
    };
    let scheduler = match scheduler(&run.backend, run.workers) {
        Ok(s) => s,
        Err(e @ Error::BackendDisabled { .. }) => {
            return Outcome::Skipped {
                backend: run.backend.clone(),
                graph: run.shape.name().to_owned(),
                n: run.n as u64,
                note: e.to_string(),
            }
        }
        Err(e) => return failed(e.to_string()),
    };
    let busy_iters = match (run.shape, run.busy_iters) {
        (Shape::Busy, Some(iters)) => iters,
        (Shape::Busy, None) => graphs::calibrate(graphs::BUSY_TASK),
        _ => 0,
    };
    let ops = Ops::new(busy_iters);

    // Warm up with a small run first: a pool starts its threads, faults in
    // its stacks and queues, and the allocator grows its arenas here rather
    // than inside the first measured repetition.
    if let Err(e) = run_once(&*scheduler, Shape::Merge, 1_000, &ops) {
        return failed(format!("warm-up failed: {e}"));
    }

    if run.shape == Shape::Submit {
        return latency(run, &*scheduler, &ops).unwrap_or_else(failed);
    }
    if run.shape == Shape::Compute {
        return compute_latency(run).unwrap_or_else(failed);
    }
    if run.shape.is_futures() {
        #[cfg(unix)]
        if let Some(client) = CLUSTER.get() {
            return futures::measure(run, client).unwrap_or_else(failed);
        }
        return Outcome::Skipped {
            backend: run.backend.clone(),
            graph: run.shape.name().to_owned(),
            n: run.n as u64,
            note: "the futures API is the distributed client's".into(),
        };
    }

    let mut walls = Vec::with_capacity(run.reps);
    let mut builds = Vec::with_capacity(run.reps);
    let mut tasks = 0;
    let mut ir_bytes = 0;
    for rep in 0..run.reps {
        let start = Instant::now();
        let built = graphs::build(run.shape, run.n, &ops);
        let built_at = Instant::now();
        let outputs = scheduler.run(&built.job, &[built.output], &NoEvents);
        let wall = start.elapsed();
        let checked = outputs
            .map_err(|e| e.to_string())
            .and_then(|values| graphs::check(run.shape, run.n, &values));
        if let Err(e) = checked {
            return failed(format!("repetition {}: {e}", rep + 1));
        }
        walls.push(wall);
        builds.push(built_at - start);
        if rep == 0 {
            // The plan is what a run keeps per task besides the IR; plan
            // once more here, outside the timed region, to weigh it.
            tasks = built.job.len();
            ir_bytes = match built.job.plan(&[built.output]) {
                Ok(plan) => built.job.graph().ir_bytes() + plan.bytes(),
                Err(e) => return failed(format!("planning failed: {e}")),
            };
        }
        // The job is dropped here, after the clock stopped: freeing a
        // million-task graph is the caller's cost, not the scheduler's.
    }

    let wall = median(&mut walls).as_secs_f64();
    Outcome::Ran(Record {
        backend: run.backend.clone(),
        graph: run.shape.name().to_owned(),
        n: run.n as u64,
        tasks: tasks as u64,
        // The sync scheduler runs everything on the calling thread, whatever
        // it was asked for.
        workers: if scheduler.name() == "sync" {
            1
        } else {
            run.workers as u64
        },
        reps: run.reps as u64,
        wall_s: wall,
        us_per_task: wall * 1e6 / tasks as f64,
        tasks_per_s: tasks as f64 / wall,
        peak_rss_bytes: peak_rss_bytes().unwrap_or(0),
        children_peak_rss_bytes: children_peak_rss_bytes(),
        ir_bytes_per_task: ir_bytes as f64 / tasks as f64,
        build_s: median(&mut builds).as_secs_f64(),
        sim: None,
    })
}

/// `submit`: one one-task graph computed `n` times in a row; the median
/// latency of one compute is reported as µs per task.
fn latency(run: &Run, scheduler: &dyn Scheduler, ops: &Ops) -> Result<Outcome, String> {
    let built = graphs::build(Shape::Submit, 1, ops);
    let mut each = Vec::with_capacity(run.n);
    let start = Instant::now();
    for _ in 0..run.n {
        let t = Instant::now();
        let values = scheduler
            .run(&built.job, &[built.output], &NoEvents)
            .map_err(|e| e.to_string())?;
        each.push(t.elapsed());
        graphs::check(Shape::Submit, 1, &values)?;
    }
    Ok(latency_record(run, start.elapsed(), &mut each))
}

/// The row of a latency run: `each` call's time, the median as µs per
/// task.
fn latency_record(run: &Run, wall: Duration, each: &mut [Duration]) -> Outcome {
    let median = median(each).as_secs_f64();
    Outcome::Ran(Record {
        backend: run.backend.clone(),
        graph: run.shape.name().to_owned(),
        n: run.n as u64,
        tasks: run.n as u64,
        workers: run.workers as u64,
        reps: 1,
        wall_s: wall.as_secs_f64(),
        us_per_task: median * 1e6,
        tasks_per_s: 1.0 / median,
        peak_rss_bytes: peak_rss_bytes().unwrap_or(0),
        children_peak_rss_bytes: children_peak_rss_bytes(),
        ir_bytes_per_task: 0.0,
        build_s: 0.0,
        sim: None,
    })
}

/// `compute`: `rask::delayed(f).call(x).compute_with(options)`, `n` times
/// in a row; the median latency of one call is reported as µs per task.
fn compute_latency(run: &Run) -> Result<Outcome, String> {
    fn one(_: &u64) -> u64 {
        1
    }
    let options = rask::Options::new()
        .scheduler(&run.backend)
        .num_workers(run.workers);
    let f = rask::delayed(one);
    let mut each = Vec::with_capacity(run.n);
    let start = Instant::now();
    for i in 0..run.n {
        let t = Instant::now();
        let value = f
            .call((i as u64 + 1,))
            .compute_with(&options)
            .map_err(|e| e.to_string())?;
        each.push(t.elapsed());
        if value != 1 {
            return Err(format!("compute returned {value}, expected 1"));
        }
    }
    Ok(latency_record(run, start.elapsed(), &mut each))
}

/// The futures rows: `rask::Client`'s `submit`, `map` and `gather`, as a
/// user calls them.
#[cfg(unix)]
mod futures {
    use std::time::{Duration, Instant};

    use xtask::graphs::Shape;
    use xtask::record::Outcome;

    use super::{latency_record, median, Run};

    fn inc(x: &u64) -> u64 {
        x + 1
    }

    /// Checks that `got` is `inc` of `0..n`.
    fn check(got: &[u64], n: usize) -> Result<(), String> {
        match got.iter().zip(1..).position(|(&g, want)| g != want) {
            None if got.len() == n => Ok(()),
            None => Err(format!("gathered {} values, expected {n}", got.len())),
            Some(i) => Err(format!("value {i} is {}, expected {}", got[i], i + 1)),
        }
    }

    pub(super) fn measure(run: &Run, client: &rask::Client) -> Result<Outcome, String> {
        let e = |e: rask::Error| e.to_string();
        match run.shape {
            Shape::FuturesSubmit => {
                // Each argument differs, so no pure submission is found
                // again: every call is a fresh job.
                let mut each = Vec::with_capacity(run.n);
                let start = Instant::now();
                for i in 0..run.n as u64 {
                    let t = Instant::now();
                    let got = client.submit(inc, (i,)).map_err(e)?.result().map_err(e)?;
                    each.push(t.elapsed());
                    if got != i + 1 {
                        return Err(format!("submit({i}) returned {got}, expected {}", i + 1));
                    }
                }
                Ok(latency_record(run, start.elapsed(), &mut each))
            }
            Shape::FuturesMap | Shape::FuturesMany => {
                let mut walls = Vec::with_capacity(run.reps);
                for _ in 0..run.reps {
                    let start = Instant::now();
                    let futures = match run.shape {
                        Shape::FuturesMap => client.map(inc, 0..run.n as u64).map_err(e)?,
                        _ => (0..run.n as u64)
                            .map(|i| client.submit(inc, (i,)))
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(e)?,
                    };
                    let got = client.gather(&futures).map_err(e)?;
                    walls.push(start.elapsed());
                    check(&got, run.n)?;
                    // The futures are dropped after the clock stopped.
                }
                Ok(per_task(run, &mut walls))
            }
            _ => Err(format!("`{}` is not a futures row", run.shape.name())),
        }
    }

    /// The row of a `map` or many-`submit` run: the median wall over `n`.
    fn per_task(run: &Run, walls: &mut [Duration]) -> Outcome {
        let wall = median(walls);
        let mut row = latency_record(run, wall, &mut [wall]);
        if let Outcome::Ran(r) = &mut row {
            r.reps = run.reps as u64;
            r.us_per_task = wall.as_secs_f64() * 1e6 / run.n as f64;
            r.tasks_per_s = run.n as f64 / wall.as_secs_f64();
        }
        row
    }
}

/// Builds and runs `shape`-`n` once and checks the answer.
fn run_once(scheduler: &dyn Scheduler, shape: Shape, n: usize, ops: &Ops) -> Result<(), String> {
    let built = graphs::build(shape, n, ops);
    let values = scheduler
        .run(&built.job, &[built.output], &NoEvents)
        .map_err(|e| e.to_string())?;
    graphs::check(shape, n, &values)
}

/// The median; the upper one of the middle two for an even count.
fn median(xs: &mut [Duration]) -> Duration {
    xs.sort_unstable();
    xs.get(xs.len() / 2).copied().unwrap_or_default()
}

/// The peak resident set size of the largest waited-for child process.
fn children_peak_rss_bytes() -> u64 {
    #[cfg(unix)]
    {
        use nix::sys::resource::{getrusage, UsageWho};
        // Linux reports `ru_maxrss` in KiB.
        getrusage(UsageWho::RUSAGE_CHILDREN).map_or(0, |u| u.max_rss().max(0) as u64 * 1024)
    }
    #[cfg(not(unix))]
    {
        0
    }
}

/// This process's peak resident set size, from Linux's `/proc`.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// A stand-in for an open dashboard page: a thread that fetches what the
/// page fetches (`/api/status.json` and the new task records) on the same
/// schedule, for the life of the process.
#[cfg(unix)]
mod dashboard {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    static POLLS: AtomicU64 = AtomicU64::new(0);
    static BYTES: AtomicU64 = AtomicU64::new(0);
    static FAILURES: AtomicU64 = AtomicU64::new(0);

    /// One `GET`, answered and closed by the server; the body.
    fn get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
        let mut sock = TcpStream::connect(addr)?;
        sock.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            sock,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )?;
        let mut raw = String::new();
        sock.read_to_string(&mut raw)?;
        BYTES.fetch_add(raw.len() as u64, Ordering::Relaxed);
        match raw.split_once("\r\n\r\n") {
            Some((head, body)) if head.starts_with("HTTP/1.1 200") => Ok(body.to_owned()),
            _ => Err(std::io::Error::other("not a 200 answer")),
        }
    }

    /// Starts the polling thread.
    pub fn poll_every(addr: SocketAddr, every: Duration) {
        let _ = std::thread::Builder::new()
            .name("dashboard-poller".into())
            .spawn(move || {
                let mut next = 0u64;
                loop {
                    let tasks = get(addr, "/api/status.json")
                        .and_then(|_| get(addr, &format!("/api/tasks.json?since={next}")));
                    match tasks
                        .ok()
                        .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
                    {
                        Some(v) => {
                            next = v["next"].as_u64().unwrap_or(next);
                            POLLS.fetch_add(1, Ordering::Relaxed);
                        }
                        None => {
                            FAILURES.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    std::thread::sleep(every);
                }
            });
    }

    /// Says how much polling happened, if any.
    pub fn report() {
        let (polls, failures) = (
            POLLS.load(Ordering::Relaxed),
            FAILURES.load(Ordering::Relaxed),
        );
        if polls + failures > 0 {
            eprintln!(
                "dashboard polled {polls} times ({:.1} KiB read, {failures} failed polls)",
                BYTES.load(Ordering::Relaxed) as f64 / 1024.0
            );
        }
    }
}

/// The log lines `RASK_LOG` asks for, on stderr.
mod stderr_log {
    use std::time::Instant;

    struct Stderr {
        start: Instant,
    }

    impl log::Log for Stderr {
        fn enabled(&self, meta: &log::Metadata<'_>) -> bool {
            meta.level() <= log::max_level()
        }

        fn log(&self, record: &log::Record<'_>) {
            if self.enabled(record.metadata()) {
                eprintln!(
                    "{:9.3} {} {}: {}",
                    self.start.elapsed().as_secs_f64(),
                    record.level(),
                    record.target(),
                    record.args()
                );
            }
        }

        fn flush(&self) {}
    }

    /// Installs the logger if `RASK_LOG` names a level.
    pub fn init() {
        let Some(level) = std::env::var("RASK_LOG")
            .ok()
            .and_then(|v| v.parse::<log::LevelFilter>().ok())
        else {
            return;
        };
        let logger = Box::leak(Box::new(Stderr {
            start: Instant::now(),
        }));
        if log::set_logger(logger).is_ok() {
            log::set_max_level(level);
        }
    }
}
