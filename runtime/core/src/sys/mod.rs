//! The platform layer: what the runtime asks of the operating system,
//! and the unsafe code that takes. Signal handling ([`signals`]), the
//! non-local exit out of trapping guest code (this module), preemption and
//! the runtime's side of the scheduler contract ([`preempt`]), and the
//! dynamic loader ([`library`]); virtual memory is `luge_region`'s.
//!
//! Outside this layer, the runtime holds unsafe code only where compiled
//! code and the host share memory by design, and every such block says
//! why it is sound: the context compiled code hands to host functions
//! (`instance::builtins`, `caller`), calls into compiled code through its
//! trampolines (`instance::externs`, `module`), the context's layout
//! (`instance`), and the bytes of linear memory (`memory`, `table`).

pub mod address_space;
pub mod library;
pub mod preempt;
pub mod signals;

use luge_abi::TrapKind;
use luge_scheduler::task;
use std::cell::Cell;
use std::ffi::c_void;

extern "C" {
    fn luge_catch(
        slot: *mut *mut c_void,
        body: unsafe extern "C" fn(*mut c_void),
        payload: *mut c_void,
    ) -> i32;
    fn luge_unwind(buf: *mut c_void) -> !;
}

/// Why guest code stopped without returning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unwind {
    /// A trap, with the program counter of the trapping instruction (0 when
    /// the runtime raised it).
    Trap { kind: TrapKind, pc: usize },
    /// The guest asked to exit the sandbox with this status.
    Exit(i32),
    /// A host function the guest called panicked, with this message; the
    /// panic was caught at the host function's boundary ([`host_call`]).
    HostPanic(Box<str>),
}

thread_local! {
    /// Jump buffer of the innermost active `catch_unwind` on this thread,
    /// null when no guest code is running here.
    static JMP_BUF: Cell<*mut c_void> = const { Cell::new(std::ptr::null_mut()) };
    /// Why the last unwind happened, written just before jumping.
    static UNWIND: Cell<Option<Unwind>> = const { Cell::new(None) };
}

// A scheduler task may move to another thread whenever it is suspended, so
// code that runs before and after a suspension must find the thread-locals
// of the thread it is on *now*. Within one function the compiler may keep a
// thread-local's address from before a call, so every access goes through
// one of these functions, never inlined: each computes the address afresh.

#[inline(never)]
fn jmp_buf() -> *mut c_void {
    JMP_BUF.with(Cell::get)
}

#[inline(never)]
fn set_jmp_buf(buf: *mut c_void) -> *mut c_void {
    JMP_BUF.with(|b| b.replace(buf))
}

/// This thread's jump-buffer cell, for `luge_catch` to fill in.
#[inline(never)]
fn jmp_buf_slot() -> *mut *mut c_void {
    JMP_BUF.with(Cell::as_ptr)
}

#[inline(never)]
fn set_unwind(reason: Unwind) {
    // Nothing is dropped here, as this may run in a signal handler: the
    // slot is empty, since every `catch_unwind` takes what it finds.
    std::mem::forget(UNWIND.with(|u| u.replace(Some(reason))));
}

#[inline(never)]
fn take_unwind() -> Option<Unwind> {
    UNWIND.with(Cell::take)
}

/// Whether guest code is running on this thread (signal handlers use this
/// to tell guest faults from host bugs).
pub(crate) fn in_guest() -> Option<*mut c_void> {
    let buf = jmp_buf();
    (!buf.is_null()).then_some(buf)
}

/// Abandons the running guest code and returns to its `catch_unwind`.
///
/// # Safety
/// Guest code must be running on this thread ([`in_guest`]), and no frame
/// between here and the entry may own resources that need dropping: the
/// frames are discarded, not unwound.
pub(crate) unsafe fn unwind(reason: Unwind, buf: *mut c_void) -> ! {
    set_unwind(reason);
    // SAFETY: `buf` is the live jump buffer of an enclosing `luge_catch`
    // (caller's contract), so jumping there is well-defined.
    unsafe { luge_unwind(buf) }
}

