//! Ahead-of-time compile time of a ~1 MiB module with `--opt speed`.
//!
//! The module is generated deterministically (fixed seed) as WebAssembly
//! text and assembled with `wat`, then compiled:
//! - `compile_to_file`: the whole `luge compile` pipeline, including the
//!   system linker (`cc -shared`) writing the `.so`;
//! - `compile_object`: parsing, validation, Cranelift and object emission
//!   only, so the linker's share is the difference.
//!
//! The generated code resembles compiled C: a shadow stack pointer global
//! with prologue/epilogue, counted loops, integer and float arithmetic,
//! loads and stores at pointer + offset, direct and indirect calls, switch
//! statements (`br_table`), early exits, many locals, and functions whose
//! sizes follow a skewed distribution (many small, a few large).
//!
//! A second group compiles `examples/hello/hello.wasm` (real C code built
//! with wasi-libc, ~32 KiB) the same two ways, as a calibration point.
//!
//! Run: `cargo bench -p luge-runtime --bench compile`
//! Set `LUGE_BENCH_WAT=path` to also write the generated text there, and
//! `LUGE_BENCH_WASM=path` the binary (scripts/bench-compile-tiers.sh
//! compiles it with both tiers).

use criterion::{criterion_group, BenchmarkId, Criterion, SamplingMode};
use std::fmt::Write;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Smallest binary size the generated module reaches.
const TARGET_SIZE: usize = 1 << 20;
const SEED: u64 = 0x4c75_6765_2d62_656e;
/// Functions placed in the table, targets of `call_indirect`.
const TABLE_FUNCS: usize = 512;

/// splitmix64: small, deterministic, good enough to shape code.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Ty {
    I32,
    I64,
    F64,
}

/// Function signatures: (name, params, result), with C-like weights.
const SIGS: [(&str, &[Ty], Option<Ty>, u64); 5] = [
    ("$s0", &[Ty::I32, Ty::I32], Some(Ty::I32), 40),
    ("$s1", &[Ty::I32], Some(Ty::I32), 20),
    ("$s2", &[Ty::I32, Ty::I64], Some(Ty::I64), 15),
    ("$s3", &[Ty::I32, Ty::I32, Ty::I32], None, 15),
    ("$s4", &[Ty::F64, Ty::I32], Some(Ty::F64), 10),
];

fn pick_sig(rng: &mut Rng) -> usize {
    let total: u64 = SIGS.iter().map(|s| s.3).sum();
    let mut r = rng.below(total);
    for (i, s) in SIGS.iter().enumerate() {
        if r < s.3 {
            return i;
        }
        r -= s.3;
    }
    unreachable!()
}

const I32_LOCALS: [&str; 5] = ["$a", "$b", "$c", "$n", "$q"];
const I64_LOCALS: [&str; 2] = ["$x", "$y"];
const F64_LOCALS: [&str; 2] = ["$d", "$e"];

/// Writes one function body.
struct FuncGen<'a> {
    rng: Rng,
    out: String,
    /// Signature index of every earlier function (possible callees).
    earlier: &'a [usize],
    params: &'static [Ty],
    labels: u32,
    /// Enclosing block labels an early exit may target.
    exits: Vec<String>,
    loop_depth: u32,
}

