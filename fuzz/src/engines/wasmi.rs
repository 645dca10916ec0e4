//! wasmi: an interpreter, so no code generation shared with Luge at all.

use crate::observation::{Observation, Outcome, Trap, Value};
use crate::plan::Plan;
use wasmi::{Config, Engine, Linker, Module, Store, TrapCode, Val, F32, F64};

fn engine() -> Engine {
    let mut config = Config::default();
    config
        .wasm_simd(true)
        .wasm_reference_types(true)
        .wasm_multi_value(true)
        .wasm_bulk_memory(true)
        .wasm_saturating_float_to_int(true)
        .wasm_sign_extension(true);
    Engine::new(&config)
}

pub fn observe(wasm: &[u8], plan: &Plan) -> Observation {
    let engine = engine();
    let module = match Module::new(&engine, wasm) {
        Ok(module) => module,
        Err(e) => return Observation::refused(e.to_string()),
    };
    let mut store = Store::new(&engine, ());
    let instance = match Linker::<()>::new(&engine).instantiate_and_start(&mut store, &module) {
        Ok(instance) => instance,
        Err(e) => return Observation::failed(failure(&e)),
    };
    let calls = plan
        .calls
        .iter()
        .map(|call| {
            let outcome = match instance.get_func(&store, &call.export) {
                Some(func) => {
                    let ty = func.ty(&store);
                    let args: Vec<Val> = call.args.iter().zip(ty.params()).map(to_val).collect();
                    let mut results: Vec<Val> =
                        ty.results().iter().map(|t| Val::default(*t)).collect();
                    match func.call(&mut store, &args, &mut results) {
                        Ok(()) => Outcome::Returned(results.iter().map(from_val).collect()),
                        Err(e) => failure(&e),
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
            let global = instance.get_global(&store, name).expect("exported global");
            (name.clone(), from_val(&global.get(&store)))
        })
        .collect();
    let memories = plan
        .memories
        .iter()
        .map(|name| {
            let memory = instance.get_memory(&store, name).expect("exported memory");
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

/// wasmi reports some out-of-bounds accesses as errors of their own kinds
/// (active segments that do not fit, bulk table operations), where the
/// specification (and the other engines) trap.
fn failure(error: &wasmi::Error) -> Outcome {
    use wasmi::errors::{ErrorKind, InstantiationError, MemoryError, TableError};
    let trap = match error.kind() {
        ErrorKind::Instantiation(InstantiationError::ElementSegmentDoesNotFit { .. })
        | ErrorKind::Table(
            TableError::InitOutOfBounds
            | TableError::FillOutOfBounds
            | TableError::SetOutOfBounds
            | TableError::CopyOutOfBounds,
        ) => Trap::TableOutOfBounds,
        ErrorKind::Memory(MemoryError::OutOfBoundsAccess) => Trap::MemoryOutOfBounds,
        _ => match error.as_trap_code() {
            Some(code) => trap(code),
            None => return Outcome::Refused(error.to_string()),
        },
    };
    Outcome::Trapped(trap)
}

fn trap(code: TrapCode) -> Trap {
    match code {
        TrapCode::UnreachableCodeReached => Trap::Unreachable,
        TrapCode::MemoryOutOfBounds => Trap::MemoryOutOfBounds,
        TrapCode::TableOutOfBounds => Trap::TableOutOfBounds,
        TrapCode::IndirectCallToNull => Trap::IndirectCallToNull,
        TrapCode::BadSignature => Trap::IndirectCallType,
        TrapCode::IntegerDivisionByZero => Trap::IntegerDivideByZero,
        TrapCode::IntegerOverflow => Trap::IntegerOverflow,
        TrapCode::BadConversionToInteger => Trap::InvalidConversion,
        TrapCode::StackOverflow => Trap::StackOverflow,
        other => Trap::Other(format!("{other:?}")),
    }
}

fn to_val((value, ty): (&Value, &wasmi::ValType)) -> Val {
    match *value {
        Value::I32(v) => Val::I32(v as i32),
        Value::I64(v) => Val::I64(v as i64),
        Value::F32(v) => Val::F32(F32::from_bits(v)),
        Value::F64(v) => Val::F64(F64::from_bits(v)),
        Value::V128(v) => Val::V128(v.into()),
        // Plans pass only null references.
        Value::NullRef | Value::NonNullRef => Val::default(*ty),
    }
}

fn from_val(value: &Val) -> Value {
    match value {
        Val::I32(v) => Value::I32(*v as u32),
        Val::I64(v) => Value::I64(*v as u64),
        Val::F32(v) => Value::F32(v.to_bits()),
        Val::F64(v) => Value::F64(v.to_bits()),
        Val::V128(v) => Value::V128(v.as_u128()),
        Val::FuncRef(r) => Value::reference(r.is_null()),
        Val::ExternRef(r) => Value::reference(r.is_null()),
    }
}
