//! Helpers shared by the WASI tests: building the C programs under
//! `tests/wasi-programs/` natively and for wasm32-wasi (once per test
//! binary), and running them under `luge run`.

#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

pub mod serve;

#[path = "../../../core/tests/common/target.rs"]
mod target;
pub use target::target_command;

/// Whether `luge` runs under emulation (the aarch64 runner sets
/// `$LUGE_TEST_RUNNER` to qemu-user): timings there measure the emulator as
/// much as Luge.
pub fn emulated() -> bool {
    std::env::var_os("LUGE_TEST_RUNNER").is_some_and(|runner| !runner.is_empty())
}

/// The bounds-check modes `luge run` is exercised in.
pub const BOUNDS_MODES: [&str; 2] = ["guard", "software"];

/// Where the wasi-libc sysroot lives (Debian's `wasi-libc` package).
const WASI_SYSROOT: &str = "/usr";

pub fn programs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wasi-programs")
}

pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// A directory for this test process, removed when it exits: the compiled
/// programs and the module cache `luge run` uses.
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("luge-wasi-tests-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("create a scratch directory")
            .keep();
        extern "C" fn remove_scratch() {
            if let Some(dir) = DIR.get() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        // SAFETY: registers a plain function with no preconditions; it runs
        // when the process exits normally (the test harness always does),
        // by which time `DIR` holds the directory.
        unsafe { libc::atexit(remove_scratch) };
        dir
    })
}

/// The module cache shared by every `luge run` of this test process.
pub fn cache_dir() -> PathBuf {
    let dir = scratch_dir().join("cache");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A command that runs the `luge` binary built with these tests.
/// `luge`, with this test process's module cache (and so its digest key).
pub fn luge_command() -> Command {
    let mut command = target_command(env!("CARGO_BIN_EXE_luge"));
    command.env("LUGE_CACHE_DIR", cache_dir());
    command
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Panics (failing the test) unless `tool` runs: nothing is skipped when
/// the toolchain is missing.
fn require_tool(tool: &str, package: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`{tool}` is needed to build the WASI test programs (Debian package {package}); \
         run .ci/install-deps.sh to install the toolchain"
    );
}

fn require_toolchain() {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        require_tool("clang-16", "clang-16");
        require_tool("wasm-ld-16", "lld-16");
        require_tool("cc", "gcc");
        let libc = Path::new(WASI_SYSROOT).join("lib/wasm32-wasi/libc.a");
        assert!(
            libc.is_file(),
            "{} is missing (Debian package wasi-libc); run .ci/install-deps.sh",
            libc.display()
        );
    });
}

/// A C program built both ways.
#[derive(Debug, Clone)]
pub struct Program {
    pub native: PathBuf,
    pub wasm: PathBuf,
}

fn run_compiler(mut cmd: Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}",
        out.status,
        stderr_of(&out)
    );
}

fn source(name: &str) -> PathBuf {
    require_toolchain();
    let src = programs_dir().join(format!("{name}.c"));
    assert!(src.is_file(), "missing test program {}", src.display());
    src
}

fn output_dir() -> PathBuf {
    let out = scratch_dir().join("programs");
    std::fs::create_dir_all(&out).unwrap();
    out
}

fn build_native(name: &str) -> PathBuf {
    let native = output_dir().join(name);
    let mut cc = Command::new("cc");
    cc.args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&native)
        .arg(source(name))
        .arg("-lm");
    run_compiler(cc, &format!("cc {name}.c"));
    native
}

fn build_wasm(name: &str) -> PathBuf {
    let wasm = output_dir().join(format!("{name}.wasm"));
    let mut clang = Command::new("clang-16");
    clang
        .arg("--target=wasm32-wasi")
        .arg(format!("--sysroot={WASI_SYSROOT}"))
        .args([
            "-O2",
            "-g0",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-Wl,--strip-debug",
        ])
        .arg("-o")
        .arg(&wasm)
        .arg(source(name));
    run_compiler(clang, &format!("clang-16 --target=wasm32-wasi {name}.c"));
    wasm
}

