//! A function being served: its route's settings, its loaded module with
//! the WASI imports resolved once, and how one request runs in a fresh
//! sandbox of it (CGI-style: the body is stdin, the request's method, path,
//! query and headers are environment variables, the query's parameters are
//! also arguments, and stdout is the response).

use crate::config::{DeadlineMiss, RouteConfig, TierChoice};
use crate::http::{Request, Response};
use crate::metrics::Outcome;
use arc_swap::ArcSwap;
use awsm_compiler::{Arch, BoundsMode, CompileOptions, Tier};
use luge_abi::ExternKind;
use luge_runtime::cache::{CacheError, ModuleCache};
use luge_runtime::lifecycle::SandboxState;
use luge_runtime::{InstanceConfig, MemoryBudget, Module, TrapKind};
use luge_scheduler::lifecycle::Counts;
use luge_scheduler::task::TaskHandle;
use luge_wasi::{CommandReport, Ended, Imports, Input, Output, WasiCtxBuilder};
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// What every sandbox is held to besides its route's own limits.
#[derive(Debug, Clone)]
pub struct SandboxLimits {
    /// Linear memory of all sandboxes together.
    pub memory_budget: Arc<MemoryBudget>,
    /// Largest linear memory of a route that sets none, in MiB.
    pub default_memory_limit_mib: u64,
}

/// The machine's physical memory in bytes (0 when it cannot be read).
pub fn physical_memory() -> u64 {
    let info = rustix::system::sysinfo();
    info.totalram.saturating_mul(u64::from(info.mem_unit))
}

/// Seconds a client refused for the memory budget is told to wait.
const MEMORY_RETRY_AFTER_S: u32 = 1;

/// Why a function could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    /// Its module file could not be read, compiled or loaded (the error
    /// names the file).
    #[error(transparent)]
    File(#[from] CacheError),
    /// An uploaded module did not compile.
    #[error("function {name}: {error}")]
    Compile { name: String, error: CacheError },
    #[error("function {name}: {error}")]
    Imports {
        name: String,
        error: luge_wasi::WasiError,
    },
    /// Functions are WASI commands; a module without the entry point would
    /// fail every request.
    #[error(
        "function {name}: the module exports no `_start` function, so it is not a WASI \
         command: build it as a program with a `main` (not a library or reactor)"
    )]
    NoStart { name: String },
}

/// A function ready to answer requests.
pub struct Function {
    /// The name it is listed and logged under.
    pub name: String,
    pub config: RouteConfig,
    /// The code new calls start on. Replaced in one step when the opt
    /// tier's code is ready ([`Function::switch_to`]); each call holds the
    /// code it started on, so the old code is unloaded after its last call.
    code: ArcSwap<Code>,
    /// The `.wasm` the opt tier's code is to be built from, kept from load
    /// until the build starts (`"tier": "auto"` only).
    tier_up_source: Mutex<Option<Arc<[u8]>>>,
    /// How long after it was first served the opt tier's code took over.
    tiered_up_after: OnceLock<Duration>,
    /// Its software-bounds build, for when guard memories run out.
    fallback: Fallback,
    /// Set once the function is no longer served (see [`Function::retire`]).
    retiring: AtomicBool,
    /// Calls running now, by id, to stop when the function is retired.
    calls: Mutex<Calls>,
}

/// A loaded module with the WASI imports resolved against it.
struct Code {
    module: Module,
    imports: Imports,
}

impl Code {
    fn new(name: &str, module: Module) -> Result<Code, FunctionError> {
        let imports = Imports::resolve(&module).map_err(|error| FunctionError::Imports {
            name: name.to_owned(),
            error,
        })?;
        Ok(Code { module, imports })
    }
}

