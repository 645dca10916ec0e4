//! Sandbox guarantees of the runtime, checked in both bounds modes: every
//! trap kind is reported as such, traps leave the process and other
//! instances intact, limits hold, guests can be interrupted, host functions
//! and shared memories work, and faults outside guest code still crash.

#[path = "common/target.rs"]
mod target;

use awsm_compiler::{BoundsMode, CompileOptions};
use luge_runtime::*;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const MODES: [BoundsMode; 2] = [BoundsMode::Guard, BoundsMode::Software];

/// Runs `test` once per bounds mode; the mode shows in a failure's output.
fn in_both_modes(test: impl Fn(BoundsMode)) {
    for mode in MODES {
        eprintln!("--- bounds mode {mode:?}");
        test(mode);
    }
}

/// A compiled, loaded module and the directory holding its `.so`.
struct Compiled {
    module: Module,
    _dir: tempfile::TempDir,
}

fn compile(wat: &str, bounds: BoundsMode) -> Compiled {
    let wasm = wat::parse_str(wat).expect("test module parses");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.so");
    let opts = CompileOptions {
        bounds,
        ..Default::default()
    };
    awsm_compiler::compile_to_file(&wasm, &opts, &path).expect("test module compiles");
    let module = Module::load(&path).expect("compiled module loads");
    Compiled { module, _dir: dir }
}

fn instantiate_with(
    c: &Compiled,
    store: &Store,
    imports: &[Extern],
    config: &InstanceConfig,
) -> Instance {
    Instance::new(&c.module, store, imports, config).expect("instantiation succeeds")
}

fn instantiate(c: &Compiled, store: &Store) -> Instance {
    instantiate_with(c, store, &[], &InstanceConfig::default())
}

fn trap(kind: TrapKind) -> Result<Vec<Val>, CallError> {
    Err(CallError::Trap(kind))
}

/// `len` bytes of `memory` at `offset`.
fn read(memory: &Memory, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    memory.read(offset, &mut buf).expect("range is in bounds");
    buf
}

fn i32s(values: &[i32]) -> Vec<Val> {
    values.iter().map(|&v| Val::I32(v)).collect()
}

/// A module with one way to reach each trap kind, and a healthy function.
const TRAPS: &str = r#"(module
  (type $ret_i32 (func (result i32)))
  (memory 1)
  (table $t 3 funcref)
  (elem (i32.const 0) $forty_two)
  (elem (i32.const 2) $takes_i64)
  (func $forty_two (type $ret_i32) (i32.const 42))
  (func $takes_i64 (param i64) (result i32) (i32.wrap_i64 (local.get 0)))
  (func (export "unreachable") unreachable)
  (func (export "div_s") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "rem_u") (param i32 i32) (result i32) (i32.rem_u (local.get 0) (local.get 1)))
  (func (export "trunc") (param f32) (result i32) (i32.trunc_f32_s (local.get 0)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "load64") (param i32) (result i64) (i64.load (local.get 0)))
  (func (export "store_far") (param i32) (i32.store offset=4294967295 (local.get 0) (i32.const 1)))
  (func (export "table_get_is_null") (param i32) (result i32)
    (ref.is_null (table.get $t (local.get 0))))
  (func (export "call_indirect") (param i32) (result i32)
    (call_indirect (type $ret_i32) (local.get 0)))
  (func $recurse (export "recurse") (call $recurse))
  (func $fac (export "fac") (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.const 1))
      (else (i64.mul (local.get 0) (call $fac (i64.sub (local.get 0) (i64.const 1)))))))
  (func $depth (export "depth") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $depth (i32.sub (local.get 0) (i32.const 1)))))))
)"#;

const PAGE: i32 = 65536;

