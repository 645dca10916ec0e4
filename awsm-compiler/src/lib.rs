//! `awsm-compiler`: ahead-of-time compilation of WebAssembly modules into
//! native shared objects that the Luge runtime loads.
//!
//! The pipeline is: validate and parse ([`module`]), translate every function
//! and emit relocatable objects, with Cranelift ([`translate`], the fast
//! tier) or LLVM ([`llvm`], the opt tier), link them into an ELF shared
//! object ([`link`]).

mod budget;
mod error;
mod link;
mod llvm;
mod module;
mod translate;

pub use budget::CompileBudget;
pub use error::CompileError;
pub use luge_abi::{Arch, BoundsMode, CpuLevel, Tier};
pub use module::{features, MAX_WASM_SIZE};

use std::path::Path;

/// How much the code generator optimizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptLevel {
    None,
    Speed,
}

impl std::str::FromStr for OptLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(OptLevel::None),
            "speed" => Ok(OptLevel::Speed),
            other => Err(format!(
                "unknown optimization level `{other}` (expected `none` or `speed`)"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileOptions {
    pub arch: Arch,
    pub bounds: BoundsMode,
    pub opt: OptLevel,
    /// Emit interruption checks at loop headers and function entries, so
    /// that the runtime can stop or preempt long-running code.
    pub interrupt_checks: bool,
    /// Which CPUs of `arch` the code must run on (x86_64 only); the module
    /// records the features this allows and the runtime checks them.
    pub cpu: CpuLevel,
    /// Guard every bounds check made in code (memory accesses in
    /// `software` bounds, table accesses in both modes) against Spectre v1:
    /// the checked address is computed branch-free, so a mispredicted check
    /// cannot read past the end even speculatively. On by default, as in
    /// Wasmtime; off only for code that is trusted not to attack the rest
    /// of the process.
    pub spectre: bool,
    /// Which code generator compiles the module: Cranelift (`Fast`, the
    /// default) or LLVM through clang (`Opt`).
    pub tier: Tier,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions::for_arch(Arch::host())
    }
}

impl CompileOptions {
    /// Defaults for `arch`, including its preferred bounds mode.
    pub fn for_arch(arch: Arch) -> Self {
        CompileOptions {
            arch,
            bounds: arch.default_bounds(),
            opt: OptLevel::Speed,
            interrupt_checks: true,
            cpu: CpuLevel::default(),
            spectre: true,
            tier: Tier::Fast,
        }
    }
}

/// Whether [`Tier::Opt`] can compile on this machine (it runs clang); the
/// error says what to install.
pub fn opt_tier_available() -> Result<(), CompileError> {
    llvm::available()
}

/// Compiles `wasm` into the relocatable object files its shared object is
/// linked from (one for the fast tier, two for the opt tier).
pub fn compile_objects(wasm: &[u8], opts: &CompileOptions) -> Result<Vec<Vec<u8>>, CompileError> {
    compile_objects_within(wasm, opts, CompileBudget::default())
}

/// [`compile_objects`], refused with [`CompileError::OverBudget`] once it
/// spends more than `budget`.
pub fn compile_objects_within(
    wasm: &[u8],
    opts: &CompileOptions,
    budget: CompileBudget,
) -> Result<Vec<Vec<u8>>, CompileError> {
    let spending = budget::Spending::start(budget);
    let info = module::ModuleInfo::parse(wasm)?;
    spending.check_time()?;
    match opts.tier {
        Tier::Fast => translate::emit_object(info, opts, wasm.len() as u64, &spending)
            .map(|object| vec![object]),
        Tier::Opt => llvm::emit_objects(info, opts, wasm.len() as u64, &spending),
    }
}

/// Reads a module from `path`: a `.wasm` binary, or WebAssembly text. The
/// size limit is checked before anything is read.
pub fn read_module(path: &Path) -> Result<Vec<u8>, CompileError> {
    let read_error = |error| CompileError::Read {
        path: path.to_path_buf(),
        error,
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_WASM_SIZE as u64 {
        return Err(CompileError::FileTooLarge {
            path: path.to_path_buf(),
            size,
            limit: MAX_WASM_SIZE,
        });
    }
    let bytes = std::fs::read(path).map_err(read_error)?;
    module_from_bytes(path, bytes)
}

/// The module in `bytes`, the contents of the file `path`: a `.wasm`
/// binary as it is, WebAssembly text compiled to one.
pub fn module_from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, CompileError> {
    let looks_like_text = std::str::from_utf8(&bytes).is_ok_and(|text| {
        let text = text.trim_start();
        text.starts_with('(') || text.starts_with(";;")
    });
    if !looks_like_text {
        // Binary, or garbage (an empty file included) that the validator
        // reports with its byte offset.
        return Ok(bytes);
    }
    wat::parse_bytes(&bytes)
        .map(|wasm| wasm.into_owned())
        .map_err(|mut e| {
            e.set_path(path);
            CompileError::Text {
                path: path.to_path_buf(),
                message: error::text_error(&e.to_string()),
            }
        })
}

/// Compiles `wasm` into a shared object at `out`.
pub fn compile_to_file(wasm: &[u8], opts: &CompileOptions, out: &Path) -> Result<(), CompileError> {
    compile_to_file_within(wasm, opts, CompileBudget::default(), out)
}

/// [`compile_to_file`] within `budget` (see [`compile_object_within`]).
pub fn compile_to_file_within(
    wasm: &[u8],
    opts: &CompileOptions,
    budget: CompileBudget,
    out: &Path,
) -> Result<(), CompileError> {
    let objects = compile_objects_within(wasm, opts, budget)?;
    link::link_shared_object(&objects, opts.arch, out)
}
