//! The runtimes a kernel runs under, how each is found on this machine and
//! the command that runs a kernel under it.

use anyhow::{bail, Result};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Runtime {
    /// The kernel compiled natively: the reference for output and time.
    Native,
    /// Luge, bounds enforced by guard pages, as `luge compile` builds by
    /// default (on x86_64 without interruption checks: Luge interrupts
    /// guests with a signal there).
    LugeGuard,
    /// Luge, bounds checked in software.
    LugeSoftware,
    /// Luge with guard pages and an interruption check at every loop header
    /// and function entry: what the checks cost (the default on aarch64).
    LugeChecks,
    /// Luge's opt tier (LLVM through clang), guard pages.
    LugeOptGuard,
    /// Luge's opt tier, bounds checked in software.
    LugeOptSoftware,
    /// [`Runtime::LugeGuard`] without Spectre guards (`--spectre off`):
    /// what the guards on table accesses cost. Only when asked for.
    LugeGuardNoSpectre,
    /// [`Runtime::LugeSoftware`] without Spectre guards: what the guards on
    /// memory and table accesses cost. Only when asked for.
    LugeSoftwareNoSpectre,
    Wasmtime,
    Node,
    /// The `-msimd128` build (see [`WasmBuild::Simd`]) under Luge with
    /// guard pages.
    LugeGuardSimd,
    /// The `-msimd128` build under Luge with software bounds checks.
    LugeSoftwareSimd,
    /// The `-msimd128` build under Luge's opt tier, guard pages.
    LugeOptGuardSimd,
    /// The `-msimd128` build under Wasmtime.
    WasmtimeSimd,
    /// The `-msimd128` build under Node.js.
    NodeSimd,
}

/// Which wasm build of a kernel a runtime runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WasmBuild {
    /// `clang --target=wasm32-wasi -O2`: the build line of the comparison
    /// (no SIMD instructions).
    Scalar,
    /// The same plus `-msimd128`: clang may vectorize with wasm's 128-bit
    /// SIMD, as it vectorizes the native build with SSE2.
    Simd,
}

/// The program that runs a kernel, whatever the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Native,
    Luge,
    Wasmtime,
    Node,
}

impl Runtime {
    /// The runtimes run by default, in the order results are shown.
    pub const ALL: [Runtime; 13] = [
        Runtime::Native,
        Runtime::LugeGuard,
        Runtime::LugeSoftware,
        Runtime::LugeChecks,
        Runtime::LugeOptGuard,
        Runtime::LugeOptSoftware,
        Runtime::Wasmtime,
        Runtime::Node,
        Runtime::LugeGuardSimd,
        Runtime::LugeSoftwareSimd,
        Runtime::LugeOptGuardSimd,
        Runtime::WasmtimeSimd,
        Runtime::NodeSimd,
    ];

    /// The runtimes run only when named.
    pub const OPT_IN: [Runtime; 2] = [Runtime::LugeGuardNoSpectre, Runtime::LugeSoftwareNoSpectre];