/// `(function, arguments, trap)` for every trap kind guest code can raise
/// on its own.
fn trap_cases() -> Vec<(&'static str, Vec<Val>, TrapKind)> {
    use TrapKind::*;
    vec![
        ("unreachable", vec![], Unreachable),
        ("div_s", i32s(&[1, 0]), IntegerDivideByZero),
        ("rem_u", i32s(&[1, 0]), IntegerDivideByZero),
        ("div_s", i32s(&[i32::MIN, -1]), IntegerOverflow),
        (
            "trunc",
            vec![Val::F32(f32::NAN.to_bits())],
            InvalidConversion,
        ),
        ("load", i32s(&[PAGE]), MemoryOutOfBounds),
        ("load", i32s(&[PAGE - 3]), MemoryOutOfBounds),
        ("load", i32s(&[-1]), MemoryOutOfBounds),
        ("load64", i32s(&[PAGE - 4]), MemoryOutOfBounds),
        ("store_far", i32s(&[0]), MemoryOutOfBounds),
        ("store_far", i32s(&[0x10]), MemoryOutOfBounds),
        ("store_far", i32s(&[-1]), MemoryOutOfBounds),
        ("table_get_is_null", i32s(&[3]), TableOutOfBounds),
        ("table_get_is_null", i32s(&[-1]), TableOutOfBounds),
        ("call_indirect", i32s(&[3]), UndefinedElement),
        ("call_indirect", i32s(&[-1]), UndefinedElement),
        ("call_indirect", i32s(&[1]), UninitializedElement),
        ("call_indirect", i32s(&[2]), IndirectCallTypeMismatch),
        ("recurse", vec![], StackOverflow),
    ]
}

/// The same functions used within their limits.
fn assert_healthy(i: &Instance) {
    assert_eq!(i.call("div_s", &i32s(&[7, 2])), Ok(i32s(&[3])));
    assert_eq!(
        i.call("div_s", &i32s(&[i32::MIN, 1])),
        Ok(i32s(&[i32::MIN]))
    );
    assert_eq!(i.call("rem_u", &i32s(&[7, 2])), Ok(i32s(&[1])));
    assert_eq!(
        i.call("trunc", &[Val::F32((-2.75f32).to_bits())]),
        Ok(i32s(&[-2]))
    );
    assert_eq!(i.call("load", &i32s(&[PAGE - 4])), Ok(i32s(&[0])));
    assert_eq!(i.call("load64", &i32s(&[PAGE - 8])), Ok(vec![Val::I64(0)]));
    assert_eq!(i.call("table_get_is_null", &i32s(&[0])), Ok(i32s(&[0])));
    assert_eq!(i.call("table_get_is_null", &i32s(&[1])), Ok(i32s(&[1])));
    assert_eq!(i.call("call_indirect", &i32s(&[0])), Ok(i32s(&[42])));
    assert_eq!(i.call("depth", &i32s(&[1000])), Ok(i32s(&[1000])));
    assert_eq!(
        i.call("fac", &[Val::I64(20)]),
        Ok(vec![Val::I64(2432902008176640000)])
    );
}

#[test]
fn every_trap_kind_is_reported() {
    in_both_modes(|mode| {
        let c = compile(TRAPS, mode);
        let store = Store::default();
        let i = instantiate(&c, &store);
        assert_healthy(&i);
        for (func, args, kind) in trap_cases() {
            assert_eq!(i.call(func, &args), trap(kind), "{func}{args:?}");
            assert_healthy(&i);
        }
    });
}

#[test]
fn stack_overflow_leaves_the_instance_usable() {
    in_both_modes(|mode| {
        let c = compile(TRAPS, mode);
        let store = Store::default();
        let i = instantiate(&c, &store);
        for _ in 0..3 {
            assert_eq!(i.call("recurse", &[]), trap(TrapKind::StackOverflow));
            assert_healthy(&i);
        }
    });
}

#[test]
fn many_traps_leave_the_process_and_other_instances_intact() {
    in_both_modes(|mode| {
        let c = compile(TRAPS, mode);
        let shared_store = Store::default();
        let own_stores: Vec<Store> = (0..10).map(|_| Store::default()).collect();
        let stores = own_stores
            .iter()
            .chain(std::iter::repeat_n(&shared_store, 10));
        let instances: Vec<Instance> = stores.map(|s| instantiate(&c, s)).collect();
        let cases = trap_cases();
        for n in 0..200 {
            let (func, args, kind) = &cases[n % cases.len()];
            let i = &instances[n % instances.len()];
            assert_eq!(i.call(func, args), trap(*kind), "call {n}: {func}{args:?}");
        }
        let fresh_store = Store::default();
        assert_healthy(&instantiate(&c, &fresh_store));
        for i in &instances {
            assert_healthy(i);
        }
    });
}

