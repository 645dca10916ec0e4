//! Loading compiled modules (`.so` files produced by `awsm-compiler`).

use crate::digest::{DigestError, DigestKey};
use crate::elf::{self, LoadTimeCode};
use crate::files;
use crate::memory::MemoryImage;
use crate::sys::library::{Library, Staged};
use crate::traps::{self, CodeMap};
use crate::types::canonical_type_id;
use luge_abi::{
    Arch, CpuFeature, DescriptorError, FuncType, ModuleDescriptor, Trampoline, VmLayout,
    DESCRIPTOR_SYMBOL, FUNCTIONS_SYMBOL, TRAMPOLINES_SYMBOL,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: cannot load shared object: {message}")]
    Open { path: PathBuf, message: String },
    #[error("{path}: not a Luge module: symbol `{symbol}` is missing")]
    MissingSymbol { path: PathBuf, symbol: &'static str },
    #[error("{path}: {error}")]
    Descriptor {
        path: PathBuf,
        error: DescriptorError,
    },
    #[error("{path}: cannot read: {message}")]
    Read { path: PathBuf, message: String },
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error("{path}: refused before loading: {error}")]
    Refused { path: PathBuf, error: LoadTimeCode },
    #[error("{path}: compiled for {found}, but this machine is {host}")]
    WrongArch {
        path: PathBuf,
        found: &'static str,
        host: &'static str,
    },
    #[error(
        "{path}: compiled for CPUs with {missing}, which this machine lacks; \
         recompile it with `luge compile --cpu native` (or `--cpu baseline`)"
    )]
    CpuFeatures { path: PathBuf, missing: String },
}

/// A loaded compiled module. Cheap to clone; instances keep it alive.
#[derive(Clone)]
pub struct Module {
    pub(crate) inner: Arc<ModuleInner>,
}

pub(crate) struct ModuleInner {
    pub descriptor: ModuleDescriptor,
    pub layout: VmLayout,
    /// Code address of each defined function.
    pub functions: Vec<*const u8>,
    /// Host-to-wasm trampoline of each type index.
    pub trampolines: Vec<Trampoline>,
    /// Process-wide signature id of each type index.
    pub type_ids: Vec<u64>,
    /// Each type index's signature, shared by the `Func`s handed out.
    pub func_types: Vec<Arc<FuncType>>,
    /// Initial contents of the module's own memory, when they are static.
    pub image: Option<Arc<MemoryImage>>,
    code_map: Arc<CodeMap>,
    path: PathBuf,
    // Declared last: the library must be unloaded after everything that
    // points into it.
    _library: Library,
}

// SAFETY: the raw pointers are addresses of immutable code in the loaded
// library, valid for as long as the library (owned here) stays loaded.
unsafe impl Send for ModuleInner {}
// SAFETY: as above; nothing in a loaded module is mutated after load.
unsafe impl Sync for ModuleInner {}

impl Drop for ModuleInner {
    fn drop(&mut self) {
        traps::unregister(&self.code_map);
    }
}

/// Reads the descriptor of the shared object at `path` without loading it,
/// so that modules compiled for another architecture can be inspected.
pub fn read_descriptor(path: impl AsRef<Path>) -> Result<ModuleDescriptor, LoadError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| LoadError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    decode_descriptor(path, &bytes)
}

/// What an object loaded from `path` is called in the process's memory map.
fn file_name(path: &Path) -> std::borrow::Cow<'_, str> {
    path.file_name().unwrap_or_default().to_string_lossy()
}

