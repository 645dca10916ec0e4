//! Wasmtime (Cranelift, like Luge, but its own translation and runtime).

use crate::observation::{Observation, Outcome, Trap, Value};
use crate::plan::Plan;
use wasmtime::{Config, Engine, Instance, Module, Store, Val};

fn engine() -> Engine {
    let mut config = Config::new();
    config.wasm_simd(true);
    config.wasm_reference_types(true);
    config.wasm_multi_value(true);
    config.wasm_bulk_memory(true);
    Engine::new(&config).expect("a Wasmtime engine for the features Luge supports")
}

pub fn observe(wasm: &[u8], plan: &Plan) -> Observation {
    thread_local! {
        static ENGINE: Engine = engine();
    }
    let engine = ENGINE.with(Engine::clone);
    let module = match Module::new(&engine, wasm) {
        Ok(module) => module,
        Err(e) => return Observation::refused(format!("{e:#}")),
    };
    let mut store = Store::new(&engine, ());
    let instance = match Instance::new(&mut store, &module, &[]) {
        Ok(instance) => instance,
        Err(e) => return Observation::failed(failure(e)),
    };
    let calls = plan
        .calls
        .iter()
        .map(|call| {
            let outcome = match instance.get_func(&mut store, &call.export) {
                Some(func) => {
                    let ty = func.ty(&store);
                    let args: Vec<Val> = call.args.iter().zip(ty.params()).map(to_val).collect();
                    let mut results = vec![Val::I32(0); ty.results().len()];
                    match func.call(&mut store, &args, &mut results) {
                        Ok(()) => Outcome::Returned(results.iter().map(from_val).collect()),
                        Err(e) => failure(e),
                    }
                }
                None => Outcome::Refused("no such function export".into()),
            };
            (call.export.clone(), outcome)
        })
        .collect();
    let globals = plan
        .globals
        .iter()
        .map(|name| {
            let global = instance
                .get_global(&mut store, name)
                .expect("exported global");
            (name.clone(), from_val(&global.get(&mut store)))
        })
        .collect();
    let memories = plan
        .memories
        .iter()
        .map(|name| {
            let memory = instance
                .get_memory(&mut store, name)
                .expect("exported memory");
            (name.clone(), memory.data(&store).to_vec())
        })
        .collect();
    Observation {
        instantiation: Outcome::Returned(Vec::new()),
        calls,
        globals,
        memories,
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
