//! The translator: wasm function bodies to machine code with cranelift-wasm,
//! host-to-wasm trampolines, and the relocatable object holding them and
//! the module descriptor. This is the only module that knows about
//! Cranelift; swapping the code generator means replacing it.

mod bounds;
mod env;
mod libcalls;
mod signature;

use crate::budget::Spending;
use crate::error::CompileError;
use crate::module::{ModuleInfo, PendingBody};
use crate::{BoundsMode, CompileOptions, OptLevel};
use cranelift_codegen::ir::{self, GlobalValueData, InstBuilder, MemFlags, UserFuncName};
use cranelift_codegen::isa::{self, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::{Context, FinalizedMachReloc};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{DataDescription, DataId, FuncId, Linkage, Module};
use cranelift_object::{ObjectBuilder, ObjectModule};
use cranelift_wasm::{FuncTranslator, WasmError};
use luge_abi::{
    offsets, CpuFeature, FuncCode, ModuleDescriptor, TrapSite, VmLayout, DESCRIPTOR_SYMBOL,
    FUNCTIONS_SYMBOL, TRAMPOLINES_SYMBOL, VALUE_SLOT_SIZE, WASM_PAGE_SIZE,
};
use rayon::prelude::*;
use signature::{ir_type, trampoline_signature, wasm_signature};
use wasmparser::FuncValidatorAllocations;

/// Builds the Cranelift ISA for `opts`: the architecture's baseline plus
/// exactly the CPU features `opts.cpu` allows, which the descriptor records
/// (never the compiling machine's by accident: the module may run elsewhere).
fn target_isa(opts: &CompileOptions) -> Result<OwnedTargetIsa, CompileError> {
    let mut flags = settings::builder();
    let set = |flags: &mut settings::Builder, name: &str, value: &str| {
        flags
            .set(name, value)
            .map_err(|e| CompileError::Target(format!("setting {name}={value}: {e}")))
    };
    set(&mut flags, "is_pic", "true")?;
    set(
        &mut flags,
        "opt_level",
        match opts.opt {
            OptLevel::None => "none",
            OptLevel::Speed => "speed",
        },
    )?;
    set(
        &mut flags,
        "enable_verifier",
        if cfg!(debug_assertions) {
            "true"
        } else {
            "false"
        },
    )?;
    let spectre = if opts.spectre { "true" } else { "false" };
    set(&mut flags, "enable_heap_access_spectre_mitigation", spectre)?;
    set(
        &mut flags,
        "enable_table_access_spectre_mitigation",
        spectre,
    )?;
    set(&mut flags, "unwind_info", "false")?;
    set(&mut flags, "preserve_frame_pointers", "true")?;
    let triple = format!("{}-unknown-linux-gnu", opts.arch.name());
    let mut builder =
        isa::lookup_by_name(&triple).map_err(|e| CompileError::Target(e.to_string()))?;
    for feature in opts.cpu.features(opts.arch) {
        let flag = cranelift_flag(feature);
        builder
            .enable(flag)
            .map_err(|e| CompileError::Target(format!("enabling {flag}: {e}")))?;
    }
    builder
        .finish(settings::Flags::new(flags))
        .map_err(|e| CompileError::Target(e.to_string()))
}

/// Cranelift's x64 setting for `feature`.
fn cranelift_flag(feature: CpuFeature) -> &'static str {
    match feature {
        CpuFeature::Sse3 => "has_sse3",
        CpuFeature::Ssse3 => "has_ssse3",
        CpuFeature::Sse41 => "has_sse41",
        CpuFeature::Sse42 => "has_sse42",
        CpuFeature::Popcnt => "has_popcnt",
        CpuFeature::Avx => "has_avx",
        CpuFeature::Avx2 => "has_avx2",
        CpuFeature::Fma => "has_fma",
        CpuFeature::Bmi1 => "has_bmi1",
        CpuFeature::Bmi2 => "has_bmi2",
        CpuFeature::Lzcnt => "has_lzcnt",
    }
}