/// A guard-mode function's build with software bounds checks, whose
/// memories reserve their limit and 64 KiB instead of 6 GiB: new sandboxes
/// run on it once guard memories have taken their share of the address
/// space (`luge_runtime::sys::address_space::guard_space_left`), so that
/// the number of sandboxes is not capped by guard reservations
/// (docs/serve.md, "Address space"). Built through the module cache, from
/// the `.wasm` kept until then, ahead of need once guard memories run low
/// ([`prepare_bounds_fallbacks`]) or by the first call that needs it; a
/// function loaded from a `.so` has none.
#[derive(Default)]
struct Fallback {
    source: Mutex<Option<Arc<[u8]>>>,
    code: OnceLock<Option<Arc<Code>>>,
    /// Whether new sandboxes have gone to it (said once in the log).
    in_use: AtomicBool,
}

#[derive(Default)]
struct Calls {
    next_id: u64,
    running: HashMap<u64, TaskHandle>,
    retired: bool,
}

impl Function {
    /// Loads `config.path`: a `.so` as it is, a `.wasm` compiled through
    /// `cache` (so a restart reuses the compiled object).
    pub fn load(
        name: &str,
        config: RouteConfig,
        cache: &ModuleCache,
    ) -> Result<Function, FunctionError> {
        let opts = Function::compile_options(&config);
        let (module, wasm) = cache.load_file_and_source(&config.path, &opts, false)?;
        Ok(Function::new(name, config, module)?.with_source(wasm.map(Arc::from)))
    }

    /// Compiles `wasm` through `cache` into a function served with
    /// `config` (whose `path` only names it in messages).
    pub fn from_wasm(
        name: &str,
        config: RouteConfig,
        wasm: &[u8],
        cache: &ModuleCache,
    ) -> Result<Function, FunctionError> {
        let opts = Function::compile_options(&config);
        let (module, _) =
            cache
                .load_or_compile(wasm, &opts)
                .map_err(|error| FunctionError::Compile {
                    name: name.to_owned(),
                    error,
                })?;
        let function = Function::new(name, config, module)?;
        let source = function.wants_source().then(|| Arc::from(wasm));
        Ok(function.with_source(source))
    }

    /// The function `name` serving `module` with `config`, its imports
    /// resolved.
    pub fn new(name: &str, config: RouteConfig, module: Module) -> Result<Function, FunctionError> {
        let exports = &module.descriptor().exports;
        if !exports
            .iter()
            .any(|e| e.name == "_start" && e.kind == ExternKind::Func)
        {
            return Err(FunctionError::NoStart {
                name: name.to_owned(),
            });
        }
        let code = Code::new(name, module)?;
        Ok(Function {
            name: name.to_owned(),
            config,
            code: ArcSwap::from_pointee(code),
            tier_up_source: Mutex::default(),
            tiered_up_after: OnceLock::new(),
            fallback: Fallback::default(),
            retiring: AtomicBool::new(false),
            calls: Mutex::default(),
        })
    }

    /// The code to run a new sandbox on, in the order to try it. Guard-mode
    /// code while guard memories have address space left, followed by the
    /// software-bounds fallback if that is built (for a reservation the
    /// kernel refuses all the same); once they have none, the fallback
    /// alone: built ahead once guard memories ran low
    /// ([`prepare_bounds_fallbacks`]), else built then (once: a compile of
    /// a few milliseconds to a second, in the call that first needs it).
    fn code_to_try(&self) -> Vec<Arc<Code>> {
        let code = self.code.load_full();
        if code.module.descriptor().bounds != BoundsMode::Guard {
            return vec![code];
        }
        if luge_runtime::sys::address_space::guard_space_left() {
            let built = self.fallback.code.get().cloned().flatten();
            return std::iter::once(code).chain(built).collect();
        }
        let fallback = self.build_fallback();
        // Read before it is swapped: every call past the share comes here,
        // and a write per call would bounce the flag between workers.
        let in_use = &self.fallback.in_use;
        if fallback.is_some()
            && !in_use.load(Ordering::Relaxed)
            && !in_use.swap(true, Ordering::Relaxed)
        {
            eprintln!(
                "luge: {}: guard memories are out of address space; new sandboxes run on its \
                 software-bounds build",
                self.name
            );
        }
        vec![fallback.unwrap_or(code)]
    }

