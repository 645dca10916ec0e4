//! The life cycle of a sandbox, as an explicit state machine.
//!
//! Every state change goes through [`Lifecycle::transition`], which checks
//! it against the one table of allowed transitions ([`State::can_become`])
//! and counts it for metrics.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum State {
    /// Resources (stack, context) are reserved.
    Allocated,
    /// The instance exists and is ready to be queued.
    Initialized,
    /// Queued, waiting for a worker.
    Runnable,
    /// Executing on a worker.
    Running,
    /// Stopped by the scheduler at the end of its quantum; will be requeued.
    Preempted,
    /// Waiting for a timer or for IO; will be woken.
    Blocked,
    /// Its function returned; the result has not been delivered yet.
    Returned,
    /// Finished and its resources returned (terminal).
    Complete,
    /// Ended by a trap, a timeout or a failed start (terminal).
    Error,
}

impl State {
    pub const ALL: [State; 9] = [
        State::Allocated,
        State::Initialized,
        State::Runnable,
        State::Running,
        State::Preempted,
        State::Blocked,
        State::Returned,
        State::Complete,
        State::Error,
    ];

    pub fn name(self) -> &'static str {
        match self {
            State::Allocated => "allocated",
            State::Initialized => "initialized",
            State::Runnable => "runnable",
            State::Running => "running",
            State::Preempted => "preempted",
            State::Blocked => "blocked",
            State::Returned => "returned",
            State::Complete => "complete",
            State::Error => "error",
        }
    }

    /// The transition table: whether a sandbox in `self` may move to `next`.
    pub fn can_become(self, next: State) -> bool {
        use State::*;
        matches!(
            (self, next),
            (Allocated, Initialized)
                | (Allocated, Error)
                | (Initialized, Runnable)
                | (Runnable, Running)
                | (Running, Preempted)
                | (Running, Blocked)
                | (Running, Returned)
                | (Running, Error)
                | (Preempted, Runnable)
                | (Blocked, Runnable)
                | (Blocked, Error)
                | (Returned, Complete)
        )
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, State::Complete | State::Error)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid sandbox state transition {} -> {}", from.name(), to.name())]
pub struct InvalidTransition {
    pub from: State,
    pub to: State,
}

/// How many times, process-wide, a sandbox entered each state.
static ENTERED: [AtomicU64; 9] = [const { AtomicU64::new(0) }; 9];

/// The number of times each state was entered so far, for metrics.
pub fn entered_counts() -> [(State, u64); 9] {
    State::ALL.map(|s| (s, ENTERED[s as usize].load(Ordering::Relaxed)))
}

/// The state of one sandbox.
#[derive(Debug)]
pub struct Lifecycle {
    state: State,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle::new()
    }
}

impl Lifecycle {
    pub fn new() -> Lifecycle {
        ENTERED[State::Allocated as usize].fetch_add(1, Ordering::Relaxed);
        Lifecycle {
            state: State::Allocated,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Moves to `next`. A transition outside the table is a scheduler bug:
    /// it panics in debug builds and is refused (state unchanged) otherwise.
    pub fn transition(&mut self, next: State) -> Result<(), InvalidTransition> {
        if !self.state.can_become(next) {
            let error = InvalidTransition {
                from: self.state,
                to: next,
            };
            debug_assert!(false, "{error}");
            return Err(error);
        }
        self.state = next;
        ENTERED[next as usize].fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use State::*;

    #[test]
    fn a_preempted_and_blocked_sandbox_runs_to_completion() {
        let before = entered_counts();
        let mut s = Lifecycle::new();
        for next in [
            Initialized,
            Runnable,
            Running,
            Preempted,
            Runnable,
            Running,
            Blocked,
            Runnable,
            Running,
            Returned,
            Complete,
        ] {
            s.transition(next).unwrap();
        }
        assert!(s.state().is_terminal());
        let after = entered_counts();
        let delta = |state: State| after[state as usize].1 - before[state as usize].1;
        // Other tests run concurrently and only add, hence the lower bounds.
        assert!(delta(Running) >= 3);
        assert!(delta(Complete) >= 1);
    }

    #[test]
    fn terminal_states_have_no_way_out() {
        for terminal in [Complete, Error] {
            assert!(terminal.is_terminal());
            for next in State::ALL {
                assert!(!terminal.can_become(next), "{terminal:?} -> {next:?}");
            }
        }
    }

    #[test]
    fn only_a_running_sandbox_can_be_preempted_or_return() {
        for from in State::ALL {
            for to in [Preempted, Returned] {
                assert_eq!(from.can_become(to), from == Running, "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    #[cfg_attr(
        debug_assertions,
        should_panic(expected = "invalid sandbox state transition")
    )]
    fn invalid_transitions_are_caught() {
        let mut s = Lifecycle::new();
        let result = s.transition(Running);
        assert_eq!(
            result,
            Err(InvalidTransition {
                from: Allocated,
                to: Running
            })
        );
        assert_eq!(s.state(), Allocated);
    }
}