/// Machine code of one function, ready to be placed in the object.
struct CompiledFunc {
    func: ir::Function,
    code: Vec<u8>,
    relocs: Vec<FinalizedMachReloc>,
    alignment: u64,
    traps: Vec<TrapSite>,
}

/// Per-thread state reused across the functions a worker compiles.
struct Worker {
    ctx: Context,
    translator: FuncTranslator,
    allocations: FuncValidatorAllocations,
}

fn wasm_error(err: WasmError, offset: usize) -> CompileError {
    match err {
        WasmError::InvalidWebAssembly { message, offset } => {
            CompileError::Invalid { offset, message }
        }
        WasmError::Unsupported(message) => CompileError::Unsupported { offset, message },
        WasmError::ImplLimitExceeded => CompileError::Unsupported {
            offset,
            message: "implementation limit exceeded".into(),
        },
        WasmError::User(message) => CompileError::Unsupported { offset, message },
    }
}

struct Translation<'m, 'a> {
    isa: &'m dyn isa::TargetIsa,
    module: &'m ModuleInfo<'a>,
    layout: VmLayout,
    opts: &'m CompileOptions,
}

impl Translation<'_, '_> {
    fn compile_function(
        &self,
        worker: &mut Worker,
        defined: u32,
        body: PendingBody<'_>,
    ) -> Result<CompiledFunc, CompileError> {
        let pointer = self.isa.pointer_type();
        let index = self.module.imported_funcs + defined;
        let ty = &self.module.types[self.module.funcs[index as usize] as usize];
        let body_offset = body.body.range().start;
        let mut func = ir::Function::with_name_signature(
            UserFuncName::user(0, defined),
            wasm_signature(ty, pointer),
        );
        let vmctx = func.create_global_value(GlobalValueData::VMContext);
        let readonly = MemFlags::trusted().with_readonly();
        let limits = func.create_global_value(GlobalValueData::Load {
            base: vmctx,
            offset: (offsets::LIMITS as i32).into(),
            global_type: pointer,
            flags: readonly,
        });
        func.stack_limit = Some(func.create_global_value(GlobalValueData::Load {
            base: limits,
            offset: (offsets::STACK_LIMIT as i32).into(),
            global_type: pointer,
            flags: readonly,
        }));
        let mut env = env::FuncEnv::new(
            self.module,
            &self.layout,
            self.isa.frontend_config(),
            self.opts,
        );
        let mut validator = body
            .validator
            .into_validator(std::mem::take(&mut worker.allocations));
        worker
            .translator
            .translate_body(&mut validator, body.body, &mut func, &mut env)
            .map_err(|e| wasm_error(e, body_offset))?;
        worker.allocations = validator.into_allocations();
        if self.opts.bounds == BoundsMode::Software {
            let min_length = self
                .module
                .memory
                .map_or(0, |m| u64::from(m.min) * WASM_PAGE_SIZE);
            bounds::remove_needless_checks(&mut func, min_length);
        }

        worker.ctx.clear();
        worker.ctx.func = func;
        let codegen_error = |message: String| CompileError::Codegen {
            func: index,
            message,
        };
        let compiled = worker
            .ctx
            .compile(self.isa, &mut Default::default())
            .map_err(|e| codegen_error(format!("{:?}", e.inner)))?;
        let mut traps = Vec::with_capacity(compiled.buffer.traps().len());
        for trap in compiled.buffer.traps() {
            let kind = env::trap_kind(trap.code)
                .ok_or_else(|| codegen_error(format!("unexpected trap code {}", trap.code)))?;
            traps.push(TrapSite {
                offset: trap.offset,
                kind,
            });
        }
        traps.sort_by_key(|t| t.offset);
        Ok(CompiledFunc {
            code: compiled.code_buffer().to_vec(),
            relocs: compiled.buffer.relocs().to_vec(),
            alignment: u64::from(compiled.buffer.alignment),
            traps,
            func: std::mem::replace(&mut worker.ctx.func, ir::Function::new()),
        })
    }

