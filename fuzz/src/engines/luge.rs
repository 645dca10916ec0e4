//! Luge itself, in one configuration: compiled to a shared object, loaded,
//! instantiated and called the way `luge run` does, in-process.

use crate::observation::{Observation, Outcome, Trap, Value};
use crate::plan::Plan;
use awsm_compiler::{Arch, BoundsMode, CompileOptions, CpuLevel};
use luge_runtime::{
    CallError, Extern, Instance, InstanceConfig, InstantiationError, Module, Store, TrapKind, Val,
    ValType,
};
use std::path::Path;

/// One way Luge compiles: bounds mode, interrupt checks, CPU level.
#[derive(Debug, Clone, PartialEq)]
pub struct Configuration {
    pub opts: CompileOptions,
}

impl Configuration {
    pub fn new(bounds: BoundsMode, interrupt_checks: bool, cpu: CpuLevel) -> Configuration {
        Configuration {
            opts: CompileOptions {
                bounds,
                interrupt_checks,
                cpu,
                ..CompileOptions::for_arch(Arch::host())
            },
        }
    }

    /// `guard@v2`, `software-nointr@baseline`...: the bounds mode, whether
    /// interrupt checks are compiled in, and the CPU level.
    pub fn name(&self) -> String {
        let mut name = self.opts.bounds.name().to_string();
        if !self.opts.interrupt_checks {
            name.push_str("-nointr");
        }
        name.push('@');
        name.push_str(self.opts.cpu.name());
        name
    }

    /// The four configurations of bounds mode and interrupt checks, at `cpu`.
    pub fn all_at(cpu: CpuLevel) -> Vec<Configuration> {
        [BoundsMode::Guard, BoundsMode::Software]
            .into_iter()
            .flat_map(|bounds| [true, false].map(|checks| Configuration::new(bounds, checks, cpu)))
            .collect()
    }

    /// Compiles `wasm` in `dir` and runs `plan`.
    pub fn observe(&self, wasm: &[u8], plan: &Plan, dir: &Path) -> Observation {
        let path = dir.join(format!("{}.so", self.name()));
        if let Err(e) = awsm_compiler::compile_to_file(wasm, &self.opts, &path) {
            return Observation::refused(format!("compile: {e}"));
        }
        let module = Module::load(&path);
        let _ = std::fs::remove_file(&path);
        match module {
            Ok(module) => run(&module, plan),
            Err(e) => Observation::refused(format!("load: {e}")),
        }
    }
}

/// The CPU levels whose code this machine runs, lowest first. Levels
/// differ only on x86_64; elsewhere the one default stands for all.
pub fn runnable_cpu_levels() -> Vec<CpuLevel> {
    if Arch::host() != Arch::X86_64 {
        return vec![CpuLevel::default()];
    }
    CpuLevel::ALL
        .into_iter()
        .filter(|level| level.runs_on_host())
        .collect()
}

fn run(module: &Module, plan: &Plan) -> Observation {
    let store = Store::default();
    let instance = match Instance::new(module, &store, &[], &InstanceConfig::default()) {
        Ok(instance) => instance,
        Err(InstantiationError::Trap(kind)) => {
            return Observation::failed(Outcome::Trapped(trap(kind)))
        }
        Err(e) => return Observation::refused(e.to_string()),
    };
    let calls = plan
        .calls
        .iter()
        .map(|call| {
            let outcome = match instance.get_func(&call.export) {
                Some(func) => {
                    let params = &func.ty().params;
                    let args: Vec<Val> = call.args.iter().zip(params).map(to_val).collect();
                    match func.call(&args) {
                        Ok(results) => Outcome::Returned(results.iter().map(from_val).collect()),
                        Err(CallError::Trap(kind)) => Outcome::Trapped(trap(kind)),
                        Err(e) => Outcome::Refused(e.to_string()),
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
        .map(|name| match instance.get_export(name) {
            Some(Extern::Global(global)) => (name.clone(), from_val(&global.get())),
            _ => panic!("global export {name:?} missing"),
        })
        .collect();
    let memories = plan
        .memories
        .iter()
        .map(|name| match instance.get_export(name) {
            Some(Extern::Memory(memory)) => {
                let mut bytes = vec![0; memory.len() as usize];
                memory.read(0, &mut bytes).expect("a memory's own length");
                (name.clone(), bytes)
            }
            _ => panic!("memory export {name:?} missing"),
        })
        .collect();
    Observation {
        instantiation: Outcome::Returned(Vec::new()),
        calls,
        globals,
        memories,
    }
}

fn trap(kind: TrapKind) -> Trap {
    match kind {
        TrapKind::Unreachable => Trap::Unreachable,
        TrapKind::IntegerDivideByZero => Trap::IntegerDivideByZero,
        TrapKind::IntegerOverflow => Trap::IntegerOverflow,
        TrapKind::InvalidConversion => Trap::InvalidConversion,
        TrapKind::MemoryOutOfBounds => Trap::MemoryOutOfBounds,
        // The specification has one "undefined element" for an index past
        // the end of a table, whatever the instruction.
        TrapKind::TableOutOfBounds | TrapKind::UndefinedElement => Trap::TableOutOfBounds,
        TrapKind::UninitializedElement => Trap::IndirectCallToNull,
        TrapKind::IndirectCallTypeMismatch => Trap::IndirectCallType,
        TrapKind::StackOverflow => Trap::StackOverflow,
        TrapKind::NullReference => Trap::NullReference,
        other => Trap::Other(format!("{other:?}")),
    }
}

fn to_val((value, ty): (&Value, &ValType)) -> Val {
    match *value {
        Value::I32(v) => Val::I32(v as i32),
        Value::I64(v) => Val::I64(v as i64),
        Value::F32(v) => Val::F32(v),
        Value::F64(v) => Val::F64(v),
        Value::V128(v) => Val::V128(v),
        // Plans pass only null references.
        Value::NullRef | Value::NonNullRef => Val::zero(*ty),
    }
}

fn from_val(value: &Val) -> Value {
    match *value {
        Val::I32(v) => Value::I32(v as u32),
        Val::I64(v) => Value::I64(v as u64),
        Val::F32(v) => Value::F32(v),
        Val::F64(v) => Value::F64(v),
        Val::V128(v) => Value::V128(v),
        Val::FuncRef(r) | Val::ExternRef(r) => Value::reference(r == 0),
    }
}
