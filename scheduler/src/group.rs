//! Groups: the tenants the CPU is shared between.
//!
//! Every task belongs to a group (a tenant, in `luge serve`); tasks spawned
//! without one belong to the scheduler's default group. Workers pick a
//! group first and a task of it second (see [`crate::queue`]), so that one
//! group's backlog cannot take the CPU from another:
//!
//! - **Budgets (Sledge's MTDS).** A group may have a budget: at most
//!   `max` of CPU time in every `period`. While it has budget left, or has
//!   no budget at all, it is *guaranteed*; once it has spent its budget for
//!   the period it is *best effort*, and runs only when no guaranteed group
//!   has work. The budget is replenished at the start of each period.
//! - **Fair share.** Among groups of the same kind, the one that has used
//!   the least CPU time for its weight runs first (a virtual run time, as
//!   Linux's CFS keeps one). A group that was idle starts again level with
//!   the least-served busy group, not with the credit of its idle time, so
//!   it cannot take the CPU for as long as it was away.
//!
//! Time is charged as it is used: the ticker charges each running task's
//! group every tick, and the worker charges the rest when the task's slice
//! ends, so a long slice counts against its budget while it runs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The weight of a group that sets none; shares are relative, so only the
/// ratio of two weights matters.
pub const DEFAULT_WEIGHT: u32 = 100;

/// A CPU budget: at most `max` in every `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub max: Duration,
    pub period: Duration,
}

/// A group of tasks that share the CPU with other groups by weight and,
/// optionally, within a budget.
pub struct Group {
    name: String,
    /// Unique among the groups of the process: the queue's key.
    pub(crate) id: u64,
    weight: u32,
    budget: Option<Budget>,
    /// CPU time used so far, in nanoseconds.
    used: AtomicU64,
    /// Added to the virtual run time when the group becomes busy again
    /// after an idle spell (see the module documentation).
    virtual_offset: AtomicU64,
    period: Mutex<Period>,
}

/// The budget's current period.
struct Period {
    start: Option<Instant>,
    used: Duration,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Group {
    /// A group named `name` (for messages) with CPU share `weight` (at
    /// least 1) and an optional budget.
    pub fn new(name: &str, weight: u32, budget: Option<Budget>) -> Arc<Group> {
        Arc::new(Group {
            name: name.to_owned(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            weight: weight.max(1),
            budget,
            used: AtomicU64::new(0),
            virtual_offset: AtomicU64::new(0),
            period: Mutex::new(Period {
                start: None,
                used: Duration::ZERO,
            }),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn weight(&self) -> u32 {
        self.weight
    }

    pub fn budget(&self) -> Option<Budget> {
        self.budget
    }

    /// CPU time the group's tasks have used.
    pub fn cpu_time(&self) -> Duration {
        Duration::from_nanos(self.used.load(Ordering::Relaxed))
    }

    /// Counts `time` of CPU used at `now`.
    pub(crate) fn charge(&self, time: Duration, now: Instant) {
        self.used
            .fetch_add(time.as_nanos() as u64, Ordering::Relaxed);
        if let Some(budget) = self.budget {
            let mut period = self.period.lock().unwrap();
            period.roll(budget, now);
            period.used += time;
        }
    }

    /// Whether the group has spent its budget for the period that `now`
    /// falls in (never, without a budget).
    pub(crate) fn exhausted(&self, now: Instant) -> bool {
        self.budget.is_some_and(|budget| {
            let mut period = self.period.lock().unwrap();
            period.roll(budget, now);
            period.used >= budget.max
        })
    }

    /// The group's place in the fair share: CPU time used per unit of
    /// weight, plus its offset; the smallest runs first.
    pub(crate) fn virtual_time(&self) -> u64 {
        let used = self.used.load(Ordering::Relaxed);
        let scaled = u128::from(used) * u128::from(DEFAULT_WEIGHT) / u128::from(self.weight);
        (scaled as u64).saturating_add(self.virtual_offset.load(Ordering::Relaxed))
    }

    /// Brings a group that becomes busy again up to `floor`, the virtual
    /// time of the least-served busy group, if it is behind it.
    pub(crate) fn catch_up(&self, floor: u64) {
        let behind = floor.saturating_sub(self.virtual_time());
        self.virtual_offset.fetch_add(behind, Ordering::Relaxed);
    }
}

impl Period {
    /// Starts a new period when the current one is over: periods follow
    /// each other from the first charge, so that a budget is replenished
    /// at fixed times, whatever the load.
    fn roll(&mut self, budget: Budget, now: Instant) {
        let start = *self.start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        if elapsed >= budget.period && !budget.period.is_zero() {
            let periods = elapsed.as_nanos() / budget.period.as_nanos();
            let skipped = budget.period.as_nanos() * periods;
            self.start = Some(start + Duration::from_nanos(skipped as u64));
            self.used = Duration::ZERO;
        }
    }
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("name", &self.name)
            .field("weight", &self.weight)
            .field("budget", &self.budget)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_budget_is_spent_within_its_period_and_replenished_at_the_next() {
        let budget = Budget {
            max: 5 * MS,
            period: 20 * MS,
        };
        let group = Group::new("a", DEFAULT_WEIGHT, Some(budget));
        let t0 = Instant::now();
        assert!(!group.exhausted(t0));
        group.charge(3 * MS, t0);
        assert!(!group.exhausted(t0 + MS));
        group.charge(2 * MS, t0 + 2 * MS);
        assert!(group.exhausted(t0 + 19 * MS));
        assert!(!group.exhausted(t0 + 20 * MS), "a new period");
        group.charge(5 * MS, t0 + 45 * MS);
        assert!(group.exhausted(t0 + 59 * MS));
        assert!(!group.exhausted(t0 + 60 * MS));
        assert_eq!(group.cpu_time(), 10 * MS);
    }

    #[test]
    fn without_a_budget_a_group_is_never_exhausted() {
        let group = Group::new("b", DEFAULT_WEIGHT, None);
        group.charge(Duration::from_secs(100), Instant::now());
        assert!(!group.exhausted(Instant::now()));
    }

    #[test]
    fn virtual_time_grows_slower_for_heavier_groups() {
        let light = Group::new("light", DEFAULT_WEIGHT, None);
        let heavy = Group::new("heavy", 3 * DEFAULT_WEIGHT, None);
        let now = Instant::now();
        light.charge(3 * MS, now);
        heavy.charge(3 * MS, now);
        assert_eq!(light.virtual_time(), 3 * heavy.virtual_time());
    }

    #[test]
    fn a_group_back_from_idle_catches_up_but_keeps_its_lead_if_ahead() {
        let idle = Group::new("idle", DEFAULT_WEIGHT, None);
        idle.catch_up(7_000);
        assert_eq!(idle.virtual_time(), 7_000);
        idle.catch_up(5_000);
        assert_eq!(idle.virtual_time(), 7_000, "never moved back");
    }
}
