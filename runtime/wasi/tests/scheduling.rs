//! Guest code running as scheduler tasks: a loop without calls is
//! preempted by the ticker so that other tasks run on the same worker, a
//! task that traps after being preempted is cleaned up, EDF prefers the
//! earlier deadline, a sandbox past its timeout is stopped, and sleeping
//! WASI programs park instead of holding a worker.

use awsm_compiler::{BoundsMode, CompileOptions};
use luge_runtime::{
    CallError, Instance, InstanceConfig, InterruptHandle, Module, Store, TrapKind, Val,
};
use luge_scheduler::queue::Policy;
use luge_scheduler::task::TaskOptions;
use luge_scheduler::worker::Scheduler;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const QUANTUM: Duration = Duration::from_millis(5);

fn compile(wat: &str, bounds: BoundsMode) -> (tempfile::TempDir, Module) {
    compile_with(
        wat,
        CompileOptions {
            bounds,
            ..CompileOptions::default()
        },
    )
}

fn compile_with(wat: &str, opts: CompileOptions) -> (tempfile::TempDir, Module) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.so");
    awsm_compiler::compile_to_file(&wat::parse_str(wat).unwrap(), &opts, &path).unwrap();
    let module = Module::load(&path).unwrap();
    (dir, module)
}

const SPIN: &str = r#"(module
  (func (export "spin") (loop br 0))
  (func (export "count") (param i64) (result i64) (local i64)
    (loop
      (local.set 1 (i64.add (local.get 1) (i64.const 1)))
      (br_if 0 (i64.lt_u (local.get 1) (local.get 0))))
    (local.get 1))
  (func (export "count_then_trap") (param i64)
    (drop (call 1 (local.get 0)))
    unreachable))"#;

/// One worker, so that anything else only runs if the guest is preempted.
fn one_worker() -> Scheduler {
    Scheduler::with_config(1, 2 << 20, Some(QUANTUM), Policy::Fifo)
}

type Guest = (
    mpsc::Receiver<InterruptHandle>,
    mpsc::Receiver<Result<Vec<Val>, CallError>>,
);

/// Spawns a task that calls `export` with `args` and reports the result;
/// the task first hands out its store's interrupt handle.
fn spawn_guest(
    scheduler: &Scheduler,
    module: &Module,
    export: &'static str,
    args: Vec<Val>,
) -> Guest {
    spawn_guest_with(scheduler, TaskOptions::default(), module, export, args)
}

fn deadline_in(relative: Duration) -> TaskOptions {
    TaskOptions {
        relative_deadline: Some(relative),
        ..TaskOptions::default()
    }
}

/// Like [`spawn_guest`], with a deadline or a timeout; the store is
/// interrupted at the task's timeout.
fn spawn_guest_with(
    scheduler: &Scheduler,
    options: TaskOptions,
    module: &Module,
    export: &'static str,
    args: Vec<Val>,
) -> Guest {
    let (handle_tx, handle_rx) = mpsc::channel();
    let (result_tx, result_rx) = mpsc::channel();
    let module = module.clone();
    let body = move || {
        let store = Store::new(1 << 20);
        let instance = Instance::new(&module, &store, &[], &InstanceConfig::default()).unwrap();
        store.interrupt_on_task_timeout();
        let _ = handle_tx.send(store.interrupt_handle());
        let _ = result_tx.send(instance.call(export, &args));
    };
    scheduler.spawn_with(options, body);
    (handle_rx, result_rx)
}

#[test]
fn a_loop_without_calls_is_preempted_for_a_short_task() {
    for bounds in [BoundsMode::Guard, BoundsMode::Software] {
        let (_dir, module) = compile(SPIN, bounds);
        let scheduler = one_worker();
        let (handle, spin_result) = spawn_guest(&scheduler, &module, "spin", vec![]);
        let handle = handle
            .recv_timeout(Duration::from_secs(5))
            .expect("spinner started");
        let (done_tx, done_rx) = mpsc::channel();
        let queued = Instant::now();
        scheduler.spawn(move || done_tx.send(queued.elapsed()).unwrap());
        let waited = done_rx.recv_timeout(Duration::from_secs(5));
        // Stop the spinner before asserting, so that a failure does not
        // leave the worker spinning forever.
        handle.interrupt();
        let waited = waited.expect("the short task never ran: the spinner was not preempted");
        // Two quanta is the target; the margin absorbs a loaded machine.
        assert!(
            waited < Duration::from_millis(500),
            "{bounds:?}: waited {waited:?}"
        );
        assert_eq!(
            spin_result.recv_timeout(Duration::from_secs(5)).unwrap(),
            Err(CallError::Trap(TrapKind::Interrupted))
        );
        scheduler.wait_idle();
    }
}

