//! WASI preview1 (`wasi_snapshot_preview1`), so that ordinary C and Rust
//! programs run unmodified.
//!
//! A [`WasiCtx`] holds one sandbox's view of the world: arguments,
//! environment, standard streams and the directories preopened for it. It
//! lives in the sandbox's [`Store`](luge_runtime::Store) (see [`WasiCtx::store`]),
//! and [`imports`] resolves a module's WASI imports to our host functions.
//! Functions we do not implement return `ENOSYS`; see `docs/wasi.md`.

mod clock;
mod command;
mod errno;
mod fd;
mod funcs;
mod guest;
mod poll;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;

pub use command::{run_command, CommandReport, Ended, Program};
pub use errno::Errno;
pub use fd::{Input, Output};

use fd::{Fd, FdTable};
use luge_abi::ImportKind;
use luge_runtime::{Extern, FuncType, HostFunc, Module, Store};
use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

/// The import module name of WASI preview1.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// Why a WASI setup or link step failed.
#[derive(Debug, thiserror::Error)]
pub enum WasiError {
    #[error("cannot preopen {path}: {error}")]
    Preopen {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    #[error(
        "import `{module}::{name}` is not provided (only {WASI_MODULE} is): build the program \
         for WASI preview1 (`cargo build --target wasm32-wasip1`, `clang --target=wasm32-wasi`), \
         not wasm32-unknown-unknown or Emscripten"
    )]
    UnknownImport { module: String, name: String },
    #[error("import `{WASI_MODULE}::{0}` has a different type than WASI preview1 gives it")]
    ImportType(String),
    #[error("import `{module}::{name}` is not a function")]
    NotAFunction { module: String, name: String },
}

/// A sandbox's WASI state.
pub struct WasiCtx {
    args: Vec<String>,
    env: Vec<String>,
    fds: FdTable,
    /// Bytes stdout and stderr may still take before writes fail.
    output_budget: Option<u64>,
    output_limit_hit: bool,
}

/// Builds a [`WasiCtx`].
#[derive(Default)]
pub struct WasiCtxBuilder {
    args: Vec<String>,
    env: Vec<String>,
    stdin: Input,
    stdout: Output,
    stderr: Output,
    preopens: Vec<(cap_std::fs::Dir, String)>,
    output_limit: Option<u64>,
}

impl WasiCtxBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The program's arguments, its name first.
    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push(format!("{key}={value}"));
        self
    }

    pub fn stdin(mut self, input: Input) -> Self {
        self.stdin = input;
        self
    }

    pub fn stdout(mut self, output: Output) -> Self {
        self.stdout = output;
        self
    }

    pub fn stderr(mut self, output: Output) -> Self {
        self.stderr = output;
        self
    }

    /// Caps the bytes the program may write to stdout and stderr together;
    /// a write past the cap fails with `EFBIG`, stops the program (it traps
    /// with `Interrupted` as soon as it runs on) and
    /// [`WasiCtx::output_limit_hit`] reports it.
    pub fn output_limit(mut self, bytes: u64) -> Self {
        self.output_limit = Some(bytes);
        self
    }

    /// Gives the program the host directory `host` under the name `guest`.
    /// Nothing outside it is reachable through it: `..`, absolute paths and
    /// symlinks that lead out are refused.
    pub fn preopen_dir(mut self, host: &Path, guest: &str) -> Result<Self, WasiError> {
        let dir = cap_std::fs::Dir::open_ambient_dir(host, cap_std::ambient_authority()).map_err(
            |error| WasiError::Preopen {
                path: host.to_path_buf(),
                error,
            },
        )?;
        self.preopens.push((dir, guest.to_string()));
        Ok(self)
    }

    pub fn build(self) -> WasiCtx {
        let mut fds = FdTable::new(self.stdin, self.stdout, self.stderr);
        for (dir, name) in self.preopens {
            fds.insert(Fd::dir(dir, Some(name)));
        }
        WasiCtx {
            args: self.args,
            env: self.env,
            fds,
            output_budget: self.output_limit,
            output_limit_hit: false,
        }
    }
}

impl WasiCtx {
    /// A store holding this context, for instances whose WASI imports come
    /// from [`imports`].
    pub fn store(self, max_stack: usize) -> Store {
        Store::new(max_stack).with_data(RefCell::new(self))
    }

    /// Whether the program hit the output cap.
    pub fn output_limit_hit(&self) -> bool {
        self.output_limit_hit
    }
}

/// Whether `store` holds a WASI context whose output cap was hit.
pub fn output_limit_hit(store: &Store) -> bool {
    store
        .data_ref::<RefCell<WasiCtx>>()
        .is_some_and(|ctx| ctx.borrow().output_limit_hit())
}

/// The imports of `module`, in order, all of which must be WASI preview1
/// functions of the right type.
pub fn imports(module: &Module) -> Result<Vec<Extern>, WasiError> {
    Ok(Imports::resolve(module)?.externs())
}

/// The host function a module imports as `module::name`, if Luge has one.
fn host_function(module: &str, name: &str) -> Option<(*const u8, FuncType)> {
    match module {
        WASI_MODULE => funcs::function(name),
        #[cfg(feature = "test-hooks")]
        test_hooks::MODULE => test_hooks::function(name),
        _ => None,
    }
}

/// A module's WASI imports resolved once, to be instantiated many times
/// from any thread: [`Imports::externs`] takes no lock, where resolving
/// looks every signature up in the process-wide table of type ids.
#[derive(Clone)]
pub struct Imports(Arc<[HostFunc]>);

impl Imports {
    /// Resolves every import of `module` to a WASI preview1 function of the
    /// right type.
    pub fn resolve(module: &Module) -> Result<Imports, WasiError> {
        let d = module.descriptor();
        let resolved = d.imports.iter().map(|import| {
            let ImportKind::Func(ty) = import.kind else {
                return Err(WasiError::NotAFunction {
                    module: import.module.clone(),
                    name: import.name.clone(),
                });
            };
            let (code, wasi_ty) = host_function(&import.module, &import.name).ok_or_else(|| {
                WasiError::UnknownImport {
                    module: import.module.clone(),
                    name: import.name.clone(),
                }
            })?;
            if d.types[ty as usize] != wasi_ty {
                return Err(WasiError::ImportType(import.name.clone()));
            }
            // SAFETY: `funcs::function` returns each shim together with
            // the exact signature it was declared with; shims are static.
            Ok(unsafe { HostFunc::new(code, wasi_ty) })
        });
        Ok(Imports(resolved.collect::<Result<_, _>>()?))
    }

    /// The imports as externs for one instantiation, in import order.
    pub fn externs(&self) -> Vec<Extern> {
        self.0.iter().map(|f| Extern::Func(f.func())).collect()
    }
}
