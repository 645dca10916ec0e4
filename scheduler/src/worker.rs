//! Worker threads that run tasks on their own stacks.
//!
//! Each worker has a local deque; new tasks go to a global injector, and a
//! worker with nothing to do takes from the injector or steals from another
//! worker's deque. A task runs on a pooled stack and may give up the worker
//! with [`yield_now`], after which it is queued again behind every waiting
//! task (FIFO round robin), or block with [`sleep_until`], after which its
//! worker's timers wake it while the worker runs other tasks.

use crate::context::{switch, Context};
use crate::lifecycle::{Lifecycle, State};
use crate::queue::{Policy, RunQueue};
use crate::stack::{Stack, StackPool};

use crossbeam_deque::Worker as Deque;
use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Stack size of a task.
pub const TASK_STACK_SIZE: usize = 256 << 10;

/// How long a task may run while others wait before it is preempted.
pub const DEFAULT_QUANTUM: Duration = Duration::from_millis(5);

/// The signal the ticker sends to a worker whose task overran its quantum.
/// Whoever runs preemptible code on the workers (the runtime, for guest
/// code) handles it by yielding the task; its default action is to ignore
/// it, so code that cannot be preempted just keeps running.
pub const PREEMPT_SIGNAL: libc::c_int = libc::SIGURG;

/// What the ticker knows about one worker.
struct WorkerSlot {
    /// The worker's `pthread_t`, once it has started.
    thread: AtomicUsize,
    /// When the running task was last switched to, in nanoseconds since the
    /// scheduler's epoch; 0 while the worker runs no task.
    running_since: AtomicU64,
    /// The running task's deadline in the same unit; `u64::MAX` for none.
    running_deadline: AtomicU64,
}

/// A unit of work: a closure run to completion on its own stack, possibly
/// across several workers.
pub struct Task {
    body: Option<Box<dyn FnOnce() + Send>>,
    lifecycle: Lifecycle,
    /// Absolute deadline, for the EDF policy.
    pub(crate) deadline: Option<Instant>,
    /// Where the task was suspended; valid once it has run.
    context: Context,
    stack: Option<Stack>,
    /// When a blocked task is to be woken.
    wake_at: Option<Instant>,
}

impl Task {
    fn new(body: Box<dyn FnOnce() + Send>, deadline: Option<Instant>) -> Box<Task> {
        let mut lifecycle = Lifecycle::new();
        lifecycle
            .transition(State::Initialized)
            .expect("a new task can be initialized");
        Box::new(Task {
            body: Some(body),
            lifecycle,
            deadline,
            context: Context::default(),
            stack: None,
            wake_at: None,
        })
    }
}

// SAFETY: a task is only ever touched by the one worker that popped it; its
// stack and context move with it between threads while it is suspended.
unsafe impl Send for Task {}

/// What the currently running task needs to give the worker back.
struct Current {
    task: *mut Task,
    worker: *mut Context,
    stack_bottom: usize,
}

thread_local! {
    static CURRENT: Cell<Option<*const Current>> = const { Cell::new(None) };
}

