//! The JavaScript API: build a graph from the built-in ops, run it on the
//! sync scheduler (`runSync`) or on a `WorkerPool` (`pool.run`, a Promise).
//!
//! ```js
//! import init, { Graph, WorkerPool, runSync } from "./pkg/rask_wasm.js";
//! await init();
//! const g = new Graph();
//! const a = g.task("a", "value", [2]);
//! const b = g.task("b", "inc", [{ task: a }]);
//! runSync(g, [b]);                                   // [3]
//! await new WorkerPool(2, "./worker.js").run(g, [b]); // [3]
//! ```
//!
//! Task arguments are numbers, strings, arrays of numbers (shapes, axes),
//! or `{task: id}` for the result of another task. A task can only use
//! tasks added before it.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::convert::to_js;
use crate::error::RunError;
use crate::spec::{ArgSpec, GraphSpec};
use crate::stream::TaskRecord;

/// A task graph under construction.
#[wasm_bindgen]
#[derive(Clone, Debug, Default)]
pub struct Graph {
    spec: GraphSpec,
}

fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

#[wasm_bindgen]
impl Graph {
    /// An empty graph.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Graph {
        Graph::default()
    }

    /// The seed's array workload: `(asin(x) + acos(y)).sum(axis=(1,2))` on
    /// random arrays of `shape` in blocks of `rows` rows. Its output is the
    /// task named `result`.
    pub fn demo(shape: Vec<u32>, rows: u32, seed: f64) -> Result<Graph, JsError> {
        let shape: [u32; 3] = shape
            .try_into()
            .map_err(|s: Vec<u32>| js_error(format!("demo needs a 3-d shape, got {s:?}")))?;
        let (spec, _) = crate::spec::demo(shape, rows, seed as u64).map_err(js_error)?;
        Ok(Graph { spec })
    }

    /// `n` `inc` tasks merged by one `add`, the task named `merge`.
    pub fn merge(n: u32) -> Result<Graph, JsError> {
        let (spec, _) = crate::spec::merge(n).map_err(js_error)?;
        Ok(Graph { spec })
    }

    /// Adds a task `key` running `op` on `args`; returns its id.
    pub fn task(&mut self, key: &str, op: &str, args: &js_sys::Array) -> Result<u32, JsError> {
        let mut specs = Vec::with_capacity(args.length() as usize);
        for (i, a) in args.iter().enumerate() {
            specs.push(arg_spec(&a).ok_or_else(|| {
                js_error(format!(
                    "task '{key}': argument {i} is not a number, a string, an array of numbers or {{task: id}}"
                ))
            })?);
        }
        self.spec.add(key, op, specs).map_err(js_error)
    }

    /// Number of tasks.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> u32 {
        self.spec.len() as u32
    }

    /// The id of the task named `key`.
    pub fn find(&self, key: &str) -> Option<u32> {
        self.spec.find(key)
    }

    /// The key of task `id`.
    pub fn key(&self, id: u32) -> Option<String> {
        self.spec.tasks().get(id as usize).map(|t| t.key.clone())
    }
}

impl Graph {
    /// The graph as data.
    pub fn spec(&self) -> &GraphSpec {
        &self.spec
    }
}

fn arg_spec(a: &JsValue) -> Option<ArgSpec> {
    if let Some(x) = a.as_f64() {
        return Some(ArgSpec::Num(x));
    }
    if let Some(s) = a.as_string() {
        return Some(ArgSpec::Text(s));
    }
    if let Some(array) = a.dyn_ref::<js_sys::Array>() {
        let dims: Option<Vec<u32>> = array
            .iter()
            .map(|d| {
                d.as_f64()
                    .filter(|d| *d >= 0.0 && *d <= u32::MAX as f64 && d.fract() == 0.0)
            })
            .map(|d| d.map(|d| d as u32))
            .collect();
        return dims.map(ArgSpec::Dims);
    }
    let task = js_sys::Reflect::get(a, &"task".into()).ok()?.as_f64()?;
    (task >= 0.0 && task.fract() == 0.0).then_some(ArgSpec::Task(task as u32))
}

