//! Tasks, and what code running in one can ask of the scheduler: yield,
//! block on a timer or on IO readiness, learn about its timeout.
//!
//! A task is a closure run to completion on its own stack, possibly across
//! several workers. While it runs, its worker publishes a `Current` in a
//! thread-local; every function here reads it through `current()`, which
//! is never inlined because a task may resume on another thread.

use crate::context::{switch, Context};
use crate::group::Group;
use crate::hooks;
use crate::lifecycle::{self, Counts, Lifecycle, TaskState as State};
use crate::stack::Stack;
use crate::waker::Parking;

use rustix::event::{PollFd, PollFlags, Timespec};
use std::cell::Cell;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How a task is to be run, beyond its body.
#[derive(Debug, Clone, Default)]
pub struct TaskOptions {
    /// Deadline relative to the spawn, for the EDF policy (FIFO ignores it).
    pub relative_deadline: Option<Duration>,
    /// Wall-clock limit from the spawn. When it passes, the task's timeout
    /// action (see [`on_timeout`]) runs and a blocked task is woken with
    /// [`Wake::TimedOut`]; ending the task is up to that action (the
    /// runtime interrupts the guest, which traps at its next check).
    pub timeout: Option<Duration>,
    /// Where to count the states the task enters besides the process-wide
    /// [`lifecycle::task_counts`]: its group's counts (a route's, in
    /// `luge serve`).
    pub counts: Option<Arc<Counts<State>>>,
    /// The group whose share of the CPU the task runs in (see
    /// [`crate::group`]); `None` means the scheduler's default group.
    pub group: Option<Arc<Group>>,
}

/// Why a blocked task was woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The descriptor it waited on is ready.
    Ready,
    /// The time it gave passed.
    Deadline,
    /// Its timeout passed (its timeout action has run).
    TimedOut,
    /// A [`Waker`] woke it before its time.
    Woken,
}

/// What a blocked task waits for, besides its wake-up time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Only time: the worker's timers hold it.
    Timer,
    /// The descriptor becoming readable: the IO loop holds it.
    Readable(RawFd),
}

/// A task's timeout, shared with the scheduler's timeout list so that it
/// fires whether the task runs, waits or blocks.
pub(crate) struct Timeout {
    pub at: Instant,
    /// Key in the scheduler's list of timeouts.
    pub id: u64,
    state: Mutex<TimeoutState>,
    /// The task's, so that firing wakes it if it sleeps.
    parking: Arc<Parking>,
}

#[derive(Default)]
struct TimeoutState {
    fired: bool,
    action: Option<Box<dyn FnOnce() + Send>>,
}

impl Timeout {
    pub fn new(at: Instant, id: u64, parking: Arc<Parking>) -> Arc<Timeout> {
        Arc::new(Timeout {
            at,
            id,
            state: Mutex::default(),
            parking,
        })
    }

    /// Marks the timeout as passed, runs its action and wakes the task if
    /// it sleeps, once.
    pub fn fire(&self) {
        let action = {
            let mut state = self.state.lock().unwrap();
            if state.fired {
                return;
            }
            state.fired = true;
            state.action.take()
        };
        if let Some(action) = action {
            action();
        }
        self.parking.wake();
    }

    pub fn fired(&self) -> bool {
        self.state.lock().unwrap().fired
    }

    /// Sets what firing does; runs it at once when already fired.
    fn set_action(&self, action: Box<dyn FnOnce() + Send>) {
        let mut state = self.state.lock().unwrap();
        if state.fired {
            drop(state);
            action();
        } else {
            state.action = Some(action);
        }
    }
}

/// A spawned task, as its spawner may still act on it.
#[derive(Clone, Default)]
pub struct TaskHandle {
    timeout: Option<Arc<Timeout>>,
}

impl TaskHandle {
    pub(crate) fn new(timeout: Option<Arc<Timeout>>) -> TaskHandle {
        TaskHandle { timeout }
    }

