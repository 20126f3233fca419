//! The JSON API the page polls.
//!
//! - `GET /api/status.json`: the clock, the workers table, progress per
//!   prefix and the task stream's extent.
//! - `GET /api/tasks.json?since=N`: task records numbered `N` on (at most
//!   the last [`MAX_TASKS`]), each `[worker, thread, prefix, start_ms,
//!   stop_ms, erred]`, the names of the prefixes they use, and `next`, the
//!   `since` of the following poll.
//!
//! Times are milliseconds since the scheduler started, with microsecond
//! decimals; `now_ms` in each answer is the same clock.

use std::fmt::Write as _;

use super::json;
use super::prefix::Prefixes;
use super::progress::PrefixProgress;
use super::stream::TaskStream;

/// Most task records in one answer: the newest are kept, so a page that
/// fell behind catches up at once and an answer stays small.
pub const MAX_TASKS: usize = 5000;

/// One line of the workers table.
#[derive(Clone, Copy, Debug)]
pub struct WorkerRow<'a> {
    /// Its id.
    pub id: u32,
    /// Where it serves results.
    pub address: &'a str,
    /// Its process id.
    pub pid: u32,
    /// Executor threads.
    pub threads: u32,
    /// Tasks sent to it and not reported back.
    pub in_flight: u32,
    /// Tasks running, at its last heartbeat.
    pub executing: u32,
    /// Tasks waiting there, at its last heartbeat.
    pub queued: u32,
    /// Resident bytes, at its last heartbeat.
    pub memory: u64,
    /// Its memory limit (0: none).
    pub memory_limit: u64,
    /// Bytes of results it has spilled to disk.
    pub spilled: u64,
    /// CPU used over its last heartbeat interval, in per mille of one core.
    pub cpu_permille: u32,
    /// Over its memory limit: takes no new task.
    pub paused: bool,
    /// Since its last message, ms.
    pub last_seen_ms: u64,
}

/// The body of `/api/status.json`.
pub fn status<'a>(
    now_us: u64,
    workers: impl Iterator<Item = WorkerRow<'a>>,
    progress: &[PrefixProgress],
    prefixes: &Prefixes,
    jobs: usize,
    stream: Option<&TaskStream>,
) -> String {
    let mut out = String::with_capacity(1024);
    out.push('{');
    json::key(&mut out, "now_ms");
    json::ms(&mut out, now_us);
    let _ = write!(out, ",\"jobs\":{jobs},\"workers\":[");
    for (i, w) in workers.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{{\"id\":{},\"address\":", w.id);
        json::str(&mut out, w.address);
        let _ = write!(
            out,
            ",\"pid\":{},\"threads\":{},\"in_flight\":{},\"executing\":{},\"queued\":{},\
             \"memory\":{},\"memory_limit\":{},\"spilled\":{},\"cpu\":{}.{},\"paused\":{},\
             \"last_seen_ms\":{}}}",
            w.pid,
            w.threads,
            w.in_flight,
            w.executing,
            w.queued,
            w.memory,
            w.memory_limit,
            w.spilled,
            w.cpu_permille / 10,
            w.cpu_permille % 10,
            w.paused,
            w.last_seen_ms,
        );
    }
    out.push_str("],\"progress\":[");
    for (i, p) in progress.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"prefix\":");
        json::str(&mut out, prefixes.name(p.prefix));
        let c = &p.live;
        let _ = write!(
            out,
            ",\"total\":{},\"waiting\":{},\"processing\":{},\"memory\":{},\"released\":{},\
             \"erred\":{},\"finished_before\":{},\"erred_before\":{}}}",
            c.total,
            c.waiting(),
            c.processing,
            c.memory,
            c.released,
            c.erred,
            p.finished_before,
            p.erred_before,
        );
    }
    out.push_str("],\"task_stream\":");
    match stream {
        Some(s) => {
            let _ = write!(
                out,
                "{{\"first\":{},\"next\":{}}}",
                s.first_seq(),
                s.next_seq()
            );
        }
        None => out.push_str("null"),
    }
    out.push('}');
    out
}

/// The body of `/api/tasks.json?since=N`.
pub fn tasks(now_us: u64, stream: &TaskStream, prefixes: &Prefixes, since: u64) -> String {
    let mut out = String::with_capacity(64 + 48 * MAX_TASKS.min(256));
    out.push('{');
    json::key(&mut out, "now_ms");
    json::ms(&mut out, now_us);
    let _ = write!(
        out,
        ",\"first\":{},\"next\":{},\"tasks\":[",
        stream.first_seq(),
        stream.next_seq()
    );
    // The prefixes these records use, named once below.
    let mut seen = vec![false; prefixes.len()];
    let mut used: Vec<u32> = Vec::new();
    for (i, r) in stream.since(since, MAX_TASKS).enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "[{},{},{},", r.worker, r.thread, r.prefix);
        json::ms(&mut out, r.start_us);
        out.push(',');
        json::ms(&mut out, r.stop_us);
        out.push_str(if r.erred { ",1]" } else { ",0]" });
        if let Some(s) = seen.get_mut(r.prefix as usize) {
            if !*s {
                *s = true;
                used.push(r.prefix);
            }
        }
    }
    out.push_str("],\"names\":{");
    for (i, p) in used.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{p}\":");
        json::str(&mut out, prefixes.name(*p));
    }
    out.push_str("}}");
    out
}
