//! The live dashboard: HTTP served by the scheduler, on its own mio loop,
//! at port 8787 by default (the next free port if that one is taken).
//!
//! One page (`page.html`, compiled into the binary, no external assets)
//! polls a JSON API twice a second and draws the task stream (a lane per
//! worker thread, a rectangle per task coloured by its key's prefix), a
//! progress bar per task prefix and the workers table.
//!
//! What it costs the scheduler: per finished task, one 32-byte record into
//! a fixed ring ([`stream`]) and a counter increment per state change
//! ([`progress`]); prefixes are found and interned once per task when a
//! job is admitted ([`prefix`]). JSON is built only when a page asks.
//!
//! - [`http`]: one connection, parsing with `httparse`, keep-alive, limits;
//! - [`server`]: the listener, routing and the connection table;
//! - [`api`]: the JSON bodies; [`json`]: string escaping.

pub mod api;
pub mod http;
pub mod json;
pub mod prefix;
pub mod progress;
pub mod server;
pub mod stream;

use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::time::Instant;

pub use progress::JobProgress;
pub use server::{Dashboard, Source};
pub use stream::{TaskRecord, TaskStream};

use crate::protocol::{RunTime, WorkerId};
use prefix::Prefixes;
use progress::History;

/// The dashboard's port unless configured otherwise (Dask's).
pub const DEFAULT_PORT: u16 = 8787;
/// Task runs kept for the task stream unless configured otherwise: about
/// 3 MiB.
pub const DEFAULT_TASK_STREAM: usize = 100_000;
/// Ports tried after a taken one before taking any free port.
const PORTS_TRIED: u16 = 100;

/// Binds the dashboard on `ip`: port `port`, or if it is taken the next
/// free one (up to [`PORTS_TRIED`] on, then any), saying so through `log`.
/// Port 0 takes any free port.
pub fn bind(ip: IpAddr, port: u16, log: impl Fn(&str)) -> io::Result<TcpListener> {
    if port == 0 {
        return TcpListener::bind(SocketAddr::new(ip, 0));
    }
    let first_error = match TcpListener::bind(SocketAddr::new(ip, port)) {
        Ok(l) => return Ok(l),
        Err(e) => e,
    };
    let later = (1..=PORTS_TRIED).filter_map(|i| port.checked_add(i));
    let listener = later
        .map(|p| TcpListener::bind(SocketAddr::new(ip, p)))
        .find_map(Result::ok)
        .map_or_else(|| TcpListener::bind(SocketAddr::new(ip, 0)), Ok)?;
    let addr = listener.local_addr()?;
    log(&format!(
        "dashboard port {port} is not available ({first_error}); serving the dashboard on \
         http://{addr}/ instead"
    ));
    Ok(listener)
}

/// What the scheduler keeps for the dashboard besides its own state: the
/// clock the page's times count from, the prefix table, the progress of
/// jobs gone, and the task stream.
#[derive(Debug)]
pub struct Board {
    epoch: Instant,
    /// Every task prefix seen.
    pub prefixes: Prefixes,
    /// What jobs gone finished, per prefix.
    pub history: History,
    /// The last task runs; `None` when the dashboard is off.
    pub stream: Option<TaskStream>,
}

impl Board {
    /// A board started at `epoch`, keeping the last `stream` task runs
    /// (none if `None`).
    pub fn new(epoch: Instant, stream: Option<usize>) -> Board {
        Board {
            epoch,
            prefixes: Prefixes::new(),
            history: History::default(),
            stream: stream.map(TaskStream::new),
        }
    }

    /// Microseconds from the board's start to `t` (0 before it).
    pub fn micros(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_micros() as u64
    }

    /// Records a task run reported in a message read at `received`.
    pub fn record(
        &mut self,
        worker: WorkerId,
        prefix: u32,
        run: &RunTime,
        received: Instant,
        erred: bool,
    ) {
        let Some(stream) = &mut self.stream else {
            return;
        };
        let stop_us = received
            .saturating_duration_since(self.epoch)
            .as_micros()
            .saturating_sub(u128::from(run.ago_us)) as u64;
        stream.push(TaskRecord {
            start_us: stop_us.saturating_sub(run.nanos / 1000),
            stop_us,
            worker: worker.get(),
            prefix,
            thread: run.thread,
            erred,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn runs_are_placed_before_the_message_that_reports_them() {
        let mut board = Board::new(Instant::now(), Some(8));
        let received = board.epoch + Duration::from_millis(50);
        let run = RunTime {
            nanos: 2_000_000,
            ago_us: 1_000,
            thread: 3,
        };
        board.record(WorkerId::new(7).unwrap(), 1, &run, received, true);
        let stream = board.stream.as_ref().unwrap();
        let r = *stream.since(0, 10).next().unwrap();
        assert_eq!((r.start_us, r.stop_us), (47_000, 49_000));
        assert_eq!((r.worker, r.thread, r.prefix, r.erred), (7, 3, 1, true));
        // A report older than the board is clamped, not wrapped.
        let early = RunTime {
            nanos: u64::MAX,
            ago_us: u32::MAX,
            thread: 0,
        };
        board.record(WorkerId::FIRST, 0, &early, board.epoch, false);
        let r = *board.stream.as_ref().unwrap().since(1, 10).next().unwrap();
        assert_eq!((r.start_us, r.stop_us), (0, 0));
        let mut off = Board::new(Instant::now(), None);
        off.record(WorkerId::FIRST, 0, &run, received, false);
        assert!(off.stream.is_none());
    }
}
