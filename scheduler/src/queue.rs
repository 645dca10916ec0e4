//! Where runnable tasks wait, by policy.
//!
//! - FIFO: each worker's local deque (tasks woken there), then new tasks in
//!   arrival order, then preempted tasks in round robin, then stealing from
//!   other workers. New tasks go before preempted ones: a short function
//!   that arrives while long ones share the cores waits at most about one
//!   quantum, not one quantum per long task queued before it.
//! - EDF: one queue ordered by absolute deadline (earliest first; tasks
//!   without a deadline after all others, in arrival order).

use crate::task::Task;
use crossbeam_deque::{Injector, Steal, Stealer, Worker as Deque};
use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// How workers choose the next task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// First in, first out, with round robin among preempted tasks.
    Fifo,
    /// Earliest deadline first.
    Edf,
}

/// A task in the EDF queue.
struct ByDeadline {
    deadline: Option<Instant>,
    seq: u64,
    task: Box<Task>,
}

impl ByDeadline {
    /// Earlier deadlines first, then arrival order.
    fn key(&self) -> (bool, Option<Instant>, u64) {
        (self.deadline.is_none(), self.deadline, self.seq)
    }
}

impl PartialEq for ByDeadline {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for ByDeadline {}

impl PartialOrd for ByDeadline {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for ByDeadline {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        other.key().cmp(&self.key())
    }
}

pub(crate) struct RunQueue {
    policy: Policy,
    /// FIFO: tasks that have not run yet.
    fresh: Injector<Box<Task>>,
    /// FIFO: preempted tasks.
    injector: Injector<Box<Task>>,
    stealers: Vec<Stealer<Box<Task>>>,
    by_deadline: Mutex<BinaryHeap<ByDeadline>>,
    seq: AtomicU64,
}

impl RunQueue {
    pub fn new(policy: Policy, deques: &[Deque<Box<Task>>]) -> RunQueue {
        RunQueue {
            policy,
            fresh: Injector::new(),
            injector: Injector::new(),
            stealers: deques.iter().map(Deque::stealer).collect(),
            by_deadline: Mutex::new(BinaryHeap::new()),
            seq: AtomicU64::new(0),
        }
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Queues a task that has not run yet.
    pub fn push_new(&self, task: Box<Task>) {
        match self.policy {
            Policy::Fifo => self.fresh.push(task),
            Policy::Edf => self.push(task),
        }
    }

    /// Queues `task` globally: behind all waiting tasks (FIFO) or by its
    /// deadline (EDF).
    pub fn push(&self, task: Box<Task>) {
        match self.policy {
            Policy::Fifo => self.injector.push(task),
            Policy::Edf => self.by_deadline.lock().unwrap().push(ByDeadline {
                deadline: task.deadline,
                seq: self.seq.fetch_add(1, Ordering::Relaxed),
                task,
            }),
        }
    }

    /// Queues `task` on the worker owning `deque` where the policy allows.
    pub fn push_local(&self, deque: &Deque<Box<Task>>, task: Box<Task>) {
        match self.policy {
            Policy::Fifo => deque.push(task),
            Policy::Edf => self.push(task),
        }
    }

    /// The next task for worker `index`.
    pub fn pop(&self, index: usize, deque: &Deque<Box<Task>>) -> Option<Box<Task>> {
        match self.policy {
            Policy::Fifo => deque.pop().or_else(|| self.steal(index)),
            Policy::Edf => self.by_deadline.lock().unwrap().pop().map(|e| e.task),
        }
    }

    /// From the new tasks, else the preempted ones, else another worker.
    fn steal(&self, index: usize) -> Option<Box<Task>> {
        std::iter::repeat_with(|| {
            // One at a time from the shared queues: a batch moved to this
            // worker's deque would run before newer arrivals elsewhere.
            self.fresh
                .steal()
                .or_else(|| self.injector.steal())
                .or_else(|| {
                    self.stealers
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != index)
                        .map(|(_, s)| s.steal())
                        .collect::<Steal<_>>()
                })
        })
        .find(|s| !s.is_retry())
        .and_then(Steal::success)
    }

    /// Whether any task waits to run.
    pub fn has_work(&self) -> bool {
        self.earliest_waiting().is_some()
    }

    /// `None` when nothing waits; otherwise the earliest deadline among
    /// waiting tasks (`Some(None)` when no waiting task has one, or under
    /// FIFO, which does not look at deadlines).
    pub fn earliest_waiting(&self) -> Option<Option<Instant>> {
        match self.policy {
            Policy::Fifo => {
                let waiting = !self.fresh.is_empty()
                    || !self.injector.is_empty()
                    || self.stealers.iter().any(|s| !s.is_empty());
                waiting.then_some(None)
            }
            Policy::Edf => self.by_deadline.lock().unwrap().peek().map(|e| e.deadline),
        }
    }
}
