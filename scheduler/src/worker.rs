//! Worker threads that run tasks on their own stacks.
//!
//! Workers take tasks from one run queue, which picks by group and policy
//! ([`crate::queue`]). A task runs on a pooled stack and may give up the
//! worker (see [`crate::task`]): when it yields it is queued again behind
//! the waiting tasks of its group (FIFO round robin); when it sleeps its
//! worker's timers wake it, and when it waits for IO the scheduler's IO
//! loop does, while the workers run other tasks. A ticker thread charges
//! running tasks' CPU time to their groups, preempts tasks that the queue
//! would replace by a waiting one, and fires timeouts.
//!
//! Idle costs nothing: with no task running, the ticker sleeps until the
//! next timeout (or for good) and the first slice to start wakes it; an
//! idle worker sleeps until its next timer, and new work wakes it. An edge
//! box is mostly idle, and a thread that wakes every millisecond to find
//! nothing to do keeps a core out of its deep sleep states.

use crate::context::{switch, Context};
use crate::group::{Group, DEFAULT_WEIGHT};
use crate::hooks;
use crate::io::IoHandle;
use crate::lifecycle::{States, TaskState as State};
use crate::parked::Parked;
use crate::queue::{Policy, RunQueue, Running};
use crate::sleepers::{Pending, Sleepers};
use crate::stack::{Stack, StackPool};
use crate::task::{
    set_current, task_entry, Current, Task, TaskHandle, TaskOptions, Timeout, Wait, Wake,
};
use crate::waker::{Mailbox, Parking};

use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};
use std::collections::BTreeMap;
use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Stack size of a task.
pub const TASK_STACK_SIZE: usize = 256 << 10;

/// How long a task may run while others wait before it is preempted.
pub const DEFAULT_QUANTUM: Duration = Duration::from_millis(5);

/// What the ticker knows about one worker.
struct WorkerSlot {
    /// The worker's `pthread_t`, once it has started (0 before).
    thread: AtomicU64,
    /// When the running task was last switched to, in nanoseconds since the
    /// scheduler's epoch; 0 while the worker runs no task.
    running_since: AtomicU64,
    /// Until when the running task's CPU time has been charged to its
    /// group, in the same unit; 0 while the worker runs no task.
    charged_until: AtomicU64,
    /// When the running task times out, in the same unit; `u64::MAX` for
    /// no timeout.
    running_timeout: AtomicU64,
    /// The running task's group and deadline.
    running: Mutex<Option<Running>>,
}

impl WorkerSlot {
    /// Charges the running task's group for its CPU time up to `now`
    /// (nanoseconds since the epoch), from the ticker while it runs and
    /// from its worker when its slice ends; whichever comes second charges
    /// only what the first did not.
    fn charge(&self, group: &Group, now: u64, at: Instant) {
        let mut since = self.charged_until.load(Ordering::Acquire);
        while since != 0 && since < now {
            match self.charged_until.compare_exchange(
                since,
                now,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    group.charge(Duration::from_nanos(now - since), at);
                    return;
                }
                Err(current) => since = current,
            }
        }
    }
}

pub(crate) struct Shared {
    queue: RunQueue,
    /// When a task that overran it is preempted for a waiting one; `None`
    /// preempts only on timeouts.
    quantum: Option<Duration>,
    /// The group of tasks spawned without one.
    default_group: Arc<Group>,
    stacks: StackPool,
    /// Tasks spawned and not yet finished.
    pending: Pending,
    shutdown: AtomicBool,
    sleepers: Arc<Sleepers>,
    /// Each worker's sleeping tasks to wake early.
    mailboxes: Vec<Arc<Mailbox>>,
    /// Where the ticker sleeps while no task runs.
    ticker_bell: Sleepers,
    /// Times the ticker ticked or an idle worker woke up.
    wakeups: AtomicU64,
    /// Tasks each worker finished, for tests and metrics.
    completed: Vec<AtomicUsize>,
    slots: Vec<WorkerSlot>,
    epoch: Instant,
    /// Timeouts of unfinished tasks, by when they fire.
    timeouts: Mutex<BTreeMap<(Instant, u64), Arc<Timeout>>>,
    next_timeout_id: AtomicU64,
    pub(crate) io: IoHandle,
    /// The CPUs the scheduler's creator could run on, for threads started
    /// later by a pinned worker.
    cpus: Option<CpuSet>,
}

impl Shared {
    fn nanos_at(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_nanos() as u64 + 1
    }

