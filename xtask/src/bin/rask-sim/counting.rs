//! A counting global allocator: the bytes allocated and not yet freed by
//! the scheduler's own code, told apart from the simulator's by the
//! [`Probe`] calls around every handler call.
//!
//! The flag is one process-wide atomic, not a thread-local: the simulator
//! runs on one thread, and the allocator must not itself allocate.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::Relaxed};

use rask_sched_net::sim::Probe;

/// Set while scheduler code runs.
static INSIDE: AtomicBool = AtomicBool::new(false);
/// Bytes allocated by scheduler code, less those it freed.
static HELD: AtomicI64 = AtomicI64::new(0);

/// The system allocator, counting what scheduler code takes.
pub struct Counting;

fn count(delta: i64) {
    if INSIDE.load(Relaxed) {
        HELD.fetch_add(delta, Relaxed);
    }
}

// SAFETY: every call goes straight to `System` with the caller's layout
// and pointer; the counters are atomics and allocate nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as i64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as i64));
        // SAFETY: `ptr` came from this allocator, that is from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; `System` keeps the block on failure.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

/// The [`Probe`] that switches the counting on and off.
#[derive(Debug, Default)]
pub struct Meter;

impl Probe for Meter {
    fn enter(&mut self) {
        INSIDE.store(true, Relaxed);
    }

    fn leave(&mut self) {
        INSIDE.store(false, Relaxed);
    }

    fn held_bytes(&self) -> Option<u64> {
        Some(HELD.load(Relaxed).max(0) as u64)
    }

    fn cpu_ns(&self) -> Option<u64> {
        thread_cpu_ns()
    }
}

/// CPU time of the calling thread (a system call, not the vDSO: a few
/// hundred nanoseconds, see [`read_cost_ns`]).
#[cfg(unix)]
pub fn thread_cpu_ns() -> Option<u64> {
    use nix::time::{clock_gettime, ClockId};
    let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).ok()?;
    Some(t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
}

#[cfg(not(unix))]
pub fn thread_cpu_ns() -> Option<u64> {
    None
}

/// What one reading of [`thread_cpu_ns`] adds to an interval it bounds:
/// the median of back-to-back pairs.
pub fn read_cost_ns() -> u64 {
    let mut pairs: Vec<u64> = (0..201)
        .filter_map(|_| {
            let a = thread_cpu_ns()?;
            Some(thread_cpu_ns()?.saturating_sub(a))
        })
        .collect();
    pairs.sort_unstable();
    pairs.get(pairs.len() / 2).copied().unwrap_or(0)
}
