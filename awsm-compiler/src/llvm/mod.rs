//! The optimizing tier: wasm to LLVM IR text, compiled by clang into an
//! object with the same contract as Cranelift's (the `luge_func_N`
//! functions, the function and trampoline tables, the descriptor), so the
//! runtime loads either tier without knowing which.
//!
//! LLVM runs as a separate process, found at run time as the linker is
//! (docs/opt-tier.md has the reasons): Luge builds and runs without it,
//! one LLVM serves every Luge version, and a crash inside LLVM fails one
//! compile, not the server that asked for it.
//!
//! What differs from the fast tier, by design of the ABI's [`Tier`] field:
//! every trap is an explicit check that calls the `trap` builtin, except
//! guard-mode memory accesses (volatile, left to fault in the guard; in
//! the second copy of a versioned loop, plain and proven in bounds), and
//! no trap sites are recorded: the runtime tells a fault of this code by
//! its address, the stack's guard page or else the memory's guard. Not
//! translated yet, and refused with the operator named
//! ([`CompileError::NotInOptTier`]): SIMD rounding (`f32x4.ceil` and
//! kin) on x86_64 CPUs without SSE4.1.

pub(crate) mod clang;
mod func;

use crate::budget::Spending;
use crate::error::CompileError;
use crate::module::{ModuleInfo, PendingBody};
use crate::translate::descriptor_of;
use crate::CompileOptions;
use luge_abi::{
    Arch, CpuFeature, FuncCode, FuncType, ModuleDescriptor, Tier, ValType, VmLayout,
    DESCRIPTOR_SYMBOL, FUNCTIONS_SYMBOL, TRAMPOLINES_SYMBOL, VALUE_SLOT_SIZE,
};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt::Write;

/// Whether the opt tier can compile here: `Err` names what is missing.
pub(crate) fn available() -> Result<(), CompileError> {
    clang::find().map(drop)
}

/// What every function's translation reads.
pub(crate) struct Context<'m> {
    module: &'m ModuleInfo<'m>,
    layout: VmLayout,
    opts: &'m CompileOptions,
    /// Declarations of the intrinsics the functions call beyond the
    /// header's (each vector type has its own), added to the module.
    declared: RefCell<BTreeSet<String>>,
}

impl Context<'_> {
    /// Adds `declaration` (a `declare` line) to the module, once.
    fn declare(&self, declaration: String) {
        self.declared.borrow_mut().insert(declaration);
    }
}

/// The IR type that holds a wasm value; references are pointer-sized
/// words, as in the fast tier.
fn ir_type(ty: ValType) -> &'static str {
    match ty {
        ValType::I32 => "i32",
        ValType::I64 | ValType::FuncRef | ValType::ExternRef => "i64",
        ValType::F32 => "float",
        ValType::F64 => "double",
        ValType::V128 => func::V128,
    }
}

/// Translates `module` and compiles it with clang: returns the relocatable
/// objects to link (the code, then the descriptor).
pub(crate) fn emit_objects(
    mut module: ModuleInfo<'_>,
    opts: &CompileOptions,
    wasm_size: u64,
    budget: &Spending,
) -> Result<Vec<Vec<u8>>, CompileError> {
    let bodies = std::mem::take(&mut module.bodies);
    let mut descriptor = descriptor_of(&mut module, opts, wasm_size, bodies.len());
    let count = bodies.len();
    let layout = VmLayout::new(descriptor.counts());
    let ir = module_ir(&module, layout, opts, bodies, budget)?;
    budget.check_time()?;
    let object = clang::compile(&ir, opts.arch, opts.opt, budget)?;
    for size in function_sizes(&object, count)? {
        budget.add_code(size as usize)?;
        descriptor.code.push(FuncCode {
            size,
            traps: Vec::new(),
        });
    }
    let descriptor_object = descriptor_object(&descriptor, opts.arch)?;
    Ok(vec![object, descriptor_object])
}

/// The IR of the whole module: header, functions, trampolines and the
/// table of function pointers.
fn module_ir(
    module: &ModuleInfo<'_>,
    layout: VmLayout,
    opts: &CompileOptions,
    bodies: Vec<PendingBody<'_>>,
    budget: &Spending,
) -> Result<String, CompileError> {
    let count = bodies.len();
    let cx = Context {
        module,
        layout,
        opts,
        declared: RefCell::default(),
    };
    let mut ir = header(opts);
    for (i, body) in bodies.into_iter().enumerate() {
        budget.check_time()?;
        ir.push_str(&func::translate(&cx, i as u32, body)?);
    }
    for declaration in cx.declared.take() {
        writeln!(ir, "{declaration}").unwrap();
    }
    ir.push_str(&trampolines(&module.types)?);
    ir.push_str(&pointer_table(
        FUNCTIONS_SYMBOL,
        (0..count).map(|i| format!("@luge_func_{i}")),
    ));
    Ok(ir)
}

