//! The task stream's memory: a ring of the most recent task records, so
//! that a graph of any size costs the scheduler a fixed amount of memory
//! and one small copy per finished task.
//!
//! Records are numbered from 0 in the order they arrive; a reader asks for
//! everything from a number on and gets what the ring still holds.

/// One task run, as the dashboard draws it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskRecord {
    /// Start, microseconds since the scheduler started.
    pub start_us: u64,
    /// End, microseconds since the scheduler started.
    pub stop_us: u64,
    /// The worker that ran it.
    pub worker: u32,
    /// Its prefix's id (see [`Prefixes`](super::prefix::Prefixes)).
    pub prefix: u32,
    /// The worker thread that ran it.
    pub thread: u16,
    /// It failed.
    pub erred: bool,
}

/// The last `capacity` records.
#[derive(Debug)]
pub struct TaskStream {
    ring: Vec<TaskRecord>,
    capacity: usize,
    /// The number the next record will get (= records ever pushed).
    next: u64,
}

impl TaskStream {
    /// A ring keeping the last `capacity` records (at least one).
    pub fn new(capacity: usize) -> TaskStream {
        TaskStream {
            ring: Vec::new(),
            capacity: capacity.max(1),
            next: 0,
        }
    }

    /// Adds a record, overwriting the oldest when full.
    pub fn push(&mut self, record: TaskRecord) {
        if self.ring.len() < self.capacity {
            self.ring.push(record);
        } else {
            let slot = (self.next % self.capacity as u64) as usize;
            self.ring[slot] = record;
        }
        self.next += 1;
    }

    /// The number the next record will get.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// The number of the oldest record still held.
    pub fn first_seq(&self) -> u64 {
        self.next - self.ring.len() as u64
    }

    /// The records numbered `from` on that are still held, oldest first,
    /// at most the last `max` of them.
    pub fn since(&self, from: u64, max: usize) -> impl Iterator<Item = &TaskRecord> + '_ {
        let start = from
            .max(self.first_seq())
            .max(self.next.saturating_sub(max as u64))
            .min(self.next);
        (start..self.next).filter_map(move |seq| {
            let slot = (seq % self.capacity as u64) as usize;
            self.ring.get(slot)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u64) -> TaskRecord {
        TaskRecord {
            start_us: i,
            stop_us: i + 1,
            worker: 1,
            prefix: 0,
            thread: 0,
            erred: false,
        }
    }

    fn starts<'a>(it: impl Iterator<Item = &'a TaskRecord>) -> Vec<u64> {
        it.map(|r| r.start_us).collect()
    }

    #[test]
    fn keeps_the_last_records_in_order() {
        let mut s = TaskStream::new(4);
        assert_eq!(starts(s.since(0, 100)), Vec::<u64>::new());
        for i in 0..3 {
            s.push(rec(i));
        }
        assert_eq!(starts(s.since(0, 100)), [0, 1, 2]);
        assert_eq!(starts(s.since(2, 100)), [2]);
        for i in 3..10 {
            s.push(rec(i));
        }
        assert_eq!(s.next_seq(), 10);
        assert_eq!(s.first_seq(), 6);
        assert_eq!(starts(s.since(0, 100)), [6, 7, 8, 9]);
        assert_eq!(starts(s.since(8, 100)), [8, 9]);
        assert_eq!(starts(s.since(0, 2)), [8, 9]);
        assert_eq!(starts(s.since(10, 100)), Vec::<u64>::new());
        assert_eq!(starts(s.since(u64::MAX, 100)), Vec::<u64>::new());
    }
}