/// Raises `reason` from a host function called by guest code.
///
/// # Safety
/// As for [`unwind`]: the caller's frames are discarded without drops.
pub unsafe fn raise(reason: Unwind) -> ! {
    let buf = in_guest().expect("raise called outside guest code");
    // SAFETY: `buf` belongs to the enclosing guest call on this thread.
    unsafe { unwind(reason, buf) }
}

/// Runs the body of a host function that compiled code called, so that a
/// panic in it ends the calling sandbox with [`Unwind::HostPanic`] instead
/// of unwinding into compiled code, which cannot be unwound through: Rust
/// aborts the process when a panic reaches an `extern "C"` boundary.
///
/// # Safety
/// As for [`raise`]: guest code called the host function on this thread,
/// and the host function's own frame holds nothing that needs dropping
/// outside `body` (what `body` owns is dropped as the panic unwinds it).
pub unsafe fn host_call<R>(body: impl FnOnce() -> R) -> R {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => {
            let message = panic_message(payload.as_ref()).into();
            drop(payload);
            // SAFETY: the caller's contract.
            unsafe { raise(Unwind::HostPanic(message)) }
        }
    }
}

/// The text a panic was raised with (`panic!("...")` gives a `&str` or a
/// `String`; anything else is named as such).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "a panic without a message"
    }
}

/// Detaches the guest running on this thread (if any) before its task
/// suspends: the task may be resumed on another thread, and other guests
/// may run on this one meanwhile. Returns what [`attach_guest`] needs.
fn detach_guest() -> *mut c_void {
    set_jmp_buf(std::ptr::null_mut())
}

/// Re-attaches a guest detached by [`detach_guest`] to the thread its task
/// now runs on.
fn attach_guest(guest: *mut c_void) {
    if !guest.is_null() {
        signals::ensure_thread_ready();
    }
    set_jmp_buf(guest);
}

/// Runs `body` (which enters guest code) so that traps and exits anywhere
/// inside it come back here as `Err` instead of killing the process.
pub fn catch_unwind(body: &mut dyn FnMut()) -> Result<(), Unwind> {
    signals::ensure_thread_ready();
    unsafe extern "C" fn call(payload: *mut c_void) {
        // SAFETY: `payload` is the `&mut &mut dyn FnMut()` passed below,
        // alive for the whole `luge_catch` call.
        let body = unsafe { &mut *(payload as *mut &mut dyn FnMut()) };
        body();
    }
    let previous = jmp_buf();
    let mut body = body;
    let slot = jmp_buf_slot();
    // SAFETY: `slot` is this thread's jump-buffer cell; `luge_catch` stores
    // a buffer that lives in its own frame and stays valid while `call`
    // runs, which is exactly while guest code may jump to it.
    let returned = unsafe { luge_catch(slot, call, &mut body as *mut _ as *mut c_void) };
    // The body may have been suspended and resumed on another thread:
    // restore on the thread we are on now (the nesting is the task's own).
    set_jmp_buf(previous);
    if returned == 1 {
        Ok(())
    } else {
        Err(take_unwind().expect("unwind without a reason"))
    }
}

/// Address close to the current stack pointer.
#[inline(never)]
pub fn stack_pointer() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// Lowest usable address of the stack the caller runs on: its scheduler
/// task's stack, or else its thread's.
pub fn stack_bottom() -> usize {
    task::task_stack_bottom().unwrap_or_else(thread_stack_bottom)
}

fn thread_stack_bottom() -> usize {
    thread_local! {
        static BOTTOM: Cell<usize> = const { Cell::new(0) };
    }
    let cached = BOTTOM.with(Cell::get);
    if cached != 0 {
        return cached;
    }
    // SAFETY: pthread_getattr_np fills `attr` for the calling thread;
    // pthread_attr_getstack only reads it, and the attr is destroyed after.
    let bottom = unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        let mut addr: *mut c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) == 0 {
            libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
            libc::pthread_attr_destroy(&mut attr);
        }
        addr as usize
    };
    BOTTOM.with(|b| b.set(bottom));
    bottom
}