#[test]
fn traps_on_several_threads_at_once() {
    in_both_modes(|mode| {
        let c = compile(TRAPS, mode);
        let cases = trap_cases();
        std::thread::scope(|s| {
            for t in 0..4 {
                let (c, cases) = (&c, &cases);
                s.spawn(move || {
                    let store = Store::default();
                    let instances: Vec<Instance> = (0..3).map(|_| instantiate(c, &store)).collect();
                    for n in 0..50 {
                        let (func, args, kind) = &cases[(n + t) % cases.len()];
                        let i = &instances[n % instances.len()];
                        assert_eq!(
                            i.call(func, args),
                            trap(*kind),
                            "thread {t} call {n}: {func}{args:?}"
                        );
                    }
                    for i in &instances {
                        assert_healthy(i);
                    }
                });
            }
        });
    });
}

#[test]
fn stack_overflow_on_a_thread_with_a_small_stack_is_a_trap() {
    in_both_modes(|mode| {
        let c = compile(TRAPS, mode);
        std::thread::scope(|s| {
            // Smaller than the store's stack budget: the guest must stop
            // short of the thread's own guard page.
            let small = std::thread::Builder::new().stack_size(256 << 10);
            small
                .spawn_scoped(s, || {
                    let store = Store::new(DEFAULT_MAX_STACK);
                    let i = instantiate(&c, &store);
                    assert_eq!(i.call("recurse", &[]), trap(TrapKind::StackOverflow));
                    assert_eq!(
                        i.call("depth", &i32s(&[1_000_000])),
                        trap(TrapKind::StackOverflow)
                    );
                    assert_eq!(i.call("depth", &i32s(&[100])), Ok(i32s(&[100])));
                })
                .unwrap()
                .join()
                .unwrap();
        });
    });
}

#[test]
fn store_stack_budget_limits_recursion_depth() {
    in_both_modes(|mode| {
        let c = compile(TRAPS, mode);
        let small = Store::new(64 << 10);
        let large = Store::default();
        let (i_small, i_large) = (instantiate(&c, &small), instantiate(&c, &large));
        assert_eq!(
            i_small.call("depth", &i32s(&[5_000])),
            trap(TrapKind::StackOverflow)
        );
        assert_eq!(i_large.call("depth", &i32s(&[5_000])), Ok(i32s(&[5_000])));
        assert_eq!(i_small.call("depth", &i32s(&[100])), Ok(i32s(&[100])));
    });
}

#[test]
fn reused_memory_starts_zeroed() {
    const WAT: &str = r#"(module
      (memory (export "mem") 1)
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
      (func (export "fill") (param i32 i32) (memory.fill (i32.const 0) (local.get 0) (local.get 1))))"#;
    in_both_modes(|mode| {
        let c = compile(WAT, mode);
        for round in 0..4 {
            let store = Store::default();
            let i = instantiate(&c, &store);
            let memory = i.memory().unwrap();
            assert_eq!(memory.pages(), 1, "round {round}");
            assert_eq!(i.call("grow", &i32s(&[2])), Ok(i32s(&[1])), "round {round}");
            let len = 3 * PAGE as usize;
            assert!(
                read(memory, 0, len).iter().all(|&b| b == 0),
                "round {round}: memory holds a previous instance's data"
            );
            assert_eq!(i.call("fill", &i32s(&[0xAB, len as i32])), Ok(vec![]));
        }
    });
}