    /// Queues a blocked task again, `why` telling why it woke (see
    /// [`Task::wake`]).
    pub(crate) fn requeue_woken(&self, task: Box<Task>, why: Wake, now: Instant) {
        self.queue_woken(task, why, now);
        self.sleepers.wake_one();
    }

    /// [`Shared::requeue_woken`] without waking an idle worker for it.
    fn queue_woken(&self, mut task: Box<Task>, why: Wake, now: Instant) {
        task.wake(why, now);
        self.queue.push_woken(task, now);
    }

    /// Fires the timeouts that are due.
    fn fire_timeouts(&self, now: Instant) {
        let due: Vec<_> = {
            let mut timeouts = self.timeouts.lock().unwrap();
            let later = timeouts.split_off(&(now, u64::MAX));
            std::mem::replace(&mut *timeouts, later)
                .into_values()
                .collect()
        };
        for timeout in due {
            timeout.fire();
        }
    }

    /// Whether some worker is running a task.
    fn any_running(&self) -> bool {
        self.slots
            .iter()
            .any(|s| s.running_since.load(Ordering::Acquire) != 0)
    }

    /// When the earliest timeout of an unfinished task passes.
    fn next_timeout(&self) -> Option<Instant> {
        let timeouts = self.timeouts.lock().unwrap();
        timeouts.first_key_value().map(|((at, _), _)| *at)
    }

    /// Forgets the timeout of a finished task.
    fn drop_timeout(&self, task: &Task) {
        if let Some(t) = &task.timeout {
            self.timeouts.lock().unwrap().remove(&(t.at, t.id));
        }
    }
}

impl Shared {
    fn new(
        workers: usize,
        stack_size: usize,
        quantum: Option<Duration>,
        policy: Policy,
    ) -> Arc<Shared> {
        let io = IoHandle::new().expect("cannot create the scheduler's IO poller");
        let sleepers = Arc::new(Sleepers::default());
        Arc::new(Shared {
            queue: RunQueue::new(policy, quantum.unwrap_or(DEFAULT_QUANTUM)),
            default_group: Group::new("default", DEFAULT_WEIGHT, None),
            quantum,
            stacks: StackPool::new(stack_size, 4096),
            pending: Pending::default(),
            shutdown: AtomicBool::new(false),
            sleepers: sleepers.clone(),
            mailboxes: (0..workers)
                .map(|_| Mailbox::new(sleepers.clone()))
                .collect(),
            ticker_bell: Sleepers::default(),
            wakeups: AtomicU64::new(0),
            completed: (0..workers).map(|_| AtomicUsize::new(0)).collect(),
            slots: (0..workers)
                .map(|_| WorkerSlot {
                    thread: AtomicU64::new(0),
                    running_since: AtomicU64::new(0),
                    charged_until: AtomicU64::new(0),
                    running_timeout: AtomicU64::new(u64::MAX),
                    running: Mutex::new(None),
                })
                .collect(),
            epoch: Instant::now(),
            timeouts: Mutex::default(),
            next_timeout_id: AtomicU64::new(0),
            io,
            cpus: sched_getaffinity(None).ok(),
        })
    }

    /// Queues `body` with `options` (see [`Scheduler::spawn_with`]).
    fn spawn_with(&self, options: TaskOptions, body: impl FnOnce() + Send + 'static) -> TaskHandle {
        let now = Instant::now();
        let parking = Arc::new(Parking::default());
        let timeout = options.timeout.map(|limit| {
            let id = self.next_timeout_id.fetch_add(1, Ordering::Relaxed);
            let timeout = Timeout::new(now + limit, id, parking.clone());
            let key = (timeout.at, id);
            self.timeouts.lock().unwrap().insert(key, timeout.clone());
            timeout
        });
        let deadline = options.relative_deadline.map(|d| now + d);
        let group = options.group.unwrap_or_else(|| self.default_group.clone());
        let handle = TaskHandle::new(timeout.clone());
        let task = Task::new(
            Box::new(body),
            deadline,
            timeout,
            parking,
            options.counts,
            group,
        );
        self.pending.add();
        self.queue.push_new(task, now);
        self.sleepers.wake_one();
        // With every worker busy, a task that should replace a running one
        // (of a group that was idle, say) need not wait for the next tick.
        if self
            .slots
            .iter()
            .all(|s| s.running_since.load(Ordering::Acquire) != 0)
        {
            preempt_workers(self, false);
        }
        handle
    }
}

/// Starts a thread of the scheduler's.
fn start_thread(name: String, body: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(name)
        .spawn(body)
        .expect("cannot start a scheduler thread")
}

