//! A crate of your own on `rask-wasm`: an op of its own (`user.cube`),
//! registered from the module's start function — which runs in the page
//! and in every worker, since each worker instantiates this same module —
//! and graphs computed from Rust with the async [`rask_wasm::compute`].
//!
//! `cargo xtask wasm --test` builds this as a cdylib into
//! `wasm/www/custom-op/` and drives `www/custom-op.html` in headless
//! Chromium: the sums must match on the sync scheduler and on workers
//! started with `worker.js?module=./custom-op/custom_op.js`, and workers of
//! the plain rask-wasm module must refuse the graph, naming the op.

use rask_wasm::spec::{ArgSpec, GraphSpec};
use rask_wasm::{compute, Backend, Pool};
use wasm_bindgen::prelude::*;

/// Runs in every instance of this module, before anything else.
#[wasm_bindgen(start)]
pub fn start() {
    rask_wasm::ops::extend(|r| {
        r.op("user.cube", |x: &f64| x * x * x);
    });
}

/// The sum of `i³` for `i` in `0..n`, one `user.cube` task per term.
fn cubes(n: u32) -> Result<(GraphSpec, u32), String> {
    let mut g = GraphSpec::new();
    let mut terms = Vec::with_capacity(n as usize);
    for i in 0..n {
        let x = g.add(&format!("x-{i}"), "value", vec![ArgSpec::Num(i as f64)])?;
        terms.push(ArgSpec::Task(g.add(
            &format!("cube-{i}"),
            "user.cube",
            vec![ArgSpec::Task(x)],
        )?));
    }
    let total = g.add("total", "add", terms)?;
    Ok((g, total))
}

/// Computes the sum of cubes below `n` on the sync scheduler (`workers` =
/// 0) or on `workers` Web Workers running `script`; a Promise of the sum.
#[wasm_bindgen(js_name = sumOfCubes)]
pub async fn sum_of_cubes(n: u32, workers: u32, script: String) -> Result<f64, JsError> {
    let (graph, total) = cubes(n).map_err(|e| JsError::new(&e))?;
    let values = match workers {
        0 => compute(&graph, &[total], Backend::Sync).await,
        n => {
            let pool = Pool::new(n as usize, &script).map_err(|e| JsError::new(&e.to_string()))?;
            compute(&graph, &[total], Backend::Workers(&pool)).await
        }
    }
    .map_err(|e| JsError::new(&e.to_string()))?;
    values[0]
        .downcast_ref::<f64>()
        .copied()
        .ok_or_else(|| JsError::new("the total is not a number"))
}
