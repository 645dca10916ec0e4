//! Wasmtime (Cranelift, like Luge, but its own translation and runtime).

use super::{no_such_function, Sandbox, GUEST_STACK};
use crate::observation::{Outcome, Trap, Value};
use wasmtime::{Config, Engine, Instance, Module, Store, Val};

fn engine() -> Engine {
    let mut config = Config::new();
    config
        .wasm_simd(true)
        .wasm_reference_types(true)
        .wasm_multi_value(true)
        .wasm_bulk_memory(true)
        // Checked against the async stack even where nothing runs async.
        .async_stack_size(GUEST_STACK)
        .max_wasm_stack(GUEST_STACK);
    Engine::new(&config).expect("a Wasmtime engine for the features Luge supports")
}

pub struct WasmtimeSandbox {
    store: Store<()>,
    instance: Instance,
}

pub fn instantiate(wasm: &[u8]) -> Result<WasmtimeSandbox, Outcome> {
    thread_local! {
        static ENGINE: Engine = engine();
    }
    let engine = ENGINE.with(Engine::clone);
    let module = Module::new(&engine, wasm).map_err(|e| Outcome::Refused(format!("{e:#}")))?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).map_err(failure)?;
    Ok(WasmtimeSandbox { store, instance })
}

impl Sandbox for WasmtimeSandbox {
    fn call(&mut self, export: &str, args: &[Value]) -> Outcome {
        let Some(func) = self.instance.get_func(&mut self.store, export) else {
            return no_such_function();
        };
        let ty = func.ty(&self.store);
        let args: Vec<Val> = args.iter().zip(ty.params()).map(to_val).collect();
        let mut results = vec![Val::I32(0); ty.results().len()];
        match func.call(&mut self.store, &args, &mut results) {
            Ok(()) => Outcome::Returned(results.iter().map(from_val).collect()),
            Err(e) => failure(e),
        }
    }

    fn set_global(&mut self, name: &str, value: Value) -> Option<()> {
        let global = self.instance.get_global(&mut self.store, name)?;
        let ty = global.ty(&self.store).content().clone();
        global.set(&mut self.store, to_val((&value, ty))).ok()
    }

    fn global(&mut self, name: &str) -> Option<Value> {
        let global = self.instance.get_global(&mut self.store, name)?;
        Some(from_val(&global.get(&mut self.store)))
    }

    fn memory(&mut self, name: &str) -> Option<Vec<u8>> {
        let memory = self.instance.get_memory(&mut self.store, name)?;
        Some(memory.data(&self.store).to_vec())
    }

    fn table(&mut self, name: &str) -> Option<Vec<bool>> {
        let table = self.instance.get_table(&mut self.store, name)?;
        let size = table.size(&self.store);
        (0..size)
            .map(|i| table.get(&mut self.store, i).map(|r| r.is_null()))
            .collect()
    }
}

fn failure(error: wasmtime::Error) -> Outcome {
    let Some(trap) = error.downcast_ref::<wasmtime::Trap>() else {
        return Outcome::Refused(format!("{error:#}"));
    };
    use wasmtime::Trap as T;
    Outcome::Trapped(match trap {
        T::UnreachableCodeReached => Trap::Unreachable,
        T::MemoryOutOfBounds => Trap::MemoryOutOfBounds,
        T::TableOutOfBounds => Trap::TableOutOfBounds,
        T::IndirectCallToNull => Trap::IndirectCallToNull,
        T::BadSignature => Trap::IndirectCallType,
        T::IntegerDivisionByZero => Trap::IntegerDivideByZero,
        T::IntegerOverflow => Trap::IntegerOverflow,
        T::BadConversionToInteger => Trap::InvalidConversion,
        T::NullReference => Trap::NullReference,
        T::StackOverflow => Trap::StackOverflow,
        other => Trap::Other(format!("{other:?}")),
    })
}

fn to_val((value, ty): (&Value, wasmtime::ValType)) -> Val {
    match *value {
        Value::I32(v) => Val::I32(v as i32),
        Value::I64(v) => Val::I64(v as i64),
        Value::F32(v) => Val::F32(v),
        Value::F64(v) => Val::F64(v),
        Value::V128(v) => Val::V128(v.into()),
        // Plans pass only null references.
        Value::NullRef | Value::NonNullRef => {
            Val::default_for_ty(&ty).expect("reference parameters are nullable")
        }
    }
}

fn from_val(value: &Val) -> Value {
    match value {
        Val::I32(v) => Value::I32(*v as u32),
        Val::I64(v) => Value::I64(*v as u64),
        Val::F32(v) => Value::F32(*v),
        Val::F64(v) => Value::F64(*v),
        Val::V128(v) => Value::V128(v.as_u128()),
        Val::FuncRef(f) => Value::reference(f.is_none()),
        Val::ExternRef(r) => Value::reference(r.is_none()),
        Val::AnyRef(r) => Value::reference(r.is_none()),
        Val::ExnRef(r) => Value::reference(r.is_none()),
        Val::ContRef(r) => Value::reference(r.is_none()),
    }
}