/// The IO loop's thread, started by the first task that waits for a
/// descriptor (see [`crate::io`]). It is started by a worker, pinned to
/// one CPU, so it takes back the CPUs the scheduler was created with
/// rather than compete with that worker for its core.
fn start_io_loop(shared: Arc<Shared>, poll: mio::Poll) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("luge-io".into())
        .spawn(move || {
            if let Some(cpus) = &shared.cpus {
                let _ = sched_setaffinity(None, cpus);
            }
            let requeue = |task, ready: bool, now| {
                let why = if ready { Wake::Ready } else { Wake::Deadline };
                shared.requeue_woken(task, why, now)
            };
            crate::io::run(poll, &shared.io, requeue)
        })
}

/// The ticker's thread (see [`ticker`]) and what stops it.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Ticker {
    fn start(shared: &Arc<Shared>) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let (ticker_shared, ticker_stop) = (shared.clone(), stop.clone());
        let thread = start_thread("luge-ticker".into(), move || {
            ticker(&ticker_shared, &ticker_stop)
        });
        Ticker { stop, thread }
    }

    /// Stops the ticker and waits for it; before the workers stop, so that
    /// it never signals a worker thread that has exited.
    fn stop(self, shared: &Shared) {
        self.stop.store(true, Ordering::Release);
        shared.ticker_bell.wake_all();
        // It may be parked for the rest of a tick.
        self.thread.thread().unpark();
        let _ = self.thread.join();
    }
}

/// A pool of worker threads.
pub struct Scheduler {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    /// Stopped before the workers (the IO loop with it).
    ticker: Option<Ticker>,
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
    /// stacks and are picked by `policy`; with a `quantum`, the ticker
    /// preempts a task when the policy prefers a waiting one (FIFO: after
    /// the task ran a quantum; EDF: at once for an earlier deadline, after a
    /// quantum for an equal one).
    ///
    /// Panics when the threads or the IO poller cannot be created.
    pub fn with_config(
        workers: usize,
        stack_size: usize,
        quantum: Option<Duration>,
        policy: Policy,
    ) -> Scheduler {
        let workers = workers.max(1);
        let shared = Shared::new(workers, stack_size, quantum, policy);
        let threads = (0..workers)
            .map(|index| {
                let worker_shared = shared.clone();
                let thread = start_thread(format!("luge-worker-{index}"), move || {
                    pin_to_cpu(index);
                    worker_loop(index, &worker_shared, Until::Shutdown)
                });
                shared.slots[index]
                    .thread
                    .store(thread.as_pthread_t(), Ordering::Release);
                thread
            })
            .collect();
        let ticker = Some(Ticker::start(&shared));
        Scheduler {
            shared,
            threads,
            ticker,
        }
    }

    /// Runs `body` as the only task, with `options`, on a `stack_size`-byte
    /// stack, and returns when it has ended. The calling thread is its
    /// worker, so a process that runs one sandbox and exits (`luge run`)
    /// starts no worker thread; the ticker starts only for a timeout (no
    /// other task can be waiting for a quantum to end), and the IO loop
    /// only if the task waits for a descriptor. Starting and joining the
    /// three threads took a sixth of `luge run hello`.
    ///
    /// Panics when the IO poller cannot be created.
    pub fn run_alone(
        stack_size: usize,
        options: TaskOptions,
        body: impl FnOnce() + Send + 'static,
    ) {
        let shared = Shared::new(1, stack_size, None, Policy::Fifo);
        // SAFETY: pthread_self has no preconditions.
        let this_thread = unsafe { libc::pthread_self() };
        shared.slots[0]
            .thread
            .store(this_thread as u64, Ordering::Release);
        let ticker = options.timeout.is_some().then(|| Ticker::start(&shared));
        shared.spawn_with(options, body);
        worker_loop(0, &shared, Until::NoTaskLeft);
        if let Some(ticker) = ticker {
            ticker.stop(&shared);
        }
        shared.io.stop();
    }

    /// Queues `body` to run on some worker.
    pub fn spawn(&self, body: impl FnOnce() + Send + 'static) {
        self.spawn_with(TaskOptions::default(), body);
    }

    /// Queues `body` to run on some worker with a deadline and a timeout
    /// (see [`TaskOptions`]), both counted from now, in its group.
    pub fn spawn_with(
        &self,
        options: TaskOptions,
        body: impl FnOnce() + Send + 'static,
    ) -> TaskHandle {
        self.shared.spawn_with(options, body)
    }

    /// Waits until every spawned task has finished.
    pub fn wait_idle(&self) {
        self.shared.pending.wait_zero();
    }