/// Suspends the running task in state `state` (`Preempted` or `Blocked`)
/// and returns to its worker; returns when a worker resumes it.
fn suspend(current: &Current, state: State) {
    // SAFETY: the task's own struct, owned by the worker while it runs.
    let task = unsafe { &mut *current.task };
    task.lifecycle
        .transition(state)
        .expect("a running task can be suspended");
    // SAFETY: `worker` is the worker loop's saved context; it resumes us
    // later through `task.context`.
    unsafe { switch(&mut task.context, &*current.worker) };
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

/// Gives up the worker: the current task is queued again behind the tasks
/// already waiting. Returns at once when called outside a task.
pub fn yield_now() {
    if let Some(current) = current() {
        suspend(current, State::Preempted);
    }
}

/// Blocks the current task until `deadline` without blocking its worker,
/// which runs other tasks meanwhile. Outside a task, sleeps the thread.
pub fn sleep_until(deadline: Instant) {
    match current() {
        Some(current) => {
            // SAFETY: as in `suspend`.
            unsafe { (*current.task).wake_at = Some(deadline) };
            suspend(current, State::Blocked);
        }
        None => std::thread::sleep(deadline.saturating_duration_since(Instant::now())),
    }
}

/// Lowest usable address of the running task's stack, when the caller runs
/// in a task (code that computes stack limits must not use the thread's).
pub fn task_stack_bottom() -> Option<usize> {
    current().map(|c| c.stack_bottom)
}

/// First code of every task's stack.
unsafe extern "C" fn task_entry(arg: usize) -> ! {
    // SAFETY: `arg` is the task the worker is starting; it stays alive
    // while it runs.
    let task = unsafe { &mut *(arg as *mut Task) };
    if let Some(body) = task.body.take() {
        // A panicking task must not unwind off the end of its stack.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
        let end = if outcome.is_ok() {
            State::Returned
        } else {
            State::Error
        };
        task.lifecycle
            .transition(end)
            .expect("a running task can end");
    }
    let current = current().expect("tasks run on workers");
    // SAFETY: as in `suspend`; this task is never resumed again.
    unsafe { switch(&mut task.context, &*current.worker) };
    unreachable!("a finished task was resumed");
}

struct Shared {
    queue: RunQueue,
    stacks: StackPool,
    /// Tasks spawned and not yet finished.
    pending: AtomicUsize,
    shutdown: AtomicBool,
    idle: Mutex<()>,
    wake: Condvar,
    /// Tasks each worker finished, for tests and metrics.
    completed: Vec<AtomicUsize>,
    slots: Vec<WorkerSlot>,
    epoch: Instant,
}

impl Shared {
    fn now_nanos(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64 + 1
    }

    fn nanos_at(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_nanos() as u64 + 1
    }
}

/// A pool of worker threads.
pub struct Scheduler {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    ticker: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Scheduler {
    /// Starts `workers` worker threads whose tasks get stacks of
    /// [`TASK_STACK_SIZE`] bytes.
    pub fn new(workers: usize) -> Scheduler {
        Scheduler::with_stack_size(workers, TASK_STACK_SIZE)
    }

    /// Starts `workers` worker threads whose tasks get `stack_size`-byte
    /// stacks, FIFO round robin preempted after [`DEFAULT_QUANTUM`].
    pub fn with_stack_size(workers: usize, stack_size: usize) -> Scheduler {
        Scheduler::with_config(workers, stack_size, Some(DEFAULT_QUANTUM), Policy::Fifo)
    }

    /// Starts `workers` worker threads whose tasks get `stack_size`-byte
    /// stacks and are picked by `policy`; with a `quantum`, a ticker
    /// preempts a task when the policy prefers a waiting one (FIFO: after
    /// the task ran a quantum; EDF: at once for an earlier deadline, after a
    /// quantum for an equal one).
    pub fn with_config(
        workers: usize,
        stack_size: usize,
        quantum: Option<Duration>,
        policy: Policy,
    ) -> Scheduler {
        let workers = workers.max(1);
        let deques: Vec<_> = (0..workers).map(|_| Deque::new_fifo()).collect();
        let shared = Arc::new(Shared {
            queue: RunQueue::new(policy, &deques),
            stacks: StackPool::new(stack_size, 4096),
            pending: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            idle: Mutex::new(()),
            wake: Condvar::new(),
            completed: (0..workers).map(|_| AtomicUsize::new(0)).collect(),
            slots: (0..workers)
                .map(|_| WorkerSlot {
                    thread: AtomicUsize::new(0),
                    running_since: AtomicU64::new(0),
                    running_deadline: AtomicU64::new(u64::MAX),
                })
                .collect(),
            epoch: Instant::now(),
        });
        let threads = deques
            .into_iter()
            .enumerate()
            .map(|(index, deque)| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("luge-worker-{index}"))
                    .spawn(move || worker_loop(index, deque, &shared))
                    .expect("cannot start a worker thread")
            })
            .collect();
        let ticker = quantum.map(|quantum| {
            let stop = Arc::new(AtomicBool::new(false));
            let (shared, flag) = (shared.clone(), stop.clone());
            let thread = std::thread::Builder::new()
                .name("luge-ticker".into())
                .spawn(move || ticker(&shared, &flag, quantum))
                .expect("cannot start the scheduler's ticker");
            (stop, thread)
        });
        Scheduler {
            shared,
            threads,
            ticker,
        }
    }

    /// Queues `body` to run on some worker.
    pub fn spawn(&self, body: impl FnOnce() + Send + 'static) {
        self.queue(Task::new(Box::new(body), None));
    }

    /// Queues `body` with a deadline `relative` from now (used by the EDF
    /// policy; FIFO ignores it).
    pub fn spawn_with_deadline(&self, relative: Duration, body: impl FnOnce() + Send + 'static) {
        self.queue(Task::new(Box::new(body), Some(Instant::now() + relative)));
    }

    fn queue(&self, mut task: Box<Task>) {
        task.lifecycle
            .transition(State::Runnable)
            .expect("an initialized task can be queued");
        self.shared.pending.fetch_add(1, Ordering::AcqRel);
        self.shared.queue.push_new(task);
        self.shared.wake.notify_one();
    }

    /// Waits until every spawned task has finished.
    pub fn wait_idle(&self) {
        let mut guard = self.shared.idle.lock().unwrap();
        while self.shared.pending.load(Ordering::Acquire) != 0 {
            guard = self
                .shared
                .wake
                .wait_timeout(guard, Duration::from_millis(10))
                .unwrap()
                .0;
        }
    }

    /// Tasks finished by each worker so far.
    pub fn completed_per_worker(&self) -> Vec<usize> {
        self.shared
            .completed
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        // The ticker goes first, so that it never signals a worker thread
        // that has exited.
        if let Some((stop, thread)) = self.ticker.take() {
            stop.store(true, Ordering::Release);
            let _ = thread.join();
        }
        self.shared.shutdown.store(true, Ordering::Release);
        self.shared.wake.notify_all();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Blocked tasks of one worker, earliest deadline first.
#[derive(Default)]
struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    tasks: HashMap<u64, Box<Task>>,
    next_id: u64,
}

impl Timers {
    fn add(&mut self, task: Box<Task>) {
        let at = task.wake_at.expect("a blocked task has a wake-up time");
        self.next_id += 1;
        self.heap.push(Reverse((at, self.next_id)));
        self.tasks.insert(self.next_id, task);
    }

    /// Makes the tasks whose wake-up time has passed runnable.
    fn wake_due(&mut self, now: Instant, queue: &RunQueue, deque: &Deque<Box<Task>>) {
        while let Some(&Reverse((at, id))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            let mut task = self.tasks.remove(&id).expect("timer entry has its task");
            task.wake_at = None;
            task.lifecycle
                .transition(State::Runnable)
                .expect("a blocked task can be woken");
            queue.push_local(deque, task);
        }
    }

    /// How long the worker may sleep before the next deadline.
    fn next_wait(&self, now: Instant, at_most: Duration) -> Duration {
        self.heap.peek().map_or(at_most, |Reverse((at, _))| {
            at.saturating_duration_since(now).min(at_most)
        })
    }
}

/// Every quarter quantum, signals the workers whose task the policy wants
/// to replace by a waiting one (see [`Scheduler::with_config`]).
fn ticker(shared: &Shared, stop: &AtomicBool, quantum: Duration) {
    let quantum_nanos = quantum.as_nanos() as u64;
    while !stop.load(Ordering::Acquire) {
        std::thread::sleep(quantum / 4);
        let Some(waiting) = shared.queue.earliest_waiting() else {
            continue;
        };
        let waiting = waiting.map_or(u64::MAX, |d| shared.nanos_at(d));
        let now = shared.now_nanos();
        for slot in &shared.slots {
            let since = slot.running_since.load(Ordering::Acquire);
            let thread = slot.thread.load(Ordering::Acquire);
            if since == 0 || thread == 0 {
                continue;
            }
            let running = slot.running_deadline.load(Ordering::Acquire);
            let overran = now.saturating_sub(since) >= quantum_nanos;
            let preempt = match shared.queue.policy() {
                Policy::Fifo => overran,
                Policy::Edf => waiting < running || (waiting == running && overran),
            };
            if preempt {
                // SAFETY: `thread` is a started worker, and workers only
                // exit after the ticker has been stopped and joined.
                unsafe { libc::pthread_kill(thread as libc::pthread_t, PREEMPT_SIGNAL) };
            }
        }
    }
}

fn worker_loop(index: usize, deque: Deque<Box<Task>>, shared: &Shared) {
    // SAFETY: pthread_self has no preconditions.
    let me = unsafe { libc::pthread_self() };
    shared.slots[index]
        .thread
        .store(me as usize, Ordering::Release);
    let mut worker_context = Context::default();
    let mut timers = Timers::default();
    while !shared.shutdown.load(Ordering::Acquire) {
        let now = Instant::now();
        timers.wake_due(now, &shared.queue, &deque);
        let Some(mut task) = shared.queue.pop(index, &deque) else {
            let guard = shared.idle.lock().unwrap();
            let wait = timers.next_wait(now, Duration::from_millis(1));
            let _ = shared.wake.wait_timeout(guard, wait).unwrap();
            continue;
        };
        let slot = &shared.slots[index];
        let deadline = task.deadline.map_or(u64::MAX, |d| shared.nanos_at(d));
        slot.running_deadline.store(deadline, Ordering::Release);
        slot.running_since
            .store(shared.now_nanos(), Ordering::Release);
        let state = run_slice(&mut task, &mut worker_context, shared);
        slot.running_since.store(0, Ordering::Release);
        match state {
            State::Complete | State::Error => {
                shared.completed[index].fetch_add(1, Ordering::Relaxed);
                if shared.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
                    shared.wake.notify_all();
                }
            }
            State::Blocked => timers.add(task),
            // Behind every task already waiting, wherever it waits.
            _ => shared.queue.push(task),
        }
    }
}