#[test]
fn preempted_guests_compute_correctly_and_traps_after_preemption_are_cleaned_up() {
    let (_dir, module) = compile(SPIN, BoundsMode::Guard);
    // With two workers, preempted guests also resume on the other thread.
    for workers in [1, 2] {
        let scheduler = Scheduler::with_config(workers, 2 << 20, Some(QUANTUM), Policy::Fifo);
        // Long enough to be preempted many times on this machine.
        let n = 300_000_000i64;
        let counted: Vec<_> = (0..3)
            .map(|_| spawn_guest(&scheduler, &module, "count", vec![Val::I64(n)]).1)
            .collect();
        let (_h2, trapped) = spawn_guest(&scheduler, &module, "count_then_trap", vec![Val::I64(n)]);
        let (_h3, short) = spawn_guest(&scheduler, &module, "count", vec![Val::I64(10)]);
        let wait = Duration::from_secs(60);
        assert_eq!(short.recv_timeout(wait).unwrap(), Ok(vec![Val::I64(10)]));
        for result in counted {
            assert_eq!(result.recv_timeout(wait).unwrap(), Ok(vec![Val::I64(n)]));
        }
        assert_eq!(
            trapped.recv_timeout(wait).unwrap(),
            Err(CallError::Trap(TrapKind::Unreachable))
        );
        scheduler.wait_idle();
    }
    let preempted = luge_scheduler::lifecycle::task_counts()
        .entered(luge_scheduler::lifecycle::TaskState::Preempted);
    assert!(preempted > 0, "no task was ever preempted");
}

#[test]
fn an_earlier_deadline_preempts_a_later_one_under_edf() {
    let (_dir, module) = compile(SPIN, BoundsMode::Guard);
    let scheduler = Scheduler::with_config(1, 2 << 20, Some(QUANTUM), Policy::Edf);
    let (handle, spin_result) = spawn_guest_with(
        &scheduler,
        deadline_in(Duration::from_secs(3600)),
        &module,
        "spin",
        vec![],
    );
    let handle = handle
        .recv_timeout(Duration::from_secs(5))
        .expect("spinner started");
    let queued = Instant::now();
    let (_h, urgent) = spawn_guest_with(
        &scheduler,
        deadline_in(Duration::from_millis(20)),
        &module,
        "count",
        vec![Val::I64(1000)],
    );
    let result = urgent.recv_timeout(Duration::from_secs(5));
    let waited = queued.elapsed();
    handle.interrupt();
    assert_eq!(
        result.expect("the urgent task never ran"),
        Ok(vec![Val::I64(1000)])
    );
    assert!(waited < Duration::from_millis(500), "waited {waited:?}");
    assert_eq!(
        spin_result.recv_timeout(Duration::from_secs(5)).unwrap(),
        Err(CallError::Trap(TrapKind::Interrupted))
    );
    scheduler.wait_idle();
}

#[test]
fn a_sandbox_past_its_timeout_is_stopped_and_its_resources_come_back() {
    let (_dir, module) = compile(SPIN, BoundsMode::Guard);
    let scheduler = one_worker();
    let options = TaskOptions {
        timeout: Some(Duration::from_millis(50)),
        ..TaskOptions::default()
    };
    let started = Instant::now();
    let spinners: Vec<_> = (0..3)
        .map(|_| spawn_guest_with(&scheduler, options.clone(), &module, "spin", vec![]).1)
        .collect();
    // A sandbox without a timeout shares the worker and is not touched.
    let (_h, counted) = spawn_guest(&scheduler, &module, "count", vec![Val::I64(1_000_000)]);
    for result in spinners {
        assert_eq!(
            result.recv_timeout(Duration::from_secs(5)).unwrap(),
            Err(CallError::Trap(TrapKind::Interrupted))
        );
    }
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(
        counted.recv_timeout(Duration::from_secs(5)).unwrap(),
        Ok(vec![Val::I64(1_000_000)])
    );
    scheduler.wait_idle();
    // How many stacks the four tasks used depends on how their runs
    // overlapped; every one of them must be back.
    assert_eq!(scheduler.stacks_in_use(), 0, "every task's stack is back");
    assert!(scheduler.free_stacks() >= 1);
}

/// The ticker's signal ends a timed-out guest even where no check would:
/// code compiled without interruption checks, in a store nobody
/// interrupts.
#[test]
fn code_without_interruption_checks_is_stopped_at_its_timeout() {
    let opts = CompileOptions {
        interrupt_checks: false,
        ..CompileOptions::default()
    };
    let (_dir, module) = compile_with(SPIN, opts);
    let scheduler = one_worker();
    let options = TaskOptions {
        timeout: Some(Duration::from_millis(50)),
        ..TaskOptions::default()
    };
    let (tx, rx) = mpsc::channel();
    scheduler.spawn_with(options, move || {
        let store = Store::new(1 << 20);
        let instance = Instance::new(&module, &store, &[], &InstanceConfig::default()).unwrap();
        let result = instance.call("spin", &[]);
        let _ = tx.send((result, luge_scheduler::task::timed_out()));
    });
    let (result, timed_out) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(result, Err(CallError::Trap(TrapKind::Interrupted)));
    assert!(timed_out);
    scheduler.wait_idle();
}