impl FuncGen<'_> {
    fn label(&mut self, kind: &str) -> String {
        self.labels += 1;
        format!("${kind}{}", self.labels)
    }

    fn i32_var(&mut self) -> String {
        let params: Vec<String> = (0..self.params.len())
            .filter(|&i| self.params[i] == Ty::I32)
            .map(|i| format!("$p{i}"))
            .collect();
        if !params.is_empty() && self.rng.chance(35) {
            return self.rng.pick(&params).clone();
        }
        self.rng.pick(&I32_LOCALS).to_string()
    }

    fn i64_var(&mut self) -> String {
        if self.params.contains(&Ty::I64) && self.rng.chance(30) {
            return "$p1".into();
        }
        self.rng.pick(&I64_LOCALS).to_string()
    }

    fn f64_var(&mut self) -> String {
        if self.params.first() == Some(&Ty::F64) && self.rng.chance(30) {
            return "$p0".into();
        }
        self.rng.pick(&F64_LOCALS).to_string()
    }

    /// An address: frame or heap pointer plus a masked index.
    fn addr(&mut self, depth: u32) -> String {
        match self.rng.below(4) {
            0 => "(local.get $fp)".into(),
            1 => "(local.get $ptr)".into(),
            _ => {
                let scale = self.rng.pick(&[2, 3]);
                format!(
                    "(i32.add (local.get $ptr) (i32.shl (i32.and {} (i32.const 1023)) (i32.const {scale})))",
                    self.i32(depth + 1)
                )
            }
        }
    }

    fn offset(&mut self, align: u64) -> u64 {
        self.rng.below(32) * align
    }

    /// A callee of signature `sig` defined before this function, if any.
    fn callee(&mut self, sig: usize) -> Option<usize> {
        // C code mostly calls nearby helpers: look at the last 300 functions.
        let start = self.earlier.len().saturating_sub(300);
        for _ in 0..8 {
            if self.earlier.len() == start {
                return None;
            }
            let j = start + self.rng.below((self.earlier.len() - start) as u64) as usize;
            if self.earlier[j] == sig {
                return Some(j);
            }
        }
        None
    }

    fn args(&mut self, sig: usize, depth: u32) -> String {
        let mut s = String::new();
        for &t in SIGS[sig].1 {
            s.push(' ');
            s.push_str(&self.expr(t, depth + 1));
        }
        s
    }

    fn call(&mut self, sig: usize, depth: u32) -> Option<String> {
        let f = self.callee(sig)?;
        Some(format!("(call $f{f}{})", self.args(sig, depth)))
    }

    fn expr(&mut self, ty: Ty, depth: u32) -> String {
        match ty {
            Ty::I32 => self.i32(depth),
            Ty::I64 => self.i64(depth),
            Ty::F64 => self.f64(depth),
        }
    }

    fn i32(&mut self, depth: u32) -> String {
        let leaf = depth >= 3 || self.rng.chance(35 + 10 * depth as u64);
        if leaf {
            return match self.rng.below(10) {
                0..=2 => format!("(i32.const {})", self.rng.below(200) as i64 - 20),
                _ => format!("(local.get {})", self.i32_var()),
            };
        }
        match self.rng.below(22) {
            0..=6 => {
                let op = self.rng.pick(&[
                    "add", "add", "add", "sub", "mul", "and", "or", "xor", "shl", "shr_u", "shr_s",
                ]);
                format!("(i32.{op} {} {})", self.i32(depth + 1), self.i32(depth + 1))
            }
            7..=9 => {
                let op = self
                    .rng
                    .pick(&["load", "load", "load8_u", "load8_s", "load16_u"]);
                let align = match *op {
                    "load" => 4,
                    "load16_u" => 2,
                    _ => 1,
                };
                let off = self.offset(align);
                format!("(i32.{op} offset={off} {})", self.addr(depth))
            }
            10..=12 => {
                let op = self
                    .rng
                    .pick(&["eq", "ne", "lt_s", "lt_u", "gt_s", "le_s", "ge_u"]);
                format!("(i32.{op} {} {})", self.i32(depth + 1), self.i32(depth + 1))
            }
            13 => format!("(i32.eqz {})", self.i32(depth + 1)),
            14 => format!("(i32.wrap_i64 {})", self.i64(depth + 1)),
            15 => format!(
                "(select {} {} {})",
                self.i32(depth + 1),
                self.i32(depth + 1),
                self.i32(depth + 1)
            ),
            16..=17 => {
                let sig = *self.rng.pick(&[0, 0, 1]);
                self.call(sig, depth)
                    .unwrap_or_else(|| "(global.get $sp)".into())
            }
            18 => format!("(i32.trunc_sat_f64_s {})", self.f64(depth + 1)),
            19 => {
                let op = self.rng.pick(&["div_s", "rem_u", "div_u"]);
                format!(
                    "(i32.{op} {} (i32.or {} (i32.const 1)))",
                    self.i32(depth + 1),
                    self.i32(depth + 1)
                )
            }
            20 => format!("(i32.extend8_s {})", self.i32(depth + 1)),
            _ => format!(
                "(i32.rotl {} (i32.const {}))",
                self.i32(depth + 1),
                self.rng.below(31) + 1
            ),
        }
    }

    fn i64(&mut self, depth: u32) -> String {
        let leaf = depth >= 3 || self.rng.chance(40 + 10 * depth as u64);
        if leaf {
            return match self.rng.below(4) {
                0 => format!("(i64.const {})", self.rng.next() as i64 >> 40),
                _ => format!("(local.get {})", self.i64_var()),
            };
        }
        match self.rng.below(12) {
            0..=3 => {
                let op = self
                    .rng
                    .pick(&["add", "sub", "mul", "xor", "and", "shr_u", "or"]);
                format!("(i64.{op} {} {})", self.i64(depth + 1), self.i64(depth + 1))
            }
            4..=5 => format!("(i64.load offset={} {})", self.offset(8), self.addr(depth)),
            6..=7 => {
                let op = self.rng.pick(&["extend_i32_u", "extend_i32_s"]);
                format!("(i64.{op} {})", self.i32(depth + 1))
            }
            8 => self
                .call(2, depth)
                .unwrap_or_else(|| "(global.get $g64)".into()),
            9 => "(global.get $g64)".into(),
            10 => format!(
                "(i64.rotr {} (i64.const {}))",
                self.i64(depth + 1),
                self.rng.below(63) + 1
            ),
            _ => format!(
                "(i64.mul (i64.const 0x5851f42d4c957f2d) {})",
                self.i64(depth + 1)
            ),
        }
    }

    fn f64(&mut self, depth: u32) -> String {
        let leaf = depth >= 3 || self.rng.chance(40 + 10 * depth as u64);
        if leaf {
            return match self.rng.below(4) {
                0 => format!(
                    "(f64.const {}.{})",
                    self.rng.below(1000),
                    self.rng.below(100)
                ),
                _ => format!("(local.get {})", self.f64_var()),
            };
        }
        match self.rng.below(10) {
            0..=3 => {
                let op = self.rng.pick(&["add", "sub", "mul", "mul", "div", "min"]);
                format!("(f64.{op} {} {})", self.f64(depth + 1), self.f64(depth + 1))
            }
            4..=5 => format!("(f64.load offset={} {})", self.offset(8), self.addr(depth)),
            6 => format!("(f64.convert_i32_s {})", self.i32(depth + 1)),
            7 => format!("(f64.sqrt {})", self.f64(depth + 1)),
            8 => self
                .call(4, depth)
                .unwrap_or_else(|| "(f64.const 0.5)".into()),
            _ => format!("(f64.abs {})", self.f64(depth + 1)),
        }
    }

    /// `count` statements.
    fn block(&mut self, count: u64, depth: u32) {
        for _ in 0..count {
            self.stmt(depth);
        }
    }

    fn stmt(&mut self, depth: u32) {
        let structured = depth < 2;
        let choice = self.rng.below(if structured { 30 } else { 20 });
        match choice {
            0..=5 => {
                let v = self.i32_var();
                let e = self.i32(0);
                writeln!(self.out, "(local.set {v} {e})").unwrap();
            }
            6 => {
                let v = self.i64_var();
                let e = self.i64(0);
                writeln!(self.out, "(local.set {v} {e})").unwrap();
            }
            7 => {
                let v = self.f64_var();
                let e = self.f64(0);
                writeln!(self.out, "(local.set {v} {e})").unwrap();
            }
            8..=10 => {
                let (op, ty, align) = *self.rng.pick(&[
                    ("i32.store", Ty::I32, 4),
                    ("i32.store", Ty::I32, 4),
                    ("i32.store8", Ty::I32, 1),
                    ("i32.store16", Ty::I32, 2),
                    ("i64.store", Ty::I64, 8),
                    ("f64.store", Ty::F64, 8),
                ]);
                let off = self.offset(align);
                let a = self.addr(0);
                let v = self.expr(ty, 1);
                writeln!(self.out, "({op} offset={off} {a} {v})").unwrap();
            }
            11..=12 => {
                // A call for its effect: void helper, or a result stored.
                if self.rng.chance(50) {
                    if let Some(c) = self.call(3, 0) {
                        writeln!(self.out, "{c}").unwrap();
                        return;
                    }
                }
                let sig = *self.rng.pick(&[0, 1, 2]);
                if let Some(c) = self.call(sig, 0) {
                    let v = if sig == 2 {
                        self.i64_var()
                    } else {
                        self.i32_var()
                    };
                    writeln!(self.out, "(local.set {v} {c})").unwrap();
                }
            }
            13 => {
                let args = self.args(0, 0);
                let index = self.i32(1);
                let v = self.i32_var();
                writeln!(
                    self.out,
                    "(local.set {v} (call_indirect (type $s0){args} (i32.and {index} (i32.const {}))))",
                    TABLE_FUNCS - 1
                )
                .unwrap();
            }
            14 => {
                let e = self.i64(1);
                writeln!(
                    self.out,
                    "(global.set $g64 (i64.add (global.get $g64) {e}))"
                )
                .unwrap();
            }
            15..=16 if !self.exits.is_empty() => {
                let target = self.rng.pick(&self.exits).clone();
                let c = self.i32(1);
                writeln!(self.out, "(br_if {target} {c})").unwrap();
            }
            15..=19 => {
                let v = self.i32_var();
                let e = self.i32(1);
                let op = self.rng.pick(&["add", "sub", "xor"]);
                writeln!(self.out, "(local.set {v} (i32.{op} (local.get {v}) {e}))").unwrap();
            }
            20..=23 => self.if_else(depth),
            24..=27 => self.counted_loop(depth),
            _ => self.switch(depth),
        }
    }

    fn body_len(&mut self) -> u64 {
        1 + self.rng.below(3)
    }

    fn if_else(&mut self, depth: u32) {
        let c = self.i32(1);
        writeln!(self.out, "(if {c} (then").unwrap();
        let n = self.body_len();
        self.block(n, depth + 1);
        if self.rng.chance(45) {
            writeln!(self.out, ") (else").unwrap();
            let n = self.body_len();
            self.block(n, depth + 1);
        }
        writeln!(self.out, "))").unwrap();
    }

    fn counted_loop(&mut self, depth: u32) {
        let counter = if self.loop_depth == 0 { "$i" } else { "$j" };
        if self.loop_depth >= 2 {
            return self.if_else(depth);
        }
        let (exit, top) = (self.label("brk"), self.label("loop"));
        let bound = match self.rng.below(3) {
            0 => "(local.get $n)".to_string(),
            1 => format!("(i32.const {})", 4 + self.rng.below(60)),
            _ => "(local.get $p0)".to_string(),
        };
        let bound = if self.params.first() == Some(&Ty::F64) && bound.contains("$p0") {
            "(local.get $n)".to_string()
        } else {
            bound
        };
        writeln!(self.out, "(local.set {counter} (i32.const 0))").unwrap();
        writeln!(self.out, "(block {exit} (loop {top}").unwrap();
        writeln!(
            self.out,
            "(br_if {exit} (i32.ge_s (local.get {counter}) {bound}))"
        )
        .unwrap();
        self.exits.push(exit.clone());
        self.loop_depth += 1;
        let n = 1 + self.rng.below(4);
        self.block(n, depth + 1);
        self.loop_depth -= 1;
        self.exits.pop();
        writeln!(
            self.out,
            "(local.set {counter} (i32.add (local.get {counter}) (i32.const 1)))\n(br {top})))"
        )
        .unwrap();
    }

    fn switch(&mut self, depth: u32) {
        let cases = 3 + self.rng.below(6) as usize;
        let end = self.label("sw");
        let labels: Vec<String> = (0..cases).map(|_| self.label("case")).collect();
        writeln!(self.out, "(block {end}").unwrap();
        for l in labels.iter().rev() {
            writeln!(self.out, "(block {l}").unwrap();
        }
        let scrutinee = self.i32(1);
        // Most cases have their own code, a few share the default.
        let mut targets = String::new();
        for l in &labels {
            targets.push_str(l);
            targets.push(' ');
        }
        writeln!(
            self.out,
            "(br_table {targets}{end} (i32.and {scrutinee} (i32.const 15))))"
        )
        .unwrap();
        self.exits.push(end.clone());
        for k in 0..cases {
            let n = 1 + self.rng.below(2);
            self.block(n, depth + 1);
            if k + 1 < cases {
                // Leave the switch, and close the block of case `k + 1`.
                writeln!(self.out, "(br {end}))").unwrap();
            }
        }
        self.exits.pop();
        // The last case falls through to the end of the switch.
        writeln!(self.out, ")").unwrap();
    }
}

