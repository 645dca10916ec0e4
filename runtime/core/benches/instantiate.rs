//! Instantiation + teardown of a small real-world module (the C hello-world
//! in `examples/hello`, built with wasi-libc), the per-request cost of a
//! serverless sandbox.
//!
//! Each iteration is a sandbox's whole lifecycle without running guest code:
//! `Store::new` + `Instance::new` (imports resolved, context filled, data and
//! element segments applied) + dropping both (memory slot zeroed and returned
//! to the pool). The module is compiled and loaded once, outside the timing.
//!
//! With `--features bench-wasmtime` the same module is also instantiated by
//! Wasmtime (pooling and on-demand allocators) as a peer reference.
//!
//! After the criterion groups, a latency-distribution pass times single
//! iterations (p50/p90/p99/p99.9/max); it prints to stdout. Set
//! `LUGE_BENCH_LATENCY_ITERS=0` to skip it. `LUGE_BENCH_LOOP=luge/guard:N`
//! only runs N iterations of one case, for profilers.
//!
//! Run: `cargo bench -p luge-runtime --bench instantiate`
//! (add `--features bench-wasmtime` for the peer).

use criterion::{criterion_group, Criterion};
use luge_abi::ImportKind;
use luge_runtime::{Extern, Func, FuncType, Instance, InstanceConfig, Module, Store, ValType};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const HELLO_WASM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/hello/hello.wasm"
);

type Ctx = *mut u8;

// No-op WASI stubs: instantiation only needs something of the right type.
extern "C" fn stub_i32(_: Ctx, _: i32) {}
extern "C" fn stub_i32_r(_: Ctx, _: i32) -> i32 {
    0
}
extern "C" fn stub_i32x2_r(_: Ctx, _: i32, _: i32) -> i32 {
    0
}
extern "C" fn stub_i32x3_r(_: Ctx, _: i32, _: i32, _: i32) -> i32 {
    0
}
extern "C" fn stub_i32x4_r(_: Ctx, _: i32, _: i32, _: i32, _: i32) -> i32 {
    0
}
extern "C" fn stub_i32_i64_i32_i32_r(_: Ctx, _: i32, _: i64, _: i32, _: i32) -> i32 {
    0
}

/// A no-op host function with type `ty`.
fn stub_for(name: &str, ty: &FuncType) -> Func {
    use ValType::*;
    let code = match (ty.params.as_slice(), ty.results.as_slice()) {
        ([I32], []) => stub_i32 as *const u8,
        ([I32], [I32]) => stub_i32_r as *const u8,
        ([I32, I32], [I32]) => stub_i32x2_r as *const u8,
        ([I32, I32, I32], [I32]) => stub_i32x3_r as *const u8,
        ([I32, I32, I32, I32], [I32]) => stub_i32x4_r as *const u8,
        ([I32, I64, I32, I32], [I32]) => stub_i32_i64_i32_i32_r as *const u8,
        _ => panic!("no stub for import `{name}` of type {ty}"),
    };
    // SAFETY: each stub takes the context pointer followed by exactly the
    // parameters of the signature it was picked for, and returns its result.
    unsafe { Func::host(code, ty.clone()) }
}

/// Imports for `module`, in import order: every one must be a function.
fn stub_imports(module: &Module) -> Vec<Extern> {
    let d = module.descriptor();
    d.imports
        .iter()
        .map(|import| match &import.kind {
            ImportKind::Func(t) => Extern::Func(stub_for(
                &format!("{}::{}", import.module, import.name),
                &d.types[*t as usize],
            )),
            other => panic!(
                "import {}::{} is a {other:?}, not a function",
                import.module, import.name
            ),
        })
        .collect()
}

fn compile(wasm: &[u8], bounds: awsm_compiler::BoundsMode, dir: &Path) -> PathBuf {
    let path = dir.join(format!("hello-{}.so", bounds.name()));
    let opts = awsm_compiler::CompileOptions {
        bounds,
        ..Default::default()
    };
    awsm_compiler::compile_to_file(wasm, &opts, &path).expect("compile hello.wasm");
    path
}

/// One sandbox lifecycle: the measured unit.
#[inline(never)]
fn lifecycle(module: &Module, imports: &[Extern], config: &InstanceConfig) {
    let store = Store::default();
    let instance = Instance::new(module, &store, imports, config).expect("instantiate");
    black_box(&instance);
    drop(instance);
    drop(store);
}

struct Case {
    name: String,
    run: Box<dyn FnMut()>,
}

fn luge_cases(dir: &Path) -> Vec<Case> {
    let wasm = std::fs::read(HELLO_WASM).expect("read examples/hello/hello.wasm");
    let mut cases = Vec::new();
    for bounds in [
        awsm_compiler::BoundsMode::Guard,
        awsm_compiler::BoundsMode::Software,
    ] {
        let module = Module::load(compile(&wasm, bounds, dir)).expect("load");
        let imports = stub_imports(&module);
        let config = InstanceConfig::default();
        // Warm the memory pool and check that instantiation works at all.
        lifecycle(&module, &imports, &config);
        cases.push(Case {
            name: format!("luge/{}", bounds.name()),
            run: Box::new(move || lifecycle(&module, &imports, &config)),
        });
    }
    cases
}

#[cfg(feature = "bench-wasmtime")]
mod peer {
    use super::{Case, HELLO_WASM};
    use std::hint::black_box;
    use wasmtime::{
        Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module,
        PoolingAllocationConfig, Store, ValType,
    };

