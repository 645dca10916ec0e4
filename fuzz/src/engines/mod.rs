//! The engines a case runs under: Luge in each of its configurations, and
//! the reference engines whose majority stands for the specification.

pub mod luge;
pub mod wasmi;
pub mod wasmtime;

use crate::observation::Observation;
use crate::plan::Plan;

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
            Reference::Wasmtime => wasmtime::observe(wasm, plan),
            Reference::Wasmi => wasmi::observe(wasm, plan),
        });
        run.map_err(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            format!("{} panicked: {message}", self.name())
        })
    }
}
