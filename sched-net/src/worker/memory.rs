//! The heartbeat: memory, load and CPU reported to the scheduler every
//! half second, and spilling results to disk under the memory limit.

use std::time::{Duration, Instant};

use super::Worker;
use crate::protocol::FromWorker;

/// Shares of the memory limit, as Dask has them: results in memory above
/// `SPILL_AT` are spilled down to `SPILL_TO`; a process above
/// `SPILL_PROCESS` (allocator slack, task scratch space) spills as much
/// of its results as it is over.
const SPILL_AT: f64 = 0.6;
const SPILL_TO: f64 = 0.5;
const SPILL_PROCESS: f64 = 0.7;

/// Resident memory of this process, bytes.
pub(crate) fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// User and system CPU time of this process so far.
pub(super) fn cpu_time() -> Duration {
    cpu_time_of(nix::sys::resource::UsageWho::RUSAGE_SELF)
}

/// User and system CPU time of the calling thread so far: a slow turn of
/// the loop on a loaded machine is told apart from one that worked long.
pub(super) fn thread_cpu_time() -> Duration {
    cpu_time_of(nix::sys::resource::UsageWho::RUSAGE_THREAD)
}

fn cpu_time_of(who: nix::sys::resource::UsageWho) -> Duration {
    nix::sys::resource::getrusage(who).map_or(Duration::ZERO, |u| {
        let t = |tv: nix::sys::time::TimeVal| {
            Duration::new(tv.tv_sec().max(0) as u64, tv.tv_usec().max(0) as u32 * 1000)
        };
        t(u.user_time()) + t(u.system_time())
    })
}

impl Worker {
    /// Sends a heartbeat, and what is queued for the scheduler, if the
    /// last went out the interval the scheduler told (at first
    /// [`HEARTBEAT`](super::HEARTBEAT)) ago or more. Long work on the loop
    /// (a task with millions of inputs) calls it as it goes, so that the
    /// scheduler keeps hearing from this worker.
    pub(super) fn beat_if_due(&mut self) {
        if self.last_beat.elapsed() < self.beat {
            return;
        }
        self.last_beat = Instant::now();
        self.heartbeat();
        // A broken connection is found and reported by the loop's flush.
        let _ = self.sched.flush();
    }

    fn heartbeat(&mut self) {
        let mut memory = resident_bytes();
        let limit = self.options.memory_limit as f64;
        if memory as f64 > limit * SPILL_PROCESS && self.data.memory() > 0 {
            let over = memory as f64 - limit * SPILL_AT;
            self.spill_to((self.data.memory() as f64 - over).max(0.0) as u64);
            memory = resident_bytes();
        }
        let (executing, queued) = self.exec.load();
        let now = (Instant::now(), cpu_time());
        let (wall, cpu) = (
            now.0 - self.last_cpu.0,
            now.1.saturating_sub(self.last_cpu.1),
        );
        self.last_cpu = now;
        let cpu_permille = (cpu.as_secs_f64() / wall.as_secs_f64().max(1e-3) * 1000.0) as u32;
        let paused = self.options.memory_limit > 0 && memory > self.options.memory_limit;
        self.sched.outbox.push(&FromWorker::Status {
            memory,
            executing,
            queued: queued + self.pending.len() as u32,
            paused,
            cpu_permille,
            spilled: self.data.spilled(),
        });
    }

    /// Spills results until at most `target` bytes of them are in memory.
    fn spill_to(&mut self, target: u64) {
        if let Err(e) = self.data.spill_to(target) {
            log::warn!("spilling is off from now on: {e}");
        }
    }

    /// Spills when the results in memory have passed their share of the
    /// memory limit: called as results come in.
    pub(super) fn spill_if_over(&mut self) {
        let limit = self.options.memory_limit as f64;
        if limit > 0.0 && self.data.memory() as f64 > limit * SPILL_AT {
            self.spill_to((limit * SPILL_TO) as u64);
        }
    }
}
