//! Calls into the runtime's builtins (memory and table operations compiled
//! code cannot do inline), through the builtin table of the `VmCtx`.

use super::FuncEnv;
use cranelift_codegen::cursor::FuncCursor;
use cranelift_codegen::ir::{self, types, AbiParam, InstBuilder, Signature, TrapCode};
use cranelift_codegen::isa::CallConv;
use luge_abi::offsets;

impl FuncEnv<'_, '_> {
    /// Calls builtin `index` with `(vmctx, args...)`.
    pub(super) fn call_builtin(
        &self,
        pos: &mut FuncCursor,
        index: usize,
        args: &[ir::Value],
        returns: bool,
    ) -> Option<ir::Value> {
        let ptr = self.ptr();
        let vmctx = Self::vmctx(pos.func);
        let mut sig = Signature::new(CallConv::SystemV);
        sig.params.push(AbiParam::new(ptr));
        for &arg in args {
            sig.params.push(AbiParam::new(pos.func.dfg.value_type(arg)));
        }
        if returns {
            sig.returns.push(AbiParam::new(types::I32));
        }
        let sig = pos.func.import_signature(sig);
        let builtins = pos
            .ins()
            .load(ptr, Self::readonly(), vmctx, offsets::BUILTINS as i32);
        let code = pos.ins().load(
            ptr,
            Self::readonly(),
            builtins,
            offsets::builtin(index) as i32,
        );
        let mut call_args = vec![vmctx];
        call_args.extend_from_slice(args);
        let call = pos.ins().call_indirect(sig, code, &call_args);
        returns.then(|| pos.func.dfg.first_result(call))
    }

    /// Calls a builtin that reports failure with a non-zero status and traps
    /// with `code` when it does.
    pub(super) fn call_checked_builtin(
        &self,
        mut pos: FuncCursor,
        index: usize,
        args: &[ir::Value],
        code: TrapCode,
    ) {
        let status = self.call_builtin(&mut pos, index, args, true).unwrap();
        pos.ins().trapnz(status, code);
    }
}
