//! A terminal progress bar for computes, drawn like Dask's:
//! `[########        ] | 45% Completed | 10.4 s`.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::ProgressStyle;
use rask_core::{Events, IgnorePoison, RunInfo, TaskId, TaskSpan};

/// Draws one bar per compute on stderr (hidden when stderr is not a terminal).
#[derive(Debug, Default)]
pub struct ProgressBar {
    bar: Mutex<Option<indicatif::ProgressBar>>,
}

impl ProgressBar {
    /// A progress bar sink; pass it to [`Options::events`](crate::Options::events).
    pub fn new() -> Self {
        Self::default()
    }

    /// Tasks finished in the current or last run, and the run's total.
    pub fn position(&self) -> (u64, u64) {
        let bar = self.bar.lock().ignore_poison();
        bar.as_ref()
            .map_or((0, 0), |b| (b.position(), b.length().unwrap_or(0)))
    }
}

impl Events for ProgressBar {
    fn run_start(&self, info: &RunInfo) {
        let bar = indicatif::ProgressBar::new(info.tasks as u64);
        if let Ok(style) =
            ProgressStyle::with_template("[{bar:40}] | {percent:>3}% Completed | {elapsed_precise}")
        {
            bar.set_style(style.progress_chars("#  "));
        }
        bar.enable_steady_tick(Duration::from_millis(100));
        *self.bar.lock().ignore_poison() = Some(bar);
    }

    fn task_finish(&self, _task: TaskId, _worker: usize, _span: TaskSpan) {
        if let Some(bar) = &*self.bar.lock().ignore_poison() {
            bar.inc(1);
        }
    }

    fn run_finish(&self, ok: bool) {
        if let Some(bar) = &*self.bar.lock().ignore_poison() {
            if ok {
                bar.finish();
            } else {
                bar.abandon();
            }
        }
    }
}
