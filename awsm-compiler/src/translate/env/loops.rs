//! What compiled code does at function entries and loop headers: the
//! interruption check, and in `software` bounds mode the preloaded memory
//! length that the loop's bounds checks reuse.

use super::FuncEnv;
use cranelift_codegen::ir::{types, InstBuilder, MemFlags, TrapCode};
use cranelift_frontend::FunctionBuilder;
use cranelift_wasm::{FuncEnvironment, HeapStyle, MemoryIndex, WasmResult};
use luge_abi::{offsets, BoundsMode};

impl FuncEnv<'_, '_> {
    /// The interruption check: two loads and a branch; when the flag is set
    /// the code traps with `Interrupted` and the runtime takes over.
    pub(super) fn interrupt_check(&self, builder: &mut FunctionBuilder) {
        if !self.opts.interrupt_checks {
            return;
        }
        let vmctx = Self::vmctx(builder.func);
        let limits =
            builder
                .ins()
                .load(self.ptr(), Self::readonly(), vmctx, offsets::LIMITS as i32);
        // An atomic load: another thread sets the flag, so the load must
        // be repeated every time (a plain load would be merged with the
        // previous one when no store lies between them).
        let flag = builder
            .ins()
            .iadd_imm(limits, i64::from(offsets::INTERRUPT));
        let flag = builder
            .ins()
            .atomic_load(types::I64, MemFlags::trusted(), flag);
        // A conditional trap, not a call: a call on the slow path would
        // clobber registers across every loop and make the register
        // allocator spill loop-carried values and reload loop invariants.
        builder.ins().trapnz(flag, TrapCode::Interrupt);
    }

    /// In `software` mode, loads the memory length at a loop header. The
    /// load itself is cheap; what it buys is that Cranelift's redundant-load
    /// elimination then replaces the length load of every bounds check in
    /// the loop by this dominating one, and the outer loop's by the
    /// outermost: the length is not `readonly` (memory.grow and host calls
    /// change it), but alias analysis knows that only calls and non-heap,
    /// non-table stores can, and loop nests without calls have neither.
    /// Without it every access reloads the length, as nothing dominates the
    /// loads inside the loop.
    pub(super) fn preload_bound(&mut self, builder: &mut FunctionBuilder) -> WasmResult<()> {
        if self.opts.bounds != BoundsMode::Software || self.module.memory.is_none() {
            return Ok(());
        }
        let heap = self.make_heap(builder.func, MemoryIndex::from_u32(0))?;
        if let HeapStyle::Dynamic { bound_gv } = self.heaps[heap].style {
            // Unused when the loop has no access: dead code elimination
            // removes it (the load cannot trap).
            builder.ins().global_value(types::I64, bound_gv);
        }
        Ok(())
    }
}
