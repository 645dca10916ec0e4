//! Fixed-width SIMD (`v128`) in the opt tier.
//!
//! A `v128` travels as `<2 x i64>` (in locals, calls, globals and the
//! trampolines' value slots, all 16-byte aligned), and each operator
//! bitcasts it to its lane shape, which costs nothing in the machine code.
//! Most operators are LLVM's vector instructions as they are; the rest
//! are spelled out where LLVM's meaning differs from Wasm's:
//! - float `min`/`max`: NaN if either lane is NaN, -0 below +0, as the
//!   scalar forms;
//! - `swizzle`: an index past 15 selects 0 (no generic LLVM operation
//!   does that);
//! - narrowing, `avgr_u`, `q15mulr_sat_s`, `dot`, the extending forms:
//!   computed in wider lanes, then clamped or truncated;
//! - rounding (`ceil` and kin): LLVM's intrinsics where the target rounds
//!   in one instruction; without SSE4.1 they would become calls to libm,
//!   so such modules are refused (`NotInOptTier`), and the fast tier
//!   serves them.
//!
//! Loads and stores go through the scalar path's address computation
//! ([`Emitter::address`]), bounds checks and guard-mode volatility
//! included, with the access's real width.

use super::{Emitter, Value};
use crate::error::CompileError;
use luge_abi::ValType;
use wasmparser::{MemArg, Operator};

/// How a `v128` is held between operators.
pub(in crate::llvm) const V128: &str = "<2 x i64>";

/// A lane shape.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    I8x16,
    I16x8,
    I32x4,
    I64x2,
    F32x4,
    F64x2,
}

use Shape::*;

impl Shape {
    fn lanes(self) -> u32 {
        match self {
            I8x16 => 16,
            I16x8 => 8,
            I32x4 | F32x4 => 4,
            I64x2 | F64x2 => 2,
        }
    }

    /// The IR type of one lane.
    fn elem(self) -> &'static str {
        match self {
            I8x16 => "i8",
            I16x8 => "i16",
            I32x4 => "i32",
            I64x2 => "i64",
            F32x4 => "float",
            F64x2 => "double",
        }
    }

    /// The IR vector type.
    fn vec(self) -> String {
        format!("<{} x {}>", self.lanes(), self.elem())
    }

    /// The integer shape of the same lane width (comparison results).
    fn int(self) -> Shape {
        match self {
            F32x4 => I32x4,
            F64x2 => I64x2,
            other => other,
        }
    }

    fn bits(self) -> u32 {
        128 / self.lanes()
    }

    /// The wasm type of a lane as scalar operators see it.
    fn scalar(self) -> ValType {
        match self {
            I8x16 | I16x8 | I32x4 => ValType::I32,
            I64x2 => ValType::I64,
            F32x4 => ValType::F32,
            F64x2 => ValType::F64,
        }
    }

    /// The vector type with as many lanes, twice as wide.
    fn wider_of_lanes(self) -> String {
        format!("<{} x i{}>", self.lanes(), self.bits() * 2)
    }

    /// The shape with lanes half as wide (and twice as many).
    fn narrower(self) -> Shape {
        match self {
            I16x8 => I8x16,
            I32x4 => I16x8,
            other => unreachable!("no narrowing from {}", other.elem()),
        }
    }

    /// The shape with lanes twice as wide (and half as many).
    fn wider(self) -> Shape {
        match self {
            I8x16 => I16x8,
            I16x8 => I32x4,
            I32x4 => I64x2,
            other => unreachable!("no shape wider than {}", other.elem()),
        }
    }
}

/// The shape an operator's name starts with (`I8x16Add`: `I8x16`), and
/// the rest of the name (`Add`). Every SIMD operator's name in wasmparser
/// starts with its five-letter shape.
fn split_name(op: &Operator) -> (Shape, String) {
    let name = format!("{op:?}");
    let shape = match &name[..5] {
        "I8x16" => I8x16,
        "I16x8" => I16x8,
        "I32x4" => I32x4,
        "I64x2" => I64x2,
        "F32x4" => F32x4,
        "F64x2" => F64x2,
        other => unreachable!("{name}: no shape {other}"),
    };
    (shape, name[5..].to_string())
}

/// The lane count and lane type of the IR vector type `t` (`<4 x float>`:
/// `("4", "float")`).
fn vector_parts(t: &str) -> (&str, &str) {
    t.trim_matches(|c| c == '<' || c == '>')
        .split_once(" x ")
        .expect("a vector type")
}

/// The suffix LLVM's overloaded intrinsics take for the vector type `t`
/// (`<4 x float>`: `v4f32`).
fn suffix(t: &str) -> String {
    let (lanes, elem) = vector_parts(t);
    let elem = match elem {
        "float" => "f32",
        "double" => "f64",
        int => int,
    };
    format!("v{lanes}{elem}")
}

/// A constant of the vector type `t` with every lane `c`.
fn splat_constant(t: &str, c: &str) -> String {
    let (lanes, elem) = vector_parts(t);
    let n: usize = lanes.parse().expect("a lane count");
    format!("<{}>", vec![format!("{elem} {c}"); n].join(", "))
}

/// A shuffle mask selecting `lanes`, in order.
fn mask(lanes: impl IntoIterator<Item = u32>) -> String {
    let lanes: Vec<String> = lanes.into_iter().map(|l| format!("i32 {l}")).collect();
    format!("<{} x i32> <{}>", lanes.len(), lanes.join(", "))
}

