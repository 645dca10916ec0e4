//! wasmi: an interpreter, so no code generation shared with Luge at all.

use super::{no_such_function, Sandbox};
use crate::generate::FUEL;
use crate::observation::{Outcome, Trap, Value};
use wasmi::{Config, Engine, Instance, Linker, Module, Store, TrapCode, Val, F32, F64};

fn engine() -> Engine {
    let mut config = Config::default();
    config
        .wasm_simd(true)
        .wasm_reference_types(true)
        .wasm_multi_value(true)
        .wasm_bulk_memory(true)
        .wasm_saturating_float_to_int(true)
        .wasm_sign_extension(true)
        // Deeper than the fuel lets code recurse (one unit per call); the
        // default, 1000, would end many cases' comparison early.
        .set_max_recursion_depth(2 * FUEL as usize);
    Engine::new(&config)
}

pub struct WasmiSandbox {
    store: Store<()>,
    instance: Instance,
}

pub fn instantiate(wasm: &[u8]) -> Result<WasmiSandbox, Outcome> {
    let engine = engine();
    let module = Module::new(&engine, wasm).map_err(|e| Outcome::Refused(e.to_string()))?;
    let mut store = Store::new(&engine, ());
    let instance = Linker::<()>::new(&engine)
        .instantiate_and_start(&mut store, &module)
        .map_err(|e| failure(&e))?;
    Ok(WasmiSandbox { store, instance })
}

impl Sandbox for WasmiSandbox {
    fn call(&mut self, export: &str, args: &[Value]) -> Outcome {
        let Some(func) = self.instance.get_func(&self.store, export) else {
            return no_such_function();
        };
        let ty = func.ty(&self.store);
        let args: Vec<Val> = args.iter().zip(ty.params()).map(to_val).collect();
        let mut results: Vec<Val> = ty.results().iter().map(|t| Val::default(*t)).collect();
        match func.call(&mut self.store, &args, &mut results) {
            Ok(()) => Outcome::Returned(results.iter().map(from_val).collect()),
            Err(e) => failure(&e),
        }
    }

    fn set_global(&mut self, name: &str, value: Value) -> Option<()> {
        let global = self.instance.get_global(&self.store, name)?;
        let ty = global.ty(&self.store).content();
        global.set(&mut self.store, to_val((&value, &ty))).ok()
    }

    fn global(&mut self, name: &str) -> Option<Value> {
        let global = self.instance.get_global(&self.store, name)?;
        Some(from_val(&global.get(&self.store)))
    }

    fn memory(&mut self, name: &str) -> Option<Vec<u8>> {
        let memory = self.instance.get_memory(&self.store, name)?;
        Some(memory.data(&self.store).to_vec())
    }

    fn table(&mut self, name: &str) -> Option<Vec<bool>> {
        let table = self.instance.get_table(&self.store, name)?;
        (0..table.size(&self.store))
            .map(|i| {
                let element = table.get(&self.store, i)?;
                Some(from_val(&element) == Value::NullRef)
            })
            .collect()
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