/// The IR the opt tier writes for `wasm`, for tests that look at it.
#[cfg(test)]
pub(crate) fn ir_of(wasm: &[u8], opts: &CompileOptions) -> Result<String, CompileError> {
    let mut module = ModuleInfo::parse(wasm)?;
    let bodies = std::mem::take(&mut module.bodies);
    let descriptor = descriptor_of(&mut module, opts, wasm.len() as u64, bodies.len());
    let layout = VmLayout::new(descriptor.counts());
    let budget = Spending::start(crate::CompileBudget::default());
    module_ir(&module, layout, opts, bodies, &budget)
}

/// Whether the target rounds floats to integers in one instruction (SSE4.1
/// on x86_64). Without it LLVM lowers its rounding intrinsics to calls to
/// libm, which a module does not link, so the translator spells rounding
/// out instead ([`func`]).
fn has_rounding(opts: &CompileOptions) -> bool {
    opts.arch != Arch::X86_64 || opts.cpu.features(opts.arch).contains(&CpuFeature::Sse41)
}

/// The module's header: its target, the attributes of every function (the
/// CPU features the descriptor records, frame pointers for the runtime's
/// stack walks, stack probes so that a frame larger than a page faults in
/// the stack's guard page instead of reaching past it, no library calls:
/// the object links against nothing), and
/// the intrinsics the functions call.
fn header(opts: &CompileOptions) -> String {
    let features: Vec<String> = opts
        .cpu
        .features(opts.arch)
        .into_iter()
        .map(|f| format!("+{}", llvm_feature(f)))
        .collect();
    let mut ir = format!(
        "target triple = \"{}-unknown-linux-gnu\"\n\n\
         attributes #0 = {{ nounwind \"frame-pointer\"=\"all\" \"probe-stack\"=\"inline-asm\" \"no-builtins\" \"target-features\"=\"{}\" }}\n\
         attributes #1 = {{ noreturn nounwind cold }}\n\
         !0 = !{{!\"branch_weights\", i32 1, i32 1048575}}\n\
         !1 = !{{!\"luge\"}}\n\
         !2 = !{{!\"wasm memory\", !1, i64 0}}\n\
         !{} = !{{!2, !2, i64 0}}\n\
         !4 = !{{!\"vm context\", !1, i64 0}}\n\
         !{} = !{{!4, !4, i64 0}}\n\n",
        opts.arch.name(),
        features.join(","),
        func::TBAA_MEMORY,
        func::TBAA_CONTEXT,
    );
    for int in ["i32", "i64"] {
        for name in ["ctlz", "cttz"] {
            writeln!(ir, "declare {int} @llvm.{name}.{int}({int}, i1)").unwrap();
        }
        writeln!(ir, "declare {int} @llvm.ctpop.{int}({int})").unwrap();
        for name in ["fshl", "fshr"] {
            writeln!(ir, "declare {int} @llvm.{name}.{int}({int}, {int}, {int})").unwrap();
        }
    }
    for (fty, suffix) in [("float", "f32"), ("double", "f64")] {
        for name in ["fabs", "ceil", "floor", "trunc", "roundeven", "sqrt"] {
            writeln!(ir, "declare {fty} @llvm.{name}.{suffix}({fty})").unwrap();
        }
        writeln!(ir, "declare {fty} @llvm.copysign.{suffix}({fty}, {fty})").unwrap();
        for int in ["i32", "i64"] {
            for conv in ["fptosi", "fptoui"] {
                writeln!(ir, "declare {int} @llvm.{conv}.sat.{int}.{suffix}({fty})").unwrap();
            }
        }
    }
    let stack_pointer = match opts.arch {
        Arch::X86_64 => "rsp",
        Arch::Aarch64 => "sp",
    };
    writeln!(ir, "!{} = !{{!\"{stack_pointer}\"}}", func::STACK_POINTER).unwrap();
    ir.push_str("declare i64 @llvm.read_register.i64(metadata)\n\n");
    ir
}

/// LLVM's name for `feature`: the usual one but for BMI1's.
fn llvm_feature(feature: CpuFeature) -> &'static str {
    match feature {
        CpuFeature::Bmi1 => "bmi",
        other => other.name(),
    }
}

