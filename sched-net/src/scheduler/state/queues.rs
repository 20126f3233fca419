//! Named queues: first in, first out, between clients. An item is a
//! result on the cluster (held there while queued, as a dataset holds
//! it) or a small encoded value. A get with nothing queued waits here,
//! not on the client, so that an item never goes to a client that has
//! stopped waiting: the scheduler ends it with `Empty` at its deadline.

use std::time::{Duration, Instant};

use super::{ClientId, Cluster, Sink};
use crate::protocol::{Answer, DataKey, JobId, QueueOp, Queued, QueuedRef, ToClient};

/// Largest value a queue carries; bigger data travels as a future.
pub const MAX_QUEUE_VALUE: usize = 1 << 20;

/// An item waiting on a queue, with its type's name.
#[derive(Debug)]
pub(super) struct QueueItem {
    item: Queued,
    type_name: String,
}

impl QueueItem {
    /// What is queued.
    #[cfg_attr(not(test), allow(dead_code))] // read by the sanity check
    pub fn queued(&self) -> &Queued {
        &self.item
    }
}

/// A get waiting for an item.
#[derive(Debug)]
pub(super) struct ParkedGet {
    pub client: ClientId,
    request: u64,
    name: String,
    type_name: String,
    deadline: Instant,
}

impl Cluster {
    /// Answers a client's request about queue `name`, arrived at `now`;
    /// `None` when a get waits for an item (answered later through `sink`).
    pub fn queue(
        &mut self,
        client: ClientId,
        request: u64,
        name: &str,
        op: QueueOp<'_>,
        now: Instant,
        sink: &mut impl Sink,
    ) -> Option<Answer> {
        self.dirty = true;
        self.advance(now);
        match op {
            QueueOp::Put(item) => Some(self.put(name, item, sink)),
            QueueOp::Size => Some(Answer::Size(
                self.queues.get(name).map_or(0, |q| q.len() as u64),
            )),
            QueueOp::Get {
                type_name,
                timeout_ms,
            } => {
                let waiting = self.parked.iter().any(|g| g.name == name);
                if !waiting {
                    if let Some(reply) = self.take(client, name, &type_name) {
                        return Some(reply);
                    }
                }
                if timeout_ms == 0 {
                    return Some(Answer::Empty);
                }
                let wait = Duration::from_millis(timeout_ms.min(u64::from(u32::MAX)));
                self.parked.push(ParkedGet {
                    client,
                    request,
                    name: name.to_owned(),
                    type_name,
                    deadline: now + wait,
                });
                None
            }
        }
    }

    fn put(&mut self, name: &str, item: QueuedRef<'_>, sink: &mut impl Sink) -> Answer {
        let (item, type_name) = match item {
            QueuedRef::Value(bytes, type_name) => {
                if bytes.len() > MAX_QUEUE_VALUE {
                    return Answer::Error(format!(
                        "a value of {} bytes is too big for queue `{name}` (at most \
                         {MAX_QUEUE_VALUE}); put a future instead",
                        bytes.len()
                    ));
                }
                (Queued::Value(bytes.to_vec()), type_name)
            }
            QueuedRef::Key(key, type_name) => {
                let held = self
                    .jobs
                    .get(&key.job)
                    .and_then(|j| j.holder.get(key.task as usize))
                    .is_some_and(Option::is_some);
                if !held {
                    return Answer::Error(format!(
                        "cannot put result {}/{} on queue `{name}`: it is not on the cluster",
                        key.job, key.task
                    ));
                }
                self.pin_key(key);
                (Queued::Key(key), type_name)
            }
        };
        self.queues
            .entry(name.to_owned())
            .or_default()
            .push_back(QueueItem {
                item,
                type_name: type_name.to_owned(),
            });
        self.serve_parked(name, sink);
        Answer::Done
    }

    /// Takes the oldest item of `name` for `client` if there is one; an
    /// item of another type stays queued and the answer says so.
    fn take(&mut self, client: ClientId, name: &str, type_name: &str) -> Option<Answer> {
        let queue = self.queues.get_mut(name)?;
        let front = queue.front()?;
        if front.type_name != type_name {
            return Some(Answer::Error(format!(
                "the next item on queue `{name}` is a `{}`, not a `{type_name}`",
                front.type_name
            )));
        }
        let item = queue.pop_front()?.item;
        if queue.is_empty() {
            self.queues.remove(name);
        }
        if let Queued::Key(key) = item {
            // Held until the taker's job holding it is in (or it leaves).
            self.lent.push((client, key));
        }
        Some(Answer::Item(item))
    }

    /// Gives newly queued items to the gets waiting on `name`, oldest first.
    fn serve_parked(&mut self, name: &str, sink: &mut impl Sink) {
        while let Some(i) = self.parked.iter().position(|g| g.name == name) {
            let (client, type_name) = (self.parked[i].client, self.parked[i].type_name.clone());
            let Some(reply) = self.take(client, name, &type_name) else {
                return;
            };
            let get = self.parked.remove(i);
            sink.to_client(
                get.client,
                &ToClient::Reply {
                    request: get.request,
                    reply,
                },
            );
        }
    }

    /// Ends the gets whose deadline has passed with `Empty`.
    pub fn expire_gets(&mut self, now: Instant, sink: &mut impl Sink) {
        self.advance(now);
        if self.parked.iter().all(|g| g.deadline > now) {
            return;
        }
        let (expired, kept): (Vec<ParkedGet>, Vec<ParkedGet>) = std::mem::take(&mut self.parked)
            .into_iter()
            .partition(|g| g.deadline <= now);
        self.parked = kept;
        for get in expired {
            sink.to_client(
                get.client,
                &ToClient::Reply {
                    request: get.request,
                    reply: Answer::Empty,
                },
            );
        }
    }

    /// The earliest deadline of a waiting get.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.parked.iter().map(|g| g.deadline).min()
    }

    /// Job `job` of `client` is in: the results it holds that the client
    /// took from a queue need no other hold.
    pub(super) fn return_lent(&mut self, client: ClientId, job: JobId, sink: &mut impl Sink) {
        if !self.lent.iter().any(|(c, _)| *c == client) {
            return;
        }
        let keys: Vec<DataKey> = self
            .jobs
            .get(&job)
            .map(|j| j.pinned_keys.clone())
            .unwrap_or_default();
        for k in keys {
            if let Some(i) = self.lent.iter().position(|l| *l == (client, k)) {
                self.lent.swap_remove(i);
                self.unpin_key(k, sink);
            }
        }
    }
}
