//! The opt tier's versioned loops (awsm-compiler's `llvm/func/versioning.rs`)
//! compute what the fast tier computes: results, traps, and the memory a
//! trap leaves behind, bit for bit. The inputs put loops wholly in bounds,
//! across the end of memory at every kind of pass (so that the loop goes
//! on in its ordinary copy and traps there), out of bounds from the first
//! pass, on addresses that wrap past 2^32 back into memory, and over
//! arrays that overlap (so that vectorized code must respect the order of
//! loads and stores).

use awsm_compiler::{BoundsMode, CompileOptions, Tier};
use luge_runtime::*;

const MODULE: &str = r#"(module
  (memory (export "memory") 1)
  (global $g (mut i64) (i64.const 0))
  ;; The global, read after each call (a trap must leave it as Wasm says).
  (func (export "state") (result i64) (global.get $g))
  ;; for k < n: g += 1; mem64[p + 8k] = g
  (func (export "counted") (param $p i32) (param $n i32)
    (loop $l
      (global.set $g (i64.add (global.get $g) (i64.const 1)))
      (i64.store (local.get $p) (global.get $g))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  ;; for k < n: mem64[-p] = k, p -= 8 each pass: a negative coefficient,
  ;; a stride that walks up
  (func (export "negated") (param $p i32) (param $n i32)
    (local $k i64)
    (loop $l
      (i64.store (i32.sub (i32.const 0) (local.get $p)) (local.get $k))
      (local.set $k (i64.add (local.get $k) (i64.const 1)))
      (local.set $p (i32.sub (local.get $p) (i32.const 8)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  ;; for k < n: mem64[p + 8k] = v + k
  (func (export "fill") (param $p i32) (param $n i32) (param $v i64)
    (loop $l
      (i64.store (local.get $p) (local.get $v))
      (local.set $v (i64.add (local.get $v) (i64.const 1)))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  ;; for i < n: dst[i] += 3 * src[i] (f64), indexed as p + (i << 3)
  (func (export "axpy") (param $dst i32) (param $src i32) (param $n i32)
    (local $i i32)
    (loop $l
      (f64.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 3)))
        (f64.add
          (f64.load (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 3))))
          (f64.mul (f64.const 3)
            (f64.load (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 3)))))))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))))
  ;; for k < n: a[k + 1] += a[k] (i32), carried through memory
  (func (export "prefix") (param $p i32) (param $n i32)
    (loop $l
      (i32.store offset=4 (local.get $p)
        (i32.add (i32.load offset=4 (local.get $p)) (i32.load (local.get $p))))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br_if $l (local.tee $n (i32.add (local.get $n) (i32.const -1))))))
  ;; sums bytes at p - 16 + 3i for i < n, keeping the sum in mem32[0]
  (func (export "bytes") (param $p i32) (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s)
        (i32.load8_u (i32.add (i32.add (local.get $p) (i32.const -16))
                              (i32.mul (local.get $i) (i32.const 3))))))
      (i32.store (i32.const 0) (local.get $s))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $s))
  ;; adds 1 to every i32 lane of n vectors at p
  (func (export "lanes") (param $p i32) (param $n i32)
    (loop $l
      (v128.store (local.get $p)
        (i32x4.add (v128.load (local.get $p)) (v128.const i32x4 1 1 1 1)))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  ;; mem8[p + 0x10000 + i] = i for i < n: with p near 2^32 the sum wraps
  ;; back into memory
  (func (export "wrapped") (param $p i32) (param $n i32)
    (local $i i32)
    (loop $l
      (i32.store8 (i32.add (i32.add (local.get $p) (i32.const 0x10000)) (local.get $i))
        (local.get $i))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))))
)"#;

const PAGE: u32 = 65536;

