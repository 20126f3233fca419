//! Workers ordered by how many tasks each has in flight per thread, so
//! that placement finds the least-loaded worker that can take a task
//! without scanning every worker: a task reading nothing, or reading
//! inputs no candidate holds, goes to the first worker in this order that
//! has room.
//!
//! The order is exact: in-flight counts per thread compare as fractions
//! (by cross-multiplication), ties by id, the same order the scores of
//! [`Placement::choose`](super::Placement) give workers holding nothing.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use super::worker::Worker;
use crate::protocol::WorkerId;

/// One worker's place in the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Load {
    pub in_flight: u32,
    /// Its threads, at least 1.
    pub threads: u32,
    pub id: WorkerId,
}

impl Ord for Load {
    fn cmp(&self, other: &Load) -> Ordering {
        let mine = u64::from(self.in_flight) * u64::from(other.threads);
        let theirs = u64::from(other.in_flight) * u64::from(self.threads);
        mine.cmp(&theirs).then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for Load {
    fn partial_cmp(&self, other: &Load) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Every live worker's [`Load`], least loaded first.
#[derive(Debug, Default)]
pub(super) struct ByLoad {
    order: BTreeSet<Load>,
}

impl ByLoad {
    /// Worker `id` with `threads` threads joined, with nothing in flight.
    pub fn add(&mut self, id: WorkerId, threads: u32) {
        self.order.insert(Load {
            in_flight: 0,
            threads: threads.max(1),
            id,
        });
    }

    /// Worker `id` left, having `in_flight` tasks on `threads` threads.
    pub fn remove(&mut self, id: WorkerId, threads: u32, in_flight: u32) {
        self.order.remove(&Load {
            in_flight,
            threads: threads.max(1),
            id,
        });
    }

    /// Worker `id`'s in-flight count went from `from` to `to`.
    pub fn shift(&mut self, id: WorkerId, threads: u32, from: u32, to: u32) {
        let threads = threads.max(1);
        self.order.remove(&Load {
            in_flight: from,
            threads,
            id,
        });
        self.order.insert(Load {
            in_flight: to,
            threads,
            id,
        });
    }

    /// Worker `id`'s in-flight count goes up by one (`up`) or down by one.
    pub fn step(&mut self, id: WorkerId, worker: &mut Worker, up: bool) {
        let from = worker.in_flight;
        worker.in_flight = if up {
            from.saturating_add(1)
        } else {
            from.saturating_sub(1)
        };
        self.shift(id, worker.info.nthreads, from, worker.in_flight);
    }

    /// True if worker `id` is in the order with these counts.
    pub fn has(&self, id: WorkerId, threads: u32, in_flight: u32) -> bool {
        self.order.contains(&Load {
            in_flight,
            threads: threads.max(1),
            id,
        })
    }

    /// Workers, least loaded first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Load> {
        self.order.iter()
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(n: u32) -> WorkerId {
        WorkerId::new(n).unwrap()
    }

    #[test]
    fn workers_order_by_tasks_per_thread_then_id() {
        let mut by = ByLoad::default();
        by.add(w(1), 1);
        by.add(w(2), 4);
        by.add(w(3), 2);
        by.shift(w(1), 1, 0, 1); // 1 per thread
        by.shift(w(2), 4, 0, 2); // 0.5
        by.shift(w(3), 2, 0, 1); // 0.5
        let order: Vec<u32> = by.iter().map(|l| l.id.get()).collect();
        assert_eq!(order, vec![2, 3, 1]);
        by.remove(w(2), 4, 2);
        assert_eq!(by.len(), 2);
        assert_eq!(by.iter().next().map(|l| l.id), Some(w(3)));
    }
}
