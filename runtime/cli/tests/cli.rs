//! The `luge` command line: compiling and inspecting modules, and how it
//! reports bad input (one line naming the problem, never a panic).

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn luge<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    common::luge_command()
        .args(args)
        .output()
        .expect("luge runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn hello_wasm() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello/hello.wasm")
}

/// Asserts `out` is a success and returns its stdout.
fn succeeded(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// Asserts `out` is an orderly failure: a non-zero exit status (not a
/// signal) and exactly one line on stderr, with no sign of a panic.
/// Returns that line.
fn failed_with_one_line(out: &Output) -> String {
    let err = stderr(out);
    assert!(!out.status.success(), "expected failure; stderr:\n{err}");
    assert!(
        out.status.code().is_some(),
        "killed by a signal: {:?}; stderr:\n{err}",
        out.status
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "expected exactly one line on stderr, got:\n{err}"
    );
    let lower = err.to_lowercase();
    for bad in ["panicked", "backtrace"] {
        assert!(!lower.contains(bad), "stderr mentions `{bad}`:\n{err}");
    }
    assert!(!lines[0].trim().is_empty(), "the line is empty");
    lines[0].to_string()
}

/// Asserts `line` contains (ignoring case) every one of `all` and at least
/// one of `any` (when given).
fn assert_names(line: &str, all: &[&str], any: &[&str]) {
    let lower = line.to_lowercase();
    for needle in all {
        assert!(
            lower.contains(&needle.to_lowercase()),
            "`{line}` does not mention `{needle}`"
        );
    }
    assert!(
        any.is_empty() || any.iter().any(|n| lower.contains(&n.to_lowercase())),
        "`{line}` mentions none of {any:?}"
    );
}

/// Compiles `input` with `extra` options into a fresh directory, returning
/// the directory and the output path.
fn compile(input: &Path, extra: &[&str]) -> (tempfile::TempDir, PathBuf, Output) {
    let dir = tempfile::tempdir().unwrap();
    let so = dir.path().join("out.so");
    let mut args: Vec<&OsStr> = vec![
        "compile".as_ref(),
        input.as_os_str(),
        "-o".as_ref(),
        so.as_os_str(),
    ];
    args.extend(extra.iter().map(|a| OsStr::new(*a)));
    let out = luge(&args);
    (dir, so, out)
}

/// Compiles hello.wasm, which must succeed; returns the directory and the
/// shared object.
fn compiled_hello(extra: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let (dir, so, out) = compile(&hello_wasm(), extra);
    succeeded(&out);
    assert!(so.is_file(), "{} was not written", so.display());
    (dir, so)
}

/// The line of `text` that starts with `label:`.
fn field<'t>(text: &'t str, label: &str) -> &'t str {
    let prefix = format!("{label}:");
    text.lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{text}"))
}

#[test]
fn compile_and_inspect_hello() {
    let default_bounds = luge_abi::Arch::host().default_bounds().name();
    let variants: [(&[&str], &str); 4] = [
        (&[], default_bounds),
        (&["--bounds", "guard"], "guard"),
        (&["--bounds", "software"], "software"),
        (&["--opt", "none"], default_bounds),
    ];
    for (options, bounds) in variants {
        eprintln!("--- luge compile {options:?}");
        let (_dir, so) = compiled_hello(options);
        let text = succeeded(&luge([OsStr::new("inspect"), so.as_os_str()]));
        assert!(
            field(&text, "abi version").ends_with(&format!(" {}", luge_abi::ABI_VERSION)),
            "{text}"
        );
        assert!(
            field(&text, "bounds").ends_with(&format!(" {bounds}")),
            "{text}"
        );
        // hello.wasm (clang, wasi-libc) declares a 2-page memory with no maximum.
        let memory = field(&text, "memory");
        assert_names(memory, &["min 2 pages", "max none"], &[]);
        assert!(!memory.contains("imported"), "{memory}");
        let fd_write = text
            .lines()
            .find(|l| {
                l.trim_start()
                    .starts_with("wasi_snapshot_preview1::fd_write:")
            })
            .unwrap_or_else(|| panic!("fd_write import missing:\n{text}"));
        assert!(
            fd_write.contains("func (i32, i32, i32, i32) -> (i32)"),
            "{fd_write}"
        );
        let exports = text.split_once("\nexports:").expect("exports section").1;
        for export in ["_start: func () -> ()", "memory: memory"] {
            assert!(
                exports.lines().any(|l| l.trim_start().starts_with(export)),
                "export `{export}` missing:\n{text}"
            );
        }
    }
}

