//! The contract between `awsm-compiler` and the Luge runtime.
//!
//! Everything both sides must agree on lives here and nowhere else: the
//! layout of the per-sandbox context (`VmCtx`) that compiled code reads with
//! fixed offsets, the builtin functions compiled code calls back into, the
//! trap kinds, the symbol names a shared object exports and the versioned
//! module descriptor that describes it. Any change to this crate that alters
//! what compiled code or the runtime reads must bump [`ABI_VERSION`].

pub mod cpu;
pub mod descriptor;
pub mod traps;
pub mod vmctx;

pub use cpu::{CpuFeature, CpuLevel};
pub use descriptor::*;
pub use traps::TrapKind;
pub use vmctx::*;

/// Version of the compiled-module ABI. A runtime refuses a shared object whose
/// descriptor carries any other version.
pub const ABI_VERSION: u32 = 6;

/// Exported data symbol: a [`DescriptorHeader`] immediately followed by the
/// serialized [`ModuleDescriptor`].
pub const DESCRIPTOR_SYMBOL: &str = "luge_module_descriptor";
/// Exported data symbol: one code pointer per defined function, in function
/// index order (imported functions excluded).
pub const FUNCTIONS_SYMBOL: &str = "luge_functions";
/// Exported data symbol: one host-to-wasm trampoline per type index, see
/// [`Trampoline`].
pub const TRAMPOLINES_SYMBOL: &str = "luge_trampolines";

/// Size of one slot in the argument/result array a [`Trampoline`] reads and
/// writes: a `u128`, the size (and alignment) of a `v128`, the widest wasm
/// value. Narrower values sit in the low bytes (both targets are
/// little-endian).
pub const VALUE_SLOT_SIZE: usize = 16;

/// Host-to-wasm entry: calls `callee(callee_vmctx, args...)` with arguments
/// read from `values` and writes the results back to `values` starting at
/// slot 0. `values` must have room for max(params, results) slots.
pub type Trampoline =
    unsafe extern "C" fn(callee: *const u8, callee_vmctx: *mut VmCtx, values: *mut u128);

/// Size of one wasm page.
pub const WASM_PAGE_SIZE: u64 = 65536;
/// Largest number of pages a 32-bit memory can have.
pub const WASM_MAX_PAGES: u64 = 65536;

/// How compiled code keeps memory accesses inside linear memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum BoundsMode {
    /// No checks in code: linear memory sits at the start of a reserved
    /// [`GUARD_RESERVATION`] region whose unmapped tail faults.
    Guard,
    /// Every access is compared against the current memory length; the
    /// [`SOFTWARE_GUARD_SIZE`] bytes after it fault.
    Software,
}

impl BoundsMode {
    pub fn name(self) -> &'static str {
        match self {
            BoundsMode::Guard => "guard",
            BoundsMode::Software => "software",
        }
    }
}

impl std::str::FromStr for BoundsMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "guard" => Ok(BoundsMode::Guard),
            "software" => Ok(BoundsMode::Software),
            other => Err(format!(
                "unknown bounds mode `{other}` (expected `guard` or `software`)"
            )),
        }
    }
}

/// Guard size compiled code relies on after the 4 GiB addressable by an i32
/// index: accesses with a static offset below this need no check in `guard`
/// mode, larger offsets are checked explicitly.
pub const GUARD_SIZE: u64 = 2 << 30;
/// Virtual size a `guard`-mode linear memory reserves.
pub const GUARD_RESERVATION: u64 = (4 << 30) + GUARD_SIZE;

/// Inaccessible bytes `software`-mode code relies on after a memory's
/// current length (the runtime reserves them past the largest length the
/// memory can reach). An access whose static offset plus size fits in them
/// is checked as `index > length` rather than `index > length - (offset +
/// size)`: every access in a loop then compares against the same value,
/// which stays in one register, and an access that starts in bounds but
/// runs past the end faults in the guard. Wasmtime's dynamic memories use
/// the same 64 KiB.
pub const SOFTWARE_GUARD_SIZE: u64 = 64 << 10;

/// Which code generator produced a module's machine code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Tier {
    /// Cranelift: fast to compile, every trapping instruction recorded.
    Fast,
    /// LLVM, through clang: slower to compile, faster code. Every trap is
    /// an explicit check calling [`Builtins::trap`], memory accesses
    /// included, so it records no trap sites: a fault anywhere in its code
    /// can only be its frame running into the stack's guard page.
    Opt,
}

impl Tier {
    pub fn name(self) -> &'static str {
        match self {
            Tier::Fast => "fast",
            Tier::Opt => "opt",
        }
    }
}

impl std::str::FromStr for Tier {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fast" => Ok(Tier::Fast),
            "opt" => Ok(Tier::Opt),
            other => Err(format!("unknown tier `{other}` (expected `fast` or `opt`)")),
        }
    }
}

/// Target architectures the compiler can emit code for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// The architecture this binary runs on.
    pub fn host() -> Arch {
        if cfg!(target_arch = "aarch64") {
            Arch::Aarch64
        } else {
            Arch::X86_64
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The bounds mode that fits this architecture best: guard pages where
    /// the address space is large, explicit checks on ARM boards whose
    /// kernels often give user space only 39 bits.
    pub fn default_bounds(self) -> BoundsMode {
        match self {
            Arch::X86_64 => BoundsMode::Guard,
            Arch::Aarch64 => BoundsMode::Software,
        }
    }
}

impl std::str::FromStr for Arch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "x86_64" | "x86-64" | "amd64" => Ok(Arch::X86_64),
            "aarch64" | "arm64" => Ok(Arch::Aarch64),
            other => Err(format!(
                "unknown target `{other}` (expected `x86_64` or `aarch64`)"
            )),
        }
    }
}
