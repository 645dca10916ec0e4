//! Where runnable tasks wait, by group and by policy.
//!
//! A worker picks a group first, then a task of that group:
//!
//! - **Groups** ([`crate::group`]): a group that has spent its CPU budget
//!   for the period runs only when no other group has work; then the group
//!   with the least CPU time for its weight; ties go round robin.
//! - **Tasks of a group, FIFO:** new tasks in arrival order, then preempted
//!   and woken ones in round robin. New tasks go before preempted ones: a
//!   short function that arrives while long ones share the cores waits at
//!   most about one quantum, not one quantum per long task queued before
//!   it.
//! - **Tasks of a group, EDF:** by absolute deadline (earliest first; tasks
//!   without a deadline after all others, in arrival order).
//!
//! **Deadline misses**, in both policies: a task whose absolute deadline
//! has passed drops behind every task of its group still on time, into a
//! round robin of late tasks. It is not killed: ending it is up to its
//! owner (`luge serve` does so for routes that ask, with their timeout).
//! Without this rule a runaway task would keep the earliest deadline
//! forever and outrank every task that arrived after it. Tasks without a
//! deadline are never late. Lateness orders tasks within a group only:
//! across groups it would let a tenant that keeps the CPU busy make
//! another tenant's tasks late, and so push that tenant behind it for
//! good. It does decide how soon a waiting task preempts: a task on time
//! replaces a late one of its own group, or of a group it would be picked
//! before, at once.
//!
//! One lock guards all of it: picking a group needs a view of all groups,
//! and with a handful of workers the lock is held for well under a
//! microsecond per pick.

use crate::group::Group;
use crate::task::{Task, Timeout};
use std::cmp::Ordering as CmpOrdering;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How workers choose the next task of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// First in, first out, with round robin among preempted tasks.
    Fifo,
    /// Earliest deadline first.
    Edf,
}

/// A task in a group's EDF heap.
struct ByDeadline {
    seq: u64,
    task: Box<Task>,
}

impl ByDeadline {
    /// Earlier deadlines first, then arrival order.
    fn key(&self) -> (bool, Option<Instant>, u64) {
        (self.task.deadline.is_none(), self.task.deadline, self.seq)
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

/// What the best waiting task of a group is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    /// Still on time, with this deadline (none under FIFO or without one).
    OnTime(Option<Instant>),
    /// Every waiting task missed its deadline.
    Late,
}

/// The waiting tasks of one group.
struct GroupQueue {
    group: Arc<Group>,
    /// FIFO: tasks that have not run yet.
    fresh: VecDeque<Box<Task>>,
    /// FIFO: tasks preempted or woken, on time.
    again: VecDeque<Box<Task>>,
    /// EDF: tasks on time.
    by_deadline: BinaryHeap<ByDeadline>,
    /// Tasks past their deadline, round robin.
    late: VecDeque<Box<Task>>,
    /// Tasks waiting here.
    len: usize,
    /// Tasks of the group running on a worker.
    running: usize,
    /// When the group was last picked (in picks), for round robin on ties.
    last_pick: u64,
}

fn is_late(task: &Task, now: Instant) -> bool {
    task.deadline.is_some_and(|d| d <= now)
}

impl GroupQueue {
    fn new(group: Arc<Group>) -> GroupQueue {
        GroupQueue {
            group,
            fresh: VecDeque::new(),
            again: VecDeque::new(),
            by_deadline: BinaryHeap::new(),
            late: VecDeque::new(),
            len: 0,
            running: 0,
            last_pick: 0,
        }
    }

    /// Moves tasks that missed their deadline while waiting to the late
    /// round robin. Each queue is in arrival or deadline order, so looking
    /// at its front is enough to find the next one on time.
    fn settle(&mut self, now: Instant) {
        for queue in [&mut self.fresh, &mut self.again] {
            while queue.front().is_some_and(|t| is_late(t, now)) {
                self.late.extend(queue.pop_front());
            }
        }
        while self
            .by_deadline
            .peek()
            .is_some_and(|e| is_late(&e.task, now))
        {
            self.late.extend(self.by_deadline.pop().map(|e| e.task));
        }
    }

    /// The best waiting task's class; call [`GroupQueue::settle`] first.
    fn waiting(&self) -> Waiting {
        if let Some(first) = self.by_deadline.peek() {
            Waiting::OnTime(first.task.deadline)
        } else if !self.fresh.is_empty() || !self.again.is_empty() {
            Waiting::OnTime(None)
        } else {
            Waiting::Late
        }
    }

