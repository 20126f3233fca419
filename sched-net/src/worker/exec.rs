//! The worker's executor: threads taking tasks from one queue in the
//! scheduler's priority order, encoding each result where it was made (off
//! the network thread), and handing outcomes back through a channel and a
//! mio waker.

use std::collections::BinaryHeap;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use mio::Waker;
use rask_core::{Fetch, TaskError, TaskId, Value};

use crate::portable::SharedJob;
use crate::protocol::{DataKey, JobId};

/// A task with its inputs, ready to run.
pub struct Item {
    /// Lower runs first.
    pub priority: u64,
    /// The task.
    pub key: DataKey,
    /// Its job.
    pub job: SharedJob,
    /// Its inputs by task id, sorted.
    pub inputs: Vec<(TaskId, Value)>,
}

impl PartialEq for Item {
    fn eq(&self, other: &Self) -> bool {
        (self.priority, self.key) == (other.priority, other.key)
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Item {
    /// The max-heap pops the lowest priority number first.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.priority, other.key).cmp(&(self.priority, self.key))
    }
}

/// What became of a task.
pub struct Outcome {
    /// The task.
    pub key: DataKey,
    /// Its value and encoding, or its error.
    pub result: Result<(Value, Vec<u8>), TaskError>,
    /// How long it ran.
    pub nanos: u64,
    /// When it ended, so the scheduler can place it in time.
    pub ended: Instant,
    /// The executor thread that ran it.
    pub thread: u16,
    /// Its inputs, handed back so the loop can drop fetched copies.
    pub inputs: Vec<TaskId>,
}

struct Queue {
    items: BinaryHeap<Item>,
    running: u32,
    stop: bool,
}

/// The executor threads and their queue.
pub struct Executor {
    queue: Arc<(Mutex<Queue>, Condvar)>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Executor({} threads)", self.threads.len())
    }
}

/// Inputs of one task, looked up by binary search.
struct Inputs<'a>(&'a [(TaskId, Value)]);

impl Fetch for Inputs<'_> {
    fn fetch(&self, task: TaskId) -> Option<&Value> {
        self.0
            .binary_search_by_key(&task, |(t, _)| *t)
            .ok()
            .map(|i| &self.0[i].1)
    }
}

impl Executor {
    /// Starts `n` threads sending outcomes to `done` and waking `waker`.
    pub fn start(n: usize, done: Sender<Outcome>, waker: Arc<Waker>) -> std::io::Result<Executor> {
        let queue = Arc::new((
            Mutex::new(Queue {
                items: BinaryHeap::new(),
                running: 0,
                stop: false,
            }),
            Condvar::new(),
        ));
        let mut threads = Vec::new();
        for i in 0..n.max(1) {
            let queue = queue.clone();
            let done = done.clone();
            let waker = waker.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("rask-exec-{i}"))
                    .spawn(move || work(&queue, &done, &waker, i as u16))?,
            );
        }
        Ok(Executor { queue, threads })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a task.
    pub fn push(&self, item: Item) {
        self.lock().items.push(item);
        self.queue.1.notify_one();
    }

    /// (running, queued).
    pub fn load(&self) -> (u32, u32) {
        let q = self.lock();
        (q.running, q.items.len() as u32)
    }

    /// Takes back up to `max` queued tasks, the last in priority order.
    pub fn steal(&self, max: usize) -> Vec<Item> {
        let mut q = self.lock();
        let mut items = std::mem::take(&mut q.items).into_sorted_vec();
        // Sorted ascending by `Ord`: the last to run come first.
        let n = max.min(items.len());
        let stolen: Vec<Item> = items.drain(..n).collect();
        q.items = items.into();
        stolen
    }

    /// Drops the queued tasks of `job`.
    pub fn drop_job(&self, job: JobId) {
        self.lock().items.retain(|i| i.key.job != job);
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.lock().stop = true;
        self.queue.1.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn work(queue: &(Mutex<Queue>, Condvar), done: &Sender<Outcome>, waker: &Waker, thread: u16) {
    loop {
        let item = {
            let mut q = queue.0.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if q.stop {
                    return;
                }
                if let Some(item) = q.items.pop() {
                    q.running += 1;
                    break item;
                }
                q = queue.1.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        let outcome = run(item, thread);
        queue.0.lock().unwrap_or_else(|e| e.into_inner()).running -= 1;
        if done.send(outcome).is_err() {
            return;
        }
        let _ = waker.wake();
    }
}

fn run(item: Item, thread: u16) -> Outcome {
    let task = TaskId(item.key.task);
    let start = Instant::now();
    let result = item
        .job
        .job
        .execute(task, &Inputs(&item.inputs))
        .and_then(|value| {
            let codec = item
                .job
                .codec(task)
                .ok_or_else(|| TaskError::new("the result's type has no codec"))?;
            let mut bytes = Vec::new();
            codec.encode(&value, &mut bytes)?;
            Ok((value, bytes))
        });
    let ended = Instant::now();
    Outcome {
        key: item.key,
        result,
        nanos: ended.duration_since(start).as_nanos() as u64,
        ended,
        thread,
        inputs: item.inputs.into_iter().map(|(t, _)| t).collect(),
    }
}
