//! Criterion benchmarks of per-task overhead: the same null-work graphs on
//! every in-process backend, and building a fan-in with `delayed`.
//! `cargo bench -p rask` (the cross-backend table is `cargo xtask bench`).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rask::{
    delayed, delayed_many, scheduler_by_name, Arg, Delayed, Inputs, Job, JobBuilder, NoEvents, Op,
    TaskId,
};

/// `n` null tasks merged into one.
fn merge(n: usize) -> (Arc<Job>, TaskId) {
    let null = Op::new("null", || ());
    let count = Op::new("count", |xs: Inputs<()>| xs.count_all() as u64);
    let mut b = JobBuilder::new();
    let (null, count) = (b.op(&null), b.op(&count));
    let leaves: Vec<Arg> = (0..n).map(|_| Arg::dep(b.task(null, &[]))).collect();
    let out = b.task(count, &leaves);
    (Arc::new(b.finish()), out)
}

fn one(_: &u64) -> u64 {
    1
}

fn backends(c: &mut Criterion) {
    let mut group = c.benchmark_group("merge");
    for n in [1_000usize, 10_000] {
        group.throughput(Throughput::Elements(n as u64 + 1));
        for backend in ["sync", "threads", "processes"] {
            let Ok(scheduler) = scheduler_by_name(backend, Some(2)) else {
                continue;
            };
            group.bench_with_input(BenchmarkId::new(backend, n), &n, |b, &n| {
                b.iter(|| {
                    let (job, out) = merge(n);
                    black_box(scheduler.run(&job, &[out], &NoEvents).unwrap())
                })
            });
        }
    }
    group.finish();
}

fn delayed_fan_in(c: &mut Criterion) {
    let mut group = c.benchmark_group("delayed-fan-in-build");
    for n in [1_000u64, 10_000, 100_000] {
        group.throughput(Throughput::Elements(n));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter(|| {
                let f = delayed(one);
                let calls: Vec<Delayed<u64>> = (0..n).map(|i| f.call((i,))).collect();
                let total = delayed_many(|xs: Inputs<u64>| xs.sum::<u64>()).call(calls);
                black_box(total.to_job())
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = backends, delayed_fan_in
}
criterion_main!(benches);
