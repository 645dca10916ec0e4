//! `luge run`: the examples work, the exit status is the program's, and
//! traps, timeouts, memory, stack and output limits, bad modules and
//! unknown imports are each reported in one line; compiled modules are
//! cached. Then, through the library, one process runs many sandboxes that
//! end badly and a healthy one after them.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn example(name: &str) -> PathBuf {
    examples_dir().join(format!("{name}/{name}.wasm"))
}

fn behave() -> PathBuf {
    wasm_program("behave")
}

/// Runs `behave MODE ARGS...` under `luge run` with `opts`.
fn behave_run(opts: &[&str], mode_and_args: &[&str]) -> Output {
    luge_run(behave()).opts(opts).args(mode_and_args).output()
}

/// Asserts `out` exited with `status` (not a signal), printing everything
/// otherwise.
fn assert_status(out: &Output, status: i32) {
    assert_eq!(exit_code(out), status, "{}", describe(out));
}

/// The lines of stderr, which must hold no sign of a panic.
fn stderr_lines(out: &Output) -> Vec<String> {
    let err = stderr_text(out);
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!err.contains(bad), "stderr mentions `{bad}`:\n{err}");
    }
    err.lines().map(str::to_string).collect()
}

/// Asserts stderr is exactly one non-empty line and returns it.
fn one_line(out: &Output) -> String {
    let lines = stderr_lines(out);
    assert_eq!(
        lines.len(),
        1,
        "expected one line on stderr\n{}",
        describe(out)
    );
    assert!(!lines[0].trim().is_empty(), "{}", describe(out));
    lines[0].clone()
}

/// Asserts `line` mentions each of `needles`, ignoring case.
fn assert_mentions(line: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            line.to_lowercase().contains(&needle.to_lowercase()),
            "`{line}` does not mention `{needle}`"
        );
    }
}

// ---- the examples ---------------------------------------------------------

#[test]
fn hello_greets_stdin() {
    let out = luge_run(example("hello")).stdin(b"Luge\n").output();
    assert_status(&out, 0);
    assert_eq!(stdout_text(&out), "Hello, Luge!\n");
    assert!(out.stderr.is_empty(), "{}", describe(&out));
    let out = luge_run(example("hello")).output();
    assert_eq!(stdout_text(&out), "Hello, world!\n", "{}", describe(&out));
}

#[test]
fn rust_hello_greets_stdin() {
    let out = luge_run(example("rust-hello")).stdin(b"Ferris\n").output();
    assert_status(&out, 0);
    assert_eq!(stdout_text(&out), "Hello from Rust, Ferris!\n");
    let out = luge_run(example("rust-hello")).output();
    assert_eq!(stdout_text(&out), "Hello from Rust, world!\n");
}

#[test]
fn hash_of_abc_is_its_sha256() {
    let out = luge_run(example("hash")).args(["abc", "1"]).output();
    assert_status(&out, 0);
    assert_eq!(
        stdout_text(&out),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
    );
}

#[test]
fn the_thousandth_prime_is_7919() {
    for bounds in BOUNDS_MODES {
        let out = luge_run(example("prime"))
            .opts(["--bounds", bounds])
            .args(["1000"])
            .output();
        assert_status(&out, 0);
        assert_eq!(stdout_text(&out), "7919\n");
    }
}

// ---- how programs end -----------------------------------------------------

#[test]
fn exit_status_is_the_programs() {
    let out = behave_run(&[], &["return3"]);
    assert_status(&out, 3);
    assert!(out.stderr.is_empty(), "{}", describe(&out));
    let out = behave_run(&[], &["exit42"]);
    assert_status(&out, 42);
    // exit() flushes stdio first.
    assert_eq!(stdout_text(&out), "about to exit with 42\n");
    assert!(out.stderr.is_empty(), "{}", describe(&out));
}

#[test]
fn a_trap_is_reported_with_its_kind() {
    let wat = wat_file(
        "unreachable",
        r#"(module (memory (export "memory") 1) (func (export "_start") unreachable))"#,
    );
    for module in [behave(), wat] {
        for bounds in BOUNDS_MODES {
            let out = luge_run(&module)
                .opts(["--bounds", bounds])
                .args(["trap"])
                .output();
            assert_status(&out, 134);
            assert_eq!(one_line(&out), "trap: unreachable");
        }
    }
}

