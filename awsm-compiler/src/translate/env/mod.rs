//! The `FuncEnvironment` that tells cranelift-wasm how our sandboxes are
//! laid out: where memory, globals, tables and imports live in the `VmCtx`,
//! how bounds are checked and where interruption checks go.
//!
//! The trait implementation stays here in one piece, as a trait impl must;
//! the helpers it builds on live by concern: `tables` (element addresses),
//! `builtins` (calls into the runtime), `loops` (interruption checks and
//! the bound preload) and `traps` (trap codes and kinds).

use super::signature::{ir_type, wasm_signature};
use crate::module::ModuleInfo;
use crate::CompileOptions;
use cranelift_codegen::cursor::FuncCursor;
use cranelift_codegen::ir::{
    self, condcodes::IntCC, types, AliasRegion, ArgumentPurpose, ExtFuncData, ExternalName,
    GlobalValueData, InstBuilder, MemFlags, TrapCode, UserExternalName,
};
use cranelift_codegen::isa::TargetFrontendConfig;
use cranelift_entity::{EntityRef, PrimaryMap};
use cranelift_frontend::FunctionBuilder;
use cranelift_wasm::{
    EngineOrModuleTypeIndex, FuncEnvironment, FuncIndex, FuncTranslationState, GlobalIndex,
    GlobalVariable, Heap, HeapData, HeapStyle, MemoryIndex, ModuleInternedTypeIndex, TableIndex,
    TargetEnvironment, TypeConvert, TypeIndex, WasmError, WasmHeapType, WasmResult,
};
use luge_abi::{
    builtin_index, offsets, BoundsMode, TrapKind, VmLayout, GUARD_SIZE, SOFTWARE_GUARD_SIZE,
    WASM_PAGE_SIZE,
};
use wasmparser::UnpackedIndex;

mod builtins;
mod loops;
mod tables;
mod traps;

pub use traps::{trap_kind, user_trap};

/// Namespace of `UserExternalName`s that name defined wasm functions; the
/// index is the `FuncId` in the object module.
pub const WASM_FUNC_NAMESPACE: u32 = 0;

pub struct FuncEnv<'m, 'a> {
    module: &'m ModuleInfo<'a>,
    layout: &'m VmLayout,
    config: TargetFrontendConfig,
    opts: &'m CompileOptions,
    heaps: PrimaryMap<Heap, HeapData>,
    /// The heap of memory 0 once made: it is made at most once per function,
    /// so that every access and every loop-header bound load (see
    /// [`FuncEnv::preload_bound`]) reads the same global values.
    memory_heap: Option<Heap>,
}

impl<'m, 'a> FuncEnv<'m, 'a> {
    pub fn new(
        module: &'m ModuleInfo<'a>,
        layout: &'m VmLayout,
        config: TargetFrontendConfig,
        opts: &'m CompileOptions,
    ) -> Self {
        FuncEnv {
            module,
            layout,
            config,
            opts,
            heaps: PrimaryMap::new(),
            memory_heap: None,
        }
    }

    fn ptr(&self) -> ir::Type {
        self.config.pointer_type()
    }

    /// Flags for loads of context fields that never change while code runs.
    fn readonly() -> MemFlags {
        MemFlags::trusted().with_readonly()
    }

    fn vmctx(func: &ir::Function) -> ir::Value {
        func.special_param(ArgumentPurpose::VMContext)
            .expect("every wasm function takes a vmctx")
    }

    fn load_readonly_gv(
        &self,
        func: &mut ir::Function,
        base: ir::GlobalValue,
        offset: u32,
    ) -> ir::GlobalValue {
        func.create_global_value(GlobalValueData::Load {
            base,
            offset: (offset as i32).into(),
            global_type: self.ptr(),
            flags: Self::readonly(),
        })
    }
}

impl TypeConvert for FuncEnv<'_, '_> {
    fn lookup_heap_type(&self, index: UnpackedIndex) -> WasmHeapType {
        WasmHeapType::ConcreteFunc(self.lookup_type_index(index))
    }

    fn lookup_type_index(&self, index: UnpackedIndex) -> EngineOrModuleTypeIndex {
        let index = index.as_module_index().unwrap_or(0);
        EngineOrModuleTypeIndex::Module(ModuleInternedTypeIndex::from_u32(index))
    }
}

impl TargetEnvironment for FuncEnv<'_, '_> {
    fn target_config(&self) -> TargetFrontendConfig {
        self.config
    }

    /// cranelift-wasm then guards the checks it emits (software bounds;
    /// guard bounds need none) with `select_spectre_guard`: an address past
    /// the end becomes null, whose page faults, and the fault is the trap.
    fn heap_access_spectre_mitigation(&self) -> bool {
        self.opts.spectre
    }