/// One host-to-wasm trampoline per distinct signature (see
/// [`luge_abi::Trampoline`]), and their table by type index.
fn trampolines(types: &[FuncType]) -> Result<String, CompileError> {
    let mut ir = String::new();
    let mut names = Vec::with_capacity(types.len());
    let mut by_signature: std::collections::HashMap<&FuncType, String> =
        std::collections::HashMap::new();
    for (t, ty) in types.iter().enumerate() {
        if let Some(name) = by_signature.get(ty) {
            names.push(name.clone());
            continue;
        }
        let name = format!("@luge_trampoline_{t}");
        ir.push_str(&trampoline(&name, ty)?);
        by_signature.insert(ty, name.clone());
        names.push(name);
    }
    ir.push_str(&pointer_table(TRAMPOLINES_SYMBOL, names.into_iter()));
    Ok(ir)
}

fn trampoline(name: &str, ty: &FuncType) -> Result<String, CompileError> {
    let ret = func::return_type(&ty.results);
    let mut ir = format!("define hidden void {name}(ptr %callee, ptr %vmctx, ptr %values) #0 {{\n");
    let mut args = String::from("ptr %vmctx");
    for (i, &p) in ty.params.iter().enumerate() {
        let lty = ir_type(p);
        let at = i * VALUE_SLOT_SIZE;
        writeln!(
            ir,
            "  %a{i}p = getelementptr i8, ptr %values, i64 {at}\n  %a{i} = load {lty}, ptr %a{i}p, align 16"
        )
        .unwrap();
        write!(args, ", {lty} %a{i}").unwrap();
    }
    match ty.results.as_slice() {
        [] => writeln!(ir, "  call void %callee({args})").unwrap(),
        [_] => writeln!(
            ir,
            "  %r = call {ret} %callee({args})\n  store {ret} %r, ptr %values, align 16"
        )
        .unwrap(),
        many => {
            writeln!(ir, "  %r = call {ret} %callee({args})").unwrap();
            for (i, &r) in many.iter().enumerate() {
                let lty = ir_type(r);
                let at = i * VALUE_SLOT_SIZE;
                writeln!(
                    ir,
                    "  %r{i} = extractvalue {ret} %r, {i}\n  %r{i}p = getelementptr i8, ptr %values, i64 {at}\n  store {lty} %r{i}, ptr %r{i}p, align 16"
                )
                .unwrap();
            }
        }
    }
    ir.push_str("  ret void\n}\n\n");
    Ok(ir)
}

/// An exported, read-only table of code pointers.
fn pointer_table(symbol: &str, entries: impl Iterator<Item = String>) -> String {
    let entries: Vec<String> = entries.map(|e| format!("ptr {e}")).collect();
    format!(
        "@{symbol} = constant [{} x ptr] [{}], align 8\n\n",
        entries.len(),
        entries.join(", ")
    )
}

/// The size of each `luge_func_N` in `object`, in order.
fn function_sizes(object: &[u8], count: usize) -> Result<Vec<u32>, CompileError> {
    use object::{Object, ObjectSymbol};
    let file = object::File::parse(object)
        .map_err(|e| CompileError::Link(format!("reading clang's object: {e}")))?;
    let mut sizes = vec![None; count];
    for symbol in file.symbols() {
        let Some(index) = symbol
            .name()
            .ok()
            .and_then(|n| n.strip_prefix("luge_func_"))
            .and_then(|i| i.parse::<usize>().ok())
        else {
            continue;
        };
        if let Some(size) = sizes.get_mut(index) {
            *size = Some(symbol.size() as u32);
        }
    }
    sizes
        .into_iter()
        .enumerate()
        .map(|(i, size)| {
            size.ok_or_else(|| CompileError::Link(format!("clang's object lacks luge_func_{i}")))
        })
        .collect()
}

/// A relocatable object holding only the descriptor symbol.
fn descriptor_object(descriptor: &ModuleDescriptor, arch: Arch) -> Result<Vec<u8>, CompileError> {
    use object::write::{Object, Symbol, SymbolSection};
    use object::{Architecture, BinaryFormat, Endianness, SymbolFlags, SymbolKind, SymbolScope};
    debug_assert_eq!(descriptor.tier, Tier::Opt);
    let architecture = match arch {
        Arch::X86_64 => Architecture::X86_64,
        Arch::Aarch64 => Architecture::Aarch64,
    };
    let mut object = Object::new(BinaryFormat::Elf, architecture, Endianness::Little);
    let section = object.section_id(object::write::StandardSection::ReadOnlyData);
    let symbol = object.add_symbol(Symbol {
        name: DESCRIPTOR_SYMBOL.as_bytes().to_vec(),
        value: 0,
        size: 0,
        kind: SymbolKind::Data,
        scope: SymbolScope::Dynamic,
        weak: false,
        section: SymbolSection::Undefined,
        flags: SymbolFlags::None,
    });
    object.add_symbol_data(symbol, section, &descriptor.encode(), 8);
    object
        .write()
        .map_err(|e| CompileError::Link(format!("writing the descriptor object: {e}")))
}
