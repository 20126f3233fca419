//! `cargo xtask sim`: the distributed scheduler's real state machine
//! driven by simulated workers in virtual time (see
//! `rask_sched_net::sim`), at cluster sizes this machine cannot host.
//!
//! Each row runs in a fresh `rask-sim` process built in release mode, so
//! its memory figures are its own. Rows go to the same JSON lines as
//! `cargo xtask bench` (backend `sim`, with a `sim` object of the
//! simulated cluster's parameters and what the run measured), and the
//! table ends with the issue's targets, met or missed.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use xtask::flags;
use xtask::record::{Outcome, Record};
use xtask::workloads::SimShape;

use crate::bench::{seconds, si, wait_with_timeout};
use crate::command::release_bin;

/// Rows at 1,000 workers take minutes (the scheduler's cost per turn
/// grows with the worker count), so the CI-sized default stops at 100.
const QUICK_WORKERS: &[usize] = &[10, 100];
const FULL_WORKERS: &[usize] = &[10, 100, 1_000, 10_000];
const QUICK_TASKS: usize = 100_000;
const FULL_TASKS: usize = 1_000_000;
/// A row taking longer is killed and shown as failed.
const ROW_TIMEOUT: Duration = Duration::from_secs(1_800);

const HELP: &str = "\
usage: cargo xtask sim [flags]

  --graphs a,b        merge, tree, chain, shuffle, array (default: all)
  --workers N[,N...]  simulated workers (default: 10,100)
  --tasks N           tasks per graph (default: 100000)
  --threads T         threads per worker (default: 4)
  --latency-us L      one-way message latency (default: 100)
  --bandwidth-gbs B   bandwidth into each worker (default: 1)
  --full              the issue's table: 1,000,000 tasks at 10,100,1000,10000 workers
  --json FILE         also write one JSON line per row to FILE";

/// The command line of `cargo xtask sim`.
#[derive(Clone, Debug, PartialEq)]
struct Options {
    shapes: Vec<SimShape>,
    workers: Vec<usize>,
    tasks: usize,
    threads: usize,
    latency_us: String,
    bandwidth_gbs: String,
    json: Option<PathBuf>,
    help: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let spec = &[
            ("graphs", true),
            ("workers", true),
            ("tasks", true),
            ("threads", true),
            ("latency-us", true),
            ("bandwidth-gbs", true),
            ("full", false),
            ("json", true),
            ("help", false),
        ];
        let given = flags::split(args, spec)?;
        let full = given.iter().any(|f| f.name == "full");
        let mut o = Options {
            shapes: SimShape::ALL.to_vec(),
            workers: (if full { FULL_WORKERS } else { QUICK_WORKERS }).to_vec(),
            tasks: if full { FULL_TASKS } else { QUICK_TASKS },
            threads: 4,
            latency_us: "100".into(),
            bandwidth_gbs: "1".into(),
            json: None,
            help: false,
        };
        for flag in given {
            let value = flag.value.unwrap_or_default();
            match flag.name.as_str() {
                "graphs" => {
                    let names = flags::list(&value);
                    if names.is_empty() {
                        return Err("--graphs needs at least one name".into());
                    }
                    o.shapes = names
                        .iter()
                        .map(|n| SimShape::from_name(n))
                        .collect::<Result<_, _>>()?;
                }
                "workers" => o.workers = flags::positives(&value, "--workers")?,
                "tasks" => o.tasks = flags::positive(&value, "--tasks")?,
                "threads" => o.threads = flags::positive(&value, "--threads")?,
                // The child checks these numbers; they pass through as given.
                "latency-us" => o.latency_us = value,
                "bandwidth-gbs" => o.bandwidth_gbs = value,
                "json" if value.is_empty() => return Err("--json needs a file name".into()),
                "json" => o.json = Some(PathBuf::from(value)),
                "full" => {}
                "help" => o.help = true,
                _ => unreachable!("flags::split only returns flags of the spec"),
            }
        }
        Ok(o)
    }

    /// The child's flags for each row: graph by graph, workers ascending.
    fn rows(&self) -> Vec<(SimShape, Vec<String>)> {
        let mut rows = Vec::new();
        for &shape in &self.shapes {
            for &w in &self.workers {
                let args = [
                    ("--graph", shape.name().to_owned()),
                    ("--tasks", self.tasks.to_string()),
                    ("--workers", w.to_string()),
                    ("--threads", self.threads.to_string()),
                    ("--latency-us", self.latency_us.clone()),
                    ("--bandwidth-gbs", self.bandwidth_gbs.clone()),
                ];
                let args = args
                    .into_iter()
                    .flat_map(|(k, v)| [k.to_owned(), v])
                    .collect();
                rows.push((shape, args));
            }
        }
        rows
    }
}

