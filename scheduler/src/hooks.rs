//! The contract between the scheduler and the code its tasks run.
//!
//! The scheduler knows tasks only as closures. Code inside them may keep
//! state bound to the thread it runs on (the runtime keeps the jump buffer
//! a trapping guest returns to), and may be able to give up its worker
//! only when asked from outside (the runtime's guests run compiled code
//! that never calls the scheduler). [`TaskHooks`] is how that code tells
//! the scheduler what to do at these points; the scheduler calls it at
//! every one, so no caller of [`crate::task`] has to remember them:
//!
//! | when                                   | the scheduler calls           |
//! |----------------------------------------|-------------------------------|
//! | a task suspends (yield, preempt, block) | [`TaskHooks::suspend`], on the task's stack |
//! | it resumes, perhaps on another thread  | [`TaskHooks::resume`], on the task's stack  |
//! | it overran its quantum or its timeout  | [`TaskHooks::preempt`], from the ticker     |
//! | its timeout passes                     | the action set with [`crate::task::on_timeout`] |
//!
//! A process has one set of hooks, registered with [`register`] before the
//! first task that needs them runs; until then (and in programs that never
//! register any, such as the scheduler's own tests) suspensions carry no
//! state and preemption only happens when a task yields.

use std::os::unix::thread::RawPthread;
use std::sync::OnceLock;

/// What the scheduler asks of the code its tasks run.
pub trait TaskHooks: Sync {
    /// The running task is about to suspend on this thread: detach what is
    /// bound to the thread and return it, to be given back to
    /// [`TaskHooks::resume`].
    fn suspend(&self) -> usize;

    /// The task suspended with `saved` runs again, on the thread this is
    /// called on.
    fn resume(&self, saved: usize);

    /// Asks the worker `thread` to give up the task it runs, which overran
    /// its quantum while other work waits or passed its timeout. Called
    /// from the ticker thread; the task is expected to call
    /// [`crate::task::yield_now`] (or end, when
    /// [`crate::task::timed_out`]) soon after, at a point where that is
    /// safe. Asking again at the next tick must be harmless.
    fn preempt(&self, thread: RawPthread);
}

static HOOKS: OnceLock<&'static dyn TaskHooks> = OnceLock::new();

/// Registers the process's hooks. Returns false, changing nothing, when
/// another set was registered first.
pub fn register(hooks: &'static dyn TaskHooks) -> bool {
    HOOKS.set(hooks).is_ok()
}

/// The registered hooks, if any.
pub(crate) fn get() -> Option<&'static dyn TaskHooks> {
    HOOKS.get().copied()
}
