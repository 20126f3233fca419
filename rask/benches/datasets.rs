//! Criterion benchmarks of the dataset calls on a local cluster of two
//! worker processes: publish, list and get, each one round trip to the
//! scheduler (get also submits the job that holds the results for the
//! reader). `cargo bench -p rask --bench datasets`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use rask::distributed::LocalOptions;
use rask::Client;

fn square(x: &i64) -> i64 {
    x * x
}

fn datasets(c: &mut Criterion) {
    let client = Client::local_with(LocalOptions {
        workers: 2,
        ..LocalOptions::default()
    })
    .expect("a local cluster");
    let a = client.map(square, 1..10i64).expect("map");
    client.gather(&a).expect("gather");

    let mut group = c.benchmark_group("dataset");
    group.bench_function("publish", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                client.publish_dataset("squares", &a).expect("publish");
                spent += start.elapsed();
                client.unpublish_dataset("squares").expect("unpublish");
            }
            spent
        })
    });
    client.publish_dataset("squares", &a).expect("publish");
    group.bench_function("list", |b| {
        b.iter(|| black_box(client.list_datasets().expect("list")))
    });
    group.bench_function("get", |b| {
        b.iter(|| black_box(client.get_dataset::<i64>("squares").expect("get")))
    });
    group.finish();
}

criterion_group!(benches, datasets);
criterion_main!(benches);
