//! The on-disk cache of compiled modules: a `.wasm` is compiled once per
//! content and options, and later runs load the cached `.so`. The cache
//! directory is private to its user, and a cached object is loaded only
//! when it matches the digest Luge signed it with (see [`crate::digest`]);
//! one that does not is compiled again.

use crate::digest::COMPILED_LABEL;
use crate::digest::{DigestError, DigestKey};
use crate::files;
use crate::module::{LoadError, Module};
use awsm_compiler::{CompileBudget, CompileError, CompileOptions, MAX_WASM_SIZE};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Compile(#[from] CompileError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Digest(#[from] DigestError),
    /// `path` failed validation or compilation.
    #[error("{path}: {error}")]
    InFile { path: PathBuf, error: CompileError },
    #[error("{path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot create cache directory {path}: {error}")]
    Dir {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// A directory of compiled modules named by the hash of what produced them.
pub struct ModuleCache {
    dir: PathBuf,
    /// Read (or made) on first use, which also creates the directory.
    key: OnceLock<DigestKey>,
}

impl ModuleCache {
    pub fn new(dir: impl Into<PathBuf>) -> ModuleCache {
        ModuleCache {
            dir: dir.into(),
            key: OnceLock::new(),
        }
    }

    /// The key cached objects are signed with, in the (private) directory.
    pub fn key(&self) -> Result<&DigestKey, CacheError> {
        if let Some(key) = self.key.get() {
            return Ok(key);
        }
        files::create_private_dir(&self.dir).map_err(|error| CacheError::Dir {
            path: self.dir.clone(),
            error,
        })?;
        let key = DigestKey::open_or_create(&self.dir)?;
        Ok(self.key.get_or_init(|| key))
    }

    /// `$LUGE_CACHE_DIR`, else `$XDG_CACHE_HOME/luge`, else
    /// `$HOME/.cache/luge`, else `luge-cache-UID` in the system temp dir.
    pub fn default_dir() -> PathBuf {
        let env = |k| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        env("LUGE_CACHE_DIR")
            .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("luge")))
            .or_else(|| env("HOME").map(|d| d.join(".cache/luge")))
            .unwrap_or_else(|| {
                // Named for the user: another user's directory of that name
                // is refused, never shared (see `files::create_private_dir`).
                let uid = rustix::process::geteuid().as_raw();
                std::env::temp_dir().join(format!("luge-cache-{uid}"))
            })
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
    /// is (with `require_digest`, only if `luge compile` signed it for this
    /// user), else a `.wasm` (or `.wat`) compiled with `opts` through the
    /// cache. The file is read once, so what is checked is what runs.
    /// Every error names the file.
    pub fn load_file(
        &self,
        path: &Path,
        opts: &CompileOptions,
        require_digest: bool,
    ) -> Result<Module, CacheError> {
        self.load_file_and_source(path, opts, require_digest)
            .map(|(module, _)| module)
    }

    /// [`ModuleCache::load_file`], also returning the `.wasm` binary the
    /// module was compiled from (`None` for a shared object), for a later
    /// compile of the same file with other options.
    pub fn load_file_and_source(
        &self,
        path: &Path,
        opts: &CompileOptions,
        require_digest: bool,
    ) -> Result<(Module, Option<Vec<u8>>), CacheError> {
        let bytes = read_input(path)?;
        if bytes.starts_with(ELF_MAGIC) {
            if require_digest {
                self.key()?.verify(path, COMPILED_LABEL, &bytes)?;
            }
            return Ok((Module::from_bytes(path, &bytes)?, None));
        }
        let wasm = awsm_compiler::module_from_bytes(path, bytes)?;
        match self.load_or_compile(&wasm, opts) {
            Ok((module, _)) => Ok((module, Some(wasm))),
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
        self.load_or_compile_within(wasm, opts, CompileBudget::default())
    }

    /// [`ModuleCache::load_or_compile`], a compile spending at most
    /// `budget`.
    pub fn load_or_compile_within(
        &self,
        wasm: &[u8],
        opts: &CompileOptions,
        budget: CompileBudget,
    ) -> Result<(Module, bool), CacheError> {
        let key = self.key()?;
        let path = self.path_for(wasm, opts);
        // A cached object that is missing, unsigned, changed since, or no
        // longer loads (a truncated file) is compiled again.
        let label = cache_label(&path);
        if let Ok(module) = Module::load_signed(&path, key, &label) {
            return Ok((module, false));
        }
        let bytes = compile_signed(wasm, opts, budget, &path, key, &label)?;
        Ok((Module::from_bytes(&path, &bytes)?, true))
    }
}

const ELF_MAGIC: &[u8] = b"\x7fELF";

/// The contents of the file `path`, refused before they are read when it
/// is neither a shared object nor within the size limit of a module.
fn read_input(path: &Path) -> Result<Vec<u8>, CompileError> {
    let read_error = |error| CompileError::Read {
        path: path.to_path_buf(),
        error,
    };
    let mut file = std::fs::File::open(path).map_err(read_error)?;
    let size = file.metadata().map_err(read_error)?.len();
    let mut bytes = Vec::new();
    (&mut file)
        .take(ELF_MAGIC.len() as u64)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if !bytes.starts_with(ELF_MAGIC) && size > MAX_WASM_SIZE as u64 {
        return Err(CompileError::FileTooLarge {
            path: path.to_path_buf(),
            size,
            limit: MAX_WASM_SIZE,
        });
    }
    file.read_to_end(&mut bytes).map_err(read_error)?;
    Ok(bytes)
}

/// What a cached object is signed for: its name, which is the hash of
/// what it was compiled from, so that no other signed object passes for it.
fn cache_label(path: &Path) -> String {
    let name = path.file_name().unwrap_or_default();
    format!("cache/{}", name.to_string_lossy())
}

/// Compiles `wasm` with `opts` within `budget` into `out`, with its
/// digest beside it signed by `key` for the purpose `label`; returns the
/// object's bytes. `out` appears whole or not at all: the object is
/// written under a temporary name in its directory and renamed into place.
pub fn compile_signed(
    wasm: &[u8],
    opts: &CompileOptions,
    budget: CompileBudget,
    out: &Path,
    key: &DigestKey,
    label: &str,
) -> Result<Vec<u8>, CacheError> {
    let dir = files::dir_of(out);
    let write_error = |error| CacheError::Write {
        path: out.to_path_buf(),
        error,
    };
    let temp = tempfile::Builder::new()
        .prefix(".luge-")
        .suffix(".so")
        .tempfile_in(dir)
        .map_err(write_error)?;
    awsm_compiler::compile_to_file_within(wasm, opts, budget, temp.path())?;
    // The linker wrote a file of its own at the temporary name: that file
    // is read, and made durable before it is renamed into place.
    let mut object = files::open_no_follow(temp.path()).map_err(write_error)?;
    let mut bytes = Vec::new();
    object.read_to_end(&mut bytes).map_err(write_error)?;
    object.sync_all().map_err(write_error)?;
    key.sign(out, label, &bytes)?;
    temp.persist(out).map_err(|e| write_error(e.error))?;
    files::sync_dir(dir).map_err(write_error)?;
    Ok(bytes)
}