impl Emitter<'_, '_> {
    /// Translates SIMD operator `op`; `Ok(false)` when `op` is not one.
    pub(super) fn simd(&mut self, op: &Operator) -> Result<bool, CompileError> {
        use Operator as O;
        match *op {
            O::V128Const { value } => {
                let bits = value.i128() as u128;
                let (low, high) = (bits as u64 as i64, (bits >> 64) as u64 as i64);
                self.push(ValType::V128, format!("<i64 {low}, i64 {high}>"));
            }
            O::V128Load { memarg } => self.load_v128(memarg)?,
            O::V128Store { memarg } => self.store_v128(memarg),
            O::V128Load8x8S { memarg } => self.load_extend(memarg, I16x8, "sext"),
            O::V128Load8x8U { memarg } => self.load_extend(memarg, I16x8, "zext"),
            O::V128Load16x4S { memarg } => self.load_extend(memarg, I32x4, "sext"),
            O::V128Load16x4U { memarg } => self.load_extend(memarg, I32x4, "zext"),
            O::V128Load32x2S { memarg } => self.load_extend(memarg, I64x2, "sext"),
            O::V128Load32x2U { memarg } => self.load_extend(memarg, I64x2, "zext"),
            O::V128Load8Splat { memarg } => self.load_splat(memarg, I8x16),
            O::V128Load16Splat { memarg } => self.load_splat(memarg, I16x8),
            O::V128Load32Splat { memarg } => self.load_splat(memarg, I32x4),
            O::V128Load64Splat { memarg } => self.load_splat(memarg, I64x2),
            O::V128Load32Zero { memarg } => self.load_zero(memarg, I32x4),
            O::V128Load64Zero { memarg } => self.load_zero(memarg, I64x2),
            O::V128Load8Lane { memarg, lane } => self.load_lane(memarg, I8x16, lane),
            O::V128Load16Lane { memarg, lane } => self.load_lane(memarg, I16x8, lane),
            O::V128Load32Lane { memarg, lane } => self.load_lane(memarg, I32x4, lane),
            O::V128Load64Lane { memarg, lane } => self.load_lane(memarg, I64x2, lane),
            O::V128Store8Lane { memarg, lane } => self.store_lane(memarg, I8x16, lane),
            O::V128Store16Lane { memarg, lane } => self.store_lane(memarg, I16x8, lane),
            O::V128Store32Lane { memarg, lane } => self.store_lane(memarg, I32x4, lane),
            O::V128Store64Lane { memarg, lane } => self.store_lane(memarg, I64x2, lane),
            O::I8x16Shuffle { lanes } => {
                let b = self.pop_as(I8x16);
                let a = self.pop_as(I8x16);
                let m = mask(lanes.iter().map(|&l| u32::from(l)));
                let v = self.emit(format_args!(
                    "shufflevector <16 x i8> {a}, <16 x i8> {b}, {m}"
                ));
                self.push_as(I8x16, &v);
            }
            O::I8x16Swizzle => self.swizzle(),
            O::I8x16Splat => self.splat(I8x16),
            O::I16x8Splat => self.splat(I16x8),
            O::I32x4Splat => self.splat(I32x4),
            O::I64x2Splat => self.splat(I64x2),
            O::F32x4Splat => self.splat(F32x4),
            O::F64x2Splat => self.splat(F64x2),
            O::I8x16ExtractLaneS { lane } => self.extract(I8x16, lane, Some("sext")),
            O::I8x16ExtractLaneU { lane } => self.extract(I8x16, lane, Some("zext")),
            O::I16x8ExtractLaneS { lane } => self.extract(I16x8, lane, Some("sext")),
            O::I16x8ExtractLaneU { lane } => self.extract(I16x8, lane, Some("zext")),
            O::I32x4ExtractLane { lane } => self.extract(I32x4, lane, None),
            O::I64x2ExtractLane { lane } => self.extract(I64x2, lane, None),
            O::F32x4ExtractLane { lane } => self.extract(F32x4, lane, None),
            O::F64x2ExtractLane { lane } => self.extract(F64x2, lane, None),
            O::I8x16ReplaceLane { lane } => self.replace(I8x16, lane),
            O::I16x8ReplaceLane { lane } => self.replace(I16x8, lane),
            O::I32x4ReplaceLane { lane } => self.replace(I32x4, lane),
            O::I64x2ReplaceLane { lane } => self.replace(I64x2, lane),
            O::F32x4ReplaceLane { lane } => self.replace(F32x4, lane),
            O::F64x2ReplaceLane { lane } => self.replace(F64x2, lane),
            _ => return self.simd_lanewise(op),
        }
        Ok(true)
    }

