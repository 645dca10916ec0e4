//! Native signatures of wasm functions and trampolines.

use cranelift_codegen::ir::{self, types, AbiParam, ArgumentPurpose, Signature};
use cranelift_codegen::isa::CallConv;
use luge_abi::{FuncType, ValType};

/// The Cranelift type that holds a wasm value; references are pointers.
pub fn ir_type(ty: ValType, pointer: ir::Type) -> ir::Type {
    match ty {
        ValType::I32 => types::I32,
        ValType::I64 => types::I64,
        ValType::F32 => types::F32,
        ValType::F64 => types::F64,
        // cranelift-wasm's type for every v128, whatever its lanes.
        ValType::V128 => types::I8X16,
        ValType::FuncRef | ValType::ExternRef => pointer,
    }
}

/// Every wasm function, defined or imported (host functions included),
/// takes the callee's `VmCtx` first and then its wasm parameters, in the
/// platform's C calling convention so that Rust host functions can be
/// called directly.
pub fn wasm_signature(ty: &FuncType, pointer: ir::Type) -> Signature {
    let mut sig = Signature::new(CallConv::SystemV);
    sig.params
        .push(AbiParam::special(pointer, ArgumentPurpose::VMContext));
    sig.params.extend(
        ty.params
            .iter()
            .map(|&p| AbiParam::new(ir_type(p, pointer))),
    );
    sig.returns.extend(
        ty.results
            .iter()
            .map(|&r| AbiParam::new(ir_type(r, pointer))),
    );
    sig
}

/// Signature of a [`luge_abi::Trampoline`].
pub fn trampoline_signature(pointer: ir::Type) -> Signature {
    let mut sig = Signature::new(CallConv::SystemV);
    sig.params.extend([AbiParam::new(pointer); 3]);
    sig
}