    /// Builds the software-bounds fallback now, if the function's code is
    /// guard-mode code that will want it once guard memories run out.
    fn prepare_bounds_fallback(&self) {
        if self.code.load().module.descriptor().bounds == BoundsMode::Guard {
            self.build_fallback();
        }
    }

    /// Whether new sandboxes may run on the software-bounds fallback: it
    /// has been built.
    pub fn has_bounds_fallback(&self) -> bool {
        self.fallback.code.get().is_some_and(Option::is_some)
    }

    /// Builds the fallback (see [`Fallback`]), or waits for the call
    /// building it; `None` when the function has no `.wasm` to build it
    /// from or the build failed (logged).
    fn build_fallback(&self) -> Option<Arc<Code>> {
        let build = || {
            // Dropped once the build is done: one that panics leaves it
            // for the next call to try again.
            let wasm = self.fallback.source.lock().unwrap().clone()?;
            // The cache `luge serve` loads and tiers functions through.
            let cache = ModuleCache::new(ModuleCache::default_dir());
            let opts = CompileOptions {
                bounds: BoundsMode::Software,
                tier: Tier::Fast,
                ..Function::compile_options(&self.config)
            };
            let built = cache
                .load_or_compile(&wasm, &opts)
                .map_err(|e| e.to_string())
                .and_then(|(module, _)| Code::new(&self.name, module).map_err(|e| e.to_string()));
            self.fallback.source.lock().unwrap().take();
            match built {
                Ok(code) => {
                    eprintln!(
                        "luge: {}: its software-bounds build is ready for when guard memories \
                         run out of address space",
                        self.name
                    );
                    Some(Arc::new(code))
                }
                Err(e) => {
                    eprintln!(
                        "luge: {}: cannot build its software-bounds fallback: {e}",
                        self.name
                    );
                    None
                }
            }
        };
        self.fallback.code.get_or_init(build).clone()
    }

    /// Whether this function is to move to the opt tier's code once it is
    /// served: its route asks for that and it runs the fast tier's now.
    pub fn wants_tier_up(&self) -> bool {
        self.config.tier == TierChoice::Auto && self.module().descriptor().tier == Tier::Fast
    }

    /// Whether this function keeps its `.wasm` for a later build: the opt
    /// tier's ([`Function::wants_tier_up`]) or the software-bounds fallback
    /// of guard-mode code.
    pub fn wants_source(&self) -> bool {
        self.wants_tier_up() || self.config.bounds == BoundsMode::Guard
    }

    /// This function with `wasm`, its module, kept for the builds it
    /// [wants it for](Function::wants_source): the opt tier's once it is
    /// served (see [`crate::tiering`]), the fallback should guard memories
    /// run out. One copy serves both.
    pub fn with_source(self, wasm: Option<Arc<[u8]>>) -> Function {
        if self.wants_tier_up() {
            self.tier_up_source.lock().unwrap().clone_from(&wasm);
        }
        if self.config.bounds == BoundsMode::Guard {
            *self.fallback.source.lock().unwrap() = wasm;
        }
        self
    }

    /// The `.wasm` to build the opt tier's code from, once: `None` when
    /// the function stays on the tier it has.
    pub fn take_tier_up_source(&self) -> Option<Arc<[u8]>> {
        self.tier_up_source.lock().unwrap().take()
    }

    /// Whether the function keeps a `.wasm` to build the opt tier's code
    /// from.
    pub fn has_tier_up_source(&self) -> bool {
        self.tier_up_source.lock().unwrap().is_some()
    }

    /// What a module of a route with `config` is compiled with.
    pub fn compile_options(config: &RouteConfig) -> CompileOptions {
        let mut opts = luge_runtime::scheduled_compile_options(Arch::host());
        opts.bounds = config.bounds;
        opts.spectre = config.spectre;
        if config.tier == TierChoice::Opt {
            opts.tier = Tier::Opt;
        }
        opts
    }

