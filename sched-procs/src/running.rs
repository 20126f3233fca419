//! Which task each child is running, in memory shared with the parent.
//!
//! Children answer in batches, so when one dies the parent cannot tell from
//! the answers it got which task killed it. Before each task a child stores
//! the task's id in its slot of a shared anonymous mapping (one atomic
//! store, no system call); after a death the parent reads it.

use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::mman::{mmap_anonymous, munmap, MapFlags, ProtFlags};

/// One slot per child, shared across `fork`.
#[derive(Debug)]
pub struct Running {
    base: NonNull<AtomicU64>,
    len: usize,
}

// SAFETY: the mapping is only accessed through atomics.
unsafe impl Send for Running {}
unsafe impl Sync for Running {}

const IDLE: u64 = 0;

impl Running {
    /// Slots for `n` children, all idle.
    pub fn new(n: usize) -> std::io::Result<Running> {
        let bytes = NonZeroUsize::new(n.max(1) * std::mem::size_of::<AtomicU64>())
            .ok_or(std::io::ErrorKind::InvalidInput)?;
        // SAFETY: a fresh anonymous mapping, zero-filled by the kernel; it
        // aliases nothing and outlives every use (unmapped on drop).
        let base = unsafe {
            mmap_anonymous(
                None,
                bytes,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }?;
        Ok(Running {
            base: base.cast(),
            len: n.max(1),
        })
    }

    fn slot(&self, child: usize) -> Option<&AtomicU64> {
        // SAFETY: in bounds of the mapping, which zero-initialised it.
        (child < self.len).then(|| unsafe { &*self.base.as_ptr().add(child) })
    }

    /// In the child: `task` is starting (`None`: between tasks).
    pub fn set(&self, child: usize, task: Option<u32>) {
        if let Some(slot) = self.slot(child) {
            slot.store(task.map_or(IDLE, |t| u64::from(t) + 1), Ordering::Release);
        }
    }

    /// In the parent: the task `child` was running, if any.
    pub fn get(&self, child: usize) -> Option<u32> {
        let v = self.slot(child)?.load(Ordering::Acquire);
        (v != IDLE).then(|| (v - 1) as u32)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`, once.
        let _ = unsafe {
            munmap(
                self.base.cast(),
                self.len * std::mem::size_of::<AtomicU64>(),
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_start_idle_and_hold_task_ids() {
        let r = Running::new(3).unwrap();
        assert_eq!(r.get(0), None);
        r.set(1, Some(0));
        r.set(2, Some(u32::MAX - 1));
        assert_eq!((r.get(1), r.get(2)), (Some(0), Some(u32::MAX - 1)));
        r.set(1, None);
        assert_eq!(r.get(1), None);
        assert_eq!(r.get(7), None);
    }
}
