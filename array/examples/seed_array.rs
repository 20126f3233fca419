//! The seed's array workload at full size: `(arcsin(x) + arccos(y)).sum(axis=(1, 2))`
//! over two random (10000, 10000, 10) arrays in (1000, 1000, 5) chunks.
//!
//! `cargo run --release -p rask-array --example seed_array -- [scheduler] [workers]`
//! (scheduler: sync, threads (default), processes, distributed).

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let name = args.get(1).map_or("threads", String::as_str);
    let workers = args.get(2).and_then(|w| w.parse().ok());
    let _cluster = (name == "distributed").then(|| {
        rask::Client::local_with(rask::distributed::LocalOptions {
            workers: workers.unwrap_or(2),
            ..Default::default()
        })
    });
    let scheduler = rask::scheduler_by_name(name, workers)?;

    let shape = [10_000, 10_000, 10];
    let chunks = [1000, 1000, 5];
    let x = rask_array::random(&shape, &chunks, 0)?;
    let y = rask_array::random(&shape, &chunks, 1)?;
    let z = (x.arcsin() + y.arccos()).sum(&[1, 2]);

    let start = Instant::now();
    let graph = z.graph()?;
    let tasks = graph.job().len();
    let out = z.compute_with(&*scheduler)?;
    let seconds = start.elapsed().as_secs_f64();

    // Each element sums 1e5 values of mean π/2 (E[asin U] + E[acos U] = π/2).
    let expected = 1e5 * std::f64::consts::FRAC_PI_2;
    let mean = out.mean().unwrap_or(f64::NAN);
    println!(
        "scheduler {name}: {tasks} tasks, {seconds:.2} s, mean {mean:.1} (expected {expected:.1})"
    );
    if (mean / expected - 1.0).abs() > 1e-3 || out.shape() != [10_000] {
        return Err(format!("wrong result: shape {:?}, mean {mean}", out.shape()).into());
    }
    Ok(())
}
