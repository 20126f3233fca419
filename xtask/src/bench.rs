//! `cargo xtask bench`: the per-task overhead of every backend, in one table
//! and as JSON lines for tools.
//!
//! Each (backend, graph, n) runs in a fresh `rask-bench` process built in
//! release mode, so its peak memory is its own and one run cannot warm or
//! pollute the next. This driver plans the runs, starts the children,
//! collects their JSON lines and prints the table.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use xtask::flags;
use xtask::graphs::Shape;
use xtask::record::{Outcome, Record};

use crate::command::release_bin;

/// Backends tried by default; those whose cargo feature is off are skipped.
const DEFAULT_BACKENDS: &[&str] = &["sync", "threads", "processes", "distributed"];
const DEFAULT_N: &[usize] = &[10_000, 100_000, 1_000_000];
const QUICK_N: &[usize] = &[1_000, 10_000];
/// `busy` tasks burn ~5 ms each: 200 of them are one second of CPU, enough
/// to see a speedup without slowing the whole bench down.
/// Repetitions below and above this N, unless `--reps` says otherwise.
const MANY_REPS_UP_TO: usize = 100_000;
/// A child that takes longer is killed and reported as failed, so a hung
/// scheduler shows as an error row instead of a hung bench.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

const HELP: &str = "\
usage: cargo xtask bench [flags]

  --backends a,b   schedulers to measure (default: sync,threads and every
                   other backend compiled into `rask`); also
                   distributed-polled (its dashboard's JSON polled every
                   500 ms, as an open page does) and distributed-nodash
                   (dashboard off), to weigh what the dashboard costs; `wasm-sync` and
                   `wasm-workers` run merge (other graphs are skipped) and
                   the demo workload in headless Chromium
  --graphs a,b     merge, chain, tree, fanin, busy (default: the first four,
                   plus busy with n=200 for the speedup); also, only when
                   named: submit (one prebuilt one-task graph run 1000
                   times, median latency), compute (a `delayed` call's
                   `compute_with`, as a user writes it, 1000 times, median),
                   futures-submit, futures-map and futures-many (`rask`'s
                   `submit(..).result()` 1000 times, median; `map` over
                   0..100000 then `gather`; 10000 `submit`s then `gather`;
                   distributed only) and transfer (one result of n bytes,
                   default 100000000, gathered from a worker, beside a plain TCP copy between
                   two processes into a fresh buffer, in the same run)
  --n N[,N...]     graph sizes (default: 10000,100000,1000000); the scale
                   row of the distributed runtime is
                   `--backends distributed --graphs merge --n 10000000
                   --workers 2 --reps 1` (minutes, a few GB; not in CI)
  --workers N      workers per parallel backend (default: available cores)
  --reps R         repetitions per run; the median is reported (default: 5,
                   3 above n=100000)
  --quick          CI-sized: n=1000,10000, 3 reps, no busy graph
  --json FILE      also write one JSON line per run to FILE";

/// The command line of `cargo xtask bench`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    backends: Option<Vec<String>>,
    graphs: Option<Vec<Shape>>,
    ns: Option<Vec<usize>>,
    workers: Option<usize>,
    reps: Option<usize>,
    quick: bool,
    json: Option<PathBuf>,
    help: bool,
    /// `--graphs transfer`: the transfer rows.
    transfer: bool,
}

