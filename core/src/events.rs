//! What a run reports while it happens. Progress bars, profilers and
//! dashboards are [`Events`] sinks. The core reads no clock: drivers pass
//! times as nanoseconds since the run started.

use crate::graph::TaskId;

/// Facts about a run, given to [`Events::run_start`].
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// Tasks the run will execute.
    pub tasks: usize,
    /// Workers (threads, processes, ...) executing them.
    pub workers: usize,
    /// The job being run, to name tasks.
    #[cfg(feature = "alloc")]
    pub job: Option<alloc::sync::Arc<crate::Job>>,
}

/// When a task ran, and how big its result was where known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskSpan {
    /// Start, in nanoseconds since the run started.
    pub start_ns: u64,
    /// End, in nanoseconds since the run started.
    pub end_ns: u64,
    /// Size of the result in bytes, where the backend knows it.
    pub result_bytes: Option<u64>,
}

/// A sink for run events. Methods take `&self` because workers on several
/// threads report at once; sinks use their own synchronisation.
pub trait Events: Sync {
    /// False for sinks that ignore task events, so drivers can skip reading
    /// the clock on the hot path.
    fn wants_tasks(&self) -> bool {
        true
    }
    /// The run is about to start.
    fn run_start(&self, _info: &RunInfo) {}
    /// `worker` started `task`.
    fn task_start(&self, _task: TaskId, _worker: usize) {}
    /// `worker` finished `task` (successfully or not).
    fn task_finish(&self, _task: TaskId, _worker: usize, _span: TaskSpan) {}
    /// The run ended; `ok` is false if it failed.
    fn run_finish(&self, _ok: bool) {}
}

/// Ignores every event.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoEvents;

impl Events for NoEvents {
    fn wants_tasks(&self) -> bool {
        false
    }
}

/// Several sinks seen as one: each event goes to every sink, in order.
#[derive(Clone, Copy)]
pub struct EventsList<'a>(pub &'a [&'a dyn Events]);

impl core::fmt::Debug for EventsList<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "EventsList({} sinks)", self.0.len())
    }
}

impl Events for EventsList<'_> {
    fn wants_tasks(&self) -> bool {
        self.0.iter().any(|e| e.wants_tasks())
    }
    fn run_start(&self, info: &RunInfo) {
        self.0.iter().for_each(|e| e.run_start(info));
    }
    fn task_start(&self, task: TaskId, worker: usize) {
        self.0.iter().for_each(|e| e.task_start(task, worker));
    }
    fn task_finish(&self, task: TaskId, worker: usize, span: TaskSpan) {
        self.0
            .iter()
            .for_each(|e| e.task_finish(task, worker, span));
    }
    fn run_finish(&self, ok: bool) {
        self.0.iter().for_each(|e| e.run_finish(ok));
    }
}

impl<E: Events + ?Sized> Events for &E {
    fn wants_tasks(&self) -> bool {
        (**self).wants_tasks()
    }
    fn run_start(&self, info: &RunInfo) {
        (**self).run_start(info)
    }
    fn task_start(&self, task: TaskId, worker: usize) {
        (**self).task_start(task, worker)
    }
    fn task_finish(&self, task: TaskId, worker: usize, span: TaskSpan) {
        (**self).task_finish(task, worker, span)
    }
    fn run_finish(&self, ok: bool) {
        (**self).run_finish(ok)
    }
}
