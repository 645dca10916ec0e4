//! Signal handlers that turn faults in compiled code into traps.
//!
//! SIGSEGV, SIGBUS, SIGILL and SIGFPE are handled on an alternate stack (a
//! guest that exhausted the native stack leaves no room for a handler
//! there). A fault is a trap only when guest code is running on the thread
//! and the faulting instruction is a trap site the compiler recorded; any
//! other fault goes to the handler that was installed before ours, or to
//! the default action, so host bugs still crash loudly.

use super::{in_guest, unwind, Unwind};
use luge_region::{page_size, Region};
use std::cell::Cell;
use std::sync::Once;

const SIGNALS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

/// Size of the alternate signal stack installed on threads that run guests.
const ALT_STACK_SIZE: usize = 64 << 10;

/// The actions that were installed before ours, to chain to.
static mut PREVIOUS: [std::mem::MaybeUninit<libc::sigaction>; 4] =
    [const { std::mem::MaybeUninit::uninit() }; 4];
static INSTALL: Once = Once::new();

fn install_handlers() {
    super::preempt::install();
    INSTALL.call_once(|| {
        for (i, &signal) in SIGNALS.iter().enumerate() {
            // SAFETY: `Once` runs this exactly once, before any handler of
            // ours can read PREVIOUS; the sigaction structs are fully
            // initialized by sigemptyset/zeroing and by the kernel.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = handler as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                let previous = (*std::ptr::addr_of_mut!(PREVIOUS))[i].as_mut_ptr();
                if libc::sigaction(signal, &action, previous) != 0 {
                    panic!(
                        "cannot install the handler for signal {signal}: {}",
                        std::io::Error::last_os_error()
                    );
                }
            }
        }
    });
}

/// A guard-paged alternate signal stack owned by the current thread.
struct AltStack {
    /// Kept mapped while the thread may take signals on it; unmapped when
    /// the thread exits, after `drop` has disabled it.
    _mapping: Region,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let disable = libc::stack_t {
            ss_sp: std::ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: disables this thread's alternate stack before the region
        // under it is unmapped; `disable` is a valid stack_t.
        unsafe { libc::sigaltstack(&disable, std::ptr::null_mut()) };
    }
}

thread_local! {
    static READY: Cell<bool> = const { Cell::new(false) };
    static ALT_STACK: Cell<Option<AltStack>> = const { Cell::new(None) };
}

/// Installs the process-wide handlers and makes sure this thread has an
/// alternate signal stack big enough for them. Never inlined, so that its
/// thread-locals are those of the thread it runs on (see `sys`).
#[inline(never)]
pub fn ensure_thread_ready() {
    if READY.with(Cell::get) {
        return;
    }
    install_handlers();
    // SAFETY: querying the current alternate stack has no side effects.
    let current = unsafe {
        let mut current: libc::stack_t = std::mem::zeroed();
        libc::sigaltstack(std::ptr::null(), &mut current);
        current
    };
    if current.ss_flags & libc::SS_DISABLE != 0 || current.ss_size < ALT_STACK_SIZE {
        let page = page_size();
        // The lowest page stays inaccessible as a guard.
        let region = Region::reserve(ALT_STACK_SIZE + page)
            .and_then(|r| r.commit(page, ALT_STACK_SIZE).map(|()| r))
            .expect("cannot map a signal stack");
        let new = libc::stack_t {
            ss_sp: region.base().wrapping_add(page).cast(),
            ss_flags: 0,
            ss_size: ALT_STACK_SIZE,
        };
        // SAFETY: `new` describes committed memory that the thread-local
        // below keeps mapped for as long as it is this thread's signal stack.
        let rc = unsafe { libc::sigaltstack(&new, std::ptr::null_mut()) };
        assert_eq!(rc, 0, "sigaltstack failed");
        ALT_STACK.with(|s| s.set(Some(AltStack { _mapping: region })));
    }
    READY.with(|r| r.set(true));
}

/// Program counter of the interrupted context.
///
/// # Safety
/// `context` must be the `ucontext_t` the kernel passed to a handler.
unsafe fn program_counter(context: *mut libc::c_void) -> usize {
    let context = context as *const libc::ucontext_t;
    // SAFETY: per the contract, `context` points to a valid ucontext_t.
    unsafe {
        #[cfg(target_arch = "x86_64")]
        {
            (*context).uc_mcontext.gregs[libc::REG_RIP as usize] as usize
        }
        #[cfg(target_arch = "aarch64")]
        {
            (*context).uc_mcontext.pc as usize
        }
    }
}

unsafe extern "C" fn handler(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    if let Some(buf) = in_guest() {
        // SAFETY: the kernel passes a valid ucontext to SA_SIGINFO handlers.
        let pc = unsafe { program_counter(context) };
        // The memory address a SIGSEGV or SIGBUS touched (for SIGILL and
        // SIGFPE, si_addr is the instruction's), when the kernel raised it
        // for a fault (si_code > 0) rather than a process sending it.
        // SAFETY: the kernel passes a valid siginfo to SA_SIGINFO handlers.
        let fault = unsafe { &*info };
        let address = (matches!(signal, libc::SIGSEGV | libc::SIGBUS) && fault.si_code > 0)
            // SAFETY: si_addr is filled in for faults of these signals.
            .then(|| unsafe { fault.si_addr() } as usize);
        if let Some(kind) = crate::traps::trap_at(pc, address) {
            // SAFETY: guest code is running on this thread and the faulting
            // instruction is one of its trap sites: only compiled frames,
            // which own nothing, lie between here and the entry.
            unsafe { unwind(Unwind::Trap { kind, pc }, buf) }
        }
    }
    // SAFETY: called with the arguments the kernel gave us.
    unsafe { chain(signal, info, context) }
}

/// Hands a fault that is not ours to whoever handled it before.
unsafe fn chain(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let index = SIGNALS
        .iter()
        .position(|&s| s == signal)
        .expect("handled signal");
    // SAFETY: PREVIOUS was filled before our handler was installed and is
    // never written again.
    let previous = unsafe { (*std::ptr::addr_of!(PREVIOUS))[index].assume_init_ref() };
    if previous.sa_flags & libc::SA_SIGINFO != 0 {
        let f: unsafe extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            // SAFETY: SA_SIGINFO means sa_sigaction holds such a function.
            unsafe { std::mem::transmute(previous.sa_sigaction) };
        // SAFETY: forwarding the kernel's own arguments.
        unsafe { f(signal, info, context) }
    } else if previous.sa_sigaction == libc::SIG_DFL || previous.sa_sigaction == libc::SIG_IGN {
        // Restore the default and return: the faulting instruction runs
        // again and the kernel applies the default action (a core dump).
        // SAFETY: installing a plain default action.
        unsafe { libc::sigaction(signal, previous, std::ptr::null_mut()) };
    } else {
        let f: unsafe extern "C" fn(libc::c_int) =
            // SAFETY: without SA_SIGINFO, sa_sigaction holds a plain handler.
            unsafe { std::mem::transmute(previous.sa_sigaction) };
        // SAFETY: forwarding the signal number.
        unsafe { f(signal) }
    }
}
