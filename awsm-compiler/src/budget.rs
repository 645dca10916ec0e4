//! Limits on the work of one compilation, beyond the module size limit:
//! what a server compiling its tenants' uploads sets, so that a module made
//! to be slow or large to compile is refused instead of holding a compile
//! thread and memory for as long as it likes.

use crate::error::CompileError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What one compilation may spend; `None` means no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompileBudget {
    /// Wall-clock time, checked before each function and trampoline (a
    /// single function is never interrupted; the module size limit bounds
    /// it).
    pub time: Option<Duration>,
    /// Machine code produced, in bytes: what the compiler holds in memory
    /// until the object is written, and the measure of its memory use that
    /// grows with the module (Cranelift's working memory for one function
    /// is bounded by that function's size).
    pub code_bytes: Option<u64>,
}

/// A budget being spent by one compilation.
pub(crate) struct Spending {
    budget: CompileBudget,
    started: Instant,
    code_bytes: AtomicU64,
}

impl Spending {
    pub fn start(budget: CompileBudget) -> Spending {
        Spending {
            budget,
            started: Instant::now(),
            code_bytes: AtomicU64::new(0),
        }
    }

    /// Fails once the time is spent.
    pub fn check_time(&self) -> Result<(), CompileError> {
        match self.budget.time {
            Some(limit) if self.started.elapsed() > limit => Err(CompileError::OverBudget(
                format!("compiling took more than {} ms", limit.as_millis()),
            )),
            _ => Ok(()),
        }
    }

    /// The time still to spend, if the budget limits it.
    pub fn time_left(&self) -> Option<Duration> {
        let limit = self.budget.time?;
        Some(limit.saturating_sub(self.started.elapsed()))
    }

    /// Counts `bytes` more of machine code; fails once there is too much.
    pub fn add_code(&self, bytes: usize) -> Result<(), CompileError> {
        let total = self.code_bytes.fetch_add(bytes as u64, Ordering::Relaxed) + bytes as u64;
        match self.budget.code_bytes {
            Some(limit) if total > limit => Err(CompileError::OverBudget(format!(
                "the machine code passed {}",
                size(limit)
            ))),
            _ => Ok(()),
        }
    }
}

/// `bytes` in MiB when whole, else in bytes.
fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use crate::{compile_objects_within, CompileBudget, CompileError, CompileOptions};
    use std::time::Duration;

    /// `count` functions and as many distinct types.
    fn many_functions(count: usize) -> Vec<u8> {
        let mut text = String::from("(module");
        for i in 0..count {
            let params = " i32".repeat(i % 50);
            text += &format!(" (type (func (param{params}) (result i32)))");
            text += &format!(" (func (type {i}) i32.const {i})");
        }
        wat::parse_str(text + ")").unwrap()
    }

    fn compile(wasm: &[u8], budget: CompileBudget) -> Result<Vec<Vec<u8>>, CompileError> {
        compile_objects_within(wasm, &CompileOptions::default(), budget)
    }

    #[test]
    fn a_compile_past_its_time_or_code_is_refused_saying_which() {
        let wasm = many_functions(200);
        compile(&wasm, CompileBudget::default()).unwrap();
        let no_time = CompileBudget {
            time: Some(Duration::ZERO),
            code_bytes: None,
        };
        let err = compile(&wasm, no_time).unwrap_err().to_string();
        assert_eq!(
            err,
            "compile budget exceeded: compiling took more than 0 ms"
        );
        let little_code = CompileBudget {
            time: None,
            code_bytes: Some(1 << 10),
        };
        let err = compile(&wasm, little_code).unwrap_err().to_string();
        assert_eq!(
            err,
            "compile budget exceeded: the machine code passed 1024 bytes"
        );
    }
}
