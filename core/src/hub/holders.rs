//! Which workers hold each task's result: one 64-bit mask per task, so a
//! hub serves at most [`MAX_WORKERS`] workers.

use alloc::vec;
use alloc::vec::Vec;

use crate::graph::TaskId;

/// Most workers one hub serves: a holder set is one `u64`.
pub const MAX_WORKERS: usize = 64;

/// A set of workers, as bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Workers(u64);

impl Workers {
    /// No worker.
    pub const NONE: Workers = Workers(0);

    /// True if `worker` is in the set.
    #[inline]
    pub fn contains(self, worker: usize) -> bool {
        worker < MAX_WORKERS && self.0 & (1 << worker) != 0
    }

    /// True if the set is empty.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The lowest-numbered worker in the set.
    #[inline]
    pub fn first(self) -> Option<usize> {
        (self.0 != 0).then(|| self.0.trailing_zeros() as usize)
    }
}

impl Iterator for Workers {
    type Item = usize;

    /// The workers in the set, lowest first.
    fn next(&mut self) -> Option<usize> {
        let w = self.first()?;
        self.0 &= self.0 - 1;
        Some(w)
    }
}

/// Per task, the workers holding its result.
#[derive(Debug)]
pub struct Holders(Vec<u64>);

impl Holders {
    /// No result held anywhere, for `tasks` tasks.
    pub fn new(tasks: usize) -> Holders {
        Holders(vec![0; tasks])
    }

    /// The workers holding `task`'s result.
    #[inline]
    pub fn of(&self, task: TaskId) -> Workers {
        Workers(self.0.get(task.index()).copied().unwrap_or(0))
    }

    /// True if `worker` holds `task`'s result.
    #[inline]
    pub fn has(&self, task: TaskId, worker: usize) -> bool {
        self.of(task).contains(worker)
    }

    /// Records that `worker` holds `task`'s result (ignored past
    /// [`MAX_WORKERS`] or outside the graph).
    #[inline]
    pub fn add(&mut self, task: TaskId, worker: usize) {
        if let (Some(mask), true) = (self.0.get_mut(task.index()), worker < MAX_WORKERS) {
            *mask |= 1 << worker;
        }
    }

    /// Forgets every holder of `task` and returns them: the workers that
    /// must drop the result when it is released.
    #[inline]
    pub fn take(&mut self, task: TaskId) -> Workers {
        Workers(
            self.0
                .get_mut(task.index())
                .map_or(0, core::mem::take),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_are_added_listed_and_taken() {
        let mut h = Holders::new(3);
        let t = TaskId(1);
        h.add(t, 5);
        h.add(t, 0);
        h.add(t, 63);
        h.add(t, 64); // past the mask: ignored, not a panic
        h.add(TaskId(7), 1); // outside the graph: ignored
        assert!(h.has(t, 5) && !h.has(t, 4));
        assert_eq!(h.of(t).first(), Some(0));
        assert_eq!(h.take(t).collect::<Vec<_>>(), [0, 5, 63]);
        assert!(h.of(t).is_empty());
        assert_eq!(h.take(TaskId(7)).next(), None);
    }
}
