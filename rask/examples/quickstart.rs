//! The main job: the seed notebook, cell by cell, on every scheduler this
//! build has, with a table of timings at the end.
//!
//! `cargo run --release --example quickstart [-- --small]`
//!
//! 1. `delayed(read_csv)(file)["Key"].count()` over the four seed files,
//!    summed, on `sync`, `processes` and `threads` (the data is written to
//!    `data1/` first if it is missing: 4 × 2,000,000 rows).
//! 2. A local cluster (`Client::local()`) computes the seed's array,
//!    `(arcsin(x) + arccos(y)).sum(axis=(1, 2))` over two random
//!    (10000, 10000, 10) arrays in (1000, 1000, 5) chunks: 16 GB of values
//!    generated and consumed chunk by chunk. `--small` makes it
//!    (1000, 1000, 10). The same array on `threads`, with a progress bar,
//!    for comparison.
//! 3. `map(square, 1..10)`, `submit(sum, A)`, `gather(A)` on the cluster.
//! 4. A dataset: the head of `data1/1.csv` published, listed, read back.
//! 5. A streaming map: results in completion order, at most 8 in flight.

use std::f64::consts::FRAC_PI_2;
use std::time::Instant;

use rask::{delayed, delayed_many, fallible, Backend, Inputs, Options, ProgressBar};
use rask_frame::Batch;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// One row of the closing table.
struct Row {
    step: &'static str,
    scheduler: &'static str,
    seconds: f64,
    result: String,
}

fn square(x: &i64) -> i64 {
    x * x
}

fn total(xs: Inputs<i64>) -> i64 {
    xs.sum()
}

fn main() -> Result<()> {
    let small = std::env::args().any(|a| a == "--small");
    let mut rows = Vec::new();
    let mut backends = Vec::new();
    for b in Backend::ALL {
        match rask::scheduler(b, None) {
            Ok(_) => backends.push(b),
            // `distributed` is made below, by `Client::local()`.
            Err(_) if b == Backend::Distributed => {}
            Err(e) => println!("skipping the `{}` scheduler: {e}", b.name()),
        }
    }

    csv_counts(&backends, &mut rows)?;
    cluster_steps(small, &backends, &mut rows)?;

    println!(
        "\n{:<34} {:<12} {:>10}  result",
        "step", "scheduler", "wall"
    );
    for r in &rows {
        println!(
            "{:<34} {:<12} {:>8.3} s  {}",
            r.step, r.scheduler, r.seconds, r.result
        );
    }
    Ok(())
}

/// Cell 1: the per-file delayed count of `Key`, summed, on each
/// single-machine scheduler in the seed's order.
fn csv_counts(backends: &[Backend], rows: &mut Vec<Row>) -> Result<()> {
    let start = Instant::now();
    let files = rask_frame::seed_data::write("data1")?;
    println!(
        "seed data: {} files of {} rows in data1/ (ready in {:.1} s)",
        files.len(),
        rask_frame::seed_data::ROWS,
        start.elapsed().as_secs_f64()
    );
    let read_and_count = delayed(fallible(rask_frame::count_column));
    let tasks: Vec<_> = files
        .iter()
        .map(|f| read_and_count.call((f.display().to_string(), "Key")))
        .collect();
    let result = delayed_many(|xs: Inputs<u64>| xs.sum::<u64>()).call(tasks);
    let expected = rask_frame::seed_data::ROWS * files.len() as u64;
    for name in ["sync", "processes", "threads"] {
        let Some(&b) = backends.iter().find(|b| b.name() == name) else {
            continue;
        };
        let start = Instant::now();
        let count = result.compute_with(&Options::new().scheduler(b.name()))?;
        let seconds = start.elapsed().as_secs_f64();
        if count != expected {
            return Err(format!("counted {count} keys on {name}, expected {expected}").into());
        }
        rows.push(Row {
            step: "1. read_csv, Key count, sum",
            scheduler: b.name(),
            seconds,
            result: count.to_string(),
        });
    }
    println!("1. {expected} keys counted on each scheduler");
    Ok(())
}