    /// Whether the group has tasks waiting or running.
    fn busy(&self) -> bool {
        self.len > 0 || self.running > 0
    }

    fn pop(&mut self) -> Option<Box<Task>> {
        let task = self
            .fresh
            .pop_front()
            .or_else(|| self.again.pop_front())
            .or_else(|| self.by_deadline.pop().map(|e| e.task))
            .or_else(|| self.late.pop_front())?;
        self.len -= 1;
        self.running += 1;
        Some(task)
    }
}

struct Groups {
    queues: HashMap<u64, GroupQueue>,
    /// The least virtual time of the busy groups, as last seen; it only
    /// grows, and it stays when every group is idle, so that a group
    /// becoming busy then is placed by it too (as Linux's `min_vruntime`).
    /// Without it a group that had never run would come back with no CPU
    /// time at all against a group that kept serving, and hold the CPU
    /// until it caught up.
    floor: u64,
    /// Picks so far.
    picks: u64,
    /// Tasks queued so far, for arrival order in the EDF heaps.
    seq: u64,
}

impl Groups {
    /// The queue of `group`, which, if it had no work, becomes busy
    /// `credit` ahead of the least-served busy group (see
    /// [`Group::catch_up`]).
    fn queue_for(&mut self, group: &Arc<Group>, credit: u64) -> &mut GroupQueue {
        let idle = self.queues.get(&group.id).is_none_or(|q| !q.busy());
        if idle {
            self.raise_floor();
            group.catch_up(self.floor.saturating_sub(credit));
        }
        self.queues
            .entry(group.id)
            .or_insert_with(|| GroupQueue::new(group.clone()))
    }

    /// Raises the floor to the least virtual time of the busy groups.
    fn raise_floor(&mut self) {
        let least_busy = self
            .queues
            .values()
            .filter(|q| q.busy())
            .map(|q| q.group.virtual_time())
            .min();
        if let Some(least) = least_busy {
            self.floor = self.floor.max(least);
        }
    }

    /// The busy group a worker should serve next.
    fn best(&mut self, now: Instant) -> Option<&mut GroupQueue> {
        self.queues
            .values_mut()
            .filter(|q| q.len > 0)
            .map(|q| {
                q.settle(now);
                let key = (q.group.exhausted(now), q.group.virtual_time(), q.last_pick);
                (key, q)
            })
            .min_by_key(|(key, _)| *key)
            .map(|(_, q)| q)
    }
}

/// Where a queued task comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Came {
    New,
    Woken,
    Preempted,
}

/// What the ticker knows about a running task.
pub(crate) struct Running {
    pub group: Arc<Group>,
    pub deadline: Option<Instant>,
    /// Its timeout, which its owner may fire early (see
    /// [`crate::task::TaskHandle::stop`]).
    pub timeout: Option<Arc<Timeout>>,
}

pub(crate) struct RunQueue {
    policy: Policy,
    /// How far ahead of the least-served busy group an idle group starts
    /// again, in virtual time: enough to replace a running task of that
    /// group at once (see [`RunQueue::should_preempt`]).
    idle_credit: u64,
    /// The lead in virtual time that lets a waiting group replace a
    /// running one before the running task's quantum is over: half a
    /// quantum, so that two busy groups take turns about every half
    /// quantum, not at every tick.
    granularity: u64,
    groups: Mutex<Groups>,
}

impl RunQueue {
    /// A queue picking by `policy`, for tasks preempted after `quantum`.
    pub fn new(policy: Policy, quantum: Duration) -> RunQueue {
        let quantum = quantum.as_nanos() as u64;
        RunQueue {
            policy,
            idle_credit: quantum,
            granularity: quantum / 2,
            groups: Mutex::new(Groups {
                queues: HashMap::new(),
                floor: 0,
                picks: 0,
                seq: 0,
            }),
        }
    }

    /// Queues a task that has not run yet.
    pub fn push_new(&self, task: Box<Task>, now: Instant) {
        self.enqueue(task, Came::New, now);
    }

    /// Queues a task woken from a wait: behind the waiting tasks of its
    /// group (FIFO) or by its deadline (EDF).
    pub fn push_woken(&self, task: Box<Task>, now: Instant) {
        self.enqueue(task, Came::Woken, now);
    }

