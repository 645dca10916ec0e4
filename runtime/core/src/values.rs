//! Values crossing the host/guest boundary.

use luge_abi::ValType;

/// A wasm value. References are raw words: a funcref is the address of a
/// `VmFuncRef` and an externref an embedder-chosen word; 0 is null for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Val {
    I32(i32),
    I64(i64),
    /// Raw bits, so that NaN payloads survive.
    F32(u32),
    /// Raw bits, so that NaN payloads survive.
    F64(u64),
    /// The 16 bytes of a `v128`, lane 0 in the low bytes.
    V128(u128),
    FuncRef(usize),
    ExternRef(usize),
}

impl Val {
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FuncRef,
            Val::ExternRef(_) => ValType::ExternRef,
        }
    }

    /// The 16-byte slot representation trampolines and globals use
    /// (narrower values zero-extended into the low bytes).
    pub fn to_bits(self) -> u128 {
        match self {
            Val::I32(v) => u128::from(v as u32),
            Val::I64(v) => u128::from(v as u64),
            Val::F32(v) => u128::from(v),
            Val::F64(v) => u128::from(v),
            Val::V128(v) => v,
            Val::FuncRef(v) | Val::ExternRef(v) => v as u128,
        }
    }

    /// Inverse of [`Val::to_bits`]; bytes beyond `ty`'s width are ignored.
    pub fn from_bits(bits: u128, ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(bits as u32 as i32),
            ValType::I64 => Val::I64(bits as u64 as i64),
            ValType::F32 => Val::F32(bits as u32),
            ValType::F64 => Val::F64(bits as u64),
            ValType::V128 => Val::V128(bits),
            ValType::FuncRef => Val::FuncRef(bits as usize),
            ValType::ExternRef => Val::ExternRef(bits as usize),
        }
    }

    /// The default (zero or null) value of `ty`.
    pub fn zero(ty: ValType) -> Val {
        Val::from_bits(0, ty)
    }
}

impl std::fmt::Display for Val {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Val::I32(v) => write!(f, "{v}"),
            Val::I64(v) => write!(f, "{v}"),
            Val::F32(v) => write!(f, "{}", f32::from_bits(*v)),
            Val::F64(v) => write!(f, "{}", f64::from_bits(*v)),
            Val::V128(v) => write!(f, "v128 {v:#034x}"),
            Val::FuncRef(0) | Val::ExternRef(0) => write!(f, "null"),
            Val::FuncRef(v) => write!(f, "funcref@{v:#x}"),
            Val::ExternRef(v) => write!(f, "externref {v}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_preserving_nan_payloads() {
        let nan = 0x7fc0_0001u32;
        for v in [
            Val::I32(-1),
            Val::I64(i64::MIN),
            Val::F32(nan),
            Val::F64(0xfff8_0000_0000_0001),
            Val::V128(0x7fc0_0001_ffff_ffff_0000_0000_8000_0001),
            Val::FuncRef(0x1234),
            Val::ExternRef(0),
        ] {
            assert_eq!(Val::from_bits(v.to_bits(), v.ty()), v);
        }
        assert_eq!(Val::I32(-1).to_bits(), 0xffff_ffff);
        assert_eq!(Val::from_bits(u128::MAX, ValType::I64), Val::I64(-1));
    }
}
