//! The built-in ops every rask module in the browser knows, on the main
//! thread and in every worker alike: numbers, `f64` array chunks, and two
//! ops that exist to test failure (`fail` returns an error, `crash` panics).
//!
//! Workers find ops by name in this same registry, so a graph built on the
//! main thread runs unchanged in any worker.

use rask_core::{fallible, Inputs, Registry};

use crate::chunk::Chunk;

/// An elementwise function of one argument, and its op name.
type Unary = (&'static str, fn(f64) -> f64);
/// An elementwise function of two arguments, and its op name.
type Binary = (&'static str, fn(f64, f64) -> f64);

/// Elementwise functions of one argument, by op name.
const UNARY: &[Unary] = &[
    ("array.asin", f64::asin),
    ("array.acos", f64::acos),
    ("array.sin", f64::sin),
    ("array.cos", f64::cos),
    ("array.exp", f64::exp),
    ("array.log", f64::ln),
    ("array.sqrt", f64::sqrt),
    ("array.abs", f64::abs),
    ("array.neg", |x| -x),
];

/// Elementwise functions of two arguments, by op name.
const BINARY: &[Binary] = &[
    ("array.add", |a, b| a + b),
    ("array.sub", |a, b| a - b),
    ("array.mul", |a, b| a * b),
    ("array.div", |a, b| a / b),
];

/// The registry of built-in ops.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    // Numbers.
    r.op("value", |x: &f64| *x);
    r.op("inc", |x: &f64| x + 1.0);
    r.op("add", |xs: Inputs<f64>| xs.sum::<f64>());
    r.op("mul", |a: &f64, b: &f64| a * b);
    r.op(
        "fail",
        fallible(|message: &String| -> Result<f64, String> { Err(message.clone()) }),
    );
    r.op("crash", |message: &String| -> f64 { panic!("{message}") });
    // Arrays.
    r.op(
        "array.random",
        fallible(|shape: &Vec<u32>, seed: &f64, index: &f64| {
            Chunk::random(shape, *seed as u64, *index as u64)
        }),
    );
    for &(name, f) in UNARY {
        r.op(name, move |x: &Chunk| x.map(f));
    }
    for &(name, f) in BINARY {
        r.op(name, fallible(move |a: &Chunk, b: &Chunk| a.zip(b, f)));
    }
    r.op("array.sum", |x: &Chunk| x.sum());
    r.op(
        "array.sum_axes",
        fallible(|x: &Chunk, axes: &Vec<u32>| x.sum_axes(axes)),
    );
    r.op(
        "array.concat",
        fallible(|xs: Inputs<Chunk>| Chunk::concat(xs)),
    );
    r
}
