//! The main job: real task graphs from the seed notebook's cells, computed
//! on every scheduler compiled in, with a timing table at the end.
//!
//! `cargo run --release --example quickstart`
//!
//! 1. `map(square, 1..10)` then `sum` (the futures cell, as delayed calls).
//! 2. A chunked array workload in the spirit of the seed's
//!    `(arcsin(x) + arccos(y)).sum()`: random chunks are generated, mapped
//!    and reduced in a tree, never all in memory at once.
//! 3. Scheduler overhead: a fan-in of 100,000 delayed calls.

use std::time::Instant;

use rask::{delayed, delayed_many, Backend, Delayed, Inputs, Options, Profiler};

fn square(x: &i64) -> i64 {
    x * x
}

/// One chunk of uniform random numbers in [0, 1), deterministic per seed.
fn random_chunk(seed: &u64, len: &usize) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..*len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

/// `sum(arcsin(x) + arccos(y))` over one pair of chunks. Ops borrow the
/// values their inputs produced, so the parameter is `&Vec`, not `&[f64]`.
#[allow(clippy::ptr_arg)]
fn asin_plus_acos_sum(x: &Vec<f64>, y: &Vec<f64>) -> f64 {
    x.iter().zip(y).map(|(a, b)| a.asin() + b.acos()).sum()
}

fn total(parts: Inputs<f64>) -> f64 {
    parts.sum()
}

/// The array workload: `chunks` pairs of chunks of `len` numbers, reduced
/// eight at a time.
fn array_workload(chunks: u64, len: usize) -> Delayed<f64> {
    let random = delayed(random_chunk);
    let kernel = delayed(asin_plus_acos_sum);
    let mut level: Vec<Delayed<f64>> = (0..chunks)
        .map(|i| kernel.call((random.call((2 * i, len)), random.call((2 * i + 1, len)))))
        .collect();
    let reduce = delayed_many(total);
    while level.len() > 1 {
        level = level.chunks(8).map(|group| reduce.call(group)).collect();
    }
    level.remove(0)
}

fn main() -> Result<(), rask::Error> {
    let backends: Vec<Backend> = Backend::ALL
        .into_iter()
        .filter(|b| rask::scheduler(*b, None).is_ok())
        .collect();
    let mut rows = Vec::new();

    // 1. The seed's map/submit/gather cell.
    let square = delayed(square);
    let a: Vec<Delayed<i64>> = (1..10).map(|i| square.call((i,))).collect();
    let sum = delayed_many(|xs: Inputs<i64>| xs.sum::<i64>()).call(&a);
    for &b in &backends {
        let options = Options::new().scheduler(b.name());
        let start = Instant::now();
        let total = sum.compute_with(&options)?;
        let gathered = rask::compute_many(&a, &options)?;
        rows.push((
            "squares, sum",
            b,
            start.elapsed().as_secs_f64(),
            format!("{total}"),
        ));
        assert_eq!(total, 285);
        assert_eq!(gathered, [1, 4, 9, 16, 25, 36, 49, 64, 81]);
    }
    println!("sum of squares 1..10 = 285; squares = [1, 4, 9, ..., 81]");

    // 2. The chunked array workload: 200 chunk pairs of 250,000 numbers.
    let (chunks, len) = (200u64, 250_000usize);
    let z = array_workload(chunks, len);
    let n = (chunks as usize * len) as f64;
    for &b in &backends {
        let profiler = Profiler::new();
        let options = Options::new().scheduler(b.name()).events(&profiler);
        let start = Instant::now();
        let value = z.compute_with(&options)?;
        let wall = start.elapsed().as_secs_f64();
        // E[arcsin U] + E[arccos U] = pi/2 for U uniform on [0, 1).
        let mean = value / n;
        assert!(
            (mean - std::f64::consts::FRAC_PI_2).abs() < 1e-3,
            "mean {mean}"
        );
        rows.push((
            "array asin+acos",
            b,
            wall,
            format!("{value:.1} (mean {mean:.5})"),
        ));
        if b == Backend::Threads {
            let path = std::env::temp_dir().join("rask-quickstart.trace.json");
            if profiler.write_chrome_trace(&path).is_ok() {
                println!(
                    "profile of the threads run: {} (open in Perfetto)",
                    path.display()
                );
            }
        }
    }

    // 3. Overhead: 100,000 tiny delayed calls summed.
    for &b in &backends {
        let start = Instant::now();
        let one = delayed(|i: &u64| i & 1);
        let calls: Vec<Delayed<u64>> = (0..100_000u64).map(|i| one.call((i,))).collect();
        let odd = delayed_many(|xs: Inputs<u64>| xs.sum::<u64>())
            .call(calls)
            .compute_with(&Options::new().scheduler(b.name()))?;
        assert_eq!(odd, 50_000);
        rows.push((
            "100k tiny tasks",
            b,
            start.elapsed().as_secs_f64(),
            format!("{odd}"),
        ));
    }

    println!(
        "\n{:<18} {:<10} {:>10}  result",
        "workload", "scheduler", "wall"
    );
    for (workload, backend, wall, result) in &rows {
        println!(
            "{workload:<18} {:<10} {:>8.1} ms  {result}",
            backend.name(),
            wall * 1e3
        );
    }
    Ok(())
}
