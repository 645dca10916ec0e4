//! The runtime's side of the scheduler contract
//! ([`luge_scheduler::hooks`]), and asynchronous preemption of guest code
//! running in a scheduler task.
//!
//! [`GuestHooks`] detaches a guest from its thread whenever its task
//! suspends and re-attaches it wherever the task resumes, so a trap always
//! finds the jump buffer of the thread it happens on. When the scheduler's
//! ticker asks to preempt a worker whose task has run past its quantum
//! while other work waits, it sends [`PREEMPT_SIGNAL`]. If that thread is
//! executing compiled guest code of a task, the task yields with every
//! register of the guest saved, and once it is resumed (perhaps on another
//! worker) the guest continues at the interrupted instruction. Anywhere
//! else (host code, the worker itself) the signal is ignored and the
//! ticker asks again at its next tick. Compiled code needs no check for
//! this, so a loop without calls is preempted as readily as any other code.
//!
//! How the registers are saved depends on the architecture:
//! - x86_64: the handler makes the guest "call" `luge_preempt_landing` at
//!   the interrupted instruction; the landing saves every register compiled
//!   code may hold a value in, yields, restores them and returns.
//! - aarch64: a landing cannot return to an arbitrary instruction without
//!   clobbering a register (there is no `ret` to an address in memory), so
//!   the handler yields itself, on the task's own stack, and `rt_sigreturn`
//!   restores the guest's registers from the signal frame there.
//!
//! The same signal ends guest code whose task has passed its timeout: the
//! task then raises an `Interrupted` trap instead of yielding, so a
//! sandbox times out at the next tick even when compiled without
//! interruption checks.

use super::{attach_guest, detach_guest, in_guest, raise, Unwind};
use luge_abi::TrapKind;
use luge_scheduler::hooks::TaskHooks;
use std::os::unix::thread::RawPthread;
use std::sync::Once;

/// The signal that preempts or stops the guest a worker runs. SIGURG's
/// default action is to be ignored, so one that reaches a thread before
/// the handler is installed is harmless.
pub const PREEMPT_SIGNAL: libc::c_int = libc::SIGURG;

/// What the scheduler calls at every suspension, resumption and
/// preemption of a task (see [`luge_scheduler::hooks`]).
struct GuestHooks;

impl TaskHooks for GuestHooks {
    fn suspend(&self) -> usize {
        detach_guest() as usize
    }

    fn resume(&self, saved: usize) {
        attach_guest(saved as *mut libc::c_void);
    }

    fn preempt(&self, thread: RawPthread) {
        // SAFETY: the scheduler passes a live worker thread (its workers
        // outlive its ticker); the handler is installed before the hooks
        // are registered, and ignores the signal outside guest code.
        unsafe { libc::pthread_kill(thread as libc::pthread_t, PREEMPT_SIGNAL) };
    }
}

/// Bytes below the stack pointer that x86_64 code may use without moving
/// it (the System V red zone); the landing's frame goes below them.
#[cfg(target_arch = "x86_64")]
const RED_ZONE: usize = 128;

/// Whether guests run by the scheduler are compiled without interruption
/// checks by default, relying on this module alone to preempt and stop
/// them. Only on x86_64 so far: the aarch64 path has run under qemu-user
/// but not yet on ARM hardware, so aarch64 keeps its checks by default.
pub const ASYNC_INTERRUPTION: bool = cfg!(target_arch = "x86_64");

/// How the handler is installed. On aarch64 it suspends the task inside
/// the handler, so its frame must be on the task's stack (which moves with
/// the task), not on the thread's alternate stack; and a timed-out task
/// leaves the handler by `siglongjmp`, which would leave the signal
/// blocked without `SA_NODEFER`.
#[cfg(target_arch = "x86_64")]
const HANDLER_FLAGS: libc::c_int = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
#[cfg(target_arch = "aarch64")]
const HANDLER_FLAGS: libc::c_int = libc::SA_SIGINFO | libc::SA_NODEFER | libc::SA_RESTART;

static INSTALL: Once = Once::new();

/// Installs the preemption handler and registers the scheduler hooks
/// (once per process).
pub fn install() {
    INSTALL.call_once(|| {
        // SAFETY: installs a handler for a signal nothing else in the
        // process uses; the sigaction struct is fully initialized.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as *const () as usize;
            action.sa_flags = HANDLER_FLAGS;
            libc::sigemptyset(&mut action.sa_mask);
            let rc = libc::sigaction(PREEMPT_SIGNAL, &action, std::ptr::null_mut());
            assert_eq!(rc, 0, "cannot install the preemption handler");
        }
        assert!(
            luge_scheduler::hooks::register(&GuestHooks),
            "another embedder registered scheduler hooks first"
        );
    });
}

#[cfg(target_arch = "x86_64")]
unsafe extern "C" fn handler(
    _signal: libc::c_int,
    _info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    if in_guest().is_none() || luge_scheduler::task::task_stack_bottom().is_none() {
        return;
    }
    let context = context as *mut libc::ucontext_t;
    // SAFETY: the kernel passes a valid ucontext to SA_SIGINFO handlers;
    // we only read and rewrite the interrupted thread's registers.
    let gregs = unsafe { &mut (*context).uc_mcontext.gregs };
    let pc = gregs[libc::REG_RIP as usize] as usize;
    if !crate::traps::in_compiled_code(pc) {
        return;
    }
    let sp = gregs[libc::REG_RSP as usize] as usize;
    let new_sp = sp - RED_ZONE - 8;
    // SAFETY: the guest runs on a task stack whose limit keeps well over a
    // red zone and a return address free below the guest's frames.
    unsafe { (new_sp as *mut usize).write(pc) };
    gregs[libc::REG_RSP as usize] = new_sp as i64;
    gregs[libc::REG_RIP as usize] = luge_preempt_landing as *const () as i64;
}

