//! The opt tier (`--tier opt`, LLVM through clang) end to end: compiled,
//! inspected and run as `luge` users do, every trap kind raised where Wasm
//! says, in both bounds modes, and a clear refusal without clang.

mod common;

use common::*;
use std::process::Output;

fn luge(args: &[&str]) -> Output {
    luge_command().args(args).output().unwrap()
}

/// Writes the WASI command `body` (the body of `_start`, with a one-page
/// memory and a two-entry table) as text and returns its path.
fn wat_command(dir: &tempfile::TempDir, name: &str, body: &str) -> String {
    let wat = format!(
        r#"(module
             (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
             (memory 1)
             (type $v (func))
             (table 2 funcref)
             (elem (i32.const 0) $nothing)
             (func $nothing)
             (func $deep (param i64) (result i64)
               (i64.add (call $deep (i64.add (local.get 0) (i64.const 1))) (i64.const 1)))
             (func (export "_start") {body}))"#
    );
    let path = dir.path().join(format!("{name}.wat"));
    std::fs::write(&path, wat).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn compiles_inspects_and_runs_the_examples() {
    let dir = tempfile::tempdir().unwrap();
    let so = dir.path().join("hello.so");
    let hello = examples_dir().join("hello/hello.wasm");
    let out = luge(&[
        "compile",
        "--tier",
        "opt",
        hello.to_str().unwrap(),
        "-o",
        so.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr_text(&out));
    let inspected = luge(&["inspect", so.to_str().unwrap()]);
    assert!(stdout_text(&inspected).contains("tier:        opt"));
    for bounds in BOUNDS_MODES {
        let mut run = luge_command();
        run.args(["run", "--tier", "opt", "--bounds", bounds])
            .arg(&hello)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = run.spawn().unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"edge").unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(stdout_text(&out), "Hello, edge!\n", "{bounds}");
        let prime = examples_dir().join("prime/prime.wasm");
        let args = [
            "run",
            "--tier",
            "opt",
            "--bounds",
            bounds,
            prime.to_str().unwrap(),
            "--",
            "1000",
        ];
        assert_eq!(stdout_text(&luge(&args)), "7919\n", "{bounds}");
    }
}

#[test]
fn every_trap_is_raised_where_wasm_says_in_both_bounds_modes() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("unreachable", "unreachable", "unreachable"),
        (
            "div",
            "(drop (i32.div_s (i32.const 1) (i32.const 0)))",
            "integer divide by zero",
        ),
        (
            "overflow",
            "(drop (i32.div_s (i32.const 0x80000000) (i32.const -1)))",
            "integer overflow",
        ),
        (
            "convert",
            "(drop (i32.trunc_f32_s (f32.const nan)))",
            "invalid conversion to integer",
        ),
        (
            "too_big",
            "(drop (i32.trunc_f64_u (f64.const 4294967296)))",
            "integer overflow",
        ),
        // The load's value is dropped: it must still be made, and fault.
        (
            "load",
            "(drop (i32.load (i32.const 65534)))",
            "out of bounds memory access",
        ),
        (
            "far",
            "(i32.store offset=0xfffffff0 (i32.const 0x10) (i32.const 1))",
            "out of bounds memory access",
        ),
        (
            "table",
            "(call_indirect (type $v) (i32.const 2))",
            "undefined element",
        ),
        (
            "null",
            "(call_indirect (type $v) (i32.const 1))",
            "uninitialized element",
        ),
        (
            "stack",
            "(drop (call $deep (i64.const 0)))",
            "call stack exhausted",
        ),
    ];
    for bounds in BOUNDS_MODES {
        for (name, body, trap) in cases {
            let path = wat_command(&dir, name, body);
            let out = luge(&["run", "--tier", "opt", "--bounds", bounds, &path]);
            assert_eq!(
                out.status.code(),
                Some(134),
                "{name} {bounds}: {}",
                stderr_text(&out)
            );
            assert!(
                stderr_text(&out).contains(&format!("trap: {trap}")),
                "{name} {bounds}: {}",
                stderr_text(&out)
            );
        }
        // What does not trap runs to its end.
        let fine = wat_command(
            &dir,
            "fine",
            "(drop (i32.load (i32.const 65532))) (call $exit (i32.const 7))",
        );
        let out = luge(&["run", "--tier", "opt", "--bounds", bounds, &fine]);
        assert_eq!(out.status.code(), Some(7), "{}", stderr_text(&out));
    }
}

#[test]
fn a_loop_without_calls_is_stopped_at_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let spin = wat_command(&dir, "spin", "(loop $l (br $l))");
    // The shipped configuration: stopped by the runtime's signal.
    let out = luge(&["run", "--tier", "opt", "--timeout", "200", &spin]);
    assert_eq!(out.status.code(), Some(124), "{}", stderr_text(&out));
    // With interrupt checks (aarch64's default): stopped at the loop header.
    let so = dir.path().join("spin.so");
    let so = so.to_str().unwrap();
    let args = [
        "compile",
        "--tier",
        "opt",
        "--interrupt-checks",
        &spin,
        "-o",
        so,
    ];
    let compiled = luge(&args);
    assert!(compiled.status.success(), "{}", stderr_text(&compiled));
    let out = luge(&["run", "--timeout", "200", so]);
    assert_eq!(out.status.code(), Some(124), "{}", stderr_text(&out));
}

#[test]
fn without_clang_the_opt_tier_says_what_to_install() {
    // A cache of its own: the module must be compiled, not found.
    let cache = tempfile::tempdir().unwrap();
    let out = luge_command()
        .args(["run", "--tier", "opt"])
        .arg(examples_dir().join("hello/hello.wasm"))
        .env("LUGE_CLANG", "/nonexistent/clang")
        .env("LUGE_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let message = stderr_text(&out);
    assert!(message.contains("/nonexistent/clang"), "{message}");
    assert!(message.contains("LUGE_CLANG"), "{message}");
}
