//! The module descriptor: everything about a compiled module that is not
//! machine code, stored in the shared object behind [`crate::DESCRIPTOR_SYMBOL`].

use crate::{Arch, BoundsMode, CpuFeature, Tier, TrapKind, ABI_VERSION};
use serde::{Deserialize, Serialize};

/// First bytes of every descriptor symbol.
pub const DESCRIPTOR_MAGIC: [u8; 8] = *b"LUGEMOD\0";

/// Fixed-size prefix of the descriptor symbol; `len` bytes of serialized
/// [`ModuleDescriptor`] follow it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DescriptorHeader {
    pub magic: [u8; 8],
    pub abi_version: u32,
    pub len: u32,
}

pub const DESCRIPTOR_HEADER_SIZE: usize = std::mem::size_of::<DescriptorHeader>();

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ValType {
    I32,
    I64,
    F32,
    F64,
    V128,
    FuncRef,
    ExternRef,
}

impl std::fmt::Display for ValType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FuncType {
    pub params: Vec<ValType>,
    pub results: Vec<ValType>,
}

impl std::fmt::Display for FuncType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |v: &[ValType]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(f, "({}) -> ({})", list(&self.params), list(&self.results))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableType {
    pub elem: ValType,
    pub min: u32,
    pub max: Option<u32>,
}

/// Sizes in wasm pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryType {
    pub min: u32,
    pub max: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalType {
    pub ty: ValType,
    pub mutable: bool,
}