    fn proof_carrying_code(&self) -> bool {
        false
    }

    fn reference_type(&self, _ty: WasmHeapType) -> (ir::Type, bool) {
        (self.ptr(), false)
    }
}

impl FuncEnvironment for FuncEnv<'_, '_> {
    fn param_needs_stack_map(&self, _signature: &ir::Signature, _index: usize) -> bool {
        false
    }

    fn sig_ref_result_needs_stack_map(&self, _sig_ref: ir::SigRef, _index: usize) -> bool {
        false
    }

    fn func_ref_result_needs_stack_map(
        &self,
        _func: &ir::Function,
        _func_ref: ir::FuncRef,
        _index: usize,
    ) -> bool {
        false
    }

    fn make_global(
        &mut self,
        func: &mut ir::Function,
        index: GlobalIndex,
    ) -> WasmResult<GlobalVariable> {
        let (ty, _) = self.module.globals[index.index()];
        let ty = ir_type(ty.ty, self.ptr());
        let vmctx = func.create_global_value(GlobalValueData::VMContext);
        let imported = self.layout.counts.imported_globals;
        Ok(if index.as_u32() < imported {
            let gv =
                self.load_readonly_gv(func, vmctx, self.layout.imported_global(index.as_u32()));
            GlobalVariable::Memory {
                gv,
                offset: 0.into(),
                ty,
            }
        } else {
            let at = self.layout.defined_global(index.as_u32() - imported);
            GlobalVariable::Memory {
                gv: vmctx,
                offset: (at as i32).into(),
                ty,
            }
        })
    }

    fn heaps(&self) -> &PrimaryMap<Heap, HeapData> {
        &self.heaps
    }

    fn make_heap(&mut self, func: &mut ir::Function, index: MemoryIndex) -> WasmResult<Heap> {
        if let Some(heap) = self.memory_heap.filter(|_| index.as_u32() == 0) {
            return Ok(heap);
        }
        let memory = self
            .module
            .memory
            .filter(|_| index.as_u32() == 0)
            .ok_or_else(|| WasmError::Unsupported("multiple memories".into()))?;
        let vmctx = func.create_global_value(GlobalValueData::VMContext);
        let base = self.load_readonly_gv(func, vmctx, offsets::MEMORY_BASE);
        let (style, offset_guard_size) = match self.opts.bounds {
            BoundsMode::Guard => (HeapStyle::Static { bound: 1 << 32 }, GUARD_SIZE),
            BoundsMode::Software => {
                let definition = self.load_readonly_gv(func, vmctx, offsets::MEMORY);
                let bound_gv = func.create_global_value(GlobalValueData::Load {
                    base: definition,
                    offset: (offsets::MEMORY_LENGTH as i32).into(),
                    global_type: types::I64,
                    // Its own alias region: compiled code never stores to
                    // it, so only calls (memory.grow is one) end its reuse.
                    flags: MemFlags::trusted().with_alias_region(Some(AliasRegion::Vmctx)),
                });
                (HeapStyle::Dynamic { bound_gv }, SOFTWARE_GUARD_SIZE)
            }
        };
        let heap = self.heaps.push(HeapData {
            base,
            min_size: u64::from(memory.min) * WASM_PAGE_SIZE,
            max_size: memory.max.map(|m| u64::from(m) * WASM_PAGE_SIZE),
            offset_guard_size,
            style,
            index_type: types::I32,
            memory_type: None,
            page_size_log2: 16,
        });
        self.memory_heap = Some(heap);
        Ok(heap)
    }

    fn make_indirect_sig(
        &mut self,
        func: &mut ir::Function,
        index: TypeIndex,
    ) -> WasmResult<ir::SigRef> {
        let ty = &self.module.types[index.index()];
        Ok(func.import_signature(wasm_signature(ty, self.ptr())))
    }

    fn make_direct_func(
        &mut self,
        func: &mut ir::Function,
        index: FuncIndex,
    ) -> WasmResult<ir::FuncRef> {
        let ty = &self.module.types[self.module.funcs[index.index()] as usize];
        let signature = func.import_signature(wasm_signature(ty, self.ptr()));
        // Imported functions are called through the context (see
        // `translate_call`); their name is never referenced by a relocation.
        let defined = index.as_u32().checked_sub(self.module.imported_funcs);
        let name = func.declare_imported_user_function(UserExternalName::new(
            WASM_FUNC_NAMESPACE,
            defined.unwrap_or(u32::MAX),
        ));
        Ok(func.import_function(ExtFuncData {
            name: ExternalName::user(name),
            signature,
            colocated: true,
        }))
    }

