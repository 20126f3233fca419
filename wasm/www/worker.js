// A rask worker: instantiates the same wasm module as the page and hands
// every message batch to it. A trap (a panic in an op) or any other throw
// is reported as {crash} and the worker closes: its instance may be broken.
import init, { workerStart, workerHandle, workerLastPanic, workerRunningTask } from "./pkg/rask_wasm.js";

// Set before the module loads, so no early message is lost; handlers wait
// on `ready` and so run in arrival order.
const ready = init().then(() => workerStart());

self.onmessage = async (event) => {
  try {
    await ready;
    const out = workerHandle(new Uint8Array(event.data));
    // An empty batch encodes to one byte: nothing to say.
    if (out.length > 1) self.postMessage(out.buffer, [out.buffer]);
  } catch (err) {
    let message = String(err);
    let task;
    try { message = workerLastPanic() || message; task = workerRunningTask(); } catch (_) { /* the instance is gone */ }
    self.postMessage({ crash: message, task });
    self.close();
  }
};
