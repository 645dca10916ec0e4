//! The process's entry point, in place of std's start-up.
//!
//! `luge run` is a command, and its start-up is measured against the
//! native program's (docs/benchmarks.md, "Start-up of `luge run`"). std's
//! start-up spent about 0.2 ms of it on the reference machine:
//! - it reads `/proc/self/maps` to find the main thread's stack guard,
//!   for its message on a stack overflow;
//! - it maps a signal stack and installs SIGSEGV and SIGBUS handlers for
//!   that message;
//! - it polls descriptors 0 to 2.
//!
//! Luge needs two of those effects, and [`main`] does them itself:
//! - SIGPIPE ignored, so that a peer hanging up costs `luge serve` a write
//!   error and not the process (children spawned through
//!   `std::process::Command` still start with the default action, as std
//!   resets it unless told otherwise);
//! - descriptors 0 to 2 open, so that no file opened later is taken for
//!   stdout or stderr.
//!
//! Arguments still reach `std::env::args`: glibc hands them to std's own
//! initializer. What is lost is std's message on overflowing the main
//! thread's stack; the process still ends on that SIGSEGV.

use std::ffi::{c_char, c_int};

/// Exit status after a panic, as std's start-up gives it.
const EXIT_PANIC: i32 = 101;

/// The C entry point (`#![no_main]` in main.rs).
#[no_mangle]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    ignore_sigpipe();
    open_standard_descriptors();
    // A panic must not unwind into C (that aborts): it ends the process
    // with std's status for it, its message already printed by the hook.
    let status = std::panic::catch_unwind(crate::cli).map_or(EXIT_PANIC, i32::from);
    // Flushes stdout, as a return from std's `main` would.
    std::process::exit(status)
}

/// Writes `message` to stderr and ends the process at once with `status`:
/// for a thread that must end it while another may be stuck holding
/// std's stderr lock (in a write to a pipe nobody reads), and without
/// running exit handlers under threads that still run.
pub fn exit_now(status: u8, message: &str) -> ! {
    // SAFETY: the pointer and length are those of a live string; a failed
    // or short write is left as it is (there is nowhere to report it).
    unsafe { libc::write(2, message.as_ptr().cast(), message.len()) };
    // SAFETY: _exit ends the process and touches none of its memory.
    unsafe { libc::_exit(status.into()) }
}

fn ignore_sigpipe() {
    // SAFETY: SIG_IGN installs no code; nothing else in the process has
    // set a disposition for SIGPIPE this early.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// Opens /dev/null on each of descriptors 0 to 2 that is closed.
fn open_standard_descriptors() {
    for fd in 0..=2 {
        // SAFETY: F_GETFD only asks whether `fd` is open.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1 {
            continue;
        }
        // The lowest free descriptor is `fd` itself. Left open for the
        // life of the process, as it would be by the shell; if even this
        // fails, the process goes on with the descriptor closed.
        // SAFETY: the path is a NUL-terminated literal.
        unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
    }
}