/// `examples/NAME/NAME.wasm`, compiled and loaded.
fn example(name: &str) -> (tempfile::TempDir, Module) {
    let path = format!(
        "{}/../../examples/{name}/{name}.wasm",
        env!("CARGO_MANIFEST_DIR")
    );
    let wasm = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let dir = tempfile::tempdir().unwrap();
    let so = dir.path().join(format!("{name}.so"));
    awsm_compiler::compile_to_file(&wasm, &CompileOptions::default(), &so).unwrap();
    let module = Module::load(&so).unwrap();
    (dir, module)
}

/// An instance of the WASI program `module` in `store`, its memory limited
/// as every `luge serve` route's is.
fn wasi_instance(module: &Module, store: &Store) -> Instance {
    let imports = luge_wasi::imports(module).unwrap();
    // The limit keeps each reservation small in software bounds
    // (aarch64's default). Without one each sandbox reserves 4 GiB, which
    // costs a real kernel nothing but makes qemu-user, where CI runs the
    // aarch64 tests, allocate and walk a descriptor for every page of it:
    // a thousand sandboxes' 0.8 s became 76 s there.
    let config = InstanceConfig {
        memory_limit_pages: 64,
        ..InstanceConfig::default()
    };
    Instance::new(module, store, &imports, &config).unwrap()
}

#[test]
fn a_thousand_sleeping_wasi_programs_share_two_workers() {
    use luge_wasi::{Output, WasiCtxBuilder};
    // examples/net sleeps 300 ms (nanosleep, i.e. poll_oneoff on a clock),
    // then prints "done".
    let (_dir, module) = example("net");
    let scheduler = Scheduler::with_config(2, 2 << 20, Some(QUANTUM), Policy::Fifo);
    let (done_tx, done_rx) = mpsc::channel();
    let start = Instant::now();
    const SANDBOXES: usize = 1000;
    for _ in 0..SANDBOXES {
        let (module, done_tx) = (module.clone(), done_tx.clone());
        scheduler.spawn(move || {
            let (stdout, captured) = Output::capture();
            let store = WasiCtxBuilder::new()
                .args(["net"])
                .stdout(stdout)
                .build()
                .store(1 << 20);
            let instance = wasi_instance(&module, &store);
            let result = instance.get_func("_start").unwrap().call(&[]);
            let ok = matches!(result, Ok(_) | Err(CallError::Exit(0)));
            let output = String::from_utf8_lossy(&captured.borrow()).into_owned();
            done_tx.send((ok, output)).unwrap();
        });
    }
    for _ in 0..SANDBOXES {
        let (ok, output) = done_rx.recv_timeout(Duration::from_secs(60)).unwrap();
        assert!(ok, "a sandbox failed");
        assert_eq!(output, "done\n");
    }
    let elapsed = start.elapsed();
    scheduler.wait_idle();
    // Two workers sleeping 300 ms at a time would need 150 s; parked
    // sandboxes overlap their sleeps.
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
}

#[test]
fn sleeping_wasi_programs_cost_no_wake_ups_and_an_interrupt_ends_their_sleep() {
    use luge_wasi::WasiCtxBuilder;
    // examples/sleep sleeps argv[1] seconds (nanosleep: poll_oneoff).
    let (_dir, module) = example("sleep");
    let scheduler = Scheduler::with_config(2, 2 << 20, Some(QUANTUM), Policy::Fifo);
    let (handle_tx, handle_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    const SANDBOXES: usize = 20;
    for _ in 0..SANDBOXES {
        let (module, handle_tx, done_tx) = (module.clone(), handle_tx.clone(), done_tx.clone());
        scheduler.spawn(move || {
            let store = WasiCtxBuilder::new()
                .args(["sleep", "600"])
                .build()
                .store(1 << 20);
            let instance = wasi_instance(&module, &store);
            handle_tx.send(store.interrupt_handle()).unwrap();
            let started = Instant::now();
            let result = instance.get_func("_start").unwrap().call(&[]);
            done_tx.send((result.map(drop), started.elapsed())).unwrap();
        });
    }
    let handles: Vec<InterruptHandle> = (0..SANDBOXES)
        .map(|_| handle_rx.recv_timeout(Duration::from_secs(30)).unwrap())
        .collect();
    // Asleep, once the workers stop waking up.
    let settling = Instant::now();
    let mut asleep = scheduler.wakeups();
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = scheduler.wakeups();
        if now == asleep {
            break;
        }
        assert!(
            settling.elapsed() < Duration::from_secs(10),
            "sleeping sandboxes still wake their workers: {now} wake-ups"
        );
        asleep = now;
    }
    // Looking for an interruption every 50 ms, as they once did, would be
    // 20 wake-ups a second each.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(scheduler.wakeups(), asleep, "woke up while sandboxes slept");
    for handle in &handles {
        handle.interrupt();
    }
    for _ in 0..SANDBOXES {
        let (result, slept) = done_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        assert_eq!(result, Err(CallError::Trap(TrapKind::Interrupted)));
        assert!(slept < Duration::from_secs(60), "slept {slept:?}");
    }
    scheduler.wait_idle();
}
