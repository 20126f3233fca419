//! The main thread's side of the workers: `n` module Web Workers running
//! `worker.js` (which instantiates this same wasm module), and an inbox
//! that their messages and crashes land in, awaited by the scheduler.
//!
//! A worker that crashes (a trap in wasm, an uncaught error) is terminated
//! and replaced by a fresh one in the same slot; its generation number
//! changes, so anything the dead one still sends is ignored.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

use js_sys::{Array, ArrayBuffer, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ErrorEvent, MessageEvent, Worker, WorkerOptions, WorkerType};

use crate::error::RunError;

/// At most this many workers: where each result lives is a 64-bit mask.
pub const MAX_WORKERS: usize = 64;

/// Something a worker did.
#[derive(Debug)]
pub enum PoolEvent {
    /// An encoded batch of replies.
    Message { worker: usize, bytes: Vec<u8> },
    /// The worker died (while running `task`, when it could tell); it has
    /// not been replaced yet.
    Crash {
        worker: usize,
        message: String,
        task: Option<u32>,
    },
}

/// Events in arrival order, and the task waiting for the next one.
#[derive(Debug, Default)]
struct Inbox {
    queue: RefCell<VecDeque<(u32, PoolEvent)>>,
    waker: RefCell<Option<Waker>>,
}

impl Inbox {
    fn push(&self, generation: u32, event: PoolEvent) {
        self.queue.borrow_mut().push_back((generation, event));
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

/// One worker and the callbacks that must live as long as it does.
struct Slot {
    worker: Worker,
    generation: u32,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

/// `n` workers and their inbox.
pub struct Pool {
    script: String,
    slots: RefCell<Vec<Slot>>,
    /// Callbacks of replaced workers: a terminated worker fires no more
    /// events, but its closures are kept rather than risk a call into freed ones.
    retired: RefCell<Vec<Slot>>,
    inbox: Rc<Inbox>,
    next_generation: Cell<u32>,
    next_run: Cell<u32>,
    busy: Cell<bool>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("script", &self.script)
            .field("workers", &self.slots.borrow().len())
            .finish()
    }
}

impl Pool {
    /// Starts `n` workers running the module script at `script`.
    pub fn new(n: usize, script: &str) -> Result<Pool, RunError> {
        if n == 0 || n > MAX_WORKERS {
            return Err(RunError::Browser(format!(
                "a pool needs 1 to {MAX_WORKERS} workers, not {n}"
            )));
        }
        let pool = Pool {
            script: script.to_owned(),
            slots: RefCell::new(Vec::with_capacity(n)),
            retired: RefCell::new(Vec::new()),
            inbox: Rc::new(Inbox::default()),
            next_generation: Cell::new(0),
            next_run: Cell::new(1),
            busy: Cell::new(false),
        };
        for i in 0..n {
            let slot = pool.spawn(i)?;
            pool.slots.borrow_mut().push(slot);
        }
        Ok(pool)
    }

    /// The number of workers.
    pub fn size(&self) -> usize {
        self.slots.borrow().len()
    }

    fn spawn(&self, index: usize) -> Result<Slot, RunError> {
        let generation = self.next_generation.get();
        self.next_generation.set(generation + 1);
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        let worker = Worker::new_with_options(&self.script, &options).map_err(|e| {
            RunError::Browser(format!(
                "cannot start worker script '{}': {}",
                self.script,
                describe(&e)
            ))
        })?;
        let inbox = self.inbox.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let data = e.data();
            let event = match data.dyn_ref::<ArrayBuffer>() {
                Some(buf) => PoolEvent::Message {
                    worker: index,
                    bytes: Uint8Array::new(buf).to_vec(),
                },
                None => {
                    let message = Reflect::get(&data, &"crash".into())
                        .ok()
                        .and_then(|m| m.as_string())
                        .unwrap_or_else(|| {
                            "the worker sent something that is not a message batch".into()
                        });
                    let task = Reflect::get(&data, &"task".into())
                        .ok()
                        .and_then(|t| t.as_f64())
                        .map(|t| t as u32);
                    PoolEvent::Crash {
                        worker: index,
                        message,
                        task,
                    }
                }
            };
            inbox.push(generation, event);
        });
        let inbox = self.inbox.clone();
        let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |e: ErrorEvent| {
            e.prevent_default();
            let message = match e.message() {
                m if m.is_empty() => "the worker failed to load or threw an error".to_owned(),
                m => m,
            };
            inbox.push(
                generation,
                PoolEvent::Crash {
                    worker: index,
                    message,
                    task: None,
                },
            );
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(Slot {
            worker,
            generation,
            _on_message: on_message,
            _on_error: on_error,
        })
    }

    /// Posts `bytes` to worker `worker`, transferring a fresh buffer.
    pub fn post(&self, worker: usize, bytes: &[u8]) -> Result<(), RunError> {
        let slots = self.slots.borrow();
        let slot = slots
            .get(worker)
            .ok_or_else(|| RunError::Browser(format!("there is no worker {worker}")))?;
        let array = Uint8Array::new_with_length(bytes.len() as u32);
        array.copy_from(bytes);
        let buffer = array.buffer();
        slot.worker
            .post_message_with_transfer(&buffer, &Array::of1(&buffer))
            .map_err(|e| {
                RunError::Browser(format!("cannot post to worker {worker}: {}", describe(&e)))
            })
    }

    /// Terminates worker `worker` and starts a fresh one in its place.
    pub fn replace(&self, worker: usize) -> Result<(), RunError> {
        let fresh = self.spawn(worker)?;
        let mut slots = self.slots.borrow_mut();
        let slot = slots
            .get_mut(worker)
            .ok_or_else(|| RunError::Browser(format!("there is no worker {worker}")))?;
        slot.worker.terminate();
        let old = std::mem::replace(slot, fresh);
        self.retired.borrow_mut().push(old);
        Ok(())
    }

    /// The next event of a current worker (stale generations are skipped).
    pub async fn next_event(&self) -> PoolEvent {
        loop {
            let (generation, event) =
                poll_fn(|cx| match self.inbox.queue.borrow_mut().pop_front() {
                    Some(e) => Poll::Ready(e),
                    None => {
                        *self.inbox.waker.borrow_mut() = Some(cx.waker().clone());
                        Poll::Pending
                    }
                })
                .await;
            let worker = match &event {
                PoolEvent::Message { worker, .. } | PoolEvent::Crash { worker, .. } => *worker,
            };
            if self
                .slots
                .borrow()
                .get(worker)
                .is_some_and(|s| s.generation == generation)
            {
                return event;
            }
        }
    }

    /// A number no earlier run of this pool used.
    pub fn next_run(&self) -> u32 {
        let run = self.next_run.get();
        self.next_run.set(run.wrapping_add(1));
        run
    }

    /// Marks the pool busy; `false` if it already was (one run at a time).
    pub fn claim(&self) -> bool {
        !self.busy.replace(true)
    }

    /// Ends a claim.
    pub fn release(&self) {
        self.busy.set(false);
    }

    /// Stops every worker.
    pub fn terminate(&self) {
        for slot in self.slots.borrow().iter() {
            slot.worker.terminate();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// A JavaScript error as text.
pub fn describe(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{e:?}"))
}
