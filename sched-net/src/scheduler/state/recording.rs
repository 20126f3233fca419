//! A [`Sink`] that records every message, for tests: the state machine is
//! driven without a socket and what it sent is read back, typed.
//!
//! Worker messages are kept encoded, as they would cross the wire (they
//! borrow job specs), and decoded when read: so every recorded message
//! also round-trips through the wire format.

use super::{ClientId, Sink};
use crate::protocol::{DataKey, ToClient, ToWorker, WorkerId};

/// A task sent to run: the worker, the task, and each input to fetch
/// with a worker holding it.
pub type Run = (WorkerId, DataKey, Vec<(DataKey, WorkerId)>);

/// Records what a handler sent, oldest first.
#[derive(Debug, Default)]
pub struct RecordingSink {
    to_workers: Vec<(WorkerId, Vec<u8>)>,
    to_clients: Vec<(ClientId, ToClient)>,
}

impl Sink for RecordingSink {
    fn to_worker(&mut self, w: WorkerId, msg: &ToWorker<'_>) {
        let bytes = postcard::to_allocvec(msg).expect("a message encodes");
        self.to_workers.push((w, bytes));
    }

    fn to_client(&mut self, c: ClientId, msg: &ToClient) {
        self.to_clients.push((c, msg.clone()));
    }
}

impl RecordingSink {
    /// Everything recorded since the last take, leaving the sink empty.
    pub fn take(&mut self) -> RecordingSink {
        std::mem::take(self)
    }

    /// The messages to workers, in order.
    pub fn to_workers(&self) -> Vec<(WorkerId, ToWorker<'_>)> {
        self.to_workers
            .iter()
            .map(|(w, bytes)| (*w, postcard::from_bytes(bytes).expect("a message decodes")))
            .collect()
    }

    /// The messages to clients, in order.
    pub fn to_clients(&self) -> &[(ClientId, ToClient)] {
        &self.to_clients
    }

    /// The tasks sent to run.
    pub fn runs(&self) -> Vec<Run> {
        self.to_workers()
            .into_iter()
            .filter_map(|(w, m)| match m {
                ToWorker::Run { key, fetch, .. } => Some((w, key, fetch)),
                _ => None,
            })
            .collect()
    }

    /// The results workers were told to drop: (worker, key).
    pub fn releases(&self) -> Vec<(WorkerId, DataKey)> {
        self.to_workers()
            .into_iter()
            .flat_map(|(w, m)| match m {
                ToWorker::Release { keys } => keys.into_iter().map(|k| (w, k)).collect(),
                _ => Vec::new(),
            })
            .collect()
    }
}
