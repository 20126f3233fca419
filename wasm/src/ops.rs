//! The built-in ops every rask module in the browser knows, on the main
//! thread and in every worker alike: numbers, `f64` array chunks, and two
//! ops that exist to test failure (`fail` returns an error, `crash` panics).
//!
//! Workers find ops by name in this same registry, so a graph built on the
//! main thread runs unchanged in any worker.
//!
//! A Rust crate built on `rask-wasm` adds its own ops with [`extend`],
//! called from its `#[wasm_bindgen(start)]` function: that runs in every
//! instance of the module — the page's and each worker's, since every
//! worker instantiates the same module — so all of them know the ops.
//!
//! ```ignore
//! #[wasm_bindgen(start)]
//! pub fn start() {
//!     rask_wasm::ops::extend(|r| {
//!         r.op("user.cube", |x: &f64| x * x * x);
//!     });
//! }
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rask_core::{fallible, IgnorePoison, Inputs, Registry};

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

/// Functions adding ops, in the order [`extend`] got them (this instance's:
/// every worker has its own copy of the module's memory).
static EXTENSIONS: Mutex<Vec<fn(&mut Registry)>> = Mutex::new(Vec::new());
/// Bumped by [`extend`], so cached registries know they are stale.
static GENERATION: AtomicUsize = AtomicUsize::new(0);

/// Adds the ops `add` registers to every registry this instance builds
/// from now on ([`registry`], the sync scheduler's, a worker's). An op of a
/// built-in's name replaces it. Call it before starting a worker pool (from
/// the module's start function, so workers run it too).
pub fn extend(add: fn(&mut Registry)) {
    // A poisoned lock only means a panic elsewhere mid-push; the list is
    // still a list.
    EXTENSIONS.lock().ignore_poison().push(add);
    GENERATION.fetch_add(1, Ordering::Release);
}

/// How many times [`extend`] was called: a registry built at one
/// generation is current while this stays the same.
pub fn generation() -> usize {
    GENERATION.load(Ordering::Acquire)
}

/// The registry of built-in ops and every [`extend`]ed one.
pub fn registry() -> Registry {
    let mut r = builtins();
    let extensions = EXTENSIONS.lock().ignore_poison().clone();
    for add in extensions {
        add(&mut r);
    }
    r
}

/// The built-in ops alone.
fn builtins() -> Registry {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_ops_join_the_registry_and_the_sync_scheduler_sees_them() {
        use crate::spec::{ArgSpec, GraphSpec};
        let mut g = GraphSpec::new();
        let a = g.add("a", "value", vec![ArgSpec::Num(3.0)]).unwrap();
        let c = g.add("c", "test.cube", vec![ArgSpec::Task(a)]).unwrap();
        // Build the sync scheduler's cached registry before extending.
        let before = crate::sync::run(&g, &[c], false).unwrap_err();
        assert!(before.to_string().contains("'test.cube'"), "{before}");
        extend(|r| {
            r.op("test.cube", |x: &f64| x * x * x);
        });
        assert!(registry().get("test.cube").is_some());
        assert!(registry().get("array.asin").is_some());
        let (values, _) = crate::sync::run(&g, &[c], false).unwrap();
        assert_eq!(values[0].downcast_ref::<f64>(), Some(&27.0));
    }
}
