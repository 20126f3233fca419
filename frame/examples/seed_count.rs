//! The seed's CSV cell as a benchmark: count `Key` over `data1/*.csv`
//! (4 × 2,000,000 rows) on the sync, threads and processes schedulers, and
//! the per-file `delayed` form of the notebook, printing wall times.
//!
//! `cargo run --release -p rask-frame --example seed_count [-- DIR [REPEATS [BACKEND,...]]]`

use std::time::Instant;

use rask::{delayed, delayed_many, fallible, Inputs, Options};
use rask_frame::{read_csv, CsvOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "data1".to_owned());
    let repeats: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let backends = args
        .next()
        .unwrap_or_else(|| "sync,threads,processes".to_owned());
    let backends: Vec<&str> = backends.split(',').collect();
    let start = Instant::now();
    let files = rask_frame::seed_data::write(&dir)?;
    println!("data ready in {:.2} s", start.elapsed().as_secs_f64());

    let pattern = format!("{dir}/*.csv");
    let expected = rask_frame::seed_data::ROWS * files.len() as u64;
    println!("{:<28} {:>10} {:>10}  result", "how", "best s", "median s");
    for &backend in &backends {
        let sched = rask::scheduler_by_name(backend, None)?;
        let mut times = Vec::new();
        let mut count = 0;
        for _ in 0..repeats {
            let t = Instant::now();
            // The whole cell: list and read headers, build the graph, compute.
            let frame = read_csv(pattern.as_str(), CsvOptions::default())?;
            count = frame.column("Key")?.count().compute_with(&*sched)?;
            times.push(t.elapsed().as_secs_f64());
        }
        report(
            &format!("read_csv count, {backend}"),
            &mut times,
            count,
            expected,
        );
    }

    // The notebook's form: one delayed read-and-count per file, then a sum.
    let per_file = delayed(fallible(rask_frame::count_column));
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let tasks: Vec<_> = names
        .iter()
        .map(|f| per_file.call((f.clone(), "Key")))
        .collect();
    let total = delayed_many(|xs: Inputs<u64>| xs.sum::<u64>()).call(tasks);
    for &backend in &backends {
        let options = Options::new().scheduler(backend);
        let mut times = Vec::new();
        let mut count = 0;
        for _ in 0..repeats {
            let t = Instant::now();
            count = total.compute_with(&options)?;
            times.push(t.elapsed().as_secs_f64());
        }
        report(
            &format!("delayed per file, {backend}"),
            &mut times,
            count,
            expected,
        );
    }
    Ok(())
}

fn report(how: &str, times: &mut [f64], count: u64, expected: u64) {
    times.sort_by(f64::total_cmp);
    let ok = if count == expected { "ok" } else { "WRONG" };
    println!(
        "{how:<28} {:>10.3} {:>10.3}  {count} {ok}",
        times[0],
        times[times.len() / 2]
    );
}
