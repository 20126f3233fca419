// The demo page: builds the seed's array workload, runs it on the sync
// scheduler and on a WorkerPool, and draws the task stream. Everything the
// end-to-end test and the browser benchmark need is on `window.rask`.
import init, { Graph, WorkerPool, runSync } from "./pkg/rask_wasm.js";

// Big enough that computing dominates (about a second on the sync
// scheduler), cut into 80 blocks of 250 000 elements per array: each
// block is tens of milliseconds of work, so per-message costs are noise
// and the last block leaves little imbalance between two workers.
const SHAPE = [2000, 1000, 10];
const ROWS = 25;
const SEED = 42;
const $ = (id) => document.getElementById(id);
const now = () => performance.timeOrigin + performance.now();

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

let pool = null;
function getPool(n) {
  if (!pool || pool.size !== n) {
    if (pool) pool.terminate();
    pool = new WorkerPool(n);
  }
  return pool;
}

// One run of `graph` on a backend: wall ms, the result, and the task
// stream (times from the start of the run) when `record` is set.
async function once(backend, graph, out, workers, record) {
  const stream = [];
  const onTask = record ? (key, worker, start, end) => stream.push({ key, worker, start, end }) : undefined;
  const t0 = now();
  const result = backend === "sync"
    ? runSync(graph, [out], onTask)[0]
    : (await getPool(workers).run(graph, [out], onTask))[0];
  const ms = now() - t0;
  return { ms, result, stream: stream.map((t) => ({ ...t, start: t.start - t0, end: t.end - t0 })) };
}

function plain(result) {
  return typeof result === "number" ? result : { shape: result.shape, data: Array.from(result.data) };
}

// The demo on both backends, timed the same way: one untimed run of each
// first (starting the workers and compiling the module in every thread is
// not counted), then `reps` rounds of one sync and one workers run, taking
// turns at going first, so that load from elsewhere on the machine falls
// on both alike. Medians of each, and their ratio.
async function demo({ workers = navigator.hardwareConcurrency || 2, reps = 5, rows = ROWS, shape = SHAPE } = {}) {
  const graph = Graph.demo(shape, rows, SEED);
  const out = graph.find("result");
  await once("workers", graph, out, workers, false);
  await once("sync", graph, out, workers, false);
  const runs = { sync: [], workers: [] };
  for (let i = 0; i < reps; i++) {
    const last = i === reps - 1;
    for (const backend of i % 2 ? ["workers", "sync"] : ["sync", "workers"]) {
      runs[backend].push(await once(backend, graph, out, workers, last));
    }
  }
  const sync_ms = median(runs.sync.map((r) => r.ms)), workers_ms = median(runs.workers.map((r) => r.ms));
  const sync = runs.sync[reps - 1], par = runs.workers[reps - 1];
  const same = JSON.stringify(plain(sync.result)) === JSON.stringify(plain(par.result));
  return {
    tasks: graph.length, workers, reps, shape, rows,
    sync_ms, workers_ms, speedup: sync_ms / workers_ms,
    sync_times: runs.sync.map((r) => r.ms), workers_times: runs.workers.map((r) => r.ms),
    same, sync_result: plain(sync.result), workers_result: plain(par.result),
    stream: par.stream,
  };
}

// A graph whose task `bad-3` fails: the error must name it.
async function failing(backend, workers = 2) {
  const g = new Graph();
  const parts = [];
  for (let i = 0; i < 6; i++) {
    const key = `part-${i}`;
    parts.push({ task: i === 3 ? g.task("bad-3", "fail", ["deliberate failure"]) : g.task(key, "value", [i]) });
  }
  const total = g.task("total", "add", parts);
  try {
    if (backend === "sync") runSync(g, [total]);
    else await getPool(workers).run(g, [total]);
    return { error: null };
  } catch (e) {
    return { error: String(e && e.message || e) };
  }
}

// A task that panics inside a worker: the run fails naming the task, the
// worker is replaced, and the pool still works afterwards.
async function crashing(workers = 2) {
  const g = new Graph();
  const a = g.task("fine", "value", [1]);
  const c = g.task("boom-1", "crash", ["deliberate panic"]);
  const s = g.task("total", "add", [{ task: a }, { task: c }]);
  let error = null;
  try { await getPool(workers).run(g, [s]); } catch (e) { error = String(e && e.message || e); }
  const h = new Graph();
  const after = await getPool(workers).run(h, [h.task("after", "inc", [41])]);
  return { error, after: after[0] };
}

// Overhead: `merge-n` (n trivial tasks into one), build + run, median ms.
async function merge(backend, n, reps = 3, workers = 2) {
  const times = [];
  let result;
  if (backend === "workers") await getPool(workers).run(Graph.merge(10), [10]);
  for (let i = 0; i < reps; i++) {
    const t0 = now();
    const g = Graph.merge(n);
    const out = g.find("merge");
    result = backend === "sync" ? runSync(g, [out])[0] : (await getPool(workers).run(g, [out]))[0];
    times.push(now() - t0);
  }
  return { ms: median(times), tasks: n + 1, result, expected: (n * (n - 1)) / 2 + n };
}

function draw(stream, workers) {
  const c = $("stream"), ctx = c.getContext("2d");
  ctx.clearRect(0, 0, c.width, c.height);
  const end = Math.max(1, ...stream.map((t) => t.end));
  const lane = c.height / Math.max(1, workers);
  const colors = { asin: "#4e79a7", acos: "#f28e2b", add: "#59a14f", sum: "#e15759", x: "#bab0ac", y: "#9c755f", result: "#000" };
  for (const t of stream) {
    ctx.fillStyle = colors[t.key.split("-")[0]] || "#777";
    const x = (t.start / end) * c.width, w = Math.max(1, ((t.end - t.start) / end) * c.width);
    ctx.fillRect(x, t.worker * lane + 2, w, lane - 4);
  }
}

async function runBoth() {
  const workers = Number($("workers").value) || 2;
  $("status").textContent = "running…";
  const r = await demo({ workers });
  for (const [name, ms, res] of [["sync", r.sync_ms, r.sync_result], ["workers", r.workers_ms, r.workers_result]]) {
    $(`${name}-tasks`).textContent = r.tasks;
    $(`${name}-ms`).textContent = `${ms.toFixed(1)} ms`;
    $(`${name}-head`).textContent = res.data.slice(0, 3).map((x) => x.toFixed(3)).join(", ");
  }
  $("speedup").textContent = `${r.speedup.toFixed(2)}×`;
  $("same").textContent = r.same ? "yes" : "NO";
  draw(r.stream, workers);
  $("status").textContent = `done: ${r.tasks} tasks on ${workers} workers`;
  return r;
}

await init();
window.rask = { demo, failing, crashing, merge, ready: true };
$("shape").textContent = `(${SHAPE.join(", ")})`;
$("rows").textContent = ROWS;
$("workers").value = navigator.hardwareConcurrency || 2;
$("run").onclick = () => runBoth().catch((e) => { $("status").textContent = String(e); $("status").className = "error"; });
$("fail").onclick = async () => {
  const r = await failing("workers", Number($("workers").value) || 2);
  $("status").textContent = `failing graph: ${r.error}`;
  $("status").className = "error";
};
$("status").textContent = "ready";
