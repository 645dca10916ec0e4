//! WASI parity: C programs exercising libc (formatting, sorting, the
//! allocator, strings, files and directories, clocks, arguments,
//! environment and stdin) print exactly the same bytes and exit with the
//! same status under `luge run`, in both bounds modes, as when compiled
//! natively.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

/// The guest name of the directory handed to programs that use files.
const GUEST_DIR: &str = "/data";
/// Stands for the directory in a case's arguments.
const DIR_ARG: &str = "{dir}";

/// One comparison: a program, its inputs, and the status it must exit with.
struct Case<'a> {
    program: &'a str,
    args: &'a [&'a str],
    env: &'a [(&'a str, &'a str)],
    stdin: &'a [u8],
    /// Initial contents of the program's directory (path → contents; a
    /// path ending in `/` is a directory). `None`: no directory.
    files: Option<&'a [(&'a str, &'a [u8])]>,
    status: i32,
}

impl<'a> Case<'a> {
    fn new(program: &'a str) -> Self {
        Case {
            program,
            args: &[],
            env: &[],
            stdin: b"",
            files: None,
            status: 0,
        }
    }

    fn args_for(&self, dir: &str) -> Vec<String> {
        self.args.iter().map(|a| a.replace(DIR_ARG, dir)).collect()
    }

    fn fresh_dir(&self) -> Option<tempfile::TempDir> {
        self.files.map(|files| {
            let dir = tempfile::tempdir().unwrap();
            populate(dir.path(), files);
            dir
        })
    }

    fn run_native(&self, native: &Path, dir: Option<&Path>) -> Output {
        let mut cmd = Command::new(native);
        let dir = dir.map_or(String::new(), |d| d.display().to_string());
        cmd.args(self.args_for(&dir))
            .env_clear()
            .envs(self.env.iter().copied());
        run_with_stdin(cmd, self.stdin)
    }

    fn run_wasm(&self, wasm: &Path, bounds: &str, dir: Option<&Path>) -> Output {
        let mut run = luge_run(wasm)
            .opts(["--bounds", bounds])
            .args(self.args_for(GUEST_DIR))
            .stdin(self.stdin);
        for (key, value) in self.env {
            run = run.opts(["--env".to_string(), format!("{key}={value}")]);
        }
        if let Some(dir) = dir {
            run = run.opts([
                "--dir".to_string(),
                format!("{}::{GUEST_DIR}", dir.display()),
            ]);
        }
        run.output()
    }

    /// Runs the program natively once and under `luge run` in each bounds
    /// mode, each run in a fresh copy of its directory, and compares.
    fn check(&self) {
        let program = program(self.program);
        let native_dir = self.fresh_dir();
        let native = self.run_native(&program.native, native_dir.as_ref().map(|d| d.path()));
        assert_eq!(
            exit_code(&native),
            self.status,
            "the native run of {} did not exit as expected\n{}",
            self.program,
            describe(&native)
        );
        assert!(
            !native.stdout.is_empty(),
            "the native run printed nothing\n{}",
            describe(&native)
        );
        assert!(native.stderr.is_empty(), "{}", describe(&native));
        let native_tree = native_dir.as_ref().map(|d| tree(d.path()));
        for bounds in BOUNDS_MODES {
            let wasm_dir = self.fresh_dir();
            let wasm = self.run_wasm(&program.wasm, bounds, wasm_dir.as_ref().map(|d| d.path()));
            let context = format!("{} under `luge run --bounds {bounds}`", self.program);
            assert_same_output(&native.stdout, &wasm.stdout, &context);
            assert_eq!(
                exit_code(&wasm),
                self.status,
                "{context}: exit status\n{}",
                describe(&wasm)
            );
            assert!(
                wasm.stderr.is_empty(),
                "{context}: unexpected stderr\n{}",
                describe(&wasm)
            );
            if let (Some(native_tree), Some(dir)) = (&native_tree, &wasm_dir) {
                assert_eq!(
                    &tree(dir.path()),
                    native_tree,
                    "{context}: the directory left behind differs from the native run's"
                );
            }
        }
    }
}

/// Asserts `actual` is byte for byte `expected`, pointing at the first
/// line that differs.
fn assert_same_output(expected: &[u8], actual: &[u8], context: &str) {
    if expected == actual {
        return;
    }
    let expected_text = String::from_utf8_lossy(expected);
    let actual_text = String::from_utf8_lossy(actual);
    let mut expected_lines = expected_text.lines();
    let mut actual_lines = actual_text.lines();
    let mut line = 1;
    loop {
        match (expected_lines.next(), actual_lines.next()) {
            (Some(e), Some(a)) if e == a => line += 1,
            (e, a) => panic!(
                "{context}: stdout differs from the native run's at line {line}\n  \
                 native: {e:?}\n  wasm:   {a:?}\n--- full wasm stdout:\n{actual_text}"
            ),
        }
    }
}

#[test]
fn printf_of_floats_and_doubles() {
    Case::new("printf_floats").check();
}

#[test]
fn qsort_of_ints_and_structs() {
    Case::new("qsort").check();
}

#[test]
fn malloc_free_realloc_churn() {
    Case::new("malloc_churn").check();
}

#[test]
fn string_and_memory_functions() {
    Case::new("strings").check();
}

#[test]
fn clocks_and_sleeping() {
    Case::new("clocks").check();
}

#[test]
fn files_and_directories_in_a_preopened_directory() {
    let files: &[(&str, &[u8])] = &[
        ("input.txt", b"line one\nline two\nline three\n"),
        ("existing/", b""),
        ("existing/nested.txt", b"nested file\nsecond line\n"),
    ];
    Case {
        args: &[DIR_ARG],
        files: Some(files),
        ..Case::new("fileio")
    }
    .check();
}

#[test]
fn arguments_and_environment() {
    Case {
        args: &[
            "one",
            "two words",
            "",
            "tab\tand unicode \u{e9}\u{1F600}",
            "--flag=x",
        ],
        env: &[
            ("GREETING", "hi there"),
            ("EMPTY", ""),
            ("WITH_EQUALS", "a=b=c"),
            ("Z_LAST", "\u{e9}t\u{e9}"),
        ],
        status: 7,
        ..Case::new("args_env")
    }
    .check();
}

#[test]
fn no_arguments_and_empty_environment() {
    Case::new("args_env").check();
}

/// `len` bytes of text lines followed by binary data, from a fixed seed.
fn generated_input(len: usize) -> Vec<u8> {
    let mut data =
        b"first line of input\nsecond line\n\nfourth line, after an empty one\n".to_vec();
    let mut x: u32 = 0x9e3779b9;
    while data.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data.push((x >> 7) as u8);
    }
    data
}

#[test]
fn reading_stdin() {
    let input = generated_input(300_000);
    Case {
        stdin: &input,
        ..Case::new("stdin")
    }
    .check();
}

#[test]
fn reading_empty_stdin() {
    Case::new("stdin").check();
}
