//! The configuration of `luge serve`: which functions answer on which
//! ports and routes, and with which limits.
//!
//! Two shapes are accepted. The first is Sledge's `spec.json` as it is: a
//! JSON array of tenants, each with a `name`, a `port` and `routes`. An
//! existing Sledge configuration works unchanged: its CPU budgets
//! (`max-budget-us`, `replenishment-period-us`) and admission control
//! (`admissions-percentile`, `expected-execution-us`) take effect, and the
//! Sledge fields Luge has no use for (route replicas, buffer sizes, ...)
//! are accepted, ignored and listed in [`ServeConfig::ignored_fields`] so
//! that the server can say so.
//!
//! ```json
//! [
//!   {
//!     "name": "GWU",
//!     "port": 10010,
//!     "routes": [
//!       {
//!         "route": "/fib",
//!         "path": "fibonacci.wasm.so",
//!         "expected-execution-us": 6000,
//!         "relative-deadline-us": 20000,
//!         "http-resp-content-type": "text/plain"
//!       }
//!     ]
//!   }
//! ]
//! ```
//!
//! The second is Luge's own: an object holding the same tenants plus the
//! server-wide settings. Every key except `tenants` is optional, and every
//! route takes Luge's per-route fields as well as Sledge's:
//!
//! ```json
//! {
//!   "host": "0.0.0.0",
//!   "workers": 4,
//!   "queue-limit": 1024,
//!   "memory-budget-mib": 2048,
//!   "memory-limit-mib": 256,
//!   "send-timeout-ms": 10000,
//!   "max-connections": 10000,
//!   "max-connections-per-client": 256,
//!   "head-timeout-ms": 10000,
//!   "body-timeout-ms": 10000,
//!   "min-body-rate": 500,
//!   "idle-timeout-ms": 30000,
//!   "retire-grace-ms": 5000,
//!   "state-dir": "/var/lib/luge",
//!   "admin": { "port": 9000, "token-env": "DEPLOY_TOKEN", "user": "luge",
//!              "compile-timeout-ms": 60000, "compile-max-code-mib": 256 },
//!   "openwhisk": { "port": 8081, "timeout-ms": 300000, "memory-limit-mib": 256 },
//!   "tenants": [
//!     {
//!       "name": "edge",
//!       "port": 8080,
//!       "cpu-weight": 100,
//!       "queue-limit": 256,
//!       "max-budget-us": 5000,
//!       "replenishment-period-us": 20000,
//!       "routes": [
//!         {
//!           "route": "/resize",
//!           "path": "functions/resize.wasm",
//!           "relative-deadline-us": 50000,
//!           "http-resp-content-type": "image/png",
//!           "memory-limit-mib": 64,
//!           "timeout-ms": 2000,
//!           "dirs": ["assets::/assets", "tmp"],
//!           "env": { "QUALITY": "85" },
//!           "max-body-bytes": 8388608,
//!           "max-output-bytes": 16777216,
//!           "bounds": "software", "spectre": "on", "tier": "auto",
//!           "stack-limit-kib": 512,
//!           "deadline-miss": "abort",
//!           "admissions-percentile": 90,
//!           "max-concurrency": 16
//!         }
//!       ]
//!     }
//!   ]
//! }
//! ```
//!
//! Relative paths (`path`, the host side of `dirs`, `state-dir`) are
//! resolved against the directory of the configuration file, so that a
//! configuration and its modules can move together. Every tenant needs its
//! own port, distinct from the admin and OpenWhisk ports: a tenant is one
//! listener, as in Sledge.
//!
//! A bad configuration is refused as a whole, before anything listens, by a
//! [`ConfigError`] naming the file, the field and the reason. Unknown fields
//! are errors too, with the closest known name suggested, because a
//! misspelt limit silently falling back to its default is worse than a
//! refusal.

// How a file becomes a `ServeConfig`: serde reads the text into the structs
// of `raw`, which mirror the JSON (with the wording of `kinds` for values of
// the wrong kind, and `fields` judging the keys no struct has); `validate`
// then checks what serde cannot and builds the public types. `error` holds
// `ConfigError` and turns serde's errors into it.
mod error;
mod fields;
mod kinds;
mod raw;
#[cfg(test)]
mod tests;
mod validate;