/// Cells 2 to 5, on a local cluster.
#[cfg(all(feature = "net", unix))]
fn cluster_steps(small: bool, backends: &[Backend], rows: &mut Vec<Row>) -> Result<()> {
    use rask::Client;

    let start = Instant::now();
    let client = Client::local()?;
    println!(
        "2. local cluster: {} workers, started in {:.0} ms",
        client.workers().len(),
        start.elapsed().as_secs_f64() * 1e3
    );

    // Cell 2: the array, on the cluster and, for comparison, on threads.
    let (shape, chunks) = if small {
        ([1000, 1000, 10], [250, 250, 5])
    } else {
        ([10000, 10000, 10], [1000, 1000, 5])
    };
    let x = rask_array::random(&shape, &chunks, 1)?;
    let y = rask_array::random(&shape, &chunks, 2)?;
    let z = (x.arcsin() + y.arccos()).sum(&[1, 2]);
    // Each output sums n1 * n2 values whose mean is E[arcsin U] + E[arccos U].
    let expected_mean = (shape[1] * shape[2]) as f64 * FRAC_PI_2;
    let mut run_array = |scheduler: &dyn rask::Scheduler, bar: bool| -> Result<()> {
        let start = Instant::now();
        let out = if bar {
            z.compute_with_events(scheduler, &ProgressBar::new())?
        } else {
            z.compute_with(scheduler)?
        };
        let seconds = start.elapsed().as_secs_f64();
        let mean = out.mean().unwrap_or(f64::NAN);
        if (mean / expected_mean - 1.0).abs() > 1e-3 {
            return Err(format!("array mean {mean}, expected about {expected_mean}").into());
        }
        rows.push(Row {
            step: "2. (arcsin(x)+arccos(y)).sum(1,2)",
            scheduler: scheduler.name(),
            seconds,
            result: format!("{} values, mean {mean:.1}", out.len()),
        });
        Ok(())
    };
    run_array(client.raw(), false)?;
    if let Some(&threads) = backends.iter().find(|b| **b == Backend::Threads) {
        run_array(&*rask::scheduler(threads, None)?, true)?;
    }
    println!(
        "2. array {shape:?} in {chunks:?} chunks: mean ≈ {expected_mean:.0} per element, as expected"
    );

    // Cell 3: map, submit, gather.
    let start = Instant::now();
    let a = client.map(square, 1..10i64)?;
    let sum = client.submit(total, &a)?;
    let value = sum.result()?;
    let squares = client.gather(&a)?;
    rows.push(Row {
        step: "3. map(square), submit(sum)",
        scheduler: "distributed",
        seconds: start.elapsed().as_secs_f64(),
        result: format!("{value}, {squares:?}"),
    });
    println!("3. total.result() = {value}; gather(A) = {squares:?}");

    // Cell 4: a dataset shared through the scheduler.
    let start = Instant::now();
    let head = rask_frame::read_csv("data1/1.csv", rask_frame::CsvOptions::default())?
        .head(5)
        .compute_with(client.raw())?;
    client.publish_value("df1", head)?;
    let names = client.list_datasets()?;
    let df1 = client.get_dataset::<Batch>("df1")?[0].result()?;
    rows.push(Row {
        step: "4. publish, list, get dataset",
        scheduler: "distributed",
        seconds: start.elapsed().as_secs_f64(),
        result: format!("{names:?}, {} rows", df1.num_rows()),
    });
    println!("4. datasets {names:?}; df1 =\n{}", table(&df1));
    client.unpublish_dataset("df1")?;

    // Cell 5: streaming, with a bound on the work in flight.
    let start = Instant::now();
    let mut order = Vec::new();
    for r in client.map_stream(square, 1..=100i64, 8) {
        order.push(r?);
    }
    let streamed: i64 = order.iter().sum();
    rows.push(Row {
        step: "5. map_stream(square, 1..=100)",
        scheduler: "distributed",
        seconds: start.elapsed().as_secs_f64(),
        result: format!("sum {streamed}"),
    });
    println!(
        "5. streamed 100 squares, first back: {:?}, sum {streamed}",
        &order[..5]
    );
    Ok(())
}

#[cfg(not(all(feature = "net", unix)))]
fn cluster_steps(_: bool, _: &[Backend], _: &mut Vec<Row>) -> Result<()> {
    println!("skipping steps 2-5: this build has no `distributed` scheduler (feature `net`)");
    Ok(())
}

/// A batch as a small text table, one line per row.
fn table(batch: &Batch) -> String {
    use arrow_array::{Array, Float64Array, Int64Array, StringArray};
    let mut out = String::new();
    let names: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    out.push_str(&format!("   {}\n", names.join("\t")));
    for row in 0..batch.num_rows() {
        let cells: Vec<String> = batch
            .columns()
            .iter()
            .map(|c| {
                let any = c.as_any();
                if c.is_null(row) {
                    String::new()
                } else if let Some(a) = any.downcast_ref::<Int64Array>() {
                    a.value(row).to_string()
                } else if let Some(a) = any.downcast_ref::<Float64Array>() {
                    format!("{:.3}", a.value(row))
                } else if let Some(a) = any.downcast_ref::<StringArray>() {
                    a.value(row).to_owned()
                } else {
                    "?".to_owned()
                }
            })
            .collect();
        out.push_str(&format!("{row:<2} {}\n", cells.join("\t")));
    }
    out
}
