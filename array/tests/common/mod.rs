//! What the tests share: every backend, with one local cluster of two
//! worker processes for the whole test binary (as rask's contract tests do).

#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use ndarray::ArrayD;
use rask::Scheduler;
use rask_array::Array;

/// Starts the cluster once; it becomes the active client, which the
/// `distributed` scheduler uses.
pub fn cluster() {
    static CLUSTER: OnceLock<rask::Client> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        rask::Client::local_with(rask::distributed::LocalOptions {
            workers: 2,
            ..Default::default()
        })
        .expect("a local cluster starts")
    });
}

/// Every backend, by name.
pub const BACKENDS: [(&str, Option<usize>); 4] = [
    ("sync", None),
    ("threads", Some(2)),
    ("processes", Some(2)),
    ("distributed", None),
];

pub fn scheduler(name: &str, workers: Option<usize>) -> Arc<dyn Scheduler> {
    if name == "distributed" {
        cluster();
    }
    rask::scheduler_by_name(name, workers).expect("the backend exists")
}

/// The array, computed on the calling thread.
pub fn eager(a: &Array) -> ArrayD<f64> {
    a.compute_with(&*scheduler("sync", None)).expect("computes")
}

/// Asserts equal shapes and elements equal within `tol` relative (NaNs equal).
pub fn assert_close(got: &ArrayD<f64>, want: &ArrayD<f64>, tol: f64, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shapes");
    for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
        let ok = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= tol * w.abs().max(1.0);
        assert!(ok, "{what}: element {i}: got {g}, want {w}");
    }
}

/// `a` reduced over `axes` with `f` (ndarray's reference).
pub fn reduce_ref(
    a: &ArrayD<f64>,
    axes: &[usize],
    init: f64,
    f: impl Fn(f64, f64) -> f64,
) -> ArrayD<f64> {
    let mut sorted = axes.to_vec();
    sorted.sort_unstable();
    let mut out = a.clone();
    for &k in sorted.iter().rev() {
        out = out.fold_axis(ndarray::Axis(k), init, |acc, &x| f(*acc, x));
    }
    out
}