pub use error::ConfigError;
pub(crate) use validate::check_route;
pub use validate::check_timeout;

use awsm_compiler::{Arch, BoundsMode, CompileBudget};
use luge_scheduler::group::Budget;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Port of the bundled examples, and of `luge serve` without a config.
pub const DEFAULT_PORT: u16 = 8080;
/// Default of [`ServeConfig::queue_limit`].
pub const DEFAULT_QUEUE_LIMIT: usize = 1024;
/// Default of [`RouteConfig::timeout`]: 10 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest [`RouteConfig::timeout`] the config and the admin API take:
/// 15 minutes, as long as the longest AWS Lambda function may run. Without
/// a bound a typo could keep a core busy until the server restarts.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// The largest memory limit: a 32-bit linear memory cannot grow past 4 GiB,
/// so a larger limit can only be a mistake (a value meant in KiB or bytes,
/// say).
pub const MAX_MEMORY_LIMIT_MIB: u64 = 4096;
/// Default of [`ServeConfig::memory_limit_mib`]: what a route that sets no
/// `memory-limit-mib` may grow its linear memory to.
pub const DEFAULT_MEMORY_LIMIT_MIB: u64 = 256;
/// Default of [`ConnectionLimits::send_timeout`]: 10 s.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of [`ConnectionLimits::max_per_client`]: enough for a browser's
/// or a proxy's pool, few enough that one address cannot take them all.
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 256;
/// Default of [`ConnectionLimits::head_timeout`]: 10 s.
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of [`ConnectionLimits::body_timeout`]: 10 s.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of [`ConnectionLimits::min_body_rate`], in bytes per second:
/// Apache's `mod_reqtimeout` default, slow enough for a poor mobile link.
pub const DEFAULT_MIN_BODY_RATE: u64 = 500;
/// Default of [`ConnectionLimits::idle_timeout`]: 30 s.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default of [`ServeConfig::retire_grace`]: 5 s.
pub const DEFAULT_RETIRE_GRACE: Duration = Duration::from_secs(5);
/// Default of [`Tenant::cpu_weight`].
pub const DEFAULT_CPU_WEIGHT: u32 = luge_scheduler::group::DEFAULT_WEIGHT;
/// Default of [`RouteConfig::admissions_percentile`], as in Sledge's
/// examples.
pub const DEFAULT_ADMISSIONS_PERCENTILE: u8 = 90;
/// Default of [`RouteConfig::max_body_bytes`]: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 1 << 20;
/// Default of [`RouteConfig::max_output_bytes`]: 16 MiB.
pub const DEFAULT_MAX_OUTPUT_BYTES: u64 = 16 << 20;
/// Default of [`RouteConfig::content_type`], as in Sledge.
pub const DEFAULT_CONTENT_TYPE: &str = "text/plain";
/// The path every listener answers with the metrics; no route may take it.
pub const METRICS_PATH: &str = "/metrics";
/// Default of [`AdminConfig::user`].
pub const DEFAULT_ADMIN_USER: &str = "luge";
/// Environment variable holding the admin token when the config names none.
pub const ADMIN_TOKEN_ENV: &str = "LUGE_ADMIN_TOKEN";
/// The functions in `examples/` that [`ServeConfig::bundled_examples`]
/// serves, each as `/<name>` from `<name>/<name>.wasm`.
pub const BUNDLED_EXAMPLES: [&str; 6] = ["hello", "hash", "prime", "net", "sleep", "rust-hello"];