    pub fn name(self) -> &'static str {
        match self {
            Runtime::Native => "native",
            Runtime::LugeGuard => "luge-guard",
            Runtime::LugeSoftware => "luge-software",
            Runtime::LugeChecks => "luge-checks",
            Runtime::LugeOptGuard => "luge-opt-guard",
            Runtime::LugeOptSoftware => "luge-opt-software",
            Runtime::LugeGuardNoSpectre => "luge-guard-nospectre",
            Runtime::LugeSoftwareNoSpectre => "luge-software-nospectre",
            Runtime::Wasmtime => "wasmtime",
            Runtime::Node => "node",
            Runtime::LugeGuardSimd => "luge-guard-simd",
            Runtime::LugeSoftwareSimd => "luge-software-simd",
            Runtime::LugeOptGuardSimd => "luge-opt-guard-simd",
            Runtime::WasmtimeSimd => "wasmtime-simd",
            Runtime::NodeSimd => "node-simd",
        }
    }

    pub fn engine(self) -> Engine {
        match self {
            Runtime::Native => Engine::Native,
            Runtime::LugeGuard
            | Runtime::LugeSoftware
            | Runtime::LugeChecks
            | Runtime::LugeOptGuard
            | Runtime::LugeOptSoftware
            | Runtime::LugeGuardNoSpectre
            | Runtime::LugeSoftwareNoSpectre
            | Runtime::LugeGuardSimd
            | Runtime::LugeSoftwareSimd
            | Runtime::LugeOptGuardSimd => Engine::Luge,
            Runtime::Wasmtime | Runtime::WasmtimeSimd => Engine::Wasmtime,
            Runtime::Node | Runtime::NodeSimd => Engine::Node,
        }
    }

    /// The wasm build this runtime runs (none for native).
    pub fn wasm_build(self) -> Option<WasmBuild> {
        match self {
            Runtime::Native => None,
            Runtime::LugeGuardSimd
            | Runtime::LugeSoftwareSimd
            | Runtime::LugeOptGuardSimd
            | Runtime::WasmtimeSimd
            | Runtime::NodeSimd => Some(WasmBuild::Simd),
            _ => Some(WasmBuild::Scalar),
        }
    }

    /// For a Luge runtime, the `luge compile` options that make its `.so`.
    pub fn luge_compile_args(self) -> Option<&'static [&'static str]> {
        match self {
            // The bounds mode is explicit: the default differs by
            // architecture.
            Runtime::LugeGuard | Runtime::LugeGuardSimd => Some(&["--bounds", "guard"]),
            Runtime::LugeSoftware | Runtime::LugeSoftwareSimd => Some(&["--bounds", "software"]),
            Runtime::LugeChecks => Some(&["--bounds", "guard", "--interrupt-checks"]),
            Runtime::LugeOptGuard | Runtime::LugeOptGuardSimd => {
                Some(&["--bounds", "guard", "--tier", "opt"])
            }
            Runtime::LugeOptSoftware => Some(&["--bounds", "software", "--tier", "opt"]),
            Runtime::LugeGuardNoSpectre => Some(&["--bounds", "guard", "--spectre", "off"]),
            Runtime::LugeSoftwareNoSpectre => Some(&["--bounds", "software", "--spectre", "off"]),
            _ => None,
        }
    }

    /// The command running the kernel built in `artifacts` under this
    /// runtime, printing its arrays if `dump`.
    pub fn command(self, artifacts: &Artifacts, tools: &Tools, dump: bool) -> Result<Command> {
        let wasm = || artifacts.wasm(self.wasm_build().unwrap_or(WasmBuild::Scalar));
        let mut cmd = match self.engine() {
            Engine::Native => Command::new(artifacts.native()),
            Engine::Luge => {
                let mut cmd = Command::new(tools.program(self)?);
                cmd.arg("run").arg(artifacts.luge_so(self)).arg("--");
                cmd
            }
            Engine::Wasmtime => {
                let mut cmd = Command::new(tools.program(self)?);
                cmd.args(["run", "--allow-precompiled"])
                    .arg(artifacts.cwasm(self));
                cmd
            }
            Engine::Node => {
                let mut cmd = Command::new(tools.program(self)?);
                cmd.args(NODE_FLAGS).arg(node_launcher()).arg(wasm());
                cmd
            }
        };
        if dump {
            cmd.arg("--dump");
        }
        Ok(cmd)
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Runtime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let every = || Runtime::ALL.into_iter().chain(Runtime::OPT_IN);
        every().find(|r| r.name() == s).ok_or_else(|| {
            let names: Vec<_> = every().map(|r| r.name()).collect();
            format!("unknown runtime `{s}` (expected {})", names.join(", "))
        })
    }
}

/// How Node.js runs the kernels.
const NODE_FLAGS: [&str; 3] = [
    // node:wasi prints an ExperimentalWarning otherwise.
    "--no-warnings",
    // Compile with the optimizing tier (TurboFan) up front, as the other
    // runtimes do. By default V8 starts in its baseline compiler and,
    // having no on-stack replacement for wasm, never leaves it in a
    // kernel that is one long call: a measurement of the baseline tier.
    "--no-liftoff",
    // Node.js 20's fast calls into its WASI functions crash some kernels
    // (2mm at LARGE, in a V8 builtin after the output; see
    // nodejs/node#53087).
    "--no-turbo-fast-api-calls",
];

