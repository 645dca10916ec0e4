//! Layout of the per-sandbox context that compiled code addresses directly.
//!
//! Every compiled function receives a `*mut VmCtx` as its first argument.
//! The context starts with the fixed [`VmCtx`] header and is followed by
//! module-specific arrays whose offsets [`VmLayout`] computes from the
//! module's entity counts. The compiler bakes these offsets into code, the
//! runtime fills the arrays at instantiation; both call [`VmLayout::new`].

use std::mem::{align_of, offset_of, size_of};
use std::sync::atomic::{AtomicU64, AtomicUsize};

/// Fixed header of a sandbox context.
#[repr(C)]
pub struct VmCtx {
    /// Base of linear memory. Memories never move, so this is read-only for
    /// the life of the sandbox (and equal to the base of an imported memory).
    pub memory_base: *mut u8,
    /// The memory in use, own or imported. Its `length` changes on growth.
    pub memory: *mut VmMemory,
    /// Limits shared by every instance of one sandbox.
    pub limits: *const VmLimits,
    /// Functions compiled code calls for operations it does not inline.
    pub builtins: *const Builtins,
    /// Opaque pointer for the runtime (its instance).
    pub host: *mut u8,
}

/// State shared by all instances that run as one sandbox, read by compiled
/// code through [`VmCtx::limits`].
#[repr(C)]
pub struct VmLimits {
    /// Lowest stack address compiled code may use; function prologues trap
    /// with `StackOverflow` below it.
    pub stack_limit: AtomicUsize,
    /// Non-zero makes compiled code trap with `Interrupted` at its next
    /// loop header or function entry. Written by other threads.
    pub interrupt: AtomicU64,
}

/// A linear memory as seen by compiled code.
#[repr(C)]
pub struct VmMemory {
    pub base: *mut u8,
    /// Current length in bytes.
    pub length: u64,
}

/// A table as seen by compiled code: `length` elements of one pointer-sized
/// word each (a `*const VmFuncRef` for funcref tables, a host value for
/// externref tables; 0 is null in both).
#[repr(C)]
pub struct VmTable {
    pub elements: *mut usize,
    pub length: u64,
}

/// An imported function: its code and the context it must be called with.
#[repr(C)]
pub struct VmFuncImport {
    pub code: *const u8,
    pub vmctx: *mut VmCtx,
}

/// What a funcref value points to.
#[repr(C)]
pub struct VmFuncRef {
    pub code: *const u8,
    /// Process-wide canonical id of the function's signature.
    pub type_id: u64,
    pub vmctx: *mut VmCtx,
}

/// Storage of one global: 16 bytes, 16-aligned, so that compiled code may
/// load and store a `v128` global with aligned vector instructions.
#[repr(C, align(16))]
pub struct VmGlobal {
    /// The value, in the low bytes for narrower types.
    pub bits: u128,
}

/// Callbacks from compiled code into the runtime. Each returns 0 on success
/// or, where noted, `u32::MAX` for "cannot grow"; a non-zero status from an
/// operation that can trap makes compiled code trap with the kind documented
/// in the compiler.
#[repr(C)]
pub struct Builtins {
    /// `(vmctx, delta_pages) -> old_pages | u32::MAX`
    pub memory_grow: unsafe extern "C" fn(*mut VmCtx, u32) -> u32,
    /// `(vmctx, dst, src, len) -> status`
    pub memory_copy: unsafe extern "C" fn(*mut VmCtx, u32, u32, u32) -> u32,
    /// `(vmctx, dst, byte, len) -> status`
    pub memory_fill: unsafe extern "C" fn(*mut VmCtx, u32, u32, u32) -> u32,
    /// `(vmctx, segment, dst, src, len) -> status`
    pub memory_init: unsafe extern "C" fn(*mut VmCtx, u32, u32, u32, u32) -> u32,
    /// `(vmctx, segment)`
    pub data_drop: unsafe extern "C" fn(*mut VmCtx, u32),
    /// `(vmctx, table, delta, init) -> old_length | u32::MAX`
    pub table_grow: unsafe extern "C" fn(*mut VmCtx, u32, u32, usize) -> u32,
    /// `(vmctx, dst_table, src_table, dst, src, len) -> status`
    pub table_copy: unsafe extern "C" fn(*mut VmCtx, u32, u32, u32, u32, u32) -> u32,
    /// `(vmctx, table, dst, value, len) -> status`
    pub table_fill: unsafe extern "C" fn(*mut VmCtx, u32, u32, usize, u32) -> u32,
    /// `(vmctx, table, segment, dst, src, len) -> status`
    pub table_init: unsafe extern "C" fn(*mut VmCtx, u32, u32, u32, u32, u32) -> u32,
    /// `(vmctx, segment)`
    pub elem_drop: unsafe extern "C" fn(*mut VmCtx, u32),
    /// `(vmctx, kind)`: ends the sandbox with the trap of [`crate::TrapKind`]
    /// discriminant `kind`; never returns. How opt-tier code traps.
    pub trap: unsafe extern "C" fn(*mut VmCtx, u32) -> !,
}