/// Everything `luge serve` needs to know before it starts listening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    /// Address every listener binds (`host`); default 127.0.0.1, so that
    /// nothing is exposed beyond the machine unless asked for.
    pub host: IpAddr,
    /// Scheduler workers (`workers`); `None` (the default) means one per
    /// core.
    pub workers: Option<usize>,
    /// Requests of one tenant that may be in flight, waiting or running
    /// (`queue-limit`, default [`DEFAULT_QUEUE_LIMIT`]), unless the tenant
    /// sets its own; more are answered 429, as in Sledge.
    pub queue_limit: usize,
    /// Linear memory all sandboxes together may hold
    /// (`memory-budget-mib`); `None` (the default) means half of the
    /// machine's physical memory. A request whose memory would go past it
    /// is answered 503 with `Retry-After`.
    pub memory_budget_mib: Option<u64>,
    /// Largest linear memory of a route that sets no `memory-limit-mib`
    /// (`memory-limit-mib`, default [`DEFAULT_MEMORY_LIMIT_MIB`]).
    pub memory_limit_mib: u64,
    /// How long calls of a removed or replaced function may go on before
    /// they are stopped (`retire-grace-ms`, default
    /// [`DEFAULT_RETIRE_GRACE`]).
    pub retire_grace: Duration,
    /// What one client connection may hold and for how long.
    pub connections: ConnectionLimits,
    /// Where the admin API keeps deployed functions across restarts
    /// (`state-dir`, absolute); `None` (the default) keeps them in memory
    /// only.
    pub state_dir: Option<PathBuf>,
    /// The live-deploy listener (`admin`); none by default.
    pub admin: Option<AdminConfig>,
    /// The OpenWhisk action-container listener (`openwhisk`); none by
    /// default.
    pub openwhisk: Option<OpenWhiskConfig>,
    /// The tenants, in file order.
    pub tenants: Vec<Tenant>,
    /// Sledge fields that appeared in the file but mean nothing to Luge,
    /// each name once, in order of first appearance: the server prints them
    /// as a note so that nobody expects them to take effect.
    pub ignored_fields: Vec<String>,
}

/// Bounds on client connections, so that clients that connect and then
/// send slowly, or not at all, cannot take the server's descriptors,
/// memory or time from others (top-level keys of the object form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once on all listeners (`max-connections`);
    /// `None` (the default) means what the process's descriptor limit
    /// leaves (it is raised to its hard limit at start) after a reserve
    /// for modules and files. At the limit, the connection that has waited
    /// longest for its client is closed to make room; if every connection
    /// has a request running or a response leaving, the newcomer is
    /// refused.
    pub max_connections: Option<usize>,
    /// Connections open at once from one client address
    /// (`max-connections-per-client`, default
    /// [`DEFAULT_MAX_CONNECTIONS_PER_CLIENT`]); more are refused with 503.
    pub max_per_client: usize,
    /// Time from a request's first byte to the end of its head
    /// (`head-timeout-ms`, default [`DEFAULT_HEAD_TIMEOUT`]); a slower
    /// head is answered 408 and the connection closed.
    pub head_timeout: Duration,
    /// Time a request body may take (`body-timeout-ms`, default
    /// [`DEFAULT_BODY_TIMEOUT`]), extended by a second for every
    /// `min-body-rate` bytes received (default
    /// [`DEFAULT_MIN_BODY_RATE`] bytes per second): a body that arrives
    /// slower than that is answered 408 and the connection closed.
    pub body_timeout: Duration,
    /// See [`ConnectionLimits::body_timeout`].
    pub min_body_rate: u64,
    /// How long a keep-alive connection may sit between requests
    /// (`idle-timeout-ms`, default [`DEFAULT_IDLE_TIMEOUT`]).
    pub idle_timeout: Duration,
    /// How long a response may wait for its client to read any of it
    /// before the connection is closed (`send-timeout-ms`, default
    /// [`DEFAULT_SEND_TIMEOUT`]), so that clients that never read cannot
    /// hold responses in memory. A connection also takes no new request
    /// until its last response is sent.
    pub send_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: None,
            max_per_client: DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
            head_timeout: DEFAULT_HEAD_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            min_body_rate: DEFAULT_MIN_BODY_RATE,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
        }
    }
}