/// Runs `luge run` with `opts` and `args`, with stdin a pipe the test
/// keeps open (so a read of it would block), and returns the output and
/// how long it took. A run still going after 10 s is killed and fails the
/// test.
fn timed_run(module: &Path, opts: &[&str], args: &[&str]) -> (Output, Duration) {
    let mut cmd: Command = luge_run(module).opts(opts).args(args).command();
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let stdin = child.stdin.take();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!("still running after 10 s, killed\n{}", describe(&out));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = start.elapsed();
    drop(stdin);
    (child.wait_with_output().unwrap(), took)
}

fn assert_timed_out(out: &Output, took: Duration) {
    assert_status(out, 124);
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_mentions(&one_line(out), &["timeout", "300 ms"]);
}

#[test]
fn timeout_stops_a_loop_without_calls() {
    for bounds in BOUNDS_MODES {
        let (out, took) = timed_run(
            &behave(),
            &["--timeout", "300", "--bounds", bounds],
            &["spin"],
        );
        assert_timed_out(&out, took);
    }
}

#[test]
fn timeout_stops_a_sleeping_program() {
    let (out, took) = timed_run(&example("sleep"), &["--timeout", "300"], &["10"]);
    assert_timed_out(&out, took);
    assert!(out.stdout.is_empty(), "{}", describe(&out));
}

#[test]
fn timeout_stops_a_program_waiting_for_stdin() {
    // hello reads stdin to its end, which never comes.
    let (out, took) = timed_run(&example("hello"), &["--timeout", "300"], &[]);
    assert_timed_out(&out, took);
}

#[test]
fn timeout_ends_a_program_stuck_where_no_interruption_reaches() {
    // Opening a FIFO that nobody writes waits inside open(2), on the thread
    // that runs the guest: only `luge run`'s watchdog can end this run.
    let dir = tempfile::tempdir().unwrap();
    make_fifo(&dir.path().join("fifo"));
    let dir_opt = format!("--dir={}::/d", dir.path().display());
    let (out, took) = timed_run(
        &behave(),
        &["--timeout", "300", &dir_opt],
        &["cat", "/d/fifo"],
    );
    assert_timed_out(&out, took);
    // The same program on a plain file, to show the mode reads.
    std::fs::write(dir.path().join("plain"), b"twelve bytes").unwrap();
    let out = behave_run(&[&dir_opt], &["cat", "/d/plain"]);
    assert_status(&out, 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "read 12 bytes\n");
}

#[test]
fn a_program_finishing_in_time_is_not_stopped() {
    let out = luge_run(example("hello"))
        .opts(["--timeout", "5000"])
        .stdin(b"on time")
        .output();
    assert_status(&out, 0);
    assert_eq!(stdout_text(&out), "Hello, on time!\n");
    assert!(out.stderr.is_empty(), "{}", describe(&out));
}

#[test]
fn memory_limit_makes_malloc_return_null() {
    for bounds in BOUNDS_MODES {
        let out = behave_run(&["--memory-limit", "2", "--bounds", bounds], &["malloc10"]);
        assert_status(&out, 1);
        assert_eq!(stdout_text(&out), "malloc(10 MiB) returned NULL\n");
        assert_mentions(&one_line(&out), &["memory limit", "2 MiB"]);
    }
    // The same allocation without the limit.
    let out = behave_run(&[], &["malloc10"]);
    assert_status(&out, 0);
    assert_eq!(stdout_text(&out), "malloc(10 MiB) succeeded\n");
    assert!(out.stderr.is_empty(), "{}", describe(&out));
}

#[test]
fn infinite_recursion_exhausts_the_stack() {
    for bounds in BOUNDS_MODES {
        let out = behave_run(&["--bounds", bounds], &["recurse_forever"]);
        assert_status(&out, 134);
        assert_eq!(one_line(&out), "trap: call stack exhausted");
    }
}