/// Offsets of the [`VmCtx`] header fields, as compiled code uses them.
pub mod offsets {
    use super::*;
    pub const MEMORY_BASE: u32 = offset_of!(VmCtx, memory_base) as u32;
    pub const MEMORY: u32 = offset_of!(VmCtx, memory) as u32;
    pub const LIMITS: u32 = offset_of!(VmCtx, limits) as u32;
    pub const STACK_LIMIT: u32 = offset_of!(VmLimits, stack_limit) as u32;
    pub const INTERRUPT: u32 = offset_of!(VmLimits, interrupt) as u32;
    pub const BUILTINS: u32 = offset_of!(VmCtx, builtins) as u32;
    pub const MEMORY_LENGTH: u32 = offset_of!(VmMemory, length) as u32;
    pub const TABLE_ELEMENTS: u32 = offset_of!(VmTable, elements) as u32;
    pub const TABLE_LENGTH: u32 = offset_of!(VmTable, length) as u32;
    pub const IMPORT_CODE: u32 = offset_of!(VmFuncImport, code) as u32;
    pub const IMPORT_VMCTX: u32 = offset_of!(VmFuncImport, vmctx) as u32;
    pub const FUNCREF_CODE: u32 = offset_of!(VmFuncRef, code) as u32;
    pub const FUNCREF_TYPE_ID: u32 = offset_of!(VmFuncRef, type_id) as u32;
    pub const FUNCREF_VMCTX: u32 = offset_of!(VmFuncRef, vmctx) as u32;

    /// Offset of a builtin's function pointer inside [`Builtins`].
    pub const fn builtin(index: usize) -> u32 {
        (index * size_of::<usize>()) as u32
    }
}

/// Index of each builtin in [`Builtins`], for [`offsets::builtin`].
pub mod builtin_index {
    pub const MEMORY_GROW: usize = 0;
    pub const MEMORY_COPY: usize = 1;
    pub const MEMORY_FILL: usize = 2;
    pub const MEMORY_INIT: usize = 3;
    pub const DATA_DROP: usize = 4;
    pub const TABLE_GROW: usize = 5;
    pub const TABLE_COPY: usize = 6;
    pub const TABLE_FILL: usize = 7;
    pub const TABLE_INIT: usize = 8;
    pub const ELEM_DROP: usize = 9;
    pub const TRAP: usize = 10;
}

/// Entity counts that determine where the variable part of a context lies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VmCounts {
    pub types: u32,
    pub imported_funcs: u32,
    /// All functions, imported ones first.
    pub funcs: u32,
    pub imported_tables: u32,
    /// All tables, imported ones first.
    pub tables: u32,
    pub imported_globals: u32,
    /// All globals, imported ones first.
    pub globals: u32,
}

/// Offsets (from the start of the context) of the variable-size arrays:
///
/// ```text
/// VmCtx header
/// [VmFuncImport; imported_funcs]
/// [*mut VmTable; tables]          every table, own or imported
/// [*mut VmGlobal; imported_globals]
/// [VmGlobal; defined globals]
/// [VmFuncRef; funcs]              what `ref.func i` points to
/// [u64; types]                    canonical signature id of each type index
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmLayout {
    pub counts: VmCounts,
    pub imported_funcs: u32,
    pub table_ptrs: u32,
    pub imported_globals: u32,
    pub defined_globals: u32,
    pub funcrefs: u32,
    pub type_ids: u32,
    /// Total size in bytes.
    pub size: u32,
}

impl VmLayout {
    pub fn new(counts: VmCounts) -> VmLayout {
        let mut at = size_of::<VmCtx>();
        // Each array starts at a multiple of its element's alignment (the
        // context itself is allocated 16-aligned).
        let mut array = |count: u32, elem: usize, align: usize| {
            at = at.next_multiple_of(align);
            let start = at;
            at += count as usize * elem;
            start as u32
        };
        let imported_funcs = array(
            counts.imported_funcs,
            size_of::<VmFuncImport>(),
            align_of::<VmFuncImport>(),
        );
        let table_ptrs = array(counts.tables, size_of::<usize>(), align_of::<usize>());
        let imported_globals = array(
            counts.imported_globals,
            size_of::<usize>(),
            align_of::<usize>(),
        );
        let defined_globals = array(
            counts.globals - counts.imported_globals,
            size_of::<VmGlobal>(),
            align_of::<VmGlobal>(),
        );
        let funcrefs = array(
            counts.funcs,
            size_of::<VmFuncRef>(),
            align_of::<VmFuncRef>(),
        );
        let type_ids = array(counts.types, size_of::<u64>(), align_of::<u64>());
        VmLayout {
            counts,
            imported_funcs,
            table_ptrs,
            imported_globals,
            defined_globals,
            funcrefs,
            type_ids,
            size: at as u32,
        }
    }

