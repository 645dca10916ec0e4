//! The IO loop: tasks waiting for a descriptor to become readable park
//! here, in one `mio` poller per scheduler, instead of holding a worker.
//!
//! A worker hands a task over after it has switched away from it (so a
//! wake-up can never race the task's own suspension); the loop registers
//! the descriptor, and when it is ready, or the task's wake-up time or
//! timeout passes, queues the task again. Several tasks may wait on one
//! descriptor: all of them wake when it is ready.
//!
//! The loop's thread starts with the first task handed over: most
//! programs `luge run` runs never wait for a descriptor, and a thread
//! started and joined for nothing is a measurable part of their run.

// Tasks stay boxed everywhere: a task's own stack holds its address.
#![allow(clippy::vec_box)]

use crate::parked::Parked;
use crate::task::{Task, Wait};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Instant;

/// The token of the loop's own waker; descriptors use their number.
const WAKER: Token = Token(usize::MAX);

/// The loop's thread: not started yet (holding the poller it will run),
/// running, or stopped (joined, or never to start).
enum Thread {
    NotStarted(Poll),
    Running(JoinHandle<()>),
    Stopped,
}

/// The part of the IO loop that workers talk to.
pub(crate) struct IoHandle {
    incoming: Mutex<Vec<Box<Task>>>,
    waker: Waker,
    stop: AtomicBool,
    thread: Mutex<Thread>,
}

impl IoHandle {
    /// Creates the poller and the handle that feeds it; the loop starts
    /// with the first [`IoHandle::hand_over`].
    pub fn new() -> std::io::Result<IoHandle> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        Ok(IoHandle {
            incoming: Mutex::new(Vec::new()),
            waker,
            stop: AtomicBool::new(false),
            thread: Mutex::new(Thread::NotStarted(poll)),
        })
    }

    /// Gives the loop a task blocked on [`Wait::Readable`]; the first time,
    /// has `start` run the loop ([`run`]) on the poller, on a new thread.
    ///
    /// Panics when that thread cannot be started (after releasing the
    /// handle's lock, so that the scheduler can still be dropped).
    pub fn hand_over(
        &self,
        task: Box<Task>,
        start: impl FnOnce(Poll) -> std::io::Result<JoinHandle<()>>,
    ) {
        self.incoming.lock().unwrap().push(task);
        let mut thread = self.thread.lock().unwrap();
        if matches!(*thread, Thread::NotStarted(_)) {
            let Thread::NotStarted(poll) = std::mem::replace(&mut *thread, Thread::Stopped) else {
                unreachable!("matched just now")
            };
            match start(poll) {
                Ok(started) => *thread = Thread::Running(started),
                Err(e) => {
                    drop(thread);
                    panic!("cannot start the scheduler's IO loop: {e}");
                }
            }
        }
        drop(thread);
        self.wake();
    }

    /// Makes the loop return and waits for it (the tasks still waiting are
    /// dropped with it).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake();
        let thread = std::mem::replace(&mut *self.thread.lock().unwrap(), Thread::Stopped);
        if let Thread::Running(thread) = thread {
            let _ = thread.join();
        }
    }

    fn wake(&self) {
        // A failed wake-up leaves the loop asleep until its next deadline;
        // there is nothing better to do with the error here.
        let _ = self.waker.wake();
    }
}

/// What the loop holds: parked tasks and which descriptors they wait on.
#[derive(Default)]
struct Waiting {
    parked: Parked,
    by_fd: HashMap<RawFd, Vec<u64>>,
    fd_of: HashMap<u64, RawFd>,
}

impl Waiting {
    /// Parks `task` and starts watching its descriptor. Returns the task
    /// when it should run at once: its descriptor cannot be watched
    /// (regular files are always readable) or watching failed (the read
    /// will then report the error).
    fn watch(&mut self, registry: &Registry, task: Box<Task>) -> Option<Box<Task>> {
        let Wait::Readable(fd) = task.wait else {
            unreachable!("only tasks waiting for a descriptor come to the IO loop")
        };
        if !self.by_fd.contains_key(&fd) {
            let registered =
                registry.register(&mut SourceFd(&fd), Token(fd as usize), Interest::READABLE);
            if registered.is_err() {
                return Some(task);
            }
        }
        let id = self.parked.park(task);
        self.by_fd.entry(fd).or_default().push(id);
        self.fd_of.insert(id, fd);
        None
    }

    /// Takes out every task waiting on `fd` and stops watching it.
    fn ready(&mut self, registry: &Registry, fd: RawFd) -> Vec<Box<Task>> {
        let _ = registry.deregister(&mut SourceFd(&fd));
        let ids = self.by_fd.remove(&fd).unwrap_or_default();
        ids.into_iter()
            .filter_map(|id| {
                self.fd_of.remove(&id);
                self.parked.take(id)
            })
            .collect()
    }

    /// Takes out the tasks whose wake-up time or timeout has passed.
    fn due(&mut self, registry: &Registry, now: Instant) -> Vec<Box<Task>> {
        let due = self.parked.due(now);
        for (id, _) in &due {
            let Some(fd) = self.fd_of.remove(id) else {
                continue;
            };
            let waiters = self.by_fd.get_mut(&fd).expect("a watched descriptor");
            waiters.retain(|w| w != id);
            if waiters.is_empty() {
                self.by_fd.remove(&fd);
                let _ = registry.deregister(&mut SourceFd(&fd));
            }
        }
        due.into_iter().map(|(_, task)| task).collect()
    }
}

/// The IO loop's thread body; returns when the scheduler stops it
/// through `io`. A task whose wait is over goes to `requeue`, with whether
/// what it waited for happened.
pub(crate) fn run(mut poll: Poll, io: &IoHandle, requeue: impl Fn(Box<Task>, bool, Instant)) {
    let mut events = Events::with_capacity(256);
    let mut waiting = Waiting::default();
    loop {
        let timeout =
            (waiting.parked.next_wake()).map(|at| at.saturating_duration_since(Instant::now()));
        if let Err(e) = poll.poll(&mut events, timeout) {
            assert!(
                e.kind() == std::io::ErrorKind::Interrupted,
                "the IO loop cannot poll: {e}"
            );
        }
        if io.stop.load(Ordering::Acquire) {
            return;
        }
        let registry = poll.registry();
        let now = Instant::now();
        for event in events.iter().filter(|e| e.token() != WAKER) {
            for task in waiting.ready(registry, event.token().0 as RawFd) {
                requeue(task, true, now);
            }
        }
        let incoming = std::mem::take(&mut *io.incoming.lock().unwrap());
        for task in incoming {
            if let Some(task) = waiting.watch(registry, task) {
                requeue(task, true, now);
            }
        }
        for task in waiting.due(registry, now) {
            requeue(task, false, now);
        }
    }
}