#[test]
fn a_trapping_instance_does_not_touch_another_instances_memory() {
    const WAT: &str = r#"(module
      (memory (export "mem") 1)
      (func (export "scribble_then_trap") (param $byte i32) (local $i i32)
        (loop $l
          (i32.store8 (local.get $i) (local.get $byte))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 1024))))
        (i32.store (i32.const 65536) (i32.const 0))))"#;
    in_both_modes(|mode| {
        let c = compile(WAT, mode);
        let store = Store::default();
        let victim = instantiate(&c, &store);
        let attacker = instantiate(&c, &store);
        let bytes = |i: &Instance| read(i.memory().unwrap(), 0, 1024);
        victim.memory().unwrap().fill(0, 1024, b'v').unwrap();
        assert_eq!(
            attacker.call("scribble_then_trap", &i32s(&[b'a' as i32])),
            trap(TrapKind::MemoryOutOfBounds)
        );
        assert_eq!(bytes(&victim), vec![b'v'; 1024]);
        // The attacker's own writes before the trap stay, as the spec says.
        assert_eq!(bytes(&attacker), vec![b'a'; 1024]);
        assert_eq!(
            victim.call("scribble_then_trap", &i32s(&[b'w' as i32])),
            trap(TrapKind::MemoryOutOfBounds)
        );
        assert_eq!(bytes(&victim), vec![b'w'; 1024]);
        assert_eq!(bytes(&attacker), vec![b'a'; 1024]);
    });
}

const GROWABLE: &str = r#"(module
  (memory (export "mem") 1)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  (func (export "poke") (param i32) (i32.store8 (local.get 0) (i32.const 7))))"#;

fn limited(pages: u32) -> InstanceConfig {
    InstanceConfig {
        memory_limit_pages: pages,
        memory_budget: None,
    }
}

#[test]
fn memory_grows_up_to_the_instance_limit_only() {
    in_both_modes(|mode| {
        let c = compile(GROWABLE, mode);
        let store = Store::default();
        let i = instantiate_with(&c, &store, &[], &limited(3));
        assert_eq!(i.call("grow", &i32s(&[1])), Ok(i32s(&[1])));
        assert_eq!(
            i.call("grow", &i32s(&[2])),
            Ok(i32s(&[-1])),
            "past the limit"
        );
        assert_eq!(i.call("grow", &i32s(&[1])), Ok(i32s(&[2])));
        assert_eq!(
            i.call("grow", &i32s(&[1])),
            Ok(i32s(&[-1])),
            "past the limit"
        );
        assert_eq!(i.call("grow", &i32s(&[0])), Ok(i32s(&[3])));
        assert_eq!(i.call("size", &[]), Ok(i32s(&[3])));
        assert_eq!(i.call("poke", &i32s(&[3 * PAGE - 1])), Ok(vec![]));
        assert_eq!(
            i.call("poke", &i32s(&[3 * PAGE])),
            trap(TrapKind::MemoryOutOfBounds)
        );
        assert_eq!(i.memory().unwrap().pages(), 3);
    });
}

#[test]
fn declared_maximum_below_the_limit_still_applies() {
    let wat = GROWABLE.replace(
        "(memory (export \"mem\") 1)",
        "(memory (export \"mem\") 1 2)",
    );
    in_both_modes(|mode| {
        let c = compile(&wat, mode);
        let store = Store::default();
        let i = instantiate_with(&c, &store, &[], &limited(10));
        assert_eq!(i.call("grow", &i32s(&[2])), Ok(i32s(&[-1])));
        assert_eq!(i.call("grow", &i32s(&[1])), Ok(i32s(&[1])));
        assert_eq!(i.call("grow", &i32s(&[1])), Ok(i32s(&[-1])));
    });
}

/// Loads and stores that start inside a memory grown to its largest size
/// and run past its end, and constant addresses around the end of its
/// first page. In `software` mode the code checks only the start against
/// the length, and no check at all for a constant address inside the
/// minimum size, and relies on the guard the runtime reserves past the
/// largest length, so this probes that guard.
const AT_THE_END: &str = r#"(module
  (memory 1 2)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "load64") (param i32) (result i64) (i64.load (local.get 0)))
  (func (export "load64_far") (param i32) (result i64) (i64.load offset=1000 (local.get 0)))
  (func (export "store64") (param i32) (i64.store (local.get 0) (i64.const -1)))
  (func (export "load128") (param i32) (result i32)
    (i32x4.extract_lane 3 (v128.load offset=16 (local.get 0))))
  ;; Constant addresses, as C code reads its globals.
  (func (export "second_page") (result i64) (i64.load (i32.const 65536)))
  (func (export "first_page_end") (result i64) (i64.load offset=65528 (i32.const 0)))
  (func (export "across_first_page_end") (result i64) (i64.load offset=65532 (i32.const 0))))"#;