/// Function `index`'s text. Depends only on `index` and the signatures of
/// earlier functions, so a longer module extends a shorter one.
fn function(index: usize, sig: usize, earlier: &[usize]) -> String {
    let mut g = FuncGen {
        rng: Rng(SEED ^ (index as u64).wrapping_mul(0x2545_f491_4f6c_dd1d)),
        out: String::new(),
        earlier,
        params: SIGS[sig].1,
        labels: 0,
        exits: Vec::new(),
        loop_depth: 0,
    };
    let (sig_name, params, result, _) = SIGS[sig];
    // Statement count: skewed like real C code, most functions are small.
    let statements = match g.rng.below(100) {
        0..=44 => 1 + g.rng.below(4),
        45..=79 => 4 + g.rng.below(8),
        80..=94 => 12 + g.rng.below(20),
        _ => 32 + g.rng.below(64),
    };
    let mut head = format!("(func $f{index} (type {sig_name})");
    for (i, t) in params.iter().enumerate() {
        let t = match t {
            Ty::I32 => "i32",
            Ty::I64 => "i64",
            Ty::F64 => "f64",
        };
        write!(head, " (param $p{i} {t})").unwrap();
    }
    if let Some(r) = result {
        head.push_str(match r {
            Ty::I32 => " (result i32)",
            Ty::I64 => " (result i64)",
            Ty::F64 => " (result f64)",
        });
    }
    head.push_str(
        "\n(local $fp i32) (local $ptr i32) (local $i i32) (local $j i32) (local $a i32) (local $b i32) \
         (local $c i32) (local $n i32) (local $q i32) (local $x i64) (local $y i64) (local $d f64) (local $e f64)\n",
    );
    // Prologue: shadow stack frame, and locals derived from the arguments.
    let frame = 16 * (1 + g.rng.below(16));
    writeln!(
        g.out,
        "(local.set $fp (i32.sub (global.get $sp) (i32.const {frame})))\n(global.set $sp (local.get $fp))"
    )
    .unwrap();
    let first_i32 = params.iter().position(|&t| t == Ty::I32).unwrap_or(0);
    writeln!(
        g.out,
        "(local.set $ptr (i32.and (local.get $p{first_i32}) (i32.const 0xfff0)))\n(local.set $n (i32.and (local.get $p{first_i32}) (i32.const 255)))"
    )
    .unwrap();
    g.block(statements, 0);
    // Epilogue.
    writeln!(
        g.out,
        "(global.set $sp (i32.add (local.get $fp) (i32.const {frame})))"
    )
    .unwrap();
    if let Some(r) = result {
        let e = g.expr(r, 1);
        writeln!(g.out, "{e}").unwrap();
    }
    format!("{head}{})\n", g.out)
}