    /// What the opt tier's build of this function is compiled with.
    pub fn opt_compile_options(&self) -> CompileOptions {
        CompileOptions {
            tier: Tier::Opt,
            ..Function::compile_options(&self.config)
        }
    }

    /// The module new calls start on.
    pub fn module(&self) -> Module {
        self.code.load().module.clone()
    }

    /// Makes new calls start on `module` (the opt tier's build of this
    /// function), `since_served` after the function was first served.
    pub fn switch_to(&self, module: Module, since_served: Duration) -> Result<(), FunctionError> {
        let code = Code::new(&self.name, module)?;
        self.code.store(Arc::new(code));
        let _ = self.tiered_up_after.set(since_served);
        Ok(())
    }

    /// How long after it was first served the opt tier's code took over,
    /// if it has.
    pub fn tiered_up_after(&self) -> Option<Duration> {
        self.tiered_up_after.get().copied()
    }

    /// The timeout of a call's task: the route's, or its deadline when
    /// that comes first and a missed deadline aborts.
    pub fn time_limit(&self) -> Duration {
        match (self.config.deadline_miss, self.config.relative_deadline) {
            (DeadlineMiss::Abort, Some(deadline)) => deadline.min(self.config.timeout),
            _ => self.config.timeout,
        }
    }

    /// A new call's id, for [`Function::track`].
    pub fn call_id(&self) -> u64 {
        let mut calls = self.calls.lock().unwrap();
        calls.next_id += 1;
        calls.next_id
    }

    /// Keeps `task`, call `id` of this function, until
    /// [`Function::untrack`], so that retiring the function can stop it. A
    /// call that starts after the function was retired is stopped at once.
    pub fn track(&self, id: u64, task: TaskHandle) {
        let mut calls = self.calls.lock().unwrap();
        if calls.retired {
            task.stop();
        }
        calls.running.insert(id, task);
    }

    /// The call `id` has ended.
    pub fn untrack(&self, id: u64) {
        self.calls.lock().unwrap().running.remove(&id);
    }

    /// The function is no longer served (removed or replaced): calls
    /// still running after `grace` are stopped, as if their timeout had
    /// passed.
    pub fn retire(self: Arc<Self>, grace: Duration) {
        self.retiring.store(true, Ordering::Relaxed);
        let stop = move || {
            std::thread::sleep(grace);
            let mut calls = self.calls.lock().unwrap();
            calls.retired = true;
            for task in calls.running.values() {
                task.stop();
            }
        };
        // A thread of its own: retiring is rare, and must not wait for a
        // worker that the calls to stop may all be holding.
        if let Err(e) = std::thread::Builder::new()
            .name("luge-retire".into())
            .spawn(stop)
        {
            eprintln!("luge: cannot stop the calls of a removed function: {e}");
        }
    }

    /// Whether the function is no longer served.
    pub fn is_retiring(&self) -> bool {
        self.retiring.load(Ordering::Relaxed)
    }

