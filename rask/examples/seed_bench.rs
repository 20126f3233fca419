//! The seed notebook's two heavy workloads as a benchmark, each run in a
//! fresh process of its own so that its wall time and peak memory are its
//! alone: the full-size array `(arcsin(x) + arccos(y)).sum(axis=(1, 2))`
//! and the CSV key count over `data1/*.csv`. With Python Dask installed
//! (`pip install dask distributed pandas numpy`), the same workloads run in
//! Dask too, for rows side by side.
//!
//! `cargo xtask seed-bench [--small] [--reps N]`, or
//! `cargo run --release -p rask --example seed_bench -- [--small] [--reps N]`.

use std::f64::consts::FRAC_PI_2;
use std::process::Command;
use std::time::Instant;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// (workload, scheduler) pairs measured, in order.
const RUNS: &[(&str, &str)] = &[
    ("array", "threads"),
    ("array", "processes"),
    ("array", "distributed"),
    ("csv", "sync"),
    ("csv", "threads"),
    ("csv", "processes"),
];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let small = args.iter().any(|a| a == "--small");
    if let [flag, workload, scheduler, ..] = args.as_slice() {
        if flag == "--one" {
            return one(workload, scheduler, small);
        }
    }
    let reps: usize = args
        .iter()
        .position(|a| a == "--reps")
        .and_then(|i| args.get(i + 1))
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let files = rask_frame::seed_data::write("data1")?;
    println!(
        "data1/: {} files ready; {reps} runs each, medians",
        files.len()
    );
    println!(
        "\n{:<8} {:<10} {:<12} {:>10} {:>14}",
        "system", "workload", "scheduler", "wall s", "peak RSS MiB"
    );
    for &(workload, scheduler) in RUNS {
        let mut walls = Vec::new();
        let mut peaks = Vec::new();
        for _ in 0..reps {
            let (wall, peak) = child(workload, scheduler, small)?;
            walls.push(wall);
            peaks.push(peak);
        }
        row("rask", workload, scheduler, &mut walls, &mut peaks);
    }
    dask_rows(small, reps)?;
    Ok(())
}

fn row(system: &str, workload: &str, scheduler: &str, walls: &mut [f64], peaks: &mut [f64]) {
    walls.sort_by(f64::total_cmp);
    peaks.sort_by(f64::total_cmp);
    println!(
        "{system:<8} {workload:<10} {scheduler:<12} {:>10.3} {:>14.1}",
        walls[walls.len() / 2],
        peaks[peaks.len() / 2] / (1024.0 * 1024.0)
    );
}

/// Runs one workload in a child process; its wall time and peak RSS.
fn child(workload: &str, scheduler: &str, small: bool) -> Result<(f64, f64)> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["--one", workload, scheduler]);
    if small {
        cmd.arg("--small");
    }
    let out = cmd.output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{workload} on {scheduler} failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let mut fields = text.split_whitespace().map(str::parse::<f64>);
    match (fields.next(), fields.next()) {
        (Some(Ok(wall)), Some(Ok(peak))) => Ok((wall, peak)),
        _ => Err(format!("unreadable child output: {text}").into()),
    }
}

/// The child: runs the workload once and prints `wall_seconds peak_bytes`.
fn one(workload: &str, scheduler: &str, small: bool) -> Result<()> {
    let _cluster = if scheduler == "distributed" {
        Some(rask::Client::local()?)
    } else {
        None
    };
    let sched = rask::scheduler_by_name(scheduler, None)?;
    let start = Instant::now();
    match workload {
        "array" => {
            let (shape, chunks) = if small {
                ([1000, 1000, 10], [250, 250, 5])
            } else {
                ([10_000, 10_000, 10], [1000, 1000, 5])
            };
            let x = rask_array::random(&shape, &chunks, 1)?;
            let y = rask_array::random(&shape, &chunks, 2)?;
            let out = (x.arcsin() + y.arccos())
                .sum(&[1, 2])
                .compute_with(&*sched)?;
            let expected = (shape[1] * shape[2]) as f64 * FRAC_PI_2;
            let mean = out.mean().unwrap_or(f64::NAN);
            if (mean / expected - 1.0).abs() > 1e-3 {
                return Err(format!("array mean {mean}, expected {expected}").into());
            }
        }
        "csv" => {
            let df = rask_frame::read_csv("data1/*.csv", rask_frame::CsvOptions::default())?;
            let count = df.column("Key")?.count().compute_with(&*sched)?;
            if count != 8_000_000 {
                return Err(format!("counted {count} keys, expected 8000000").into());
            }
        }
        other => return Err(format!("unknown workload `{other}`").into()),
    }
    println!("{} {}", start.elapsed().as_secs_f64(), peak_rss_bytes());
    Ok(())
}

/// This process's peak resident memory (`VmHWM`), in bytes.
fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The same workloads in Python Dask, when it is installed.
fn dask_rows(small: bool, reps: usize) -> Result<()> {
    let probe = Command::new("python3")
        .args(["-c", "import dask.array, dask.delayed, pandas, numpy"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        println!(
            "\nPython Dask is not installed: no side-by-side rows \
             (pip install dask distributed pandas numpy)"
        );
        return Ok(());
    }
    let shape = if small {
        "(1000, 1000, 10)"
    } else {
        "(10000, 10000, 10)"
    };
    let chunks = if small {
        "(250, 250, 5)"
    } else {
        "(1000, 1000, 5)"
    };
    for (workload, scheduler) in [
        ("array", "threads"),
        ("csv", "sync"),
        ("csv", "threads"),
        ("csv", "processes"),
    ] {
        let body = match workload {
            "array" => format!(
                "import dask.array as da\n\
                 x = da.random.random({shape}, chunks={chunks})\n\
                 y = da.random.random({shape}, chunks={chunks})\n\
                 (da.arcsin(x) + da.arccos(y)).sum(axis=(1, 2)).compute(scheduler='{scheduler}')\n"
            ),
            _ => format!(
                "import pandas as pd\nfrom dask import delayed\n\
                 tasks = [delayed(pd.read_csv)(f'data1/{{i}}.csv')['Key'].count() for i in range(1, 5)]\n\
                 assert delayed(sum)(tasks).compute(scheduler='{scheduler}') == 8000000\n"
            ),
        };
        let script = format!(
            "import time, resource\nt = time.perf_counter()\n{body}\
             print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)\n"
        );
        let mut walls = Vec::new();
        let mut peaks = Vec::new();
        for _ in 0..reps {
            let out = Command::new("python3").args(["-c", &script]).output()?;
            let text = String::from_utf8_lossy(&out.stdout);
            let mut f = text.split_whitespace().map(str::parse::<f64>);
            if let (Some(Ok(w)), Some(Ok(p))) = (f.next(), f.next()) {
                walls.push(w);
                peaks.push(p);
            } else {
                println!(
                    "dask {workload} on {scheduler} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                break;
            }
        }
        if !walls.is_empty() {
            row("dask", workload, scheduler, &mut walls, &mut peaks);
        }
    }
    Ok(())
}