    /// The lane-wise operators: comparisons, bitwise, integer and float
    /// arithmetic, conversions.
    fn simd_lanewise(&mut self, op: &Operator) -> Result<bool, CompileError> {
        use Operator as O;
        match *op {
            O::I8x16Eq | O::I16x8Eq | O::I32x4Eq | O::I64x2Eq => self.icmp(op, "eq"),
            O::I8x16Ne | O::I16x8Ne | O::I32x4Ne | O::I64x2Ne => self.icmp(op, "ne"),
            O::I8x16LtS | O::I16x8LtS | O::I32x4LtS | O::I64x2LtS => self.icmp(op, "slt"),
            O::I8x16LtU | O::I16x8LtU | O::I32x4LtU => self.icmp(op, "ult"),
            O::I8x16GtS | O::I16x8GtS | O::I32x4GtS | O::I64x2GtS => self.icmp(op, "sgt"),
            O::I8x16GtU | O::I16x8GtU | O::I32x4GtU => self.icmp(op, "ugt"),
            O::I8x16LeS | O::I16x8LeS | O::I32x4LeS | O::I64x2LeS => self.icmp(op, "sle"),
            O::I8x16LeU | O::I16x8LeU | O::I32x4LeU => self.icmp(op, "ule"),
            O::I8x16GeS | O::I16x8GeS | O::I32x4GeS | O::I64x2GeS => self.icmp(op, "sge"),
            O::I8x16GeU | O::I16x8GeU | O::I32x4GeU => self.icmp(op, "uge"),
            O::F32x4Eq | O::F64x2Eq => self.fcmp(op, "oeq"),
            O::F32x4Ne | O::F64x2Ne => self.fcmp(op, "une"),
            O::F32x4Lt | O::F64x2Lt => self.fcmp(op, "olt"),
            O::F32x4Gt | O::F64x2Gt => self.fcmp(op, "ogt"),
            O::F32x4Le | O::F64x2Le => self.fcmp(op, "ole"),
            O::F32x4Ge | O::F64x2Ge => self.fcmp(op, "oge"),
            O::V128Not => self.vunary(I64x2, |e, t, a| {
                e.emit(format_args!("xor {t} {a}, <i64 -1, i64 -1>"))
            }),
            O::V128And => {
                self.vbinary(I64x2, |e, t, a, b| e.emit(format_args!("and {t} {a}, {b}")))
            }
            O::V128Or => self.vbinary(I64x2, |e, t, a, b| e.emit(format_args!("or {t} {a}, {b}"))),
            O::V128Xor => {
                self.vbinary(I64x2, |e, t, a, b| e.emit(format_args!("xor {t} {a}, {b}")))
            }
            O::V128AndNot => self.vbinary(I64x2, |e, t, a, b| {
                let not = e.emit(format_args!("xor {t} {b}, <i64 -1, i64 -1>"));
                e.emit(format_args!("and {t} {a}, {not}"))
            }),
            O::V128Bitselect => {
                let c = self.pop_as(I64x2);
                let b = self.pop_as(I64x2);
                let a = self.pop_as(I64x2);
                let on = self.emit(format_args!("and {V128} {a}, {c}"));
                let not = self.emit(format_args!("xor {V128} {c}, <i64 -1, i64 -1>"));
                let off = self.emit(format_args!("and {V128} {b}, {not}"));
                let v = self.emit(format_args!("or {V128} {on}, {off}"));
                self.push_as(I64x2, &v);
            }
            O::V128AnyTrue => {
                let a = self.pop_as(I64x2);
                let wide = self.emit(format_args!("bitcast {V128} {a} to i128"));
                let c = self.emit(format_args!("icmp ne i128 {wide}, 0"));
                let v = self.emit(format_args!("zext i1 {c} to i32"));
                self.push(ValType::I32, v);
            }
            O::I8x16AllTrue => self.all_true(I8x16),
            O::I16x8AllTrue => self.all_true(I16x8),
            O::I32x4AllTrue => self.all_true(I32x4),
            O::I64x2AllTrue => self.all_true(I64x2),
            O::I8x16Bitmask => self.bitmask(I8x16),
            O::I16x8Bitmask => self.bitmask(I16x8),
            O::I32x4Bitmask => self.bitmask(I32x4),
            O::I64x2Bitmask => self.bitmask(I64x2),
            _ => return self.simd_integer(op),
        }
        Ok(true)
    }