/// Runs `task` until it yields, blocks or ends; returns the state it is in
/// then (`Runnable`, `Blocked`, `Complete` or `Error`).
fn run_slice(task: &mut Box<Task>, worker_context: &mut Context, shared: &Shared) -> State {
    if task.stack.is_none() {
        let stack = shared.stacks.get().expect("cannot map a task stack");
        let arg = &mut **task as *mut Task as usize;
        // SAFETY: the stack is kept in the task until the task ends, and
        // `task_entry` never returns.
        task.context = unsafe { Context::new(&stack, task_entry, arg) };
        task.stack = Some(stack);
    }
    task.lifecycle
        .transition(State::Running)
        .expect("a queued task can run");
    let current = Current {
        task: &mut **task,
        worker: worker_context,
        stack_bottom: task.stack.as_ref().map_or(0, Stack::bottom),
    };
    CURRENT.with(|c| c.set(Some(&current)));
    // SAFETY: the task's context is fresh or saved by its own last switch,
    // on a stack it owns.
    unsafe { switch(worker_context, &task.context) };
    CURRENT.with(|c| c.set(None));
    match task.lifecycle.state() {
        State::Preempted => {
            task.lifecycle
                .transition(State::Runnable)
                .expect("a preempted task can be queued");
        }
        State::Blocked => {}
        State::Returned | State::Error => {
            if task.lifecycle.state() == State::Returned {
                task.lifecycle
                    .transition(State::Complete)
                    .expect("a returned task completes");
            }
            if let Some(stack) = task.stack.take() {
                shared.stacks.put(stack);
            }
        }
        other => unreachable!("task switched back in state {}", other.name()),
    }
    task.lifecycle.state()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn many_short_tasks_complete_on_every_worker() {
        let scheduler = Scheduler::new(2);
        let sum = Arc::new(AtomicU64::new(0));
        for i in 0..2000u64 {
            let sum = sum.clone();
            scheduler.spawn(move || {
                // Enough work that both workers get a share.
                let mut x = i;
                for _ in 0..2000 {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
                std::hint::black_box(x);
                sum.fetch_add(i, Ordering::Relaxed);
            });
        }
        scheduler.wait_idle();
        assert_eq!(sum.load(Ordering::Relaxed), (0..2000u64).sum());
        let per_worker = scheduler.completed_per_worker();
        assert_eq!(per_worker.iter().sum::<usize>(), 2000);
        assert!(
            per_worker.iter().all(|&n| n > 0),
            "work was not spread: {per_worker:?}"
        );
    }

    #[test]
    fn a_yielding_task_lets_others_run_in_between() {
        let scheduler = Scheduler::new(1);
        let log = Arc::new(Mutex::new(Vec::new()));
        for name in ["a", "b"] {
            let log = log.clone();
            scheduler.spawn(move || {
                for step in 0..3 {
                    log.lock().unwrap().push(format!("{name}{step}"));
                    yield_now();
                }
            });
        }
        scheduler.wait_idle();
        assert_eq!(*log.lock().unwrap(), ["a0", "b0", "a1", "b1", "a2", "b2"]);
    }

    #[test]
    fn a_thousand_sleeping_tasks_share_two_workers() {
        let scheduler = Scheduler::new(2);
        let woke = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        for _ in 0..1000 {
            let woke = woke.clone();
            scheduler.spawn(move || {
                let deadline = Instant::now() + Duration::from_millis(200);
                sleep_until(deadline);
                assert!(Instant::now() >= deadline, "woken early");
                woke.fetch_add(1, Ordering::Relaxed);
            });
        }
        scheduler.wait_idle();
        assert_eq!(woke.load(Ordering::Relaxed), 1000);
        // One thread per sleeper would not be needed to finish together;
        // two workers sleeping them one after another would take 100 s.
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "took {:?}",
            start.elapsed()
        );
    }

    #[test]
    fn tasks_know_their_own_stack() {
        let scheduler = Scheduler::with_stack_size(1, 128 << 10);
        let seen = Arc::new(Mutex::new(None));
        let inside = seen.clone();
        scheduler.spawn(move || {
            let marker = 0u8;
            let here = std::hint::black_box(&marker) as *const u8 as usize;
            let bottom = task_stack_bottom().expect("running in a task");
            *inside.lock().unwrap() = Some((bottom, here));
        });
        scheduler.wait_idle();
        let (bottom, here) = seen.lock().unwrap().expect("task ran");
        assert!(
            here > bottom && here - bottom <= 128 << 10,
            "{here:#x} vs {bottom:#x}"
        );
        assert_eq!(task_stack_bottom(), None, "not in a task here");
    }

    #[test]
    fn preempted_tasks_keep_running_between_new_arrivals() {
        let scheduler = Scheduler::with_config(2, TASK_STACK_SIZE, None, Policy::Fifo);
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicU64::new(0));
        for _ in 0..4 {
            let (stop, rounds) = (stop.clone(), rounds.clone());
            scheduler.spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    rounds.fetch_add(1, Ordering::Relaxed);
                    let spin = Instant::now();
                    while spin.elapsed() < Duration::from_micros(200) {}
                    yield_now();
                }
            });
        }
        std::thread::sleep(Duration::from_millis(20));
        let before = rounds.load(Ordering::Relaxed);
        for _ in 0..50 {
            let (tx, rx) = std::sync::mpsc::channel();
            scheduler.spawn(move || tx.send(()).unwrap());
            rx.recv().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
        let after = rounds.load(Ordering::Relaxed);
        stop.store(true, Ordering::Release);
        scheduler.wait_idle();
        assert!(
            after > before + 20,
            "long tasks starved: {before} -> {after}"
        );
    }

    #[test]
    fn edf_runs_the_earliest_deadline_first() {
        let scheduler = Scheduler::with_config(1, TASK_STACK_SIZE, None, Policy::Edf);
        let (release, gate) = std::sync::mpsc::channel::<()>();
        // Holds the only worker while the others are queued.
        scheduler.spawn(move || gate.recv().unwrap());
        let order = Arc::new(Mutex::new(Vec::new()));
        for ms in [50u64, 10, 30, 20, 40] {
            let order = order.clone();
            scheduler.spawn_with_deadline(Duration::from_millis(ms), move || {
                order.lock().unwrap().push(ms)
            });
        }
        let order_for_last = order.clone();
        scheduler.spawn(move || order_for_last.lock().unwrap().push(0));
        release.send(()).unwrap();
        scheduler.wait_idle();
        // Deadlines in order; the task without one after all of them.
        assert_eq!(*order.lock().unwrap(), [10, 20, 30, 40, 50, 0]);
    }

    #[test]
    fn a_panicking_task_does_not_take_its_worker_down() {
        let scheduler = Scheduler::new(1);
        let done = Arc::new(AtomicBool::new(false));
        scheduler.spawn(|| panic!("task failure (expected by the test)"));
        let flag = done.clone();
        scheduler.spawn(move || flag.store(true, Ordering::Release));
        scheduler.wait_idle();
        assert!(done.load(Ordering::Acquire));
    }
}
