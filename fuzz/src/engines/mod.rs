//! The engines a case runs under: Luge in each of its configurations, and
//! the reference engines whose majority stands for the specification. Each
//! engine instantiates a module as a [`Sandbox`]; [`run_plan`] drives every
//! engine's sandbox through the plan the same way.

pub mod luge;
pub mod wasmi;
pub mod wasmtime;

use crate::generate::FUEL;
use crate::observation::{Observation, Outcome, Value};
use crate::plan::Plan;

/// Native stack each engine may give guest code: deep enough that the
/// recursion the fuel allows (one unit per call) rarely exhausts it. Cases
/// run on a thread with more than this ([`CASE_THREAD_STACK`]).
pub const GUEST_STACK: usize = 8 << 20;
/// The stack of the thread a worker runs cases on.
pub const CASE_THREAD_STACK: usize = 64 << 20;

/// A module instantiated in one engine, as a plan drives it. Exports are
/// looked up by name; `None` means there is no such export.
pub trait Sandbox {
    fn call(&mut self, export: &str, args: &[Value]) -> Outcome;
    fn set_global(&mut self, name: &str, value: Value) -> Option<()>;
    fn global(&mut self, name: &str) -> Option<Value>;
    fn memory(&mut self, name: &str) -> Option<Vec<u8>>;
    /// Whether each element is null.
    fn table(&mut self, name: &str) -> Option<Vec<bool>>;
}

/// Runs `plan` in `sandbox`, or records why there is none. The fuel global
/// is refilled before each call, so that a call that ran out does not leave
/// the next ones nothing to run on.
pub fn run_plan(sandbox: Result<impl Sandbox, Outcome>, plan: &Plan) -> Observation {
    let mut sandbox = match sandbox {
        Ok(sandbox) => sandbox,
        Err(failure) => return Observation::failed(failure),
    };
    let mut calls = Vec::with_capacity(plan.calls.len());
    for call in &plan.calls {
        if let Some(fuel) = &plan.fuel {
            sandbox.set_global(fuel, Value::I32(FUEL));
        }
        calls.push((call.export.clone(), sandbox.call(&call.export, &call.args)));
    }
    Observation {
        instantiation: Outcome::Returned(Vec::new()),
        calls,
        globals: read_all(&plan.globals, |n| sandbox.global(n)),
        memories: read_all(&plan.memories, |n| sandbox.memory(n)),
        tables: read_all(&plan.tables, |n| sandbox.table(n)),
    }
}

fn read_all<T>(
    names: &[String],
    mut read: impl FnMut(&str) -> Option<T>,
) -> Vec<(String, Option<T>)> {
    names.iter().map(|n| (n.clone(), read(n))).collect()
}

/// The outcome of calling an export that is missing or not a function.
pub fn no_such_function() -> Outcome {
    Outcome::Refused("no such function export".into())
}

/// A reference engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    Wasmtime,
    Wasmi,
}

impl Reference {
    pub const ALL: [Reference; 2] = [Reference::Wasmtime, Reference::Wasmi];

    pub fn name(self) -> &'static str {
        match self {
            Reference::Wasmtime => "wasmtime",
            Reference::Wasmi => "wasmi",
        }
    }

    /// What the engine made of the case, or why it could not say: a panic
    /// inside the engine (wasmi's translator has been seen to) is no
    /// opinion, not a crash of the harness.
    pub fn observe(self, wasm: &[u8], plan: &Plan) -> Result<Observation, String> {
        let run = std::panic::catch_unwind(|| match self {
            Reference::Wasmtime => run_plan(wasmtime::instantiate(wasm), plan),
            Reference::Wasmi => run_plan(wasmi::instantiate(wasm), plan),
        });
        run.map_err(|panic| format!("{} panicked: {}", self.name(), panic_message(&*panic)))
    }
}

/// The message of a caught panic.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)")
}