    /// Runs `invocation` in a new sandbox held to `limits`, whose life
    /// cycle counts in `counts`; called on a scheduler task whose timeout is
    /// [`Function::time_limit`].
    pub fn invoke(
        &self,
        invocation: Invocation,
        counts: Arc<Counts<SandboxState>>,
        limits: &SandboxLimits,
    ) -> Invoked {
        panic_point(&self.config.route);
        let (args, env, stdin) = invocation.into_parts();
        let (stdout, captured) = Output::capture();
        let (stderr, captured_err) = Output::capture();
        let wasi = WasiCtxBuilder::new()
            .args(std::iter::once(self.name.clone()).chain(args))
            .stdin(Input::Bytes(std::io::Cursor::new(stdin)))
            .stdout(stdout)
            .stderr(stderr)
            .output_limit(self.config.max_output_bytes);
        let wasi = env
            .iter()
            .chain(&self.config.env)
            .fold(wasi, |w, (k, v)| w.env(k, v));
        let wasi = match self.preopen(wasi) {
            Ok(wasi) => wasi,
            Err(e) => return Invoked::failed(e.to_string()),
        };
        let mib = self
            .config
            .memory_limit_mib
            .unwrap_or(limits.default_memory_limit_mib);
        let config = InstanceConfig {
            memory_limit_pages: (mib * 16).min(u64::from(u32::MAX)) as u32,
            memory_budget: Some(limits.memory_budget.clone()),
        };
        // Held to the end of the call: code replaced meanwhile stays loaded.
        let code = self.code_to_try();
        let externs: Vec<_> = code.iter().map(|c| c.imports.externs()).collect();
        let programs: Vec<_> = code
            .iter()
            .zip(&externs)
            .map(|(code, imports)| luge_wasi::Program {
                module: &code.module,
                imports,
            })
            .collect();
        let report = luge_wasi::run_command(
            &programs,
            wasi,
            self.config.stack_limit,
            &config,
            Some(counts),
        );
        let output = CapturedOutput {
            stdout: std::mem::take(&mut *captured.borrow_mut()),
            stderr: std::mem::take(&mut *captured_err.borrow_mut()),
        };
        let retired = self.calls.lock().unwrap().retired;
        if retired && report.outcome == Err(Ended::TimedOut) {
            let mut invoked = Invoked::failed("the function was removed".into());
            invoked.response = Response::text(503, "the function was removed while it ran\n");
            return invoked;
        }
        // Only the fallback has software bounds where the route asks for
        // guard pages.
        let ran_on = code[report.ran_on].module.descriptor().bounds;
        let mut invoked = Invoked::from_report(report, output, &self.config);
        invoked.fell_back =
            self.config.bounds == BoundsMode::Guard && ran_on == BoundsMode::Software;
        invoked
    }

    fn preopen(&self, mut wasi: WasiCtxBuilder) -> Result<WasiCtxBuilder, luge_wasi::WasiError> {
        for (host, guest) in &self.config.dirs {
            wasi = wasi.preopen_dir(host, guest)?;
        }
        Ok(wasi)
    }
}

/// Builds the software-bounds fallbacks of `functions` ahead of need, one
/// after another on a thread of its own (at the workers' priority: a
/// worker whose function runs out of guard space first waits for its
/// build): `luge serve` asks for this once guard memories run low
/// (`guard_space_low`), so that no call waits for a compile when they run
/// out. A call that needs a fallback still being built waits for that
/// build rather than start another.
pub fn prepare_bounds_fallbacks(functions: Vec<Arc<Function>>) {
    let spawned = std::thread::Builder::new()
        .name("luge-fallbacks".into())
        .spawn(move || {
            for function in functions {
                // A panic in Luge's own code costs this function its build
                // ahead; its first call past the guard share tries again
                // (the build keeps its source until it succeeds).
                let _ = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    function.prepare_bounds_fallback();
                }));
            }
        });
    if let Err(e) = spawned {
        eprintln!("luge: cannot start a thread to build software-bounds fallbacks ahead ({e}); each is built by the first call that needs it");
    }
}

/// Panics where the test of a panic during a call asks
/// (`LUGE_TEST_PANIC_IN=ROUTE`, in builds with the `test-hooks` feature),
/// as a bug in Luge's own code would.
#[cfg(feature = "test-hooks")]
fn panic_point(route: &str) {
    if std::env::var("LUGE_TEST_PANIC_IN").is_ok_and(|r| r == route) {
        panic!("LUGE_TEST_PANIC_IN: a panic in a call of {route}, on purpose");
    }
}

#[cfg(not(feature = "test-hooks"))]
fn panic_point(_route: &str) {}

/// What a function is run with.
pub enum Invocation {
    /// An HTTP request, mapped CGI-style when its sandbox starts (query
    /// parameters as arguments, [`cgi_env`] as environment, the body as
    /// stdin): on a worker, so that the event loop does not build it.
    Request(Request),
    /// Arguments, environment and stdin as they are.
    Direct {
        /// Arguments after the function's name.
        args: Vec<String>,
        /// Environment, before the route's own variables.
        env: Vec<(String, String)>,
        stdin: Vec<u8>,
    },
}