/// The module with `count` functions, as text.
fn module_text(count: usize) -> String {
    let mut text = String::from("(module\n");
    for (name, params, result, _) in SIGS {
        let params: Vec<&str> = params
            .iter()
            .map(|t| match t {
                Ty::I32 => "i32",
                Ty::I64 => "i64",
                Ty::F64 => "f64",
            })
            .collect();
        let result = match result {
            Some(Ty::I32) => " (result i32)",
            Some(Ty::I64) => " (result i64)",
            Some(Ty::F64) => " (result f64)",
            None => "",
        };
        writeln!(
            text,
            "(type {name} (func (param {}){result}))",
            params.join(" ")
        )
        .unwrap();
    }
    text.push_str("(memory (export \"memory\") 32 256)\n");
    text.push_str(
        "(global $sp (mut i32) (i32.const 1048576))\n(global $g64 (mut i64) (i64.const 0))\n",
    );
    let mut sigs = Vec::with_capacity(count);
    let mut funcs = String::new();
    for i in 0..count {
        let sig = pick_sig(&mut Rng(SEED.wrapping_add(i as u64)));
        funcs.push_str(&function(i, sig, &sigs));
        sigs.push(sig);
    }
    text.push_str(&funcs);
    // Function pointer table, as `-Wl,--export-table`-less C code has.
    writeln!(text, "(table {TABLE_FUNCS} funcref)").unwrap();
    text.push_str("(elem (i32.const 0) func");
    for i in 0..TABLE_FUNCS.min(count) {
        write!(text, " $f{i}").unwrap();
    }
    text.push_str(")\n");
    // Read-only data: strings and constant tables.
    let mut rng = Rng(SEED);
    for seg in 0..8 {
        write!(text, "(data (i32.const {}) \"", 1024 + seg * 2048).unwrap();
        for _ in 0..1024 {
            write!(text, "\\{:02x}", rng.below(256)).unwrap();
        }
        text.push_str("\")\n");
    }
    for i in (0..count).step_by(97) {
        writeln!(text, "(export \"f{i}\" (func $f{i}))").unwrap();
    }
    text.push_str(")\n");
    text
}