    fn translate_call(
        &mut self,
        builder: &mut FunctionBuilder,
        callee_index: FuncIndex,
        callee: ir::FuncRef,
        call_args: &[ir::Value],
    ) -> WasmResult<ir::Inst> {
        let vmctx = Self::vmctx(builder.func);
        let mut args = Vec::with_capacity(call_args.len() + 1);
        if callee_index.as_u32() < self.module.imported_funcs {
            let ptr = self.ptr();
            let at = self.layout.imported_func(callee_index.as_u32()) as i32;
            let code = builder.ins().load(
                ptr,
                Self::readonly(),
                vmctx,
                at + offsets::IMPORT_CODE as i32,
            );
            let callee_vmctx = builder.ins().load(
                ptr,
                Self::readonly(),
                vmctx,
                at + offsets::IMPORT_VMCTX as i32,
            );
            args.push(callee_vmctx);
            args.extend_from_slice(call_args);
            let sig = builder.func.dfg.ext_funcs[callee].signature;
            Ok(builder.ins().call_indirect(sig, code, &args))
        } else {
            args.push(vmctx);
            args.extend_from_slice(call_args);
            Ok(builder.ins().call(callee, &args))
        }
    }

    fn translate_call_indirect(
        &mut self,
        builder: &mut FunctionBuilder,
        table_index: TableIndex,
        sig_index: TypeIndex,
        sig_ref: ir::SigRef,
        callee: ir::Value,
        call_args: &[ir::Value],
    ) -> WasmResult<Option<ir::Inst>> {
        let ptr = self.ptr();
        let vmctx = Self::vmctx(builder.func);
        let mut pos = builder.cursor();
        let addr = self.table_elem_addr(
            &mut pos,
            table_index,
            callee,
            user_trap(TrapKind::UndefinedElement),
        );
        let funcref = pos.ins().load(ptr, MemFlags::trusted(), addr, 0);
        pos.ins().trapz(funcref, TrapCode::IndirectCallToNull);
        let actual = pos.ins().load(
            types::I64,
            MemFlags::trusted(),
            funcref,
            offsets::FUNCREF_TYPE_ID as i32,
        );
        let expected = pos.ins().load(
            types::I64,
            Self::readonly(),
            vmctx,
            self.layout.type_id(sig_index.as_u32()) as i32,
        );
        let mismatch = pos.ins().icmp(IntCC::NotEqual, actual, expected);
        pos.ins().trapnz(mismatch, TrapCode::BadSignature);
        let code = pos.ins().load(
            ptr,
            MemFlags::trusted(),
            funcref,
            offsets::FUNCREF_CODE as i32,
        );
        let callee_vmctx = pos.ins().load(
            ptr,
            MemFlags::trusted(),
            funcref,
            offsets::FUNCREF_VMCTX as i32,
        );
        let mut args = vec![callee_vmctx];
        args.extend_from_slice(call_args);
        Ok(Some(pos.ins().call_indirect(sig_ref, code, &args)))
    }

    fn translate_return_call_indirect(
        &mut self,
        _builder: &mut FunctionBuilder,
        _table_index: TableIndex,
        _sig_index: TypeIndex,
        _sig_ref: ir::SigRef,
        _callee: ir::Value,
        _call_args: &[ir::Value],
    ) -> WasmResult<()> {
        Err(WasmError::Unsupported("tail calls".into()))
    }

    fn translate_return_call_ref(
        &mut self,
        _builder: &mut FunctionBuilder,
        _sig_ref: ir::SigRef,
        _callee: ir::Value,
        _call_args: &[ir::Value],
    ) -> WasmResult<()> {
        Err(WasmError::Unsupported("tail calls".into()))
    }

    fn translate_call_ref(
        &mut self,
        _builder: &mut FunctionBuilder,
        _sig_ref: ir::SigRef,
        _callee: ir::Value,
        _call_args: &[ir::Value],
    ) -> WasmResult<ir::Inst> {
        Err(WasmError::Unsupported("typed function references".into()))
    }

    fn translate_memory_grow(
        &mut self,
        mut pos: FuncCursor,
        _index: MemoryIndex,
        _heap: Heap,
        val: ir::Value,
    ) -> WasmResult<ir::Value> {
        Ok(self
            .call_builtin(&mut pos, builtin_index::MEMORY_GROW, &[val], true)
            .unwrap())
    }

