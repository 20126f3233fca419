//! The admission thread: big jobs are decoded and planned here, off the
//! event loop, so that the loop keeps reading heartbeats and answering
//! every connection while a ten-million-task job is prepared.
//!
//! The loop hands over a submitted spec ([`Admission::prepare`]) and goes
//! on; the thread runs [`Prepared::new`] and sends the result back through
//! a channel, waking the loop through its `mio` waker; the loop then
//! installs the prepared job ([`Cluster::install`](super::state::Cluster::install)),
//! which costs time in the job's results passed in and prefixes, not in
//! its tasks. Jobs come back in the order they were handed over: one
//! thread, one queue. A small spec is cheaper to prepare in place than to
//! send across threads, so the loop keeps those ([`Admission::worth_it`]).
//! Jobs that left the cluster are freed here too ([`Admission::free`]):
//! giving back a big job's memory takes time in its size as well.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::Waker;

use super::state::{ClientId, Prepared, Retired};
use crate::protocol::{JobId, WireError};

/// Specs at least this long are prepared on the admission thread: about
/// ten thousand tasks, a millisecond or so of work in place.
const OFF_LOOP_SPEC_BYTES: usize = 64 << 10;

/// A job back from the admission thread.
#[derive(Debug)]
pub struct Admitted {
    /// Who submitted it.
    pub client: ClientId,
    /// Its id.
    pub job: JobId,
    /// The job, or why it cannot run.
    pub prepared: Result<Prepared, WireError>,
    /// How long preparing it took.
    pub took: Duration,
}

enum Request {
    Prepare {
        client: ClientId,
        job: JobId,
        spec: Arc<[u8]>,
    },
    Free(Vec<Retired>),
}

/// The loop's end of the admission thread.
#[derive(Debug)]
pub struct Admission {
    requests: Option<Sender<Request>>,
    admitted: Receiver<Admitted>,
}

impl Admission {
    /// Starts the thread; it wakes the loop through `waker` whenever a job
    /// is ready.
    pub fn start(waker: Arc<Waker>) -> std::io::Result<Admission> {
        let (requests, inbox) = channel::<Request>();
        let (outbox, admitted) = channel();
        std::thread::Builder::new()
            .name("rask-admission".into())
            .spawn(move || {
                for request in inbox {
                    let (client, job, spec) = match request {
                        Request::Prepare { client, job, spec } => (client, job, spec),
                        Request::Free(jobs) => {
                            drop(jobs);
                            continue;
                        }
                    };
                    let started = Instant::now();
                    let prepared = Prepared::new(spec);
                    let done = Admitted {
                        client,
                        job,
                        prepared,
                        took: started.elapsed(),
                    };
                    if outbox.send(done).is_err() {
                        return;
                    }
                    // A failed wake leaves the job for the loop's next
                    // tick, a quarter of a second at most.
                    let _ = waker.wake();
                }
            })?;
        Ok(Admission {
            requests: Some(requests),
            admitted,
        })
    }

    /// True if a spec of `len` bytes is better prepared off the loop.
    pub fn worth_it(len: usize) -> bool {
        len >= OFF_LOOP_SPEC_BYTES
    }

    /// Hands job `job` of `client` to the thread. `false` if the thread
    /// is gone (it never stops before the loop does; the caller then
    /// prepares the job in place).
    pub fn prepare(&self, client: ClientId, job: JobId, spec: &[u8]) -> bool {
        let Some(requests) = &self.requests else {
            return false;
        };
        requests
            .send(Request::Prepare {
                client,
                job,
                spec: spec.into(),
            })
            .is_ok()
    }

    /// Frees `jobs` on the thread (here, if it is gone).
    pub fn free(&self, jobs: Vec<Retired>) {
        if jobs.is_empty() {
            return;
        }
        if let Some(requests) = &self.requests {
            // A closed queue hands the jobs back; they are freed here then.
            let _ = requests.send(Request::Free(jobs));
        }
    }

    /// The next job the thread has finished, if any; never blocks.
    pub fn next(&self) -> Option<Admitted> {
        self.admitted.try_recv().ok()
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has finished the job
        // in hand. It is not waited for: a scheduler that stops while a
        // big job is being planned stops now, and the thread's answer
        // finds no loop and is dropped.
        self.requests = None;
    }
}
