//! A profiler: when every task ran, where, for how long; written as a
//! Chrome trace (opens in Perfetto or chrome://tracing).

use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rask_core::{Events, IgnorePoison, Job, RunInfo, TaskId, TaskSpan};

/// One task's run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRecord {
    /// The task's key.
    pub key: String,
    /// Its op.
    pub op: String,
    /// The worker (thread, process) that ran it.
    pub worker: usize,
    /// Start, nanoseconds since the run started.
    pub start_ns: u64,
    /// End, nanoseconds since the run started.
    pub end_ns: u64,
}

#[derive(Default)]
struct State {
    job: Option<Arc<Job>>,
    spans: Vec<(TaskId, usize, TaskSpan)>,
}

/// Records every task of the runs it watches.
#[derive(Default)]
pub struct Profiler {
    state: Mutex<State>,
}

impl std::fmt::Debug for Profiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.state.lock().map_or(0, |s| s.spans.len());
        write!(f, "Profiler({n} tasks)")
    }
}

impl Profiler {
    /// An empty profiler; pass it to [`Options::events`](crate::Options::events).
    pub fn new() -> Self {
        Self::default()
    }

    /// The tasks of the last run, in the order they finished.
    pub fn records(&self) -> Vec<TaskRecord> {
        let state = self.state.lock().ignore_poison();
        state
            .spans
            .iter()
            .map(|&(task, worker, span)| TaskRecord {
                key: state
                    .job
                    .as_ref()
                    .map_or_else(|| task.to_string(), |j| j.key(task).to_string()),
                op: state
                    .job
                    .as_ref()
                    .and_then(|j| j.op(task))
                    .map_or_else(String::new, |op| op.name().to_owned()),
                worker,
                start_ns: span.start_ns,
                end_ns: span.end_ns,
            })
            .collect()
    }

    /// The records as Chrome trace JSON: one complete event per task, one
    /// lane per worker.
    pub fn chrome_trace(&self) -> String {
        let mut out = String::from("[");
        for (i, r) in self.records().iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "\n{{\"name\":{},\"cat\":{},\"ph\":\"X\",\"ts\":{:.3},\"dur\":{:.3},\"pid\":1,\"tid\":{}}}",
                json_string(&r.key),
                json_string(&r.op),
                r.start_ns as f64 / 1e3,
                r.end_ns.saturating_sub(r.start_ns) as f64 / 1e3,
                r.worker
            );
        }
        out.push_str("\n]\n");
        out
    }

    /// Writes [`chrome_trace`](Self::chrome_trace) to `path`.
    pub fn write_chrome_trace(&self, path: impl AsRef<Path>) -> io::Result<()> {
        std::fs::write(path, self.chrome_trace())
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Events for Profiler {
    fn run_start(&self, info: &RunInfo) {
        let mut state = self.state.lock().ignore_poison();
        state.job = info.job.clone();
        state.spans.clear();
    }

    fn task_finish(&self, task: TaskId, worker: usize, span: TaskSpan) {
        self.state
            .lock()
            .ignore_poison()
            .spans
            .push((task, worker, span));
    }
}
