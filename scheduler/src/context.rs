//! Switching between execution contexts in user space.
//!
//! A context is a stack pointer. [`switch`] pushes the callee-saved
//! registers and the floating-point control state of the current context on
//! its stack, records the stack pointer, and pops those of the target: a
//! plain function call and return from each side's point of view, so the
//! compiler saves everything else around it. No system call is involved.

use crate::stack::Stack;
use std::arch::global_asm;

/// A suspended execution context: where its stack pointer was saved.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Context {
    sp: usize,
}

/// Code a new context starts in. It receives the argument given to
/// [`Context::new`] and must never return: it ends by switching away for the
/// last time.
pub type Entry = unsafe extern "C" fn(arg: usize) -> !;

extern "C" {
    fn luge_context_switch(save: *mut Context, to: *const Context);
    fn luge_context_start();
}

/// Suspends the current context into `save` and resumes `to`.
///
/// # Safety
/// `to` must hold a context saved by a previous `switch` or made by
/// [`Context::new`], whose stack is still alive and not running anywhere.
/// `save` is overwritten and must stay valid until it is resumed.
#[inline]
pub unsafe fn switch(save: &mut Context, to: &Context) {
    // SAFETY: per the contract above.
    unsafe { luge_context_switch(save, to) }
}

impl Context {
    /// A context that will start running `entry(arg)` on `stack` when first
    /// switched to.
    ///
    /// # Safety
    /// `stack` must outlive every switch to this context, and `entry` must
    /// never return.
    pub unsafe fn new(stack: &Stack, entry: Entry, arg: usize) -> Context {
        let top = stack.top() & !15;
        let frame = initial_frame(entry, arg);
        // Once the switch has popped the frame, including the return
        // address, the stack pointer is `top`: 16-byte aligned, as the ABI
        // requires before the start code's call.
        let sp = top - frame.len() * 8;
        // SAFETY: the frame lies in the top bytes of the stack's usable,
        // writable range.
        unsafe {
            std::ptr::copy_nonoverlapping(frame.as_ptr(), sp as *mut usize, frame.len());
        }
        Context { sp }
    }
}

// ---- x86_64 (System V) ----------------------------------------------------
//
// Frame pushed by a switch, lowest address first:
//   [mxcsr | x87 control word] r15 r14 r13 r12 rbx rbp <return address>

#[cfg(target_arch = "x86_64")]
global_asm!(
    ".text",
    ".global luge_context_switch",
    ".type luge_context_switch, @function",
    "luge_context_switch:",
    "    push rbp",
    "    push rbx",
    "    push r12",
    "    push r13",
    "    push r14",
    "    push r15",
    "    sub rsp, 8",
    "    stmxcsr [rsp]",
    "    fnstcw [rsp + 4]",
    "    mov [rdi], rsp",
    "    mov rsp, [rsi]",
    "    ldmxcsr [rsp]",
    "    fldcw [rsp + 4]",
    "    add rsp, 8",
    "    pop r15",
    "    pop r14",
    "    pop r13",
    "    pop r12",
    "    pop rbx",
    "    pop rbp",
    "    ret",
    ".size luge_context_switch, . - luge_context_switch",
    // First code of a new context: r12 holds the entry, r13 its argument.
    // The stack pointer is 16-byte aligned here, as a call requires.
    ".global luge_context_start",
    ".type luge_context_start, @function",
    "luge_context_start:",
    "    mov rdi, r13",
    "    call r12",
    "    ud2",
    ".size luge_context_start, . - luge_context_start",
);

#[cfg(target_arch = "x86_64")]
fn initial_frame(entry: Entry, arg: usize) -> [usize; 8] {
    // Default MXCSR (all exceptions masked, round to nearest) and x87
    // control word, packed in one slot.
    let fp_control = 0x1f80 | (0x037f << 32);
    [
        fp_control,
        0,                                        // r15
        0,                                        // r14
        arg,                                      // r13
        entry as usize,                           // r12
        0,                                        // rbx
        0,                                        // rbp
        luge_context_start as *const () as usize, // return address
    ]
}

// ---- aarch64 (AAPCS64) ----------------------------------------------------
//
// Frame pushed by a switch, lowest address first:
//   x19..x28, x29 (fp), x30 (lr), d8..d15, fpcr, padding

