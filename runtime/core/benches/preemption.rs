//! Latency of a short function while every worker is busy with spinning
//! sandboxes (`loop {}` without calls), under FIFO round robin with the
//! default 5 ms quantum. The target: p99 under two quanta.
//!
//! Run: `cargo bench -p luge-runtime --bench preemption`
//! (`LUGE_BENCH_SAMPLES=N` sets the number of short calls, default 400).

use awsm_compiler::CompileOptions;
use luge_runtime::{Instance, InstanceConfig, Module, Store, Val};
use luge_scheduler::queue::Policy;
use luge_scheduler::worker::{Scheduler, DEFAULT_QUANTUM};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const WAT: &str = r#"(module
  (func (export "spin") (loop br 0))
  (func (export "short") (result i32) (i32.const 42)))"#;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench`-less args;
    // only measure when asked to bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let samples: usize = std::env::var("LUGE_BENCH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spin.so");
    let wasm = wat::parse_str(WAT).unwrap();
    awsm_compiler::compile_to_file(&wasm, &CompileOptions::default(), &path).unwrap();
    let module = Module::load(&path).unwrap();

    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let scheduler = Scheduler::with_config(workers, 1 << 20, Some(DEFAULT_QUANTUM), Policy::Fifo);
    let spinners = 2 * workers;
    let (handles_tx, handles_rx) = mpsc::channel();
    let (ended_tx, ended_rx) = mpsc::channel();
    for _ in 0..spinners {
        let (module, handles_tx, ended_tx) = (module.clone(), handles_tx.clone(), ended_tx.clone());
        scheduler.spawn(move || {
            let store = Store::default();
            let instance = Instance::new(&module, &store, &[], &InstanceConfig::default()).unwrap();
            handles_tx.send(store.interrupt_handle()).unwrap();
            let _ = ended_tx.send(instance.call("spin", &[]));
        });
    }
    let handles: Vec<_> = (0..spinners).map(|_| handles_rx.recv().unwrap()).collect();
    eprintln!("{spinners} spinners on {workers} workers; timing {samples} short calls");

    let mut latencies = Vec::with_capacity(samples);
    // Calls arrive spread out, not back to back: a worker that has just
    // finished one must first return to a spinner, as under real traffic.
    let mut gap = 0x9e37_79b9u32;
    for i in 0..samples {
        gap ^= gap << 13;
        gap ^= gap >> 17;
        gap ^= gap << 5;
        std::thread::sleep(Duration::from_micros(u64::from(gap % 10_000)));
        let (done_tx, done_rx) = mpsc::channel();
        let module = module.clone();
        let queued = Instant::now();
        scheduler.spawn(move || {
            let store = Store::default();
            let instance = Instance::new(&module, &store, &[], &InstanceConfig::default()).unwrap();
            assert_eq!(instance.call("short", &[]).unwrap(), vec![Val::I32(42)]);
            done_tx.send(queued.elapsed()).unwrap();
        });
        latencies.push(done_rx.recv().unwrap());
        if (i + 1) % 100 == 0 {
            eprintln!("  {} / {samples}", i + 1);
        }
    }
    // The spinners must still be spinning, or the latencies mean nothing.
    assert!(
        ended_rx.try_recv().is_err(),
        "a spinner ended before it was interrupted"
    );
    for handle in &handles {
        handle.interrupt();
    }
    for _ in 0..spinners {
        let ended = ended_rx.recv().unwrap();
        assert!(ended.is_err(), "a spinner returned: {ended:?}");
    }
    scheduler.wait_idle();

    let preempted = luge_scheduler::lifecycle::task_counts()
        .entered(luge_scheduler::lifecycle::TaskState::Preempted);
    println!(
        "preemptions: {preempted}; tasks finished per worker: {:?}",
        scheduler.completed_per_worker()
    );
    latencies.sort();
    let quantum = DEFAULT_QUANTUM;
    println!("short-call latency with {spinners} spinning sandboxes on {workers} workers, quantum {quantum:?}:");
    for (name, p) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0)] {
        println!(
            "  {name:>4}: {:>10.3} ms",
            percentile(&latencies, p).as_secs_f64() * 1e3
        );
    }
    let p99 = percentile(&latencies, 0.99);
    println!(
        "target p99 < 2 quanta ({:?}): {}",
        2 * quantum,
        if p99 < 2 * quantum { "met" } else { "MISSED" }
    );
}
