//! The seed's array workload on a reduced shape: `(arcsin(x) + arccos(y)).sum(axis=(1, 2))`
//! is right on every backend and is one fused task per chunk pair plus the tree.

mod common;

use std::f64::consts::FRAC_PI_2;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{scheduler, BACKENDS};
use rask::{Events, TaskId, TaskSpan};
use rask_array::random;

const SHAPE: [usize; 3] = [200, 200, 10];
const CHUNKS: [usize; 3] = [50, 50, 5];

fn workload() -> rask_array::Array {
    let x = random(&SHAPE, &CHUNKS, 0).unwrap();
    let y = random(&SHAPE, &CHUNKS, 1).unwrap();
    (x.arcsin() + y.arccos()).sum(&[1, 2])
}

#[test]
fn one_task_per_chunk_pair_plus_the_tree() {
    let graph = workload().graph().unwrap();
    // 4·4·2 = 32 chunk pairs, each generating, transforming and summing
    // its chunks in one task; then 16 blocks per step (4 per reduced
    // axis) leave one aggregate per chunk row: 4 more tasks.
    assert_eq!(graph.job().len(), 32 + 4);
    assert_eq!(graph.outputs().len(), 4);
    let ops: Vec<&str> = graph.job().ops().iter().map(|op| op.name()).collect();
    assert_eq!(ops, ["array-eval", "array-combine"]);
}

#[test]
fn the_mean_is_n1_n2_pi_over_2_on_every_backend() {
    // Each output element sums n1·n2 = 2000 values of asin(U) + acos(V),
    // mean π/2 and variance 2(π²/4 − 2 − (π/2 − 1)²) ≈ 0.283 each: the
    // element's standard deviation is √(2000·0.283) ≈ 23.8, that of the
    // mean of 200 elements 1.7. We allow 5 and 6 of them.
    let expected = (SHAPE[1] * SHAPE[2]) as f64 * FRAC_PI_2;
    let mut first = None;
    for (name, workers) in BACKENDS {
        let out = workload().compute_with(&*scheduler(name, workers)).unwrap();
        assert_eq!(out.shape(), &[200]);
        let mean = out.mean().unwrap();
        assert!(
            (mean - expected).abs() < 5.0 * 1.7,
            "{name}: mean {mean}, expected {expected}"
        );
        assert!(
            out.iter().all(|v| (v - expected).abs() < 6.0 * 23.8),
            "{name}"
        );
        // Same numbers everywhere (sums may round differently per backend
        // only if the tree did, and it does not).
        match &first {
            None => first = Some(out),
            Some(f) => assert_eq!(f, &out, "{name} differs from sync"),
        }
    }
}

#[derive(Default)]
struct Count(AtomicUsize);

impl Events for Count {
    fn task_finish(&self, _task: TaskId, _worker: usize, _span: TaskSpan) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn events_see_every_task() {
    let count = Count::default();
    workload()
        .compute_with_events(&*scheduler("threads", Some(2)), &count)
        .unwrap();
    assert_eq!(count.0.load(Ordering::Relaxed), 36);
}