#[test]
fn accesses_running_past_a_memory_at_its_maximum_trap() {
    in_both_modes(|mode| {
        let c = compile(AT_THE_END, mode);
        let store = Store::default();
        let i = instantiate(&c, &store);
        let oob = trap(TrapKind::MemoryOutOfBounds);
        assert_eq!(i.call("second_page", &[]), oob);
        assert_eq!(i.call("first_page_end", &[]), Ok(vec![Val::I64(0)]));
        assert_eq!(i.call("across_first_page_end", &[]), oob);
        assert_eq!(i.call("grow", &i32s(&[1])), Ok(i32s(&[1])));
        assert_eq!(i.call("second_page", &[]), Ok(vec![Val::I64(0)]));
        assert_eq!(i.call("across_first_page_end", &[]), Ok(vec![Val::I64(0)]));
        let end = 2 * PAGE;
        assert_eq!(i.call("load64", &i32s(&[end - 8])), Ok(vec![Val::I64(0)]));
        assert_eq!(i.call("load64", &i32s(&[end - 7])), oob);
        assert_eq!(i.call("load64", &i32s(&[end - 1])), oob);
        assert_eq!(
            i.call("load64_far", &i32s(&[end - 1008])),
            Ok(vec![Val::I64(0)])
        );
        assert_eq!(i.call("load64_far", &i32s(&[end - 1004])), oob);
        assert_eq!(i.call("load64_far", &i32s(&[end])), oob);
        assert_eq!(i.call("load128", &i32s(&[end - 32])), Ok(i32s(&[0])));
        assert_eq!(i.call("load128", &i32s(&[end - 20])), oob);
        assert_eq!(i.call("store64", &i32s(&[end - 8])), Ok(vec![]));
        assert_eq!(i.call("store64", &i32s(&[end - 2])), oob);
        assert_eq!(i.call("load64", &i32s(&[end - 8])), Ok(vec![Val::I64(-1)]));
    });
}

#[test]
fn minimum_above_the_limit_fails_instantiation() {
    in_both_modes(|mode| {
        let c = compile("(module (memory 4))", mode);
        let store = Store::default();
        let result = Instance::new(&c.module, &store, &[], &limited(3));
        assert!(
            matches!(
                result,
                Err(InstantiationError::Memory(MemoryError::TooLarge {
                    needed: 4,
                    limit: 3
                }))
            ),
            "{:?}",
            result.err()
        );
        assert!(Instance::new(&c.module, &store, &[], &limited(4)).is_ok());
    });
}

#[test]
fn trap_in_start_function_fails_instantiation() {
    let cases = [
        ("unreachable", TrapKind::Unreachable),
        (
            "(drop (i32.load (i32.const 65536)))",
            TrapKind::MemoryOutOfBounds,
        ),
        (
            "(drop (i32.div_u (i32.const 1) (i32.const 0)))",
            TrapKind::IntegerDivideByZero,
        ),
    ];
    in_both_modes(|mode| {
        for (body, kind) in cases {
            let wat = format!("(module (memory 1) (func $start {body}) (start $start))");
            let c = compile(&wat, mode);
            let store = Store::default();
            match Instance::new(&c.module, &store, &[], &InstanceConfig::default()) {
                Err(InstantiationError::Trap(k)) => assert_eq!(k, kind, "{body}"),
                Err(e) => panic!("{body}: expected a {kind:?} trap, got error {e}"),
                Ok(_) => panic!("{body}: expected a {kind:?} trap, instantiation succeeded"),
            }
        }
    });
}

const SPINNING: &str = r#"(module
  (func $noop)
  (func (export "spin") (loop (br 0)))
  (func (export "spin_calls") (loop (call $noop) (br 0)))
  (func (export "ok") (result i32) (i32.const 1)))"#;