/// The script that runs a WASI program under Node.js.
pub fn node_launcher() -> PathBuf {
    crate::workspace_root().join("scripts/polybench-node.mjs")
}

/// The programs the runtimes need, as found on this machine.
#[derive(Debug, Clone, Default)]
pub struct Tools {
    pub luge: Option<PathBuf>,
    pub wasmtime: Option<PathBuf>,
    pub node: Option<PathBuf>,
}

impl Tools {
    /// `luge` is `explicit_luge` or else the release build in the target
    /// directory; `wasmtime` and `node` are looked up on `PATH`, and without
    /// a `wasmtime` there, Wasmtime's Python embedding (PyPI `wasmtime`)
    /// stands in through `scripts/wasmtime-py`.
    pub fn detect(explicit_luge: Option<PathBuf>) -> Result<Tools> {
        let luge = match explicit_luge {
            Some(path) if path.is_file() => Some(path),
            Some(path) => bail!("--luge {}: no such file", path.display()),
            None => Some(default_luge()).filter(|p| p.is_file()),
        };
        Ok(Tools {
            luge,
            wasmtime: find_on_path("wasmtime").or_else(wasmtime_py),
            node: find_on_path("node"),
        })
    }

    /// The program that `runtime` runs kernels with (none for native), or
    /// why it is not available.
    pub fn program(&self, runtime: Runtime) -> Result<&Path> {
        let (found, missing) = match runtime.engine() {
            Engine::Native => bail!("native kernels run by themselves"),
            Engine::Luge => (
                &self.luge,
                format!(
                    "no luge binary at {}: run `cargo build --release --bin luge` or pass --luge PATH",
                    default_luge().display()
                ),
            ),
            Engine::Wasmtime => (
                &self.wasmtime,
                "`wasmtime` is not on PATH and Python cannot import `wasmtime`".to_string(),
            ),
            Engine::Node => (&self.node, "`node` is not on PATH".to_string()),
        };
        match found {
            Some(path) => Ok(path),
            None => bail!("{runtime} is not available: {missing}"),
        }
    }

    /// Whether `runtime` can run here.
    pub fn has(&self, runtime: Runtime) -> bool {
        runtime == Runtime::Native || self.program(runtime).is_ok()
    }
}

fn default_luge() -> PathBuf {
    crate::target_dir().join("release/luge")
}

