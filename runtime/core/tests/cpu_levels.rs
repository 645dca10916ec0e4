//! Every CPU level `--cpu` accepts makes loadable code that computes what
//! WebAssembly says. Below SSE4.1 (`baseline`) Cranelift calls library
//! routines for rounding, and below SSSE3 for byte shuffles; a Luge object
//! links against nothing, so the compiler must bring them (issue 17: such
//! objects failed to load with `undefined symbol: ceilf`). The opt tier,
//! whose LLVM would call libm's `ceilf` there too, spells scalar rounding
//! out, and refuses SIMD rounding there (the fast tier serves such
//! modules).

use awsm_compiler::{BoundsMode, CompileOptions, CpuLevel, Tier};
use luge_runtime::*;

/// The scalar rounding functions, which both tiers compile.
const SCALAR: &str = r#"
  (func (export "f32.ceil") (param f32) (result f32) (f32.ceil (local.get 0)))
  (func (export "f32.floor") (param f32) (result f32) (f32.floor (local.get 0)))
  (func (export "f32.trunc") (param f32) (result f32) (f32.trunc (local.get 0)))
  (func (export "f32.nearest") (param f32) (result f32) (f32.nearest (local.get 0)))
  (func (export "f64.ceil") (param f64) (result f64) (f64.ceil (local.get 0)))
  (func (export "f64.floor") (param f64) (result f64) (f64.floor (local.get 0)))
  (func (export "f64.trunc") (param f64) (result f64) (f64.trunc (local.get 0)))
  (func (export "f64.nearest") (param f64) (result f64) (f64.nearest (local.get 0)))
"#;

/// Their vector forms and the byte shuffles, which the opt tier compiles
/// where the CPU rounds in one instruction (SSE4.1: every level but
/// `baseline`).
const SIMD: &str = r#"
  (func (export "f32x4.ceil") (param v128) (result v128) (f32x4.ceil (local.get 0)))
  (func (export "f32x4.floor") (param v128) (result v128) (f32x4.floor (local.get 0)))
  (func (export "f32x4.trunc") (param v128) (result v128) (f32x4.trunc (local.get 0)))
  (func (export "f32x4.nearest") (param v128) (result v128) (f32x4.nearest (local.get 0)))
  (func (export "f64x2.ceil") (param v128) (result v128) (f64x2.ceil (local.get 0)))
  (func (export "f64x2.floor") (param v128) (result v128) (f64x2.floor (local.get 0)))
  (func (export "f64x2.trunc") (param v128) (result v128) (f64x2.trunc (local.get 0)))
  (func (export "f64x2.nearest") (param v128) (result v128) (f64x2.nearest (local.get 0)))
  (func (export "i8x16.swizzle") (param v128 v128) (result v128)
    (i8x16.swizzle (local.get 0) (local.get 1)))
  (func (export "i8x16.shuffle") (param v128 v128) (result v128)
    (i8x16.shuffle 31 0 17 2 19 4 21 6 23 8 25 10 27 12 29 14 (local.get 0) (local.get 1)))
"#;

/// The levels whose code this machine can run.
fn runnable_levels() -> Vec<CpuLevel> {
    CpuLevel::ALL
        .into_iter()
        .filter(|level| level.runs_on_host())
        .collect()
}

struct Compiled {
    module: Module,
    _dir: tempfile::TempDir,
}

/// Whether `tier` compiles the SIMD functions for `cpu` (every aarch64
/// CPU rounds in one instruction).
fn with_simd(tier: Tier, cpu: CpuLevel) -> bool {
    tier == Tier::Fast || cpu != CpuLevel::Baseline || cfg!(not(target_arch = "x86_64"))
}