    fn stub_linker(engine: &Engine, module: &Module) -> Linker<()> {
        let mut linker = Linker::new(engine);
        for import in module.imports() {
            let ty = import.ty();
            let f = ty.func().expect("hello.wasm imports only functions");
            let params: Vec<_> = f.params().map(|p| p.is_i64()).collect();
            let ret = f.results().len() == 1;
            assert!(f.params().all(|p| matches!(p, ValType::I32 | ValType::I64)));
            let (m, n) = (import.module(), import.name());
            match (params.as_slice(), ret) {
                ([false], false) => linker.func_wrap(m, n, |_: i32| {}),
                ([false], true) => linker.func_wrap(m, n, |_: i32| 0i32),
                ([false, false], true) => linker.func_wrap(m, n, |_: i32, _: i32| 0i32),
                ([false, false, false], true) => {
                    linker.func_wrap(m, n, |_: i32, _: i32, _: i32| 0i32)
                }
                ([false, false, false, false], true) => {
                    linker.func_wrap(m, n, |_: i32, _: i32, _: i32, _: i32| 0i32)
                }
                ([false, true, false, false], true) => {
                    linker.func_wrap(m, n, |_: i32, _: i64, _: i32, _: i32| 0i32)
                }
                _ => panic!("no stub for {m}::{n}"),
            }
            .expect("define stub");
        }
        linker
    }

    fn case(name: &str, config: Config, wasm: &[u8]) -> Case {
        let engine = Engine::new(&config).expect("wasmtime engine");
        let module = Module::new(&engine, wasm).expect("wasmtime compile");
        let pre: InstancePre<()> = stub_linker(&engine, &module)
            .instantiate_pre(&module)
            .expect("pre");
        let run = move || {
            let mut store = Store::new(&engine, ());
            let instance = pre.instantiate(&mut store).expect("wasmtime instantiate");
            black_box(&instance);
            drop(store);
        };
        Case {
            name: name.into(),
            run: Box::new(run),
        }
    }

    pub fn cases() -> Vec<Case> {
        let wasm = std::fs::read(HELLO_WASM).expect("read hello.wasm");
        let mut pooling = Config::new();
        pooling.allocation_strategy(InstanceAllocationStrategy::Pooling(
            PoolingAllocationConfig::default(),
        ));
        let on_demand = Config::new();
        vec![
            case("wasmtime/pooling", pooling, &wasm),
            case("wasmtime/on-demand", on_demand, &wasm),
        ]
    }
}

fn all_cases(dir: &Path) -> Vec<Case> {
    #[allow(unused_mut)]
    let mut cases = luge_cases(dir);
    #[cfg(feature = "bench-wasmtime")]
    cases.extend(peer::cases());
    cases
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut group = c.benchmark_group("instantiate/hello");
    for mut case in all_cases(dir.path()) {
        group.bench_function(&case.name, |b| b.iter(&mut case.run));
    }
    group.finish();
}

/// Times `iters` single lifecycles of each case and prints percentiles:
/// criterion reports averages over batches, which hide the tail.
fn latency_distribution(iters: usize) {
    if iters == 0 {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    println!("\nlatency distribution of single iterations ({iters} per case, Instant overhead included):");
    println!(
        "{:<24} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "case", "p50", "p90", "p99", "p99.9", "max", "mean"
    );
    for mut case in all_cases(dir.path()) {
        for _ in 0..iters / 10 {
            (case.run)();
        }
        let mut samples = Vec::with_capacity(iters);
        for _ in 0..iters {
            let t = Instant::now();
            (case.run)();
            samples.push(t.elapsed());
        }
        let mean = samples.iter().sum::<Duration>() / iters as u32;
        samples.sort_unstable();
        let q = |p: f64| samples[((iters as f64 * p) as usize).min(iters - 1)];
        let us = |d: Duration| format!("{:.2}µs", d.as_secs_f64() * 1e6);
        println!(
            "{:<24} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            case.name,
            us(q(0.50)),
            us(q(0.90)),
            us(q(0.99)),
            us(q(0.999)),
            us(samples[iters - 1]),
            us(mean)
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5));
    targets = bench
}

/// `LUGE_BENCH_LOOP=CASE:N` runs case `CASE` (e.g. `luge/guard`) `N` times
/// and nothing else: a driver for `perf`, `strace -c` and `callgrind`.
fn profile_loop(spec: &str) {
    let (name, n) = spec.rsplit_once(':').expect("LUGE_BENCH_LOOP=CASE:N");
    let n: u64 = n.parse().expect("LUGE_BENCH_LOOP count");
    let dir = tempfile::tempdir().expect("tempdir");
    // Only build what is asked for: Wasmtime's pool reserves terabytes of
    // address space, which tools such as valgrind refuse.
    let cases = if name.starts_with("luge/") {
        luge_cases(dir.path())
    } else {
        all_cases(dir.path())
    };
    let mut case = cases
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case `{name}`"));
    let t = Instant::now();
    for _ in 0..n {
        (case.run)();
    }
    let elapsed = t.elapsed();
    eprintln!(
        "{name}: {n} iterations, {:.3} µs each",
        elapsed.as_secs_f64() * 1e6 / n as f64
    );
}

fn main() {
    if let Ok(spec) = std::env::var("LUGE_BENCH_LOOP") {
        return profile_loop(&spec);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo bench` passes `--bench`; without it (`cargo test --benches`)
    // criterion runs each benchmark once as a test, and so do we: no extra pass.
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let test_mode = !bench_mode || std::env::args().any(|a| a == "--test" || a == "--list");
    let iters = std::env::var("LUGE_BENCH_LATENCY_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    if !test_mode {
        latency_distribution(iters);
    }
}