    fn translate_memory_size(
        &mut self,
        mut pos: FuncCursor,
        _index: MemoryIndex,
        _heap: Heap,
    ) -> WasmResult<ir::Value> {
        let vmctx = Self::vmctx(pos.func);
        let definition =
            pos.ins()
                .load(self.ptr(), Self::readonly(), vmctx, offsets::MEMORY as i32);
        let length = pos.ins().load(
            types::I64,
            MemFlags::trusted(),
            definition,
            offsets::MEMORY_LENGTH as i32,
        );
        let pages = pos.ins().ushr_imm(length, 16);
        Ok(pos.ins().ireduce(types::I32, pages))
    }

    fn translate_memory_copy(
        &mut self,
        pos: FuncCursor,
        _src_index: MemoryIndex,
        _src_heap: Heap,
        _dst_index: MemoryIndex,
        _dst_heap: Heap,
        dst: ir::Value,
        src: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        self.call_checked_builtin(
            pos,
            builtin_index::MEMORY_COPY,
            &[dst, src, len],
            TrapCode::HeapOutOfBounds,
        );
        Ok(())
    }

    fn translate_memory_fill(
        &mut self,
        pos: FuncCursor,
        _index: MemoryIndex,
        _heap: Heap,
        dst: ir::Value,
        val: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        self.call_checked_builtin(
            pos,
            builtin_index::MEMORY_FILL,
            &[dst, val, len],
            TrapCode::HeapOutOfBounds,
        );
        Ok(())
    }

    fn translate_memory_init(
        &mut self,
        mut pos: FuncCursor,
        _index: MemoryIndex,
        _heap: Heap,
        seg_index: u32,
        dst: ir::Value,
        src: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        let seg = pos.ins().iconst(types::I32, i64::from(seg_index));
        self.call_checked_builtin(
            pos,
            builtin_index::MEMORY_INIT,
            &[seg, dst, src, len],
            TrapCode::HeapOutOfBounds,
        );
        Ok(())
    }

    fn translate_data_drop(&mut self, mut pos: FuncCursor, seg_index: u32) -> WasmResult<()> {
        let seg = pos.ins().iconst(types::I32, i64::from(seg_index));
        self.call_builtin(&mut pos, builtin_index::DATA_DROP, &[seg], false);
        Ok(())
    }

    fn translate_table_size(
        &mut self,
        mut pos: FuncCursor,
        index: TableIndex,
    ) -> WasmResult<ir::Value> {
        let table = self.table_ptr(&mut pos, index);
        let len = pos.ins().load(
            types::I64,
            MemFlags::trusted(),
            table,
            offsets::TABLE_LENGTH as i32,
        );
        Ok(pos.ins().ireduce(types::I32, len))
    }

    fn translate_table_grow(
        &mut self,
        mut pos: FuncCursor,
        table_index: TableIndex,
        delta: ir::Value,
        init_value: ir::Value,
    ) -> WasmResult<ir::Value> {
        let table = pos
            .ins()
            .iconst(types::I32, i64::from(table_index.as_u32()));
        Ok(self
            .call_builtin(
                &mut pos,
                builtin_index::TABLE_GROW,
                &[table, delta, init_value],
                true,
            )
            .unwrap())
    }

    fn translate_table_get(
        &mut self,
        builder: &mut FunctionBuilder,
        table_index: TableIndex,
        index: ir::Value,
    ) -> WasmResult<ir::Value> {
        let ptr = self.ptr();
        let mut pos = builder.cursor();
        let addr = self.table_elem_addr(&mut pos, table_index, index, TrapCode::TableOutOfBounds);
        Ok(pos.ins().load(ptr, MemFlags::trusted(), addr, 0))
    }

    fn translate_table_set(
        &mut self,
        builder: &mut FunctionBuilder,
        table_index: TableIndex,
        value: ir::Value,
        index: ir::Value,
    ) -> WasmResult<()> {
        let mut pos = builder.cursor();
        let addr = self.table_elem_addr(&mut pos, table_index, index, TrapCode::TableOutOfBounds);
        pos.ins().store(MemFlags::trusted(), value, addr, 0);
        Ok(())
    }

    fn translate_table_copy(
        &mut self,
        mut pos: FuncCursor,
        dst_table_index: TableIndex,
        src_table_index: TableIndex,
        dst: ir::Value,
        src: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        let dst_table = pos
            .ins()
            .iconst(types::I32, i64::from(dst_table_index.as_u32()));
        let src_table = pos
            .ins()
            .iconst(types::I32, i64::from(src_table_index.as_u32()));
        self.call_checked_builtin(
            pos,
            builtin_index::TABLE_COPY,
            &[dst_table, src_table, dst, src, len],
            TrapCode::TableOutOfBounds,
        );
        Ok(())
    }

