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
pub(crate) fn sleep(caller: &Caller, duration: Duration) {
    let deadline = std::time::Instant::now() + duration;
    while !caller.interrupt_pending() {
        let now = std::time::Instant::now();
        if now >= deadline {
            break;
        }
        // On a scheduler worker the sandbox parks and the worker runs others
        // meanwhile; the task's timeout wakes it at once, an interruption by
        // the embedder at the end of the slice.
        let until = now + (deadline - now).min(SLEEP_SLICE);
        if task::sleep_until(until) == Wake::TimedOut {
            break;
        }
    }
}

/// Longest stretch a sleeping sandbox goes without checking whether its
/// embedder interrupted it.
const SLEEP_SLICE: Duration = Duration::from_millis(50);