/// `cargo xtask sim [flags]`.
pub fn main(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args).map_err(|e| format!("{e}\n\n{HELP}"))?;
    if options.help {
        println!("{HELP}");
        return Ok(());
    }
    let exe = release_bin("rask-sim")?;
    let mut outcomes = Vec::new();
    for (shape, args) in options.rows() {
        eprint!("  sim {:<8} {} ", shape.name(), args[5]);
        let outcome = row(&exe, shape, &options, &args);
        eprintln!(
            "{}",
            match &outcome {
                Outcome::Ran(r) => format!("{:.3} µs/task", r.us_per_task),
                _ => "FAILED".to_owned(),
            }
        );
        outcomes.push(outcome);
    }
    println!();
    print!("{}", table(&outcomes));
    println!(
        "µs/task: real time in the scheduler's handlers per task; cpu µs/t: the same in thread \
         CPU time; cpu: CPU time the process got over its wall time (below 100%, µs/task \
         includes waiting for a core); B/task, \
         B/worker: scheduler heap by a counting allocator; ratio: makespan over the larger of \
         the ideal and the critical path"
    );
    for line in targets(&outcomes) {
        println!("{line}");
    }
    if let Some(path) = &options.json {
        let text: String = outcomes.iter().map(|o| o.to_json() + "\n").collect();
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("wrote {} JSON lines to {}", outcomes.len(), path.display());
    }
    match outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Failed { .. }))
        .count()
    {
        0 => Ok(()),
        n => Err(format!("{n} of {} simulated runs failed", outcomes.len())),
    }
}

/// Runs one child; a crash, a hang or garbage becomes a failed row.
fn row(exe: &std::path::Path, shape: SimShape, options: &Options, args: &[String]) -> Outcome {
    let failed = |error: String| Outcome::Failed {
        backend: "sim".into(),
        graph: shape.name().into(),
        n: options.tasks as u64,
        error,
    };
    let child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(e) => return failed(format!("cannot start {}: {e}", exe.display())),
    };
    match wait_with_timeout(child, ROW_TIMEOUT) {
        Ok((status, stdout)) => match stdout.lines().rev().find(|l| !l.trim().is_empty()) {
            Some(line) => Outcome::from_json(line).unwrap_or_else(failed),
            None => failed(format!("rask-sim printed no result ({status})")),
        },
        Err(e) => failed(e),
    }
}

/// The human table: the cluster's parameters, then what was measured.
fn table(outcomes: &[Outcome]) -> String {
    let mut out = format!(
        "{:<8} {:>8} {:>7} {:>3} {:>6} {:>9} {:>9} {:>5} {:>8} {:>9} {:>9} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>6} {:>8}\n",
        "graph", "tasks", "workers", "thr", "lat µs", "µs/task", "cpu µs/t", "cpu", "submit", "join µs/w",
        "decide/s", "B/task", "B/worker", "moved", "makespan", "ideal", "crit path", "ratio",
        "sim wall",
    );
    for o in outcomes {
        match o {
            Outcome::Ran(Record {
                graph,
                tasks,
                workers,
                sim: Some(s),
                ..
            }) => {
                out += &format!(
                    "{:<8} {:>8} {:>7} {:>3} {:>6} {:>9.3} {:>9} {:>5} {:>8} {:>9.1} {:>9} {:>8.0} {:>8.0} {:>8} {:>9} {:>9} {:>9} {:>6.3} {:>8}\n",
                    graph,
                    tasks,
                    workers,
                    s.threads,
                    s.latency_us,
                    s.scheduler_us_per_task,
                    s.scheduler_cpu_us_per_task
                        .map_or("-".to_owned(), |c| format!("{c:.3}")),
                    s.cpu_share.map_or("-".to_owned(), |c| format!("{:.0}%", c * 100.0)),
                    seconds(s.submit_s),
                    s.join_us_per_worker,
                    si(s.decisions_per_s),
                    s.scheduler_bytes_per_task,
                    s.scheduler_bytes_per_worker,
                    bytes(s.bytes_moved),
                    seconds(s.makespan_s),
                    seconds(s.ideal_s),
                    seconds(s.critical_path_s),
                    s.makespan_ratio,
                    seconds(s.sim_wall_s),
                );
            }
            Outcome::Failed {
                graph, n, error, ..
            } => out += &format!("{graph:<8} {n:>8} error: {error}\n"),
            _ => {}
        }
    }
    out
}