/// The value `make` gives for `key`, made the first time it is asked for
/// in this process (concurrent askers wait for it).
fn once(key: String, make: impl FnOnce() -> PathBuf) -> PathBuf {
    type Slots = Vec<(String, Arc<OnceLock<PathBuf>>)>;
    static SLOTS: Mutex<Slots> = Mutex::new(Vec::new());
    let slot = {
        let mut slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
        match slots.iter().find(|(k, _)| *k == key) {
            Some((_, slot)) => slot.clone(),
            None => {
                let slot = Arc::new(OnceLock::new());
                slots.push((key, slot.clone()));
                slot
            }
        }
    };
    slot.get_or_init(make).clone()
}

/// `tests/wasi-programs/NAME.c` compiled to wasm32-wasi (once per process).
pub fn wasm_program(name: &str) -> PathBuf {
    once(format!("{name}.wasm"), || build_wasm(name))
}

/// `tests/wasi-programs/NAME.c` compiled natively and to wasm (once per
/// process).
pub fn program(name: &str) -> Program {
    Program {
        native: once(name.to_string(), || build_native(name)),
        wasm: wasm_program(name),
    }
}

/// Makes a FIFO at `path`: a file whose open waits in the kernel until a
/// writer comes, which no interruption of the guest reaches.
pub fn make_fifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates the node.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
}

/// Compiles the text-format module `wat` into a .wasm file of this process.
pub fn wat_file(name: &str, wat: &str) -> PathBuf {
    let bytes = wat::parse_str(wat).expect("test module parses");
    let dir = scratch_dir().join("wat");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.wasm"));
    // Written aside and renamed: tests running at once may write the same
    // module while another's `luge` reads it.
    let mut temp = tempfile::NamedTempFile::new_in(&dir).unwrap();
    temp.write_all(&bytes).unwrap();
    temp.persist(&path).unwrap();
    path
}

/// Runs `cmd`, feeding it `stdin`, and collects its output.
pub fn run_with_stdin(mut cmd: Command, stdin: &[u8]) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    // A separate thread, so a program that does not read all its input
    // (or writes a lot first) cannot deadlock the test.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().unwrap();
    out
}

/// A `luge run` invocation being put together.
pub struct LugeRun {
    module: PathBuf,
    options: Vec<OsString>,
    args: Vec<OsString>,
    stdin: Vec<u8>,
    cache: Option<PathBuf>,
}

pub fn luge_run(module: impl AsRef<Path>) -> LugeRun {
    LugeRun {
        module: module.as_ref().to_path_buf(),
        options: Vec::new(),
        args: Vec::new(),
        stdin: Vec::new(),
        cache: None,
    }
}

impl LugeRun {
    /// Adds options before the module path, e.g. `["--bounds", "guard"]`.
    pub fn opts<S: AsRef<OsStr>>(mut self, opts: impl IntoIterator<Item = S>) -> Self {
        self.options
            .extend(opts.into_iter().map(|o| o.as_ref().to_os_string()));
        self
    }

    /// Adds program arguments (after `--`).
    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    pub fn stdin(mut self, bytes: &[u8]) -> Self {
        self.stdin = bytes.to_vec();
        self
    }

    /// Uses `dir` as the module cache instead of the process-wide one.
    pub fn cache(mut self, dir: &Path) -> Self {
        self.cache = Some(dir.to_path_buf());
        self
    }

    pub fn command(&self) -> Command {
        let mut cmd = luge_command();
        cmd.env(
            "LUGE_CACHE_DIR",
            self.cache.clone().unwrap_or_else(cache_dir),
        )
        .arg("run")
        .args(&self.options)
        .arg(&self.module);
        if !self.args.is_empty() {
            cmd.arg("--").args(&self.args);
        }
        cmd
    }

    pub fn output(&self) -> Output {
        run_with_stdin(self.command(), &self.stdin)
    }
}

pub fn stdout_text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr_text(out: &Output) -> String {
    stderr_of(out)
}

/// Status, stdout and stderr of `out`, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        stdout_text(out),
        stderr_text(out)
    )
}

