//! What callers hand the IO thread: [`Cmd`]s through a channel and a
//! waker, owned by the client's shared [`Inner`].

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;

use mio::Waker;
use rask_core::{Codec, Error, IgnorePoison};

use super::future::{JobHandle, Reply};
use super::pure::PureJobs;
use super::queues::QueueCmd;
use crate::portable::CodeKey;
use crate::protocol::{Answer, AskOp, DataKey, JobId, WorkerId};

/// The workers the client knows, and a condition for waiting on joins.
pub(super) type WorkerList = (Mutex<Vec<(WorkerId, String)>>, Condvar);

/// What the scheduler said about itself (`None` until it has), and a
/// condition for waiting on it.
pub(super) type ClusterInfo = (Mutex<Option<Option<String>>>, Condvar);

pub(super) enum Cmd {
    /// A new job, with its spec, or `None` while it waits (see [`Deferred`]).
    Submit(JobId, Option<Vec<u8>>, Weak<JobHandle>),
    /// A waiting job's spec, or the error of an earlier job it needed.
    Launch(JobId, Result<Vec<u8>, Error>),
    Release(JobId),
    /// The last future of one output of a job is gone.
    ReleaseOutput(JobId, u32),
    /// Run the job to its end whatever happens to its futures.
    Forget(JobId),
    /// Ask the scheduler about a queue.
    Queue(String, QueueCmd, Sender<Answer>),
    /// Fetch these outputs of a job once it has finished.
    Fetch(JobId, Vec<(u32, DataKey, Codec)>, Reply),
    /// Ask the scheduler about datasets or copies of results.
    Ask(AskOp, Sender<Answer>),
    /// Stop a job that has not finished.
    Cancel(JobId),
    Stop,
}

pub(super) struct Inner {
    pub(super) id: u32,
    /// The process whose IO thread serves this client.
    pub(super) pid: u32,
    pub(super) next_job: AtomicU32,
    pub(super) commands: Mutex<Sender<Cmd>>,
    pub(super) waker: Waker,
    /// Set when the IO thread has been woken and has not yet drained its
    /// commands: a burst of commands (dropping a `Vec` of futures) costs
    /// one wake, not one each.
    pub(super) woken: Arc<AtomicBool>,
    pub(super) io: Mutex<Option<JoinHandle<()>>>,
    pub(super) code_key: Option<CodeKey>,
    pub(super) workers: Arc<WorkerList>,
    pub(super) info: Arc<ClusterInfo>,
    pub(super) pure: Mutex<PureJobs>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner").field("id", &self.id).finish()
    }
}

impl Inner {
    pub(super) fn send(&self, cmd: Cmd) {
        let sent = self.commands.lock().ignore_poison().send(cmd).is_ok();
        if sent && !self.woken.swap(true, Ordering::AcqRel) {
            let _ = self.waker.wake();
        }
    }
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Cmd::Submit(..) => "Submit",
            Cmd::Launch(..) => "Launch",
            Cmd::Release(_) => "Release",
            Cmd::ReleaseOutput(..) => "ReleaseOutput",
            Cmd::Forget(_) => "Forget",
            Cmd::Queue(..) => "Queue",
            Cmd::Fetch(..) => "Fetch",
            Cmd::Ask(..) => "Ask",
            Cmd::Cancel(_) => "Cancel",
            Cmd::Stop => "Stop",
        })
    }
}

/// Closes the IO thread when the last clone of a client goes.
impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.commands.lock().ignore_poison().send(Cmd::Stop);
        let _ = self.waker.wake();
        if let Some(t) = self.io.lock().ignore_poison().take() {
            let _ = t.join();
        }
    }
}