/// The calls: each on a fresh instance whose memory holds the same
/// pattern.
fn cases() -> Vec<(&'static str, Vec<Val>)> {
    let i = Val::I32;
    let l = Val::I64;
    let p = |v: u32| Val::I32(v as i32);
    vec![
        ("fill", vec![i(64), i(100), l(7)]),
        // The last pass's 8 bytes end at the end of memory.
        ("fill", vec![p(PAGE - 8 * 10), i(10), l(1)]),
        // Pass 5 is the first out of bounds: five stores, then the trap.
        ("fill", vec![p(PAGE - 8 * 5), i(10), l(1)]),
        ("fill", vec![p(PAGE - 7), i(1), l(1)]),
        ("fill", vec![p(u32::MAX - 7), i(3), l(1)]),
        ("axpy", vec![i(1024), i(4096), i(300)]),
        // Overlapping arrays, both ways round.
        ("axpy", vec![i(1024), i(1032), i(500)]),
        ("axpy", vec![i(1032), i(1024), i(500)]),
        ("axpy", vec![i(2048), i(2048), i(200)]),
        // The destination runs off the end at pass 692.
        ("axpy", vec![p(60000), i(0), i(1000)]),
        ("prefix", vec![i(0), i(1000)]),
        ("prefix", vec![p(PAGE - 4 * 20), i(30)]),
        // p - 16 wraps below 0: out of bounds from the first pass.
        ("bytes", vec![i(10), i(5)]),
        ("bytes", vec![i(16), i(2000)]),
        // Runs off the end at pass 40, after storing 39 sums.
        ("bytes", vec![p(PAGE - 100), i(200)]),
        ("lanes", vec![i(0), i(100)]),
        ("lanes", vec![i(8), i(37)]),
        ("lanes", vec![p(PAGE - 16 * 3), i(5)]),
        // p + 0x10000 wraps to 0: every address is in bounds for Wasm.
        ("wrapped", vec![p(0u32.wrapping_sub(PAGE)), i(300)]),
        // ... and to PAGE - 100, so the loop runs off the end.
        ("wrapped", vec![p(0u32.wrapping_sub(100)), i(300)]),
        ("wrapped", vec![i(0), i(10)]),
        ("counted", vec![i(0), i(100)]),
        // Five stores, then the trap: the global must be 6.
        ("counted", vec![p(PAGE - 8 * 5), i(10)]),
        ("negated", vec![i(0), i(100)]),
        // Runs off the end at pass 8192.
        ("negated", vec![i(0), i(9000)]),
        // -8 is 2^32 - 8: out of bounds at once.
        ("negated", vec![i(8), i(3)]),
    ]
}

/// A memory pattern that makes every load distinct.
fn pattern() -> Vec<u8> {
    (0..PAGE)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// What a call did: its results or its trap, memory afterwards and, for
/// modules that export `state`, what it returns then.
#[derive(PartialEq, Debug)]
struct Outcome {
    result: Result<Vec<Val>, String>,
    memory: Vec<u8>,
    state: Option<Result<Vec<Val>, String>>,
}

struct Build {
    name: &'static str,
    module: Module,
    _dir: tempfile::TempDir,
}

fn build(name: &'static str, tier: Tier, bounds: BoundsMode, spectre: bool) -> Build {
    build_from(name, MODULE, tier, bounds, spectre)
}

fn build_from(
    name: &'static str,
    wat: &str,
    tier: Tier,
    bounds: BoundsMode,
    spectre: bool,
) -> Build {
    let wasm = wat::parse_str(wat).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.so");
    let opts = CompileOptions {
        tier,
        bounds,
        spectre,
        ..Default::default()
    };
    awsm_compiler::compile_to_file(&wasm, &opts, &path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let module = Module::load(&path).unwrap_or_else(|e| panic!("{name} loads: {e}"));
    Build {
        name,
        module,
        _dir: dir,
    }
}

fn run(build: &Build, func: &str, args: &[Val]) -> Outcome {
    let store = Store::new(DEFAULT_MAX_STACK);
    let instance = Instance::new(&build.module, &store, &[], &InstanceConfig::default())
        .expect("instantiation succeeds");
    let memory = instance.memory().expect("the module has a memory");
    memory.write(0, &pattern()).unwrap();
    let result = instance.call(func, args).map_err(|e| e.to_string());
    let mut after = vec![0; PAGE as usize];
    memory.read(0, &mut after).unwrap();
    let exports_state = build
        .module
        .descriptor()
        .exports
        .iter()
        .any(|e| e.name == "state");
    let state = exports_state.then(|| instance.call("state", &[]).map_err(|e| e.to_string()));
    Outcome {
        result,
        memory: after,
        state,
    }
}

#[test]
fn versioned_loops_compute_what_the_fast_tier_computes() {
    let reference = build("fast tier", Tier::Fast, BoundsMode::Guard, true);
    let builds = [
        build("opt, guard", Tier::Opt, BoundsMode::Guard, true),
        build(
            "opt, guard, no Spectre guards",
            Tier::Opt,
            BoundsMode::Guard,
            false,
        ),
        build(
            "opt, software, no Spectre guards",
            Tier::Opt,
            BoundsMode::Software,
            false,
        ),
        build("opt, software", Tier::Opt, BoundsMode::Software, true),
    ];
    let mut traps = 0;
    for (func, args) in cases() {
        let want = run(&reference, func, &args);
        traps += usize::from(want.result.is_err());
        for b in &builds {
            let got = run(b, func, &args);
            assert_eq!(got.result, want.result, "{}: {func}{args:?}", b.name);
            assert_eq!(got.state, want.state, "{}: {func}{args:?}: state", b.name);
            let first = got
                .memory
                .iter()
                .zip(&want.memory)
                .position(|(a, b)| a != b);
            assert_eq!(first, None, "{}: {func}{args:?}: memory differs", b.name);
        }
    }
    // The inputs reach both ends: loops that finish and loops that trap.
    assert!((6..cases().len() - 6).contains(&traps), "{traps} traps");
}

/// A small deterministic generator (xorshift64*), so that a failure names
/// a seed that reproduces it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[(self.next() % from.len() as u64) as usize]
    }
}