    /// Ends the task's time now, as if its timeout had passed: its timeout
    /// action runs (a guest is interrupted) and its next wait returns
    /// [`Wake::TimedOut`]. A task asleep ([`sleep_until`]) is woken at
    /// once; one waiting for IO sees it within a second (such tasks look
    /// every [`RECHECK`]). Does nothing for a task spawned without a
    /// timeout, or after it.
    pub fn stop(&self) {
        if let Some(timeout) = &self.timeout {
            timeout.fire();
        }
    }
}

pub struct Task {
    body: Option<Box<dyn FnOnce() + Send>>,
    pub(crate) lifecycle: Lifecycle<State>,
    /// Absolute deadline: the EDF order, and lateness in both policies.
    pub(crate) deadline: Option<Instant>,
    pub(crate) group: Arc<Group>,
    /// CPU time of the slices the task has finished.
    pub(crate) cpu: Duration,
    /// Where the task was suspended; valid once it has run.
    pub(crate) context: Context,
    pub(crate) stack: Option<Stack>,
    pub(crate) timeout: Option<Arc<Timeout>>,
    /// Where it stands for an early wake-up.
    pub(crate) parking: Arc<Parking>,
    /// While blocked: what for, and until when at the latest.
    pub(crate) wait: Wait,
    pub(crate) wake_at: Option<Instant>,
    /// Why it was last woken.
    woke: Wake,
}

impl Task {
    /// A runnable task.
    pub(crate) fn new(
        body: Box<dyn FnOnce() + Send>,
        deadline: Option<Instant>,
        timeout: Option<Arc<Timeout>>,
        parking: Arc<Parking>,
        counts: Option<Arc<Counts<State>>>,
        group: Arc<Group>,
    ) -> Box<Task> {
        Box::new(Task {
            body: Some(body),
            lifecycle: lifecycle::new_task(counts),
            deadline,
            group,
            cpu: Duration::ZERO,
            context: Context::default(),
            stack: None,
            timeout,
            parking,
            wait: Wait::Timer,
            wake_at: None,
            woke: Wake::Ready,
        })
    }

    /// When a blocked task must be woken even if what it waits for has not
    /// happened: its own wake-up time or its timeout, whichever is first.
    pub(crate) fn wake_time(&self) -> Option<Instant> {
        let timeout = self.timeout.as_ref().map(|t| t.at);
        match (self.wake_at, timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Makes a blocked task runnable again, recording why: `why`, unless
    /// its timeout has passed. A task woken at or after its timeout fires
    /// it, so that the timeout action has run before the task sees
    /// [`Wake::TimedOut`].
    pub(crate) fn wake(&mut self, why: Wake, now: Instant) {
        self.woke = match &self.timeout {
            Some(t) if t.at <= now || t.fired() => {
                t.fire();
                Wake::TimedOut
            }
            _ => why,
        };
        self.wake_at = None;
        self.lifecycle
            .transition(State::Runnable)
            .expect("a blocked task can be woken");
    }
}

// SAFETY: a task is only ever touched by the one worker (or IO loop) that
// holds it; its stack and context move with it between threads while it is
// suspended.
unsafe impl Send for Task {}

/// What the currently running task needs to give the worker back.
pub(crate) struct Current {
    pub task: *mut Task,
    pub worker: *mut Context,
    pub stack_bottom: usize,
    /// When the worker switched to the task.
    pub slice_start: Instant,
}

thread_local! {
    static CURRENT: Cell<Option<*const Current>> = const { Cell::new(None) };
}

/// Publishes (or, with `None`, withdraws) the task running on this thread.
pub(crate) fn set_current(current: Option<&Current>) {
    CURRENT.with(|c| c.set(current.map(|c| c as *const Current)));
}

/// The `Current` of the task running on this thread, if any.
///
/// Never inlined: a task may resume on another thread after suspending, and
/// the compiler must not reuse a thread-local address computed before.
#[inline(never)]
fn current() -> Option<&'static Current> {
    // SAFETY: set by the worker for exactly as long as the task runs on
    // this thread; the task cannot observe it outside that window.
    CURRENT.with(Cell::get).map(|c| unsafe { &*c })
}

impl Current {
    /// Suspends the running task in state `state` (`Preempted` or
    /// `Blocked`) and returns to its worker; returns when a worker resumes
    /// it.
    fn suspend(&self, state: State) {
        // SAFETY: the task's own struct, owned by its worker while it runs
        // and touched only by the task meanwhile; the reference is not used
        // after the switch, when the worker owns the task again.
        let task = unsafe { &mut *self.task };
        task.lifecycle
            .transition(state)
            .expect("a running task can be suspended");
        let hooks = hooks::get();
        let saved = hooks.map_or(0, |h| h.suspend());
        // SAFETY: `worker` is the worker loop's saved context; it resumes
        // us later through `task.context`.
        unsafe { switch(&mut task.context, &*self.worker) };
        // Now on whichever thread resumed the task.
        if let Some(hooks) = hooks {
            hooks.resume(saved);
        }
    }

