//! Every kernel, built at MINI, prints the same arrays under each of
//! Luge's code-generation modes as natively, from the plain wasm build and
//! from the `-msimd128` one. Luge runs in-process through
//! the runtime library (a test cannot build the `luge` binary of another
//! package); native runs and the comparison go through the runner's own
//! library. Nothing is skipped: a missing toolchain fails the test with
//! the package to install.

use awsm_compiler::{Arch, BoundsMode, CompileOptions};
use luge_polybench::bench::{self, Settings};
use luge_polybench::compile::Toolchain;
use luge_polybench::kernels::{self, Dataset, Kernel};
use luge_polybench::output::{parse_time, Dump};
use luge_polybench::runtimes::Artifacts;
use luge_polybench::runtimes::{Runtime, Tools, WasmBuild};
use luge_runtime::{CallError, Instance, InstanceConfig, Module};
use luge_wasi::{Output, WasiCtxBuilder};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

const SETTINGS: Settings = Settings {
    dataset: Dataset::Mini,
    reps: 1,
    check: true,
    timeout: Duration::from_secs(60),
};

/// The Luge configurations the runner measures, as compile options: what
/// `luge compile` builds with the runtime's arguments.
fn luge_modes() -> [(Runtime, CompileOptions); 5] {
    let with = |bounds, checks: Option<bool>| {
        let mut opts = luge_runtime::scheduled_compile_options(Arch::host());
        opts.bounds = bounds;
        if let Some(checks) = checks {
            opts.interrupt_checks = checks;
        }
        opts
    };
    [
        (Runtime::LugeGuard, with(BoundsMode::Guard, None)),
        (Runtime::LugeSoftware, with(BoundsMode::Software, None)),
        (Runtime::LugeChecks, with(BoundsMode::Guard, Some(true))),
        (Runtime::LugeGuardSimd, with(BoundsMode::Guard, None)),
        (Runtime::LugeSoftwareSimd, with(BoundsMode::Software, None)),
    ]
}

#[test]
fn the_modes_are_those_the_runner_compiles() {
    let default_checks = luge_runtime::scheduled_compile_options(Arch::host()).interrupt_checks;
    for (runtime, opts) in luge_modes() {
        let args = runtime.luge_compile_args().expect("a Luge runtime");
        let software = args.contains(&"software");
        assert_eq!(software, opts.bounds == BoundsMode::Software, "{runtime}");
        let checks = args.contains(&"--interrupt-checks") || default_checks;
        assert_eq!(checks, opts.interrupt_checks, "{runtime}");
    }
}

/// Runs the WASI program `module` with `--dump`; returns its stdout and
/// stderr.
fn run_luge(module: &Module, kernel: &str) -> Result<(Vec<u8>, String), String> {
    let (stdout, out) = Output::capture();
    let (stderr, err) = Output::capture();
    let store = WasiCtxBuilder::new()
        .args([kernel, "--dump"])
        .stdout(stdout)
        .stderr(stderr)
        .build()
        .store(luge_runtime::DEFAULT_MAX_STACK);
    let imports = luge_wasi::imports(module).map_err(|e| e.to_string())?;
    let instance = Instance::new(module, &store, &imports, &InstanceConfig::default())
        .map_err(|e| format!("instantiation: {e}"))?;
    let start = instance.get_func("_start").ok_or("no _start export")?;
    let outcome = start.call(&[]);
    let stderr = String::from_utf8_lossy(&err.borrow()).into_owned();
    match outcome {
        Ok(_) | Err(CallError::Exit(0)) => Ok((out.take(), stderr)),
        Err(e) => Err(format!("{e}; stderr: {stderr}")),
    }
}

/// Builds `kernel` and checks every Luge mode against native; returns the
/// problems found.
fn check_kernel(toolchain: &Toolchain, kernel: &Kernel, dir: &Path) -> Vec<String> {
    let artifacts = Artifacts::new(dir, &kernel.name);
    let built = toolchain
        .build_native(kernel, SETTINGS.dataset, &artifacts.native())
        .and_then(|()| {
            [WasmBuild::Scalar, WasmBuild::Simd]
                .into_iter()
                .try_for_each(|build| {
                    toolchain.build_wasm(kernel, SETTINGS.dataset, build, &artifacts.wasm(build))
                })
        });
    if let Err(e) = built {
        return vec![format!("{}: build: {e:#}", kernel.name)];
    }
    let mut native = Runtime::Native
        .command(&artifacts, &Tools::default(), true)
        .expect("native needs no tool");
    let reference = match bench::reference_run(&mut native, &kernel.name, &SETTINGS) {
        Ok(dump) => dump,
        Err(e) => return vec![format!("{}: native: {e}", kernel.name)],
    };
    if reference.arrays.is_empty() {
        return vec![format!("{}: native --dump printed no arrays", kernel.name)];
    }
    let read = |build| std::fs::read(artifacts.wasm(build)).expect("the wasm build exists");
    let (scalar, simd) = (read(WasmBuild::Scalar), read(WasmBuild::Simd));
    luge_modes()
        .into_iter()
        .filter_map(|(runtime, opts)| {
            let wasm = match runtime.wasm_build() {
                Some(WasmBuild::Simd) => &simd,
                _ => &scalar,
            };
            check_mode(wasm, &opts, &artifacts.luge_so(runtime), kernel, &reference)
                .err()
                .map(|e| format!("{} under {runtime}: {e}", kernel.name))
        })
        .collect()
}

fn check_mode(
    wasm: &[u8],
    opts: &CompileOptions,
    so: &Path,
    kernel: &Kernel,
    reference: &Dump,
) -> Result<(), String> {
    awsm_compiler::compile_to_file(wasm, opts, so).map_err(|e| format!("compile: {e}"))?;
    let module = Module::load(so).map_err(|e| format!("load: {e}"))?;
    let (stdout, stderr) = run_luge(&module, &kernel.name)?;
    parse_time(&stderr, &kernel.name, SETTINGS.dataset).map_err(|e| e.to_string())?;
    reference.check(&stdout[..]).map_err(|e| e.to_string())
}

#[test]
fn every_kernel_matches_native_under_every_luge_mode() {
    let toolchain = Toolchain::detect().unwrap_or_else(|e| panic!("{e:#}"));
    let kernels = kernels::discover(&kernels::kernels_dir()).expect("kernels directory");
    assert!(
        !kernels.is_empty(),
        "no kernels in {}",
        kernels::kernels_dir().display()
    );
    let dir = tempfile::tempdir().unwrap();
    let next = AtomicUsize::new(0);
    let problems = Mutex::new(Vec::new());
    // Kernels are independent: spread them over the cores. Each thread gets
    // a roomy stack, since guest code runs on it.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            std::thread::Builder::new()
                .stack_size(16 << 20)
                .spawn_scoped(scope, || {
                    while let Some(kernel) = kernels.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let found = check_kernel(&toolchain, kernel, dir.path());
                        problems.lock().unwrap().extend(found);
                    }
                })
                .unwrap();
        }
    });
    let problems = problems.into_inner().unwrap();
    assert!(
        problems.is_empty(),
        "{} problems over {} kernels x {} Luge modes:\n{}",
        problems.len(),
        kernels.len(),
        luge_modes().len(),
        problems.join("\n")
    );
}