/// The exit code of `out`, which must not have died of a signal.
pub fn exit_code(out: &Output) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal\n{}", describe(out)))
}

/// Creates `files` (path → contents; a path ending in `/` is a directory)
/// under `root`.
pub fn populate(root: &Path, files: &[(&str, &[u8])]) {
    for (path, contents) in files {
        let path_buf = root.join(path);
        if path.ends_with('/') {
            std::fs::create_dir_all(&path_buf).unwrap();
        } else {
            if let Some(parent) = path_buf.parent() {
                std::fs::create_dir_all(parent).unwrap();
            }
            std::fs::write(&path_buf, contents).unwrap();
        }
    }
}

/// Every entry under `root`, sorted, with file contents and symlink
/// targets: a snapshot to compare trees by.
pub fn tree(root: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.push((rel, format!("symlink -> {}", target.display())));
            } else if meta.is_dir() {
                out.push((rel.clone() + "/", "directory".into()));
                walk(root, &path, out);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.push((rel, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

/// What the sentinel outside the escape sandbox holds.
pub const ESCAPE_SECRET: &str = "SECRET-SENTINEL contents: nothing in the sandbox may see this\n";
/// The guest name of the escape sandbox.
pub const ESCAPE_GUEST: &str = "/sandbox";

/// The host side of a run of tests/wasi-programs/escape.c: `root/` holds the sentinel and other
/// things outside, `root/sandbox/` is what the program gets.
pub struct EscapeSetup {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
}

impl EscapeSetup {
    pub fn new() -> EscapeSetup {
        let tmp = tempfile::tempdir().unwrap();
        // Canonical, so absolute symlinks are exactly the real paths.
        let root = tmp.path().canonicalize().unwrap();
        populate(
            &root,
            &[
                ("sentinel.txt", ESCAPE_SECRET.as_bytes()),
                ("outside_dir/victim.txt", b"outside victim\n"),
                ("empty_outside/", b""),
                ("sandbox/inside.txt", b"inside contents\n"),
                ("sandbox/victim.txt", b"victim\n"),
                ("sandbox/sub/deep.txt", b"deep\n"),
            ],
        );
        let sandbox = root.join("sandbox");
        let link = |target: &Path, name: &str| symlink(target, sandbox.join(name)).unwrap();
        let rel = |target: &str, name: &str| link(Path::new(target), name);
        symlink("/etc/hostname", root.join("outside_link")).unwrap();
        // Pointing out.
        link(&root.join("sentinel.txt"), "abs_file_link");
        rel("../sentinel.txt", "rel_file_link");
        link(&root, "abs_dir_link");
        rel("..", "rel_dir_link");
        rel("../outside_dir", "outside_dir_link");
        rel("chain2", "chain1");
        rel("chain3", "chain2");
        rel("../sentinel.txt", "chain3");
        rel("sub/up_link/..", "dir_chain");
        rel("../../sentinel.txt", "sub/deep_link");
        rel("../rel_file_link", "sub/inner_up");
        rel("../created_via_link.txt", "dangling_rel");
        link(&root.join("created_via_abs_link.txt"), "dangling_abs");
        rel("/etc", "etc_link");
        rel("/proc/self/root", "proc_root_link");
        rel("loop_b", "loop_a");
        rel("loop_a", "loop_b");
        // Staying inside.
        rel("inside.txt", "inside_link");
        rel("inside_link", "inside_chain");
        rel("..", "sub/up_link");
        rel("../inside.txt", "sub/parent_file_link");
        EscapeSetup { _tmp: tmp, root }
    }

    pub fn sandbox(&self) -> PathBuf {
        self.root.join("sandbox")
    }

    pub fn sentinel(&self) -> PathBuf {
        self.root.join("sentinel.txt")
    }

    /// Everything under the root except the sandbox itself.
    pub fn outside(&self) -> Vec<(String, String)> {
        tree(&self.root)
            .into_iter()
            .filter(|(path, _)| !path.starts_with("sandbox/"))
            .collect()
    }
}