/// The module `tier` compiles for `cpu`: the SIMD functions too where
/// [`with_simd`].
fn compile(tier: Tier, cpu: CpuLevel, bounds: BoundsMode) -> Compiled {
    let simd = if with_simd(tier, cpu) { SIMD } else { "" };
    let wasm = wat::parse_str(format!("(module {SCALAR} {simd})")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.so");
    let opts = CompileOptions {
        cpu,
        bounds,
        tier,
        ..Default::default()
    };
    awsm_compiler::compile_to_file(&wasm, &opts, &path)
        .unwrap_or_else(|e| panic!("{tier:?} tier, --cpu {cpu:?}: {e}"));
    let module =
        Module::load(&path).unwrap_or_else(|e| panic!("{tier:?} tier, --cpu {cpu:?} loads: {e}"));
    Compiled { module, _dir: dir }
}

/// Inputs that take every path of a rounding routine: zeros, halves
/// (ties), values just off integers, the largest values with a fraction,
/// the smallest without, subnormals, infinities and NaNs.
fn f64_inputs() -> Vec<f64> {
    let mut inputs = vec![
        0.0,
        0.3,
        0.5,
        0.7,
        1.0,
        1.5,
        2.5,
        3.5,
        -2.5,
        1e-310,
        f64::MIN_POSITIVE,
        4503599627370495.5,
        4503599627370496.0,
        4503599627370497.0,
        9007199254740993.0,
        1e300,
        f64::MAX,
        f64::INFINITY,
        f64::NAN,
        f64::from_bits(0x7ff4_0000_0000_0001),
        123456.789,
    ];
    let negated: Vec<f64> = inputs.iter().map(|x| -x).collect();
    inputs.extend(negated);
    inputs
}

fn f32_inputs() -> Vec<f32> {
    let mut inputs = vec![
        0.0,
        0.3,
        0.5,
        0.7,
        1.5,
        2.5,
        8388607.5,
        8388608.0,
        8388609.0,
        16777217.0,
        1e-40,
        f32::MIN_POSITIVE,
        3.0e38,
        f32::MAX,
        f32::INFINITY,
        f32::NAN,
        f32::from_bits(0x7fa0_0001),
        1234.567,
    ];
    let negated: Vec<f32> = inputs.iter().map(|x| -x).collect();
    inputs.extend(negated);
    inputs
}

/// Exact results as the spec defines them: NaN for NaN (any NaN), else
/// the IEEE result bit for bit (the sign of zero included).
fn same_f64(got: f64, want: f64) -> bool {
    (got.is_nan() && want.is_nan()) || got.to_bits() == want.to_bits()
}

fn same_f32(got: f32, want: f32) -> bool {
    (got.is_nan() && want.is_nan()) || got.to_bits() == want.to_bits()
}

type F64Op = fn(f64) -> f64;
type F32Op = fn(f32) -> f32;

const F64_OPS: [(&str, F64Op); 4] = [
    ("ceil", f64::ceil),
    ("floor", f64::floor),
    ("trunc", f64::trunc),
    ("nearest", f64::round_ties_even),
];
const F32_OPS: [(&str, F32Op); 4] = [
    ("ceil", f32::ceil),
    ("floor", f32::floor),
    ("trunc", f32::trunc),
    ("nearest", f32::round_ties_even),
];

fn v128(bytes: [u8; 16]) -> Val {
    Val::V128(u128::from_le_bytes(bytes))
}

fn call(instance: &Instance, name: &str, args: &[Val]) -> Val {
    let results = instance
        .call(name, args)
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    results[0]
}

/// Checks the rounding functions, and their vector forms when `simd`.
fn check_rounding(instance: &Instance, cpu: CpuLevel, simd: bool) {
    for (op, reference) in F64_OPS {
        for &x in &f64_inputs() {
            let want = reference(x);
            let Val::F64(got) = call(instance, &format!("f64.{op}"), &[Val::F64(x.to_bits())])
            else {
                panic!("f64.{op} returned another type")
            };
            let got = f64::from_bits(got);
            assert!(
                same_f64(got, want),
                "{cpu:?}: f64.{op}({x:e}) = {got:e}, not {want:e}"
            );
            if !simd {
                continue;
            }
            let lanes = u128::from(x.to_bits()) | u128::from((-x).to_bits()) << 64;
            let Val::V128(out) = call(instance, &format!("f64x2.{op}"), &[Val::V128(lanes)]) else {
                panic!("f64x2.{op} returned another type")
            };
            let lane = |i: u32| f64::from_bits((out >> (64 * i)) as u64);
            assert!(
                same_f64(lane(0), want),
                "{cpu:?}: f64x2.{op} lane 0 of {x:e}"
            );
            assert!(
                same_f64(lane(1), reference(-x)),
                "{cpu:?}: f64x2.{op} lane 1 of {:e}",
                -x
            );
        }
    }
    for (op, reference) in F32_OPS {
        for &x in &f32_inputs() {
            let want = reference(x);
            let Val::F32(got) = call(instance, &format!("f32.{op}"), &[Val::F32(x.to_bits())])
            else {
                panic!("f32.{op} returned another type")
            };
            let got = f32::from_bits(got);
            assert!(
                same_f32(got, want),
                "{cpu:?}: f32.{op}({x:e}) = {got:e}, not {want:e}"
            );
            if !simd {
                continue;
            }
            let xs = [x, -x, x * 0.5, x + 0.25];
            let lanes = xs
                .iter()
                .enumerate()
                .fold(0u128, |v, (i, x)| v | u128::from(x.to_bits()) << (32 * i));
            let Val::V128(out) = call(instance, &format!("f32x4.{op}"), &[Val::V128(lanes)]) else {
                panic!("f32x4.{op} returned another type")
            };
            for (i, &x) in xs.iter().enumerate() {
                let got = f32::from_bits((out >> (32 * i)) as u32);
                assert!(
                    same_f32(got, reference(x)),
                    "{cpu:?}: f32x4.{op} lane {i} of {x:e}"
                );
            }
        }
    }
}

fn check_shuffles(instance: &Instance, cpu: CpuLevel) {
    let table: [u8; 16] = std::array::from_fn(|i| 0xa0 + i as u8);
    let other: [u8; 16] = std::array::from_fn(|i| 0x50 + i as u8);
    // In range, out of range (zero), with the top bit set (zero), and the
    // 0x10..0x7f range pshufb alone would wrap.
    let indices: [u8; 16] = [
        0, 15, 7, 16, 17, 0x80, 0xff, 0x70, 1, 2, 3, 31, 32, 0x8f, 14, 9,
    ];
    let Val::V128(out) = call(instance, "i8x16.swizzle", &[v128(table), v128(indices)]) else {
        panic!("swizzle returned another type")
    };
    let want: [u8; 16] =
        std::array::from_fn(|i| table.get(indices[i] as usize).copied().unwrap_or(0));
    assert_eq!(out.to_le_bytes(), want, "{cpu:?}: i8x16.swizzle");
    let Val::V128(out) = call(instance, "i8x16.shuffle", &[v128(table), v128(other)]) else {
        panic!("shuffle returned another type")
    };
    let lanes = [31, 0, 17, 2, 19, 4, 21, 6, 23, 8, 25, 10, 27, 12, 29, 14];
    let both: Vec<u8> = table.iter().chain(&other).copied().collect();
    let want: [u8; 16] = std::array::from_fn(|i| both[lanes[i]]);
    assert_eq!(out.to_le_bytes(), want, "{cpu:?}: i8x16.shuffle");
}

/// Runs `check` on an instance of the module as `tier` compiles it for
/// every level this machine runs, in both bounds modes.
fn check_every_build(tier: Tier, check: impl Fn(&Instance, CpuLevel)) {
    let levels = runnable_levels();
    assert!(levels.contains(&CpuLevel::Baseline), "{levels:?}");
    for cpu in levels {
        for bounds in [BoundsMode::Guard, BoundsMode::Software] {
            let compiled = compile(tier, cpu, bounds);
            let store = Store::new(DEFAULT_MAX_STACK);
            let instance = Instance::new(&compiled.module, &store, &[], &InstanceConfig::default())
                .expect("instantiation succeeds");
            check(&instance, cpu);
        }
    }
}

#[test]
fn every_cpu_level_makes_loadable_code_that_rounds_and_shuffles_exactly() {
    check_every_build(Tier::Fast, |instance, cpu| {
        check_rounding(instance, cpu, true);
        check_shuffles(instance, cpu);
    });
}

/// The opt tier at every level, `baseline` included (it used to refuse
/// it: LLVM's rounding intrinsics became calls to libm there), SIMD too
/// where it compiles it.
#[test]
fn the_opt_tier_rounds_and_shuffles_exactly_at_every_cpu_level() {
    check_every_build(Tier::Opt, |instance, cpu| {
        let simd = with_simd(Tier::Opt, cpu);
        check_rounding(instance, cpu, simd);
        if simd {
            check_shuffles(instance, cpu);
        }
    });
}

/// At `baseline` the opt tier refuses SIMD rounding, naming it, rather
/// than make an object that calls libm.
#[cfg(target_arch = "x86_64")]
#[test]
fn the_opt_tier_refuses_simd_rounding_at_baseline() {
    let wasm = wat::parse_str(format!("(module {SIMD})")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = CompileOptions {
        cpu: CpuLevel::Baseline,
        tier: Tier::Opt,
        ..Default::default()
    };
    match awsm_compiler::compile_to_file(&wasm, &opts, &dir.path().join("m.so")) {
        Err(awsm_compiler::CompileError::NotInOptTier { what, .. }) => {
            assert!(
                what.contains("F32x4Ceil") && what.contains("SSE4.1"),
                "{what}"
            )
        }
        other => panic!("expected NotInOptTier, got {other:?}"),
    }
}
