//! `luge serve`: HTTP triggers for WebAssembly functions.

use anyhow::{Context, Result};
use luge_runtime::cache::ModuleCache;
use luge_runtime::sys::address_space;
use luge_runtime::{task_stack_size, MemoryBudget};
use luge_scheduler::queue::Policy;
use luge_scheduler::worker::{Scheduler, DEFAULT_QUANTUM};
use luge_serve::admin::AdminApi;
use luge_serve::config::{ServeConfig, METRICS_PATH};
use luge_serve::deploy::FunctionStore;
use luge_serve::function::{physical_memory, Function, SandboxLimits};
use luge_serve::invoke::Invoker;
use luge_serve::metrics::Metrics;
use luge_serve::platform::Platform;
use luge_serve::routes::Served;
use luge_serve::server::{Listener, Server};
use luge_serve::tiering::Tiering;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The routes: Sledge's tenant/route JSON (an array of tenants), or
    /// Luge's object form with `tenants`, `admin` and other settings (see
    /// docs/serve.md). Without it, the bundled example functions are served
    /// on 127.0.0.1:8080.
    config: Option<PathBuf>,
    /// Scheduler worker threads [default: the config's `workers`, else one
    /// per core].
    #[arg(long)]
    workers: Option<usize>,
}

pub fn serve(args: ServeArgs) -> Result<()> {
    let config = match &args.config {
        Some(path) => ServeConfig::load(path)?,
        None => ServeConfig::bundled_examples(&examples_dir()),
    };
    if !config.ignored_fields.is_empty() {
        eprintln!(
            "luge: note: these Sledge fields have no effect in Luge: {}",
            config.ignored_fields.join(", ")
        );
    }
    let mut functions = load_functions(&config)?;
    advise_on_bounds(&functions);
    let admin = match &config.admin {
        Some(admin) => {
            let dir = config.state_dir.clone().unwrap_or_else(default_state_dir);
            let store = FunctionStore::open(&dir)
                .with_context(|| format!("state directory {}", dir.display()))?;
            functions.extend(load_deployed(&store, &config)?);
            let tenant_ports = config.tenants.iter().map(|t| t.port).collect();
            let api = AdminApi::new(admin.clone(), Arc::new(store), tenant_ports)
                .context("cannot start the admin API's compile threads")?;
            Some(api)
        }
        None => None,
    };
    let workers = args.workers.or(config.workers);
    run_server(&config, functions, admin, workers, Voice::of(&config))
}

/// Whether the server says what it does on stdout and stderr. An action
/// container may not: its output is its action's logs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Voice {
    Talkative,
    Silent,
}

impl Voice {
    /// Silent when the action container is the server's only listener,
    /// as under `luge container`; talkative otherwise.
    fn of(config: &ServeConfig) -> Voice {
        let only_container =
            config.tenants.is_empty() && config.admin.is_none() && config.openwhisk.is_some();
        if only_container {
            Voice::Silent
        } else {
            Voice::Talkative
        }
    }
}

/// Runs the server for `config` with `functions` loaded and the `admin`
/// API, on `workers` scheduler threads (one per core if `None`), until it
/// is stopped.
pub fn run_server(
    config: &ServeConfig,
    functions: Vec<(String, Served)>,
    admin: Option<AdminApi>,
    workers: Option<usize>,
    voice: Voice,
) -> Result<()> {
    let workers =
        workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let scheduler = scheduler_for(config, workers);
    let metrics = Arc::new(Metrics::new());
    let limits = sandbox_limits(config);
    if voice == Voice::Talkative {
        eprintln!(
            "luge: guest memory budget {} MiB; routes without memory-limit-mib get {} MiB",
            limits.memory_budget.limit() >> 20,
            config.memory_limit_mib
        );
    }
    let tiering = Tiering::start(
        ModuleCache::new(ModuleCache::default_dir()),
        metrics.clone(),
        voice == Voice::Talkative,
    );
    let invoker = Invoker::new(config, workers, limits, metrics);
    let platform = Platform::new(config, functions, admin, invoker, tiering);
    let mut server = Server::bind(config, platform)?;
    server.handle_signals()?;
    if voice == Voice::Talkative {
        print_banner(config, &server, workers);
    }
    server.run(&scheduler)?;
    if voice == Voice::Talkative {
        eprintln!("luge: stopped");
    }
    Ok(())
}

/// The memory budget (`memory-budget-mib`, else half of physical memory)
/// and default memory limit of every sandbox.
fn sandbox_limits(config: &ServeConfig) -> SandboxLimits {
    let budget = config
        .memory_budget_mib
        .map_or_else(|| physical_memory() / 2, |mib| mib << 20);
    SandboxLimits {
        memory_budget: MemoryBudget::new(budget),
        default_memory_limit_mib: config.memory_limit_mib,
    }
}