    /// Tasks finished by each worker so far.
    pub fn completed_per_worker(&self) -> Vec<usize> {
        self.shared
            .completed
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }

    /// Times the ticker ticked or an idle worker woke up, since the start:
    /// while no task runs and no timer or timeout is due, this stays put.
    pub fn wakeups(&self) -> u64 {
        self.shared.wakeups.load(Ordering::Relaxed)
    }

    /// Task stacks kept for reuse: every finished task's stack comes back
    /// here (up to the pool's capacity).
    pub fn free_stacks(&self) -> usize {
        self.shared.stacks.free_count()
    }

    /// Task stacks not returned to the pool: those of unfinished tasks.
    pub fn stacks_in_use(&self) -> usize {
        self.shared.stacks.in_use()
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.stop(&self.shared);
        }
        self.shared.io.stop();
        self.shared.shutdown.store(true, Ordering::Release);
        self.shared.sleepers.wake_all();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// How often the ticker looks when no quantum is set (timeouts only).
const TIMEOUT_TICK: Duration = Duration::from_millis(1);

/// While a task runs, every quarter quantum: fires due timeouts, charges
/// running tasks' groups and signals the workers whose task timed out or
/// the queue would replace by a waiting one (see
/// [`RunQueue::should_preempt`]). While none runs, it sleeps until the
/// earliest timeout or until a worker starts a slice ([`run_tracked`]
/// rings `ticker_bell`).
fn ticker(shared: &Shared, stop: &AtomicBool) {
    let tick = shared.quantum.map_or(TIMEOUT_TICK, |q| q / 4);
    while !stop.load(Ordering::Acquire) {
        let now = Instant::now();
        shared.fire_timeouts(now);
        preempt_workers(shared, true);
        if shared.any_running() {
            // Not the bell: ringing one the ticker waits on would cost
            // every slice start a system call on a busy server. A park,
            // which only the scheduler's drop unparks, so that a dropped
            // scheduler (the end of every `luge run`) need not wait out
            // the tick.
            std::thread::park_timeout(tick);
        } else {
            let until_timeout = shared
                .next_timeout()
                .map(|at| at.saturating_duration_since(now));
            shared.ticker_bell.sleep(until_timeout, || {
                stop.load(Ordering::Acquire) || shared.any_running()
            });
        }
        shared.wakeups.fetch_add(1, Ordering::Relaxed);
    }
}

/// Signals the workers whose task timed out or the queue would replace by
/// a waiting one, after charging running tasks' groups when `charge`.
fn preempt_workers(shared: &Shared, charge: bool) {
    let at = Instant::now();
    let now = shared.nanos_at(at);
    for slot in &shared.slots {
        let since = slot.running_since.load(Ordering::Acquire);
        let thread = slot.thread.load(Ordering::Acquire);
        if since == 0 || thread == 0 {
            continue;
        }
        let running = slot.running.lock().unwrap();
        let Some(running) = running.as_ref() else {
            continue;
        };
        if charge {
            slot.charge(&running.group, now, at);
        }
        let timed_out = now >= slot.running_timeout.load(Ordering::Acquire)
            || running.timeout.as_ref().is_some_and(|t| t.fired());
        let preempt = shared.quantum.is_some_and(|quantum| {
            let overran = now.saturating_sub(since) >= quantum.as_nanos() as u64;
            shared.queue.should_preempt(running, overran, at)
        });
        if timed_out || preempt {
            // Workers exit only when the scheduler is dropped, after the
            // ticker has been joined (and nothing spawns once it is
            // dropped), so `thread` is alive.
            if let Some(hooks) = hooks::get() {
                hooks.preempt(thread);
            }
        }
    }
}

/// Pins the calling thread to the `index`-th CPU it may run on (modulo
/// their number), so that a worker keeps its core's caches and the kernel
/// does not move two workers onto one core. Best effort: where affinity
/// cannot be set (a restricted container), the worker runs unpinned.
fn pin_to_cpu(index: usize) {
    let Ok(allowed) = sched_getaffinity(None) else {
        return;
    };
    let cpus: Vec<usize> = (0..CpuSet::MAX_CPU)
        .filter(|&cpu| allowed.is_set(cpu))
        .collect();
    let Some(&cpu) = cpus.get(index % cpus.len().max(1)) else {
        return;
    };
    let mut one = CpuSet::new();
    one.set(cpu);
    let _ = sched_setaffinity(None, &one);
}

/// When a worker's loop returns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Until {
    /// When the scheduler is dropped.
    Shutdown,
    /// When every task spawned has ended ([`Scheduler::run_alone`]).
    NoTaskLeft,
}