#[test]
fn cross_compiles_for_aarch64_and_inspects_without_loading() {
    let (_dir, so) = compiled_hello(&["--target", "aarch64"]);
    let elf = std::fs::read(&so).unwrap();
    // e_machine of an ELF64 file, little endian; 183 is EM_AARCH64.
    assert_eq!(u16::from_le_bytes([elf[18], elf[19]]), 183);
    let text = succeeded(&luge([OsStr::new("inspect"), so.as_os_str()]));
    assert!(field(&text, "target").ends_with(" aarch64"), "{text}");
    // Software bounds are the aarch64 default.
    assert!(field(&text, "bounds").ends_with(" software"), "{text}");
}

#[test]
fn spectre_guards_are_on_unless_turned_off() {
    let (_on_dir, on) = compiled_hello(&[]);
    let (_off_dir, off) = compiled_hello(&["--spectre", "off"]);
    let (_again_dir, again) = compiled_hello(&["--spectre", "on"]);
    let bytes = |p: &Path| std::fs::read(p).unwrap();
    assert_eq!(bytes(&on), bytes(&again), "on is the default");
    assert_ne!(bytes(&on), bytes(&off));
    let (_dir, _so, out) = compile(&hello_wasm(), &["--spectre", "maybe"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("expected `on` or `off`"),
        "{}",
        stderr(&out)
    );
    let ran = luge([
        OsStr::new("run"),
        "--spectre".as_ref(),
        "off".as_ref(),
        hello_wasm().as_ref(),
    ]);
    assert_eq!(succeeded(&ran), "Hello, world!\n");
}

#[test]
fn compile_writes_next_to_the_input_without_o() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("hello.wasm");
    std::fs::copy(hello_wasm(), &input).unwrap();
    succeeded(&luge([OsStr::new("compile"), input.as_os_str()]));
    assert!(dir.path().join("hello.wasm.so").is_file());
}

/// A bare file name has an empty parent (`Path::parent` gives `""`, not
/// `None`): the object, its digest and the directory sync must all go to
/// the working directory rather than fail on a directory named "".
#[test]
fn compile_accepts_bare_file_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(hello_wasm(), dir.path().join("hello.wasm")).unwrap();
    let in_dir = |args: &[&str]| {
        common::luge_command()
            .current_dir(dir.path())
            .args(args)
            .output()
            .expect("luge runs")
    };
    succeeded(&in_dir(&["compile", "hello.wasm"]));
    succeeded(&in_dir(&["compile", "hello.wasm", "-o", "out.so"]));
    for name in ["hello.wasm.so", "out.so"] {
        let so = dir.path().join(name);
        assert!(so.is_file(), "{name} was not written");
        succeeded(&luge([
            OsStr::new("run"),
            OsStr::new("--require-digest"),
            so.as_os_str(),
        ]));
    }
}

/// Writes `bytes` to a file, compiles it, and returns the single error
/// line, having checked that no output was left behind.
fn compile_error(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.wasm");
    std::fs::write(&input, bytes).unwrap();
    compile_error_for(&input)
}

fn compile_error_for(input: &Path) -> String {
    let (_dir, so, out) = compile(input, &[]);
    let line = failed_with_one_line(&out);
    assert!(
        !so.exists(),
        "a failed compilation left {} behind",
        so.display()
    );
    line
}

fn wasm(wat: &str) -> Vec<u8> {
    wat::parse_str(wat).expect("test module parses")
}

