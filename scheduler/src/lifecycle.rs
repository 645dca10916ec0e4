//! Life cycles as explicit state machines, and counts of the states they
//! entered.
//!
//! A life cycle ([`Lifecycle`]) moves only through
//! [`Lifecycle::transition`], which checks the move against its states'
//! one table of allowed transitions ([`States::can_become`]) and counts the
//! state entered in every [`Counts`] it reports to. Two machines use it:
//! the scheduler's tasks ([`TaskState`], driven by the workers) and the
//! runtime's sandboxes (driven by whoever runs the sandbox), each counted
//! process-wide or per group of tasks (a route, in `luge serve`).

use std::fmt::Debug;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The states of one kind of life cycle.
pub trait States: Copy + Eq + Debug + Send + Sync + 'static {
    /// Every state, in the order of their [`States::index`].
    const ALL: &'static [Self];
    /// The position of the state in [`States::ALL`].
    fn index(self) -> usize;
    /// The state's name in metrics and messages.
    fn name(self) -> &'static str;
    /// The transition table: whether `self` may move to `next`.
    fn can_become(self, next: Self) -> bool;

    /// A state nothing leaves.
    fn is_terminal(self) -> bool {
        Self::ALL.iter().all(|&next| !self.can_become(next))
    }
}

/// The most states one kind of life cycle may have.
const MAX_STATES: usize = 8;

/// How many times life cycles entered each state.
pub struct Counts<S> {
    entered: [AtomicU64; MAX_STATES],
    states: PhantomData<S>,
}

impl<S: States> Default for Counts<S> {
    fn default() -> Self {
        Counts::new()
    }
}

impl<S: States> Debug for Counts<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.snapshot().iter().map(|(s, n)| (s.name(), n)))
            .finish()
    }
}

impl<S: States> Counts<S> {
    pub const fn new() -> Counts<S> {
        assert!(S::ALL.len() <= MAX_STATES, "too many states to count");
        Counts {
            entered: [const { AtomicU64::new(0) }; MAX_STATES],
            states: PhantomData,
        }
    }

    /// Times `state` was entered so far.
    pub fn entered(&self, state: S) -> u64 {
        self.entered[state.index()].load(Ordering::Relaxed)
    }

    /// Every state with the times it was entered.
    pub fn snapshot(&self) -> Vec<(S, u64)> {
        S::ALL.iter().map(|&s| (s, self.entered(s))).collect()
    }

    fn count(&self, state: S) {
        self.entered[state.index()].fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid {} transition {} -> {}", std::any::type_name::<S>().rsplit("::").next().unwrap_or("state"), from.name(), to.name())]
pub struct InvalidTransition<S: States> {
    pub from: S,
    pub to: S,
}

/// Where a life cycle counts the states it enters: a process-wide count
/// and, optionally, one of its group.
#[derive(Debug, Clone, Default)]
pub struct CountsTo<S: States> {
    pub process: Option<&'static Counts<S>>,
    pub group: Option<Arc<Counts<S>>>,
}

/// The state of one task or sandbox.
#[derive(Debug)]
pub struct Lifecycle<S: States> {
    state: S,
    counts: CountsTo<S>,
}

impl<S: States> Lifecycle<S> {
    /// A life cycle that starts in (and counts) `initial`.
    pub fn new(initial: S, counts: CountsTo<S>) -> Lifecycle<S> {
        let lifecycle = Lifecycle {
            state: initial,
            counts,
        };
        lifecycle.count(initial);
        lifecycle
    }

    pub fn state(&self) -> S {
        self.state
    }

    /// Moves to `next`. A transition outside the table is a bug in whoever
    /// drives the life cycle: it panics in debug builds and is refused
    /// (state unchanged) otherwise.
    pub fn transition(&mut self, next: S) -> Result<(), InvalidTransition<S>> {
        if !self.state.can_become(next) {
            let error = InvalidTransition {
                from: self.state,
                to: next,
            };
            debug_assert!(false, "{error}");
            return Err(error);
        }
        self.state = next;
        self.count(next);
        Ok(())
    }

    fn count(&self, state: S) {
        if let Some(process) = self.counts.process {
            process.count(state);
        }
        if let Some(group) = &self.counts.group {
            group.count(state);
        }
    }
}

/// The life cycle of a scheduler task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Queued, waiting for a worker.
    Runnable,
    /// Executing on a worker.
    Running,
    /// Stopped at the end of its quantum (or on request); will be requeued.
    Preempted,
    /// Waiting for a timer or for IO; will be woken.
    Blocked,
    /// Its body returned; its stack is back in the pool (terminal).
    Finished,
    /// Its body panicked; its stack is back in the pool (terminal).
    Panicked,
}

impl States for TaskState {
    const ALL: &'static [TaskState] = &[
        TaskState::Runnable,
        TaskState::Running,
        TaskState::Preempted,
        TaskState::Blocked,
        TaskState::Finished,
        TaskState::Panicked,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        match self {
            TaskState::Runnable => "runnable",
            TaskState::Running => "running",
            TaskState::Preempted => "preempted",
            TaskState::Blocked => "blocked",
            TaskState::Finished => "finished",
            TaskState::Panicked => "panicked",
        }
    }

