//! A client's frames held while one of its jobs is on the admission
//! thread, so that the scheduler handles every client's messages in the
//! order they were sent, as when jobs were admitted in place.
//!
//! A submit handed to the thread ends the handling of its frame: what is
//! left of that frame, and every frame of that client after it, waits in
//! its [`Holdback`]. When the job comes back and is installed, the held
//! frames are handled in order, until one of them hands over another job.

use std::collections::VecDeque;

use super::admission::Admitted;
use super::state::ClientId;
use super::{Outboxes, Server};
use crate::protocol::{FrameError, FromClient};

/// What one client sent while its jobs were being admitted: whatever it
/// says about those jobs (release, forget, publish their results, submit
/// a job using them) must find them on the cluster.
#[derive(Debug, Default)]
pub struct Holdback {
    /// Its jobs on the admission thread.
    pub admitting: usize,
    /// What it sent since, oldest first: frame bodies, or what was left
    /// of one after the submit that went to the admission thread.
    pub frames: VecDeque<Vec<u8>>,
}

impl Holdback {
    /// True if the client's next frame must wait.
    pub fn holds(&self) -> bool {
        self.admitting > 0 || !self.frames.is_empty()
    }
}

impl Server {
    /// Installs a job back from the admission thread, then lets its
    /// client's held frames through until the next job it hands over.
    pub(super) fn admitted(&mut self, done: Admitted) {
        let Admitted {
            client,
            job,
            prepared,
            took,
        } = done;
        if let Some(h) = self.held.get_mut(&client) {
            h.admitting = h.admitting.saturating_sub(1);
        }
        // A client gone meanwhile took its job with it.
        if !self.clients.contains_key(&client) {
            self.held.remove(&client);
            return;
        }
        if let Ok(p) = &prepared {
            log::debug!("job {job:#x}: {} tasks prepared in {took:?}", p.tasks());
        }
        let mut sink = Outboxes {
            conns: &mut self.conns,
            workers: &self.workers,
            clients: &self.clients,
        };
        self.cluster.install(client, job, prepared, &mut sink);
        self.release_held(client);
    }

    /// Handles the frames `client` sent while its jobs were admitted, in
    /// order, until one of them hands another job over.
    fn release_held(&mut self, client: ClientId) {
        loop {
            let Some(h) = self.held.get_mut(&client) else {
                return;
            };
            if h.admitting > 0 {
                return;
            }
            let Some(body) = h.frames.pop_front() else {
                self.held.remove(&client);
                return;
            };
            match self.client_frame(client, &body) {
                Ok(None) => {}
                Ok(Some(rest)) => {
                    if let Some(h) = self.held.get_mut(&client) {
                        h.frames.push_front(rest);
                    }
                }
                Err(why) => {
                    log::warn!("closing the connection of client {client}: {why}");
                    if let Some(token) = self.clients.get(&client).copied() {
                        self.close(token);
                    }
                    return;
                }
            }
        }
    }

    /// Handles a client's frame up to its end, or up to a submit handed to
    /// the admission thread: then what is left of the frame is returned,
    /// to wait until that job is in.
    pub(super) fn client_frame(
        &mut self,
        c: ClientId,
        body: &[u8],
    ) -> Result<Option<Vec<u8>>, String> {
        let mut rest = body;
        while !rest.is_empty() {
            let (msg, tail) = postcard::take_from_bytes::<FromClient>(rest).map_err(|e| {
                format!(
                    "{} (not a client's message)",
                    FrameError::Malformed(e.to_string())
                )
            })?;
            rest = tail;
            if self.client_message(c, msg)? && !rest.is_empty() {
                return Ok(Some(rest.to_vec()));
            }
        }
        Ok(None)
    }
}