#[test]
fn empty_file() {
    let line = compile_error(b"");
    assert_names(&line, &["offset"], &["empty", "end-of-file", "end of file"]);
}

#[test]
fn truncated_module() {
    let hello = std::fs::read(hello_wasm()).unwrap();
    let line = compile_error(&hello[..100]);
    assert_names(
        &line,
        &["offset"],
        &["end-of-file", "end of file", "truncated"],
    );
}

#[test]
fn garbage_bytes() {
    let garbage: Vec<u8> = (0u32..256)
        .map(|i| (i.wrapping_mul(97) ^ 0xA5) as u8)
        .collect();
    let line = compile_error(&garbage);
    assert_names(&line, &["offset", "magic"], &[]);
}

#[test]
fn relaxed_simd_is_unsupported() {
    let line = compile_error(&wasm(
        "(module (func (result v128) (i32x4.relaxed_trunc_f32x4_s (v128.const f32x4 1 2 3 4))))",
    ));
    assert_names(&line, &["offset", "relaxed"], &[]);
}

/// SIMD compiles, and the descriptor records the CPU features the chosen
/// `--cpu` level lets the code use (none on aarch64, whose NEON is always
/// there).
#[test]
fn simd_compiles_and_records_the_cpu_features_it_may_use() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("simd.wasm");
    let module = "(module (func (export \"f\") (param v128) (result i32) \
                  (i32x4.extract_lane 3 (i32x4.add (local.get 0) (v128.const i32x4 1 2 3 4)))))";
    std::fs::write(&input, wasm(module)).unwrap();
    // x86_64 named explicitly: the default target is the host's, and the
    // suite also runs on aarch64.
    let cases: [(&[&str], &[&str], &[&str]); 4] = [
        (
            &["--target", "x86_64"],
            &["sse4.1", "sse4.2", "popcnt"],
            &["avx"],
        ),
        (
            &["--target", "x86_64", "--cpu", "v3"],
            &["sse4.2", "avx2", "fma", "bmi2"],
            &[],
        ),
        (
            &["--target", "x86_64", "--cpu", "baseline"],
            &["none"],
            &["sse"],
        ),
        (
            &["--target", "aarch64", "--cpu", "v3"],
            &["none"],
            &["sse", "avx"],
        ),
    ];
    for (options, present, absent) in cases {
        let (_dir, so, out) = compile(&input, options);
        succeeded(&out);
        let text = succeeded(&luge([OsStr::new("inspect"), so.as_os_str()]));
        let features = field(&text, "cpu features");
        assert_names(features, present, &[]);
        for feature in absent {
            assert!(!features.contains(feature), "{options:?}: {features}");
        }
        assert!(
            text.contains("f: func (v128) -> (i32)"),
            "{options:?}:\n{text}"
        );
    }
}

#[test]
fn multi_memory_is_unsupported() {
    let line = compile_error(&wasm("(module (memory 1) (memory 1))"));
    assert_names(
        &line,
        &["offset"],
        &["multiple memories", "multi-memory", "multi memory"],
    );
}

#[test]
fn shared_memory_is_unsupported() {
    let line = compile_error(&wasm("(module (memory 1 1 shared))"));
    assert_names(&line, &["offset"], &["threads", "shared"]);
}

#[test]
fn atomics_are_unsupported() {
    let line = compile_error(&wasm(
        "(module (memory 1) (func (result i32) (i32.atomic.load (i32.const 0))))",
    ));
    assert_names(&line, &["offset"], &["threads", "atomic"]);
}

#[test]
fn tail_calls_are_unsupported() {
    let line = compile_error(&wasm("(module (func $f (return_call $f)))"));
    assert_names(
        &line,
        &["offset"],
        &["tail call", "tail-call", "return_call"],
    );
}

/// A sparse file of `len` bytes: nothing is written.
fn sparse_file(dir: &Path, len: u64) -> PathBuf {
    let path = dir.join("big.wasm");
    std::fs::File::create(&path).unwrap().set_len(len).unwrap();
    path
}