    fn can_become(self, next: TaskState) -> bool {
        use TaskState::*;
        matches!(
            (self, next),
            (Runnable, Running)
                | (Running, Preempted)
                | (Running, Blocked)
                | (Running, Finished)
                | (Running, Panicked)
                | (Preempted, Runnable)
                | (Blocked, Runnable)
        )
    }
}

/// Every task's states, process-wide.
static TASKS: Counts<TaskState> = Counts::new();

/// How many times, process-wide, a task entered each state.
pub fn task_counts() -> &'static Counts<TaskState> {
    &TASKS
}

/// A new task's life cycle, counted process-wide and in `group`.
pub(crate) fn new_task(group: Option<Arc<Counts<TaskState>>>) -> Lifecycle<TaskState> {
    Lifecycle::new(
        TaskState::Runnable,
        CountsTo {
            process: Some(&TASKS),
            group,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskState::*;

    #[test]
    fn a_preempted_and_blocked_task_runs_to_completion() {
        let group = Arc::new(Counts::new());
        let before = task_counts().entered(Running);
        let mut s = new_task(Some(group.clone()));
        for next in [
            Running, Preempted, Runnable, Running, Blocked, Runnable, Running, Finished,
        ] {
            s.transition(next).unwrap();
        }
        assert!(s.state().is_terminal());
        // The group counts this task alone.
        assert_eq!(group.entered(Runnable), 3);
        assert_eq!(group.entered(Running), 3);
        assert_eq!(group.entered(Preempted), 1);
        assert_eq!(group.entered(Blocked), 1);
        assert_eq!(group.entered(Finished), 1);
        assert_eq!(group.entered(Panicked), 0);
        // Other tests run concurrently and only add, hence the lower bound.
        assert!(task_counts().entered(Running) >= before + 3);
    }

    #[test]
    fn terminal_states_have_no_way_out() {
        let terminal: Vec<_> = TaskState::ALL.iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, [&Finished, &Panicked]);
    }

    #[test]
    fn only_a_running_task_can_be_preempted_block_or_end() {
        for &from in TaskState::ALL {
            for to in [Preempted, Blocked, Finished, Panicked] {
                assert_eq!(from.can_become(to), from == Running, "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    #[cfg_attr(
        debug_assertions,
        should_panic(expected = "invalid TaskState transition runnable -> finished")
    )]
    fn invalid_transitions_are_caught() {
        let mut s = new_task(None);
        let result = s.transition(Finished);
        assert_eq!(
            result,
            Err(InvalidTransition {
                from: Runnable,
                to: Finished
            })
        );
        assert_eq!(s.state(), Runnable);
    }
}
