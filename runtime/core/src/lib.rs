//! The embeddable Luge runtime: loads modules compiled by `awsm-compiler`
//! and runs them in sandboxes.
//!
//! A [`Module`] is a loaded shared object. An [`Instance`] is one sandbox of
//! it: linear memory from a pooled guard-paged reservation, tables, globals
//! and a context compiled code addresses directly. Traps inside compiled
//! code become [`CallError::Trap`] values; they never take the process down.
//! What the runtime asks of the operating system (signals, the dynamic
//! loader, non-local exits) is in [`sys`], with most of its unsafe code;
//! `sys` says where the rest is, and why.

#[cfg(feature = "compile")]
pub mod cache;
mod caller;
pub mod digest;
mod elf;
pub mod files;
mod instance;
pub mod lifecycle;
mod memory;
mod module;
pub mod sys;
mod table;
mod traps;
mod types;
mod values;

pub use caller::Caller;
pub use elf::LoadTimeCode;
pub use instance::externs::{CallError, Extern, Func, Global, HostFunc, SetGlobalError};
pub use instance::store::{
    task_stack_size, InterruptHandle, SleeperGuard, Store, DEFAULT_MAX_STACK,
};
pub use instance::{Instance, InstanceConfig, InstantiationError};
pub use luge_abi::{FuncType, GlobalType, MemoryType, TableType, TrapKind, ValType, VmCtx};
pub use memory::{Memory, MemoryBudget, MemoryError};
pub use module::{read_descriptor, LoadError, Module};
pub use table::Table;
pub use values::Val;

/// The options to compile modules for `arch` with when they will run as
/// scheduler tasks (as under `luge run` and `luge serve`): the
/// architecture's defaults, without interruption checks where this build
/// interrupts guests asynchronously (such code cannot be stopped by an
/// [`InterruptHandle`] outside a scheduler task).
#[cfg(feature = "compile")]
pub fn scheduled_compile_options(arch: awsm_compiler::Arch) -> awsm_compiler::CompileOptions {
    let mut opts = awsm_compiler::CompileOptions::for_arch(arch);
    opts.interrupt_checks =
        !(sys::preempt::ASYNC_INTERRUPTION && arch == awsm_compiler::Arch::host());
    opts
}
