//! Luge itself, in one configuration: compiled to a shared object, loaded,
//! instantiated and called the way `luge run` does, in-process.

use super::{no_such_function, run_plan, Sandbox, GUEST_STACK};
use crate::observation::{Observation, Outcome, Trap, Value};
use crate::plan::Plan;
use awsm_compiler::{Arch, BoundsMode, CompileOptions, CpuLevel, Tier};
use luge_runtime::{
    CallError, Extern, Instance, InstanceConfig, InstantiationError, Module, Store, TrapKind, Val,
    ValType,
};
use std::path::Path;

/// Tier, bounds mode and interrupt checks: a configuration but for its
/// CPU level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Variant {
    pub tier: Tier,
    pub bounds: BoundsMode,
    pub interrupt_checks: bool,
}

impl Variant {
    /// The fast tier's four: what runs by default.
    pub const ALL: [Variant; 4] = [
        Variant::new(Tier::Fast, BoundsMode::Guard, true),
        Variant::new(Tier::Fast, BoundsMode::Guard, false),
        Variant::new(Tier::Fast, BoundsMode::Software, true),
        Variant::new(Tier::Fast, BoundsMode::Software, false),
    ];
    /// The opt tier's, run when named: each costs a clang run per case.
    pub const OPT: [Variant; 4] = {
        let mut opt = Variant::ALL;
        let mut i = 0;
        while i < opt.len() {
            opt[i].tier = Tier::Opt;
            i += 1;
        }
        opt
    };
    pub const NAMES: &str =
        "guard, guard-nointr, software or software-nointr, each also with opt- before it (the opt tier)";

    pub const fn new(tier: Tier, bounds: BoundsMode, interrupt_checks: bool) -> Variant {
        Variant {
            tier,
            bounds,
            interrupt_checks,
        }
    }

    /// `guard`, `software-nointr`, `opt-guard`...: the tier when it is not
    /// the default, the bounds mode, and whether interrupt checks are left
    /// out (as `luge serve` ships on x86_64).
    pub fn name(self) -> String {
        let tier = match self.tier {
            Tier::Fast => "",
            Tier::Opt => "opt-",
        };
        let checks = if self.interrupt_checks { "" } else { "-nointr" };
        format!("{tier}{}{checks}", self.bounds.name())
    }

    pub fn at(self, cpu: CpuLevel) -> Configuration {
        Configuration { variant: self, cpu }
    }
}

impl std::str::FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> Result<Variant, String> {
        Variant::ALL
            .into_iter()
            .chain(Variant::OPT)
            .find(|v| v.name() == s)
            .ok_or_else(|| format!("unknown configuration `{s}` (expected {})", Variant::NAMES))
    }
}

/// One way Luge compiles: a [`Variant`] at a CPU level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Configuration {
    pub variant: Variant,
    pub cpu: CpuLevel,
}

impl Configuration {
    /// `guard@v2`, `software-nointr@baseline`...
    pub fn name(&self) -> String {
        format!("{}@{}", self.variant.name(), self.cpu.name())
    }

    /// The four variants at `cpu`.
    pub fn all_at(cpu: CpuLevel) -> Vec<Configuration> {
        Variant::ALL.iter().map(|v| v.at(cpu)).collect()
    }

    fn options(&self) -> CompileOptions {
        CompileOptions {
            bounds: self.variant.bounds,
            interrupt_checks: self.variant.interrupt_checks,
            cpu: self.cpu,
            tier: self.variant.tier,
            ..CompileOptions::for_arch(Arch::host())
        }
    }

    /// Compiles `wasm` in `dir` and runs `plan`; `None` when the opt tier
    /// does not translate the module (SIMD rounding at a CPU level without
    /// SSE4.1), which says nothing about its correctness.
    pub fn observe(&self, wasm: &[u8], plan: &Plan, dir: &Path) -> Option<Observation> {
        let path = dir.join(format!("{}.so", self.name()));
        match awsm_compiler::compile_to_file(wasm, &self.options(), &path) {
            Err(awsm_compiler::CompileError::NotInOptTier { .. })
                if self.variant.tier == Tier::Opt =>
            {
                None
            }
            compiled => Some(run_plan(self.instantiate(compiled, &path), plan)),
        }
    }

    fn instantiate(
        &self,
        compiled: Result<(), awsm_compiler::CompileError>,
        path: &Path,
    ) -> Result<LugeSandbox, Outcome> {
        compiled.map_err(|e| Outcome::Refused(format!("compile: {e}")))?;
        let module = Module::load(path);
        let _ = std::fs::remove_file(path);
        let module = module.map_err(|e| Outcome::Refused(format!("load: {e}")))?;
        let store = Store::new(GUEST_STACK);
        match Instance::new(&module, &store, &[], &InstanceConfig::default()) {
            Ok(instance) => Ok(LugeSandbox {
                instance,
                _store: store,
            }),
            Err(InstantiationError::Trap(kind)) => Err(Outcome::Trapped(trap(kind))),
            Err(e) => Err(Outcome::Refused(e.to_string())),
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

struct LugeSandbox {
    instance: Instance,
    _store: Store,
}

impl Sandbox for LugeSandbox {
    fn call(&mut self, export: &str, args: &[Value]) -> Outcome {
        let Some(func) = self.instance.get_func(export) else {
            return no_such_function();
        };
        let args: Vec<Val> = args.iter().zip(&func.ty().params).map(to_val).collect();
        match func.call(&args) {
            Ok(results) => Outcome::Returned(results.iter().map(from_val).collect()),
            Err(CallError::Trap(kind)) => Outcome::Trapped(trap(kind)),
            Err(e) => Outcome::Refused(e.to_string()),
        }
    }

    fn set_global(&mut self, name: &str, value: Value) -> Option<()> {
        let Some(Extern::Global(global)) = self.instance.get_export(name) else {
            return None;
        };
        global.set(to_val((&value, &global.ty().ty))).ok()
    }

    fn global(&mut self, name: &str) -> Option<Value> {
        match self.instance.get_export(name)? {
            Extern::Global(global) => Some(from_val(&global.get())),
            _ => None,
        }
    }

    fn memory(&mut self, name: &str) -> Option<Vec<u8>> {
        let Extern::Memory(memory) = self.instance.get_export(name)? else {
            return None;
        };
        let mut bytes = vec![0; memory.len() as usize];
        memory.read(0, &mut bytes)?;
        Some(bytes)
    }

    fn table(&mut self, name: &str) -> Option<Vec<bool>> {
        let Extern::Table(table) = self.instance.get_export(name)? else {
            return None;
        };
        (0..table.len())
            .map(|i| table.get(i).map(|word| word == 0))
            .collect()
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
