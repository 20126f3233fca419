//! Finished results by task id, for a worker or a scheduler that runs
//! tasks itself: one slot per task, emptied when the result is released.

use alloc::vec;
use alloc::vec::Vec;

use crate::graph::TaskId;
use crate::op::Fetch;
use crate::value::Value;

/// One optional result per task of a graph.
#[derive(Debug, Default)]
pub struct Results(Vec<Option<Value>>);

impl Results {
    /// Empty slots for `tasks` tasks.
    pub fn new(tasks: usize) -> Results {
        Results(vec![None; tasks])
    }

    /// Stores `task`'s result (ignored outside the graph).
    #[inline]
    pub fn put(&mut self, task: TaskId, value: Value) {
        if let Some(slot) = self.0.get_mut(task.index()) {
            *slot = Some(value);
        }
    }

    /// Takes `task`'s result out, leaving the slot empty.
    #[inline]
    pub fn take(&mut self, task: TaskId) -> Option<Value> {
        self.0.get_mut(task.index())?.take()
    }

    /// Drops `task`'s result.
    #[inline]
    pub fn release(&mut self, task: TaskId) {
        self.take(task);
    }

    /// Drops every result and sizes the slots for `tasks` tasks.
    pub fn reset(&mut self, tasks: usize) {
        self.0.clear();
        self.0.resize(tasks, None);
    }
}

impl Fetch for Results {
    #[inline]
    fn fetch(&self, task: TaskId) -> Option<&Value> {
        self.0.get(task.index())?.as_ref()
    }
}