/// A module of at least `TARGET_SIZE` bytes, and its function count.
fn generate() -> (Vec<u8>, usize) {
    let mut count = 200;
    loop {
        let text = module_text(count);
        let wasm = wat::parse_str(&text).expect("generated text assembles");
        if wasm.len() >= TARGET_SIZE {
            if let Ok(path) = std::env::var("LUGE_BENCH_WAT") {
                std::fs::write(path, &text).expect("write LUGE_BENCH_WAT");
            }
            if let Ok(path) = std::env::var("LUGE_BENCH_WASM") {
                std::fs::write(path, &wasm).expect("write LUGE_BENCH_WASM");
            }
            return (wasm, count);
        }
        // Grow in proportion, with a little slack; deterministic either way.
        count = (count as f64 * TARGET_SIZE as f64 / wasm.len() as f64 * 1.01) as usize + 1;
    }
}

fn bench(c: &mut Criterion) {
    let t = Instant::now();
    let (wasm, count) = generate();
    println!(
        "generated module: {} bytes ({:.2} MiB), {count} functions, in {:.2?}",
        wasm.len(),
        wasm.len() as f64 / (1 << 20) as f64,
        t.elapsed()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = awsm_compiler::CompileOptions {
        opt: awsm_compiler::OptLevel::Speed,
        ..Default::default()
    };
    // One untimed compile: fails fast on a generator bug, and reports size.
    let objects = awsm_compiler::compile_objects(&wasm, &opts).expect("compile generated module");
    let so = dir.path().join("generated.so");
    awsm_compiler::compile_to_file(&wasm, &opts, &so).expect("compile and link generated module");
    println!(
        "object: {} bytes, shared object: {} bytes, bounds mode {}",
        objects.iter().map(Vec::len).sum::<usize>(),
        std::fs::metadata(&so).map(|m| m.len()).unwrap_or(0),
        opts.bounds.name()
    );

    let mut group = c.benchmark_group("compile/1MiB-speed");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(15));
    group.bench_function(BenchmarkId::from_parameter("compile_to_file"), |b| {
        b.iter(|| awsm_compiler::compile_to_file(black_box(&wasm), &opts, &so).unwrap())
    });
    group.bench_function(BenchmarkId::from_parameter("compile_object"), |b| {
        b.iter(|| awsm_compiler::compile_objects(black_box(&wasm), &opts).unwrap())
    });
    group.finish();

    // Calibration on real code: the C hello-world (wasi-libc), ~32 KiB.
    let hello = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/hello/hello.wasm"
    ))
    .expect("read examples/hello/hello.wasm");
    let mut group = c.benchmark_group("compile/hello-32KiB-speed");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    group.bench_function(BenchmarkId::from_parameter("compile_to_file"), |b| {
        b.iter(|| awsm_compiler::compile_to_file(black_box(&hello), &opts, &so).unwrap())
    });
    group.bench_function(BenchmarkId::from_parameter("compile_object"), |b| {
        b.iter(|| awsm_compiler::compile_objects(black_box(&hello), &opts).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
