//! The `spectest` host module the testsuite imports from.

use luge_runtime::{
    Extern, Func, FuncType, Global, GlobalType, Memory, MemoryType, Table, TableType, Val, ValType,
};
use std::collections::HashMap;

type Ctx = *mut u8;

// The print functions print nothing: the suite only checks that they link
// and can be called with each signature.
extern "C" fn print(_: Ctx) {}
extern "C" fn print_i32(_: Ctx, _: i32) {}
extern "C" fn print_i64(_: Ctx, _: i64) {}
extern "C" fn print_f32(_: Ctx, _: f32) {}
extern "C" fn print_f64(_: Ctx, _: f64) {}
extern "C" fn print_i32_f32(_: Ctx, _: i32, _: f32) {}
extern "C" fn print_f64_f64(_: Ctx, _: f64, _: f64) {}

fn func(code: *const u8, params: &[ValType]) -> Extern {
    let ty = FuncType {
        params: params.to_vec(),
        results: vec![],
    };
    // SAFETY: each function above takes the context pointer followed by
    // exactly the parameters listed with it, and returns nothing.
    Extern::Func(unsafe { Func::host(code, ty) })
}

fn global(ty: ValType, value: Val) -> Extern {
    Extern::Global(Global::host(GlobalType { ty, mutable: false }, value))
}

/// The module's exports; its memory is made for code compiled in `mode`.
pub fn exports(mode: awsm_compiler::BoundsMode) -> HashMap<String, Extern> {
    use ValType::*;
    let mut m = HashMap::new();
    m.insert("print".into(), func(print as *const u8, &[]));
    m.insert("print_i32".into(), func(print_i32 as *const u8, &[I32]));
    m.insert("print_i64".into(), func(print_i64 as *const u8, &[I64]));
    m.insert("print_f32".into(), func(print_f32 as *const u8, &[F32]));
    m.insert("print_f64".into(), func(print_f64 as *const u8, &[F64]));
    m.insert(
        "print_i32_f32".into(),
        func(print_i32_f32 as *const u8, &[I32, F32]),
    );
    m.insert(
        "print_f64_f64".into(),
        func(print_f64_f64 as *const u8, &[F64, F64]),
    );
    m.insert("global_i32".into(), global(I32, Val::I32(666)));
    m.insert("global_i64".into(), global(I64, Val::I64(666)));
    m.insert(
        "global_f32".into(),
        global(F32, Val::F32(666.6f32.to_bits())),
    );
    m.insert(
        "global_f64".into(),
        global(F64, Val::F64(666.6f64.to_bits())),
    );
    let table = TableType {
        elem: FuncRef,
        min: 10,
        max: Some(20),
    };
    m.insert(
        "table".into(),
        Extern::Table(Table::new(table, 0).expect("small table")),
    );
    let memory = MemoryType {
        min: 1,
        max: Some(2),
    };
    let memory = Memory::new(memory, mode, u32::MAX).expect("spectest memory");
    m.insert("memory".into(), Extern::Memory(memory));
    m
}