    /// Queues a task that a worker ran and that gave the worker up, as
    /// [`RunQueue::push_woken`] does.
    pub fn push_preempted(&self, task: Box<Task>, now: Instant) {
        self.enqueue(task, Came::Preempted, now);
    }

    /// A task that a worker ran has blocked or ended.
    pub fn stopped(&self, task: &Task) {
        let mut groups = self.groups.lock().unwrap();
        if let Some(queue) = groups.queues.get_mut(&task.group.id) {
            queue.running -= 1;
        }
    }

    fn enqueue(&self, task: Box<Task>, came: Came, now: Instant) {
        let mut groups = self.groups.lock().unwrap();
        groups.seq += 1;
        let seq = groups.seq;
        if came == Came::Preempted {
            // Still busy: not a return from idle.
            if let Some(queue) = groups.queues.get_mut(&task.group.id) {
                queue.running -= 1;
                queue.len += 1;
            }
        }
        let queue = groups.queue_for(&task.group, self.idle_credit);
        if came != Came::Preempted {
            queue.len += 1;
        }
        if is_late(&task, now) {
            queue.late.push_back(task);
            return;
        }
        match (self.policy, came) {
            (Policy::Fifo, Came::New) => queue.fresh.push_back(task),
            (Policy::Fifo, _) => queue.again.push_back(task),
            (Policy::Edf, _) => queue.by_deadline.push(ByDeadline { seq, task }),
        }
    }

    /// The next task to run, if any waits.
    pub fn pop(&self, now: Instant) -> Option<Box<Task>> {
        let mut groups = self.groups.lock().unwrap();
        groups.picks += 1;
        let pick = groups.picks;
        groups.raise_floor();
        let queue = groups.best(now)?;
        queue.last_pick = pick;
        queue.pop()
    }

    /// Whether any task waits to run.
    pub fn has_work(&self) -> bool {
        let groups = self.groups.lock().unwrap();
        groups.queues.values().any(|q| q.len > 0)
    }

    /// Whether a waiting task should replace `running`, which has run for
    /// a quantum or longer when `overran`. At once: a task of a group with
    /// budget left over one without, of a group whose virtual time is
    /// behind the running group's by the granularity or more (a group that
    /// was idle comes back that far behind), a task on time over a late one
    /// (of its own group, or of a group picked before it), and, within a
    /// group under EDF, an earlier deadline. After a quantum: any task of
    /// the same group (round robin), or of a group with no more CPU time
    /// for its weight than the running task's.
    pub fn should_preempt(&self, running: &Running, overran: bool, now: Instant) -> bool {
        let mut groups = self.groups.lock().unwrap();
        let running_exhausted = running.group.exhausted(now);
        let running_late = running.deadline.is_some_and(|d| d <= now);
        groups.queues.values_mut().filter(|q| q.len > 0).any(|q| {
            q.settle(now);
            let waiting = q.waiting();
            let on_time_over_late = running_late && waiting != Waiting::Late;
            if q.group.id == running.group.id {
                return on_time_over_late
                    || (running_late == (waiting == Waiting::Late)
                        && self.preempts_within_group(waiting, running.deadline, overran));
            }
            match q.group.exhausted(now).cmp(&running_exhausted) {
                CmpOrdering::Less => true,
                CmpOrdering::Greater => false,
                CmpOrdering::Equal => {
                    let (waiting, ahead) = (q.group.virtual_time(), running.group.virtual_time());
                    let far_behind = waiting.saturating_add(self.granularity) <= ahead;
                    waiting <= ahead && (overran || on_time_over_late || far_behind)
                }
            }
        })
    }

    /// Within one group, and both on time or both late.
    fn preempts_within_group(
        &self,
        waiting: Waiting,
        running: Option<Instant>,
        overran: bool,
    ) -> bool {
        match (self.policy, waiting) {
            (Policy::Edf, Waiting::OnTime(deadline)) => {
                // No deadline sorts after every deadline.
                let rank = |d: Option<Instant>| (d.is_none(), d);
                match rank(deadline).cmp(&rank(running)) {
                    CmpOrdering::Less => true,
                    CmpOrdering::Equal => overran,
                    CmpOrdering::Greater => false,
                }
            }
            _ => overran,
        }
    }
}