/// Calls `on_task(key, worker, startMs, endMs)` (epoch milliseconds).
fn report(graph: &GraphSpec, on_task: &js_sys::Function, r: TaskRecord) {
    let key = graph
        .tasks()
        .get(r.task as usize)
        .map_or("", |t| t.key.as_str());
    let args = js_sys::Array::of4(
        &key.into(),
        &r.worker.into(),
        &r.start_ms.into(),
        &r.end_ms.into(),
    );
    // A throwing callback must not stop the run.
    let _ = on_task.apply(&JsValue::NULL, &args);
}

fn to_array(values: &[rask_core::Value]) -> Result<js_sys::Array, RunError> {
    values
        .iter()
        .map(to_js)
        .collect::<Result<js_sys::Array, _>>()
}

/// Runs `graph` on the calling thread and returns the results of `outputs`.
/// `onTask(key, worker, startMs, endMs)` is called for every task when the
/// run ends (the run holds the thread while it goes).
#[wasm_bindgen(js_name = runSync)]
pub fn run_sync(
    graph: &Graph,
    outputs: Vec<u32>,
    on_task: Option<js_sys::Function>,
) -> Result<js_sys::Array, JsError> {
    let (values, records) =
        crate::sync::run(&graph.spec, &outputs, on_task.is_some()).map_err(js_error)?;
    if let Some(f) = &on_task {
        for r in records {
            report(&graph.spec, f, r);
        }
    }
    to_array(&values).map_err(js_error)
}

/// Worker threads that run graphs while the page stays responsive.
#[cfg(feature = "workers")]
#[wasm_bindgen]
#[derive(Debug)]
pub struct WorkerPool {
    pool: std::rc::Rc<crate::pool::Pool>,
}

#[cfg(feature = "workers")]
#[wasm_bindgen]
impl WorkerPool {
    /// `n` workers (default: `navigator.hardwareConcurrency`) running the
    /// module script at `script` (default `./worker.js`, relative to the page).
    #[wasm_bindgen(constructor)]
    pub fn new(n: Option<u32>, script: Option<String>) -> Result<WorkerPool, JsError> {
        let n = n.map(|n| n as usize).unwrap_or_else(hardware_concurrency);
        let script = script.unwrap_or_else(|| "./worker.js".to_owned());
        let pool = crate::pool::Pool::new(n, &script).map_err(js_error)?;
        Ok(WorkerPool {
            pool: std::rc::Rc::new(pool),
        })
    }

    /// The number of workers.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> u32 {
        self.pool.size() as u32
    }

    /// Runs `graph` on the workers: a Promise of the results of `outputs`,
    /// rejected with an error naming the task when one fails. `onTask` is
    /// called as each task finishes.
    pub fn run(
        &self,
        graph: &Graph,
        outputs: Vec<u32>,
        on_task: Option<js_sys::Function>,
    ) -> js_sys::Promise {
        let pool = self.pool.clone();
        let spec = graph.spec.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let mut report_task = |r: TaskRecord| {
                if let Some(f) = &on_task {
                    report(&spec, f, r);
                }
            };
            let values = crate::drive::run(&pool, &spec, &outputs, &mut report_task)
                .await
                .map_err(|e| JsValue::from(js_error(e)))?;
            to_array(&values)
                .map(JsValue::from)
                .map_err(|e| js_error(e).into())
        })
    }

    /// Stops every worker; the pool cannot run anything afterwards.
    pub fn terminate(&self) {
        self.pool.terminate();
    }
}

/// `navigator.hardwareConcurrency`, on the main thread or in a worker.
#[cfg(feature = "workers")]
fn hardware_concurrency() -> usize {
    let global = js_sys::global();
    js_sys::Reflect::get(&global, &"navigator".into())
        .and_then(|n| js_sys::Reflect::get(&n, &"hardwareConcurrency".into()))
        .ok()
        .and_then(|c| c.as_f64())
        .map_or(2, |c| (c as usize).clamp(1, crate::pool::MAX_WORKERS))
}
