//! Blocked tasks waiting to be woken, with their wake-up times.
//!
//! A worker keeps the tasks that sleep; the IO loop keeps the tasks that
//! wait for a descriptor, which it may also wake early by id.

use crate::task::Task;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

#[derive(Default)]
pub(crate) struct Parked {
    /// Wake-up times, earliest first. An entry whose task was taken out
    /// early is skipped when it comes up.
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    tasks: HashMap<u64, Box<Task>>,
    next_id: u64,
}

impl Parked {
    /// Parks a blocked task; returns the id that [`Parked::take`] knows
    /// it by.
    pub fn park(&mut self, task: Box<Task>) -> u64 {
        self.next_id += 1;
        if let Some(at) = task.wake_time() {
            self.heap.push(Reverse((at, self.next_id)));
        }
        self.tasks.insert(self.next_id, task);
        self.next_id
    }

    /// Takes out the task parked as `id`, if it is still here.
    pub fn take(&mut self, id: u64) -> Option<Box<Task>> {
        self.tasks.remove(&id)
    }

    /// Takes out the tasks whose wake-up time is `now` or earlier, with
    /// their ids.
    pub fn due(&mut self, now: Instant) -> Vec<(u64, Box<Task>)> {
        let mut due = Vec::new();
        while let Some(&Reverse((at, id))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            if let Some(task) = self.tasks.remove(&id) {
                due.push((id, task));
            }
        }
        due
    }

    /// The earliest wake-up time, if any (possibly of a task taken out
    /// early, which only makes the owner look a little sooner).
    pub fn next_wake(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }
}
