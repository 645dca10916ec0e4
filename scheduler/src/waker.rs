//! Waking a task that sleeps on a timer before its time: for an embedder
//! that interrupts a sleeping guest ([`crate::task::Waker`]), and for a
//! task stopped while it sleeps (its timeout fired early).
//!
//! A sleeping task sits in its worker's own timer heap, out of other
//! threads' reach, so an early wake names it by its park id in that
//! worker's mailbox and rings the workers' bell. Without this, a sleeping
//! task would have to wake on its own every so often to look whether it
//! was interrupted: with a hundred thousand sleeping sandboxes, that is
//! millions of wake-ups a minute on a server with nothing to do.

use crate::sleepers::Sleepers;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Where a task stands, for whoever would wake it early. One per task,
/// shared with its [`crate::task::Waker`]s and its timeout.
#[derive(Default)]
pub(crate) struct Parking(Mutex<ParkState>);

#[derive(Default)]
enum ParkState {
    /// Running, queued, or waiting for IO: nothing to wake.
    #[default]
    Running,
    /// Woken before it slept: its next timer sleep ends at once.
    Requested,
    /// Asleep in the timer heap of the worker whose mailbox this is.
    Parked { mailbox: Arc<Mailbox>, id: u64 },
}

impl Parking {
    /// Wakes the task: at once if it sleeps on a timer, else its next
    /// timer sleep returns at once.
    pub fn wake(&self) {
        let mut state = self.0.lock().unwrap();
        match std::mem::replace(&mut *state, ParkState::Running) {
            ParkState::Parked { mailbox, id } => {
                drop(state);
                mailbox.post(id);
            }
            ParkState::Running | ParkState::Requested => *state = ParkState::Requested,
        }
    }

    /// Takes a wake-up that came while the task ran; the task then does
    /// not sleep.
    pub fn take_request(&self) -> bool {
        let mut state = self.0.lock().unwrap();
        let requested = matches!(*state, ParkState::Requested);
        if requested {
            *state = ParkState::Running;
        }
        requested
    }

    /// Records that the task sleeps in the timer heap served by `mailbox`
    /// as `id`; `false` if a wake-up came first, when the worker must take
    /// the task back out at once.
    pub fn parked(&self, mailbox: &Arc<Mailbox>, id: u64) -> bool {
        let mut state = self.0.lock().unwrap();
        if matches!(*state, ParkState::Requested) {
            *state = ParkState::Running;
            return false;
        }
        *state = ParkState::Parked {
            mailbox: mailbox.clone(),
            id,
        };
        true
    }

    /// The task runs again: a wake-up from now on is for its next sleep.
    pub fn resumed(&self) {
        *self.0.lock().unwrap() = ParkState::Running;
    }
}

/// The park ids of a worker's sleeping tasks to wake early.
pub(crate) struct Mailbox {
    ids: Mutex<Vec<u64>>,
    /// Whether `ids` may hold any: the worker looks at every turn of its
    /// loop, without taking the lock while there is none.
    full: AtomicBool,
    /// Where the workers sleep.
    bell: Arc<Sleepers>,
}

impl Mailbox {
    pub fn new(bell: Arc<Sleepers>) -> Arc<Mailbox> {
        Arc::new(Mailbox {
            ids: Mutex::default(),
            full: AtomicBool::new(false),
            bell,
        })
    }

    /// Asks the worker to wake task `id`. Every sleeping worker is woken,
    /// since the workers share one bell; early wakes are rare.
    fn post(&self, id: u64) {
        self.ids.lock().unwrap().push(id);
        self.full.store(true, Ordering::Release);
        self.bell.wake_all();
    }

    /// The ids posted since the last call.
    pub fn take(&self) -> Vec<u64> {
        // A load first: the swap's write would take the cache line from
        // the posting threads on every turn of the loop.
        if !self.full.load(Ordering::Relaxed) || !self.full.swap(false, Ordering::Acquire) {
            return Vec::new();
        }
        std::mem::take(&mut *self.ids.lock().unwrap())
    }

    pub fn is_empty(&self) -> bool {
        !self.full.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wake_before_the_park_keeps_the_task_from_sleeping() {
        let mailbox = Mailbox::new(Arc::default());
        let parking = Parking::default();
        parking.wake();
        assert!(!parking.parked(&mailbox, 1));
        assert!(mailbox.take().is_empty());
        // Consumed: the next park stays.
        assert!(parking.parked(&mailbox, 2));
    }

    #[test]
    fn a_wake_after_the_park_posts_the_task_once() {
        let mailbox = Mailbox::new(Arc::default());
        let parking = Parking::default();
        assert!(parking.parked(&mailbox, 7));
        parking.wake();
        assert_eq!(mailbox.take(), [7]);
        // The task is out of the heap: a second wake is for its next sleep.
        parking.wake();
        assert!(mailbox.take().is_empty());
        assert!(parking.take_request());
        assert!(!parking.take_request());
    }

    #[test]
    fn a_resumed_task_forgets_a_wake_for_the_sleep_that_ended() {
        let parking = Parking::default();
        parking.wake();
        parking.resumed();
        assert!(!parking.take_request());
    }
}