impl Options {
    /// Parses the flags after `bench`.
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let spec = &[
            ("backends", true),
            ("graphs", true),
            ("n", true),
            ("workers", true),
            ("reps", true),
            ("quick", false),
            ("json", true),
            ("help", false),
        ];
        let mut o = Options::default();
        for flag in flags::split(args, spec)? {
            let value = flag.value.unwrap_or_default();
            match flag.name.as_str() {
                "backends" => {
                    let names = flags::list(&value);
                    if names.is_empty() {
                        return Err("--backends needs at least one name".into());
                    }
                    o.backends = Some(names);
                }
                "graphs" => {
                    let mut names = flags::list(&value);
                    if names.is_empty() {
                        return Err("--graphs needs at least one name".into());
                    }
                    let before = names.len();
                    names.retain(|g| g != "transfer");
                    o.transfer = names.len() < before;
                    o.graphs = Some(
                        names
                            .iter()
                            .map(|g| Shape::from_name(g))
                            .collect::<Result<_, _>>()?,
                    );
                }
                "n" => o.ns = Some(flags::positives(&value, "--n")?),
                "workers" => o.workers = Some(flags::positive(&value, "--workers")?),
                "reps" => o.reps = Some(flags::positive(&value, "--reps")?),
                "quick" => o.quick = true,
                "json" if value.is_empty() => return Err("--json needs a file name".into()),
                "json" => o.json = Some(PathBuf::from(value)),
                "help" => o.help = true,
                _ => unreachable!("flags::split only returns flags of the spec"),
            }
        }
        Ok(o)
    }

    /// The runs these options ask for, grouped by graph and n so that the
    /// backends being compared sit on adjacent rows.
    pub fn runs(&self, default_workers: usize) -> Vec<RunSpec> {
        let backends: Vec<String> = match &self.backends {
            Some(names) => names.clone(),
            None => DEFAULT_BACKENDS.iter().map(|s| s.to_string()).collect(),
        };
        let shapes: Vec<Shape> = match &self.graphs {
            Some(shapes) => shapes.clone(),
            None if self.quick => Shape::OVERHEAD.to_vec(),
            None => Shape::ALL.to_vec(),
        };
        let workers = self.workers.unwrap_or(default_workers);
        let mut runs = Vec::new();
        for shape in shapes {
            for n in self.sizes(shape) {
                let reps = self.reps.unwrap_or(match () {
                    () if self.quick => 3,
                    () if n <= MANY_REPS_UP_TO => 5,
                    () => 3,
                });
                for backend in &backends {
                    runs.push(RunSpec {
                        backend: backend.clone(),
                        shape,
                        n,
                        workers,
                        reps,
                    });
                }
            }
        }
        runs
    }

    /// The sizes to run `shape` at.
    fn sizes(&self, shape: Shape) -> Vec<usize> {
        match (&self.ns, shape.fixed_n(self.quick)) {
            // `--n` sizes the overhead graphs; a million busy tasks would
            // burn 80 CPU-minutes, so busy and bigdata take `--n` only when
            // asked for by name.
            (Some(ns), Some(_)) if self.graphs.is_some() => ns.clone(),
            (_, Some(n)) => vec![n],
            (Some(ns), None) => ns.clone(),
            (None, _) if self.quick => QUICK_N.to_vec(),
            (None, _) => DEFAULT_N.to_vec(),
        }
    }
}

/// One child run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSpec {
    backend: String,
    shape: Shape,
    n: usize,
    workers: usize,
    reps: usize,
}

/// `cargo xtask bench [flags]`.
pub fn main(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args).map_err(|e| format!("{e}\n\n{HELP}"))?;
    if options.help {
        println!("{HELP}");
        return Ok(());
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Browser backends run in one Chromium session, not in rask-bench.
    let (browser_runs, runs): (Vec<RunSpec>, Vec<RunSpec>) = options
        .runs(cores)
        .into_iter()
        .partition(|r| r.backend.starts_with("wasm-"));

    // Browser-only runs need no native bench binary (nor its path).
    let exe = match runs.is_empty() && !options.transfer {
        true => PathBuf::new(),
        false => release_bin("rask-bench")?,
    };

    // Calibrate the busy loop once, in the release binary, so that every
    // backend's busy run does the same work and the speedups compare like
    // with like.
    let busy_iters = match runs.iter().any(|r| r.shape == Shape::Busy) {
        true => Some(calibrate_busy(&exe)?),
        false => None,
    };

    let mut outcomes: Vec<Outcome> = Vec::with_capacity(runs.len());
    for spec in &runs {
        // A backend that is not compiled in says so on its first run; its
        // other runs would only repeat that.
        let skipped = outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Skipped { backend, .. } if *backend == spec.backend));
        if skipped {
            continue;
        }
        eprint!(
            "  {:<17} {:<7} n={:<9} ",
            spec.backend,
            spec.shape.name(),
            spec.n
        );
        let outcome = run_child(&exe, spec, busy_iters);
        eprintln!(
            "{}",
            match &outcome {
                Outcome::Ran(r) => format!("{:.3} µs/task", r.us_per_task),
                Outcome::Skipped { .. } => "skipped".to_owned(),
                Outcome::Failed { .. } => "FAILED".to_owned(),
            }
        );
        outcomes.push(outcome);
    }

    let transfers = match options.transfer {
        true => transfer_rows(&exe, &options)?,
        false => Vec::new(),
    };

    #[cfg(unix)]
    if !browser_runs.is_empty() {
        outcomes.extend(browser_outcomes(&browser_runs)?);
    }

    println!();
    print!("{}", table(&outcomes));
    for o in &outcomes {
        if let Outcome::Skipped { backend, note, .. } = o {
            println!("skipped {backend}: {note}");
        }
    }
    for line in speedups(&outcomes) {
        println!("{line}");
    }
    for line in transfers {
        println!("{line}");
    }

    if let Some(path) = &options.json {
        let text: String = outcomes.iter().map(|o| o.to_json() + "\n").collect();
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("wrote {} JSON lines to {}", outcomes.len(), path.display());
    }

    let failed = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Failed { .. }))
        .count();
    match failed {
        0 => Ok(()),
        n => Err(format!("{n} of {} benchmark runs failed", outcomes.len())),
    }
}

