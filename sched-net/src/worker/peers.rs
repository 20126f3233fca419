//! Other workers: serving our results to those who fetch them, and
//! fetching the inputs our tasks lack from those who hold them.

use std::io;
use std::time::Duration;

use mio::{Interest, Token};
use rask_core::{BulkRefused, TaskId};

use super::Worker;
use crate::conn::Conn;
use crate::protocol::fetching::{self, Answer};
use crate::protocol::{messages, DataKey, FromWorker, Hello, PeerMsg, Role, Welcome, WorkerId};

/// Results served to peers per loop turn, over all of them: a few
/// milliseconds.
const SERVE_PER_TURN: usize = 1 << 13;

/// Keys asked for in one get, and bytes of gets read from one peer per
/// turn (a key is about ten bytes).
const KEYS_PER_GET: usize = 1 << 13;
const GETS_TURN_BYTES: usize = 1 << 20;

pub(super) enum PeerKind {
    /// Someone fetching from us; `greeted` once its hello was accepted.
    Incoming { greeted: bool },
    /// Us fetching from worker `.0`; `welcomed` once it accepted us.
    Outgoing(WorkerId, bool),
}

impl Worker {
    pub(super) fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((sock, _)) => {
                    let token = Token(self.next_token);
                    self.next_token += 1;
                    if let Ok(conn) =
                        Conn::register(sock, self.poll.registry(), token, self.options.max_frame)
                    {
                        self.peers
                            .insert(token, (conn, PeerKind::Incoming { greeted: false }));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return,
            }
        }
    }

    /// Opens (or reuses) the connection to worker `w` and asks for `keys`.
    pub(super) fn send_gets(&mut self) {
        for (w, keys) in std::mem::take(&mut self.to_get) {
            let token = match self.outgoing.get(&w) {
                Some(t) => *t,
                None => match self.open_peer(w) {
                    Some(t) => t,
                    None => {
                        self.lost_from(w, &keys);
                        continue;
                    }
                },
            };
            if let Some((conn, _)) = self.peers.get_mut(&token) {
                // In parts, so that the peer reads them a few at a time.
                for part in keys.chunks(KEYS_PER_GET) {
                    conn.outbox.push(&PeerMsg::Get {
                        keys: part.to_vec(),
                    });
                }
            }
        }
    }

    fn open_peer(&mut self, w: WorkerId) -> Option<Token> {
        let to = fetching::Target {
            addr: self.peer_addrs.get(&w)?,
            max_frame: self.options.max_frame,
            max_result: self.max_input(),
            secret: self.options.token.as_deref(),
        };
        let (token, conn) = fetching::open(to, self.poll.registry(), &mut self.next_token)?;
        self.peers
            .insert(token, (conn, PeerKind::Outgoing(w, false)));
        self.outgoing.insert(w, token);
        Some(token)
    }

    /// The largest input fetched: one above the memory limit could only
    /// push this worker past it (0, no limit: what can be allocated).
    fn max_input(&self) -> u64 {
        match self.options.memory_limit {
            0 => u64::MAX,
            limit => limit,
        }
    }

    /// Inputs that cannot come from `w`: their waiting tasks go back to
    /// the scheduler, which knows what was lost.
    fn lost_from(&mut self, w: WorkerId, keys: &[DataKey]) {
        for input in keys {
            let Some(wanted) = self.wanted.remove(input) else {
                continue;
            };
            debug_assert_eq!(wanted.from, w);
            for (task, _) in wanted.waiters {
                if self.pending.remove(&task).is_some() {
                    self.sched.outbox.push(&FromWorker::Missing {
                        key: task,
                        input: *input,
                    });
                }
            }
        }
    }

    pub(super) fn close_peer(&mut self, token: Token) {
        let Some((mut conn, kind)) = self.peers.remove(&token) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut conn.sock);
        if let PeerKind::Outgoing(w, _) = kind {
            self.outgoing.remove(&w);
            let keys: Vec<DataKey> = self
                .wanted
                .iter()
                .filter(|(_, want)| want.from == w)
                .map(|(k, _)| *k)
                .collect();
            self.lost_from(w, &keys);
        }
    }

    pub(super) fn read_peer(&mut self, token: Token) {
        let Some((conn, kind)) = self.peers.get_mut(&token) else {
            return;
        };
        let read = match kind {
            PeerKind::Outgoing(w, welcomed) => {
                let w = *w;
                let mut answers = Vec::new();
                let read =
                    fetching::read(conn, (self.poll.registry(), token), welcomed, &mut answers)
                        .map_err(|why| format!("worker {w}: {why}"));
                for answer in answers {
                    match answer {
                        Answer::Data { key, bytes } => self.arrived(key, bytes),
                        Answer::Missing { key } => self.lost_from(w, &[key]),
                    }
                }
                read
            }
            PeerKind::Incoming { .. } => {
                let mut budget = GETS_TURN_BYTES;
                let closed = conn
                    .inbox
                    .fill_up_to(&mut conn.sock, &mut budget)
                    .unwrap_or(true);
                if budget == 0 {
                    // Bytes may be left in the socket, and no new edge may
                    // come for them: registering again reports it readable
                    // on the next poll.
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    if let Err(e) = self
                        .poll
                        .registry()
                        .reregister(&mut conn.sock, token, interest)
                    {
                        log::warn!("peer connection {}: {e}", conn.peer);
                        self.close_peer(token);
                        return;
                    }
                }
                let mut inbox = conn.inbox.take();
                let result = inbox.drain(|body| self.peer_frame(token, body));
                if let Some((conn, _)) = self.peers.get_mut(&token) {
                    conn.inbox = inbox;
                }
                result.map(|()| closed)
            }
        };
        match read {
            Ok(false) => {}
            Ok(true) => self.close_peer(token),
            Err(why) => {
                let peer = self
                    .peers
                    .get(&token)
                    .map(|(c, _)| c.peer.to_string())
                    .unwrap_or_default();
                log::warn!("closing peer connection {peer}: {why}");
                self.close_peer(token);
            }
        }
    }

    fn peer_frame(&mut self, token: Token, body: &[u8]) -> Result<(), String> {
        let Some((conn, kind)) = self.peers.get_mut(&token) else {
            return Ok(());
        };
        match kind {
            PeerKind::Incoming { greeted: false } => {
                let hello: Hello =
                    postcard::from_bytes(body).map_err(|e| format!("bad hello: {e}"))?;
                let refusal = hello.refusal(self.options.token.as_deref()).or_else(|| {
                    (hello.role != Role::Peer).then(|| "only peers connect to a worker".to_owned())
                });
                if let Some(reason) = refusal {
                    conn.outbox.push(&Welcome::Refused {
                        reason: reason.clone(),
                    });
                    conn.flush_all(Duration::from_millis(100));
                    return Err(format!("refused: {reason}"));
                }
                conn.outbox.push(&Welcome::Accepted { id: 0 });
                conn.outbox.seal();
                *kind = PeerKind::Incoming { greeted: true };
                Ok(())
            }
            PeerKind::Incoming { greeted: true } => {
                for msg in messages::<PeerMsg>(body) {
                    match msg.map_err(|e| e.to_string())? {
                        PeerMsg::Get { keys } => self.serving.push_back((token, keys, 0)),
                        _ => return Err("a peer sent data unasked".into()),
                    }
                }
                Ok(())
            }
            PeerKind::Outgoing(..) => Err("fetched answers are read by fetching::read".into()),
        }
    }

    /// Answers up to [`SERVE_PER_TURN`] of the peers' gets, oldest first;
    /// true while some are left. A merge's worker is asked for millions
    /// of results at once.
    pub(super) fn serve(&mut self) -> bool {
        let mut budget = SERVE_PER_TURN;
        while let Some((token, keys, at)) = self.serving.front_mut() {
            let Some((conn, _)) = self.peers.get_mut(token) else {
                self.serving.pop_front(); // the peer went
                continue;
            };
            let end = keys.len().min(*at + budget);
            for &key in &keys[*at..end] {
                match self.data.own_bytes(key) {
                    Some(bytes) => conn.outbox.push_bulk(bytes, &PeerMsg::Data { key }),
                    None => conn.outbox.push(&PeerMsg::Missing { key }),
                }
            }
            budget -= end - *at;
            *at = end;
            if end < keys.len() {
                break;
            }
            self.serving.pop_front();
        }
        !self.serving.is_empty()
    }

    /// An input arrived from a peer: decode it once and start the tasks
    /// that were waiting only for it.
    fn arrived(&mut self, key: DataKey, bytes: Result<Vec<u8>, BulkRefused>) {
        let Some(wanted) = self.wanted.remove(&key) else {
            return;
        };
        let bytes = match bytes {
            Ok(bytes) => bytes,
            Err(why) => {
                // Fetching it again would meet the same refusal: the tasks
                // that need it fail, once.
                let limit = match why {
                    BulkRefused::TooLarge { .. } => " (this worker's memory limit)",
                    BulkRefused::NoMemory { .. } => "",
                };
                let message = format!(
                    "input {}/{} cannot be fetched: {why}{limit}",
                    key.job, key.task
                );
                self.fail_waiters(wanted.waiters.iter().map(|(t, _)| *t), &message);
                return;
            }
        };
        let codec = wanted
            .waiters
            .iter()
            .find_map(|(task, dep)| self.jobs.get(&task.job).and_then(|j| j.codec(*dep)))
            .or_else(|| {
                let job = self.jobs.get(&key.job)?;
                job.codec(TaskId(key.task))
            });
        let size = bytes.len() as u64;
        // A copy kept for peers keeps its encoding; one only for tasks here
        // may become its value.
        let (decoded, encoding) = match (codec, wanted.keep) {
            (Some(c), true) => (Some(c.decode(&bytes)), bytes),
            (Some(c), false) => (Some(c.decode_owned(bytes)), Vec::new()),
            (None, _) => (None, Vec::new()),
        };
        let value = match decoded {
            Some(Ok(v)) => v,
            other => {
                let message = match other {
                    Some(Err(e)) => format!("input {}/{}: {e}", key.job, key.task),
                    _ => "an input's type is unknown here".into(),
                };
                self.fail_waiters(wanted.waiters.iter().map(|(t, _)| *t), &message);
                return;
            }
        };
        self.data
            .insert(key, value, encoding, size, codec, wanted.keep);
        if wanted.keep {
            self.sched.outbox.push(&FromWorker::Replicated { key });
        }
        for (task, _) in wanted.waiters {
            if self.pending.contains_key(&task) {
                if let Some(s) = self.data.get_mut(&key) {
                    s.users += 1;
                }
            }
            let ready = self.pending.get_mut(&task).is_some_and(|p| {
                p.missing -= 1;
                p.missing == 0 && p.admitted
            });
            if let Some(p) = ready.then(|| self.pending.remove(&task)).flatten() {
                if let Some(job) = self.jobs.get(&task.job).cloned() {
                    self.start(task, p.priority, &job, p.deps);
                }
            }
        }
        // A copy no task ended up using (its tasks were dropped) goes now.
        if self.data.get(&key).is_some_and(|s| s.users == 0 && !s.own) {
            self.data.remove(key);
        }
        self.spill_if_over();
    }

    /// Tasks waiting here for an input that will not come fail with `message`.
    fn fail_waiters(&mut self, tasks: impl Iterator<Item = DataKey>, message: &str) {
        for task in tasks {
            if self.pending.remove(&task).is_some() {
                self.sched.outbox.push(&FromWorker::Failed {
                    key: task,
                    message: message.to_owned(),
                    origin: None,
                    run: None,
                });
            }
        }
    }
}
