//! The ready queue of [`ExecState`](crate::ExecState): tasks by priority,
//! lowest first, with lazy deletion.
//!
//! Tasks ready from the start sit in a vector sorted best last (taken in
//! O(1): wide graphs start with most tasks ready); tasks that become ready
//! later go into a binary min-heap. An entry may go stale (its task was
//! started out of turn); the owner says which entries are stale when it
//! asks for the tops to be cleaned, so removing any task costs nothing
//! until its entry reaches a top.

use crate::graph::TaskId;
use crate::storage::{Buf, CapacityError, Storage};

/// Ready tasks by priority; see the module docs.
pub(crate) struct ReadyQueue<S: Storage> {
    /// Ready from the start, sorted by priority, best last.
    roots: S::Vec<TaskId>,
    /// Binary min-heap by priority.
    heap: S::Vec<TaskId>,
}

impl<S: Storage> ReadyQueue<S> {
    /// A queue holding `roots`, in any order.
    pub(crate) fn from_roots(mut roots: S::Vec<TaskId>, prio: &[u32]) -> Self {
        // Ids mostly come in priority order; the sort finds such runs in O(n).
        roots.sort_unstable_by_key(|t| core::cmp::Reverse(prio[t.index()]));
        ReadyQueue {
            roots,
            heap: S::Vec::empty(),
        }
    }

    /// The best entry (live if the tops are clean).
    #[inline]
    pub(crate) fn peek(&self, prio: &[u32]) -> Option<TaskId> {
        match (self.roots.last(), self.heap.first()) {
            (Some(&r), Some(&h)) if prio[h.index()] < prio[r.index()] => Some(h),
            (Some(&r), _) => Some(r),
            (None, h) => h.copied(),
        }
    }

    /// Adds `task` (fails only in full fixed-capacity storage).
    pub(crate) fn push(&mut self, task: TaskId, prio: &[u32]) -> Result<(), CapacityError> {
        let heap = &mut self.heap;
        heap.try_push(task)?;
        let mut i = heap.len() - 1;
        while i > 0 {
            let parent = (i - 1) / 2;
            if prio[heap[parent].index()] <= prio[heap[i].index()] {
                break;
            }
            heap.swap(parent, i);
            i = parent;
        }
        Ok(())
    }

    /// Removes `task` if its entry is on a top; false if it is deeper
    /// (its entry stays, and goes stale).
    pub(crate) fn remove_if_top(&mut self, task: TaskId, prio: &[u32]) -> bool {
        if self.roots.last() == Some(&task) {
            self.roots.pop_last();
            true
        } else if self.heap.first() == Some(&task) {
            self.pop_heap(prio);
            true
        } else {
            false
        }
    }

    /// Pops entries off both tops while `stale` says they are stale, so
    /// each top is live again.
    pub(crate) fn drop_stale_tops(&mut self, prio: &[u32], mut stale: impl FnMut(TaskId) -> bool) {
        while let Some(&t) = self.roots.last() {
            if !stale(t) {
                break;
            }
            self.roots.pop_last();
        }
        while let Some(&t) = self.heap.first() {
            if !stale(t) {
                break;
            }
            self.pop_heap(prio);
        }
    }

    /// Entries best first, live or stale, without removing them.
    pub(crate) fn best_first<'q>(&'q self, prio: &'q [u32]) -> BestFirst<'q> {
        let mut it = BestFirst {
            roots: &self.roots,
            heap: &self.heap,
            prio,
            frontier: [0; FRONTIER],
            len: 0,
        };
        if !self.heap.is_empty() {
            it.len = 1; // the heap's root, index 0
        }
        it
    }

    fn pop_heap(&mut self, prio: &[u32]) {
        let Some(last) = self.heap.len().checked_sub(1) else {
            return;
        };
        self.heap.swap(0, last);
        self.heap.pop_last();
        let heap = &mut self.heap[..];
        let mut i = 0;
        loop {
            let l = 2 * i + 1;
            if l >= heap.len() {
                break;
            }
            let r = l + 1;
            let c = if r < heap.len() && prio[heap[r].index()] < prio[heap[l].index()] {
                r
            } else {
                l
            };
            if prio[heap[c].index()] >= prio[heap[i].index()] {
                break;
            }
            heap.swap(c, i);
            i = c;
        }
    }
}

/// Heap positions [`BestFirst`] may have open at once: one more per entry
/// it yields, so at least `FRONTIER - 1` entries come out in order.
const FRONTIER: usize = 130;

/// The queue's entries in priority order, best first: the sorted roots
/// from their end, merged with a best-first walk of the heap that keeps
/// its open positions in a small sorted array (a heap's best `k` entries
/// lie in its first `k` levels' frontier). Ends once that array is full,
/// so it yields at least `FRONTIER - 1` entries, never one out of order.
pub(crate) struct BestFirst<'q> {
    roots: &'q [TaskId],
    heap: &'q [TaskId],
    prio: &'q [u32],
    /// Open heap positions, sorted by priority, best last.
    frontier: [u32; FRONTIER],
    len: usize,
}

impl BestFirst<'_> {
    fn heap_prio(&self, i: u32) -> u32 {
        self.prio[self.heap[i as usize].index()]
    }

    /// Opens heap position `i`; false if the frontier is full.
    fn open(&mut self, i: usize) -> bool {
        if i >= self.heap.len() {
            return true;
        }
        if self.len == FRONTIER {
            return false;
        }
        let p = self.heap_prio(i as u32);
        // Sorted best last: shift the better ones up by one.
        let mut at = self.len;
        while at > 0 && self.heap_prio(self.frontier[at - 1]) < p {
            self.frontier[at] = self.frontier[at - 1];
            at -= 1;
        }
        self.frontier[at] = i as u32;
        self.len += 1;
        true
    }
}

impl Iterator for BestFirst<'_> {
    type Item = TaskId;

    fn next(&mut self) -> Option<TaskId> {
        let best_heap = self.len.checked_sub(1).map(|l| self.frontier[l]);
        let from_roots = match (self.roots.last(), best_heap) {
            (Some(r), Some(h)) => self.prio[r.index()] <= self.heap_prio(h),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        if from_roots {
            let (&r, rest) = self.roots.split_last()?;
            self.roots = rest;
            return Some(r);
        }
        let i = best_heap? as usize;
        let task = self.heap[i];
        self.len -= 1;
        if !(self.open(2 * i + 1) && self.open(2 * i + 2)) {
            // Past here the order could not be kept: stop.
            self.roots = &[];
            self.heap = &[];
            self.len = 0;
        }
        Some(task)
    }
}