/// The `wasm-*` runs, measured in headless Chromium: merge at the asked
/// sizes, then the demo workload (whose speedup is printed here).
#[cfg(unix)]
fn browser_outcomes(runs: &[RunSpec]) -> Result<Vec<Outcome>, String> {
    let mut backends: Vec<String> = Vec::new();
    let mut ns: Vec<usize> = Vec::new();
    for r in runs.iter().filter(|r| r.shape == Shape::Merge) {
        if !backends.contains(&r.backend) {
            backends.push(r.backend.clone());
        }
        if !ns.contains(&r.n) {
            ns.push(r.n);
        }
    }
    let (reps, workers) = (runs[0].reps, runs[0].workers);
    let measured = crate::wasm::bench(&backends, &ns, reps, workers)?;
    Ok(measured.into_iter().map(Outcome::Ran).collect())
}

/// The transfer rows: one child per size, each measuring rask and the
/// plain TCP reference alternately.
fn transfer_rows(exe: &std::path::Path, options: &Options) -> Result<Vec<String>, String> {
    let sizes = options.ns.clone().unwrap_or_else(|| vec![100_000_000]);
    let reps = options.reps.unwrap_or(5);
    let mut rows = Vec::new();
    for n in sizes {
        eprint!("  transfer          n={n:<9} ");
        let child = Command::new(exe)
            .args(["--transfer", &n.to_string(), "--reps", &reps.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let (status, stdout) = wait_with_timeout(child, RUN_TIMEOUT)?;
        let t = stdout
            .lines()
            .find_map(xtask::transfer::Transfer::from_line)
            .ok_or_else(|| format!("the transfer of {n} bytes printed no result ({status})"))?;
        let (rask, tcp, ratio) = t.rates();
        eprintln!("{rask:.3} GB/s");
        rows.push(format!(
            "transfer of {n} bytes, worker to client (median of {reps}): rask {rask:.3} GB/s ({}), \
             plain TCP into a fresh buffer {tcp:.3} GB/s ({}), ratio {ratio:.2}",
            seconds(t.rask_s),
            seconds(t.tcp_s),
        ));
    }
    Ok(rows)
}

/// Asks the release bench binary how many busy-loop steps take ~5 ms.
fn calibrate_busy(exe: &std::path::Path) -> Result<u64, String> {
    let out = Command::new(exe)
        .arg("--calibrate")
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("calibration printed no number: {e}"))
}

/// Runs one child and reads its JSON line; a crash, a hang or garbage on
/// stdout becomes a failed outcome rather than ending the bench.
fn run_child(exe: &std::path::Path, spec: &RunSpec, busy_iters: Option<u64>) -> Outcome {
    let failed = |error: String| Outcome::Failed {
        backend: spec.backend.clone(),
        graph: spec.shape.name().to_owned(),
        n: spec.n as u64,
        error,
    };
    let mut cmd = Command::new(exe);
    cmd.args(["--backend", &spec.backend, "--graph", spec.shape.name()])
        .args([
            "--n",
            &spec.n.to_string(),
            "--workers",
            &spec.workers.to_string(),
        ])
        .args(["--reps", &spec.reps.to_string()])
        .args(
            busy_iters
                .map(|i| ["--busy-iters".to_owned(), i.to_string()])
                .into_iter()
                .flatten(),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return failed(format!("cannot start {}: {e}", exe.display())),
    };
    let (status, stdout) = match wait_with_timeout(child, RUN_TIMEOUT) {
        Ok(done) => done,
        Err(e) => return failed(e),
    };
    match stdout.lines().rev().find(|l| !l.trim().is_empty()) {
        Some(line) => Outcome::from_json(line).unwrap_or_else(failed),
        None => failed(format!("rask-bench printed no result ({status})")),
    }
}

/// Waits for `child` at most `limit`, reading its stdout meanwhile (so a
/// chatty child never blocks on a full pipe); kills it past the limit.
pub(crate) fn wait_with_timeout(
    mut child: Child,
    limit: Duration,
) -> Result<(std::process::ExitStatus, String), String> {
    let mut pipe = child.stdout.take().ok_or("no stdout pipe")?;
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = pipe.read_to_string(&mut out);
        out
    });
    let deadline = Instant::now() + limit;
    // Polls until the child exits or the deadline passes, whichever is first.
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "killed after {} s without finishing",
                    limit.as_secs()
                ));
            }
            Err(e) => return Err(format!("cannot wait for rask-bench: {e}")),
        }
    };
    let stdout = reader.join().unwrap_or_default();
    Ok((status, stdout))
}