/// A constant expression as used by global initializers and segment offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConstExpr {
    I32(i32),
    I64(i64),
    /// Raw bits.
    F32(u32),
    /// Raw bits.
    F64(u64),
    /// Lane bytes, little-endian.
    V128(u128),
    RefNull,
    RefFunc(u32),
    GlobalGet(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportKind {
    Func(u32),
    Table(TableType),
    Memory(MemoryType),
    Global(GlobalType),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Import {
    pub module: String,
    pub name: String,
    pub kind: ImportKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExternKind {
    Func,
    Table,
    Memory,
    Global,
}

impl std::fmt::Display for ExternKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExternKind::Func => "func",
            ExternKind::Table => "table",
            ExternKind::Memory => "memory",
            ExternKind::Global => "global",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    pub name: String,
    pub kind: ExternKind,
    pub index: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ElemMode {
    Active { table: u32, offset: ConstExpr },
    Passive,
    Declared,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElemSegment {
    pub mode: ElemMode,
    pub ty: ValType,
    /// Each item is `RefFunc`, `RefNull` or `GlobalGet`.
    pub items: Vec<ConstExpr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSegment {
    /// `Some(offset)` for an active segment of memory 0, `None` when passive.
    pub offset: Option<ConstExpr>,
    pub bytes: Vec<u8>,
}

/// A trapping instruction inside a compiled function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrapSite {
    /// Offset of the instruction from the start of the function.
    pub offset: u32,
    pub kind: TrapKind,
}

/// Machine-code facts about one defined function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FuncCode {
    pub size: u32,
    /// Sorted by offset.
    pub traps: Vec<TrapSite>,
}

/// Everything the runtime needs to instantiate a compiled module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleDescriptor {
    pub arch: Arch,
    /// The code generator of the machine code.
    pub tier: Tier,
    pub bounds: BoundsMode,
    /// Whether loop headers and function entries check `VmLimits::interrupt`.
    pub interrupt_checks: bool,
    /// CPU extensions the machine code uses; the runtime refuses the module
    /// on a host without any of them.
    pub cpu_features: Vec<CpuFeature>,
    /// `awsm-compiler` version that produced the module.
    pub compiler: String,
    /// Size of the source `.wasm` in bytes.
    pub wasm_size: u64,
    pub types: Vec<FuncType>,
    pub imports: Vec<Import>,
    /// Type index of every function, imported ones first.
    pub funcs: Vec<u32>,
    /// Every table, imported ones first.
    pub tables: Vec<TableType>,
    /// The (single) memory, imported or defined.
    pub memory: Option<MemoryType>,
    /// Every global, imported ones first (their `init` is `None`).
    pub globals: Vec<(GlobalType, Option<ConstExpr>)>,
    pub exports: Vec<Export>,
    pub start: Option<u32>,
    pub elements: Vec<ElemSegment>,
    pub data: Vec<DataSegment>,
    /// One entry per defined function.
    pub code: Vec<FuncCode>,
}

#[derive(Debug, thiserror::Error)]
pub enum DescriptorError {
    #[error("not a Luge module (bad descriptor magic)")]
    BadMagic,
    #[error("module was compiled for Luge ABI version {found}, this runtime supports version {expected}; recompile it with this version of `luge compile`")]
    AbiVersion { found: u32, expected: u32 },
    #[error("corrupt module descriptor: {0}")]
    Corrupt(String),
}

impl ModuleDescriptor {
    pub fn counts(&self) -> crate::VmCounts {
        let count = |pred: fn(&ImportKind) -> bool| {
            self.imports.iter().filter(|i| pred(&i.kind)).count() as u32
        };
        crate::VmCounts {
            types: self.types.len() as u32,
            imported_funcs: count(|k| matches!(k, ImportKind::Func(_))),
            funcs: self.funcs.len() as u32,
            imported_tables: count(|k| matches!(k, ImportKind::Table(_))),
            tables: self.tables.len() as u32,
            imported_globals: count(|k| matches!(k, ImportKind::Global(_))),
            globals: self.globals.len() as u32,
        }
    }

    pub fn memory_imported(&self) -> bool {
        self.imports
            .iter()
            .any(|i| matches!(i.kind, ImportKind::Memory(_)))
    }

    /// Header plus serialized payload, as stored in the shared object.
    pub fn encode(&self) -> Vec<u8> {
        let payload = postcard::to_allocvec(self).expect("descriptor serializes");
        let mut out = Vec::with_capacity(DESCRIPTOR_HEADER_SIZE + payload.len());
        out.extend_from_slice(&DESCRIPTOR_MAGIC);
        out.extend_from_slice(&ABI_VERSION.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }

    /// Reads the header at the start of `bytes`, returning the payload length
    /// once magic and ABI version are checked.
    pub fn check_header(bytes: &[u8; DESCRIPTOR_HEADER_SIZE]) -> Result<usize, DescriptorError> {
        if bytes[..8] != DESCRIPTOR_MAGIC {
            return Err(DescriptorError::BadMagic);
        }
        let found = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
        if found != ABI_VERSION {
            return Err(DescriptorError::AbiVersion {
                found,
                expected: ABI_VERSION,
            });
        }
        Ok(u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize)
    }

    /// Inverse of [`ModuleDescriptor::encode`].
    pub fn decode(bytes: &[u8]) -> Result<ModuleDescriptor, DescriptorError> {
        let header: &[u8; DESCRIPTOR_HEADER_SIZE] = bytes
            .get(..DESCRIPTOR_HEADER_SIZE)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| DescriptorError::Corrupt("truncated header".into()))?;
        let len = Self::check_header(header)?;
        let payload = bytes
            .get(DESCRIPTOR_HEADER_SIZE..DESCRIPTOR_HEADER_SIZE + len)
            .ok_or_else(|| DescriptorError::Corrupt("truncated payload".into()))?;
        postcard::from_bytes(payload).map_err(|e| DescriptorError::Corrupt(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ModuleDescriptor {
        ModuleDescriptor {
            arch: Arch::X86_64,
            tier: Tier::Opt,
            bounds: BoundsMode::Guard,
            interrupt_checks: true,
            cpu_features: vec![CpuFeature::Sse41, CpuFeature::Popcnt],
            compiler: "test".into(),
            wasm_size: 10,
            types: vec![FuncType {
                params: vec![ValType::I32],
                results: vec![],
            }],
            imports: vec![Import {
                module: "m".into(),
                name: "f".into(),
                kind: ImportKind::Func(0),
            }],
            funcs: vec![0, 0],
            tables: vec![],
            memory: Some(MemoryType { min: 1, max: None }),
            globals: vec![],
            exports: vec![],
            start: None,
            elements: vec![],
            data: vec![DataSegment {
                offset: Some(ConstExpr::I32(8)),
                bytes: b"hi".to_vec(),
            }],
            code: vec![FuncCode {
                size: 16,
                traps: vec![TrapSite {
                    offset: 3,
                    kind: TrapKind::Unreachable,
                }],
            }],
        }
    }

    #[test]
    fn round_trips() {
        let d = sample();
        assert_eq!(ModuleDescriptor::decode(&d.encode()).unwrap(), d);
    }

    #[test]
    fn refuses_other_abi_version_naming_both() {
        let mut bytes = sample().encode();
        bytes[8..12].copy_from_slice(&(ABI_VERSION + 1).to_le_bytes());
        let err = ModuleDescriptor::decode(&bytes).unwrap_err().to_string();
        assert!(
            err.contains(&format!("version {}", ABI_VERSION + 1)),
            "{err}"
        );
        assert!(err.contains(&format!("version {ABI_VERSION}")), "{err}");
    }

    #[test]
    fn refuses_bad_magic_and_truncation() {
        let mut bytes = sample().encode();
        bytes[0] = b'X';
        assert!(matches!(
            ModuleDescriptor::decode(&bytes),
            Err(DescriptorError::BadMagic)
        ));
        let bytes = sample().encode();
        assert!(ModuleDescriptor::decode(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn counts_split_imports() {
        let c = sample().counts();
        assert_eq!((c.imported_funcs, c.funcs, c.types), (1, 2, 1));
    }
}