/// Stages the object at `path`, `opened` there, for loading.
fn stage(path: &Path, opened: std::io::Result<std::fs::File>) -> Result<Staged, LoadError> {
    opened
        .and_then(|mut file| Staged::read_from(&file_name(path), &mut file))
        .map_err(|e| LoadError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// The descriptor in `bytes`, the contents of the shared object at `path`.
fn decode_descriptor(path: &Path, bytes: &[u8]) -> Result<ModuleDescriptor, LoadError> {
    let unreadable = |error: LoadTimeCode| LoadError::Read {
        path: path.to_path_buf(),
        message: error.to_string(),
    };
    let data = elf::exported(bytes, DESCRIPTOR_SYMBOL)
        .map_err(unreadable)?
        .ok_or_else(|| LoadError::MissingSymbol {
            path: path.to_path_buf(),
            symbol: DESCRIPTOR_SYMBOL,
        })?;
    ModuleDescriptor::decode(data).map_err(|error| LoadError::Descriptor {
        path: path.to_path_buf(),
        error,
    })
}

impl Module {
    /// Loads the shared object at `path`, resolving every symbol now and
    /// refusing objects that are not ours or of another ABI version. An
    /// object is checked (its descriptor, and that loading it would run
    /// none of its code) before the dynamic loader sees it.
    pub fn load(path: impl AsRef<Path>) -> Result<Module, LoadError> {
        let path = path.as_ref();
        let staged = stage(path, std::fs::File::open(path))?;
        Module::from_staged(path, staged)
    }

    /// Like [`Module::load`], for an object Luge wrote itself: `path` must
    /// not be a symbolic link, and the object must match the digest that
    /// `key` signed beside it for the purpose `label` (see
    /// [`crate::digest`]).
    pub fn load_signed(
        path: impl AsRef<Path>,
        key: &DigestKey,
        label: &str,
    ) -> Result<Module, LoadError> {
        let path = path.as_ref();
        let staged = stage(path, files::open_no_follow(path))?;
        key.verify(path, label, staged.bytes())?;
        Module::from_staged(path, staged)
    }

    /// Loads `bytes`, the contents of the object at `path` (for the module
    /// cache, which has them in memory).
    #[cfg(feature = "compile")]
    pub(crate) fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Module, LoadError> {
        let staged = Staged::copy_of(&file_name(path), bytes).map_err(|e| LoadError::Open {
            path: path.to_path_buf(),
            message: format!("cannot stage it: {e}"),
        })?;
        Module::from_staged(path, staged)
    }

    /// Loads the object at `path`, staged in `staged`.
    fn from_staged(path: &Path, staged: Staged) -> Result<Module, LoadError> {
        let path_buf = || path.to_path_buf();
        let bytes = staged.bytes();
        let checked = elf::check_no_load_time_code(bytes).map_err(|error| LoadError::Refused {
            path: path_buf(),
            error,
        })?;
        let descriptor = decode_descriptor(path, bytes)?;
        if descriptor.arch != Arch::host() {
            return Err(LoadError::WrongArch {
                path: path_buf(),
                found: descriptor.arch.name(),
                host: Arch::host().name(),
            });
        }
        check_cpu_features(path, &descriptor.cpu_features, CpuFeature::on_host)?;
        let library = Library::open(staged, checked).map_err(|message| LoadError::Open {
            path: path_buf(),
            message,
        })?;
        let table = |symbol: &'static str, count: usize| {
            // SAFETY: the compiler emits one function pointer per defined
            // function and one trampoline per type, as the descriptor
            // (whose format version was checked) counts them.
            unsafe { library.pointer_table(symbol, count) }.ok_or(LoadError::MissingSymbol {
                path: path_buf(),
                symbol,
            })
        };
        let functions = table(FUNCTIONS_SYMBOL, descriptor.code.len())?;
        let trampolines = table(TRAMPOLINES_SYMBOL, descriptor.types.len())?
            .into_iter()
            // SAFETY: each entry is a trampoline with the `Trampoline` ABI.
            .map(|p| unsafe { std::mem::transmute::<*const u8, Trampoline>(p) })
            .collect();
        let starts: Vec<usize> = functions.iter().map(|&f| f as usize).collect();
        let code_map = Arc::new(CodeMap::new(&starts, &descriptor.code, descriptor.tier));
        traps::register(code_map.clone());
        let type_ids = descriptor.types.iter().map(canonical_type_id).collect();
        let func_types = descriptor.types.iter().cloned().map(Arc::new).collect();
        Ok(Module {
            inner: Arc::new(ModuleInner {
                layout: VmLayout::new(descriptor.counts()),
                image: MemoryImage::build(&descriptor),
                descriptor,
                functions,
                trampolines,
                type_ids,
                func_types,
                code_map,
                path: path.to_path_buf(),
                _library: library,
            }),
        })
    }

    pub fn descriptor(&self) -> &ModuleDescriptor {
        &self.inner.descriptor
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }
}

/// Refuses code that uses CPU features `has` says the host lacks: it would
/// die of SIGILL at the first such instruction instead.
fn check_cpu_features(
    path: &Path,
    required: &[CpuFeature],
    has: impl Fn(CpuFeature) -> bool,
) -> Result<(), LoadError> {
    let missing: Vec<_> = required
        .iter()
        .filter(|f| !has(**f))
        .map(|f| f.name())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(LoadError::CpuFeatures {
        path: path.to_path_buf(),
        missing: missing.join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_needing_what_the_host_lacks_is_refused_naming_it() {
        let required = [CpuFeature::Sse41, CpuFeature::Avx2, CpuFeature::Fma];
        let no_avx = |f| !matches!(f, CpuFeature::Avx2 | CpuFeature::Fma);
        let err = check_cpu_features(Path::new("m.so"), &required, no_avx)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("m.so: compiled for CPUs with avx2, fma,"),
            "{err}"
        );
        assert!(err.contains("--cpu native"), "{err}");
        assert!(check_cpu_features(Path::new("m.so"), &required, |_| true).is_ok());
        assert!(check_cpu_features(Path::new("m.so"), &[], |_| false).is_ok());
    }
}
