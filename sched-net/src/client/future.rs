//! Futures: one output of a submitted job, and the job's status they
//! share ([`JobHandle`]). The last future of an output releases it on the
//! cluster; the last of the job releases the job.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rask_core::{Codec, Error, IgnorePoison, TaskId, Value};

use super::commands::{Cmd, Inner};
use super::errors::{self, net_error};
use crate::protocol::{DataKey, JobId};

/// Where a job stands, as the IO thread last heard.
#[derive(Debug, Clone)]
pub(super) enum Status {
    Pending,
    Done,
    Failed(Error),
    Cancelled,
    /// The connection to the scheduler is gone, and with it the result.
    Lost(Error),
}

/// Where a future stands, as Dask's `Future.status` tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FutureStatus {
    /// Not finished yet (see also [`RawFuture::waiting_for_workers`]).
    Pending,
    /// Finished; the result is on the cluster.
    Finished,
    /// Its task, or one it needed, failed.
    Error,
    /// Cancelled before it finished.
    Cancelled,
    /// The client lost its scheduler.
    Lost,
}

/// Runs once a job has settled (finished or failed).
type Callback = Box<dyn FnOnce() + Send>;

/// Takes the answer to a fetch, on the IO thread.
pub(super) type Reply = Box<dyn FnOnce(Result<Vec<Value>, Error>) + Send>;

/// One submitted job; shared by the futures of its outputs.
pub(super) struct JobHandle {
    pub(super) client: Arc<Inner>,
    pub(super) job: JobId,
    pub(super) status: Mutex<(Status, Vec<Callback>)>,
    /// The scheduler said it has no worker to run the job, and no worker
    /// has joined since.
    pub(super) waiting: AtomicBool,
}

impl std::fmt::Debug for JobHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobHandle").field("job", &self.job).finish()
    }
}

impl Drop for JobHandle {
    fn drop(&mut self) {
        self.client.send(Cmd::Release(self.job));
    }
}

impl JobHandle {
    /// Records the status (a cancelled job stays cancelled); the first
    /// time the job settles, runs the callbacks (on the IO thread, outside
    /// the lock).
    pub(super) fn set(&self, status: Status) {
        let callbacks = {
            let mut s = self.status.lock().ignore_poison();
            if matches!(s.0, Status::Cancelled) {
                return;
            }
            s.0 = status;
            std::mem::take(&mut s.1)
        };
        callbacks.into_iter().for_each(|f| f());
    }

    /// Marks a pending job cancelled (running the callbacks); false if it
    /// had settled already.
    fn cancel(&self) -> bool {
        let callbacks = {
            let mut s = self.status.lock().ignore_poison();
            if !matches!(s.0, Status::Pending) {
                return false;
            }
            s.0 = Status::Cancelled;
            std::mem::take(&mut s.1)
        };
        callbacks.into_iter().for_each(|f| f());
        true
    }

    pub(super) fn status(&self) -> Status {
        self.status.lock().ignore_poison().0.clone()
    }

    /// Runs `f` once the job settles, or now if it has.
    fn on_settled(&self, f: Callback) {
        let mut s = self.status.lock().ignore_poison();
        if matches!(s.0, Status::Pending) {
            s.1.push(f);
        } else {
            drop(s);
            f();
        }
    }

    /// Asks the IO thread for `tasks`' results; it fetches them as soon as
    /// the job finishes (again, if a holder dies meanwhile), without a
    /// round trip through the caller's thread.
    pub(super) fn request(&self, futures: &[RawFuture]) -> Receiver<Result<Vec<Value>, Error>> {
        let (tx, rx) = channel();
        self.request_then(
            futures,
            Box::new(move |answer| {
                let _ = tx.send(answer);
            }),
        );
        rx
    }

    /// [`request`](Self::request), answered by calling `reply` on the IO
    /// thread.
    fn request_then(&self, futures: &[RawFuture], reply: Reply) {
        let tasks = futures.iter().map(|f| (f.task.0, f.key, f.codec)).collect();
        self.client.send(Cmd::Fetch(self.job, tasks, reply));
    }
}

pub(super) fn cancelled(key: DataKey) -> Error {
    errors::cancelled(format!("{}/{} was cancelled", key.job, key.task))
}

/// The answer to a [`JobHandle::request`].
pub(super) fn answer(rx: Receiver<Result<Vec<Value>, Error>>) -> Result<Vec<Value>, Error> {
    rx.recv()
        .unwrap_or_else(|_| Err(errors::io_thread_stopped()))
}

/// The result of one output of a submitted job, held on the cluster until
/// every handle to it is dropped.
#[derive(Debug, Clone)]
pub struct RawFuture {
    pub(super) handle: Arc<JobHandle>,
    /// Its output task in its job.
    pub(super) task: TaskId,
    /// Where the result lives: the task's own key, or the earlier result
    /// it stands for.
    pub(super) key: DataKey,
    pub(super) codec: Codec,
    /// Shared by the clones of this output; declared after `handle`, so
    /// that its drop sees only the other outputs' holds on the job.
    pub(super) hold: Arc<OutputHold>,
}

/// One output of a job, held while a future of it lives: the last one
/// dropped releases that output on the cluster (the others stay).
pub(super) struct OutputHold {
    pub(super) handle: Arc<JobHandle>,
    pub(super) task: u32,
}

impl std::fmt::Debug for OutputHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OutputHold({:#x}/{})", self.handle.job, self.task)
    }
}

