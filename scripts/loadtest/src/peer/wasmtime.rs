//! The Wasmtime peer (`wasmtime-server`, feature `wasmtime-peer`): the
//! same `.wasm` files served by Wasmtime the way its embedders are told to
//! for many short-lived instances. Modules are compiled and linked once
//! (`InstancePre`); every request gets a fresh `Store` and instance from
//! the pooling allocator, WASI preview1 from `wasmtime-wasi`, its body as
//! stdin and an in-memory stdout.

use super::{Invoke, Request};
use anyhow::{anyhow, bail, Result};
use std::collections::HashMap;
use std::path::PathBuf;
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
}

/// Largest stdout kept per request, as the peers' largest request.
const MAX_OUTPUT: usize = 1 << 20;

/// Native stack of a connection thread: Wasmtime runs wasm on the calling
/// thread, and its default wasm stack limit is 512 KiB.
const THREAD_STACK: usize = 1 << 20;

pub fn run(args: WasmtimeServerArgs) -> Result<()> {
    let peer = Wasmtime::new(&args)?;
    let listener = super::listen("wasmtime-server", args.port)?;
    let mut names: Vec<_> = peer.functions.keys().map(String::as_str).collect();
    names.sort_unstable();
    eprintln!(
        "wasmtime-server: http://127.0.0.1:{}/NAME for NAME in {}, an instance per request",
        args.port,
        names.join(", ")
    );
    super::serve(listener, Arc::new(peer), THREAD_STACK)
}

struct Wasmtime {
    engine: Engine,
    functions: HashMap<String, InstancePre<WasiP1Ctx>>,
}

impl Wasmtime {
    fn new(args: &WasmtimeServerArgs) -> Result<Self> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(args.instances)
            .total_memories(args.instances)
            .total_tables(args.instances)
            .max_memory_size(args.memory_mib << 20);
        let mut config = Config::new();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = context(Engine::new(&config), || "configuring Wasmtime".into())?;
        let mut linker = Linker::new(&engine);
        context(
            wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |ctx: &mut WasiP1Ctx| ctx),
            || "linking WASI preview1".into(),
        )?;
        let mut functions = HashMap::new();
        for path in &args.modules {
            let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                bail!("{}: no file name to route by", path.display());
            };
            let module = context(Module::from_file(&engine, path), || {
                format!("{}: compiling", path.display())
            })?;
            let pre = context(linker.instantiate_pre(&module), || {
                format!("{}: linking", path.display())
            })?;
            functions.insert(name.to_owned(), pre);
        }
        Ok(Wasmtime { engine, functions })
    }
}

/// Wasmtime's own error type (its `anyhow` feature off) with `what` failed.
fn context<T>(result: wasmtime::Result<T>, what: impl FnOnce() -> String) -> Result<T> {
    result.map_err(|e| anyhow!("{}: {e:?}", what()))
}

impl Invoke for Wasmtime {
    fn invoke(&self, request: &Request) -> (u16, Vec<u8>) {
        let Some(pre) = self.functions.get(&request.name) else {
            return (404, b"no such function\n".to_vec());
        };
        let stdout = MemoryOutputPipe::new(MAX_OUTPUT);
        let mut wasi = WasiCtxBuilder::new();
        wasi.arg(&request.name)
            .args(&request.args)
            .stdin(MemoryInputPipe::new(request.body.clone()))
            .stdout(stdout.clone());
        for (key, value) in request.cgi_env() {
            wasi.env(key, value);
        }
        let mut store = Store::new(&self.engine, wasi.build_p1());
        let outcome = pre.instantiate(&mut store).and_then(|instance| {
            instance
                .get_typed_func::<(), ()>(&mut store, "_start")?
                .call(&mut store, ())
        });
        match outcome {
            Ok(()) => (200, stdout.contents().to_vec()),
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(I32Exit(0)) => (200, stdout.contents().to_vec()),
                Some(I32Exit(code)) => (500, format!("exit: {code}\n").into_bytes()),
                None => (500, format!("trap: {e:#}\n").into_bytes()),
            },
        }
    }
}
