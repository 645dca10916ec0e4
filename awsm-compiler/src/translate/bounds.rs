//! Removes software bounds checks that cannot fire.
//!
//! cranelift-wasm checks every access on its own, and Cranelift keeps every
//! conditional trap, even one whose condition it folds to false. Two kinds
//! of check are needless, and this pass deletes them (dead code
//! elimination then deletes their comparisons):
//! - A check that repeats one earlier in its block (same index, same bound
//!   less the same constant): `a[i] += x`, a load and a store at the same
//!   address, compared and branched twice. A linear memory never shrinks,
//!   so once a check has passed the same check passes later too, calls and
//!   `memory.grow` in between or not.
//! - A check of a constant address inside the memory's minimum size: C
//!   code reads its globals as `i32.load offset=ADDR (i32.const 0)`, which
//!   left an `xor; test; jne` triple per access.

use cranelift_codegen::cursor::{Cursor, FuncCursor};
use cranelift_codegen::ir::{
    condcodes::IntCC, DataFlowGraph, Function, GlobalValue, InstructionData, Opcode, TrapCode,
    Value,
};
use std::collections::HashSet;

/// What a bounds check compares, by structure rather than by SSA value:
/// every access rebuilds its index extension and bound from scratch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Operand {
    /// A wasm i32 index zero-extended to the pointer width.
    Extended(Value),
    /// The memory length, read through a global value.
    Bound(GlobalValue),
    /// The memory length less a constant (an access's offset plus size).
    BoundLess(GlobalValue, i64),
}

type Check = (IntCC, Operand, Operand);

fn operand(dfg: &DataFlowGraph, value: Value) -> Option<Operand> {
    let inst = dfg.value_def(value).inst()?;
    match dfg.insts[inst] {
        InstructionData::Unary {
            opcode: Opcode::Uextend,
            arg,
        } => Some(Operand::Extended(arg)),
        InstructionData::UnaryGlobalValue {
            opcode: Opcode::GlobalValue,
            global_value,
        } => Some(Operand::Bound(global_value)),
        InstructionData::Binary {
            opcode: Opcode::Isub,
            args: [bound, less],
        } => match (operand(dfg, bound)?, constant(dfg, less)?) {
            (Operand::Bound(gv), k) => Some(Operand::BoundLess(gv, k)),
            _ => None,
        },
        _ => None,
    }
}

fn constant(dfg: &DataFlowGraph, value: Value) -> Option<i64> {
    match dfg.insts[dfg.value_def(value).inst()?] {
        InstructionData::UnaryImm {
            opcode: Opcode::Iconst,
            imm,
        } => Some(imm.bits()),
        _ => None,
    }
}

/// The comparison behind a heap bounds check's `trapnz`, if it has the
/// shape cranelift-wasm gives it.
fn check(dfg: &DataFlowGraph, condition: Value) -> Option<Check> {
    match dfg.insts[dfg.value_def(condition).inst()?] {
        // Only "index above the bound" compares: a larger bound can only
        // make them false, which is what makes a repeat redundant.
        InstructionData::IntCompare {
            opcode: Opcode::Icmp,
            cond: cond @ (IntCC::UnsignedGreaterThan | IntCC::UnsignedGreaterThanOrEqual),
            args: [index, bound],
        } => Some((cond, operand(dfg, index)?, operand(dfg, bound)?)),
        _ => None,
    }
}

/// Whether `check` passes whatever the memory's length, which is at least
/// `min_length`: its index is a constant `c`, and it fires only when `c`
/// exceeds (or reaches) the length less the access's offset and size.
fn never_fires(dfg: &DataFlowGraph, check: Check, min_length: u64) -> bool {
    let (cond, Operand::Extended(index), bound) = check else {
        return false;
    };
    let Some(c) = constant(dfg, index) else {
        return false;
    };
    let less = match bound {
        Operand::Bound(_) => 0,
        Operand::BoundLess(_, less) => less as u64,
        Operand::Extended(_) => return false,
    };
    // The index is an i32: its bits, not their sign extension.
    let end = u64::from(c as u32) + less;
    match cond {
        IntCC::UnsignedGreaterThan => end <= min_length,
        _ => end < min_length,
    }
}