/// Runs `func` of [`SPINNING`] on its own thread, interrupts it from this
/// one after 50 ms, and returns what the call returned followed by what a
/// second, normal call on the same instance returned.
fn interrupt_after_50ms(
    mode: BoundsMode,
    func: &'static str,
) -> (Result<Vec<Val>, CallError>, Result<Vec<Val>, CallError>) {
    let (handle_tx, handle_rx) = mpsc::channel();
    let (result_tx, result_rx) = mpsc::channel();
    // The guest runs on a detached thread so that a guest that is never
    // interrupted fails this test instead of hanging it.
    std::thread::spawn(move || {
        let c = compile(SPINNING, mode);
        let store = Store::default();
        let i = instantiate(&c, &store);
        handle_tx.send(store.interrupt_handle()).unwrap();
        let interrupted = i.call(func, &[]);
        let after = i.call("ok", &[]);
        result_tx.send((interrupted, after)).unwrap();
    });
    let handle = handle_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("guest thread starts");
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(50));
    handle.interrupt();
    let result = result_rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("`{func}` still running 10 s after interrupt()"));
    assert!(started.elapsed() >= Duration::from_millis(50));
    result
}

#[test]
fn interrupt_stops_a_loop_without_calls() {
    in_both_modes(|mode| {
        let (interrupted, after) = interrupt_after_50ms(mode, "spin");
        assert_eq!(interrupted, trap(TrapKind::Interrupted));
        assert_eq!(after, Ok(i32s(&[1])), "the interrupt is consumed");
    });
}

#[test]
fn interrupt_stops_a_loop_that_calls() {
    in_both_modes(|mode| {
        let (interrupted, after) = interrupt_after_50ms(mode, "spin_calls");
        assert_eq!(interrupted, trap(TrapKind::Interrupted));
        assert_eq!(after, Ok(i32s(&[1])), "the interrupt is consumed");
    });
}

std::thread_local! {
    static HOST_CALLS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

extern "C" fn combine(vmctx: *mut u8, a: i32, b: i64, c: f64) -> i64 {
    assert!(!vmctx.is_null());
    HOST_CALLS.with(|n| n.set(n.get() + 1));
    i64::from(a) * 1_000_000 + b * 1000 + c as i64
}

/// `Func::host` for an `extern "C"` function.
///
/// # Safety
/// `code` must take the context pointer followed by `params` and return
/// `results` (at most one).
unsafe fn host_func(code: *const u8, params: &[ValType], results: &[ValType]) -> Extern {
    let ty = FuncType {
        params: params.to_vec(),
        results: results.to_vec(),
    };
    // SAFETY: the caller's contract.
    Extern::Func(unsafe { Func::host(code, ty) })
}

#[test]
fn host_function_receives_arguments_and_returns_its_result() {
    const WAT: &str = r#"(module
      (import "host" "combine" (func $combine (param i32 i64 f64) (result i64)))
      (func (export "run") (param i32 i64 f64) (result i64)
        (i64.add (call $combine (local.get 0) (local.get 1) (local.get 2)) (i64.const 1))))"#;
    in_both_modes(|mode| {
        let c = compile(WAT, mode);
        let store = Store::default();
        use ValType::*;
        // SAFETY: `combine` has exactly this signature.
        let import = unsafe { host_func(combine as *const u8, &[I32, I64, F64], &[I64]) };
        let i = instantiate_with(&c, &store, &[import], &InstanceConfig::default());
        let before = HOST_CALLS.with(|n| n.get());
        let args = [Val::I32(7), Val::I64(-3), Val::F64(2.5f64.to_bits())];
        assert_eq!(
            i.call("run", &args),
            Ok(vec![Val::I64(7_000_000 - 3000 + 2 + 1)])
        );
        assert_eq!(HOST_CALLS.with(|n| n.get()), before + 1);
    });
}

extern "C" fn panics(_vmctx: *mut u8) -> i32 {
    // SAFETY: called by compiled code, whose sandbox the panic ends; this
    // frame owns nothing.
    unsafe { luge_runtime::sys::host_call(|| panic!("host bug {}", 42)) }
}

