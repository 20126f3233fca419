//! The event queue: a binary heap by virtual time, ties in the order the
//! events were queued, so a run is the same every time it is replayed.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Events waiting for their time.
#[derive(Debug)]
pub(crate) struct EventQueue<E> {
    heap: BinaryHeap<Timed<E>>,
    queued: u64,
}

#[derive(Debug)]
struct Timed<E> {
    at: u64,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Timed<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<E> Eq for Timed<E> {}

impl<E> PartialOrd for Timed<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Timed<E> {
    /// The max-heap pops the earliest time, then the first queued.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl<E> EventQueue<E> {
    pub(crate) fn new() -> EventQueue<E> {
        EventQueue {
            heap: BinaryHeap::new(),
            queued: 0,
        }
    }

    /// Queues `event` for virtual time `at` (ns).
    pub(crate) fn push(&mut self, at: u64, event: E) {
        self.heap.push(Timed {
            at,
            seq: self.queued,
            event,
        });
        self.queued += 1;
    }

    /// The earliest event and its time.
    pub(crate) fn pop(&mut self) -> Option<(u64, E)> {
        self.heap.pop().map(|t| (t.at, t.event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_by_arrival() {
        let mut q = EventQueue::new();
        for (at, e) in [(5, 'a'), (1, 'b'), (5, 'c'), (0, 'd'), (1, 'e')] {
            q.push(at, e);
        }
        let order: Vec<(u64, char)> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, [(0, 'd'), (1, 'b'), (1, 'e'), (5, 'a'), (5, 'c')]);
    }
}
