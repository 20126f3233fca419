//! On every backend, array expressions give what the same computation does
//! directly on `ndarray`: random shapes and chunkings (uneven edge chunks
//! included), fused elementwise chains, every reduction over random axes.

mod common;

use common::{assert_close, eager, reduce_ref, scheduler, BACKENDS};
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use rask_array::{from_ndarray, ones, random, Array};

fn halve(x: f64) -> f64 {
    x * 0.5
}

/// The elementwise expression under test, lazily and on plain data.
fn lazy(x: &Array, y: &Array) -> Array {
    ((x.arcsin() + y.arccos()) * 2.0 - x.sqrt()) / (1.0 + y)
        + x.map(halve).exp().log().sin().cos().abs()
        - 3.0
}

fn direct(x: f64, y: f64) -> f64 {
    ((x.asin() + y.acos()) * 2.0 - x.sqrt()) / (1.0 + y) + halve(x).exp().ln().sin().cos().abs()
        - 3.0
}

fn case() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, u64, Vec<usize>)> {
    prop::collection::vec(1usize..9, 1..4).prop_flat_map(|shape| {
        let chunks = shape.iter().map(|&n| 1..=n + 1).collect::<Vec<_>>();
        let axes = prop::sample::subsequence((0..shape.len()).collect::<Vec<_>>(), 0..=shape.len());
        (Just(shape), chunks, any::<u64>(), axes)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    #[test]
    fn every_backend_matches_ndarray((shape, chunks, seed, axes) in case()) {
        let x = random(&shape, &chunks, seed).unwrap();
        let y = random(&shape, &chunks, seed ^ 1).unwrap();
        let (xs, ys) = (eager(&x), eager(&y));
        prop_assert!(xs.iter().all(|v| (0.0..1.0).contains(v)));
        let want = ndarray::Zip::from(&xs).and(&ys).map_collect(|&a, &b| direct(a, b));
        let e = lazy(&x, &y);
        let want_sum = reduce_ref(&want, &axes, 0.0, |a, b| a + b);
        let n: usize = axes.iter().map(|&k| shape[k]).product();
        let want_mean = want_sum.mapv(|s| s / n as f64);
        let want_min = reduce_ref(&want, &axes, f64::INFINITY, f64::min);
        let want_max = reduce_ref(&want, &axes, f64::NEG_INFINITY, f64::max);
        // split_every 2 makes a deep tree even on these small grids.
        let deep = e.reduce(rask_array::Reduction::Sum, &axes, Some(2));
        for (name, workers) in BACKENDS {
            let s = scheduler(name, workers);
            let what = format!("{name} shape {shape:?} chunks {chunks:?} axes {axes:?}");
            assert_close(&e.compute_with(&*s).unwrap(), &want, 1e-13, &what);
            assert_close(&e.sum(&axes).compute_with(&*s).unwrap(), &want_sum, 1e-12, &format!("sum {what}"));
            assert_close(&deep.compute_with(&*s).unwrap(), &want_sum, 1e-12, &format!("deep sum {what}"));
            assert_close(&e.mean(&axes).compute_with(&*s).unwrap(), &want_mean, 1e-12, &format!("mean {what}"));
            assert_close(&e.min(&axes).compute_with(&*s).unwrap(), &want_min, 1e-13, &format!("min {what}"));
            assert_close(&e.max(&axes).compute_with(&*s).unwrap(), &want_max, 1e-13, &format!("max {what}"));
        }
    }
}

#[test]
fn user_data_with_uneven_chunks_on_every_backend() {
    let data = ArrayD::from_shape_fn(IxDyn(&[7, 5, 3]), |i| {
        (i[0] * 15 + i[1] * 3 + i[2]) as f64 - 40.0
    });
    let a = from_ndarray(data.clone(), &[3, 2, 2]).unwrap();
    let b = ones(&[7, 5, 3], &[3, 2, 2]).unwrap();
    let lazy = (&a * &a + &b) / 2.0 - (10.0 - &a).abs() + (-&a);
    let want = data.mapv(|v| (v * v + 1.0) / 2.0 - (10.0 - v).abs() - v);
    for (name, workers) in BACKENDS {
        let s = scheduler(name, workers);
        assert_close(&lazy.compute_with(&*s).unwrap(), &want, 0.0, name);
        let total = lazy.sum_all().compute_with(&*s).unwrap();
        assert_eq!(
            total.shape(),
            &[] as &[usize],
            "{name}: a full reduction is 0-dimensional"
        );
        assert_close(&total, &ndarray::arr0(want.sum()).into_dyn(), 1e-12, name);
        assert_eq!(
            a.max_all().compute_with(&*s).unwrap()[[] as [usize; 0]],
            64.0,
            "{name}"
        );
        assert_eq!(
            a.min(&[0, 2])
                .compute_with(&*s)
                .unwrap()
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            [-40.0, -37.0, -34.0, -31.0, -28.0]
        );
    }
}

fn double(x: f64) -> f64 {
    2.0 * x
}

#[test]
fn reductions_feed_elementwise_and_different_maps_stage() {
    let x = random(&[6, 10], &[4, 3], 9).unwrap();
    let xs = eager(&x);
    // Two different functions cannot share one fused program: the first
    // map's array is computed by its own tasks, then fed in.
    let two_maps = x.map(double).map(|v: f64| v + 1.0) + x.map(halve);
    let want_maps = xs.mapv(|v| double(v) + 1.0 + halve(v));
    // A reduction's result used elementwise, and the same reduction twice.
    let s = x.sum(&[1]);
    let m = x.max(&[1]);
    let combined = &s * 2.0 - &m + &s;
    let want_combined = {
        let s = xs.sum_axis(ndarray::Axis(1));
        let m = reduce_ref(&xs, &[1], f64::NEG_INFINITY, f64::max);
        &s * 2.0 - &m + &s
    };
    for (name, workers) in BACKENDS {
        let sch = scheduler(name, workers);
        assert_close(
            &two_maps.compute_with(&*sch).unwrap(),
            &want_maps,
            1e-15,
            name,
        );
        assert_close(
            &combined.compute_with(&*sch).unwrap(),
            &want_combined,
            1e-13,
            name,
        );
    }
}

#[test]
fn capturing_closures_run_in_process() {
    let k = 3.0;
    let x = random(&[5, 5], &[2, 5], 1).unwrap();
    let want = eager(&x).mapv(|v| v * k);
    for (name, workers) in BACKENDS.iter().filter(|(n, _)| *n != "distributed") {
        let s = scheduler(name, *workers);
        assert_close(
            &x.map(move |v| v * k).compute_with(&*s).unwrap(),
            &want,
            0.0,
            name,
        );
    }
}