/// The admin listener, which deploys and removes functions while the
/// server runs.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// Port of the admin listener (`admin.port`, required).
    pub port: u16,
    /// The bearer token every admin request must carry: `admin.token`, else
    /// the environment variable named by `admin.token-env`, else
    /// [`ADMIN_TOKEN_ENV`]. An admin section without any token is refused.
    pub token: String,
    /// The user name HTTP Basic credentials must carry with the token as
    /// password (`admin.user`, default [`DEFAULT_ADMIN_USER`]). OpenWhisk's
    /// CLI sends its `--auth UUID:KEY` this way: set `user` to the UUID
    /// and the token to the KEY.
    pub user: String,
    /// What compiling one deploy may spend (`admin.compile-timeout-ms`,
    /// default [`DEFAULT_COMPILE_TIMEOUT_MS`]; `admin.compile-max-code-mib`,
    /// default [`DEFAULT_COMPILE_MAX_CODE_MIB`]); a deploy past it is
    /// refused with 400.
    pub compile_budget: CompileBudget,
}

/// Default of `admin.compile-timeout-ms`: far more than real modules need
/// (hello compiles in tens of milliseconds, a 10 MB module in seconds).
pub const DEFAULT_COMPILE_TIMEOUT_MS: u64 = 60_000;
/// Default of `admin.compile-max-code-mib`.
pub const DEFAULT_COMPILE_MAX_CODE_MIB: u64 = 256;

/// Written by hand so that the token never lands in a log through `{:?}`.
impl fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminConfig")
            .field("port", &self.port)
            .field("token", &"<redacted>")
            .field("user", &self.user)
            .field("compile_budget", &self.compile_budget)
            .finish()
    }
}

/// The OpenWhisk action-container listener (`/init` and `/run`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenWhiskConfig {
    /// Port of the listener (`openwhisk.port`, required).
    pub port: u16,
    /// The longest an activation may run (`openwhisk.timeout-ms`, default
    /// [`DEFAULT_ACTION_TIMEOUT`]): the `deadline` of its `/run` when that
    /// comes sooner, as it does whenever OpenWhisk's invoker sends it.
    pub timeout: Duration,
    /// The action's memory limit (`openwhisk.memory-limit-mib`); the
    /// server's `memory-limit-mib` when not given.
    pub memory_limit_mib: Option<u64>,
}

/// Default of `openwhisk.timeout-ms`: OpenWhisk's longest action time
/// limit, so that only the invoker's `deadline` cuts an activation short.
pub const DEFAULT_ACTION_TIMEOUT: Duration = Duration::from_secs(300);

impl OpenWhiskConfig {
    /// The listener on `port` with the default limits.
    pub fn new(port: u16) -> OpenWhiskConfig {
        OpenWhiskConfig {
            port,
            timeout: DEFAULT_ACTION_TIMEOUT,
            memory_limit_mib: None,
        }
    }
}

/// A tenant: one listener and the routes it serves, as in Sledge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Name (`name`, required, non-empty, unique), used in logs and
    /// metrics.
    pub name: String,
    /// Port the tenant listens on (`port`, required, 1-65535, unique across
    /// tenants and the admin and OpenWhisk listeners).
    pub port: u16,
    /// Routes (`routes`, required, possibly empty), in file order.
    pub routes: Vec<RouteConfig>,
    /// The tenant's share of the CPU against other tenants (`cpu-weight`,
    /// 1-10000, default [`DEFAULT_CPU_WEIGHT`]).
    pub cpu_weight: u32,
    /// Sledge's MTDS budget: at most `max-budget-us` of CPU time in every
    /// `replenishment-period-us` before the tenant's work waits for other
    /// tenants' (both or neither; both 0, as Sledge writes "none", is
    /// none).
    pub budget: Option<Budget>,
    /// The tenant's own `queue-limit`; `None` takes the server's.
    pub queue_limit: Option<usize>,
}

impl Tenant {
    /// A tenant with every default.
    pub fn new(name: &str, port: u16, routes: Vec<RouteConfig>) -> Tenant {
        Tenant {
            name: name.to_owned(),
            port,
            routes,
            cpu_weight: DEFAULT_CPU_WEIGHT,
            budget: None,
            queue_limit: None,
        }
    }
}

/// What happens to a request whose deadline passes before it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeadlineMiss {
    /// It runs on, behind every request still on time (`"continue"`).
    #[default]
    Continue,
    /// It is stopped and answered 504 (`"abort"`).
    Abort,
}