    pub fn imported_func(&self, index: u32) -> u32 {
        debug_assert!(index < self.counts.imported_funcs);
        self.imported_funcs + index * size_of::<VmFuncImport>() as u32
    }

    pub fn table_ptr(&self, index: u32) -> u32 {
        debug_assert!(index < self.counts.tables);
        self.table_ptrs + index * size_of::<usize>() as u32
    }

    pub fn imported_global(&self, index: u32) -> u32 {
        debug_assert!(index < self.counts.imported_globals);
        self.imported_globals + index * size_of::<usize>() as u32
    }

    /// Storage of defined global `index` (counted among defined globals only).
    pub fn defined_global(&self, index: u32) -> u32 {
        self.defined_globals + index * size_of::<VmGlobal>() as u32
    }

    pub fn funcref(&self, index: u32) -> u32 {
        debug_assert!(index < self.counts.funcs);
        self.funcrefs + index * size_of::<VmFuncRef>() as u32
    }

    pub fn type_id(&self, index: u32) -> u32 {
        debug_assert!(index < self.counts.types);
        self.type_ids + index * size_of::<u64>() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The compiler emits loads at these exact offsets; a reordering of the
    /// header must be a deliberate ABI change.
    #[test]
    fn header_layout_is_what_compiled_code_assumes() {
        assert_eq!(offsets::MEMORY_BASE, 0);
        assert_eq!(offsets::MEMORY, 8);
        assert_eq!(offsets::LIMITS, 16);
        assert_eq!(offsets::BUILTINS, 24);
        assert_eq!(offset_of!(VmCtx, host), 32);
        assert_eq!(size_of::<VmCtx>(), 40);
        assert_eq!(offsets::STACK_LIMIT, 0);
        assert_eq!(offsets::INTERRUPT, 8);
        assert_eq!(offsets::MEMORY_LENGTH, 8);
        assert_eq!(offsets::TABLE_LENGTH, 8);
        assert_eq!(offsets::FUNCREF_TYPE_ID, 8);
        assert_eq!(offsets::FUNCREF_VMCTX, 16);
        assert_eq!(size_of::<VmFuncRef>(), 24);
        assert_eq!(size_of::<VmFuncImport>(), 16);
    }

    #[test]
    fn builtin_offsets_follow_struct_order() {
        use builtin_index::*;
        assert_eq!(
            offsets::builtin(MEMORY_GROW),
            offset_of!(Builtins, memory_grow) as u32
        );
        assert_eq!(
            offsets::builtin(MEMORY_INIT),
            offset_of!(Builtins, memory_init) as u32
        );
        assert_eq!(
            offsets::builtin(TABLE_INIT),
            offset_of!(Builtins, table_init) as u32
        );
        assert_eq!(
            offsets::builtin(ELEM_DROP),
            offset_of!(Builtins, elem_drop) as u32
        );
        assert_eq!(offsets::builtin(TRAP), offset_of!(Builtins, trap) as u32);
        assert_eq!(size_of::<Builtins>(), (TRAP + 1) * size_of::<usize>());
    }

    #[test]
    fn arrays_are_contiguous_and_aligned() {
        let layout = VmLayout::new(VmCounts {
            types: 3,
            imported_funcs: 2,
            funcs: 5,
            imported_tables: 1,
            tables: 2,
            imported_globals: 1,
            globals: 4,
        });
        assert_eq!(layout.imported_funcs, 40);
        assert_eq!(layout.table_ptrs, 40 + 2 * 16);
        assert_eq!(layout.imported_globals, layout.table_ptrs + 2 * 8);
        // Globals are 16 bytes on a 16-byte boundary (v128).
        assert_eq!(layout.defined_globals, layout.imported_globals + 8);
        assert_eq!(layout.defined_globals % 16, 0);
        assert_eq!(layout.funcrefs, layout.defined_globals + 3 * 16);
        assert_eq!(layout.type_ids, layout.funcrefs + 5 * 24);
        assert_eq!(layout.size, layout.type_ids + 3 * 8);
        assert_eq!(layout.size % 8, 0);
        assert_eq!(layout.funcref(4), layout.funcrefs + 96);
    }
}