#[test]
fn oversized_input_is_refused_by_size() {
    let limit = awsm_compiler::MAX_WASM_SIZE as u64;
    // Just over the limit, and far beyond what could be read into memory:
    // the size must be checked before reading.
    for len in [limit + 1, 1 << 40] {
        let dir = tempfile::tempdir().unwrap();
        let input = sparse_file(dir.path(), len);
        let line = compile_error_for(&input);
        assert_names(
            &line,
            &["larger than", &limit.to_string(), &len.to_string()],
            &[],
        );
    }
}

#[test]
fn nonexistent_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("missing.wasm");
    let line = compile_error_for(&input);
    assert_names(&line, &["missing.wasm"], &["no such file", "not found"]);
}

/// Runs `luge inspect` on `path`, which must fail; returns the line.
fn inspect_error(path: &Path) -> String {
    failed_with_one_line(&luge([OsStr::new("inspect"), path.as_os_str()]))
}

#[test]
fn compiled_objects_are_signed_and_run_with_require_digest_only_unchanged() {
    let (dir, so) = compiled_hello(&[]);
    let digest = dir.path().join("out.so.hmac");
    assert_eq!(std::fs::read_to_string(&digest).unwrap().trim().len(), 64);
    let run = |path: &Path| {
        luge([
            OsStr::new("run"),
            "--require-digest".as_ref(),
            path.as_ref(),
        ])
    };
    assert_eq!(succeeded(&run(&so)), "Hello, world!\n");

    // Patched after compilation (one byte of its code).
    let mut bytes = std::fs::read(&so).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    let patched = dir.path().join("patched.so");
    std::fs::write(&patched, &bytes).unwrap();
    std::fs::copy(&digest, dir.path().join("patched.so.hmac")).unwrap();
    let line = failed_with_one_line(&run(&patched));
    assert_names(&line, &["patched.so", "digest does not match"], &[]);

    // Never signed here.
    let unsigned = dir.path().join("unsigned.so");
    std::fs::copy(&so, &unsigned).unwrap();
    let line = failed_with_one_line(&run(&unsigned));
    assert_names(&line, &["unsigned.so", "no digest"], &[]);
    // Signed by another user (another key).
    let elsewhere = tempfile::tempdir().unwrap();
    let foreign = common::luge_command()
        .env("LUGE_CACHE_DIR", elsewhere.path())
        .args([OsStr::new("compile"), hello_wasm().as_ref(), "-o".as_ref()])
        .arg(dir.path().join("foreign.so"))
        .output()
        .unwrap();
    succeeded(&foreign);
    let line = failed_with_one_line(&run(&dir.path().join("foreign.so")));
    assert_names(&line, &["foreign.so", "digest does not match"], &[]);

    // Without the flag a user's own object runs after the structural checks.
    assert_eq!(
        succeeded(&luge([OsStr::new("run"), unsigned.as_ref()])),
        "Hello, world!\n"
    );
}

#[test]
fn a_module_put_in_the_cache_in_place_of_another_never_runs() {
    let cache = tempfile::tempdir().unwrap();
    let run = |module: &Path| {
        common::luge_command()
            .env("LUGE_CACHE_DIR", cache.path())
            .args([
                OsStr::new("run"),
                module.as_ref(),
                "--".as_ref(),
                "100".as_ref(),
            ])
            .output()
            .unwrap()
    };
    let objects = || -> std::collections::BTreeSet<PathBuf> {
        std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "so"))
            .collect()
    };
    assert_eq!(succeeded(&run(&hello_wasm())), "Hello, world!\n");
    let hello = objects();
    let prime = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/prime/prime.wasm");
    assert_eq!(succeeded(&run(&prime)), "541\n");
    let prime: Vec<_> = objects().difference(&hello).cloned().collect();
    let (hello, prime) = (hello.first().unwrap(), &prime[0]);
    // prime's object, signed digest and all, under hello's name.
    std::fs::copy(prime, hello).unwrap();
    let digest = |so: &Path| so.with_extension("so.hmac");
    std::fs::copy(digest(prime), digest(hello)).unwrap();
    assert_eq!(succeeded(&run(&hello_wasm())), "Hello, world!\n");
    // The cache and its key are private.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(cache.path()).unwrap().mode() & 0o777,
        0o700
    );
    let key = std::fs::metadata(cache.path().join("digest.key")).unwrap();
    assert_eq!(key.mode() & 0o777, 0o600);
}

