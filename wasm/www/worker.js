// A rask worker: instantiates the same wasm module as the page and hands
// every message batch to it. A trap (a panic in an op) or any other throw
// is reported as {crash} and the worker closes: its instance may be broken.
//
// The module is rask-wasm's own (./pkg/rask_wasm.js) unless the worker's
// URL names another with `?module=URL` (relative to this script): a crate
// built on rask-wasm with ops of its own starts its pool with
// `new WorkerPool(n, "./worker.js?module=./its-pkg/its_crate.js")`, and its
// start function registers those ops in every worker as on the page.
const url = new URL(self.location.href).searchParams.get("module") || "./pkg/rask_wasm.js";

// Set before the module loads, so no early message is lost; handlers wait
// on `ready` and so run in arrival order.
const ready = import(url).then(async (m) => {
  await m.default();
  m.workerStart();
  return m;
});

self.onmessage = async (event) => {
  let m;
  try {
    m = await ready;
    // Replies are posted as they are ready, while the batch still runs.
    m.workerHandle(new Uint8Array(event.data), (out) => self.postMessage(out.buffer, [out.buffer]));
  } catch (err) {
    let message = String(err);
    let task;
    try { message = m.workerLastPanic() || message; task = m.workerRunningTask(); } catch (_) { /* the instance is gone */ }
    self.postMessage({ crash: message, task });
    self.close();
  }
};
