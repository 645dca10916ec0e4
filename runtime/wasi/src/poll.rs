//! `poll_oneoff`: waiting on clocks and on stream readiness.

use crate::clock::{clock_now, sleep};
use crate::errno::{Errno, WasiResult};
use crate::fd::{host_stdin_readable_now, host_stdin_ready, Fd, Input, STDIN_SLICE};
use crate::guest::{element, Guest};
use crate::WasiCtx;
use luge_runtime::Caller;
use rustix::time::ClockId;
use std::time::{Duration, Instant};

const SUBSCRIPTION_SIZE: u32 = 48;
const EVENT_SIZE: u32 = 32;
const EVENTTYPE_CLOCK: u8 = 0;
const EVENTTYPE_FD_READ: u8 = 1;
const EVENTTYPE_FD_WRITE: u8 = 2;
const SUBCLOCK_ABSTIME: u16 = 1;

enum Subscription {
    /// Fires at `deadline`.
    Clock {
        deadline: Instant,
    },
    Read {
        fd: u32,
    },
    Write {
        fd: u32,
    },
}

struct Event {
    userdata: u64,
    error: u16,
    kind: u8,
    nbytes: u64,
}

/// The little-endian bytes `at..at + N` of a record read from the guest.
fn field<const N: usize>(record: &[u8], at: usize) -> [u8; N] {
    let mut bytes = [0; N];
    bytes.copy_from_slice(&record[at..at + N]);
    bytes
}

/// Parses the subscription at guest address `at`, read whole so that no
/// field's address needs computing.
fn parse(mem: &Guest, at: u32) -> WasiResult<(u64, Subscription)> {
    let record = mem.read_bytes(at, SUBSCRIPTION_SIZE)?;
    let userdata = u64::from_le_bytes(field(&record, 0));
    let fd = || u32::from_le_bytes(field(&record, 16));
    let sub = match record[8] {
        EVENTTYPE_CLOCK => {
            let clock = u32::from_le_bytes(field(&record, 16));
            let timeout = u64::from_le_bytes(field(&record, 24));
            let flags = u16::from_le_bytes(field(&record, 40));
            let wait = if flags & SUBCLOCK_ABSTIME != 0 {
                let clock = match clock {
                    0 => ClockId::Realtime,
                    1 => ClockId::Monotonic,
                    _ => return Err(Errno::Inval),
                };
                timeout.saturating_sub(clock_now(clock))
            } else {
                timeout
            };
            Subscription::Clock {
                deadline: Instant::now() + Duration::from_nanos(wait),
            }
        }
        EVENTTYPE_FD_READ => Subscription::Read { fd: fd() },
        EVENTTYPE_FD_WRITE => Subscription::Write { fd: fd() },
        _ => return Err(Errno::Inval),
    };
    Ok((userdata, sub))
}

/// Readiness of descriptor `fd` for reading: `Some(bytes)` when ready, and
/// `None` for the inherited stdin until the host says it is readable.
fn read_ready(ctx: &mut WasiCtx, fd: u32) -> WasiResult<Option<u64>> {
    Ok(match ctx.fds.get(fd)? {
        Fd::Stdin(Input::Inherit) => host_stdin_readable_now().then_some(1),
        Fd::Stdin(input) => input.available(),
        _ => Some(0),
    })
}

pub(super) fn poll_oneoff(
    ctx: &mut WasiCtx,
    mem: &Guest,
    caller: &Caller,
    subs: u32,
    events: u32,
    count: u32,
    nevents: u32,
) -> WasiResult<()> {
    if count == 0 {
        return Err(Errno::Inval);
    }
    let subs: Vec<_> = (0..count)
        .map(|i| parse(mem, element(subs, i, SUBSCRIPTION_SIZE)?))
        .collect::<WasiResult<_>>()?;
    loop {
        let mut ready = Vec::new();
        let now = Instant::now();
        let mut next_deadline: Option<Instant> = None;
        for (userdata, sub) in &subs {
            let (kind, outcome) = match sub {
                Subscription::Clock { deadline } => {
                    next_deadline = Some(next_deadline.map_or(*deadline, |d| d.min(*deadline)));
                    (EVENTTYPE_CLOCK, (*deadline <= now).then_some(Ok(0)))
                }
                Subscription::Read { fd } => (EVENTTYPE_FD_READ, read_ready(ctx, *fd).transpose()),
                Subscription::Write { fd } => {
                    (EVENTTYPE_FD_WRITE, Some(ctx.fds.get(*fd).map(|_| 0)))
                }
            };
            if let Some(outcome) = outcome {
                let (error, nbytes) = match outcome {
                    Ok(n) => (0, n),
                    Err(e) => (e as u16, 0),
                };
                ready.push(Event {
                    userdata: *userdata,
                    error,
                    kind,
                    nbytes,
                });
            }
        }
        if !ready.is_empty() || caller.interrupt_pending() {
            return write_events(mem, events, nevents, &ready);
        }
        // Nothing is ready: wait for the next deadline, or for the host's
        // stdin too when it is watched (the only stream that can be not
        // ready), looking again at least every slice for an interruption.
        let watching_stdin = subs
            .iter()
            .any(|(_, s)| matches!(s, Subscription::Read { .. }));
        let slice_end = now + STDIN_SLICE;
        if watching_stdin {
            host_stdin_ready(Some(next_deadline.map_or(slice_end, |d| d.min(slice_end))));
        } else {
            let wait = next_deadline.map_or(STDIN_SLICE, |d| d.saturating_duration_since(now));
            sleep(caller, wait);
        }
    }
}

fn write_events(mem: &Guest, events: u32, nevents: u32, ready: &[Event]) -> WasiResult<()> {
    for (i, e) in ready.iter().enumerate() {
        let at = element(events, i as u32, EVENT_SIZE)?;
        let mut buf = [0u8; EVENT_SIZE as usize];
        buf[0..8].copy_from_slice(&e.userdata.to_le_bytes());
        buf[8..10].copy_from_slice(&e.error.to_le_bytes());
        buf[10] = e.kind;
        buf[16..24].copy_from_slice(&e.nbytes.to_le_bytes());
        mem.write_bytes(at, &buf)?;
    }
    mem.write_u32(nevents, ready.len() as u32)
}