#[test]
fn stack_limit_bounds_recursion_depth() {
    // About 32 bytes of native stack per level: 10000 levels fit in the
    // default 1 MiB with room to spare, and not in 128 KiB.
    let out = behave_run(&[], &["recurse", "10000"]);
    assert_status(&out, 0);
    assert_eq!(stdout_text(&out), "depth 10000\n");
    let out = behave_run(&["--stack-limit", "128"], &["recurse", "10000"]);
    assert_status(&out, 134);
    assert_eq!(one_line(&out), "trap: call stack exhausted");
    // And a larger limit allows more than the default does.
    let out = behave_run(&[], &["recurse", "100000"]);
    assert_status(&out, 134);
    let out = behave_run(&["--stack-limit", "8192"], &["recurse", "100000"]);
    assert_status(&out, 0);
    assert_eq!(stdout_text(&out), "depth 100000\n");
}

#[test]
fn output_limit_cuts_output_and_fails_the_run() {
    let out = behave_run(&[], &["print", "1000"]);
    assert_status(&out, 0);
    assert_eq!(out.stdout.len(), 1000);
    let out = behave_run(&["--output-limit", "100"], &["print", "1000"]);
    assert_ne!(exit_code(&out), 0, "{}", describe(&out));
    assert!(out.stdout.len() <= 100, "{}", describe(&out));
    assert_eq!(
        out.stdout,
        &behave_run(&[], &["print", "1000"]).stdout[..out.stdout.len()]
    );
    assert_mentions(&one_line(&out), &["output limit", "100 bytes"]);
}

// ---- modules that cannot run ----------------------------------------------

#[test]
fn missing_module() {
    let dir = tempfile::tempdir().unwrap();
    let out = luge_run(dir.path().join("missing.wasm")).output();
    assert_status(&out, 1);
    assert_mentions(&one_line(&out), &["missing.wasm"]);
}

#[test]
fn garbage_module() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.wasm");
    let garbage: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&path, garbage).unwrap();
    let out = luge_run(&path).output();
    assert_status(&out, 1);
    assert_mentions(&one_line(&out), &["garbage.wasm"]);
    // A truncated real module, too.
    let hello = std::fs::read(example("hello")).unwrap();
    std::fs::write(&path, &hello[..hello.len() / 2]).unwrap();
    let out = luge_run(&path).output();
    assert_status(&out, 1);
    assert_mentions(&one_line(&out), &["garbage.wasm"]);
}

#[test]
fn unknown_import_is_named() {
    let wat = wat_file(
        "env_foo",
        r#"(module
             (import "env" "foo" (func $foo))
             (memory (export "memory") 1)
             (func (export "_start") (call $foo)))"#,
    );
    let out = luge_run(&wat).output();
    assert_status(&out, 1);
    assert_mentions(&one_line(&out), &["env::foo"]);
}

#[test]
fn a_missing_preopen_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    let out = luge_run(example("hello"))
        .opts(["--dir".to_string(), format!("{}::/data", missing.display())])
        .output();
    assert_status(&out, 1);
    assert_mentions(&one_line(&out), &["no-such-dir"]);
}

// ---- the module cache -----------------------------------------------------

/// The compiled modules in `cache`, with their modification times.
fn cached_objects(cache: &Path) -> Vec<(PathBuf, std::time::SystemTime)> {
    let mut found: Vec<_> = std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "so"))
        .map(|p| {
            let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
            (p, mtime)
        })
        .collect();
    found.sort();
    found
}

#[test]
fn a_module_is_compiled_once_and_then_cached() {
    let cache = tempfile::tempdir().unwrap();
    let run = || {
        let out = luge_run(example("hello"))
            .cache(cache.path())
            .stdin(b"cache")
            .output();
        assert_status(&out, 0);
        assert_eq!(stdout_text(&out), "Hello, cache!\n");
    };
    run();
    let first = cached_objects(cache.path());
    assert_eq!(first.len(), 1, "after one run: {first:?}");
    // Coarse file system timestamps must not hide a rewrite.
    std::thread::sleep(Duration::from_millis(20));
    run();
    assert_eq!(
        cached_objects(cache.path()),
        first,
        "the second run compiled again"
    );
    // Other compile options make another entry, once.
    let default_bounds = luge_abi::Arch::host().default_bounds().name();
    let other_bounds = if default_bounds == "guard" {
        "software"
    } else {
        "guard"
    };
    for bounds in [other_bounds, default_bounds, other_bounds] {
        let out = luge_run(example("hello"))
            .cache(cache.path())
            .opts(["--bounds", bounds])
            .output();
        assert_status(&out, 0);
    }
    let other = cached_objects(cache.path());
    assert!(other.contains(&first[0]), "{other:?}");
    assert_eq!(other.len(), 2, "one object per bounds mode: {other:?}");
}

