//! The sync scheduler in the browser: [`SyncScheduler`] on the calling
//! thread (the page's main thread, or inside a worker), timed with
//! `performance.now()` since `std::time::Instant` does not exist there.

use std::cell::RefCell;
use std::sync::Mutex;

use rask_core::{Events, Registry, TaskId, TaskSpan, Value};
use rask_sched_sync::SyncScheduler;

use crate::error::RunError;
use crate::spec::GraphSpec;
use crate::stream::TaskRecord;

thread_local! {
    /// The ops, built once per thread (main or worker) and again after
    /// [`crate::ops::extend`], with the generation they were built at.
    static REGISTRY: RefCell<(usize, Registry)> =
        RefCell::new((crate::ops::generation(), crate::ops::registry()));
}

/// Calls `f` with this thread's registry: built-in and extended ops.
pub fn with_registry<R>(f: impl FnOnce(&Registry) -> R) -> R {
    REGISTRY.with(|cell| {
        let generation = crate::ops::generation();
        if cell.borrow().0 != generation {
            *cell.borrow_mut() = (generation, crate::ops::registry());
        }
        f(&cell.borrow().1)
    })
}

/// Collects task spans while a run goes (the sync run holds the thread, so
/// the stream is handed over when it ends).
struct Recorder {
    origin_ms: f64,
    records: Mutex<Vec<TaskRecord>>,
}

impl Events for Recorder {
    fn wants_tasks(&self) -> bool {
        true
    }
    fn task_finish(&self, task: TaskId, _worker: usize, span: TaskSpan) {
        if let Ok(mut r) = self.records.lock() {
            r.push(TaskRecord {
                task: task.0,
                worker: 0,
                start_ms: self.origin_ms + span.start_ns as f64 / 1e6,
                end_ms: self.origin_ms + span.end_ns as f64 / 1e6,
            });
        }
    }
}

/// Runs `spec` on the calling thread; results of `outputs`, in order, and
/// the task stream when `record` is set.
pub fn run(
    spec: &GraphSpec,
    outputs: &[u32],
    record: bool,
) -> Result<(Vec<Value>, Vec<TaskRecord>), RunError> {
    let job = with_registry(|r| spec.build(r)).map_err(RunError::Graph)?;
    let outputs: Vec<TaskId> = outputs.iter().map(|&t| TaskId(t)).collect();
    let recorder = Recorder {
        origin_ms: crate::clock::epoch_ms(),
        records: Mutex::new(Vec::new()),
    };
    let values = match record {
        true => SyncScheduler.run_with_clock(&job, &outputs, &recorder, crate::clock::now_ns)?,
        false => SyncScheduler.run_with_clock(
            &job,
            &outputs,
            &rask_core::NoEvents,
            crate::clock::now_ns,
        )?,
    };
    Ok((values, recorder.records.into_inner().unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_runs_and_failures_name_the_key() {
        let (g, out) = crate::spec::demo([8, 3, 2], 3, 5).unwrap();
        let (values, records) = run(&g, &[out], true).unwrap();
        let chunk = values[0].downcast_ref::<crate::chunk::Chunk>().unwrap();
        assert_eq!(chunk.shape(), &[8]);
        assert_eq!(records.len(), g.len());

        let mut g = GraphSpec::new();
        let a = g
            .add("ok", "value", vec![crate::spec::ArgSpec::Num(1.0)])
            .unwrap();
        let f = g
            .add(
                "bad-7",
                "fail",
                vec![crate::spec::ArgSpec::Text("no".into())],
            )
            .unwrap();
        let s = g
            .add(
                "sum",
                "add",
                vec![crate::spec::ArgSpec::Task(a), crate::spec::ArgSpec::Task(f)],
            )
            .unwrap();
        let e = run(&g, &[s], false).unwrap_err();
        assert!(e.to_string().contains("'bad-7'"), "{e}");
    }
}
