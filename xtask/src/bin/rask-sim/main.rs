//! `rask-sim`: one simulated run, printed as one JSON line (the record
//! `cargo xtask bench` writes, with its `sim` figures). `cargo xtask sim`
//! starts one of these, built in release mode, per row, so that each
//! row's memory is its own.

mod counting;

use std::process::ExitCode;
use std::time::Instant;

use rask_sched_net::sim::{run, Model, SchedulerTime};
use xtask::flags;
use xtask::record::{Outcome, Record, SimFigures};
use xtask::workloads::SimShape;

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

const USAGE: &str = "usage: rask-sim --graph SHAPE --tasks N --workers W \
                     [--threads T] [--latency-us L] [--bandwidth-gbs B]";

/// One row's parameters.
#[derive(Debug)]
struct Row {
    shape: SimShape,
    tasks: usize,
    model: Model,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let row = match parse(&args) {
        Ok(row) => row,
        Err(e) => {
            eprintln!("rask-sim: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let outcome = simulate(&row).unwrap_or_else(|error| Outcome::Failed {
        backend: "sim".into(),
        graph: row.shape.name().into(),
        n: row.tasks as u64,
        error,
    });
    println!("{}", outcome.to_json());
    match outcome {
        Outcome::Ran(_) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

fn parse(args: &[String]) -> Result<Row, String> {
    let spec = &[
        ("graph", true),
        ("tasks", true),
        ("workers", true),
        ("threads", true),
        ("latency-us", true),
        ("bandwidth-gbs", true),
    ];
    let mut shape = None;
    let mut tasks = None;
    let mut model = Model {
        workers: 0,
        ..Model::default()
    };
    for flag in flags::split(args, spec)? {
        let value = flag.value.unwrap_or_default();
        match flag.name.as_str() {
            "graph" => shape = Some(SimShape::from_name(&value)?),
            "tasks" => tasks = Some(flags::positive(&value, "--tasks")?),
            "workers" => model.workers = small(flags::positive(&value, "--workers")?)?,
            "threads" => model.threads = small(flags::positive(&value, "--threads")?)?,
            "latency-us" => {
                model.latency_ns = value
                    .parse::<f64>()
                    .ok()
                    .filter(|l| l.is_finite() && *l >= 0.0)
                    .map(|l| (l * 1e3) as u64)
                    .ok_or(format!(
                        "--latency-us must be a number of µs, not `{value}`"
                    ))?;
            }
            "bandwidth-gbs" => {
                model.bytes_per_ns = value
                    .parse::<f64>()
                    .ok()
                    .filter(|b| b.is_finite() && *b > 0.0)
                    .ok_or(format!("--bandwidth-gbs must be positive, not `{value}`"))?;
            }
            _ => unreachable!("flags::split only returns flags of the spec"),
        }
    }
    match (shape, tasks, model.workers) {
        (Some(shape), Some(tasks), 1..) => Ok(Row {
            shape,
            tasks,
            model,
        }),
        _ => Err("--graph, --tasks and --workers are required".into()),
    }
}

fn small(n: usize) -> Result<u32, String> {
    u32::try_from(n).map_err(|_| format!("{n} is too many"))
}

fn simulate(row: &Row) -> Result<Outcome, String> {
    let built = Instant::now();
    let work = row.shape.build(row.tasks)?;
    let build_s = built.elapsed().as_secs_f64();
    let model = Model {
        scheduler_time: SchedulerTime::Measured,
        ..row.model
    };
    let read_cost = counting::read_cost_ns();
    let (started, cpu_before) = (Instant::now(), cpu_s());
    let r = run(&work, &model, &mut counting::Meter).map_err(|e| e.to_string())?;
    let sim_wall_s = started.elapsed().as_secs_f64();
    let cpu_share = cpu_s()
        .zip(cpu_before)
        .map(|(after, before)| ((after - before) / sim_wall_s.max(1e-9)).min(1.0));
    let tasks = r.tasks.max(1) as f64;
    let workers = f64::from(model.workers.max(1));
    let scheduler_s = r.scheduler_ns() as f64 / 1e9;
    let after_join = r.held_after_join.unwrap_or(0);
    let peak = r.held_peak.unwrap_or(0).max(after_join);
    let per_task_bytes = (peak - after_join) as f64 / tasks;
    let s = |ns: u64| ns as f64 / 1e9;
    let figures = SimFigures {
        threads: u64::from(model.threads),
        latency_us: model.latency_ns as f64 / 1e3,
        bandwidth_gb_s: model.bytes_per_ns,
        scheduler_us_per_task: scheduler_s * 1e6 / tasks,
        scheduler_cpu_us_per_task: r
            .cpu_ns
            .map(|c| c.saturating_sub(read_cost * r.cpu_reads) as f64 / 1e3 / tasks),
        cpu_share,
        submit_s: s(r.submit_ns),
        join_us_per_worker: r.join_ns as f64 / 1e3 / workers,
        decisions_per_s: r.decisions as f64 / scheduler_s.max(1e-9),
        decisions: r.decisions,
        turns: r.turns,
        steals: r.steals,
        memory_by: "counting allocator: bytes allocated in scheduler handlers, less those freed \
                    there; peak sampled after every turn"
            .into(),
        scheduler_bytes_per_task: per_task_bytes,
        scheduler_bytes_per_worker: after_join as f64 / workers,
        bytes_moved: r.bytes_moved,
        makespan_s: s(r.makespan_ns),
        ideal_s: s(r.ideal_ns),
        critical_path_s: s(r.critical_path_ns),
        makespan_ratio: r.makespan_ns as f64 / r.ideal_ns.max(r.critical_path_ns).max(1) as f64,
        sim_wall_s,
    };
    Ok(Outcome::Ran(Record {
        backend: "sim".into(),
        graph: row.shape.name().into(),
        n: row.tasks as u64,
        tasks: r.tasks,
        workers: u64::from(model.workers),
        reps: 1,
        wall_s: scheduler_s,
        us_per_task: figures.scheduler_us_per_task,
        tasks_per_s: tasks / scheduler_s.max(1e-9),
        peak_rss_bytes: peak_rss_bytes(),
        children_peak_rss_bytes: 0,
        ir_bytes_per_task: per_task_bytes,
        build_s,
        sim: Some(Box::new(figures)),
    }))
}

/// CPU time this process has used, user and system, in seconds.
#[cfg(unix)]
fn cpu_s() -> Option<f64> {
    use nix::sys::resource::{getrusage, UsageWho};
    let u = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    let s = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
    Some(s(u.user_time()) + s(u.system_time()))
}

#[cfg(not(unix))]
fn cpu_s() -> Option<f64> {
    None
}

/// This process's peak resident memory (`VmHWM`), 0 where unknown.
fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb * 1024)
        })
        .unwrap_or(0)
}
