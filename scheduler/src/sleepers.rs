//! Where idle workers (and the idle ticker) sleep, and how new work wakes
//! one.
//!
//! A condition variable alone costs a `futex` system call on every
//! `notify`, whether or not anyone waits; with one notify per spawned task
//! that is a system call per request on a busy server. So the number of
//! sleeping workers is counted, and work arriving while every worker is
//! awake wakes nobody.
//!
//! The count and the run queue form a Dekker pair: a worker announces that
//! it is about to sleep, then looks at the queue once more; a producer
//! pushes, then looks at the count. With sequentially consistent fences on
//! both sides, at least one of them sees the other, so a task is never left
//! queued while every worker sleeps.

use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

#[derive(Default)]
pub(crate) struct Sleepers {
    lock: Mutex<()>,
    wake: Condvar,
    /// Workers between announcing sleep and waking up.
    sleeping: AtomicUsize,
}

impl Sleepers {
    /// Wakes one sleeping worker, if any sleeps. Call after making work
    /// visible (pushing a task).
    pub fn wake_one(&self) {
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) > 0 {
            // A worker holds the lock from its last look at the queue until
            // it waits: taking the lock once orders this wake-up after that
            // wait. Notifying after the unlock keeps the woken worker from
            // blocking on the lock at once.
            drop(self.lock.lock().unwrap());
            self.wake.notify_one();
        }
    }

    /// Wakes every sleeping worker (at shutdown).
    pub fn wake_all(&self) {
        let _guard = self.lock.lock().unwrap();
        self.wake.notify_all();
    }

    /// Sleeps for up to `timeout` (`None`: until woken) or until woken,
    /// unless `has_work` says, after this worker has announced itself,
    /// that there is work after all. Returns whether it slept.
    pub fn sleep(&self, timeout: Option<Duration>, has_work: impl FnOnce() -> bool) -> bool {
        let guard = self.lock.lock().unwrap();
        self.sleeping.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let slept = !has_work();
        if slept {
            match timeout {
                Some(timeout) => drop(self.wake.wait_timeout(guard, timeout).unwrap()),
                None => drop(self.wake.wait(guard).unwrap()),
            }
        }
        self.sleeping.fetch_sub(1, Ordering::Relaxed);
        slept
    }
}

/// Lets threads wait until a count of unfinished tasks drops to zero,
/// without a system call on each drop to zero when nobody waits.
#[derive(Default)]
pub(crate) struct Pending {
    count: AtomicUsize,
    lock: Mutex<()>,
    done: Condvar,
    waiters: AtomicUsize,
}

impl Pending {
    pub fn add(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
    }

    /// Counts one task as finished, waking the waiters if it was the last.
    pub fn finish(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::Relaxed) > 0 {
            // As in `Sleepers::wake_one`: ordered after a waiter's wait.
            drop(self.lock.lock().unwrap());
            self.done.notify_all();
        }
    }

    /// Whether every task has finished.
    pub fn is_zero(&self) -> bool {
        self.count.load(Ordering::Acquire) == 0
    }

    /// Waits until no task is unfinished.
    pub fn wait_zero(&self) {
        let mut guard = self.lock.lock().unwrap();
        self.waiters.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        while self.count.load(Ordering::Acquire) != 0 {
            guard = self.done.wait(guard).unwrap();
        }
        self.waiters.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn a_sleeper_with_work_does_not_sleep() {
        let sleepers = Sleepers::default();
        let start = Instant::now();
        assert!(!sleepers.sleep(None, || true));
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(sleepers.sleeping.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn wake_one_wakes_a_sleeping_worker() {
        let sleepers = Arc::new(Sleepers::default());
        let work = Arc::new(AtomicBool::new(false));
        let worker = {
            let (sleepers, work) = (sleepers.clone(), work.clone());
            std::thread::spawn(move || {
                let start = Instant::now();
                while !work.load(Ordering::Acquire) {
                    sleepers.sleep(None, || work.load(Ordering::Acquire));
                }
                start.elapsed()
            })
        };
        while sleepers.sleeping.load(Ordering::Relaxed) == 0 {
            std::thread::yield_now();
        }
        work.store(true, Ordering::Release);
        sleepers.wake_one();
        // Without the wake-up the worker would sleep for ever.
        assert!(worker.join().unwrap() < Duration::from_secs(30));
    }

    #[test]
    fn waiters_see_the_count_reach_zero() {
        let pending = Arc::new(Pending::default());
        for _ in 0..3 {
            pending.add();
        }
        let waiter = {
            let pending = pending.clone();
            std::thread::spawn(move || pending.wait_zero())
        };
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(5));
            pending.finish();
        }
        waiter.join().unwrap();
        assert_eq!(pending.count.load(Ordering::Relaxed), 0);
    }
}