fn worker_loop(index: usize, shared: &Arc<Shared>, until: Until) {
    let mut worker_context = Context::default();
    let mut sleeping = Parked::default();
    let mailbox = &shared.mailboxes[index];
    let done = || match until {
        Until::Shutdown => shared.shutdown.load(Ordering::Acquire),
        Until::NoTaskLeft => shared.pending.is_zero(),
    };
    while !done() {
        let now = Instant::now();
        let mut woken: Vec<_> = (mailbox.take().into_iter())
            .filter_map(|id| sleeping.take(id))
            .map(|task| (task, Wake::Woken))
            .collect();
        woken.extend(
            sleeping
                .due(now)
                .into_iter()
                .map(|(_, t)| (t, Wake::Deadline)),
        );
        for (n, (task, why)) in woken.into_iter().enumerate() {
            // This worker takes the first; idle ones may take the rest.
            if n == 0 {
                shared.queue_woken(task, why, now);
            } else {
                shared.requeue_woken(task, why, now);
            }
        }
        let Some(mut task) = shared.queue.pop(now) else {
            let wait = sleeping
                .next_wake()
                .map(|at| at.saturating_duration_since(now));
            let slept = shared.sleepers.sleep(wait, || {
                shared.queue.has_work()
                    || !mailbox.is_empty()
                    || shared.shutdown.load(Ordering::Acquire)
            });
            if slept {
                shared.wakeups.fetch_add(1, Ordering::Relaxed);
            }
            continue;
        };
        let state = run_tracked(&mut task, &mut worker_context, &shared.slots[index], shared);
        if matches!(state, State::Finished | State::Panicked | State::Blocked) {
            shared.queue.stopped(&task);
        }
        match state {
            State::Finished | State::Panicked => {
                shared.drop_timeout(&task);
                shared.completed[index].fetch_add(1, Ordering::Relaxed);
                shared.pending.finish();
            }
            State::Blocked => match task.wait {
                Wait::Timer => {
                    let parking = task.parking.clone();
                    let id = sleeping.park(task);
                    // Woken while it was on its way here: back it goes.
                    if !parking.parked(mailbox, id) {
                        let task = sleeping.take(id).expect("parked just now");
                        shared.queue_woken(task, Wake::Woken, Instant::now());
                    }
                }
                Wait::Readable(_) => shared
                    .io
                    .hand_over(task, |poll| start_io_loop(shared.clone(), poll)),
            },
            // Behind the waiting tasks of its group.
            _ => shared.queue.push_preempted(task, Instant::now()),
        }
    }
}

/// Runs one slice of `task` with the ticker watching through `slot`, and
/// charges its CPU time to the task and its group.
fn run_tracked(
    task: &mut Box<Task>,
    worker_context: &mut Context,
    slot: &WorkerSlot,
    shared: &Shared,
) -> State {
    let timeout = task
        .timeout
        .as_ref()
        .map_or(u64::MAX, |t| shared.nanos_at(t.at));
    slot.running_timeout.store(timeout, Ordering::Release);
    *slot.running.lock().unwrap() = Some(Running {
        group: task.group.clone(),
        deadline: task.deadline,
        timeout: task.timeout.clone(),
    });
    let start = Instant::now();
    let start_nanos = shared.nanos_at(start);
    slot.charged_until.store(start_nanos, Ordering::Release);
    slot.running_since.store(start_nanos, Ordering::Release);
    shared.ticker_bell.wake_one();
    let state = run_slice(task, worker_context, start, shared);
    slot.running_since.store(0, Ordering::Release);
    let end = Instant::now();
    slot.charge(&task.group, shared.nanos_at(end), end);
    slot.charged_until.store(0, Ordering::Release);
    *slot.running.lock().unwrap() = None;
    task.cpu += end.saturating_duration_since(start);
    state
}

