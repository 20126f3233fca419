//! What `worker.js` calls: the exported entry points of a worker, over one
//! [`WorkerState`] per worker thread.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;

use crate::worker::WorkerState;

thread_local! {
    static STATE: RefCell<Option<WorkerState>> = const { RefCell::new(None) };
    /// The message of the last panic: a panic traps the module, and the
    /// trap's own message ("unreachable") says nothing useful.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Prepares this thread to be a worker: its state and a panic hook.
#[wasm_bindgen(js_name = workerStart)]
pub fn worker_start() {
    std::panic::set_hook(Box::new(|info| {
        let _ =
            LAST_PANIC.try_with(|p| p.try_borrow_mut().map(|mut p| *p = Some(info.to_string())));
    }));
    STATE.with(|s| *s.borrow_mut() = Some(WorkerState::new(crate::ops::registry())));
}

/// Handles one batch of messages, calling `post(bytes)` with each encoded
/// batch of replies (a `Uint8Array` over a buffer of its own, free to be
/// transferred) as soon as it is ready.
#[wasm_bindgen(js_name = workerHandle)]
pub fn worker_handle(batch: &[u8], post: &js_sys::Function) -> Result<(), JsError> {
    STATE.with(|s| match s.borrow_mut().as_mut() {
        Some(state) => {
            let mut failed = None;
            state.handle(batch, crate::clock::epoch_ms, &mut |bytes| {
                let array = js_sys::Uint8Array::from(bytes.as_slice());
                if let Err(e) = post.call1(&JsValue::NULL, &array) {
                    failed.get_or_insert(e);
                }
            });
            match failed {
                None => Ok(()),
                Some(e) => Err(JsError::new(&format!(
                    "cannot post replies: {}",
                    crate::pool::describe(&e)
                ))),
            }
        }
        None => Err(JsError::new("workerStart() was not called in this worker")),
    })
}

/// The task that was running when this worker crashed, if one was.
#[wasm_bindgen(js_name = workerRunningTask)]
pub fn worker_running_task() -> Option<u32> {
    crate::worker::running_task()
}

/// The message of the panic that crashed this worker, if one did.
#[wasm_bindgen(js_name = workerLastPanic)]
pub fn worker_last_panic() -> Option<String> {
    LAST_PANIC
        .try_with(|p| p.try_borrow().ok()?.clone())
        .ok()
        .flatten()
}
