//! The functions compiled code calls for what it does not inline. Each
//! finds its instance through `VmCtx::host` and reports failure with a
//! non-zero status; the compiled caller turns that into the right trap.

use crate::instance::InstanceInner;
use crate::sys;
use luge_abi::{Builtins, TrapKind, VmCtx};

pub(crate) static BUILTINS: Builtins = Builtins {
    memory_grow,
    memory_copy,
    memory_fill,
    memory_init,
    data_drop,
    table_grow,
    table_copy,
    table_fill,
    table_init,
    elem_drop,
    trap,
};

const OK: u32 = 0;
const FAILED: u32 = 1;

fn status(ok: Option<()>) -> u32 {
    if ok.is_some() {
        OK
    } else {
        FAILED
    }
}

/// Runs a builtin's `body` on the instance whose code is calling; a panic
/// in it ends that sandbox instead of the process ([`sys::host_call`]).
///
/// # Safety
/// `vmctx` must be the context compiled code passed in, and the caller's
/// frame must own nothing that needs dropping outside `body`.
unsafe fn on_instance<R>(vmctx: *mut VmCtx, body: impl FnOnce(&InstanceInner) -> R) -> R {
    // SAFETY: per the contract above: compiled code is running on this
    // thread and passed its own context.
    unsafe { sys::host_call(|| body(InstanceInner::from_vmctx(vmctx))) }
}

unsafe extern "C" fn memory_grow(vmctx: *mut VmCtx, delta: u32) -> u32 {
    // SAFETY: called by compiled code with its own context; the
    // builtin's frame owns nothing outside the closure.
    unsafe {
        on_instance(vmctx, |inst| {
            inst.memory
                .as_ref()
                .and_then(|m| m.grow(delta))
                .unwrap_or(u32::MAX)
        })
    }
}

unsafe extern "C" fn memory_copy(vmctx: *mut VmCtx, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: called by compiled code with its own context; the
    // builtin's frame owns nothing outside the closure.
    unsafe {
        on_instance(vmctx, |inst| {
            status((|| {
                inst.memory
                    .as_ref()?
                    .copy_within(u64::from(dst), u64::from(src), u64::from(len))
            })())
        })
    }
}

unsafe extern "C" fn memory_fill(vmctx: *mut VmCtx, dst: u32, byte: u32, len: u32) -> u32 {
    // SAFETY: called by compiled code with its own context; the
    // builtin's frame owns nothing outside the closure.
    unsafe {
        on_instance(vmctx, |inst| {
            status((|| {
                inst.memory
                    .as_ref()?
                    .fill(u64::from(dst), u64::from(len), byte as u8)
            })())
        })
    }
}

unsafe extern "C" fn memory_init(
    vmctx: *mut VmCtx,
    segment: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: called by compiled code with its own context; the
    // builtin's frame owns nothing outside the closure.
    unsafe {
        on_instance(vmctx, |inst| {
            status((|| {
                let seg = &inst.module.descriptor().data[segment as usize];
                let bytes: &[u8] = if inst.dropped_data[segment as usize].get() {
                    &[]
                } else {
                    &seg.bytes
                };
                let src = bytes.get(src as usize..(src as usize).checked_add(len as usize)?)?;
                inst.memory.as_ref()?.write(u64::from(dst), src)
            })())
        })
    }
}

unsafe extern "C" fn data_drop(vmctx: *mut VmCtx, segment: u32) {
    // SAFETY: called by compiled code with its own context; the
    // builtin's frame owns nothing outside the closure.
    unsafe {
        on_instance(vmctx, |inst| {
            inst.dropped_data[segment as usize].set(true);
        })
    }
}

unsafe extern "C" fn table_grow(vmctx: *mut VmCtx, table: u32, delta: u32, init: usize) -> u32 {
    // SAFETY: called by compiled code with its own context; the
    // builtin's frame owns nothing outside the closure.
    unsafe {
        on_instance(vmctx, |inst| {
            inst.tables[table as usize]
                .grow(delta, init)
                .unwrap_or(u32::MAX)
        })
    }
}

unsafe extern "C" fn table_copy(
    vmctx: *mut VmCtx,
    dst_table: u32,
    src_table: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: called by compiled code with its own context; the
    // builtin's frame owns nothing outside the closure.
    unsafe {
        on_instance(vmctx, |inst| {
            status((|| {
                let source = inst.tables[src_table as usize].read(src, len)?;
                inst.tables[dst_table as usize].write(dst, &source)
            })())
        })
    }
}

unsafe extern "C" fn table_fill(
    vmctx: *mut VmCtx,
    table: u32,
    dst: u32,
    value: usize,
    len: u32,
) -> u32 {
    // SAFETY: called by compiled code with its own context; the
    // builtin's frame owns nothing outside the closure.
    unsafe {
        on_instance(vmctx, |inst| {
            status(inst.tables[table as usize].fill(dst, len, value))
        })
    }
}

unsafe extern "C" fn table_init(
    vmctx: *mut VmCtx,
    table: u32,
    segment: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: called by compiled code with its own context; the
    // builtin's frame owns nothing outside the closure.
    unsafe {
        on_instance(vmctx, |inst| {
            status((|| {
                let seg = &inst.module.descriptor().elements[segment as usize];
                let items = if inst.dropped_elems[segment as usize].get() {
                    &[][..]
                } else {
                    &seg.items[..]
                };
                let items = items.get(src as usize..(src as usize).checked_add(len as usize)?)?;
                let values: Vec<usize> =
                    items.iter().map(|item| inst.eval(item) as usize).collect();
                inst.tables[table as usize].write(dst, &values)
            })())
        })
    }
}

unsafe extern "C" fn elem_drop(vmctx: *mut VmCtx, segment: u32) {
    // SAFETY: called by compiled code with its own context; the
    // builtin's frame owns nothing outside the closure.
    unsafe {
        on_instance(vmctx, |inst| {
            inst.dropped_elems[segment as usize].set(true);
        })
    }
}

/// Ends the calling sandbox with the trap whose discriminant is `kind`: how
/// opt-tier code traps, where Cranelift's code faults at a recorded site.
unsafe extern "C" fn trap(_vmctx: *mut VmCtx, kind: u32) -> ! {
    let kind = u8::try_from(kind)
        .ok()
        .and_then(TrapKind::from_u8)
        .unwrap_or(TrapKind::Unreachable);
    // SAFETY: compiled code called this on its own thread; this frame
    // owns nothing that needs dropping.
    unsafe { sys::raise(sys::Unwind::Trap { kind, pc: 0 }) }
}
