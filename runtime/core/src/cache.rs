//! The on-disk cache of compiled modules: a `.wasm` is compiled once per
//! content and options, and later runs load the cached `.so`.

use crate::module::{LoadError, Module};
use awsm_compiler::{CompileError, CompileOptions};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Compile(#[from] CompileError),
    #[error(transparent)]
    Load(#[from] LoadError),
    /// `path` failed validation or compilation.
    #[error("{path}: {error}")]
    InFile { path: PathBuf, error: CompileError },
    #[error("cannot create cache directory {path}: {error}")]
    Dir {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// A directory of compiled modules named by the hash of what produced them.
pub struct ModuleCache {
    dir: PathBuf,
}

impl ModuleCache {
    pub fn new(dir: impl Into<PathBuf>) -> ModuleCache {
        ModuleCache { dir: dir.into() }
    }

    /// `$LUGE_CACHE_DIR`, else `$XDG_CACHE_HOME/luge`, else
    /// `$HOME/.cache/luge`, else a directory under the system temp dir.
    pub fn default_dir() -> PathBuf {
        let env = |k| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        env("LUGE_CACHE_DIR")
            .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("luge")))
            .or_else(|| env("HOME").map(|d| d.join(".cache/luge")))
            .unwrap_or_else(|| std::env::temp_dir().join("luge-cache"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the compilation of `wasm` with `opts` is kept.
    pub fn path_for(&self, wasm: &[u8], opts: &CompileOptions) -> PathBuf {
        let mut hash = Sha256::new();
        hash.update(wasm);
        // Everything that changes the output: options, compiler and ABI.
        hash.update(
            format!(
                "{opts:?} awsm-compiler {} abi {}",
                env!("CARGO_PKG_VERSION"),
                luge_abi::ABI_VERSION
            )
            .as_bytes(),
        );
        let digest = hash.finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{hex}.so"))
    }

    /// The module in the file `path`: a compiled shared object loaded as it
    /// is, else a `.wasm` (or `.wat`) compiled with `opts` through the
    /// cache. Every error names the file.
    pub fn load_file(&self, path: &Path, opts: &CompileOptions) -> Result<Module, CacheError> {
        if Module::is_shared_object(path) {
            return Ok(Module::load(path)?);
        }
        let wasm = awsm_compiler::read_module(path)?;
        match self.load_or_compile(&wasm, opts) {
            Ok((module, _)) => Ok(module),
            Err(CacheError::Compile(error)) => Err(CacheError::InFile {
                path: path.to_path_buf(),
                error,
            }),
            Err(other) => Err(other),
        }
    }

    /// The compiled module for `wasm`, compiling it into the cache first if
    /// it is not there yet. Returns whether it was compiled.
    pub fn load_or_compile(
        &self,
        wasm: &[u8],
        opts: &CompileOptions,
    ) -> Result<(Module, bool), CacheError> {
        let path = self.path_for(wasm, opts);
        if path.is_file() {
            // A cached object that no longer loads (for example a truncated
            // file) is recompiled below rather than reported.
            if let Ok(module) = Module::load(&path) {
                return Ok((module, false));
            }
        }
        std::fs::create_dir_all(&self.dir).map_err(|error| CacheError::Dir {
            path: self.dir.clone(),
            error,
        })?;
        awsm_compiler::compile_to_file(wasm, opts, &path)?;
        Ok((Module::load(&path)?, true))
    }
}