    /// Integer lane arithmetic.
    fn simd_integer(&mut self, op: &Operator) -> Result<bool, CompileError> {
        use Operator as O;
        let shape = match op {
            O::I8x16Abs
            | O::I8x16Neg
            | O::I8x16Popcnt
            | O::I8x16Shl
            | O::I8x16ShrS
            | O::I8x16ShrU
            | O::I8x16Add
            | O::I8x16AddSatS
            | O::I8x16AddSatU
            | O::I8x16Sub
            | O::I8x16SubSatS
            | O::I8x16SubSatU
            | O::I8x16MinS
            | O::I8x16MinU
            | O::I8x16MaxS
            | O::I8x16MaxU
            | O::I8x16AvgrU => I8x16,
            O::I16x8Abs
            | O::I16x8Neg
            | O::I16x8Shl
            | O::I16x8ShrS
            | O::I16x8ShrU
            | O::I16x8Add
            | O::I16x8AddSatS
            | O::I16x8AddSatU
            | O::I16x8Sub
            | O::I16x8SubSatS
            | O::I16x8SubSatU
            | O::I16x8Mul
            | O::I16x8MinS
            | O::I16x8MinU
            | O::I16x8MaxS
            | O::I16x8MaxU
            | O::I16x8AvgrU => I16x8,
            O::I32x4Abs
            | O::I32x4Neg
            | O::I32x4Shl
            | O::I32x4ShrS
            | O::I32x4ShrU
            | O::I32x4Add
            | O::I32x4Sub
            | O::I32x4Mul
            | O::I32x4MinS
            | O::I32x4MinU
            | O::I32x4MaxS
            | O::I32x4MaxU => I32x4,
            O::I64x2Abs
            | O::I64x2Neg
            | O::I64x2Shl
            | O::I64x2ShrS
            | O::I64x2ShrU
            | O::I64x2Add
            | O::I64x2Sub
            | O::I64x2Mul => I64x2,
            _ => return self.simd_widening(op),
        };
        let (_, what) = split_name(op);
        let what = what.as_str();
        match what {
            "Abs" => self.vunary(shape, |e, t, a| {
                let neg = e.emit(format_args!("sub {t} zeroinitializer, {a}"));
                let below = e.emit(format_args!("icmp slt {t} {a}, zeroinitializer"));
                let n = shape.lanes();
                e.emit(format_args!(
                    "select <{n} x i1> {below}, {t} {neg}, {t} {a}"
                ))
            }),
            "Neg" => self.vunary(shape, |e, t, a| {
                e.emit(format_args!("sub {t} zeroinitializer, {a}"))
            }),
            "Popcnt" => self.vunary(shape, |e, t, a| e.vcall("ctpop", t, &[a])),
            "Shl" => self.vshift(shape, "shl"),
            "ShrS" => self.vshift(shape, "ashr"),
            "ShrU" => self.vshift(shape, "lshr"),
            "Add" | "Sub" | "Mul" => {
                let inst = what.to_lowercase();
                self.vbinary(shape, |e, t, a, b| {
                    e.emit(format_args!("{inst} {t} {a}, {b}"))
                })
            }
            "AddSatS" | "AddSatU" | "SubSatS" | "SubSatU" => {
                let (sign, op) = (&what[6..].to_lowercase(), &what[..3].to_lowercase());
                let f = format!("{sign}{op}.sat");
                self.vbinary(shape, |e, t, a, b| e.vcall(&f, t, &[a, b]))
            }
            "MinS" | "MinU" | "MaxS" | "MaxU" => {
                let f = format!("{}{}", &what[3..].to_lowercase(), &what[..3].to_lowercase());
                self.vbinary(shape, |e, t, a, b| e.vcall(&f, t, &[a, b]))
            }
            "AvgrU" => {
                let wide = shape.wider_of_lanes();
                self.vbinary(shape, |e, t, a, b| {
                    let x = e.emit(format_args!("zext {t} {a} to {wide}"));
                    let y = e.emit(format_args!("zext {t} {b} to {wide}"));
                    let sum = e.emit(format_args!("add {wide} {x}, {y}"));
                    let one = splat_constant(&wide, "1");
                    let up = e.emit(format_args!("add {wide} {sum}, {one}"));
                    let half = e.emit(format_args!("lshr {wide} {up}, {one}"));
                    e.emit(format_args!("trunc {wide} {half} to {t}"))
                })
            }
            other => unreachable!("{other} is matched above"),
        }
        Ok(true)
    }

    /// Narrowing<'_, '_> {
    /// Narrowing, extending, pairwise and dot products, and floats.
    fn simd_widening(&mut self, op: &Operator) -> Result<bool, CompileError> {
        use Operator as O;
        match *op {
            O::I8x16NarrowI16x8S => self.narrow(I16x8, true),
            O::I8x16NarrowI16x8U => self.narrow(I16x8, false),
            O::I16x8NarrowI32x4S => self.narrow(I32x4, true),
            O::I16x8NarrowI32x4U => self.narrow(I32x4, false),
            O::I16x8ExtendLowI8x16S => self.extend(I8x16, false, "sext"),
            O::I16x8ExtendHighI8x16S => self.extend(I8x16, true, "sext"),
            O::I16x8ExtendLowI8x16U => self.extend(I8x16, false, "zext"),
            O::I16x8ExtendHighI8x16U => self.extend(I8x16, true, "zext"),
            O::I32x4ExtendLowI16x8S => self.extend(I16x8, false, "sext"),
            O::I32x4ExtendHighI16x8S => self.extend(I16x8, true, "sext"),
            O::I32x4ExtendLowI16x8U => self.extend(I16x8, false, "zext"),
            O::I32x4ExtendHighI16x8U => self.extend(I16x8, true, "zext"),
            O::I64x2ExtendLowI32x4S => self.extend(I32x4, false, "sext"),
            O::I64x2ExtendHighI32x4S => self.extend(I32x4, true, "sext"),
            O::I64x2ExtendLowI32x4U => self.extend(I32x4, false, "zext"),
            O::I64x2ExtendHighI32x4U => self.extend(I32x4, true, "zext"),
            O::I16x8ExtMulLowI8x16S => self.ext_mul(I8x16, false, "sext"),
            O::I16x8ExtMulHighI8x16S => self.ext_mul(I8x16, true, "sext"),
            O::I16x8ExtMulLowI8x16U => self.ext_mul(I8x16, false, "zext"),
            O::I16x8ExtMulHighI8x16U => self.ext_mul(I8x16, true, "zext"),
            O::I32x4ExtMulLowI16x8S => self.ext_mul(I16x8, false, "sext"),
            O::I32x4ExtMulHighI16x8S => self.ext_mul(I16x8, true, "sext"),
            O::I32x4ExtMulLowI16x8U => self.ext_mul(I16x8, false, "zext"),
            O::I32x4ExtMulHighI16x8U => self.ext_mul(I16x8, true, "zext"),
            O::I64x2ExtMulLowI32x4S => self.ext_mul(I32x4, false, "sext"),
            O::I64x2ExtMulHighI32x4S => self.ext_mul(I32x4, true, "sext"),
            O::I64x2ExtMulLowI32x4U => self.ext_mul(I32x4, false, "zext"),
            O::I64x2ExtMulHighI32x4U => self.ext_mul(I32x4, true, "zext"),
            O::I16x8ExtAddPairwiseI8x16S => self.pairwise(I8x16, "sext", None),
            O::I16x8ExtAddPairwiseI8x16U => self.pairwise(I8x16, "zext", None),
            O::I32x4ExtAddPairwiseI16x8S => self.pairwise(I16x8, "sext", None),
            O::I32x4ExtAddPairwiseI16x8U => self.pairwise(I16x8, "zext", None),
            O::I32x4DotI16x8S => {
                let b = self.pop();
                self.pairwise(I16x8, "sext", Some(b));
            }
            O::I16x8Q15MulrSatS => self.q15mulr(),
            _ => return self.simd_float(op),
        }
        Ok(true)
    }