/// An i32 address expression over the locals `$a`, `$b` and `$i`.
fn random_address(rng: &mut Rng) -> String {
    // `$a` and `$b` start anywhere, `$i` at 0: only `$i` is scaled.
    let term = |rng: &mut Rng| {
        let local = rng.pick(&["$a", "$b", "$i"]);
        match if local == "$i" { rng.next() % 3 } else { 0 } {
            0 => format!("(local.get {local})"),
            1 => format!(
                "(i32.shl (local.get {local}) (i32.const {}))",
                rng.pick(&[1, 2, 3])
            ),
            _ => format!(
                "(i32.mul (local.get {local}) (i32.const {}))",
                rng.pick(&[3, 5, 24])
            ),
        }
    };
    let mut e = term(rng);
    for _ in 0..rng.next() % 2 {
        let op = rng.pick(&["i32.add", "i32.sub"]);
        e = format!("({op} {e} {})", term(rng));
    }
    let constant = rng.pick(&[0, 0, 8, 8, -16, 1000, 0x10000, -0x10000]);
    format!("(i32.add {e} (i32.const {constant}))")
}

/// A function whose loop makes 1 to 4 accesses at random affine
/// addresses, its induction variables stepping by random amounts (down,
/// too, which is not versioned, and 0).
fn random_loop(rng: &mut Rng, index: usize) -> String {
    let mut body = String::new();
    for _ in 0..1 + rng.next() % 4 {
        let address = random_address(rng);
        let offset = rng.pick(&[0, 4, 1000]);
        if rng.next().is_multiple_of(2) {
            let (load, extend) = rng.pick(&[
                ("i64.load", ""),
                ("i32.load8_u", "i64.extend_i32_u"),
                ("i32.load16_s", "i64.extend_i32_s"),
            ]);
            let value = format!("({load} offset={offset} {address})");
            let value = if extend.is_empty() {
                value
            } else {
                format!("({extend} {value})")
            };
            let mixed = "(i64.mul (local.get $x) (i64.const 31))";
            body += &format!("(local.set $x (i64.add {mixed} {value}))\n");
        } else {
            let store = rng.pick(&["i64.store", "i64.store8", "i64.store32"]);
            body += &format!("({store} offset={offset} {address} (local.get $x))\n");
        }
    }
    for local in ["$a", "$b", "$i"] {
        let step = rng.pick(&[0, 1, 4, 8, 16, -4]);
        body += &format!("(local.set {local} (i32.add (local.get {local}) (i32.const {step})))\n");
    }
    format!(
        "(func (export \"f{index}\") (param $a i32) (param $b i32) (param $n i32) (result i64)
           (local $i i32) (local $x i64)
           (local.set $x (i64.const 7))
           (loop $l
             {body}
             (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
           (local.get $x))\n"
    )
}

/// Random loops of the versioned shape, on random starting points near
/// the ends of memory and of the 32-bit range, against the fast tier.
#[test]
fn random_affine_loops_agree_with_the_fast_tier() {
    const FUNCTIONS: usize = 40;
    let seed = 0x5eed_1009;
    let mut rng = Rng(seed);
    let functions: String = (0..FUNCTIONS).map(|i| random_loop(&mut rng, i)).collect();
    let module = format!("(module (memory (export \"memory\") 1) {functions})");
    let reference = build_from("fast tier", &module, Tier::Fast, BoundsMode::Guard, true);
    let builds = [
        build_from("opt, guard", &module, Tier::Opt, BoundsMode::Guard, true),
        build_from(
            "opt, software, no Spectre guards",
            &module,
            Tier::Opt,
            BoundsMode::Software,
            false,
        ),
    ];
    let starts = [
        0,
        8,
        100,
        1000,
        PAGE / 4,
        PAGE - 200,
        PAGE - 8,
        u32::MAX - 15,
        0u32.wrapping_sub(PAGE),
    ];
    let mut traps = 0;
    let mut calls = 0;
    for f in 0..FUNCTIONS {
        for _ in 0..6 {
            let a = rng.pick(&starts);
            let b = rng.pick(&starts);
            let n = rng.pick(&[1, 3, 50, 300]);
            let args = [Val::I32(a as i32), Val::I32(b as i32), Val::I32(n)];
            let name = format!("f{f}");
            let want = run(&reference, &name, &args);
            traps += usize::from(want.result.is_err());
            calls += 1;
            for b in &builds {
                let got = run(b, &name, &args);
                let what = format!("{} (seed {seed:#x}): {name}{args:?}", b.name);
                assert_eq!(got.result, want.result, "{what}");
                let first = got
                    .memory
                    .iter()
                    .zip(&want.memory)
                    .position(|(x, y)| x != y);
                assert_eq!(first, None, "{what}: memory differs");
            }
        }
    }
    assert!(
        traps > calls / 10 && traps < calls * 9 / 10,
        "{traps} traps in {calls} calls"
    );
}