#[cfg(target_arch = "aarch64")]
global_asm!(
    ".text",
    ".global luge_context_switch",
    ".type luge_context_switch, %function",
    "luge_context_switch:",
    "    sub sp, sp, #176",
    "    stp x19, x20, [sp, #0]",
    "    stp x21, x22, [sp, #16]",
    "    stp x23, x24, [sp, #32]",
    "    stp x25, x26, [sp, #48]",
    "    stp x27, x28, [sp, #64]",
    "    stp x29, x30, [sp, #80]",
    "    stp d8, d9, [sp, #96]",
    "    stp d10, d11, [sp, #112]",
    "    stp d12, d13, [sp, #128]",
    "    stp d14, d15, [sp, #144]",
    "    mrs x9, fpcr",
    "    str x9, [sp, #160]",
    "    mov x9, sp",
    "    str x9, [x0]",
    "    ldr x9, [x1]",
    "    mov sp, x9",
    "    ldr x9, [sp, #160]",
    "    msr fpcr, x9",
    "    ldp x19, x20, [sp, #0]",
    "    ldp x21, x22, [sp, #16]",
    "    ldp x23, x24, [sp, #32]",
    "    ldp x25, x26, [sp, #48]",
    "    ldp x27, x28, [sp, #64]",
    "    ldp x29, x30, [sp, #80]",
    "    ldp d8, d9, [sp, #96]",
    "    ldp d10, d11, [sp, #112]",
    "    ldp d12, d13, [sp, #128]",
    "    ldp d14, d15, [sp, #144]",
    "    add sp, sp, #176",
    "    ret",
    ".size luge_context_switch, . - luge_context_switch",
    // First code of a new context: x19 holds the entry, x20 its argument.
    ".global luge_context_start",
    ".type luge_context_start, %function",
    "luge_context_start:",
    "    mov x0, x20",
    "    blr x19",
    "    brk #0",
    ".size luge_context_start, . - luge_context_start",
);

#[cfg(target_arch = "aarch64")]
fn initial_frame(entry: Entry, arg: usize) -> [usize; 22] {
    let mut frame = [0usize; 22];
    frame[0] = entry as usize; // x19
    frame[1] = arg; // x20
    frame[11] = luge_context_start as *const () as usize; // x30: where `ret` goes
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// What a test coroutine needs: its own context and the one to return to.
    struct PingPong {
        main: Context,
        coroutine: Context,
        counter: Cell<u64>,
        float: Cell<f64>,
    }

    unsafe extern "C" fn count_up(arg: usize) -> ! {
        // SAFETY: the test passes a `PingPong` that outlives the coroutine.
        let state = unsafe { &mut *(arg as *mut PingPong) };
        loop {
            // A 16-byte aligned local, placed by trusting the ABI's stack
            // alignment: misaligned if the initial frame was wrong.
            let probe = std::hint::black_box(1u128);
            assert_eq!(std::hint::black_box(&probe) as *const u128 as usize % 16, 0);
            state.counter.set(state.counter.get() + 1);
            // Floating-point state must survive switches too.
            state.float.set(state.float.get() * 2.0 + 0.5);
            let (main, coroutine) = (
                &state.main as *const Context,
                &mut state.coroutine as *mut Context,
            );
            // SAFETY: `main` was saved by the switch that resumed us.
            unsafe { switch(&mut *coroutine, &*main) };
        }
    }

    #[test]
    fn switches_back_and_forth_keeping_state() {
        let stack = Stack::new(64 << 10).unwrap();
        let mut state = PingPong {
            main: Context::default(),
            coroutine: Context::default(),
            counter: Cell::new(0),
            float: Cell::new(1.0),
        };
        let arg = &mut state as *mut PingPong as usize;
        // SAFETY: the stack outlives the coroutine's use within this test.
        state.coroutine = unsafe { Context::new(&stack, count_up, arg) };
        let local = 7u64;
        for i in 1..=1000u64 {
            let (main, coroutine) = (
                &mut state.main as *mut Context,
                &state.coroutine as *const Context,
            );
            // SAFETY: the coroutine context is either fresh or saved by its
            // own last switch; its stack is alive.
            unsafe { switch(&mut *main, &*coroutine) };
            assert_eq!(state.counter.get(), i);
        }
        assert_eq!(local, 7, "our own frame survived");
        let mut expected = 1.0f64;
        for _ in 0..1000 {
            expected = expected * 2.0 + 0.5;
        }
        assert_eq!(state.float.get(), expected);
    }
}