    /// Float lane arithmetic and the conversions.
    fn simd_float(&mut self, op: &Operator) -> Result<bool, CompileError> {
        use Operator as O;
        let shape = match op {
            O::F32x4Abs
            | O::F32x4Neg
            | O::F32x4Sqrt
            | O::F32x4Add
            | O::F32x4Sub
            | O::F32x4Mul
            | O::F32x4Div
            | O::F32x4Min
            | O::F32x4Max
            | O::F32x4PMin
            | O::F32x4PMax
            | O::F32x4Ceil
            | O::F32x4Floor
            | O::F32x4Trunc
            | O::F32x4Nearest => F32x4,
            O::F64x2Abs
            | O::F64x2Neg
            | O::F64x2Sqrt
            | O::F64x2Add
            | O::F64x2Sub
            | O::F64x2Mul
            | O::F64x2Div
            | O::F64x2Min
            | O::F64x2Max
            | O::F64x2PMin
            | O::F64x2PMax
            | O::F64x2Ceil
            | O::F64x2Floor
            | O::F64x2Trunc
            | O::F64x2Nearest => F64x2,
            _ => return self.simd_convert(op),
        };
        let (_, what) = split_name(op);
        let what = what.as_str();
        match what {
            "Abs" => self.vunary(shape, |e, t, a| e.vcall("fabs", t, &[a])),
            "Sqrt" => self.vunary(shape, |e, t, a| e.vcall("sqrt", t, &[a])),
            "Neg" => self.vunary(shape, |e, t, a| e.emit(format_args!("fneg {t} {a}"))),
            "Add" | "Sub" | "Mul" | "Div" => {
                let inst = format!("f{}", what.to_lowercase());
                self.vbinary(shape, |e, t, a, b| {
                    e.emit(format_args!("{inst} {t} {a}, {b}"))
                })
            }
            "Min" => self.vmin_max(shape, true),
            "Max" => self.vmin_max(shape, false),
            // pmin: b < a ? b : a; pmax: a < b ? b : a.
            "PMin" | "PMax" => {
                let n = shape.lanes();
                let min = what == "PMin";
                self.vbinary(shape, |e, t, a, b| {
                    let (x, y) = if min { (b, a) } else { (a, b) };
                    let lt = e.emit(format_args!("fcmp olt {t} {x}, {y}"));
                    e.emit(format_args!("select <{n} x i1> {lt}, {t} {b}, {t} {a}"))
                })
            }
            "Ceil" | "Floor" | "Trunc" | "Nearest" => {
                if !super::super::has_rounding(self.cx.opts) {
                    return Err(self.unsupported(format_args!(
                        "{op:?} without a rounding instruction (SSE4.1)"
                    )));
                }
                let f = match what {
                    "Nearest" => "roundeven".to_string(),
                    other => other.to_lowercase(),
                };
                self.vunary(shape, |e, t, a| e.vcall(&f, t, &[a]))
            }
            other => unreachable!("{other} is matched above"),
        }
        Ok(true)
    }

    /// The conversions between float and integer lanes.
    fn simd_convert(&mut self, op: &Operator) -> Result<bool, CompileError> {
        use Operator as O;
        match *op {
            O::I32x4TruncSatF32x4S => self.convert_lanes(F32x4, I32x4, "fptosi.sat"),
            O::I32x4TruncSatF32x4U => self.convert_lanes(F32x4, I32x4, "fptoui.sat"),
            O::F32x4ConvertI32x4S => self.convert_lanes(I32x4, F32x4, "sitofp"),
            O::F32x4ConvertI32x4U => self.convert_lanes(I32x4, F32x4, "uitofp"),
            O::I32x4TruncSatF64x2SZero => {
                self.convert_f64x2_to_zero("fptosi.sat", "<2 x i32>", I32x4)
            }
            O::I32x4TruncSatF64x2UZero => {
                self.convert_f64x2_to_zero("fptoui.sat", "<2 x i32>", I32x4)
            }
            O::F32x4DemoteF64x2Zero => self.convert_f64x2_to_zero("fptrunc", "<2 x float>", F32x4),
            O::F64x2ConvertLowI32x4S => self.convert_low(I32x4, "sitofp"),
            O::F64x2ConvertLowI32x4U => self.convert_low(I32x4, "uitofp"),
            O::F64x2PromoteLowF32x4 => self.convert_low(F32x4, "fpext"),
            _ => return Ok(false),
        }
        Ok(true)
    }

    // ---- plumbing ----------------------------------------------------

    /// Pops a `v128` as `shape`'s vector type.
    fn pop_as(&mut self, shape: Shape) -> String {
        let v = self.pop();
        self.cast(&v, shape)
    }

    fn cast(&mut self, v: &Value, shape: Shape) -> String {
        if shape == I64x2 {
            return v.name.clone();
        }
        self.emit(format_args!("bitcast {V128} {} to {}", v.name, shape.vec()))
    }

    /// Pushes `v`, of `shape`'s vector type, as a `v128`.
    fn push_as(&mut self, shape: Shape, v: &str) {
        let name = if shape == I64x2 {
            v.to_owned()
        } else {
            self.emit(format_args!("bitcast {} {v} to {V128}", shape.vec()))
        };
        self.push(ValType::V128, name);
    }