#[cfg(target_arch = "aarch64")]
unsafe extern "C" fn handler(
    _signal: libc::c_int,
    _info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    if in_guest().is_none() || luge_scheduler::task::task_stack_bottom().is_none() {
        return;
    }
    let context = context as *mut libc::ucontext_t;
    // SAFETY: the kernel passes a valid ucontext to SA_SIGINFO handlers.
    let pc = unsafe { (*context).uc_mcontext.pc } as usize;
    if !crate::traps::in_compiled_code(pc) {
        return;
    }
    // The guest's registers are in the signal frame, on the task's stack
    // below the guest's frames (the handler is not SA_ONSTACK): they move
    // with the task, and returning from the handler restores them.
    luge_preempt_yield();
    // SAFETY: `context` is the frame of this handler invocation, still
    // live on the task's stack.
    unsafe { adopt_current_thread(context) };
}

/// `rt_sigreturn` restores the signal mask and alternate signal stack
/// recorded in `context`, which are those of the thread the signal
/// interrupted; the task may have resumed on another thread since, whose
/// own must stay in force.
///
/// # Safety
/// `context` must be the ucontext of a running handler on this thread.
#[cfg(target_arch = "aarch64")]
unsafe fn adopt_current_thread(context: *mut libc::ucontext_t) {
    // SAFETY: both calls only read this thread's settings into fields of
    // the (valid, writable) ucontext.
    unsafe {
        libc::pthread_sigmask(
            libc::SIG_SETMASK,
            std::ptr::null(),
            &mut (*context).uc_sigmask,
        );
        libc::sigaltstack(std::ptr::null(), &mut (*context).uc_stack);
    }
}

/// Called with the guest's registers saved (by the landing on x86_64, in
/// the signal frame on aarch64): ends the guest when its task has timed
/// out, else yields the task.
#[no_mangle]
extern "C" fn luge_preempt_yield() {
    if luge_scheduler::task::timed_out() {
        let interrupted = Unwind::Trap {
            kind: TrapKind::Interrupted,
            pc: 0,
        };
        // SAFETY: the landing or handler was entered from compiled guest
        // code on this thread, so its `catch_unwind` is live; the guest's
        // frames and ours hold nothing that needs dropping.
        unsafe { raise(interrupted) };
    }
    luge_scheduler::task::yield_now();
}

#[cfg(target_arch = "x86_64")]
extern "C" {
    fn luge_preempt_landing();
}

// Entered by "returning" from the signal handler: the interrupted
// instruction's address is on top of the stack, the red zone above it. It
// saves the flags, the caller-saved registers and xmm0-15 (everything
// compiled code may be using that a call would clobber), yields, restores
// them and returns past the red zone.
#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".text",
    ".global luge_preempt_landing",
    ".type luge_preempt_landing, @function",
    "luge_preempt_landing:",
    "    pushfq",
    "    push rax",
    "    push rcx",
    "    push rdx",
    "    push rsi",
    "    push rdi",
    "    push r8",
    "    push r9",
    "    push r10",
    "    push r11",
    "    push rbx",
    "    mov rbx, rsp",
    "    and rsp, -16",
    "    sub rsp, 256",
    "    movdqu [rsp + 0], xmm0",
    "    movdqu [rsp + 16], xmm1",
    "    movdqu [rsp + 32], xmm2",
    "    movdqu [rsp + 48], xmm3",
    "    movdqu [rsp + 64], xmm4",
    "    movdqu [rsp + 80], xmm5",
    "    movdqu [rsp + 96], xmm6",
    "    movdqu [rsp + 112], xmm7",
    "    movdqu [rsp + 128], xmm8",
    "    movdqu [rsp + 144], xmm9",
    "    movdqu [rsp + 160], xmm10",
    "    movdqu [rsp + 176], xmm11",
    "    movdqu [rsp + 192], xmm12",
    "    movdqu [rsp + 208], xmm13",
    "    movdqu [rsp + 224], xmm14",
    "    movdqu [rsp + 240], xmm15",
    "    call {yield_fn}",
    "    movdqu xmm0, [rsp + 0]",
    "    movdqu xmm1, [rsp + 16]",
    "    movdqu xmm2, [rsp + 32]",
    "    movdqu xmm3, [rsp + 48]",
    "    movdqu xmm4, [rsp + 64]",
    "    movdqu xmm5, [rsp + 80]",
    "    movdqu xmm6, [rsp + 96]",
    "    movdqu xmm7, [rsp + 112]",
    "    movdqu xmm8, [rsp + 128]",
    "    movdqu xmm9, [rsp + 144]",
    "    movdqu xmm10, [rsp + 160]",
    "    movdqu xmm11, [rsp + 176]",
    "    movdqu xmm12, [rsp + 192]",
    "    movdqu xmm13, [rsp + 208]",
    "    movdqu xmm14, [rsp + 224]",
    "    movdqu xmm15, [rsp + 240]",
    "    mov rsp, rbx",
    "    pop rbx",
    "    pop r11",
    "    pop r10",
    "    pop r9",
    "    pop r8",
    "    pop rdi",
    "    pop rsi",
    "    pop rdx",
    "    pop rcx",
    "    pop rax",
    "    popfq",
    "    ret 128",
    ".size luge_preempt_landing, . - luge_preempt_landing",
    yield_fn = sym luge_preempt_yield,
);
