//! The library routines Cranelift calls where the target CPU lacks an
//! instruction: rounding (`ceil`, `floor`, `trunc` and `nearest`, which
//! need SSE4.1's `roundss`/`roundsd`) and byte shuffles (`swizzle` and
//! `shuffle`, which need SSSE3's `pshufb`). A Luge object links against
//! nothing, so every routine its code calls is compiled into the object
//! itself, from the IR written here, under the name Cranelift calls it by
//! (hidden, so it never meets a library's routine of the same name).

use crate::error::CompileError;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    self, types, ExternalName, InstBuilder, LibCall, MemFlags, StackSlotData, StackSlotKind,
    UserFuncName,
};
use cranelift_codegen::isa::TargetIsa;
use cranelift_codegen::{FinalizedMachReloc, FinalizedRelocTarget};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use std::collections::HashSet;

/// The library routines `relocs` call, each once, in a stable order.
pub(super) fn called<'a>(relocs: impl Iterator<Item = &'a FinalizedMachReloc>) -> Vec<LibCall> {
    let called: HashSet<LibCall> = relocs
        .filter_map(|reloc| match &reloc.target {
            FinalizedRelocTarget::ExternalName(ExternalName::LibCall(call)) => Some(*call),
            _ => None,
        })
        .collect();
    LibCall::all_libcalls()
        .iter()
        .copied()
        .filter(|call| called.contains(call))
        .collect()
}

/// The IR of routine `call`, in the signature Cranelift calls it with; an
/// error for a routine Luge does not provide.
pub(super) fn routine(
    call: LibCall,
    isa: &dyn TargetIsa,
    builder_ctx: &mut FunctionBuilderContext,
) -> Result<ir::Function, CompileError> {
    let signature = call.signature(isa.default_call_conv(), isa.pointer_type());
    let mut func = ir::Function::with_name_signature(UserFuncName::default(), signature);
    let mut b = FunctionBuilder::new(&mut func, builder_ctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    b.seal_block(block);
    let params = b.block_params(block).to_vec();
    let result = match call {
        LibCall::CeilF32 | LibCall::CeilF64 => round(&mut b, params[0], Rounding::Up),
        LibCall::FloorF32 | LibCall::FloorF64 => round(&mut b, params[0], Rounding::Down),
        LibCall::TruncF32 | LibCall::TruncF64 => round(&mut b, params[0], Rounding::Zero),
        LibCall::NearestF32 | LibCall::NearestF64 => round(&mut b, params[0], Rounding::Nearest),
        LibCall::X86Pshufb => pshufb(&mut b, params[0], params[1], isa.pointer_type()),
        other => {
            return Err(CompileError::Target(format!(
                "the code needs the library routine {other}, which Luge does not provide \
                 for this CPU level; compile for a higher --cpu level"
            )))
        }
    };
    b.ins().return_(&[result]);
    b.finalize();
    Ok(func)
}

#[derive(Clone, Copy)]
enum Rounding {
    Up,
    Down,
    Zero,
    Nearest,
}

/// `x` rounded to an integer as WebAssembly's `ceil`, `floor`, `trunc` and
/// `nearest` define it (IEEE 754 roundToIntegral: exact, the sign of zero
/// kept, NaN in a NaN out).
///
/// A float of magnitude 2^(mantissa bits) or more is an integer already
/// (and infinities and NaNs pass through, NaNs quieted by adding zero).
/// Below that, `(|x| + 2^m) - 2^m` is `|x|` rounded to the nearest
/// integer, ties to even, in the default rounding mode: the sum has no
/// fraction bits left. The other directions step that by one where it
/// went the wrong way, and every result takes `x`'s sign, which is right
/// for integers below 2^m and gives zeros their sign (`ceil(-0.5)` is -0).
fn round(b: &mut FunctionBuilder, x: ir::Value, rounding: Rounding) -> ir::Value {
    let ty = b.func.dfg.value_type(x);
    let (big, zero, one) = if ty == types::F32 {
        (
            b.ins().f32const((1u32 << 23) as f32),
            b.ins().f32const(0.0),
            b.ins().f32const(1.0),
        )
    } else {
        (
            b.ins().f64const((1u64 << 52) as f64),
            b.ins().f64const(0.0),
            b.ins().f64const(1.0),
        )
    };
    let magnitude = b.ins().fabs(x);
    let integral = b
        .ins()
        .fcmp(FloatCC::UnorderedOrGreaterThanOrEqual, magnitude, big);
    let as_is = b.ins().fadd(x, zero);
    let raised = b.ins().fadd(magnitude, big);
    let nearest_magnitude = b.ins().fsub(raised, big);
    let adjusted_magnitude = match rounding {
        Rounding::Nearest | Rounding::Up | Rounding::Down => nearest_magnitude,
        // Toward zero is down for the magnitude.
        Rounding::Zero => step(b, nearest_magnitude, magnitude, one, Rounding::Down),
    };
    let signed = b.ins().fcopysign(adjusted_magnitude, x);
    let rounded = match rounding {
        Rounding::Up | Rounding::Down => {
            let stepped = step(b, signed, x, one, rounding);
            b.ins().fcopysign(stepped, x)
        }
        Rounding::Zero | Rounding::Nearest => signed,
    };
    b.ins().select(integral, as_is, rounded)
}

/// `nearest` (an integer near `x`) moved by one toward `rounding`'s side
/// of `x` if it lies on the other side.
fn step(
    b: &mut FunctionBuilder,
    nearest: ir::Value,
    x: ir::Value,
    one: ir::Value,
    rounding: Rounding,
) -> ir::Value {
    match rounding {
        Rounding::Up => {
            let below = b.ins().fcmp(FloatCC::LessThan, nearest, x);
            let up = b.ins().fadd(nearest, one);
            b.ins().select(below, up, nearest)
        }
        _ => {
            let above = b.ins().fcmp(FloatCC::GreaterThan, nearest, x);
            let down = b.ins().fsub(nearest, one);
            b.ins().select(above, down, nearest)
        }
    }
}

/// x86's `pshufb`: byte `i` of the result is byte `mask[i] & 15` of
/// `table`, or 0 where `mask[i]` has its top bit set. Done byte by byte
/// through the stack, with SSE2's loads and stores only.
fn pshufb(
    b: &mut FunctionBuilder,
    table: ir::Value,
    mask: ir::Value,
    pointer: ir::Type,
) -> ir::Value {
    let slot = |b: &mut FunctionBuilder| {
        b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 16, 4))
    };
    let (table_slot, mask_slot, result_slot) = (slot(b), slot(b), slot(b));
    b.ins().stack_store(table, table_slot, 0);
    b.ins().stack_store(mask, mask_slot, 0);
    let table_base = b.ins().stack_addr(pointer, table_slot, 0);
    let zero = b.ins().iconst(types::I8, 0);
    for i in 0..16 {
        let selector = b.ins().stack_load(types::I8, mask_slot, i);
        let index = b.ins().band_imm(selector, 15);
        let index = b.ins().uextend(pointer, index);
        let at = b.ins().iadd(table_base, index);
        let byte = b.ins().load(types::I8, MemFlags::trusted(), at, 0);
        let cleared = b.ins().band_imm(selector, 0x80);
        let keep = b.ins().icmp_imm(IntCC::Equal, cleared, 0);
        let byte = b.ins().select(keep, byte, zero);
        b.ins().stack_store(byte, result_slot, i);
    }
    b.ins().stack_load(types::I8X16, result_slot, 0)
}