    fn vunary(&mut self, shape: Shape, f: impl FnOnce(&mut Self, &str, &str) -> String) {
        let a = self.pop_as(shape);
        let v = f(self, &shape.vec(), &a);
        self.push_as(shape, &v);
    }

    fn vbinary(&mut self, shape: Shape, f: impl FnOnce(&mut Self, &str, &str, &str) -> String) {
        let b = self.pop_as(shape);
        let a = self.pop_as(shape);
        let v = f(self, &shape.vec(), &a, &b);
        self.push_as(shape, &v);
    }

    /// Calls LLVM's intrinsic `llvm.NAME` for vectors of type `t` on
    /// `args`, declaring it for the module.
    fn vcall(&mut self, name: &str, t: &str, args: &[&str]) -> String {
        let f = format!("@llvm.{name}.{}", suffix(t));
        let params = vec![t; args.len()].join(", ");
        self.cx.declare(format!("declare {t} {f}({params})"));
        let list: Vec<String> = args.iter().map(|a| format!("{t} {a}")).collect();
        self.emit(format_args!("call {t} {f}({})", list.join(", ")))
    }

    /// `shape`'s vector with every lane the scalar `x` (of the lane type).
    fn splat_value(&mut self, shape: Shape, x: &str) -> String {
        let t = shape.vec();
        let one = self.emit(format_args!(
            "insertelement {t} poison, {} {x}, i32 0",
            shape.elem()
        ));
        let zeros = mask(std::iter::repeat_n(0, shape.lanes() as usize));
        self.emit(format_args!("shufflevector {t} {one}, {t} poison, {zeros}"))
    }

    /// The popped scalar as one lane of `shape` (truncated for i8 and i16).
    fn pop_lane(&mut self, shape: Shape) -> String {
        let x = self.pop();
        match shape {
            I8x16 | I16x8 => self.emit(format_args!("trunc i32 {} to {}", x.name, shape.elem())),
            _ => x.name,
        }
    }

    fn splat(&mut self, shape: Shape) {
        let x = self.pop_lane(shape);
        let v = self.splat_value(shape, &x);
        self.push_as(shape, &v);
    }

    fn extract(&mut self, shape: Shape, lane: u8, extend: Option<&str>) {
        let a = self.pop_as(shape);
        let x = self.emit(format_args!(
            "extractelement {} {a}, i32 {lane}",
            shape.vec()
        ));
        let x = match extend {
            Some(how) => self.emit(format_args!("{how} {} {x} to i32", shape.elem())),
            None => x,
        };
        self.push(shape.scalar(), x);
    }

    fn replace(&mut self, shape: Shape, lane: u8) {
        let x = self.pop_lane(shape);
        let a = self.pop_as(shape);
        let v = self.emit(format_args!(
            "insertelement {} {a}, {} {x}, i32 {lane}",
            shape.vec(),
            shape.elem()
        ));
        self.push_as(shape, &v);
    }

    // ---- memory --------------------------------------------------------

    fn load_v128(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        let at = self.address(memarg, 16);
        let v = self.emit(format_args!(
            "load {}{V128}, ptr {}, align 1{}",
            at.volatile(),
            at.ptr,
            at.tbaa()
        ));
        self.push(ValType::V128, v);
        Ok(())
    }

    fn store_v128(&mut self, memarg: MemArg) {
        let v = self.pop();
        let at = self.address(memarg, 16);
        self.line(format_args!(
            "store {}{V128} {}, ptr {}, align 1{}",
            at.volatile(),
            v.name,
            at.ptr,
            at.tbaa()
        ));
    }

    /// Loads a value of IR type `mem` (`bytes` wide) at the popped address.
    fn load_raw(&mut self, memarg: MemArg, mem: &str, bytes: u64) -> String {
        let at = self.address(memarg, bytes);
        self.emit(format_args!(
            "load {}{mem}, ptr {}, align 1{}",
            at.volatile(),
            at.ptr,
            at.tbaa()
        ))
    }

    /// `load8x8_s` and kin: half as many lanes of half the width, extended
    /// into `shape`.
    fn load_extend(&mut self, memarg: MemArg, shape: Shape, how: &str) {
        let narrow = format!("<{} x i{}>", shape.lanes(), shape.bits() / 2);
        let raw = self.load_raw(memarg, &narrow, 8);
        let v = self.emit(format_args!("{how} {narrow} {raw} to {}", shape.vec()));
        self.push_as(shape, &v);
    }

    fn load_splat(&mut self, memarg: MemArg, shape: Shape) {
        let x = self.load_raw(memarg, shape.elem(), u64::from(shape.bits() / 8));
        let v = self.splat_value(shape, &x);
        self.push_as(shape, &v);
    }

    fn load_zero(&mut self, memarg: MemArg, shape: Shape) {
        let x = self.load_raw(memarg, shape.elem(), u64::from(shape.bits() / 8));
        let v = self.emit(format_args!(
            "insertelement {} zeroinitializer, {} {x}, i32 0",
            shape.vec(),
            shape.elem()
        ));
        self.push_as(shape, &v);
    }

    fn load_lane(&mut self, memarg: MemArg, shape: Shape, lane: u8) {
        let a = self.pop_as(shape);
        let x = self.load_raw(memarg, shape.elem(), u64::from(shape.bits() / 8));
        let v = self.emit(format_args!(
            "insertelement {} {a}, {} {x}, i32 {lane}",
            shape.vec(),
            shape.elem()
        ));
        self.push_as(shape, &v);
    }