    fn translate_table_fill(
        &mut self,
        mut pos: FuncCursor,
        table_index: TableIndex,
        dst: ir::Value,
        val: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        let table = pos
            .ins()
            .iconst(types::I32, i64::from(table_index.as_u32()));
        self.call_checked_builtin(
            pos,
            builtin_index::TABLE_FILL,
            &[table, dst, val, len],
            TrapCode::TableOutOfBounds,
        );
        Ok(())
    }

    fn translate_table_init(
        &mut self,
        mut pos: FuncCursor,
        seg_index: u32,
        table_index: TableIndex,
        dst: ir::Value,
        src: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        let table = pos
            .ins()
            .iconst(types::I32, i64::from(table_index.as_u32()));
        let seg = pos.ins().iconst(types::I32, i64::from(seg_index));
        self.call_checked_builtin(
            pos,
            builtin_index::TABLE_INIT,
            &[table, seg, dst, src, len],
            TrapCode::TableOutOfBounds,
        );
        Ok(())
    }

    fn translate_elem_drop(&mut self, mut pos: FuncCursor, seg_index: u32) -> WasmResult<()> {
        let seg = pos.ins().iconst(types::I32, i64::from(seg_index));
        self.call_builtin(&mut pos, builtin_index::ELEM_DROP, &[seg], false);
        Ok(())
    }

    fn translate_ref_null(
        &mut self,
        mut pos: FuncCursor,
        _ty: WasmHeapType,
    ) -> WasmResult<ir::Value> {
        Ok(pos.ins().iconst(self.ptr(), 0))
    }

    fn translate_ref_is_null(
        &mut self,
        mut pos: FuncCursor,
        value: ir::Value,
    ) -> WasmResult<ir::Value> {
        let is_null = pos.ins().icmp_imm(IntCC::Equal, value, 0);
        Ok(pos.ins().uextend(types::I32, is_null))
    }

    fn translate_ref_func(
        &mut self,
        mut pos: FuncCursor,
        func_index: FuncIndex,
    ) -> WasmResult<ir::Value> {
        let vmctx = Self::vmctx(pos.func);
        let at = self.layout.funcref(func_index.as_u32());
        Ok(pos.ins().iadd_imm(vmctx, i64::from(at)))
    }

    fn translate_custom_global_get(
        &mut self,
        _builder: &mut FunctionBuilder,
        _global_index: GlobalIndex,
    ) -> WasmResult<ir::Value> {
        unreachable!("make_global never returns GlobalVariable::Custom")
    }

    fn translate_custom_global_set(
        &mut self,
        _builder: &mut FunctionBuilder,
        _global_index: GlobalIndex,
        _val: ir::Value,
    ) -> WasmResult<()> {
        unreachable!("make_global never returns GlobalVariable::Custom")
    }

    fn translate_atomic_wait(
        &mut self,
        _pos: FuncCursor,
        _index: MemoryIndex,
        _heap: Heap,
        _addr: ir::Value,
        _expected: ir::Value,
        _timeout: ir::Value,
    ) -> WasmResult<ir::Value> {
        Err(WasmError::Unsupported("threads".into()))
    }

    fn translate_atomic_notify(
        &mut self,
        _pos: FuncCursor,
        _index: MemoryIndex,
        _heap: Heap,
        _addr: ir::Value,
        _count: ir::Value,
    ) -> WasmResult<ir::Value> {
        Err(WasmError::Unsupported("threads".into()))
    }

    fn translate_ref_i31(&mut self, _pos: FuncCursor, _val: ir::Value) -> WasmResult<ir::Value> {
        Err(WasmError::Unsupported("garbage collection".into()))
    }

    fn translate_i31_get_s(
        &mut self,
        _pos: FuncCursor,
        _i31ref: ir::Value,
    ) -> WasmResult<ir::Value> {
        Err(WasmError::Unsupported("garbage collection".into()))
    }

    fn translate_i31_get_u(
        &mut self,
        _pos: FuncCursor,
        _i31ref: ir::Value,
    ) -> WasmResult<ir::Value> {
        Err(WasmError::Unsupported("garbage collection".into()))
    }

    fn translate_loop_header(&mut self, builder: &mut FunctionBuilder) -> WasmResult<()> {
        self.interrupt_check(builder);
        self.preload_bound(builder)
    }

    fn before_translate_function(
        &mut self,
        builder: &mut FunctionBuilder,
        _state: &FuncTranslationState,
    ) -> WasmResult<()> {
        self.interrupt_check(builder);
        Ok(())
    }
}