#[test]
fn a_panic_in_a_host_function_ends_only_its_call() {
    const WAT: &str = r#"(module
      (import "host" "panics" (func $panics (result i32)))
      (func (export "run") (result i32) (call $panics))
      (func (export "fine") (result i32) (i32.const 7)))"#;
    in_both_modes(|mode| {
        let c = compile(WAT, mode);
        let store = Store::default();
        // SAFETY: `panics` has exactly this signature.
        let import = unsafe { host_func(panics as *const u8, &[], &[ValType::I32]) };
        let i = instantiate_with(&c, &store, &[import], &InstanceConfig::default());
        let panicked = Err(CallError::HostPanic("host bug 42".into()));
        assert_eq!(i.call("run", &[]), panicked);
        assert_eq!(i.call("fine", &[]), Ok(i32s(&[7])), "the instance lives on");
        assert_eq!(i.call("run", &[]), panicked, "and may panic again");
    });
}

#[test]
fn memory_exported_by_one_instance_is_shared_with_its_importer() {
    const FUNCS: &str = r#"
      (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
      (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
      (func (export "size") (result i32) (memory.size))"#;
    let exporter = format!(r#"(module (memory (export "mem") 1 4) {FUNCS})"#);
    let importer = format!(r#"(module (import "env" "mem" (memory 1 4)) {FUNCS})"#);
    in_both_modes(|mode| {
        let (ce, ci) = (compile(&exporter, mode), compile(&importer, mode));
        let store = Store::default();
        let a = instantiate(&ce, &store);
        let mem = a.get_export("mem").expect("memory is exported");
        let b = instantiate_with(&ci, &store, &[mem], &InstanceConfig::default());
        let load = |i: &Instance, addr: i32| i.call("load", &i32s(&[addr]));
        let store_ = |i: &Instance, addr: i32, v: i32| {
            assert_eq!(i.call("store", &i32s(&[addr, v])), Ok(vec![]))
        };

        store_(&a, 16, 111);
        assert_eq!(
            load(&b, 16),
            Ok(i32s(&[111])),
            "importer sees the exporter's write"
        );
        store_(&b, 32, 222);
        assert_eq!(
            load(&a, 32),
            Ok(i32s(&[222])),
            "exporter sees the importer's write"
        );

        a.memory()
            .unwrap()
            .write(48, &555i32.to_le_bytes())
            .unwrap();
        assert_eq!(
            load(&b, 48),
            Ok(i32s(&[555])),
            "importer sees the host's write"
        );
        assert_eq!(read(b.memory().unwrap(), 16, 4), 111i32.to_le_bytes());

        assert_eq!(load(&a, PAGE), trap(TrapKind::MemoryOutOfBounds));
        assert_eq!(b.call("grow", &i32s(&[1])), Ok(i32s(&[1])));
        assert_eq!(
            a.call("size", &[]),
            Ok(i32s(&[2])),
            "exporter sees the growth"
        );
        assert_eq!(a.memory().unwrap().pages(), 2);
        store_(&a, PAGE + 8, 333);
        assert_eq!(load(&b, PAGE + 8), Ok(i32s(&[333])));
        assert_eq!(a.call("grow", &i32s(&[1])), Ok(i32s(&[2])));
        assert_eq!(
            b.call("size", &[]),
            Ok(i32s(&[3])),
            "importer sees the growth"
        );
        store_(&b, 2 * PAGE + 4, 444);
        assert_eq!(load(&a, 2 * PAGE + 4), Ok(i32s(&[444])));
        assert_eq!(load(&a, 3 * PAGE), trap(TrapKind::MemoryOutOfBounds));
        assert_eq!(load(&b, 3 * PAGE), trap(TrapKind::MemoryOutOfBounds));
    });
}

/// Set in the child process `host_fault_crashes_the_process` starts, to the
/// bounds mode to use.
const HOST_FAULT_ENV: &str = "LUGE_TEST_HOST_FAULT_MODE";
/// Printed by the faulting host function just before it faults.
const HOST_FAULT_MARKER: &str = "host function: loading from address 0";

/// A host function with a bug: it loads from address 0. (Inline assembly,
/// so that the fault is a real null dereference rather than undefined
/// behaviour the Rust compiler may rewrite or a debug check catches.)
extern "C" fn null_deref(_vmctx: *mut u8) -> i32 {
    eprintln!("{HOST_FAULT_MARKER}");
    let value: u32;
    // SAFETY: not safe at all; this load is meant to fault.
    unsafe {
        #[cfg(target_arch = "x86_64")]
        std::arch::asm!("mov {0:e}, dword ptr [{1}]", out(reg) value, in(reg) 0usize, options(nostack, readonly));
        #[cfg(target_arch = "aarch64")]
        std::arch::asm!("ldr {0:w}, [{1}]", out(reg) value, in(reg) 0usize, options(nostack, readonly));
    }
    value as i32
}

/// Only does something in the child process of
/// `host_fault_crashes_the_process`: calls into wasm, which calls a host
/// function that dereferences null. That must kill the process.
#[test]
fn host_fault_child() {
    let Some(mode) = std::env::var_os(HOST_FAULT_ENV) else {
        return;
    };
    let mode = MODES
        .into_iter()
        .find(|m| format!("{m:?}") == mode.to_str().unwrap())
        .expect("known bounds mode");
    let c = compile(
        r#"(module
          (import "host" "null_deref" (func $bug (result i32)))
          (func (export "run") (result i32) (call $bug)))"#,
        mode,
    );
    let store = Store::default();
    // SAFETY: `null_deref` takes only the context and returns an i32.
    let import = unsafe { host_func(null_deref as *const u8, &[], &[ValType::I32]) };
    let i = instantiate_with(&c, &store, &[import], &InstanceConfig::default());
    let result = i.call("run", &[]);
    eprintln!("a host fault did not kill the process; the call returned {result:?}");
    std::process::exit(3);
}

#[test]
fn host_fault_crashes_the_process() {
    use std::os::unix::process::ExitStatusExt;
    in_both_modes(|mode| {
        let out = target::target_command(std::env::current_exe().unwrap())
            .args([
                "host_fault_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(HOST_FAULT_ENV, format!("{mode:?}"))
            .output()
            .expect("test binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(HOST_FAULT_MARKER),
            "the child did not reach the host function; status {:?}\nstderr:\n{stderr}",
            out.status
        );
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGSEGV),
            "child should die of SIGSEGV; status {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            stderr
        );
    });
}

#[test]
fn modules_loaded_at_once_or_one_after_another_each_run_their_own_code() {
    let answer = |n: i32| format!(r#"(module (func (export "f") (result i32) i32.const {n}))"#);
    let mode = BoundsMode::Software;
    let call = |c: &Compiled| {
        let store = Store::new(1 << 20);
        instantiate(c, &store).get_func("f").unwrap().call(&[])
    };
    // The loader knows each object by a path that a later one could reuse.
    let (one, two) = (compile(&answer(1), mode), compile(&answer(2), mode));
    assert_eq!(call(&one), Ok(i32s(&[1])));
    assert_eq!(call(&two), Ok(i32s(&[2])));
    drop(one);
    let three = compile(&answer(3), mode);
    assert_eq!(call(&three), Ok(i32s(&[3])));
    assert_eq!(call(&two), Ok(i32s(&[2])));
}

#[test]
fn the_host_sets_a_mutable_global_and_code_sees_it() {
    in_both_modes(|bounds| {
        let c = compile(
            r#"(module
                (global (export "g") (mut i64) (i64.const 1))
                (global (export "k") i32 (i32.const 7))
                (func (export "get") (result i64) global.get 0))"#,
            bounds,
        );
        let store = Store::default();
        let instance = instantiate(&c, &store);
        let Some(Extern::Global(g)) = instance.get_export("g") else {
            panic!("no global g");
        };
        g.set(Val::I64(-5)).unwrap();
        assert_eq!(instance.call("get", &[]), Ok(vec![Val::I64(-5)]));
        assert_eq!(
            g.set(Val::I32(1)),
            Err(SetGlobalError::Type {
                global: ValType::I64,
                value: ValType::I32
            })
        );
        let Some(Extern::Global(k)) = instance.get_export("k") else {
            panic!("no global k");
        };
        assert_eq!(k.set(Val::I32(8)), Err(SetGlobalError::Immutable));
        assert_eq!(k.get(), Val::I32(7));
    });
}
