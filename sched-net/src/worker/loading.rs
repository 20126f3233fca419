//! Big job specs decoded and loaded on a thread of the worker's own, so
//! that its loop keeps reading, serving peers and sending heartbeats
//! while a ten-million-task spec (hundreds of megabytes) is loaded.
//!
//! The loop hands a spec over ([`Loading::start`]) and goes on; the
//! tasks the scheduler sends for that job meanwhile wait, in order, in
//! [`Loading::held`], and run as soon as the job is in
//! ([`Loading::next`]). A job dropped meanwhile loses its held tasks, and
//! its spec is thrown away once loaded. A small spec is cheaper to load
//! in place than to copy across threads, so the loop keeps those
//! ([`Loading::worth_it`]).

use std::collections::HashMap;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

use mio::Waker;

use crate::portable::{decode_spec, Loader, SharedJob};
use crate::protocol::{DataKey, JobId, WorkerId};

/// Specs at least this long are loaded off the loop: about ten thousand
/// tasks.
const OFF_LOOP_SPEC_BYTES: usize = 64 << 10;

/// A task sent while its job was loading: key, priority, inputs to fetch.
pub(super) type HeldRun = (DataKey, u64, Vec<(DataKey, WorkerId)>);

/// A job back from the thread, with the tasks held for it.
pub(super) type Loaded = (JobId, Result<SharedJob, String>, Vec<HeldRun>);

/// The loop's end of the loading thread.
pub(super) struct Loading {
    requests: Sender<(JobId, Arc<[u8]>)>,
    loaded: Receiver<(JobId, Result<SharedJob, String>)>,
    /// Per job being loaded, the tasks sent for it since, oldest first.
    pub held: HashMap<JobId, Vec<HeldRun>>,
}

impl Loading {
    /// Starts the thread, which loads with `loader` and wakes the loop
    /// through `waker` when a job is in.
    pub fn start(loader: Loader, waker: Arc<Waker>) -> std::io::Result<Loading> {
        let (requests, inbox) = channel::<(JobId, Arc<[u8]>)>();
        let (outbox, loaded) = channel();
        std::thread::Builder::new()
            .name("rask-worker-loading".into())
            .spawn(move || {
                for (job, spec) in inbox {
                    let result = decode_spec(&spec)
                        .and_then(|s| loader.load(&s))
                        .map(Arc::new);
                    if outbox.send((job, result)).is_err() {
                        return;
                    }
                    // A failed wake leaves the job for the next heartbeat
                    // tick, half a second at most.
                    let _ = waker.wake();
                }
            })?;
        Ok(Loading {
            requests,
            loaded,
            held: HashMap::new(),
        })
    }

    /// True if a spec of `len` bytes is better loaded off the loop.
    pub fn worth_it(len: usize) -> bool {
        len >= OFF_LOOP_SPEC_BYTES
    }

    /// Hands `job`'s spec to the thread; `false` if the thread is gone
    /// (the caller then loads it in place).
    pub fn load(&mut self, job: JobId, spec: &[u8]) -> bool {
        if self.requests.send((job, spec.into())).is_err() {
            return false;
        }
        self.held.insert(job, Vec::new());
        true
    }

    /// Forgets `job`: its held tasks go, and its spec is thrown away when
    /// it comes back.
    pub fn drop_job(&mut self, job: JobId) {
        self.held.remove(&job);
    }

    /// The next job the thread has finished and that is still wanted,
    /// with the tasks held for it; never blocks.
    pub fn next(&mut self) -> Option<Loaded> {
        loop {
            let (job, result) = self.loaded.try_recv().ok()?;
            if let Some(runs) = self.held.remove(&job) {
                return Some((job, result, runs));
            } // else dropped while it loaded
        }
    }
}