/// Runs `task` until it yields, blocks or ends; returns the state it is in
/// then (`Runnable`, `Blocked`, `Finished` or `Panicked`).
fn run_slice(
    task: &mut Box<Task>,
    worker_context: &mut Context,
    slice_start: Instant,
    shared: &Shared,
) -> State {
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
        slice_start,
    };
    set_current(Some(&current));
    // SAFETY: the task's context is fresh or saved by its own last switch,
    // on a stack it owns.
    unsafe { switch(worker_context, &task.context) };
    set_current(None);
    match task.lifecycle.state() {
        State::Preempted => {
            task.lifecycle
                .transition(State::Runnable)
                .expect("a preempted task can be queued");
        }
        State::Blocked => {}
        State::Finished | State::Panicked => {
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
    use crate::task::{
        current_waker, on_timeout, sleep_until, task_stack_bottom, timed_out, wait_readable,
        yield_now,
    };
    use std::os::fd::{AsFd, OwnedFd};

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
        // Held until both tasks are queued: otherwise `a` may finish all
        // its steps before `b` is spawned (seen under qemu-user).
        let both_spawned = log.lock().unwrap();
        for name in ["a", "b"] {
            let log = log.clone();
            scheduler.spawn(move || {
                for step in 0..3 {
                    log.lock().unwrap().push(format!("{name}{step}"));
                    yield_now();
                }
            });
        }
        drop(both_spawned);
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
            let options = TaskOptions {
                relative_deadline: Some(Duration::from_millis(ms)),
                ..TaskOptions::default()
            };
            scheduler.spawn_with(options, move || order.lock().unwrap().push(ms));
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

    /// A pipe: the read end, shared with the tasks that wait on it, and
    /// the write end.
    fn pipe() -> (Arc<OwnedFd>, OwnedFd) {
        let (reader, writer) = rustix::pipe::pipe().unwrap();
        (Arc::new(reader), writer)
    }

    fn write_byte(writer: &OwnedFd) {
        assert_eq!(rustix::io::write(writer, b"x"), Ok(1));
    }

    #[test]
    fn a_task_waiting_for_io_does_not_hold_its_worker() {
        let scheduler = Scheduler::new(1);
        let (reader, writer) = pipe();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = tx.clone();
        let fd = reader.clone();
        scheduler.spawn(move || {
            waiter
                .send(("waiter", wait_readable(fd.as_fd(), None)))
                .unwrap()
        });
        // The only worker is free for this one while the first waits.
        scheduler.spawn(move || tx.send(("other", Wake::Ready)).unwrap());
        assert_eq!(rx.recv().unwrap().0, "other");
        assert!(rx.try_recv().is_err(), "woken before the pipe had data");
        write_byte(&writer);
        assert_eq!(rx.recv().unwrap(), ("waiter", Wake::Ready));
        scheduler.wait_idle();
        drop(reader);
    }

    #[test]
    fn many_tasks_wait_on_one_descriptor_and_deadlines_still_apply() {
        let scheduler = Scheduler::new(2);
        let (reader, writer) = pipe();
        let woke = Arc::new(Mutex::new(Vec::new()));
        for i in 0..20 {
            let woke = woke.clone();
            let fd = reader.clone();
            // Every fourth waiter gives up after 20 ms.
            let deadline = (i % 4 == 0).then(|| Instant::now() + Duration::from_millis(20));
            scheduler.spawn(move || {
                let wake = wait_readable(fd.as_fd(), deadline);
                woke.lock().unwrap().push(wake);
            });
        }
        std::thread::sleep(Duration::from_millis(100));
        let gave_up = woke.lock().unwrap().clone();
        assert_eq!(gave_up, vec![Wake::Deadline; 5]);
        write_byte(&writer);
        scheduler.wait_idle();
        let all = woke.lock().unwrap();
        assert_eq!(all.iter().filter(|w| **w == Wake::Ready).count(), 15);
        drop(reader);
    }

    #[test]
    fn a_regular_file_is_always_readable() {
        let scheduler = Scheduler::new(1);
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        scheduler.spawn(move || tx.send(wait_readable(file.as_fd(), None)).unwrap());
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(Wake::Ready));
        scheduler.wait_idle();
    }

    #[test]
    fn a_timeout_runs_its_action_for_a_running_task() {
        let scheduler = Scheduler::with_config(1, TASK_STACK_SIZE, None, Policy::Fifo);
        let (tx, rx) = std::sync::mpsc::channel();
        let options = with_timeout(Duration::from_millis(30));
        // A timeout counts from the spawn, not from when a busy machine
        // first runs the task.
        let spawned = Instant::now();
        scheduler.spawn_with(options, move || {
            let stop = Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            assert!(on_timeout(move || flag.store(true, Ordering::Release)));
            // Stands for guest code: spins until interrupted.
            while !stop.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
            tx.send((spawned.elapsed(), timed_out())).unwrap();
        });
        let (ran, timed_out) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(timed_out);
        assert!(
            ran >= Duration::from_millis(25),
            "stopped {ran:?} after the spawn"
        );
        scheduler.wait_idle();
    }

    #[test]
    fn a_timeout_wakes_a_sleeping_or_waiting_task() {
        let scheduler = Scheduler::new(1);
        let (reader, _writer) = pipe();
        let (tx, rx) = std::sync::mpsc::channel();
        let options = with_timeout(Duration::from_millis(30));
        let sleeper = tx.clone();
        scheduler.spawn_with(options.clone(), move || {
            let start = Instant::now();
            let wake = sleep_until(start + Duration::from_secs(60));
            sleeper.send(("sleep", wake, start.elapsed())).unwrap();
        });
        scheduler.spawn_with(options, move || {
            let start = Instant::now();
            let wake = wait_readable(reader.as_fd(), None);
            // Blocking again after the timeout returns at once.
            assert_eq!(
                sleep_until(Instant::now() + Duration::from_secs(60)),
                Wake::TimedOut
            );
            tx.send(("read", wake, start.elapsed())).unwrap();
        });
        for _ in 0..2 {
            let (what, wake, after) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
            assert_eq!(wake, Wake::TimedOut, "{what}");
            assert!(
                after < Duration::from_secs(2),
                "{what} woke after {after:?}"
            );
        }
        scheduler.wait_idle();
        assert_eq!(scheduler.stacks_in_use(), 0, "both stacks back in the pool");
        assert!(scheduler.free_stacks() >= 1);
    }

    /// Waits until the scheduler's wake-up count stays put for `quiet`,
    /// up to `limit`; returns the count.
    /// Options of a task that times out after `limit`.
    fn with_timeout(limit: Duration) -> TaskOptions {
        TaskOptions {
            timeout: Some(limit),
            ..TaskOptions::default()
        }
    }

    /// Waits for the scheduler's wake-ups to settle, then checks that none
    /// come for `quiet` (`what` says what it is doing meanwhile).
    fn assert_no_wake_ups_for(scheduler: &Scheduler, quiet: Duration, what: &str) {
        let settled = settled_wakeups(
            scheduler,
            Duration::from_millis(300),
            Duration::from_secs(10),
        );
        std::thread::sleep(quiet);
        assert_eq!(scheduler.wakeups(), settled, "woke up while {what}");
    }

    fn settled_wakeups(scheduler: &Scheduler, quiet: Duration, limit: Duration) -> u64 {
        let start = Instant::now();
        let mut last = scheduler.wakeups();
        loop {
            std::thread::sleep(quiet);
            let now = scheduler.wakeups();
            assert!(
                now != last || start.elapsed() < limit,
                "still waking up after {limit:?} of idling: {now} wake-ups"
            );
            if now == last {
                return now;
            }
            last = now;
        }
    }

    #[test]
    fn sleeping_tasks_cost_no_wake_ups_until_their_time() {
        let scheduler = Scheduler::new(2);
        let options = with_timeout(Duration::from_secs(120));
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 0..50 {
            let tx = tx.clone();
            scheduler.spawn_with(options.clone(), move || {
                tx.send(()).unwrap();
                sleep_until(Instant::now() + Duration::from_secs(60));
            });
        }
        for _ in 0..50 {
            rx.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        // Looking whether they were stopped every second, as they once
        // did, would be 50 wake-ups a second.
        assert_no_wake_ups_for(&scheduler, Duration::from_millis(1500), "tasks slept");
    }

    #[test]
    fn a_waker_ends_a_sleep_at_once_and_a_stop_does_too() {
        let scheduler = Scheduler::new(1);
        let (tx, rx) = std::sync::mpsc::channel();
        let (waker_tx, waker_rx) = std::sync::mpsc::channel();
        let sleeper = tx.clone();
        scheduler.spawn(move || {
            waker_tx.send(current_waker().expect("in a task")).unwrap();
            let start = Instant::now();
            let wake = sleep_until(start + Duration::from_secs(60));
            sleeper.send((wake, start.elapsed())).unwrap();
        });
        let waker = waker_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        // Let it fall asleep (a wake before that is tested below).
        std::thread::sleep(Duration::from_millis(50));
        waker.wake();
        let options = with_timeout(Duration::from_secs(120));
        let handle = scheduler.spawn_with(options, move || {
            let start = Instant::now();
            let wake = sleep_until(start + Duration::from_secs(60));
            tx.send((wake, start.elapsed())).unwrap();
        });
        let (woken, slept) = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        assert_eq!(woken, Wake::Woken);
        std::thread::sleep(Duration::from_millis(50));
        handle.stop();
        let (stopped, stopped_after) = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        assert_eq!(stopped, Wake::TimedOut);
        // Both well before the sleep's 60 s, and before the 1 s at which
        // a stopped sleeper once looked.
        for took in [slept, stopped_after] {
            assert!(took < Duration::from_millis(900), "slept {took:?}");
        }
    }

    #[test]
    fn a_wake_before_the_sleep_ends_the_sleep_at_once() {
        let scheduler = Scheduler::new(1);
        let (tx, rx) = std::sync::mpsc::channel();
        scheduler.spawn(move || {
            current_waker().expect("in a task").wake();
            let first = sleep_until(Instant::now() + Duration::from_secs(60));
            // Used up: the next sleep lasts.
            let second = sleep_until(Instant::now() + Duration::from_millis(20));
            tx.send((first, second)).unwrap();
        });
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(30)).unwrap(),
            (Wake::Woken, Wake::Deadline)
        );
        assert!(current_waker().is_none(), "not in a task here");
    }

    #[test]
    fn an_idle_scheduler_does_not_wake_up() {
        let scheduler = Scheduler::new(2);
        let timed = with_timeout(Duration::from_millis(200));
        // Work of every kind, then none: a task with a timeout that sleeps
        // past it, one that sleeps a little, one that only runs.
        scheduler.spawn_with(timed, || {
            sleep_until(Instant::now() + Duration::from_secs(60));
        });
        scheduler.spawn(|| {
            sleep_until(Instant::now() + Duration::from_millis(20));
        });
        scheduler.spawn(|| {});
        scheduler.wait_idle();
        // Ticking every quarter quantum, as it once did, would be 400.
        assert_no_wake_ups_for(&scheduler, Duration::from_millis(500), "idle");
        // And the first task after the quiet still gets a timeout on time.
        let (tx, rx) = std::sync::mpsc::channel();
        let options = with_timeout(Duration::from_millis(30));
        scheduler.spawn_with(options, move || {
            let stop = Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            on_timeout(move || flag.store(true, Ordering::Release));
            while !stop.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
            tx.send(timed_out()).unwrap();
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(true));
        scheduler.wait_idle();
    }

    #[test]
    fn dropping_the_scheduler_does_not_wait_out_a_tick() {
        // An 8 s quantum: while a task runs, the ticker rests 2 s per tick.
        let quantum = Duration::from_secs(8);
        let scheduler = Scheduler::with_config(1, TASK_STACK_SIZE, Some(quantum), Policy::Fifo);
        scheduler.spawn(|| {
            // Long enough for the ticker to wake, see it run and rest.
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(200) {
                std::hint::spin_loop();
            }
        });
        scheduler.wait_idle();
        let dropping = Instant::now();
        drop(scheduler);
        // A ticker that slept out its tick would hold the drop for ~1.8 s.
        let took = dropping.elapsed();
        assert!(took < Duration::from_secs(1), "the drop took {took:?}");
    }

    #[test]
    fn an_action_set_after_the_timeout_runs_at_once() {
        let scheduler = Scheduler::new(1);
        let options = with_timeout(Duration::from_millis(1));
        let (tx, rx) = std::sync::mpsc::channel();
        scheduler.spawn_with(options, move || {
            std::thread::sleep(Duration::from_millis(50));
            let ran = Arc::new(AtomicBool::new(false));
            let flag = ran.clone();
            on_timeout(move || flag.store(true, Ordering::Release));
            tx.send(ran.load(Ordering::Acquire)).unwrap();
        });
        assert!(rx.recv().unwrap());
        scheduler.wait_idle();
        assert!(!on_timeout(|| ()), "no task here, so no timeout");
    }

    #[test]
    fn workers_are_pinned_to_distinct_cpus() {
        let allowed = sched_getaffinity(None).unwrap();
        let usable = (0..CpuSet::MAX_CPU).filter(|&c| allowed.is_set(c)).count();
        let scheduler = Scheduler::new(2);
        // Each task holds its worker's thread at the barrier until the
        // other has started, so the two run on the two workers at once.
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 0..2 {
            let (barrier, tx) = (barrier.clone(), tx.clone());
            scheduler.spawn(move || {
                barrier.wait();
                let mine = sched_getaffinity(None).unwrap();
                let cpus: Vec<usize> = (0..CpuSet::MAX_CPU).filter(|&c| mine.is_set(c)).collect();
                let name = std::thread::current().name().map(str::to_owned);
                tx.send((name, cpus)).unwrap();
            });
        }
        let a = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        let b = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        scheduler.wait_idle();
        assert_ne!(a.0, b.0, "both tasks ran on one worker");
        assert_eq!(a.1.len(), 1, "{a:?} is not pinned to one CPU");
        assert_eq!(b.1.len(), 1, "{b:?} is not pinned to one CPU");
        if usable >= 2 {
            assert_ne!(a.1, b.1, "two workers share a CPU");
        }
    }
}
