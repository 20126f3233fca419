//! The ops every `rask-worker` has: small arithmetic on integers and
//! floats, enough to run graphs from any client without a custom worker.

use rask_core::{Inputs, Registry};

/// A registry with the built-in ops: `inc`, `dec`, `neg`, `square`, `add`,
/// `sub`, `mul` on `i64`; `sum` over any number of `i64`; `sum_f64` and
/// `mean_f64` over any number of `f64`; `noop` (returns `()`); `range`
/// (`0..n` as `Vec<i64>`) and `total` (the sum of a `Vec<i64>`).
pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.op("inc", |x: &i64| x + 1);
    r.op("dec", |x: &i64| x - 1);
    r.op("neg", |x: &i64| -x);
    r.op("square", |x: &i64| x * x);
    r.op("add", |a: &i64, b: &i64| a + b);
    r.op("sub", |a: &i64, b: &i64| a - b);
    r.op("mul", |a: &i64, b: &i64| a * b);
    r.op("sum", |xs: Inputs<i64>| xs.sum::<i64>());
    r.op("sum_f64", |xs: Inputs<f64>| xs.sum::<f64>());
    r.op("mean_f64", |xs: Inputs<f64>| {
        let n = xs.len();
        xs.sum::<f64>() / n.max(1) as f64
    });
    r.op("noop", || ());
    r.op("range", |n: &i64| (0..*n).collect::<Vec<i64>>());
    r.op("total", |v: &Vec<i64>| v.iter().sum::<i64>());
    r
}