impl Invocation {
    /// The size of what the function reads on stdin.
    pub fn stdin_len(&self) -> usize {
        match self {
            Invocation::Request(request) => request.body.len(),
            Invocation::Direct { stdin, .. } => stdin.len(),
        }
    }

    /// Arguments, environment and stdin.
    #[allow(clippy::type_complexity)]
    pub fn into_parts(self) -> (Vec<String>, Vec<(String, String)>, Vec<u8>) {
        match self {
            Invocation::Request(request) => {
                let args = query_args(&request.head.query);
                let env = cgi_env(&request);
                (args, env, request.body)
            }
            Invocation::Direct { args, env, stdin } => (args, env, stdin),
        }
    }
}

/// What a function wrote to stdout and stderr (within its
/// `max-output-bytes` together).
#[derive(Default)]
pub struct CapturedOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// What one invocation produced.
pub struct Invoked {
    pub response: Response,
    /// What the function wrote: its stdout only when that is not already
    /// the response's body (the function did not succeed), and its stderr,
    /// which HTTP routes discard and OpenWhisk activations log.
    pub output: CapturedOutput,
    pub outcome: Outcome,
    /// The trap kind, exit status or reason that goes with `outcome`.
    pub detail: Option<String>,
    pub trap: Option<TrapKind>,
    pub init_time: Duration,
    pub run_time: Duration,
    /// The sandbox ran on the function's software-bounds fallback.
    pub fell_back: bool,
}

impl Invoked {
    /// A call that a panic in Luge's own code ended: 500, and the server
    /// goes on (the panic's message is in its log).
    pub fn internal_error() -> Invoked {
        let mut invoked = Invoked::failed("internal error".to_owned());
        invoked.response = Response::text(500, "internal error: the server failed this call\n");
        invoked
    }

    fn failed(reason: String) -> Invoked {
        Invoked {
            response: Response::text(500, &format!("failed to start: {reason}\n")),
            output: CapturedOutput::default(),
            outcome: Outcome::Error,
            detail: Some(reason),
            trap: None,
            init_time: Duration::ZERO,
            run_time: Duration::ZERO,
            fell_back: false,
        }
    }

