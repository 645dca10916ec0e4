//! WASI conformance (issue 16): the programs under
//! `tests/wasi-conformance/` (C on wasi-libc in `c/`, std-only Rust in
//! `rust/`, built into the committed `wasm/` by
//! `scripts/build-wasi-conformance.sh`) check, call by call, what WASI
//! preview1 gives against the specification and Wasmtime. Each runs under
//! `luge run` in both bounds modes, in a fresh directory, and must report
//! every check held. Where Wasmtime's Python package is installed
//! (`LUGE_WASMTIME_PYTHON` names the interpreter, default `python3`), each
//! also runs under Wasmtime and must report the same.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The guest name of each run's directory, also the program's argument.
const GUEST_DIR: &str = "/sandbox";

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wasi-conformance")
}

fn program(name: &str) -> PathBuf {
    let wasm = suite_dir().join("wasm").join(format!("{name}.wasm"));
    assert!(
        wasm.exists(),
        "{} is missing: run scripts/build-wasi-conformance.sh",
        wasm.display()
    );
    wasm
}

/// The summary line a program ends with when every check held.
fn assert_passed(name: &str, out: &Output, context: &str) -> String {
    let stdout = stdout_text(out);
    let summary = stdout.lines().last().unwrap_or_default().to_string();
    let held = summary.starts_with(&format!("{name}: ")) && summary.ends_with(" checks, 0 failed");
    assert!(
        exit_code(out) == 0 && held,
        "{name} under {context}\n{}",
        describe(out)
    );
    summary
}

fn run_luge(name: &str, bounds: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    luge_run(program(name))
        .opts([
            "--bounds".to_string(),
            bounds.to_string(),
            "--dir".to_string(),
            format!("{}::{GUEST_DIR}", dir.path().display()),
        ])
        .args([GUEST_DIR])
        .output()
}

/// The Python interpreter with the `wasmtime` package, if there is one.
fn wasmtime_python() -> Option<&'static str> {
    static PYTHON: OnceLock<Option<String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let python = std::env::var("LUGE_WASMTIME_PYTHON").unwrap_or("python3".into());
            let runner = suite_dir().join("run-under-wasmtime.py");
            let found = Command::new(&python)
                .arg(runner)
                .arg("--check")
                .output()
                .is_ok_and(|out| out.status.success());
            if !found {
                eprintln!(
                    "note: Wasmtime's Python package is not installed for {python}; \
                     the conformance programs run under Luge only"
                );
            }
            found.then_some(python)
        })
        .as_deref()
}

fn run_wasmtime(python: &str, name: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(python);
    command
        .arg(suite_dir().join("run-under-wasmtime.py"))
        .arg(program(name))
        .arg(dir.path())
        .arg(GUEST_DIR);
    command.output().unwrap()
}

/// Runs program `name` under Luge in both bounds modes and, if it is
/// installed, under Wasmtime: every run passes every check.
fn conforms(name: &str) {
    let mut summaries = Vec::new();
    for bounds in BOUNDS_MODES {
        let out = run_luge(name, bounds);
        summaries.push(assert_passed(
            name,
            &out,
            &format!("luge run --bounds {bounds}"),
        ));
    }
    if let Some(python) = wasmtime_python() {
        let out = run_wasmtime(python, name);
        summaries.push(assert_passed(name, &out, "Wasmtime"));
    }
    // The same checks ran everywhere.
    assert!(summaries.windows(2).all(|w| w[0] == w[1]), "{summaries:?}");
}

macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                conforms(stringify!($name));
            }
        )*

        /// Every program in the suite has a test above.
        #[test]
        fn every_program_is_run() {
            let listed = [$(stringify!($name)),*];
            let mut sources = Vec::new();
            for entry in std::fs::read_dir(suite_dir().join("c")).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "c") {
                    sources.push(path.file_stem().unwrap().to_string_lossy().into_owned());
                }
            }
            for entry in std::fs::read_dir(suite_dir().join("rust/src/bin")).unwrap() {
                let path = entry.unwrap().path();
                sources.push(path.file_stem().unwrap().to_string_lossy().into_owned());
            }
            sources.sort();
            let mut listed: Vec<String> = listed.iter().map(|s| s.to_string()).collect();
            listed.sort();
            assert_eq!(sources, listed);
        }
    };
}

conformance_tests!(
    descriptors,
    io,
    links_times,
    oflags,
    paths,
    readdir,
    rights,
    std_files,
    std_paths,
    symlinks,
);

/// Following a name to set times does not open what it names: a FIFO the
/// host placed in the preopen (a guest cannot make one) would block that
/// open, and with it a worker, until some writer came.
#[test]
fn times_of_a_fifo_are_set_without_opening_it() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    make_fifo(&fifo);
    let module = wat_file(
        "set_fifo_times",
        r#"(module
          (import "wasi_snapshot_preview1" "path_filestat_set_times"
            (func $set_times (param i32 i32 i32 i32 i64 i64 i32) (result i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "fifo")
          ;; fd 3, following, "fifo", mtime 5 s (fstflags MTIM).
          (func (export "_start")
            (call $exit (call $set_times (i32.const 3) (i32.const 1) (i32.const 0) (i32.const 4)
              (i64.const 0) (i64.const 5000000000) (i32.const 4)))))"#,
    );
    let out = luge_run(&module)
        .opts([
            "--timeout".to_string(),
            "10000".to_string(),
            "--dir".to_string(),
            format!("{}::{GUEST_DIR}", dir.path().display()),
        ])
        .output();
    assert_eq!(exit_code(&out), 0, "{}", describe(&out));
    let modified = std::fs::symlink_metadata(&fifo)
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        modified,
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(5)
    );
}