/// The human table: one row per run.
fn table(outcomes: &[Outcome]) -> String {
    let mut out = format!(
        "{:<17} {:<7} {:>9} {:>7} {:>9} {:>9} {:>9} {:>12} {:>9}\n",
        "backend",
        "graph",
        "n",
        "workers",
        "µs/task",
        "tasks/s",
        "wall",
        "peak RSS MiB", // the bench process or its largest worker process, whichever is larger
        "IR B/task"
    );
    for o in outcomes {
        match o {
            Outcome::Ran(r) => {
                out += &format!(
                    "{:<17} {:<7} {:>9} {:>7} {:>9.3} {:>9} {:>9} {:>12.1} {:>9.1}\n",
                    r.backend,
                    r.graph,
                    r.n,
                    r.workers,
                    r.us_per_task,
                    si(r.tasks_per_s),
                    seconds(r.wall_s),
                    r.peak_rss_bytes.max(r.children_peak_rss_bytes) as f64 / (1024.0 * 1024.0),
                    r.ir_bytes_per_task,
                )
            }
            Outcome::Failed {
                backend,
                graph,
                n,
                error,
            } => {
                out += &format!("{backend:<17} {graph:<7} {n:>9} error: {error}\n");
            }
            Outcome::Skipped { .. } => {}
        }
    }
    out
}

/// For each busy run of a parallel backend: its speedup over `sync` on the
/// same graph, against the ideal (its worker count).
fn speedups(outcomes: &[Outcome]) -> Vec<String> {
    let ran: Vec<&Record> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Ran(r) if r.graph == Shape::Busy.name() => Some(r),
            _ => None,
        })
        .collect();
    let mut lines = Vec::new();
    for sync in ran.iter().filter(|r| r.backend == "sync") {
        for r in ran.iter().filter(|r| r.backend != "sync" && r.n == sync.n) {
            lines.push(format!(
                "speedup on busy-{} (~5 ms of CPU per task): {} is {:.2}x sync with {} workers (ideal {}x)",
                r.n,
                r.backend,
                sync.wall_s / r.wall_s,
                r.workers,
                r.workers
            ));
        }
    }
    lines
}

/// `12.3k`, `4.56M`: rates at a glance.
pub(crate) fn si(x: f64) -> String {
    match x {
        x if x >= 1e9 => format!("{:.2}G", x / 1e9),
        x if x >= 1e6 => format!("{:.2}M", x / 1e6),
        x if x >= 1e3 => format!("{:.1}k", x / 1e3),
        x => format!("{x:.0}"),
    }
}

