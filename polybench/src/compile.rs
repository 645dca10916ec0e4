//! Building a kernel: clang-16 natively and for wasm32-wasi, then every
//! runtime's ahead-of-time compilation up front, so that compile time never
//! lands in a measurement.

use crate::kernels::{include_dir, Dataset, Kernel};
use crate::runtimes::{Artifacts, Engine, Runtime, Tools, WasmBuild};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::{Command, Stdio};

const CLANG: &str = "clang-16";
/// Debian's wasi-libc sysroot.
const WASI_SYSROOT: &str = "/usr";
const INSTALL_HINT: &str = "run .ci/install-deps.sh to install the toolchain";

/// The C toolchain; having one means it was checked to be complete.
#[derive(Debug, Clone)]
pub struct Toolchain(());

impl Toolchain {
    /// Checks for everything a kernel build needs and names the Debian
    /// package of whatever is missing.
    pub fn detect() -> Result<Toolchain> {
        require_command(CLANG, "clang-16")?;
        // clang picks wasm-ld-16 itself for --target=wasm32-wasi.
        require_command("wasm-ld-16", "lld-16")?;
        let sysroot = Path::new(WASI_SYSROOT);
        require_file(&sysroot.join("include/wasm32-wasi/stdio.h"), "wasi-libc")?;
        require_file(&sysroot.join("lib/wasm32-wasi/libc.a"), "wasi-libc")?;
        let builtins = Command::new(CLANG)
            .args(["--target=wasm32-wasi", "-print-libgcc-file-name"])
            .output()
            .with_context(|| format!("running {CLANG}"))?;
        let builtins = String::from_utf8_lossy(&builtins.stdout);
        require_file(Path::new(builtins.trim()), "libclang-rt-16-dev-wasm32")?;
        Ok(Toolchain(()))
    }

    /// Builds `kernel` for `dataset` as a native executable at `out`.
    pub fn build_native(&self, kernel: &Kernel, dataset: Dataset, out: &Path) -> Result<()> {
        let mut clang = Command::new(CLANG);
        clang
            .args(c_flags(dataset))
            .arg("-o")
            .arg(out)
            .arg(&kernel.source)
            .arg("-lm");
        run_tool(clang, &format!("{CLANG} {}", kernel.source.display()))
    }

    /// Builds `kernel` for `dataset` as a wasm32-wasi module at `out`.
    pub fn build_wasm(
        &self,
        kernel: &Kernel,
        dataset: Dataset,
        build: WasmBuild,
        out: &Path,
    ) -> Result<()> {
        let mut clang = Command::new(CLANG);
        clang
            .arg("--target=wasm32-wasi")
            .arg(format!("--sysroot={WASI_SYSROOT}"))
            .args(c_flags(dataset));
        if build == WasmBuild::Simd {
            clang.arg("-msimd128");
        }
        clang
            .args(["-g0", "-Wl,--strip-debug", "-o"])
            .arg(out)
            .arg(&kernel.source);
        run_tool(
            clang,
            &format!("{CLANG} --target=wasm32-wasi {}", kernel.source.display()),
        )
    }
}

fn c_flags(dataset: Dataset) -> Vec<String> {
    vec![
        "-O2".into(),
        format!("-I{}", include_dir().display()),
        dataset.define(),
    ]
}

fn require_command(program: &str, package: &str) -> Result<()> {
    let runs = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !runs {
        bail!("`{program}` not found (Debian package {package}); {INSTALL_HINT}");
    }
    Ok(())
}

fn require_file(path: &Path, package: &str) -> Result<()> {
    if !path.is_file() {
        bail!(
            "missing {} (Debian package {package}); {INSTALL_HINT}",
            path.display()
        );
    }
    Ok(())
}

/// Runs a compiler; its diagnostics only matter when it fails.
fn run_tool(mut cmd: Command, what: &str) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    Ok(())
}

/// Builds `kernel` natively and to each wasm build the runtimes run, into
/// `dir`.
pub fn build(
    toolchain: &Toolchain,
    kernel: &Kernel,
    dataset: Dataset,
    runtimes: &[Runtime],
    dir: &Path,
) -> Result<Artifacts> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let artifacts = Artifacts::new(dir, &kernel.name);
    toolchain.build_native(kernel, dataset, &artifacts.native())?;
    let mut builds: Vec<WasmBuild> = runtimes.iter().filter_map(|r| r.wasm_build()).collect();
    builds.sort();
    builds.dedup();
    for build in builds {
        toolchain.build_wasm(kernel, dataset, build, &artifacts.wasm(build))?;
    }
    Ok(artifacts)
}

/// Compiles the wasm build ahead of time for `runtime`, if it does that:
/// a `.so` for Luge, a `.cwasm` for Wasmtime.
pub fn precompile(runtime: Runtime, tools: &Tools, artifacts: &Artifacts) -> Result<()> {
    let (output, build) = match (runtime.engine(), runtime.wasm_build()) {
        // Node.js compiles the module when it loads it, before the kernel's
        // clock starts.
        (Engine::Native | Engine::Node, _) | (_, None) => return Ok(()),
        (Engine::Wasmtime, Some(build)) => (artifacts.cwasm(runtime), build),
        (Engine::Luge, Some(build)) => (artifacts.luge_so(runtime), build),
    };
    let wasm = artifacts.wasm(build);
    let program = tools.program(runtime)?;
    let mut cmd = Command::new(program);
    cmd.arg("compile")
        .arg(&wasm)
        .arg("-o")
        .arg(&output)
        .args(runtime.luge_compile_args().unwrap_or_default());
    run_tool(
        cmd,
        &format!("{} compile {}", program.display(), wasm.display()),
    )
}