    /// Blocks the task until `wait` is satisfied or `until` passes.
    fn block(&self, wait: Wait, until: Option<Instant>) -> Wake {
        // SAFETY: as in `suspend`; the reference is not used after the
        // task suspends.
        let task = unsafe { &mut *self.task };
        if task.timeout.as_ref().is_some_and(|t| t.fired()) {
            return Wake::TimedOut;
        }
        if task.parking.take_request() {
            return Wake::Woken;
        }
        task.wait = wait;
        task.wake_at = until;
        self.suspend(State::Blocked);
        // Re-read: the task may now run on another thread.
        let current = current().expect("a woken task runs on a worker");
        // SAFETY: the task runs again, and only touches its own fields.
        let task = unsafe { &*current.task };
        task.parking.resumed();
        task.woke
    }
}

/// Longest a task waiting for IO stays blocked before it looks whether it
/// was stopped: the IO loop wakes it only when its descriptor is ready or
/// its time is up. (A task asleep on a timer is woken early instead.)
const RECHECK: Duration = Duration::from_secs(1);

/// Blocks the running task until `wait` is satisfied or `until` passes.
/// Waiting for IO, it wakes at least every [`RECHECK`] to look whether
/// its timeout has fired early ([`TaskHandle::stop`]).
///
/// The task's `Current` is looked up afresh for every wait: it belongs to
/// the worker the task runs on, and a woken task may resume on another.
fn block_until(wait: Wait, until: Option<Instant>) -> Wake {
    loop {
        let current = current().expect("blocking from a task");
        let step = match wait {
            Wait::Timer => until,
            Wait::Readable(_) => {
                let recheck = Instant::now() + RECHECK;
                Some(until.map_or(recheck, |until| until.min(recheck)))
            }
        };
        match current.block(wait, step) {
            Wake::Deadline if until.is_none_or(|until| Instant::now() < until) => continue,
            wake => return wake,
        }
    }
}

/// Gives up the worker: the current task is queued again behind the tasks
/// already waiting. Returns at once when called outside a task.
pub fn yield_now() {
    if let Some(current) = current() {
        current.suspend(State::Preempted);
    }
}

/// Blocks the current task until `deadline` without blocking its worker,
/// which runs other tasks meanwhile; returns earlier, with
/// [`Wake::TimedOut`], when the task's timeout passes first. Outside a
/// task, sleeps the thread.
pub fn sleep_until(deadline: Instant) -> Wake {
    match current() {
        Some(_) => block_until(Wait::Timer, Some(deadline)),
        None => {
            std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
            Wake::Deadline
        }
    }
}

/// Wakes one task early from another thread: see [`current_waker`].
#[derive(Clone)]
pub struct Waker(Arc<Parking>);

impl Waker {
    /// Ends the task's sleep ([`sleep_until`]) now, with [`Wake::Woken`];
    /// if it is not asleep, its next sleep returns at once.
    pub fn wake(&self) {
        self.0.wake();
    }
}

/// A [`Waker`] of the current task (`None` outside a task): how an
/// embedder that interrupts a task's work ends its sleep, which no timer
/// would end before its time. A sleeping task otherwise costs nothing until
/// its time comes.
pub fn current_waker() -> Option<Waker> {
    // SAFETY: called from the running task, which reads its own field.
    current().map(|c| Waker(unsafe { (*c.task).parking.clone() }))
}

/// Blocks the current task until `fd` is readable (or at end of file, or
/// in error: whatever makes a read return at once), `deadline` passes, or
/// the task's timeout passes, without blocking its worker. Descriptors
/// that cannot be watched (regular files) count as ready. Outside a task,
/// waits with `poll(2)` on the thread.
///
/// A descriptor readable already costs one `poll(2)` and no switch: input
/// from a file or a pipe written ahead of time (`luge run < input`) is the
/// common case, and the IO loop's thread is not started for it. A task
/// whose timeout has fired (or that was stopped) goes the slow way, which
/// returns [`Wake::TimedOut`].
pub fn wait_readable(fd: BorrowedFd<'_>, deadline: Option<Instant>) -> Wake {
    match current() {
        Some(_) if !timed_out() && poll_readable(fd, Some(Instant::now())) == Wake::Ready => {
            Wake::Ready
        }
        Some(_) => block_until(Wait::Readable(fd.as_raw_fd()), deadline),
        None => poll_readable(fd, deadline),
    }
}

fn poll_readable(fd: BorrowedFd<'_>, deadline: Option<Instant>) -> Wake {
    // A wait too long for a timespec waits without a time limit.
    let timeout =
        deadline.and_then(|d| Timespec::try_from(d.saturating_duration_since(Instant::now())).ok());
    let mut fds = [PollFd::from_borrowed_fd(fd, PollFlags::IN)];
    match rustix::event::poll(&mut fds, timeout.as_ref()) {
        Ok(0) => Wake::Deadline,
        _ => Wake::Ready,
    }
}

/// Sets what happens when the current task's timeout passes (the runtime
/// interrupts its guest). Runs `action` at once when the timeout has
/// already passed. Returns whether the task has a timeout at all; outside a
/// task, does nothing and returns false.
pub fn on_timeout(action: impl FnOnce() + Send + 'static) -> bool {
    // SAFETY: called from the running task, which reads its own field.
    match current().and_then(|c| unsafe { (*c.task).timeout.clone() }) {
        Some(timeout) => {
            timeout.set_action(Box::new(action));
            true
        }
        None => false,
    }
}

/// Whether the current task's timeout has passed.
pub fn timed_out() -> bool {
    // SAFETY: called from the running task, which reads its own field.
    current()
        .and_then(|c| unsafe { (*c.task).timeout.as_ref().map(|t| t.fired()) })
        .unwrap_or(false)
}

/// CPU time the current task has used so far, this slice included (zero
/// outside a task): what `luge serve` learns a route's execution time
/// from, without the time its task spent waiting or blocked.
pub fn cpu_time() -> Duration {
    // SAFETY: called from the running task, which reads its own field.
    current().map_or(Duration::ZERO, |c| unsafe {
        (*c.task).cpu + c.slice_start.elapsed()
    })
}

/// Lowest usable address of the running task's stack, when the caller runs
/// in a task (code that computes stack limits must not use the thread's).
pub fn task_stack_bottom() -> Option<usize> {
    current().map(|c| c.stack_bottom)
}

/// First code of every task's stack.
pub(crate) unsafe extern "C" fn task_entry(arg: usize) -> ! {
    // SAFETY: `arg` is the task the worker is starting; it stays alive
    // while it runs.
    let task = unsafe { &mut *(arg as *mut Task) };
    if let Some(body) = task.body.take() {
        // A panicking task must not unwind off the end of its stack.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
        let end = if outcome.is_ok() {
            State::Finished
        } else {
            State::Panicked
        };
        task.lifecycle
            .transition(end)
            .expect("a running task can end");
    }
    let current = current().expect("tasks run on workers");
    // SAFETY: as in `Current::suspend`; this task is never resumed again.
    unsafe { switch(&mut task.context, &*current.worker) };
    unreachable!("a finished task was resumed");
}