    fn store_lane(&mut self, memarg: MemArg, shape: Shape, lane: u8) {
        let a = self.pop_as(shape);
        let x = self.emit(format_args!(
            "extractelement {} {a}, i32 {lane}",
            shape.vec()
        ));
        let at = self.address(memarg, u64::from(shape.bits() / 8));
        self.line(format_args!(
            "store {}{} {x}, ptr {}, align 1{}",
            at.volatile(),
            shape.elem(),
            at.ptr,
            at.tbaa()
        ));
    }

    // ---- lane-wise -----------------------------------------------------

    fn icmp(&mut self, op: &Operator, pred: &str) {
        let (shape, _) = split_name(op);
        self.vbinary(shape, |e, t, a, b| {
            let c = e.emit(format_args!("icmp {pred} {t} {a}, {b}"));
            e.emit(format_args!("sext <{} x i1> {c} to {t}", shape.lanes()))
        });
    }

    fn fcmp(&mut self, op: &Operator, pred: &str) {
        let (shape, _) = split_name(op);
        let b = self.pop_as(shape);
        let a = self.pop_as(shape);
        let c = self.emit(format_args!("fcmp {pred} {} {a}, {b}", shape.vec()));
        let int = shape.int();
        let v = self.emit(format_args!(
            "sext <{} x i1> {c} to {}",
            shape.lanes(),
            int.vec()
        ));
        self.push_as(int, &v);
    }

    /// The lanes' signs (`bitmask`) or whether none is zero (`all_true`),
    /// through a vector of `i1` read as one integer.
    fn lane_bits(&mut self, shape: Shape, pred: &str) -> String {
        let a = self.pop_as(shape);
        let n = shape.lanes();
        let c = self.emit(format_args!(
            "icmp {pred} {} {a}, zeroinitializer",
            shape.vec()
        ));
        self.emit(format_args!("bitcast <{n} x i1> {c} to i{n}"))
    }

    fn all_true(&mut self, shape: Shape) {
        let bits = self.lane_bits(shape, "ne");
        let n = shape.lanes();
        let all = self.emit(format_args!("icmp eq i{n} {bits}, -1"));
        let v = self.emit(format_args!("zext i1 {all} to i32"));
        self.push(ValType::I32, v);
    }

    fn bitmask(&mut self, shape: Shape) {
        let bits = self.lane_bits(shape, "slt");
        let v = self.emit(format_args!("zext i{} {bits} to i32", shape.lanes()));
        self.push(ValType::I32, v);
    }

    /// A shift of every lane by the popped count, taken modulo the lane
    /// width as Wasm says (LLVM's shifts by the width or more are poison).
    fn vshift(&mut self, shape: Shape, inst: &str) {
        let count = self.pop();
        let masked = self.emit(format_args!("and i32 {}, {}", count.name, shape.bits() - 1));
        let lane = match shape {
            I8x16 | I16x8 => self.emit(format_args!("trunc i32 {masked} to {}", shape.elem())),
            I64x2 => self.emit(format_args!("zext i32 {masked} to i64")),
            _ => masked,
        };
        let counts = self.splat_value(shape, &lane);
        self.vunary(shape, |e, t, a| {
            e.emit(format_args!("{inst} {t} {a}, {counts}"))
        });
    }

    /// `swizzle`: lane i of the result is lane `s[i]` of `a`, or 0 where
    /// `s[i]` is past 15.
    fn swizzle(&mut self) {
        let s = self.pop_as(I8x16);
        let a = self.pop_as(I8x16);
        let mut acc = "zeroinitializer".to_string();
        for i in 0..16 {
            let index = self.emit(format_args!("extractelement <16 x i8> {s}, i32 {i}"));
            let inside = self.emit(format_args!("icmp ult i8 {index}, 16"));
            let wrapped = self.emit(format_args!("and i8 {index}, 15"));
            let x = self.emit(format_args!("extractelement <16 x i8> {a}, i8 {wrapped}"));
            let y = self.emit(format_args!("select i1 {inside}, i8 {x}, i8 0"));
            acc = self.emit(format_args!(
                "insertelement <16 x i8> {acc}, i8 {y}, i32 {i}"
            ));
        }
        self.push_as(I8x16, &acc);
    }

    /// Both operands' lanes (of `from`), saturated into lanes half as wide.
    fn narrow(&mut self, from: Shape, signed: bool) {
        let b = self.pop_as(from);
        let a = self.pop_as(from);
        let t = from.vec();
        let n = from.lanes() * 2;
        let both = format!("<{n} x {}>", from.elem());
        let joined = self.emit(format_args!(
            "shufflevector {t} {a}, {t} {b}, {}",
            mask(0..n)
        ));
        let half = from.bits() / 2;
        let (low, high) = if signed {
            (-(1i64 << (half - 1)), (1i64 << (half - 1)) - 1)
        } else {
            (0, (1i64 << half) - 1)
        };
        let lo = splat_constant(&both, &low.to_string());
        let hi = splat_constant(&both, &high.to_string());
        let above = self.vcall("smax", &both, &[&joined, &lo]);
        let clamped = self.vcall("smin", &both, &[&above, &hi]);
        let narrow_shape = from.narrower();
        let v = self.emit(format_args!(
            "trunc {both} {clamped} to {}",
            narrow_shape.vec()
        ));
        self.push_as(narrow_shape, &v);
    }

    /// One half (`high` or low) of `from`'s lanes, as a vector of them.
    fn half(&mut self, v: &str, from: Shape, high: bool) -> String {
        let n = from.lanes() / 2;
        let start = if high { n } else { 0 };
        let t = from.vec();
        self.emit(format_args!(
            "shufflevector {t} {v}, {t} poison, {}",
            mask(start..start + n)
        ))
    }