/// Deletes every heap bounds check that an identical check earlier in the
/// same block already made, and every check of a constant address that
/// the memory's minimum size, `min_length` bytes, covers.
pub fn remove_needless_checks(func: &mut Function, min_length: u64) {
    let mut seen: HashSet<Check> = HashSet::new();
    let mut pos = FuncCursor::new(func);
    while pos.next_block().is_some() {
        seen.clear();
        while let Some(inst) = pos.next_inst() {
            let InstructionData::CondTrap {
                opcode: Opcode::Trapnz,
                arg,
                code: TrapCode::HeapOutOfBounds,
            } = pos.func.dfg.insts[inst]
            else {
                continue;
            };
            let Some(check) = check(&pos.func.dfg, arg) else {
                continue;
            };
            if never_fires(&pos.func.dfg, check, min_length) || !seen.insert(check) {
                pos.remove_inst_and_step_back();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_codegen::ir::{
        types, AbiParam, ExtFuncData, ExternalName, GlobalValueData, InstBuilder, Signature,
        UserExternalName,
    };
    use cranelift_codegen::isa::CallConv;
    use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

    fn heap_checks(func: &Function) -> usize {
        func.layout
            .blocks()
            .flat_map(|b| func.layout.block_insts(b))
            .filter(|&i| {
                matches!(
                    func.dfg.insts[i],
                    InstructionData::CondTrap {
                        code: TrapCode::HeapOutOfBounds,
                        ..
                    }
                )
            })
            .count()
    }

    /// A function of `sig` with the global value of the memory length that
    /// checks compare against.
    fn function_with_length(sig: Signature) -> (Function, GlobalValue) {
        let mut func = Function::with_name_signature(Default::default(), sig);
        let vmctx = func.create_global_value(GlobalValueData::VMContext);
        let length = func.create_global_value(GlobalValueData::IAddImm {
            base: vmctx,
            offset: 8.into(),
            global_type: types::I64,
        });
        (func, length)
    }

    /// Emits a bounds check as cranelift-wasm does for one access: the i32
    /// `index` extended and compared by `cond` with the length less `less`.
    fn emit_check(
        b: &mut FunctionBuilder,
        length: GlobalValue,
        index: Value,
        less: i64,
        cond: IntCC,
    ) {
        let index = b.ins().uextend(types::I64, index);
        let mut bound = b.ins().global_value(types::I64, length);
        if less != 0 {
            let k = b.ins().iconst(types::I64, less);
            bound = b.ins().isub(bound, k);
        }
        let oob = b.ins().icmp(cond, index, bound);
        b.ins().trapnz(oob, TrapCode::HeapOutOfBounds);
    }

    /// One block checking two indices against the memory length, with a
    /// call between the second and third checks.
    #[test]
    fn a_repeated_check_in_a_block_goes_and_others_stay() {
        let mut sig = Signature::new(CallConv::SystemV);
        sig.params.push(AbiParam::new(types::I32));
        sig.params.push(AbiParam::new(types::I32));
        let (mut func, length) = function_with_length(sig);
        let mut ctx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut func, &mut ctx);
        let block = b.create_block();
        b.append_block_params_for_function_params(block);
        b.switch_to_block(block);
        b.seal_block(block);
        let (i, j) = (b.block_params(block)[0], b.block_params(block)[1]);
        let callee_sig = b.import_signature(Signature::new(CallConv::SystemV));
        let name = b
            .func
            .declare_imported_user_function(UserExternalName::new(0, 0));
        let callee = b.import_function(ExtFuncData {
            name: ExternalName::User(name),
            signature: callee_sig,
            colocated: true,
        });
        let check = |b: &mut FunctionBuilder, index, less| {
            emit_check(b, length, index, less, IntCC::UnsignedGreaterThan)
        };
        check(&mut b, i, 0);
        check(&mut b, i, 0); // repeat: goes
        b.ins().call(callee, &[]);
        check(&mut b, i, 0); // the length only grows: goes
        check(&mut b, j, 0); // another index: stays
        check(&mut b, i, 8); // another bound: stays
        check(&mut b, i, 8); // repeat: goes
        b.ins().return_(&[]);
        b.finalize();
        assert_eq!(heap_checks(&func), 6);
        remove_needless_checks(&mut func, 65536);
        assert_eq!(heap_checks(&func), 3);
    }

    /// Checks of constant addresses against a memory of at least one page.
    #[test]
    fn a_constant_address_inside_the_minimum_size_is_not_checked() {
        let (mut func, length) = function_with_length(Signature::new(CallConv::SystemV));
        let mut ctx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut func, &mut ctx);
        let block = b.create_block();
        b.switch_to_block(block);
        b.seal_block(block);
        let mut check = |address: i64, less, cond| {
            let index = b.ins().iconst(types::I32, address);
            emit_check(&mut b, length, index, less, cond);
        };
        use IntCC::{UnsignedGreaterThan as Above, UnsignedGreaterThanOrEqual as AtOrAbove};
        check(0, 0, Above); // goes
        check(65536, 0, Above); // at the length: the access faults in the guard instead: goes
        check(65537, 0, Above); // stays
        check(65528, 8, Above); // goes
        check(65529, 8, Above); // stays
        check(65535, 0, AtOrAbove); // goes
        check(65536, 0, AtOrAbove); // stays
        check(-1, 0, Above); // 4 GiB - 1: stays
        b.ins().return_(&[]);
        b.finalize();
        remove_needless_checks(&mut func, 65536);
        assert_eq!(heap_checks(&func), 4);
    }
}