// ---- many sandboxes in one process, through the library --------------------

mod library {
    use super::*;
    use luge_runtime::{CallError, Instance, InstanceConfig, Module, Store, TrapKind};
    use luge_wasi::{Input, Output as WasiOutput, WasiCtxBuilder};
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A compiled module and the directory holding its shared object.
    struct Compiled {
        module: Module,
        _dir: tempfile::TempDir,
    }

    fn compile(wasm: &[u8]) -> Compiled {
        let dir = tempfile::tempdir().unwrap();
        let so = dir.path().join("m.so");
        awsm_compiler::compile_to_file(wasm, &Default::default(), &so).expect("compiles");
        Compiled {
            module: Module::load(&so).expect("loads"),
            _dir: dir,
        }
    }

    fn compile_file(path: &Path) -> Compiled {
        compile(&std::fs::read(path).unwrap())
    }

    /// One sandbox's setup.
    struct Sandbox<'a> {
        args: Vec<String>,
        stdin: &'a [u8],
        preopen: Option<(&'a Path, &'a str)>,
        memory_limit_pages: u32,
        max_stack: usize,
        /// Interrupt the sandbox after this long.
        interrupt_after: Option<Duration>,
    }

    impl<'a> Sandbox<'a> {
        fn new(args: &[&str]) -> Self {
            Sandbox {
                args: std::iter::once("prog")
                    .chain(args.iter().copied())
                    .map(String::from)
                    .collect(),
                stdin: b"",
                preopen: None,
                memory_limit_pages: InstanceConfig::default().memory_limit_pages,
                max_stack: luge_runtime::DEFAULT_MAX_STACK,
                interrupt_after: None,
            }
        }

        /// Runs `_start`; returns how it ended, what it printed, and the
        /// store (for inspection).
        fn run(&self, module: &Module) -> (Result<(), CallError>, Rc<RefCell<Vec<u8>>>, Store) {
            let (stdout, captured) = WasiOutput::capture();
            let mut builder = WasiCtxBuilder::new()
                .args(self.args.clone())
                .stdin(Input::bytes(self.stdin.to_vec()))
                .stdout(stdout);
            if let Some((host, guest)) = self.preopen {
                builder = builder.preopen_dir(host, guest).unwrap();
            }
            let store = builder.build().store(self.max_stack);
            let imports = luge_wasi::imports(module).expect("WASI imports resolve");
            let config = InstanceConfig {
                memory_limit_pages: self.memory_limit_pages,
                memory_budget: None,
            };
            let instance = Instance::new(module, &store, &imports, &config).expect("instantiates");
            let watchdog = self.interrupt_after.map(|after| {
                let handle = store.interrupt_handle();
                std::thread::spawn(move || {
                    std::thread::sleep(after);
                    handle.interrupt();
                })
            });
            let outcome = instance
                .get_func("_start")
                .expect("exports _start")
                .call(&[])
                .map(drop);
            if let Some(watchdog) = watchdog {
                watchdog.join().unwrap();
            }
            drop(instance);
            (outcome, captured, store)
        }
    }

    fn text(captured: &Rc<RefCell<Vec<u8>>>) -> String {
        String::from_utf8_lossy(&captured.borrow()).into_owned()
    }

    /// A module calling WASI functions with hostile pointers and lengths;
    /// each export returns the errno of one call. Its memory is the full
    /// 4 GiB so that addresses near the top are in bounds.
    const HOSTILE: &str = r#"(module
      (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat_get (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
      (memory (export "memory") 65536)
      (func (export "_start"))
      ;; The prestat's second word would be past 4 GiB.
      (func (export "prestat_at_top") (result i32)
        (call $prestat_get (i32.const 3) (i32.const 0xfffffffc)))
      ;; 1024 iovecs each naming 1 GiB: 1 TiB to write in one call.
      (func (export "write_1_tib") (result i32) (local $i i32)
        (loop $fill
          (i32.store (i32.add (i32.const 4096) (i32.shl (local.get $i) (i32.const 3))) (i32.const 0))
          (i32.store (i32.add (i32.const 4100) (i32.shl (local.get $i) (i32.const 3))) (i32.const 0x40000000))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $fill (i32.lt_u (local.get $i) (i32.const 1024))))
        (call $fd_write (i32.const 1) (i32.const 4096) (i32.const 1024) (i32.const 64)))
      (func (export "written") (result i32) (i32.load (i32.const 64)))
      ;; More iovecs than any system allows.
      (func (export "too_many_iovecs") (result i32)
        (call $fd_read (i32.const 0) (i32.const 0) (i32.const 0x7fffffff) (i32.const 64)))
      ;; Random bytes past the end of memory.
      (func (export "random_past_top") (result i32)
        (call $random_get (i32.const 0xffff0000) (i32.const 0x20000)))
      ;; The arguments ("hostile", "x": 10 bytes with terminators) ending
      ;; exactly at the top of memory, which is fine...
      (func (export "args_end_at_top") (result i32)
        (call $args_get (i32.const 128) (i32.const 0xfffffff6)))
      (func (export "last_byte") (result i32) (i32.load8_u (i32.const 0xfffffffe)))
      ;; ...and the first ending there, which leaves no room for the second.
      (func (export "args_past_top") (result i32)
        (call $args_get (i32.const 128) (i32.const 0xfffffff8)))
      ;; A subscription straddling the top of memory.
      (func (export "poll_at_top") (result i32)
        (call $poll (i32.const 0xffffffe0) (i32.const 1024) (i32.const 1) (i32.const 64)))
      ;; A path whose bytes run past the top of memory (with valid rights:
      ;; rights preview1 does not define are refused before the path is read).
      (func (export "path_past_top") (result i32)
        (call $path_open (i32.const 3) (i32.const 1) (i32.const 0xfffffff0) (i32.const 0x7fffffff)
          (i32.const 0) (i64.const 0x3fffffff) (i64.const 0x3fffffff) (i32.const 0) (i32.const 64)))
    )"#;

    const EFAULT: i32 = 21;
    const EINVAL: i32 = 28;

    fn assert_hostile_calls_fail_cleanly(preopen: &Path) {
        let hostile = compile(&wat::parse_str(HOSTILE).unwrap());
        let (stdout, captured) = WasiOutput::capture();
        let store = WasiCtxBuilder::new()
            .args(["hostile", "x"])
            .stdout(stdout)
            .preopen_dir(preopen, "/data")
            .unwrap()
            .build()
            .store(luge_runtime::DEFAULT_MAX_STACK);
        let imports = luge_wasi::imports(&hostile.module).unwrap();
        let instance = Instance::new(
            &hostile.module,
            &store,
            &imports,
            &InstanceConfig::default(),
        )
        .unwrap();
        let call = |name: &str| match instance.call(name, &[]) {
            Ok(v) if v.len() == 1 => match v[0] {
                luge_runtime::Val::I32(errno) => errno,
                other => panic!("{name} returned {other:?}"),
            },
            other => panic!("{name} ended with {other:?}"),
        };
        // The preopen's name is 5 bytes long ("/data"): the first word fits
        // below the top, the second does not.
        assert_eq!(call("prestat_at_top"), EFAULT);
        // A short write, bounded by what the runtime buffers at once.
        assert_eq!(call("write_1_tib"), 0);
        let written = call("written") as u32;
        assert!(written > 0 && written <= 64 << 20, "wrote {written} bytes");
        assert_eq!(captured.borrow().len(), written as usize);
        captured.borrow_mut().clear();
        assert_eq!(call("too_many_iovecs"), EINVAL);
        assert_eq!(call("random_past_top"), EFAULT);
        assert_eq!(call("args_end_at_top"), 0);
        assert_eq!(call("last_byte"), i32::from(b'x'));
        assert_eq!(call("args_past_top"), EFAULT);
        assert_eq!(call("poll_at_top"), EFAULT);
        assert_eq!(call("path_past_top"), EFAULT);
    }

    #[test]
    fn many_sandboxes_end_badly_in_one_process_then_a_healthy_one_runs() {
        let behave = compile_file(&behave());
        let escape = compile_file(&wasm_program("escape"));
        let hello = compile_file(&example("hello"));
        let sleep = compile_file(&example("sleep"));

        for round in 0..3 {
            eprintln!("--- round {round}");

            // A trap.
            let (outcome, _, _) = Sandbox::new(&["trap"]).run(&behave.module);
            assert_eq!(outcome, Err(CallError::Trap(TrapKind::Unreachable)));

            // Memory exhausted under a 4 MiB limit: malloc fails.
            let sandbox = Sandbox {
                memory_limit_pages: 64,
                ..Sandbox::new(&["exhaust"])
            };
            let (outcome, out, store) = sandbox.run(&behave.module);
            assert_eq!(outcome, Err(CallError::Exit(1)));
            assert!(text(&out).starts_with("exhausted after "), "{}", text(&out));
            assert!(store.instances()[0]
                .memory()
                .is_some_and(|m| m.growth_refused() && m.pages() <= 64));

            // The stack exhausted, with the default and a small stack.
            for max_stack in [luge_runtime::DEFAULT_MAX_STACK, 64 << 10] {
                let sandbox = Sandbox {
                    max_stack,
                    ..Sandbox::new(&["recurse_forever"])
                };
                let (outcome, _, _) = sandbox.run(&behave.module);
                assert_eq!(outcome, Err(CallError::Trap(TrapKind::StackOverflow)));
            }

            // An endless loop, stopped from another thread.
            let sandbox = Sandbox {
                interrupt_after: Some(Duration::from_millis(100)),
                ..Sandbox::new(&["spin"])
            };
            let started = Instant::now();
            let (outcome, _, _) = sandbox.run(&behave.module);
            assert_eq!(outcome, Err(CallError::Trap(TrapKind::Interrupted)));
            assert!(started.elapsed() < Duration::from_secs(2));

            // A long sleep (poll_oneoff), stopped from another thread.
            let sandbox = Sandbox {
                interrupt_after: Some(Duration::from_millis(100)),
                ..Sandbox::new(&["30"])
            };
            let started = Instant::now();
            let (outcome, out, _) = sandbox.run(&sleep.module);
            assert_eq!(outcome, Err(CallError::Trap(TrapKind::Interrupted)));
            assert!(started.elapsed() < Duration::from_secs(2));
            assert_eq!(text(&out), "");

            // Escape attempts.
            let setup = EscapeSetup::new();
            let sandbox_dir = setup.sandbox();
            let sandbox = Sandbox {
                preopen: Some((&sandbox_dir, ESCAPE_GUEST)),
                ..Sandbox::new(&[ESCAPE_GUEST])
            };
            let (outcome, out, _) = sandbox.run(&escape.module);
            let out = text(&out);
            assert!(
                matches!(outcome, Ok(()) | Err(CallError::Exit(0))),
                "{outcome:?}"
            );
            assert!(
                out.lines().last().is_some_and(|l| l.starts_with("done ")),
                "{out}"
            );
            let bad: Vec<&str> = out
                .lines()
                .filter(|l| l.contains(": ESCAPED") || l.contains(": FAILED"))
                .collect();
            assert!(bad.is_empty(), "{bad:#?}");
            assert_eq!(
                std::fs::read_to_string(setup.sentinel()).unwrap(),
                ESCAPE_SECRET
            );

            // Hostile pointers and lengths in WASI calls.
            assert_hostile_calls_fail_cleanly(&sandbox_dir);
        }

        // After all that, a healthy sandbox works exactly.
        let sandbox = Sandbox {
            stdin: b"Luge\n",
            ..Sandbox::new(&[])
        };
        let (outcome, out, _) = sandbox.run(&hello.module);
        // wasi-libc's _start returns when main returns 0 (and would call
        // proc_exit(0) through exit(0)): both are success.
        assert!(
            matches!(outcome, Ok(()) | Err(CallError::Exit(0))),
            "{outcome:?}"
        );
        assert_eq!(text(&out), "Hello, Luge!\n");
    }
}