#[test]
fn inspect_refuses_a_foreign_shared_object() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("foreign.c");
    std::fs::write(&source, "int answer(void) { return 42; }\n").unwrap();
    let so = dir.path().join("foreign.so");
    let cc = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&source)
        .output()
        .expect("a C compiler (`cc`) is installed");
    assert!(cc.status.success(), "cc failed:\n{}", stderr(&cc));
    let line = inspect_error(&so);
    assert_names(&line, &["foreign.so", "not a Luge module"], &[]);
}

#[test]
fn inspect_refuses_a_non_elf_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("text.so");
    std::fs::write(&path, "this is not a shared object\n".repeat(100)).unwrap();
    let line = inspect_error(&path);
    assert_names(
        &line,
        &["text.so"],
        &["elf", "not a shared object", "not a luge module"],
    );
}

#[test]
fn inspect_refuses_another_abi_version_naming_both() {
    let (dir, so) = compiled_hello(&[]);
    let mut bytes = std::fs::read(&so).unwrap();
    let magic = luge_abi::DESCRIPTOR_MAGIC;
    let found: Vec<usize> = bytes
        .windows(magic.len())
        .enumerate()
        .filter(|(_, w)| *w == magic)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one descriptor magic in the .so, found {found:?}"
    );
    let version = found[0] + magic.len();
    assert_eq!(
        bytes[version..version + 4],
        luge_abi::ABI_VERSION.to_le_bytes()
    );
    bytes[version..version + 4].copy_from_slice(&999u32.to_le_bytes());
    let patched = dir.path().join("patched.so");
    std::fs::write(&patched, bytes).unwrap();
    let line = inspect_error(&patched);
    assert_names(
        &line,
        &["999", &format!("version {}", luge_abi::ABI_VERSION)],
        &[],
    );
}

#[test]
fn inspect_of_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let line = inspect_error(&dir.path().join("missing.so"));
    assert_names(&line, &["missing.so"], &["no such file", "not found"]);
}

/// `luge run` has a parser of its own (for its start-up time): its help
/// must be the one `luge help run` gives, and its errors must name it.
#[test]
fn run_parses_its_arguments_as_the_whole_command_line_would() {
    let own = succeeded(&luge(["run", "--help"]));
    let whole = succeeded(&luge(["help", "run"]));
    assert_eq!(own, whole);
    assert_names(
        &own,
        &["Usage: luge run", "<MODULE>", "--timeout", "trap: <kind>"],
        &[],
    );
    let top = succeeded(&luge(["--help"]));
    assert_names(&top, &["run", "Run a WASI program"], &[]);
    let missing = luge(["run"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_names(&stderr(&missing), &["<MODULE>", "Usage: luge run"], &[]);
    let unknown = luge(["run", "--no-such-flag", "x.wasm"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert_names(
        &stderr(&unknown),
        &["--no-such-flag", "Usage: luge run"],
        &[],
    );
}

#[test]
fn help_explains_the_commands_and_options() {
    let top = succeeded(&luge(["--help"]));
    assert_names(
        &top,
        &["compile", "inspect", "shared object", "descriptor"],
        &[],
    );
    let compile = succeeded(&luge(["compile", "--help"]));
    assert_names(
        &compile,
        &[
            "<INPUT>",
            "--output",
            "--bounds",
            "guard",
            "software",
            "--target",
            "--opt",
            "none",
            "speed",
            "--no-interrupt-checks",
            "--cpu",
            "baseline",
            "v3",
            "native",
        ],
        &[],
    );
    let inspect = succeeded(&luge(["inspect", "--help"]));
    assert_names(
        &inspect,
        &["<MODULE>", "abi version", "imports", "exports"],
        &[],
    );
}