impl Drop for OutputHold {
    fn drop(&mut self) {
        // With no other hold on the job, the job itself is released as
        // this drop completes: no message for the output alone.
        if Arc::strong_count(&self.handle) > 1 {
            self.handle
                .client
                .send(Cmd::ReleaseOutput(self.handle.job, self.task));
        }
    }
}

impl RawFuture {
    /// Waits for the value: at most `timeout` if one is given (then an
    /// error that says so), as Dask's `Future.result(timeout=None)`.
    pub fn result(&self, timeout: Option<Duration>) -> Result<Value, Error> {
        let rx = self.handle.request(std::slice::from_ref(self));
        let mut values = match timeout {
            None => answer(rx)?,
            Some(timeout) => rx.recv_timeout(timeout).map_err(|_| {
                errors::timeout(format!(
                    "no result for {}/{} within {timeout:?}",
                    self.key.job, self.key.task
                ))
            })??,
        };
        values.pop().ok_or_else(|| net_error("no value came back"))
    }

    /// True once the task finished, failed or was cancelled, that is
    /// while its [`status`](Self::status) is not pending.
    pub(super) fn done(&self) -> bool {
        !matches!(self.handle.status(), Status::Pending)
    }

    /// True while its job is pending on a cluster with no worker: the
    /// scheduler has admitted it and runs it once a worker joins (Dask's
    /// "waiting for workers"). A job that has settled is not waiting.
    pub fn waiting_for_workers(&self) -> bool {
        self.handle.waiting.load(Ordering::Acquire) && !self.done()
    }

    /// Where it stands.
    pub fn status(&self) -> FutureStatus {
        match self.handle.status() {
            Status::Pending => FutureStatus::Pending,
            Status::Done => FutureStatus::Finished,
            Status::Failed(_) => FutureStatus::Error,
            Status::Cancelled => FutureStatus::Cancelled,
            Status::Lost(_) => FutureStatus::Lost,
        }
    }

    /// Why it has no value: the error its job failed with, the
    /// cancellation, or the lost connection.
    pub fn error(&self) -> Option<Error> {
        match self.handle.status() {
            Status::Failed(e) | Status::Lost(e) => Some(e),
            Status::Cancelled => Some(cancelled(self.key)),
            Status::Pending | Status::Done => None,
        }
    }

    /// Stops its job if it has not finished: the scheduler drops its
    /// tasks, and the futures of the job (every output of one `map`, and
    /// clones) read as cancelled. A finished job is left as it is.
    pub fn cancel(&self) {
        if self.handle.cancel() {
            self.handle.client.send(Cmd::Cancel(self.handle.job));
        }
    }

    /// Waits until the task's job has finished (`Ok`) or failed.
    pub fn wait(&self) -> Result<(), Error> {
        let (tx, rx) = channel();
        self.on_done(move || {
            let _ = tx.send(());
        });
        let _ = rx.recv();
        self.error().map_or(Ok(()), Err)
    }

    /// Calls `f` with the value (or why there is none), on the client's
    /// IO thread, without blocking the caller: the base of `async` use.
    /// `f` must be quick.
    pub fn result_then(&self, f: impl FnOnce(Result<Value, Error>) + Send + 'static) {
        self.handle.request_then(
            std::slice::from_ref(self),
            Box::new(move |answer| {
                f(answer.and_then(|mut v| v.pop().ok_or_else(|| net_error("no value came back"))))
            }),
        );
    }

    /// Runs `f` on the client's IO thread once the task's job has
    /// finished or failed (at once if it has). `f` must be quick: the
    /// client's IO waits for it.
    pub fn on_done(&self, f: impl FnOnce() + Send + 'static) {
        self.handle.on_settled(Box::new(f));
    }

    /// Where the result lives on the cluster.
    pub fn key(&self) -> DataKey {
        self.key
    }

    /// Lets its job run to the end even when every future of it is
    /// dropped and the client goes away, as Dask's `fire_and_forget`; its
    /// results are released once it has finished.
    pub fn fire_and_forget(&self) {
        self.handle.client.send(Cmd::Forget(self.handle.job));
    }

    /// The codec of its value.
    pub fn codec(&self) -> Codec {
        self.codec
    }
}

/// Futures are equal when they are of the same output of the same job
/// (clones, or an equal pure submission's).
impl PartialEq for RawFuture {
    fn eq(&self, other: &RawFuture) -> bool {
        Arc::ptr_eq(&self.hold, &other.hold)
    }
}

impl Eq for RawFuture {}

/// A future is how a cluster holds a persisted collection's chunk: this
/// client's jobs read it where it lives (see [`Client::submit_job`](crate::Client::submit_job));
/// other schedulers fetch it.
impl rask_core::Holder for RawFuture {
    fn key(&self) -> String {
        format!("future-{:x}-{}", self.key.job, self.key.task)
    }

    fn codec(&self) -> Option<Codec> {
        Some(self.codec)
    }

    fn fetch(&self) -> Result<Value, String> {
        // A forked child has the client's memory but not its IO thread: a
        // fetch there would wait forever.
        if std::process::id() != self.handle.client.pid {
            return Err(format!(
                "result {:x}/{} is held on a cluster, and this forked process cannot reach \
                 the client holding it: compute with that client, `sync` or `threads`",
                self.key.job, self.key.task
            ));
        }
        self.result(None).map_err(|e| e.to_string())
    }
}
