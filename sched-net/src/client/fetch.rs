//! Fetching results from the workers that hold them, again after a
//! holder is lost: the IO thread's side of a [`RawFuture::result`].

use std::collections::HashMap;

use mio::Token;
use rask_core::{BulkRefused, Error, IgnorePoison, Value};

use super::errors::net_error;
use super::io::Io;
use crate::protocol::fetching::{self, Answer};
use crate::protocol::{DataKey, JobId, PeerMsg, WorkerId};

impl Io {
    /// Sends the `Get`s of fetch `id` if its job has finished, else parks
    /// it; a failed job answers it with the job's error.
    pub(super) fn start_fetch(&mut self, id: u64) {
        let Some(f) = self.fetches.get_mut(&id) else {
            return;
        };
        let Some(entry) = self.jobs.get_mut(&f.job) else {
            let job = f.job;
            self.end_fetch(id, Err(net_error(format!("job {job:#x} was released"))));
            return;
        };
        if let Some(e) = entry.failed.clone() {
            self.end_fetch(id, Err(e));
            return;
        }
        if entry.finishes == 0 || entry.finishes == f.finish {
            entry.parked.push(id);
            return;
        }
        f.finish = entry.finishes;
        let mut by_worker: HashMap<WorkerId, Vec<DataKey>> = HashMap::new();
        let mut missing = None;
        for (i, (task, key, _)) in f.tasks.iter().enumerate() {
            if f.values[i].is_some() {
                continue;
            }
            match entry.outputs.get(task) {
                Some(&w) => {
                    f.holders[i] = Some(w);
                    let key = *key;
                    by_worker.entry(w).or_default().push(key);
                    self.waiting.entry(key).or_default().push((id, i));
                }
                None => missing = Some(*task),
            }
        }
        if let Some(task) = missing {
            let job = f.job;
            self.end_fetch(
                id,
                Err(net_error(format!(
                    "task {task} is not an output of job {job:#x}"
                ))),
            );
            return;
        }
        if f.left == 0 {
            self.finish_fetch(id);
            return;
        }
        for (w, keys) in by_worker {
            match self.peer(w) {
                Some(token) => {
                    if let Some((conn, ..)) = self.peers.get_mut(&token) {
                        conn.outbox.push(&PeerMsg::Get { keys });
                    }
                }
                None => self.lost(w, None),
            }
        }
    }

    /// The connection to worker `w`, opened on first use.
    fn peer(&mut self, w: WorkerId) -> Option<Token> {
        if let Some(t) = self.by_worker.get(&w) {
            return Some(*t);
        }
        let addr = {
            let workers = self.workers.0.lock().ignore_poison();
            workers.iter().find(|(id, _)| *id == w)?.1.clone()
        };
        // A client takes results of any size it can allocate.
        let to = fetching::Target {
            addr: &addr,
            max_frame: self.options.max_frame,
            max_result: u64::MAX,
            secret: self.options.token.as_deref(),
        };
        let (token, conn) = fetching::open(to, self.poll.registry(), &mut self.next_token)?;
        self.peers.insert(token, (conn, w, false));
        self.by_worker.insert(w, token);
        Some(token)
    }