/// Which compiler's code a `.wasm` route runs (`tier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TierChoice {
    /// Cranelift's code only (`"fast"`).
    Fast,
    /// LLVM's code from the start: loading waits for the slower compile,
    /// and fails where the opt tier is unavailable (`"opt"`).
    Opt,
    /// Cranelift's code first, switched to LLVM's once a background
    /// compile has it (`"auto"`, the default); the fast tier alone where
    /// the opt tier is unavailable.
    #[default]
    Auto,
}

impl TierChoice {
    pub fn name(self) -> &'static str {
        match self {
            TierChoice::Fast => "fast",
            TierChoice::Opt => "opt",
            TierChoice::Auto => "auto",
        }
    }
}

impl std::str::FromStr for TierChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<TierChoice, String> {
        [TierChoice::Fast, TierChoice::Opt, TierChoice::Auto]
            .into_iter()
            .find(|tier| tier.name() == s)
            .ok_or_else(|| format!("expected `fast`, `opt` or `auto`, found `{s}`"))
    }
}

/// One route: a request path and the function that answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConfig {
    /// Request path (`route`, required), starting with `/`, unique within
    /// the tenant.
    pub route: String,
    /// The module (`path`, required, absolute): a `.wasm`, compiled when the
    /// server starts and cached, or a `.so` from `luge compile`.
    pub path: PathBuf,
    /// Deadline from arrival, for earliest-deadline-first scheduling
    /// (`relative-deadline-us`); `None` (the default, or 0) means none.
    pub relative_deadline: Option<Duration>,
    /// `Content-Type` of responses (`http-resp-content-type`, default
    /// [`DEFAULT_CONTENT_TYPE`]).
    pub content_type: String,
    /// Largest linear memory in MiB (`memory-limit-mib`, 1-4096); `None`
    /// (the default) leaves the module's own maximum.
    pub memory_limit_mib: Option<u64>,
    /// Wall-clock limit of one request (`timeout-ms`, default
    /// [`DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
    /// Preopened directories (`dirs`, `"HOST[::GUEST]"` as in
    /// `luge run --dir`): host path (absolute) and guest path; the guest
    /// path is the host path as written when `::GUEST` is left out. Default
    /// none.
    pub dirs: Vec<(PathBuf, String)>,
    /// Environment of the function (`env`, an object of strings), in file
    /// order. Default empty.
    pub env: Vec<(String, String)>,
    /// Largest request body (`max-body-bytes`, default
    /// [`DEFAULT_MAX_BODY_BYTES`]); a larger one is answered 413.
    pub max_body_bytes: u64,
    /// Largest response, i.e. stdout plus stderr (`max-output-bytes`,
    /// default [`DEFAULT_MAX_OUTPUT_BYTES`]).
    pub max_output_bytes: u64,
    /// Bounds-check mode a `.wasm` is compiled with (`bounds`, `"guard"` or
    /// `"software"`, default the architecture's).
    pub bounds: BoundsMode,
    /// Spectre v1 guards in the compiled code (`spectre`, `"on"`, the
    /// default, or `"off"`, only for trusted code: see `luge compile
    /// --help`).
    pub spectre: bool,
    /// Which compiler's code a `.wasm` runs (`tier`, default
    /// [`TierChoice::Auto`]); a `.so` runs the tier it was compiled with.
    pub tier: TierChoice,
    /// Native stack the function may use, in bytes (`stack-limit-kib`, in
    /// KiB, default [`luge_runtime::DEFAULT_MAX_STACK`]).
    pub stack_limit: usize,
    /// What a missed `relative-deadline-us` does (`deadline-miss`).
    pub deadline_miss: DeadlineMiss,
    /// Admission control, for routes with a deadline: the percentile of
    /// recent execution times a request is expected to take
    /// (`admissions-percentile`, 50-99, default
    /// [`DEFAULT_ADMISSIONS_PERCENTILE`]).
    pub admissions_percentile: u8,
    /// The execution time assumed until the route has a history of its
    /// own (`expected-execution-us`); `None` admits its first requests
    /// freely.
    pub expected_execution: Option<Duration>,
    /// Calls of this route that may be in flight at once
    /// (`max-concurrency`); `None` (the default) leaves only the tenant's
    /// limit.
    pub max_concurrency: Option<usize>,
}

