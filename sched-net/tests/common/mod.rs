//! What the cluster tests share: the `rask-scheduler` and `rask-worker`
//! binaries run as child processes whose log lines the test can wait for.

#![allow(dead_code)] // each test file uses part of it

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rask_core::{Arg, Inputs, Job, JobBuilder, Op, TaskId};
use rask_sched_net::{ClientOptions, SubmitOptions};

/// A process of ours whose stderr lines arrive on a channel; killed and
/// reaped on drop.
pub struct Proc {
    pub child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Proc {
    pub fn start(cmd: &mut Command) -> Proc {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = child.stderr.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Proc {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits up to 10 s for a line containing `text`; returns it.
    pub fn expect(&mut self, text: &str) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(text)) {
            return l.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no line with `{text}`; saw {:?}", self.seen);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `rask-scheduler` on a free port with `token`, and its address.
pub fn scheduler(token: &str) -> (Proc, String) {
    let mut s = Proc::start(
        Command::new(env!("CARGO_BIN_EXE_rask-scheduler")).args(["--port", "0", "--token", token]),
    );
    let line = s.expect("listening on ");
    let addr = line.rsplit(' ').next().unwrap().to_owned();
    (s, addr)
}

/// A `rask-worker` (built-in ops) joining `addr` with `token`.
pub fn worker(addr: &str, token: &str) -> Proc {
    Proc::start(Command::new(env!("CARGO_BIN_EXE_rask-worker")).args([addr, "--token", token]))
}

pub fn with_token(token: &str) -> ClientOptions {
    ClientOptions {
        token: Some(token.into()),
        ..ClientOptions::default()
    }
}

/// inc over 0..n, summed, with the names of built-in ops.
pub fn builtin_job(n: i64) -> (Arc<Job>, TaskId) {
    let inc = Op::new("inc", |x: &i64| x + 1);
    let sum = Op::new("sum", |xs: Inputs<i64>| xs.sum::<i64>());
    let (job, out) = fan_in(0..n, &inc, &sum, None);
    (Arc::new(job), out)
}

/// A task of `leaf` on each of `inputs`, all gathered by one task of
/// `gather` (named `key`, if given).
pub fn fan_in<T>(
    inputs: impl IntoIterator<Item = T>,
    leaf: &Op,
    gather: &Op,
    key: Option<&str>,
) -> (Job, TaskId)
where
    T: serde::Serialize + serde::de::DeserializeOwned + std::any::Any + Send + Sync,
{
    let mut b = JobBuilder::new();
    let leaf = b.op(leaf);
    let gather = b.op(gather);
    let leaves: Vec<Arg> = inputs
        .into_iter()
        .map(|x| {
            let l = b.lit(x);
            Arg::dep(b.task(leaf, &[l]))
        })
        .collect();
    let out = match key {
        Some(key) => b.keyed_task(key, gather, &leaves),
        None => b.task(gather, &leaves),
    };
    (b.finish(), out)
}

/// Busy work of about `us` microseconds, so that a run lasts long enough
/// to be interrupted.
pub fn spin(us: u64) {
    let end = Instant::now() + Duration::from_micros(us);
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

/// Whether process `pid` runs (a zombie, dead but not reaped, does not).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.split(") ")
                .nth(1)
                .is_some_and(|rest| rest.starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Options for a submission that is a new job every time, as these tests
/// expect: a pure one would get an equal earlier job's futures back.
pub fn impure() -> SubmitOptions {
    SubmitOptions::default().pure(false)
}

/// Resident bytes of process `pid` now, from /proc (0 if it is gone).
pub fn rss(pid: u32) -> u64 {
    status_bytes(pid, "VmRSS:")
}

/// Peak resident bytes of process `pid`, from /proc (0 if it is gone).
pub fn peak_rss(pid: u32) -> u64 {
    status_bytes(pid, "VmHWM:")
}

/// A `kB` line of /proc/PID/status, in bytes.
fn status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
