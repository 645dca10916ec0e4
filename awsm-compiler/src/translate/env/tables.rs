//! Table access: the `VmTable` a table index names, and bounds-checked
//! element addresses.

use super::FuncEnv;
use cranelift_codegen::cursor::FuncCursor;
use cranelift_codegen::ir::{self, condcodes::IntCC, types, InstBuilder, MemFlags, TrapCode};
use cranelift_wasm::TableIndex;
use luge_abi::offsets;

impl FuncEnv<'_, '_> {
    /// The `VmTable` of `table`, own or imported.
    pub(super) fn table_ptr(&self, pos: &mut FuncCursor, table: TableIndex) -> ir::Value {
        let vmctx = Self::vmctx(pos.func);
        let at = self.layout.table_ptr(table.as_u32()) as i32;
        pos.ins().load(self.ptr(), Self::readonly(), vmctx, at)
    }

    /// Address of element `index` of `table`, trapping with `kind` when it
    /// is past the end. With Spectre guards on, the address is also clamped
    /// to the first element without a branch, so that even a mispredicted
    /// trap cannot make the CPU read past the table.
    pub(super) fn table_elem_addr(
        &self,
        pos: &mut FuncCursor,
        table: TableIndex,
        index: ir::Value,
        kind: TrapCode,
    ) -> ir::Value {
        let ptr = self.ptr();
        let table = self.table_ptr(pos, table);
        let len = pos.ins().load(
            types::I64,
            MemFlags::trusted(),
            table,
            offsets::TABLE_LENGTH as i32,
        );
        let index = pos.ins().uextend(types::I64, index);
        let oob = pos
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, index, len);
        pos.ins().trapnz(oob, kind);
        let elements = pos.ins().load(
            ptr,
            MemFlags::trusted(),
            table,
            offsets::TABLE_ELEMENTS as i32,
        );
        let scaled = pos.ins().imul_imm(index, i64::from(ptr.bytes()));
        let addr = pos.ins().iadd(elements, scaled);
        if self.opts.spectre {
            pos.ins().select_spectre_guard(oob, elements, addr)
        } else {
            addr
        }
    }
}
