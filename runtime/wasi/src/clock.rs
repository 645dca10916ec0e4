//! Clocks and sleeping, for the WASI clock functions and `poll_oneoff`.

use crate::errno::{Errno, WasiResult};
use luge_runtime::Caller;
use luge_scheduler::task::{self, Wake};
use rustix::time::{ClockId, Timespec};
use std::time::Duration;

/// Seconds and nanoseconds as WASI's nanosecond timestamps.
pub(crate) fn nanos(secs: i64, nsec: i64) -> u64 {
    (secs as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(nsec as u64)
}

/// The host clock of a WASI clock id.
pub(crate) fn clock_id(id: u32) -> WasiResult<ClockId> {
    Ok(match id {
        0 => ClockId::Realtime,
        1 => ClockId::Monotonic,
        2 => ClockId::ProcessCPUTime,
        3 => ClockId::ThreadCPUTime,
        _ => return Err(Errno::Inval),
    })
}

/// The time on `id` now, in nanoseconds.
pub(crate) fn clock_now(id: ClockId) -> u64 {
    timespec_nanos(rustix::time::clock_gettime(id))
}

/// The resolution of `id`, in nanoseconds.
pub(crate) fn clock_resolution(id: ClockId) -> u64 {
    timespec_nanos(rustix::time::clock_getres(id))
}

fn timespec_nanos(ts: Timespec) -> u64 {
    nanos(ts.tv_sec, ts.tv_nsec)
}

/// Sleeps for `duration`, waking early when the sandbox is interrupted (its
/// time ran out), so that a sleeping guest cannot overrun its deadline.
///
/// On a scheduler task the sandbox parks for the whole sleep and its worker
/// runs others meanwhile; an interruption wakes the task through its waker,
/// so a sleeping sandbox costs no wake-up until its time (a hundred
/// thousand of them asleep would otherwise wake their workers millions of
/// times a minute). On a plain thread, which no waker reaches, the sleep
/// goes in slices, looking for an interruption after each.
pub(crate) fn sleep(caller: &Caller, duration: Duration) {
    let deadline = std::time::Instant::now() + duration;
    let registered = task::current_waker().map(|waker| caller.wake_on_interrupt(waker));
    let slice = if registered.is_some() {
        duration
    } else {
        THREAD_SLEEP_SLICE
    };
    while !caller.interrupt_pending() {
        let now = std::time::Instant::now();
        if now >= deadline {
            break;
        }
        let until = now + (deadline - now).min(slice);
        if task::sleep_until(until) == Wake::TimedOut {
            break;
        }
    }
}

/// Longest stretch a sandbox sleeping on a plain thread goes without
/// checking whether its embedder interrupted it.
const THREAD_SLEEP_SLICE: Duration = Duration::from_millis(50);
