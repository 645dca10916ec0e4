//! The Wasmtime peer (`wasmtime-server`, feature `wasmtime-peer`): the
//! same `.wasm` files served by Wasmtime the way its embedders are told to
//! for many short-lived instances. Modules are compiled and linked once
//! (`InstancePre`); every request gets a fresh `Store` and instance from
//! the pooling allocator, WASI preview1 from `wasmtime-wasi`, its body as
//! stdin and an in-memory stdout. With `--detached`, calls run on
//! Wasmtime's async support as tasks of a tokio runtime, so that a call
//! asleep in WASI holds a fiber stack rather than a thread: the way to
//! hold as many sleeping instances as the capacity experiment starts.

use super::{Invoke, Request};
use anyhow::{anyhow, bail, ensure, Result};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, Store,
};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

#[derive(clap::Args)]
pub struct WasmtimeServerArgs {
    /// WASI command modules to serve, each on /STEM (examples/hello/hello.wasm
    /// on /hello).
    #[arg(required = true)]
    pub modules: Vec<PathBuf>,
    /// Loopback port to listen on.
    #[arg(long, default_value_t = 8084)]
    pub port: u16,
    /// Instances the pooling allocator holds at once (requests beyond it
    /// fail with 500).
    #[arg(long, default_value_t = 10_000)]
    pub instances: u32,
    /// Largest linear memory of one instance, in MiB.
    #[arg(long, default_value_t = 64)]
    pub memory_mib: usize,
    /// Address space reserved for each linear memory, in MiB (Wasmtime's
    /// `memory_reservation`). Wasmtime's default, 4 GiB on 64-bit hosts,
    /// lets it leave out bounds checks, and fits about 30,000 memories in
    /// x86_64's 128 TiB; a reservation of --memory-mib packs memories
    /// tightly, bounds-checked, for more instances than that.
    #[arg(long)]
    pub reserve_mib: Option<u64>,
    /// Runs every call on Wasmtime's async support, on a tokio runtime,
    /// and takes detached calls (OpenWhisk's non-blocking invocation,
    /// `POST /api/v1/namespaces/_/actions/NAME`, answered 202): a detached
    /// call asleep in WASI holds a fiber stack from the pool, not a thread.
    /// `GET /metrics` counts them.
    #[arg(long)]
    pub detached: bool,
}

/// Largest stdout kept per request, as the peers' largest request.
const MAX_OUTPUT: usize = 1 << 20;

/// Native stack of a connection thread: Wasmtime runs wasm on the calling
/// thread, and its default wasm stack limit is 512 KiB.
const THREAD_STACK: usize = 1 << 20;

/// The peer's own path, so no module may be served on it.
const METRICS: &str = "metrics";

/// Detached calls whose failure is reported on stderr; the rest are only
/// counted.
const FAILURES_REPORTED: usize = 10;

pub fn run(args: WasmtimeServerArgs) -> Result<()> {
    let peer = Wasmtime::new(&args)?;
    let listener = super::listen("wasmtime-server", args.port)?;
    let mut names: Vec<_> = peer.shared.functions.keys().map(String::as_str).collect();
    names.sort_unstable();
    eprintln!(
        "wasmtime-server: http://127.0.0.1:{}/NAME for NAME in {}, an instance per request{}",
        args.port,
        names.join(", "),
        if args.detached {
            "; detached calls on /api/v1/namespaces/_/actions/NAME, counted on /metrics"
        } else {
            ""
        }
    );
    super::serve(listener, Arc::new(peer), THREAD_STACK)
}

struct Wasmtime {
    shared: Arc<Shared>,
    /// Where calls run with `--detached`; without, on the caller's thread.
    runtime: Option<tokio::runtime::Runtime>,
}

/// What the calls share, detached ones from their tasks.
struct Shared {
    engine: Engine,
    functions: HashMap<String, InstancePre<WasiP1Ctx>>,
    /// Detached calls started, started and not finished, and failed.
    started: AtomicUsize,
    running: AtomicUsize,
    failed: AtomicUsize,
}

impl Wasmtime {
    fn new(args: &WasmtimeServerArgs) -> Result<Self> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(args.instances)
            .total_memories(args.instances)
            .total_tables(args.instances)
            .max_memory_size(args.memory_mib << 20);
        if args.detached {
            pool.total_stacks(args.instances);
        }
        let mut config = Config::new();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if let Some(mib) = args.reserve_mib {
            config.memory_reservation(mib << 20);
        }
        let engine = context(Engine::new(&config), || "configuring Wasmtime".into())?;
        let mut linker = Linker::new(&engine);
        let wasi = if args.detached {
            wasmtime_wasi::p1::add_to_linker_async(&mut linker, |ctx: &mut WasiP1Ctx| ctx)
        } else {
            wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |ctx: &mut WasiP1Ctx| ctx)
        };
        context(wasi, || "linking WASI preview1".into())?;
        let mut functions = HashMap::new();
        for path in &args.modules {
            let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                bail!("{}: no file name to route by", path.display());
            };
            ensure!(
                name != METRICS,
                "{}: /{METRICS} is the server's own path",
                path.display()
            );
            let module = context(Module::from_file(&engine, path), || {
                format!("{}: compiling", path.display())
            })?;
            let pre = context(linker.instantiate_pre(&module), || {
                format!("{}: linking", path.display())
            })?;
            functions.insert(name.to_owned(), pre);
        }
        let runtime = if args.detached {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build();
            Some(runtime.map_err(|e| anyhow!("starting the tokio runtime: {e}"))?)
        } else {
            None
        };
        let shared = Arc::new(Shared {
            engine,
            functions,
            started: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
        });
        Ok(Wasmtime { shared, runtime })
    }

    /// The detached calls' counters, in Prometheus' text format.
    fn metrics(&self) -> (u16, Vec<u8>) {
        let shared = &self.shared;
        let text = format!(
            "wasmtime_server_detached_started_total {}\n\
             wasmtime_server_detached_running {}\n\
             wasmtime_server_detached_failed_total {}\n",
            shared.started.load(Ordering::Relaxed),
            shared.running.load(Ordering::Relaxed),
            shared.failed.load(Ordering::Relaxed),
        );
        (200, text.into_bytes())
    }
}

