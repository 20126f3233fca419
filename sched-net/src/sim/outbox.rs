//! The simulation's [`Sink`]: it keeps, in the simulator's own terms, what
//! the scheduler sends, so the driver can deliver it after the
//! scheduler's handler returns and the message's latency has passed.
//!
//! It copies each order into a reused buffer, about what the real sink
//! does when it encodes a message into a connection's outbox, and it
//! steps out of the [`Probe`]'s accounting while it does, so the copies
//! count as the simulator's memory, not the scheduler's.

use crate::protocol::{ToClient, ToWorker, WorkerId};
use crate::scheduler::state::{ClientId, Sink};

use super::run::Probe;
use super::worker::Order;

/// How the job ended, as the client hears it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum JobEnd {
    Done,
    Failed(String),
}

/// Messages counted by kind.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sent {
    pub(crate) runs: u64,
    pub(crate) steals: u64,
    /// Every message to a worker, `Peers` and `Job` included.
    pub(crate) to_workers: u64,
}

/// Inputs to fetch, each with a worker holding it.
type FetchList = Vec<(u32, WorkerId)>;

/// Records what the scheduler sends.
#[derive(Debug)]
pub(crate) struct Outbox<'p, P> {
    pub(crate) orders: Vec<(WorkerId, Order)>,
    pub(crate) end: Option<JobEnd>,
    pub(crate) sent: Sent,
    pub(crate) probe: &'p mut P,
    /// Fetch-list parts of a wide task, by worker and task, until its
    /// `Run` brings the last part.
    parts: Vec<(WorkerId, u32, FetchList)>,
}

impl<'p, P: Probe> Outbox<'p, P> {
    pub(crate) fn new(probe: &'p mut P) -> Outbox<'p, P> {
        Outbox {
            orders: Vec::new(),
            end: None,
            sent: Sent::default(),
            probe,
            parts: Vec::new(),
        }
    }
}

impl<P: Probe> Outbox<'_, P> {
    /// The fetch-list parts sent ahead of task `task`'s `Run` to `w`.
    fn take_parts(&mut self, w: WorkerId, task: u32) -> FetchList {
        match self
            .parts
            .iter()
            .position(|(pw, t, _)| *pw == w && *t == task)
        {
            Some(i) => self.parts.swap_remove(i).2,
            None => Vec::new(),
        }
    }
}

impl<P: Probe> Sink for Outbox<'_, P> {
    fn to_worker(&mut self, w: WorkerId, msg: &ToWorker<'_>) {
        self.probe.leave();
        self.sent.to_workers += 1;
        let order = match msg {
            ToWorker::Run {
                key,
                priority,
                fetch,
            } => {
                self.sent.runs += 1;
                let mut all = self.take_parts(w, key.task);
                all.extend(fetch.iter().map(|(k, from)| (k.task, *from)));
                Some(Order::Run {
                    task: key.task,
                    priority: *priority,
                    fetch: all,
                })
            }
            ToWorker::Fetch { key, fetch } => {
                let part = fetch.iter().map(|(k, from)| (k.task, *from));
                match self
                    .parts
                    .iter_mut()
                    .find(|(pw, t, _)| *pw == w && *t == key.task)
                {
                    Some((_, _, held)) => held.extend(part),
                    None => self.parts.push((w, key.task, part.collect())),
                }
                None
            }
            ToWorker::Release { keys } => {
                Some(Order::Release(keys.iter().map(|k| k.task).collect()))
            }
            ToWorker::Steal { max } => {
                self.sent.steals += 1;
                Some(Order::Steal(*max))
            }
            ToWorker::Peers { heartbeat_ms, .. } => {
                Some(Order::Beat(u64::from(*heartbeat_ms) * 1_000_000))
            }
            // One job, every op on every worker, no copies asked for, no
            // peer connections (only `Peers`' heartbeat interval counts):
            // nothing else changes what a simulated worker does.
            ToWorker::Job { .. }
            | ToWorker::Replicate { .. }
            | ToWorker::DropJob { .. }
            | ToWorker::Shutdown => None,
        };
        if let Some(order) = order {
            self.orders.push((w, order));
        }
        self.probe.enter();
    }

    fn to_client(&mut self, _: ClientId, msg: &ToClient) {
        self.probe.leave();
        match msg {
            ToClient::Done { .. } => self.end = Some(JobEnd::Done),
            ToClient::Failed { error, .. } => self.end = Some(JobEnd::Failed(format!("{error:?}"))),
            _ => {}
        }
        self.probe.enter();
    }
}
