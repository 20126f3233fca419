//! Invalid arrays are errors that name what is wrong, never panics; an
//! error travels through further operations to `compute`.

mod common;

use common::scheduler;
use rask::Error;
use rask_array::{random, zeros, ArrayError};

fn message(a: &rask_array::Array) -> String {
    match a.compute_with(&*scheduler("sync", None)) {
        Err(Error::Backend {
            backend: "array",
            message,
        }) => message,
        other => panic!("expected an array error, got {other:?}"),
    }
}

#[test]
fn bad_axes_are_named() {
    let x = random(&[4, 5], &[2, 2], 0).unwrap();
    let m = message(&x.sum(&[2]));
    assert_eq!(
        m,
        "sum: axis 2 is out of range (the array has 2 dimensions)"
    );
    let m = message(&x.mean(&[1, 1]));
    assert_eq!(
        m,
        "mean: axis 1 is named twice (the array has 2 dimensions)"
    );
    assert!(matches!(
        x.max(&[7]).error(),
        Some(ArrayError::BadAxis {
            axis: 7,
            ndim: 2,
            ..
        })
    ));
}

#[test]
fn mismatched_shapes_and_chunks_are_named() {
    let x = random(&[4, 5], &[2, 2], 0).unwrap();
    let y = random(&[5, 4], &[2, 2], 0).unwrap();
    assert_eq!(
        message(&(&x + &y)),
        "cannot add arrays of shapes [4, 5] and [5, 4]"
    );
    let z = zeros(&[4, 5], &[4, 5]).unwrap();
    let m = message(&(&x * &z));
    assert!(
        m.starts_with(
            "cannot multiply arrays chunked differently: [[2, 2], [2, 2, 1]] and [[4], [5]]"
        ),
        "{m}"
    );
    // The error carries on through later operations.
    let later = ((&x - &y).arcsin() * 2.0).sum_all();
    assert_eq!(
        message(&later),
        "cannot subtract arrays of shapes [4, 5] and [5, 4]"
    );
    assert!(later.graph().is_err());
}

#[test]
fn bad_chunks_are_refused_at_once() {
    let e = random(&[4, 5], &[2], 0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "chunks [2] do not fit shape [4, 5]: 1 chunk sizes for 2 dimensions"
    );
    let e = zeros(&[4, 5], &[2, 0]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "chunks [2, 0] do not fit shape [4, 5]: chunk size 0 on axis 1"
    );
}

#[test]
fn min_over_nothing_has_no_identity() {
    let x = zeros(&[3, 0], &[2, 2]).unwrap();
    assert!(message(&x.min(&[1])).contains("reduces an axis of length 0"));
    // A sum over nothing is zeros, a mean NaN.
    let s = scheduler("sync", None);
    assert_eq!(
        x.sum(&[1])
            .compute_with(&*s)
            .unwrap()
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        [0.0; 3]
    );
    assert!(x
        .mean(&[1])
        .compute_with(&*s)
        .unwrap()
        .iter()
        .all(|v| v.is_nan()));
}

#[test]
fn a_panicking_map_fails_its_task_by_name() {
    fn boom(x: f64) -> f64 {
        if x >= 0.0 {
            panic!("boom at {x}")
        }
        x
    }
    let x = zeros(&[4], &[2]).unwrap().map(boom);
    match x.compute_with(&*scheduler("threads", Some(2))) {
        Err(Error::TaskFailed { key, op, message }) => {
            assert!(key.starts_with("map-"), "{key}");
            assert_eq!(op, "array-eval-map");
            assert!(message.contains("boom at 0"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}