    /// Every fetch of `job` ends with `error`.
    pub(super) fn end_fetches_of(&mut self, job: JobId, error: Error) {
        let ids: Vec<u64> = self
            .fetches
            .iter()
            .filter(|(_, f)| f.job == job)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.end_fetch(id, Err(error.clone()));
        }
    }

    pub(super) fn read_worker(&mut self, token: Token) {
        let Some((conn, w, welcomed)) = self.peers.get_mut(&token) else {
            return;
        };
        let w = *w;
        let mut answers = Vec::new();
        let read = fetching::read(conn, (self.poll.registry(), token), welcomed, &mut answers);
        for answer in answers {
            match answer {
                Answer::Data { key, bytes } => self.arrived(key, bytes),
                Answer::Missing { key } => self.lost(w, Some(key)),
            }
        }
        if let Err(why) = &read {
            log::warn!("closing the connection to worker {w}: {why}");
        }
        if read != Ok(false) {
            self.close_peer(token);
        }
    }

    fn arrived(&mut self, key: DataKey, bytes: Result<Vec<u8>, BulkRefused>) {
        let Some(waiters) = self.waiting.remove(&key) else {
            return;
        };
        // The last fetch waiting for it may take the buffer itself.
        let mut bytes = Some(bytes);
        let last = waiters.len().saturating_sub(1);
        for (n, (id, i)) in waiters.into_iter().enumerate() {
            let Some(f) = self.fetches.get_mut(&id) else {
                continue;
            };
            if f.values[i].is_some() {
                continue;
            }
            let codec = f.tasks[i].2;
            let decoded = match bytes.as_ref() {
                None => continue,
                Some(Err(why)) => Err(format!(
                    "result {}/{} cannot be fetched: {why}",
                    key.job, key.task
                )),
                Some(Ok(b)) if n != last => codec
                    .decode(b)
                    .map_err(|e| format!("decoding a result: {e}")),
                Some(Ok(_)) => {
                    let Some(Ok(owned)) = bytes.take() else {
                        continue;
                    };
                    codec
                        .decode_owned(owned)
                        .map_err(|e| format!("decoding a result: {e}"))
                }
            };
            match decoded {
                Ok(v) => {
                    f.values[i] = Some(v);
                    f.left -= 1;
                    if f.left == 0 {
                        self.finish_fetch(id);
                    }
                }
                Err(e) => self.end_fetch(id, Err(net_error(e))),
            }
        }
    }

    /// Results expected from `w` (all of them, or just `key`) will not
    /// come: those fetches wait for the job to finish again (the scheduler
    /// recomputes what a dead worker held), or ask the new holders at once
    /// if it already has.
    fn lost(&mut self, w: WorkerId, key: Option<DataKey>) {
        let hit: Vec<u64> = self
            .fetches
            .iter()
            .filter(|(_, f)| {
                f.tasks.iter().enumerate().any(|(i, (_, k, _))| {
                    f.values[i].is_none()
                        && f.holders[i] == Some(w)
                        && key.is_none_or(|key| key == *k)
                })
            })
            .map(|(id, _)| *id)
            .collect();
        for id in hit {
            self.unwait(id);
            self.start_fetch(id);
        }
    }

    /// Forgets which keys fetch `id` waits for.
    fn unwait(&mut self, id: u64) {
        let Some(f) = self.fetches.get(&id) else {
            return;
        };
        for (i, (_, key, _)) in f.tasks.iter().enumerate() {
            if let Some(w) = self.waiting.get_mut(key) {
                w.retain(|&(f, j)| (f, j) != (id, i));
                if w.is_empty() {
                    self.waiting.remove(key);
                }
            }
        }
    }

    /// Answers fetch `id` with its values, all present.
    fn finish_fetch(&mut self, id: u64) {
        let values = match self.fetches.get_mut(&id) {
            Some(f) => std::mem::take(&mut f.values)
                .into_iter()
                .map(|v| v.unwrap_or_else(|| Value::new(())))
                .collect(),
            None => return,
        };
        self.end_fetch(id, Ok(values));
    }

    fn end_fetch(&mut self, id: u64, answer: Result<Vec<Value>, Error>) {
        self.unwait(id);
        if let Some(f) = self.fetches.remove(&id) {
            if let Some(entry) = self.jobs.get_mut(&f.job) {
                entry.parked.retain(|p| *p != id);
            }
            (f.reply)(answer);
        }
    }

    pub(super) fn close_peer(&mut self, token: Token) {
        if let Some((mut conn, w, _)) = self.peers.remove(&token) {
            let _ = self.poll.registry().deregister(&mut conn.sock);
            self.by_worker.remove(&w);
            self.lost(w, None);
        }
    }
}