/// Where the bundled examples are: `examples/` in the working directory,
/// else the one of the source tree this binary was built from.
fn examples_dir() -> PathBuf {
    let here = PathBuf::from("examples");
    if here.join("hello/hello.wasm").is_file() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Where deployed functions are kept when the config names no
/// `state-dir`: `$XDG_DATA_HOME/luge`, else `$HOME/.local/share/luge`.
fn default_state_dir() -> PathBuf {
    let env = |k| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("XDG_DATA_HOME")
        .map(|d| d.join("luge"))
        .or_else(|| env("HOME").map(|d| d.join(".local/share/luge")))
        .unwrap_or_else(|| {
            let uid = rustix::process::geteuid().as_raw();
            std::env::temp_dir().join(format!("luge-state-{uid}"))
        })
}

/// Loads the functions deployed through the admin API before a restart
/// (quarantining those that do not load). One whose tenant port is gone
/// from the config moves to the first tenant's (or, with no tenant left,
/// is invoked through the admin listener only).
fn load_deployed(store: &FunctionStore, config: &ServeConfig) -> Result<Vec<(String, Served)>> {
    let ports: Vec<u16> = config.tenants.iter().map(|t| t.port).collect();
    let mut served = Vec::new();
    for (mut deployment, function) in store.restore()? {
        if let Some(gone) = deployment.port.filter(|port| !ports.contains(port)) {
            let name = &deployment.name;
            deployment.port = ports.first().copied();
            match deployment.port {
                Some(first) => eprintln!(
                    "luge: deployed function {name} was on port {gone}, which no tenant has now; \
                     serving it on {first}"
                ),
                None => eprintln!(
                    "luge: deployed function {name} was on port {gone}, and the config has no \
                     tenant now; it is invoked through the admin listener only"
                ),
            }
        }
        eprintln!("luge: restored deployed function {}", deployment.name);
        served.push((
            deployment.name.clone(),
            Served {
                function: Arc::new(function),
                port: deployment.port,
                deployment: Some(deployment),
            },
        ));
    }
    Ok(served)
}

/// Loads (compiling where needed) every route's function, with progress;
/// each is named `TENANT/ROUTE`.
fn load_functions(config: &ServeConfig) -> Result<Vec<(String, Served)>> {
    let cache = ModuleCache::new(ModuleCache::default_dir());
    let mut functions = Vec::new();
    for tenant in &config.tenants {
        for route in &tenant.routes {
            let name = format!("{}{}", tenant.name, route.route);
            let started = Instant::now();
            let function = Function::load(&name, route.clone(), &cache)
                .with_context(|| format!("tenant {}, route {}", tenant.name, route.route))?;
            eprintln!(
                "luge: loaded {} ({}) in {:.0?}",
                route.route,
                route.path.display(),
                started.elapsed()
            );
            let served = Served {
                function: Arc::new(function),
                port: Some(tenant.port),
                deployment: None,
            };
            functions.push((name, served));
        }
    }
    Ok(functions)
}

/// Says so when the routes' bounds mode leaves room for few sandboxes in
/// this machine's address space (see `sys::address_space`).
fn advise_on_bounds(functions: &[(String, Served)]) {
    let mut modes: Vec<_> = functions
        .iter()
        .map(|(_, served)| served.function.module().descriptor().bounds)
        .collect();
    modes.sort_by_key(|mode| mode.name());
    modes.dedup();
    for advice in modes.into_iter().filter_map(address_space::advice_for) {
        eprintln!("luge: note: {advice}");
    }
}

/// EDF when any route has a deadline (as Sledge schedules), FIFO otherwise;
/// task stacks big enough for the most demanding route.
fn scheduler_for(config: &ServeConfig, workers: usize) -> Scheduler {
    let routes = config.tenants.iter().flat_map(|t| &t.routes);
    let edf = routes.clone().any(|r| r.relative_deadline.is_some());
    let stack = routes
        .map(|r| r.stack_limit)
        .max()
        .unwrap_or(luge_runtime::DEFAULT_MAX_STACK);
    let policy = if edf { Policy::Edf } else { Policy::Fifo };
    Scheduler::with_config(
        workers,
        task_stack_size(stack),
        Some(DEFAULT_QUANTUM),
        policy,
    )
}

fn print_banner(config: &ServeConfig, server: &Server<Platform>, workers: usize) {
    println!("luge serve: {workers} workers; Ctrl-C stops gracefully");
    let connections = &config.connections;
    println!(
        "connections: at most {} open, {} per client address; request heads within {} ms",
        server.max_connections(),
        connections.max_per_client,
        connections.head_timeout.as_millis()
    );
    for (addr, listener) in server.local_addrs() {
        let (name, port) = match &listener {
            Listener::Tenant { name, port } => (name, port),
            Listener::Admin => {
                println!("admin API on http://{addr} (bearer token required)");
                continue;
            }
            Listener::ActionContainer => {
                println!("OpenWhisk action container on http://{addr} (/init, /run)");
                continue;
            }
        };
        println!("tenant {name} on http://{addr}");
        let routes = config
            .tenants
            .iter()
            .filter(|t| t.port == *port)
            .flat_map(|t| &t.routes);
        for route in routes {
            println!("  curl -d 'edge' http://{addr}{}", route.route);
        }
        println!("  curl http://{addr}{METRICS_PATH}");
    }
}
