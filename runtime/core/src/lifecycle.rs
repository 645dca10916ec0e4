//! The life cycle of a sandbox, driven by the code that runs it (the WASI
//! command runner, for `luge run` and `luge serve`).
//!
//! A sandbox is instantiated, runs, and ends in exactly one way. While it
//! runs, its scheduler task has a life cycle of its own (runnable,
//! preempted, blocked: [`luge_scheduler::lifecycle::TaskState`]); this one
//! records what only the runtime knows, such as whether it ended by a trap
//! or by its timeout.

use luge_scheduler::lifecycle::{Counts, CountsTo, Lifecycle, States};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SandboxState {
    /// Its memory, tables and globals are being created and its start
    /// function run.
    Instantiating,
    /// Its entry point runs.
    Running,
    /// The entry point returned, or the guest exited with status 0
    /// (terminal).
    Returned,
    /// The guest exited with a non-zero status (terminal).
    Exited,
    /// A trap ended it (terminal).
    Trapped,
    /// Its task's timeout interrupted it (terminal).
    TimedOut,
    /// It could not start: an import, an export or its memory was missing
    /// (terminal).
    Failed,
}

impl States for SandboxState {
    const ALL: &'static [SandboxState] = &[
        SandboxState::Instantiating,
        SandboxState::Running,
        SandboxState::Returned,
        SandboxState::Exited,
        SandboxState::Trapped,
        SandboxState::TimedOut,
        SandboxState::Failed,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        match self {
            SandboxState::Instantiating => "instantiating",
            SandboxState::Running => "running",
            SandboxState::Returned => "returned",
            SandboxState::Exited => "exited",
            SandboxState::Trapped => "trapped",
            SandboxState::TimedOut => "timed_out",
            SandboxState::Failed => "failed",
        }
    }

    fn can_become(self, next: SandboxState) -> bool {
        use SandboxState::*;
        // A start function runs during instantiation, so every ending but
        // a return can come before `Running`.
        matches!(
            (self, next),
            (
                Instantiating,
                Running | Exited | Trapped | TimedOut | Failed
            ) | (Running, Returned | Exited | Trapped | TimedOut | Failed)
        )
    }
}

/// A new sandbox's life cycle, in `Instantiating`, counted in `group` (its
/// route's counts, in `luge serve`). There are no process-wide sandbox
/// counts: nothing reads them, and every sandbox would pay for them.
pub fn new_sandbox(group: Option<Arc<Counts<SandboxState>>>) -> Lifecycle<SandboxState> {
    Lifecycle::new(
        SandboxState::Instantiating,
        CountsTo {
            process: None,
            group,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use SandboxState::*;

    #[test]
    fn every_ending_is_terminal_and_counted_in_the_group() {
        for end in [Returned, Exited, Trapped, TimedOut, Failed] {
            assert!(end.is_terminal(), "{end:?}");
            let group = Arc::new(Counts::new());
            let mut sandbox = new_sandbox(Some(group.clone()));
            sandbox.transition(Running).unwrap();
            sandbox.transition(end).unwrap();
            assert_eq!(group.entered(Instantiating), 1);
            assert_eq!(group.entered(Running), 1);
            assert_eq!(group.entered(end), 1);
            let others = SandboxState::ALL
                .iter()
                .filter(|&&s| s != end && s.is_terminal());
            assert!(others.into_iter().all(|&s| group.entered(s) == 0));
        }
    }

    #[test]
    fn only_an_instantiated_sandbox_returns() {
        for &from in SandboxState::ALL {
            assert_eq!(from.can_become(Returned), from == Running, "{from:?}");
        }
        assert!(
            Instantiating.can_become(Trapped),
            "a start function can trap"
        );
    }
}