    /// Compiles all bodies on rayon's pool, one thread per core. The pool
    /// lives as long as the process, so a compile starts and ends no
    /// threads of its own: under qemu-user a fork (the linker) that follows
    /// thread exits can leave the child deadlocked in the emulator
    /// (docs/aarch64.md), and thread starts are slow there. Work stealing
    /// keeps a few huge functions from leaving the other threads idle. The
    /// error reported is that of the first failing function, whatever
    /// order they ran in.
    fn compile_all(
        &self,
        bodies: Vec<PendingBody<'_>>,
        budget: &Spending,
    ) -> Result<Vec<CompiledFunc>, CompileError> {
        let results: Vec<Result<CompiledFunc, CompileError>> = bodies
            .into_par_iter()
            .enumerate()
            .map_init(
                || Worker {
                    ctx: Context::new(),
                    translator: FuncTranslator::new(),
                    allocations: Default::default(),
                },
                |worker, (i, body)| {
                    budget.check_time()?;
                    let compiled = self.compile_function(worker, i as u32, body)?;
                    budget.add_code(compiled.code.len())?;
                    Ok(compiled)
                },
            )
            .collect();
        results.into_iter().collect()
    }

    /// The host-to-wasm entry for type `ty`: loads the arguments from the
    /// value array, calls the callee and stores its results back.
    fn trampoline(
        &self,
        ty: &luge_abi::FuncType,
        builder_ctx: &mut FunctionBuilderContext,
    ) -> ir::Function {
        let pointer = self.isa.pointer_type();
        let mut func = ir::Function::with_name_signature(
            UserFuncName::default(),
            trampoline_signature(pointer),
        );
        let mut b = FunctionBuilder::new(&mut func, builder_ctx);
        let block = b.create_block();
        b.append_block_params_for_function_params(block);
        b.switch_to_block(block);
        b.seal_block(block);
        let (callee, vmctx, values) = {
            let p = b.block_params(block);
            (p[0], p[1], p[2])
        };
        let mut args = vec![vmctx];
        for (i, &param) in ty.params.iter().enumerate() {
            let at = (i * VALUE_SLOT_SIZE) as i32;
            args.push(
                b.ins()
                    .load(ir_type(param, pointer), MemFlags::trusted(), values, at),
            );
        }
        let sig = b.import_signature(wasm_signature(ty, pointer));
        let call = b.ins().call_indirect(sig, callee, &args);
        let results = b.inst_results(call).to_vec();
        for (i, result) in results.into_iter().enumerate() {
            let at = (i * VALUE_SLOT_SIZE) as i32;
            b.ins().store(MemFlags::trusted(), result, values, at);
        }
        b.ins().return_(&[]);
        b.finalize();
        func
    }
}

fn module_error(e: cranelift_module::ModuleError) -> CompileError {
    CompileError::Link(e.to_string())
}

/// Declares an exported, read-only table of code pointers.
fn define_pointer_table(
    object: &mut ObjectModule,
    name: &str,
    funcs: &[FuncId],
) -> Result<DataId, CompileError> {
    let id = object
        .declare_data(name, Linkage::Export, false, false)
        .map_err(module_error)?;
    let mut data = DataDescription::new();
    let width = object.isa().pointer_bytes() as usize;
    // Explicit zeros, not `define_zeroinit`: that would place the table in
    // .bss, where the linker drops the relocations that fill it.
    data.define(vec![0; (funcs.len() * width).max(width)].into_boxed_slice());
    data.set_align(width as u64);
    for (i, &f) in funcs.iter().enumerate() {
        let func_ref = object.declare_func_in_data(f, &mut data);
        data.write_function_addr((i * width) as u32, func_ref);
    }
    object.define_data(id, &data).map_err(module_error)?;
    Ok(id)
}