/// `850 µs`, `12.3 ms`, `1.23 s`.
pub(crate) fn seconds(s: f64) -> String {
    match s {
        s if s >= 1.0 => format!("{s:.2} s"),
        s if s >= 1e-3 => format!("{:.1} ms", s * 1e3),
        s => format!("{:.0} µs", s * 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Options, String> {
        let args: Vec<String> = s.split_whitespace().map(str::to_owned).collect();
        Options::parse(&args)
    }

    fn plan(s: &str) -> Vec<(String, &'static str, usize, usize, usize)> {
        let runs = parse(s).unwrap().runs(4);
        runs.into_iter()
            .map(|r| (r.backend, r.shape.name(), r.n, r.workers, r.reps))
            .collect()
    }

    #[test]
    fn parses_every_flag() {
        let o = parse("--backends sync,threads --graphs chain,tree --n 10,1_000 --workers 3 --reps 7 --quick --json out.jsonl")
            .unwrap();
        assert_eq!(
            o.backends,
            Some(vec!["sync".to_owned(), "threads".to_owned()])
        );
        assert_eq!(o.graphs, Some(vec![Shape::Chain, Shape::Tree]));
        assert_eq!(o.ns, Some(vec![10, 1000]));
        assert_eq!((o.workers, o.reps, o.quick), (Some(3), Some(7), true));
        assert_eq!(o.json, Some(PathBuf::from("out.jsonl")));
        assert_eq!(parse("--n=5").unwrap().ns, Some(vec![5]));
    }

    #[test]
    fn transfer_is_a_row_of_its_own_beside_the_graphs() {
        let o = parse("--graphs transfer,chain --n 100").unwrap();
        assert!(o.transfer);
        assert_eq!(o.graphs, Some(vec![Shape::Chain]));
        let o = parse("--graphs transfer").unwrap();
        assert!(o.transfer && o.runs(2).is_empty());
        assert!(!parse("--graphs chain").unwrap().transfer);
    }

    #[test]
    fn rejects_bad_flags() {
        for bad in [
            "--graphs merge,nope",
            "--n 0",
            "--n",
            "--workers x",
            "--reps -1",
            "--quick=1",
            "--backend sync",
            "merge",
            "--backends ,",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn default_run_has_every_backend_overhead_graph_and_a_small_busy_run() {
        let runs = plan("");
        // 5 overhead graphs x 3 sizes x 4 backends, then busy (n=200) and
        // bigdata (n=100) once per backend.
        assert_eq!(runs.len(), 5 * 3 * 4 + 4 + 4);
        assert!(runs.contains(&("threads".into(), "merge", 1_000_000, 4, 3)));
        assert!(runs.contains(&("sync".into(), "chain", 100_000, 4, 5)));
        let busy: Vec<_> = runs.iter().filter(|r| r.1 == "busy").collect();
        assert_eq!(busy.len(), 4);
        assert!(busy.iter().all(|r| r.2 == 200));
        assert!(runs.iter().filter(|r| r.1 == "bigdata").all(|r| r.2 == 100));
        // Backends compared on one graph and size sit on adjacent rows.
        assert_eq!(runs[0].0, "sync");
        assert_eq!(runs[1].0, "threads");
        assert_eq!((runs[0].1, runs[0].2), (runs[1].1, runs[1].2));
    }

    #[test]
    fn quick_is_small_and_leaves_busy_out() {
        let runs = plan("--quick --backends sync");
        assert_eq!(runs.len(), 5 * 2);
        assert!(runs
            .iter()
            .all(|r| r.1 != "busy" && r.2 <= 10_000 && r.4 == 3));
        // Asked for by name, busy stays tiny in quick mode.
        assert_eq!(
            plan("--quick --graphs busy --backends sync"),
            [("sync".into(), "busy", 16, 4, 3)]
        );
    }

    #[test]
    fn n_sizes_busy_only_when_busy_is_named() {
        let runs = plan("--n 50 --backends threads --workers 2 --reps 1");
        assert!(runs.contains(&("threads".into(), "merge", 50, 2, 1)));
        assert!(runs.contains(&("threads".into(), "busy", 200, 2, 1)));
        assert_eq!(
            plan("--graphs busy --n 50 --backends sync"),
            [("sync".into(), "busy", 50, 4, 5)]
        );
    }

    #[test]
    fn futures_rows_run_only_when_named_at_their_own_sizes() {
        let default = plan("--backends distributed");
        assert!(default.iter().all(|r| !r.1.starts_with("futures")));
        assert_eq!(
            plan("--graphs futures-submit,futures-map,futures-many --backends distributed"),
            [
                ("distributed".into(), "futures-submit", 1000, 4, 5),
                ("distributed".into(), "futures-map", 100_000, 4, 5),
                ("distributed".into(), "futures-many", 10_000, 4, 5),
            ]
        );
        assert_eq!(
            plan("--graphs futures-map --n 500 --backends distributed")[0].2,
            500
        );
    }

    #[test]
    fn formats_rates_and_durations() {
        assert_eq!(si(1_234_567.0), "1.23M");
        assert_eq!(si(999.0), "999");
        assert_eq!(seconds(0.0123), "12.3 ms");
        assert_eq!(seconds(2.0), "2.00 s");
        assert_eq!(seconds(0.000_85), "850 µs");
    }
}