/// Wasmtime's own error type (its `anyhow` feature off) with `what` failed.
fn context<T>(result: wasmtime::Result<T>, what: impl FnOnce() -> String) -> Result<T> {
    result.map_err(|e| anyhow!("{}: {e:?}", what()))
}

impl Shared {
    /// A fresh store for `request`, and its stdout.
    fn store(&self, request: &Request) -> (Store<WasiP1Ctx>, MemoryOutputPipe) {
        let stdout = MemoryOutputPipe::new(MAX_OUTPUT);
        let mut wasi = WasiCtxBuilder::new();
        wasi.arg(&request.name)
            .args(&request.args)
            .stdin(MemoryInputPipe::new(request.body.clone()))
            .stdout(stdout.clone());
        for (key, value) in request.cgi_env() {
            wasi.env(key, value);
        }
        (Store::new(&self.engine, wasi.build_p1()), stdout)
    }

    fn call(&self, pre: &InstancePre<WasiP1Ctx>, request: &Request) -> (u16, Vec<u8>) {
        let (mut store, stdout) = self.store(request);
        let outcome = pre.instantiate(&mut store).and_then(|instance| {
            instance
                .get_typed_func::<(), ()>(&mut store, "_start")?
                .call(&mut store, ())
        });
        answer(outcome, &stdout)
    }

    async fn call_async(&self, pre: &InstancePre<WasiP1Ctx>, request: &Request) -> (u16, Vec<u8>) {
        let (mut store, stdout) = self.store(request);
        let outcome = async {
            let instance = pre.instantiate_async(&mut store).await?;
            instance
                .get_typed_func::<(), ()>(&mut store, "_start")?
                .call_async(&mut store, ())
                .await
        }
        .await;
        answer(outcome, &stdout)
    }

    /// Runs the detached call `request` of `pre`'s function to its end.
    async fn detached(&self, pre: InstancePre<WasiP1Ctx>, request: Request) {
        let (status, body) = self.call_async(&pre, &request).await;
        if status != 200 && self.failed.fetch_add(1, Ordering::Relaxed) < FAILURES_REPORTED {
            eprintln!(
                "wasmtime-server: a detached call of {} failed ({status}): {}",
                request.name,
                String::from_utf8_lossy(&body).trim_end()
            );
        }
        self.running.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The response to a call that ended with `outcome`, having written
/// `stdout`: the CGI mapping's, exit status 0 as 200.
fn answer(outcome: wasmtime::Result<()>, stdout: &MemoryOutputPipe) -> (u16, Vec<u8>) {
    match outcome {
        Ok(()) => (200, stdout.contents().to_vec()),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(I32Exit(0)) => (200, stdout.contents().to_vec()),
            Some(I32Exit(code)) => (500, format!("exit: {code}\n").into_bytes()),
            None => (500, format!("trap: {e:#}\n").into_bytes()),
        },
    }
}

impl Invoke for Wasmtime {
    fn invoke(&self, request: &Request) -> (u16, Vec<u8>) {
        if request.name == METRICS {
            return self.metrics();
        }
        let Some(pre) = self.shared.functions.get(&request.name) else {
            return (404, b"no such function\n".to_vec());
        };
        match &self.runtime {
            None => self.shared.call(pre, request),
            Some(runtime) => runtime.block_on(self.shared.call_async(pre, request)),
        }
    }

    fn detach(&self, request: Request) -> (u16, Vec<u8>) {
        let Some(runtime) = &self.runtime else {
            return (501, b"detached calls need --detached\n".to_vec());
        };
        let Some(pre) = self.shared.functions.get(&request.name).cloned() else {
            return (404, b"no such function\n".to_vec());
        };
        let shared = Arc::clone(&self.shared);
        let id = shared.started.fetch_add(1, Ordering::Relaxed);
        shared.running.fetch_add(1, Ordering::Relaxed);
        runtime.spawn(async move { shared.detached(pre, request).await });
        (
            202,
            format!("{{\"activationId\":\"{id:032x}\"}}\n").into_bytes(),
        )
    }
}