impl RouteConfig {
    /// A route serving `path` with every default; the admin API builds
    /// routes for uploaded functions with it. `path` is used as given.
    pub fn new(route: &str, path: PathBuf) -> RouteConfig {
        RouteConfig {
            route: route.to_owned(),
            path,
            relative_deadline: None,
            content_type: DEFAULT_CONTENT_TYPE.to_owned(),
            memory_limit_mib: None,
            timeout: DEFAULT_TIMEOUT,
            dirs: Vec::new(),
            env: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            bounds: Arch::host().default_bounds(),
            spectre: true,
            tier: TierChoice::Auto,
            stack_limit: luge_runtime::DEFAULT_MAX_STACK,
            deadline_miss: DeadlineMiss::Continue,
            admissions_percentile: DEFAULT_ADMISSIONS_PERCENTILE,
            expected_execution: None,
            max_concurrency: None,
        }
    }
}

impl ServeConfig {
    /// Reads and validates the configuration in `path`.
    pub fn load(path: &Path) -> Result<ServeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            file: path.to_owned(),
            error,
        })?;
        ServeConfig::parse(&text, path)
    }

    /// Validates a configuration read from `file`, which names the file in
    /// errors and whose directory (from the current directory when `file`
    /// is relative) is the base of relative paths. The admin token may come
    /// from the process environment.
    pub fn parse(text: &str, file: &Path) -> Result<ServeConfig, ConfigError> {
        let env = |name: &str| std::env::var(name).ok();
        parse_with_env(text, file, &env)
    }

    /// What `luge serve` runs without a config: one tenant, `examples`, on
    /// 127.0.0.1:[`DEFAULT_PORT`], with a route per [`BUNDLED_EXAMPLES`]
    /// entry (`/hello` from `<examples_dir>/hello/hello.wasm`, ...).
    pub fn bundled_examples(examples_dir: &Path) -> ServeConfig {
        let dir = std::path::absolute(examples_dir).unwrap_or_else(|_| examples_dir.to_owned());
        let routes = BUNDLED_EXAMPLES
            .iter()
            .map(|name| {
                let module = dir.join(name).join(format!("{name}.wasm"));
                RouteConfig::new(&format!("/{name}"), module)
            })
            .collect();
        ServeConfig::with_tenants(vec![Tenant::new("examples", DEFAULT_PORT, routes)])
    }

    /// What `luge container` runs: no tenants, only the OpenWhisk action
    /// container, on `host` (all addresses inside a container, where the
    /// invoker connects from outside).
    pub fn action_container(host: IpAddr, openwhisk: OpenWhiskConfig) -> ServeConfig {
        let mut config = ServeConfig::with_tenants(Vec::new());
        config.host = host;
        config.openwhisk = Some(openwhisk);
        config
    }

    fn with_tenants(tenants: Vec<Tenant>) -> ServeConfig {
        ServeConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            workers: None,
            queue_limit: DEFAULT_QUEUE_LIMIT,
            memory_budget_mib: None,
            memory_limit_mib: DEFAULT_MEMORY_LIMIT_MIB,
            retire_grace: DEFAULT_RETIRE_GRACE,
            connections: ConnectionLimits::default(),
            state_dir: None,
            admin: None,
            openwhisk: None,
            tenants,
            ignored_fields: Vec::new(),
        }
    }
}

/// [`ServeConfig::parse`] with the environment as a function, so that tests
/// need not change the process environment.
fn parse_with_env(
    text: &str,
    file: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ServeConfig, ConfigError> {
    let raw = raw::read(text, file)?;
    let mut config = validate::Validator::new(file, env).document(raw.document)?;
    config.ignored_fields = raw.ignored_fields;
    Ok(config)
}

/// The path of field `key` of the object at `path`, such as
/// `tenants[0].name`; the document itself is at the empty path.
fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The path of item `i` of the array at `path`, such as `[0]` or
/// `tenants[0].routes[1]`.
fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}