    /// Maps how the sandbox ended to the response: 200 with its stdout, 504
    /// when its timeout stopped it, 503 with Retry-After when the server had
    /// no memory for it, 500 with the reason otherwise.
    fn from_report(
        report: CommandReport,
        mut output: CapturedOutput,
        config: &RouteConfig,
    ) -> Invoked {
        let (response, outcome, detail, trap) = match report.outcome {
            // Out of memory for sandboxes, for now: the client may retry.
            Err(_) if report.memory_budget_hit || report.address_space_exhausted => {
                let reason = if report.memory_budget_hit {
                    "the server's memory budget is spent"
                } else {
                    "the server has no address space left for another sandbox"
                }
                .to_owned();
                let mut response = Response::text(503, &format!("{reason}; try again shortly\n"));
                let retry = MEMORY_RETRY_AFTER_S.to_string();
                response.headers.push(("Retry-After".into(), retry));
                (response, Outcome::Error, Some(reason), None)
            }
            Err(Ended::OutputLimit) => {
                let reason = format!(
                    "output limit: the function wrote more than {} bytes",
                    config.max_output_bytes
                );
                (
                    Response::text(500, &format!("{reason}\n")),
                    Outcome::Error,
                    Some(reason),
                    None,
                )
            }
            Ok(()) => (
                Response::new(
                    200,
                    &config.content_type,
                    std::mem::take(&mut output.stdout),
                ),
                Outcome::Ok,
                None,
                None,
            ),
            Err(Ended::TimedOut) => {
                let (body, detail) = match config.relative_deadline {
                    Some(deadline)
                        if config.deadline_miss == DeadlineMiss::Abort
                            && deadline < config.timeout =>
                    {
                        let us = deadline.as_micros();
                        let body = format!("deadline missed: not done within {us} µs\n");
                        (body, format!("deadline {us} µs"))
                    }
                    _ => {
                        let ms = config.timeout.as_millis();
                        (
                            format!("timeout: stopped after {ms} ms\n"),
                            format!("{ms} ms"),
                        )
                    }
                };
                (
                    Response::text(504, &body),
                    Outcome::Timeout,
                    Some(detail),
                    None,
                )
            }
            Err(Ended::Trap(kind)) => {
                let body = format!("trap: {kind}\n");
                (
                    Response::text(500, &body),
                    Outcome::Trap,
                    Some(kind.to_string()),
                    Some(kind),
                )
            }
            Err(ended @ Ended::HostPanic(_)) => {
                // A bug in Luge, contained to this sandbox: said as a trap.
                let detail = ended.to_string();
                (
                    Response::text(500, &format!("{detail}\n")),
                    Outcome::Trap,
                    Some(detail),
                    None,
                )
            }
            Err(Ended::Exit(code)) => {
                let body = format!("the function exited with status {code}\n");
                (
                    Response::text(500, &body),
                    Outcome::Exit,
                    Some(code.to_string()),
                    None,
                )
            }
            Err(Ended::Failed(reason)) => {
                let body = format!("failed to start: {reason}\n");
                (
                    Response::text(500, &body),
                    Outcome::Error,
                    Some(reason),
                    None,
                )
            }
        };
        Invoked {
            response,
            output,
            outcome,
            detail,
            trap,
            init_time: report.instantiate_time,
            run_time: report.run_time,
            fell_back: false,
        }
    }
}

/// The query's parameters as arguments, as Sledge passes them: each
/// `&`-separated part, percent-decoded (`?10` gives `10`, `?n=5&x` gives
/// `n=5` and `x`).
pub fn query_args(query: &str) -> Vec<String> {
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(percent_decode)
        .collect()
}

/// Decodes `%XX` escapes and `+` (a space in query strings); a malformed
/// escape is kept as written.
fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = match bytes.get(i..i + 3) {
            Some([b'%', h, l]) => hex(*h).zip(hex(*l)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match (escape, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The CGI variables for `request` (RFC 3875 names): method, path, query,
/// body type and length, and every header as `HTTP_<NAME>`.
pub fn cgi_env(request: &Request) -> Vec<(String, String)> {
    let head = &request.head;
    let mut env = vec![
        ("REQUEST_METHOD".to_owned(), head.method.clone()),
        ("PATH_INFO".to_owned(), head.path.clone()),
        ("QUERY_STRING".to_owned(), head.query.clone()),
        ("CONTENT_LENGTH".to_owned(), request.body.len().to_string()),
        (
            "SERVER_PROTOCOL".to_owned(),
            format!("HTTP/1.{}", head.minor_version),
        ),
    ];
    if let Some(content_type) = head.content_type() {
        env.push(("CONTENT_TYPE".to_owned(), content_type.to_owned()));
    }
    for (name, value) in &head.headers {
        let upper = name.to_ascii_uppercase().replace('-', "_");
        // Already given above, or hop-by-hop and meaningless to a function.
        if matches!(
            upper.as_str(),
            "CONTENT_TYPE" | "CONTENT_LENGTH" | "CONNECTION" | "TRANSFER_ENCODING"
        ) {
            continue;
        }
        env.push((
            format!("HTTP_{upper}"),
            String::from_utf8_lossy(value).into_owned(),
        ));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_become_arguments() {
        assert_eq!(query_args("10"), ["10"]);
        assert_eq!(query_args("n=5&x"), ["n=5", "x"]);
        assert_eq!(query_args("a%20b&c+d&%zz&%4"), ["a b", "c d", "%zz", "%4"]);
        assert!(query_args("").is_empty());
        assert_eq!(query_args("&&x&"), ["x"]);
    }
}
