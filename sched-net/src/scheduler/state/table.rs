//! The worker table: every live worker by id, in a vector indexed by it.
//!
//! Ids are given in order from 1 and never twice, so a worker's slot is
//! its id less the first id still held. A task touches its worker's
//! entry about five times (placing it, booking it, its report, releasing
//! its inputs); at 10,000 workers a `BTreeMap` walked three or four nodes
//! for each, most of them cache misses, where an index is one. Slots of
//! workers that left stay empty until every worker before them has left
//! too (then the front is dropped), so the table is as long as the span
//! of ids between the oldest and the newest live worker.
//!
//! The methods are `BTreeMap`'s, and iteration is in id order as there.

use std::collections::VecDeque;

use super::worker::Worker;
use crate::protocol::WorkerId;

/// Live workers by id.
#[derive(Default)]
pub(super) struct Workers {
    /// Slot `i` is worker `first + i`, or empty once it left.
    slots: VecDeque<Option<(WorkerId, Worker)>>,
    /// The id of slot 0.
    first: u32,
    /// Slots not empty.
    len: usize,
}

impl Workers {
    fn slot(&self, id: WorkerId) -> Option<usize> {
        id.get()
            .checked_sub(self.first)
            .and_then(|i| usize::try_from(i).ok())
    }

    pub fn get(&self, id: &WorkerId) -> Option<&Worker> {
        let (_, w) = self.slots.get(self.slot(*id)?)?.as_ref()?;
        Some(w)
    }

    pub fn get_mut(&mut self, id: &WorkerId) -> Option<&mut Worker> {
        let i = self.slot(*id)?;
        let (_, w) = self.slots.get_mut(i)?.as_mut()?;
        Some(w)
    }

    pub fn contains_key(&self, id: &WorkerId) -> bool {
        self.get(id).is_some()
    }

    /// Puts `worker` in as `id`, returning the worker it replaces.
    pub fn insert(&mut self, id: WorkerId, worker: Worker) -> Option<Worker> {
        if self.slots.is_empty() {
            self.first = id.get();
        }
        // Ids come in order; one below the first (a test's) still fits.
        while id.get() < self.first {
            self.slots.push_front(None);
            self.first -= 1;
        }
        let i = self.slot(id)?;
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        let old = self.slots.get_mut(i)?.replace((id, worker));
        if old.is_none() {
            self.len += 1;
        }
        old.map(|(_, w)| w)
    }

    pub fn remove(&mut self, id: &WorkerId) -> Option<Worker> {
        let i = self.slot(*id)?;
        let (_, gone) = self.slots.get_mut(i)?.take()?;
        self.len -= 1;
        while matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.first += 1;
        }
        while matches!(self.slots.back(), Some(None)) {
            self.slots.pop_back();
        }
        Some(gone)
    }

    /// Workers in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&WorkerId, &Worker)> + Clone {
        self.slots.iter().flatten().map(|(id, w)| (id, w))
    }

    pub fn keys(&self) -> impl Iterator<Item = &WorkerId> {
        self.iter().map(|(id, _)| id)
    }

    pub fn values(&self) -> impl Iterator<Item = &Worker> {
        self.iter().map(|(_, w)| w)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Worker> {
        self.slots.iter_mut().flatten().map(|(_, w)| w)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// `workers[&id]`, as on a `BTreeMap`, for tests: it panics on an id not
/// in the table.
#[cfg(test)]
impl std::ops::Index<&WorkerId> for Workers {
    type Output = Worker;

    fn index(&self, id: &WorkerId) -> &Worker {
        self.get(id).expect("no such worker")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::protocol::WorkerInfo;

    fn worker(threads: u32) -> Worker {
        let info = WorkerInfo {
            listen: String::new(),
            nthreads: threads,
            memory_limit: 0,
            ops: Vec::new(),
            codecs: Vec::new(),
            code_id: None,
            pid: 0,
            resources: Vec::new(),
        };
        Worker::new(info, Instant::now())
    }

    fn ids(t: &Workers) -> Vec<u32> {
        t.keys().map(|id| id.get()).collect()
    }

    #[test]
    fn workers_are_found_by_id_in_order_and_the_front_is_dropped_as_they_leave() {
        let id = |n| WorkerId::new(n).unwrap();
        let mut t = Workers::default();
        for n in 1..=5 {
            assert!(t.insert(id(n), worker(n)).is_none());
        }
        assert_eq!(t.get(&id(3)).map(|w| w.info.nthreads), Some(3));
        assert!(t.remove(&id(3)).is_some());
        assert!(t.remove(&id(3)).is_none(), "gone once");
        assert!(!t.contains_key(&id(3)));
        assert_eq!((ids(&t), t.len()), (vec![1, 2, 4, 5], 4));
        t.remove(&id(1));
        t.remove(&id(2));
        assert_eq!(t.slots.len(), 2, "the front went: slots for 4 and 5");
        assert_eq!(t.get(&id(4)).map(|w| w.info.nthreads), Some(4));
        assert!(t.get(&id(1)).is_none() && t.get(&id(9)).is_none());
        t.insert(id(9), worker(9));
        t.insert(id(1), worker(1)); // below the first id: still fits
        assert_eq!(ids(&t), vec![1, 4, 5, 9]);
        for w in t.values_mut() {
            w.in_flight = 7;
        }
        assert!(t.values().all(|w| w.in_flight == 7));
        for n in [1, 4, 5, 9] {
            t.remove(&id(n));
        }
        assert!(t.is_empty() && t.slots.is_empty());
    }
}