/// `scripts/wasmtime-py`, when Python can import `wasmtime`.
fn wasmtime_py() -> Option<PathBuf> {
    let importable = std::process::Command::new("python3")
        .args(["-c", "import wasmtime"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    importable.then(|| crate::workspace_root().join("scripts/wasmtime-py"))
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The runtimes to measure: `wanted`, or by default every Luge one and
/// whichever of Wasmtime and Node.js are installed. Luge is what is
/// being measured, so it must be there either way. Native always runs
/// first, as the reference.
pub fn select(tools: &Tools, wanted: &[Runtime]) -> Result<Vec<Runtime>> {
    let optional = |r: &Runtime| matches!(r.engine(), Engine::Wasmtime | Engine::Node);
    let mut chosen: Vec<Runtime> = if wanted.is_empty() {
        Runtime::ALL
            .into_iter()
            .filter(|r| !optional(r) || tools.has(*r))
            .collect()
    } else {
        std::iter::once(Runtime::Native)
            .chain(wanted.iter().copied())
            .collect()
    };
    chosen.sort();
    chosen.dedup();
    for &runtime in &chosen {
        if runtime != Runtime::Native {
            tools.program(runtime)?;
        }
    }
    Ok(chosen)
}

/// Where the builds of one kernel live.
#[derive(Debug, Clone)]
pub struct Artifacts {
    dir: PathBuf,
    name: String,
}

impl Artifacts {
    pub fn new(dir: &Path, kernel: &str) -> Artifacts {
        Artifacts {
            dir: dir.to_path_buf(),
            name: kernel.to_string(),
        }
    }

    pub fn native(&self) -> PathBuf {
        self.dir.join(&self.name)
    }

    pub fn wasm(&self, build: WasmBuild) -> PathBuf {
        match build {
            WasmBuild::Scalar => self.dir.join(format!("{}.wasm", self.name)),
            WasmBuild::Simd => self.dir.join(format!("{}.simd.wasm", self.name)),
        }
    }

    /// The shared object a Luge runtime runs.
    pub fn luge_so(&self, runtime: Runtime) -> PathBuf {
        self.dir.join(format!("{}.{runtime}.so", self.name))
    }

    /// Wasmtime's precompiled module for `runtime`.
    pub fn cwasm(&self, runtime: Runtime) -> PathBuf {
        self.dir.join(format!("{}.{runtime}.cwasm", self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for runtime in Runtime::ALL.into_iter().chain(Runtime::OPT_IN) {
            assert_eq!(runtime.name().parse(), Ok(runtime));
        }
        assert!("v8".parse::<Runtime>().unwrap_err().contains("luge-checks"));
    }

    #[test]
    fn selection_puts_native_first_and_defaults_to_what_is_available() {
        let tools = Tools {
            luge: Some("/bin/luge".into()),
            wasmtime: None,
            node: Some("/bin/node".into()),
        };
        use Runtime::*;
        assert_eq!(
            select(&tools, &[]).unwrap(),
            [
                Native,
                LugeGuard,
                LugeSoftware,
                LugeChecks,
                LugeOptGuard,
                LugeOptSoftware,
                Node,
                LugeGuardSimd,
                LugeSoftwareSimd,
                LugeOptGuardSimd,
                NodeSimd
            ]
        );
        assert_eq!(
            select(&tools, &[Node, LugeGuard, Node]).unwrap(),
            [Native, LugeGuard, Node]
        );
        let err = select(&tools, &[Wasmtime]).unwrap_err().to_string();
        assert_eq!(err, "wasmtime is not available: `wasmtime` is not on PATH and Python cannot import `wasmtime`");
    }

    #[test]
    fn missing_luge_says_how_to_build_it() {
        let err = select(&Tools::default(), &[Runtime::LugeSoftware])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("luge-software is not available: no luge binary at"),
            "{err}"
        );
        assert!(err.contains("cargo build --release --bin luge"), "{err}");
        let err = select(&Tools::default(), &[]).unwrap_err().to_string();
        assert!(err.starts_with("luge-guard is not available"), "{err}");
        assert_eq!(
            select(&Tools::default(), &[Runtime::Native]).unwrap(),
            [Runtime::Native]
        );
    }

    #[test]
    fn commands_run_the_right_artifact() {
        let tools = Tools {
            luge: Some("/bin/luge".into()),
            wasmtime: Some("/bin/wasmtime".into()),
            node: Some("/bin/node".into()),
        };
        let artifacts = Artifacts::new(Path::new("/b"), "gemm");
        let line = |runtime: Runtime, dump| {
            let cmd = runtime.command(&artifacts, &tools, dump).unwrap();
            std::iter::once(cmd.get_program())
                .chain(cmd.get_args())
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(line(Runtime::Native, true), "/b/gemm --dump");
        assert_eq!(
            line(Runtime::LugeSoftware, false),
            "/bin/luge run /b/gemm.luge-software.so --"
        );
        assert_eq!(
            line(Runtime::Wasmtime, true),
            "/bin/wasmtime run --allow-precompiled /b/gemm.wasmtime.cwasm --dump"
        );
        assert_eq!(
            line(Runtime::LugeGuardSimd, false),
            "/bin/luge run /b/gemm.luge-guard-simd.so --"
        );
        assert!(line(Runtime::NodeSimd, false).ends_with("/b/gemm.simd.wasm"));
        let node = line(Runtime::Node, false);
        assert!(
            node.starts_with("/bin/node --no-warnings --no-liftoff"),
            "{node}"
        );
        assert!(
            node.ends_with("scripts/polybench-node.mjs /b/gemm.wasm"),
            "{node}"
        );
    }
}