    fn extend(&mut self, from: Shape, high: bool, how: &str) {
        let a = self.pop_as(from);
        let part = self.half(&a, from, high);
        let to = from.wider();
        let n = from.lanes() / 2;
        let v = self.emit(format_args!(
            "{how} <{n} x {}> {part} to {}",
            from.elem(),
            to.vec()
        ));
        self.push_as(to, &v);
    }

    fn ext_mul(&mut self, from: Shape, high: bool, how: &str) {
        let b = self.pop_as(from);
        let a = self.pop_as(from);
        let to = from.wider();
        let n = from.lanes() / 2;
        let mut wide = Vec::new();
        for v in [a, b] {
            let part = self.half(&v, from, high);
            wide.push(self.emit(format_args!(
                "{how} <{n} x {}> {part} to {}",
                from.elem(),
                to.vec()
            )));
        }
        let v = self.emit(format_args!("mul {} {}, {}", to.vec(), wide[0], wide[1]));
        self.push_as(to, &v);
    }

    /// `extadd_pairwise`: adjacent lanes of `from` summed into lanes twice
    /// as wide; with `times`, the lanes multiplied by its lanes first
    /// (`dot`).
    fn pairwise(&mut self, from: Shape, how: &str, times: Option<Value>) {
        let a = self.pop_as(from);
        let all = from.lanes();
        let wide = from.wider_of_lanes();
        let mut lanes = self.emit(format_args!("{how} {} {a} to {wide}", from.vec()));
        if let Some(b) = times {
            let b = self.cast(&b, from);
            let b = self.emit(format_args!("{how} {} {b} to {wide}", from.vec()));
            lanes = self.emit(format_args!("mul {wide} {lanes}, {b}"));
        }
        let to = from.wider();
        let evens = self.emit(format_args!(
            "shufflevector {wide} {lanes}, {wide} poison, {}",
            mask((0..all).step_by(2))
        ));
        let odds = self.emit(format_args!(
            "shufflevector {wide} {lanes}, {wide} poison, {}",
            mask((1..all).step_by(2))
        ));
        let v = self.emit(format_args!("add {} {evens}, {odds}", to.vec()));
        self.push_as(to, &v);
    }

    /// `q15mulr_sat_s`: `(a * b + 0x4000) >> 15`, saturated.
    fn q15mulr(&mut self) {
        self.vbinary(I16x8, |e, t, a, b| {
            let w = "<8 x i32>";
            let x = e.emit(format_args!("sext {t} {a} to {w}"));
            let y = e.emit(format_args!("sext {t} {b} to {w}"));
            let p = e.emit(format_args!("mul {w} {x}, {y}"));
            let round = splat_constant(w, "16384");
            let r = e.emit(format_args!("add {w} {p}, {round}"));
            let fifteen = splat_constant(w, "15");
            let s = e.emit(format_args!("ashr {w} {r}, {fifteen}"));
            let max = splat_constant(w, "32767");
            let clamped = e.vcall("smin", w, &[&s, &max]);
            e.emit(format_args!("trunc {w} {clamped} to {t}"))
        });
    }

    /// Float `min` (`max`): NaN if either lane is, -0 below +0.
    fn vmin_max(&mut self, shape: Shape, min: bool) {
        let cond = format!("<{} x i1>", shape.lanes());
        let int = shape.int().vec();
        self.vbinary(shape, |e, t, a, b| {
            e.float_min_max(min, t, &int, &cond, a, b)
        });
    }

    /// A conversion of every lane of `from` into `to` (as many lanes):
    /// an instruction, or `fpto[su]i.sat`, an intrinsic.
    fn convert_lanes(&mut self, from: Shape, to: Shape, how: &str) {
        let a = self.pop_as(from);
        let (f, t) = (from.vec(), to.vec());
        let v = if how.ends_with(".sat") {
            let name = format!("@llvm.{how}.{}.{}", suffix(&t), suffix(&f));
            self.cx.declare(format!("declare {t} {name}({f})"));
            self.emit(format_args!("call {t} {name}({f} {a})"))
        } else {
            self.emit(format_args!("{how} {f} {a} to {t}"))
        };
        self.push_as(to, &v);
    }

    /// An `f64x2` converted into the low two lanes of `to`, the high two
    /// zero; `half` is the IR type of the two converted lanes.
    fn convert_f64x2_to_zero(&mut self, how: &str, half: &str, to: Shape) {
        let a = self.pop_as(F64x2);
        let two = if how.ends_with(".sat") {
            let name = format!("@llvm.{how}.v2i32.v2f64");
            self.cx
                .declare(format!("declare {half} {name}(<2 x double>)"));
            self.emit(format_args!("call {half} {name}(<2 x double> {a})"))
        } else {
            self.emit(format_args!("{how} <2 x double> {a} to {half}"))
        };
        let v = self.emit(format_args!(
            "shufflevector {half} {two}, {half} zeroinitializer, {}",
            mask(0..4)
        ));
        self.push_as(to, &v);
    }

    /// The low two lanes of `from` (i32 or f32) converted into an `f64x2`.
    fn convert_low(&mut self, from: Shape, how: &str) {
        let a = self.pop_as(from);
        let low = self.half(&a, from, false);
        let v = self.emit(format_args!(
            "{how} <2 x {}> {low} to <2 x double>",
            from.elem()
        ));
        self.push_as(F64x2, &v);
    }
}