/// The descriptor of `module` compiled with `opts`, without its code
/// (`functions` entries to come); takes the module's data segments.
pub(crate) fn descriptor_of(
    module: &mut ModuleInfo<'_>,
    opts: &CompileOptions,
    wasm_size: u64,
    functions: usize,
) -> ModuleDescriptor {
    ModuleDescriptor {
        arch: opts.arch,
        tier: opts.tier,
        bounds: opts.bounds,
        interrupt_checks: opts.interrupt_checks,
        cpu_features: opts.cpu.features(opts.arch),
        compiler: env!("CARGO_PKG_VERSION").to_string(),
        wasm_size,
        types: module.types.clone(),
        imports: module.imports.clone(),
        funcs: module.funcs.clone(),
        tables: module.tables.clone(),
        memory: module.memory,
        globals: module.globals.clone(),
        exports: module.exports.clone(),
        start: module.start,
        elements: module.elements.clone(),
        data: std::mem::take(&mut module.data),
        code: Vec::with_capacity(functions),
    }
}

/// Translates `module` and returns a relocatable object file exporting the
/// descriptor, function and trampoline symbols of the ABI.
pub fn emit_object(
    mut module: ModuleInfo<'_>,
    opts: &CompileOptions,
    wasm_size: u64,
    budget: &Spending,
) -> Result<Vec<u8>, CompileError> {
    let isa = target_isa(opts)?;
    let pointer = isa.pointer_type();
    let bodies = std::mem::take(&mut module.bodies);
    let mut descriptor = descriptor_of(&mut module, opts, wasm_size, bodies.len());
    let translation = Translation {
        isa: &*isa,
        module: &module,
        layout: VmLayout::new(descriptor.counts()),
        opts,
    };
    let compiled = translation.compile_all(bodies, budget)?;

    let builder = ObjectBuilder::new(
        isa.clone(),
        "luge-module",
        cranelift_module::default_libcall_names(),
    )
    .map_err(module_error)?;
    let mut object = ObjectModule::new(builder);
    // Defined functions are declared first so that FuncId n is defined
    // function n, which is what the `UserExternalName`s in calls refer to.
    let mut func_ids = Vec::with_capacity(compiled.len());
    for (i, f) in compiled.iter().enumerate() {
        let id = object
            .declare_function(
                &format!("luge_func_{i}"),
                Linkage::Hidden,
                &f.func.signature,
            )
            .map_err(module_error)?;
        debug_assert_eq!(id.as_u32() as usize, i);
        func_ids.push(id);
    }
    // The routines the code calls where the CPU level lacks an instruction,
    // declared before any code refers to them by name.
    let mut routines = Vec::new();
    for call in libcalls::called(compiled.iter().flat_map(|f| &f.relocs)) {
        let signature = call.signature(isa.default_call_conv(), pointer);
        let name = cranelift_module::default_libcall_names()(call);
        let id = object
            .declare_function(&name, Linkage::Hidden, &signature)
            .map_err(module_error)?;
        routines.push((call, id));
    }
    for (f, &id) in compiled.iter().zip(&func_ids) {
        object
            .define_function_bytes(id, &f.func, f.alignment, &f.code, &f.relocs)
            .map_err(module_error)?;
        descriptor.code.push(FuncCode {
            size: f.code.len() as u32,
            traps: f.traps.clone(),
        });
    }
    drop(compiled);

    let mut ctx = Context::new();
    let mut builder_ctx = FunctionBuilderContext::new();
    for (call, id) in routines {
        ctx.clear();
        ctx.func = libcalls::routine(call, &*isa, &mut builder_ctx)?;
        object.define_function(id, &mut ctx).map_err(module_error)?;
    }
    let mut trampolines = Vec::with_capacity(module.types.len());
    // One trampoline per distinct signature: a module may repeat one type
    // tens of thousands of times to make compiling slow.
    let mut by_signature = std::collections::HashMap::new();
    for (t, ty) in module.types.iter().enumerate() {
        if let Some(&id) = by_signature.get(ty) {
            trampolines.push(id);
            continue;
        }
        budget.check_time()?;
        let id = object
            .declare_function(
                &format!("luge_trampoline_{t}"),
                Linkage::Hidden,
                &trampoline_signature(pointer),
            )
            .map_err(module_error)?;
        ctx.clear();
        ctx.func = translation.trampoline(ty, &mut builder_ctx);
        object.define_function(id, &mut ctx).map_err(module_error)?;
        by_signature.insert(ty, id);
        trampolines.push(id);
    }

    define_pointer_table(&mut object, FUNCTIONS_SYMBOL, &func_ids)?;
    define_pointer_table(&mut object, TRAMPOLINES_SYMBOL, &trampolines)?;
    let id = object
        .declare_data(DESCRIPTOR_SYMBOL, Linkage::Export, false, false)
        .map_err(module_error)?;
    let mut data = DataDescription::new();
    data.define(descriptor.encode().into_boxed_slice());
    data.set_align(8);
    object.define_data(id, &data).map_err(module_error)?;

    object
        .finish()
        .emit()
        .map_err(|e| CompileError::Link(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CompileBudget;
    use luge_abi::{BoundsMode, FuncType, ValType};

    /// The Cranelift IR of `wat`'s functions as compiled with `opts`.
    fn compiled_ir(wat: &str, opts: &CompileOptions) -> Vec<String> {
        let wasm = wat::parse_str(wat).unwrap();
        let mut module = ModuleInfo::parse(&wasm).unwrap();
        let isa = target_isa(opts).unwrap();
        let bodies = std::mem::take(&mut module.bodies);
        let descriptor = descriptor_of(&mut module, opts, 0, bodies.len());
        let translation = Translation {
            isa: &*isa,
            module: &module,
            layout: VmLayout::new(descriptor.counts()),
            opts,
        };
        let budget = Spending::start(CompileBudget::default());
        let compiled = translation.compile_all(bodies, &budget).unwrap();
        compiled.iter().map(|f| f.func.to_string()).collect()
    }

    #[test]
    fn checked_accesses_are_spectre_guarded_unless_turned_off() {
        let wat = r#"(module
            (memory 1)
            (table 2 funcref)
            (type $t (func (result i32)))
            (func (param i32) (result i32) (i32.load (local.get 0)))
            (func (param i32) (result i32) (call_indirect (type $t) (local.get 0))))"#;
        let guards = |bounds, spectre| -> Vec<usize> {
            let opts = CompileOptions {
                bounds,
                spectre,
                ..CompileOptions::default()
            };
            let ir = compiled_ir(wat, &opts);
            ir.iter()
                .map(|f| f.matches("select_spectre_guard").count())
                .collect()
        };
        // The load, then the table access.
        assert_eq!(guards(BoundsMode::Software, true), [1, 1]);
        assert_eq!(
            guards(BoundsMode::Guard, true),
            [0, 1],
            "guard pages need none"
        );
        assert_eq!(guards(BoundsMode::Software, false), [0, 0]);
        assert_eq!(guards(BoundsMode::Guard, false), [0, 0]);
    }

    #[test]
    fn wasm_signatures_lead_with_vmctx() {
        let ty = FuncType {
            params: vec![ValType::I32, ValType::FuncRef],
            results: vec![ValType::F64, ValType::I64],
        };
        let sig = wasm_signature(&ty, ir::types::I64);
        assert_eq!(sig.params[0].purpose, ir::ArgumentPurpose::VMContext);
        assert_eq!(sig.params.len(), 3);
        assert_eq!(sig.params[2].value_type, ir::types::I64);
        assert_eq!(sig.returns.len(), 2);
        let tramp = trampoline_signature(ir::types::I64);
        assert!(tramp
            .params
            .iter()
            .all(|p| p.purpose == ir::ArgumentPurpose::Normal));
    }
}