/// The issue's targets, each with the rows that decide it.
fn targets(outcomes: &[Outcome]) -> Vec<String> {
    let rows: Vec<&Record> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Ran(r) if r.sim.is_some() => Some(r),
            _ => None,
        })
        .collect();
    let mut lines = vec![String::new(), "targets:".to_owned()];
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    for r in rows.iter().filter(|r| r.workers == 1_000) {
        let Some(s) = &r.sim else { continue };
        lines.push(format!(
            "  {} at 1000 workers, {} tasks: {:.3} µs/task of scheduler CPU (≤ 2: {}), {:.0} B/task (≤ 200: {})",
            r.graph,
            r.tasks,
            cost(r),
            verdict(cost(r) <= 2.0),
            s.scheduler_bytes_per_task,
            verdict(s.scheduler_bytes_per_task <= 200.0),
        ));
    }
    for r in rows.iter().filter(|r| r.graph == SimShape::Merge.name()) {
        let Some(s) = &r.sim else { continue };
        lines.push(format!(
            "  merge (embarrassingly parallel) at {} workers: makespan {:.3}x the ideal (≤ 1.10: {})",
            r.workers,
            s.makespan_ratio,
            verdict(s.makespan_ratio <= 1.10)
        ));
    }
    // Per graph: cost per task at the most workers over the fewest, beside
    // the growth of log2(workers) between them.
    for shape in SimShape::ALL {
        let mut of: Vec<&&Record> = rows.iter().filter(|r| r.graph == shape.name()).collect();
        of.sort_by_key(|r| r.workers);
        let (Some(lo), Some(hi)) = (of.first(), of.last()) else {
            continue;
        };
        if lo.workers == hi.workers || cost(lo) <= 0.0 {
            continue;
        }
        let growth = cost(hi) / cost(lo);
        let log_growth = (hi.workers as f64).log2() / (lo.workers.max(2) as f64).log2();
        lines.push(format!(
            "  {} from {} to {} workers: cost per task x{:.2}, log2(workers) x{:.2} (no faster than logarithmic: {})",
            shape.name(),
            lo.workers,
            hi.workers,
            growth,
            log_growth,
            verdict(growth <= log_growth * 1.1),
        ));
    }
    lines
}

/// Scheduler cost per task, µs: CPU time where measured, else real time.
fn cost(r: &Record) -> f64 {
    r.sim
        .as_ref()
        .and_then(|s| s.scheduler_cpu_us_per_task)
        .unwrap_or(r.us_per_task)
}

/// `12.3 GB`, `45.6 MB`, `789 kB`.
fn bytes(b: u64) -> String {
    match b as f64 {
        x if x >= 1e9 => format!("{:.1} GB", x / 1e9),
        x if x >= 1e6 => format!("{:.1} MB", x / 1e6),
        x if x >= 1e3 => format!("{:.0} kB", x / 1e3),
        x => format!("{x:.0} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Options, String> {
        let args: Vec<String> = s.split_whitespace().map(str::to_owned).collect();
        Options::parse(&args)
    }

    #[test]
    fn defaults_are_ci_sized_and_full_is_the_issue_table() {
        let quick = parse("").unwrap();
        assert_eq!(
            (quick.tasks, quick.workers.as_slice()),
            (100_000, QUICK_WORKERS)
        );
        assert_eq!(quick.rows().len(), 5 * 2);
        let full = parse("--full").unwrap();
        assert_eq!(
            (full.tasks, full.workers.as_slice()),
            (1_000_000, FULL_WORKERS)
        );
        let narrowed = parse("--full --graphs merge --workers 7 --tasks 50").unwrap();
        let rows = narrowed.rows();
        assert_eq!(rows.len(), 1);
        let args = rows[0].1.join(" ");
        assert!(
            args.starts_with("--graph merge --tasks 50 --workers 7 --threads 4"),
            "{args}"
        );
    }

    #[test]
    fn rejects_bad_flags() {
        for bad in [
            "--graphs nope",
            "--workers 0",
            "--tasks",
            "--full=1",
            "--json=",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn formats_bytes() {
        assert_eq!(bytes(12), "12 B");
        assert_eq!(bytes(45_600_000), "45.6 MB");
    }
}
