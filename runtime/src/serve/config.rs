//! The configuration of `luge serve`: which functions answer on which
//! ports and routes, and with which limits.
//!
//! Two shapes are accepted. The first is Sledge's `spec.json` as it is: a
//! JSON array of tenants, each with a `name`, a `port` and `routes`. An
//! existing Sledge configuration works unchanged; the Sledge fields Luge has
//! no use for (admission control, budgets, buffer sizes, ...) are accepted,
//! ignored and listed in [`ServeConfig::ignored_fields`] so that the server
//! can say so.
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
//!   "state-dir": "/var/lib/luge",
//!   "admin": { "port": 9000, "token-env": "DEPLOY_TOKEN" },
//!   "openwhisk": { "port": 8081 },
//!   "tenants": [
//!     {
//!       "name": "edge",
//!       "port": 8080,
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
//!           "bounds": "software",
//!           "stack-limit-kib": 512
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

use awsm_compiler::{Arch, BoundsMode};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
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
/// Default of [`RouteConfig::max_body_bytes`]: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 1 << 20;
/// Default of [`RouteConfig::max_output_bytes`]: 16 MiB.
pub const DEFAULT_MAX_OUTPUT_BYTES: u64 = 16 << 20;
/// Default of [`RouteConfig::content_type`], as in Sledge.
pub const DEFAULT_CONTENT_TYPE: &str = "text/plain";
/// Environment variable holding the admin token when the config names none.
pub const ADMIN_TOKEN_ENV: &str = "LUGE_ADMIN_TOKEN";
/// The functions in `examples/` that [`ServeConfig::bundled_examples`]
/// serves, each as `/<name>` from `<name>/<name>.wasm`.
pub const BUNDLED_EXAMPLES: [&str; 6] = ["hello", "hash", "prime", "net", "sleep", "rust-hello"];

/// A 32-bit linear memory cannot grow past 4 GiB, so a larger limit can
/// only be a mistake (a value meant in KiB or bytes, say).
const MAX_MEMORY_LIMIT_MIB: u64 = 4096;

/// Everything `luge serve` needs to know before it starts listening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    /// Address every listener binds (`host`); default 127.0.0.1, so that
    /// nothing is exposed beyond the machine unless asked for.
    pub host: IpAddr,
    /// Scheduler workers (`workers`); `None` (the default) means one per
    /// core.
    pub workers: Option<usize>,
    /// Requests that may wait for a worker (`queue-limit`, default
    /// [`DEFAULT_QUEUE_LIMIT`]); more are answered 429, as in Sledge.
    pub queue_limit: usize,
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
}

/// Written by hand so that the token never lands in a log through `{:?}`.
impl fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminConfig")
            .field("port", &self.port)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// The OpenWhisk action-container listener (`/init` and `/run`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenWhiskConfig {
    /// Port of the listener (`openwhisk.port`, required).
    pub port: u16,
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
    /// Native stack the function may use, in bytes (`stack-limit-kib`, in
    /// KiB, default [`crate::DEFAULT_MAX_STACK`]).
    pub stack_limit: usize,
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
            stack_limit: crate::DEFAULT_MAX_STACK,
        }
    }
}

/// Why a configuration was refused. Every message is one line that starts
/// with the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {error}", .file.display())]
    Read {
        /// The configuration file.
        file: PathBuf,
        /// Why reading failed.
        error: std::io::Error,
    },
    /// The file is not valid JSON.
    #[error("{}:{line}:{column}: {reason}", .file.display())]
    Syntax {
        /// The configuration file.
        file: PathBuf,
        /// Line of the error, from 1.
        line: usize,
        /// Column of the error, from 1.
        column: usize,
        /// What is wrong, as serde_json words it.
        reason: String,
    },
    /// A field has a bad value, is missing, unknown or repeated. `field` is
    /// its path, such as `[0].routes[1].relative-deadline-us` or
    /// `admin.port`.
    #[error("{}: {field}: {reason}", .file.display())]
    Field {
        /// The configuration file.
        file: PathBuf,
        /// Path of the field in the document.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The document as a whole is wrong (not an array or object, no
    /// tenants).
    #[error("{}: {reason}", .file.display())]
    Document {
        /// The configuration file.
        file: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
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
        ServeConfig::with_tenants(vec![Tenant {
            name: "examples".to_owned(),
            port: DEFAULT_PORT,
            routes,
        }])
    }

    fn with_tenants(tenants: Vec<Tenant>) -> ServeConfig {
        ServeConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            workers: None,
            queue_limit: DEFAULT_QUEUE_LIMIT,
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
    let json: Json = serde_json::from_str(text).map_err(|e| syntax_error(file, &e))?;
    Parser::new(file, env).document(&json)
}

fn syntax_error(file: &Path, error: &serde_json::Error) -> ConfigError {
    let (line, column) = (error.line(), error.column());
    // serde_json appends the position to its message; it goes in front.
    let message = error.to_string();
    let suffix = format!(" at line {line} column {column}");
    let reason = message.strip_suffix(&suffix).unwrap_or(&message).to_owned();
    ConfigError::Syntax {
        file: file.to_owned(),
        line,
        column,
        reason,
    }
}

/// A JSON value whose objects keep their keys in order, repeats included,
/// so that a repeated key is refused rather than silently overriding the
/// first (`serde_json::Value` keeps only the last).
enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// What the value is, for "expected ..., found ..." messages.
    fn describe(&self) -> String {
        match self {
            Json::Null => "null".to_owned(),
            Json::Bool(b) => b.to_string(),
            Json::Number(n) => n.to_string(),
            Json::String(_) => "a string".to_owned(),
            Json::Array(_) => "an array".to_owned(),
            Json::Object(_) => "an object".to_owned(),
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        // JSON text has no NaN or infinity, so this always succeeds.
        Ok(serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Json::Object(entries))
    }
}

/// A value and its path in the document, such as `[0].routes[1].path`.
#[derive(Clone, Copy)]
struct Node<'j> {
    value: &'j Json,
    path: &'j str,
}

/// The fields one kind of object accepts.
struct Section {
    /// Fields Luge reads.
    known: &'static [&'static str],
    /// Sledge fields that are accepted and ignored.
    ignored: &'static [&'static str],
}

const TOP_LEVEL: Section = Section {
    known: &[
        "tenants",
        "host",
        "workers",
        "queue-limit",
        "state-dir",
        "admin",
        "openwhisk",
    ],
    ignored: &[],
};

/// Tenant fields of Sledge's multi-tenant scheduler (budgets, replicas).
const TENANT: Section = Section {
    known: &["name", "port", "routes"],
    ignored: &["replenishment-period-us", "max-budget-us", "route-replicas"],
};

/// Sledge route fields Luge has no use for: admission control
/// (`admissions-percentile`, `expected-execution-us`), fixed buffer sizes
/// and request headers of the older module format (`http-req-size`, ...),
/// request classes of the SLEdgeScale fork (`request-type`, `n-resas`,
/// `group-id`), and the execution-time regression model (`path_premodule`,
/// `model-*`).
const ROUTE: Section = Section {
    known: &[
        "route",
        "path",
        "relative-deadline-us",
        "http-resp-content-type",
        "memory-limit-mib",
        "timeout-ms",
        "dirs",
        "env",
        "max-body-bytes",
        "max-output-bytes",
        "bounds",
        "stack-limit-kib",
    ],
    ignored: &[
        "admissions-percentile",
        "expected-execution-us",
        "http-req-size",
        "http-resp-size",
        "http-req-content-type",
        "http-req-headers",
        "http-resp-headers",
        "request-type",
        "n-resas",
        "group-id",
        "path_premodule",
        "model-bias",
        "model-scale",
        "model-num-of-param",
        "model-beta1",
        "model-beta2",
    ],
};

const ADMIN: Section = Section {
    known: &["port", "token", "token-env"],
    ignored: &[],
};

const OPENWHISK: Section = Section {
    known: &["port"],
    ignored: &[],
};

/// An object's entries, checked against its [`Section`].
struct Fields<'j> {
    path: &'j str,
    entries: &'j [(String, Json)],
    paths: Vec<String>,
}

impl<'j> Fields<'j> {
    fn get(&self, key: &str) -> Option<Node<'_>> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        Some(Node {
            value: &self.entries[i].1,
            path: &self.paths[i],
        })
    }

    /// The path a field has, or would have if present.
    fn path_of(&self, key: &str) -> String {
        child(self.path, key)
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// Walks the document and builds the configuration, or stops at the first
/// error.
struct Parser<'a> {
    file: &'a Path,
    /// Absolute directory of the file: the base of relative paths.
    dir: PathBuf,
    env: &'a dyn Fn(&str) -> Option<String>,
    ignored: Vec<String>,
}

type Result<T, E = ConfigError> = std::result::Result<T, E>;

impl<'a> Parser<'a> {
    fn new(file: &'a Path, env: &'a dyn Fn(&str) -> Option<String>) -> Parser<'a> {
        let parent = file.parent().filter(|p| !p.as_os_str().is_empty());
        let parent = parent.unwrap_or(Path::new("."));
        let dir = std::path::absolute(parent).unwrap_or_else(|_| parent.to_owned());
        Parser {
            file,
            dir,
            env,
            ignored: Vec::new(),
        }
    }

    fn error(&self, path: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Field {
            file: self.file.to_owned(),
            field: path.to_owned(),
            reason: reason.into(),
        }
    }

    fn document_error(&self, reason: impl Into<String>) -> ConfigError {
        ConfigError::Document {
            file: self.file.to_owned(),
            reason: reason.into(),
        }
    }

    fn document(mut self, json: &Json) -> Result<ServeConfig> {
        let root = Node {
            value: json,
            path: "",
        };
        let mut config = match json {
            Json::Array(_) => self.sledge_document(root)?,
            Json::Object(_) => self.luge_document(root)?,
            other => {
                return Err(self.document_error(format!(
                    "expected an array of tenants (Sledge's spec.json) or an object with \
                     `tenants`, found {}",
                    other.describe()
                )))
            }
        };
        config.ignored_fields = self.ignored;
        Ok(config)
    }

    fn sledge_document(&mut self, root: Node<'_>) -> Result<ServeConfig> {
        let tenants = self.tenants(root)?;
        if tenants.is_empty() {
            return Err(self.document_error("no tenants: there is nothing to serve"));
        }
        Ok(ServeConfig::with_tenants(tenants))
    }

    fn luge_document(&mut self, root: Node<'_>) -> Result<ServeConfig> {
        let fields = self.fields(root, &TOP_LEVEL)?;
        let tenants_node = self.require(&fields, "tenants")?;
        let mut config = ServeConfig::with_tenants(self.tenants(tenants_node)?);
        if let Some(node) = fields.get("host") {
            config.host = self.ip_addr(node)?;
        }
        if let Some(node) = fields.get("workers") {
            config.workers = Some(self.positive_usize(node)?);
        }
        if let Some(node) = fields.get("queue-limit") {
            config.queue_limit = self.positive_usize(node)?;
        }
        if let Some(node) = fields.get("state-dir") {
            config.state_dir = Some(self.resolve(self.nonempty_string(node)?));
        }
        if let Some(node) = fields.get("admin") {
            config.admin = Some(self.admin(node, &config.tenants)?);
        }
        if let Some(node) = fields.get("openwhisk") {
            config.openwhisk = Some(self.openwhisk(node, &config)?);
        }
        let listeners = config.admin.is_some() || config.openwhisk.is_some();
        if config.tenants.is_empty() && !listeners {
            return Err(self.error(
                tenants_node.path,
                "no tenants, and no admin or openwhisk listener to deploy to: there is \
                 nothing to serve",
            ));
        }
        Ok(config)
    }

    fn tenants(&mut self, node: Node<'_>) -> Result<Vec<Tenant>> {
        let items = self.array(node)?;
        let mut tenants: Vec<Tenant> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = index(node.path, i);
            let item = Node {
                value: item,
                path: &path,
            };
            let tenant = self.tenant(item, node.path, &tenants)?;
            tenants.push(tenant);
        }
        Ok(tenants)
    }

    /// One tenant; `list` is the path of the tenant array and `earlier` the
    /// tenants before it, which its name and port must not repeat.
    fn tenant(&mut self, node: Node<'_>, list: &str, earlier: &[Tenant]) -> Result<Tenant> {
        let fields = self.fields(node, &TENANT)?;
        let name_node = self.require(&fields, "name")?;
        let name = self.nonempty_string(name_node)?.to_owned();
        if let Some(i) = earlier.iter().position(|t| t.name == name) {
            let reason = format!(
                "duplicate tenant name `{name}` (also at {})",
                index(list, i)
            );
            return Err(self.error(name_node.path, reason));
        }
        let port_node = self.require(&fields, "port")?;
        let port = self.port(port_node)?;
        if let Some(owner) = port_owner(port, earlier, None) {
            return Err(self.port_taken(port_node, port, &owner));
        }
        let routes = self.routes(self.require(&fields, "routes")?)?;
        Ok(Tenant { name, port, routes })
    }

    fn routes(&mut self, node: Node<'_>) -> Result<Vec<RouteConfig>> {
        let items = self.array(node)?;
        let mut routes: Vec<RouteConfig> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = index(node.path, i);
            let item = Node {
                value: item,
                path: &path,
            };
            let route = self.route(item)?;
            if let Some(j) = routes.iter().position(|r| r.route == route.route) {
                let reason = format!(
                    "duplicate route `{}` (also at {})",
                    route.route,
                    index(node.path, j)
                );
                return Err(self.error(&child(&path, "route"), reason));
            }
            routes.push(route);
        }
        Ok(routes)
    }

    fn route(&mut self, node: Node<'_>) -> Result<RouteConfig> {
        let fields = self.fields(node, &ROUTE)?;
        let route = self.route_path(self.require(&fields, "route")?)?;
        let module = self.module_path(self.require(&fields, "path")?)?;
        let mut config = RouteConfig::new(route, module);
        self.sledge_route_fields(&fields, &mut config)?;
        self.limit_fields(&fields, &mut config)?;
        self.sandbox_fields(&fields, &mut config)?;
        Ok(config)
    }

    fn sledge_route_fields(&self, fields: &Fields<'_>, config: &mut RouteConfig) -> Result<()> {
        if let Some(node) = fields.get("relative-deadline-us") {
            let us = self.u64(node)?;
            config.relative_deadline = (us > 0).then(|| Duration::from_micros(us));
        }
        if let Some(node) = fields.get("http-resp-content-type") {
            config.content_type = self.content_type(node)?;
        }
        Ok(())
    }

    fn limit_fields(&self, fields: &Fields<'_>, config: &mut RouteConfig) -> Result<()> {
        if let Some(node) = fields.get("memory-limit-mib") {
            config.memory_limit_mib = Some(self.memory_limit(node)?);
        }
        if let Some(node) = fields.get("timeout-ms") {
            config.timeout = Duration::from_millis(self.positive(node)?);
        }
        if let Some(node) = fields.get("max-body-bytes") {
            config.max_body_bytes = self.u64(node)?;
        }
        if let Some(node) = fields.get("max-output-bytes") {
            config.max_output_bytes = self.u64(node)?;
        }
        if let Some(node) = fields.get("stack-limit-kib") {
            config.stack_limit = self.stack_limit(node)?;
        }
        Ok(())
    }

    fn sandbox_fields(&self, fields: &Fields<'_>, config: &mut RouteConfig) -> Result<()> {
        if let Some(node) = fields.get("dirs") {
            config.dirs = self.dirs(node)?;
        }
        if let Some(node) = fields.get("env") {
            config.env = self.env_vars(node)?;
        }
        if let Some(node) = fields.get("bounds") {
            let name = self.string(node)?;
            config.bounds = name.parse().map_err(|e: String| self.error(node.path, e))?;
        }
        Ok(())
    }

    fn admin(&mut self, node: Node<'_>, tenants: &[Tenant]) -> Result<AdminConfig> {
        let fields = self.fields(node, &ADMIN)?;
        let port_node = self.require(&fields, "port")?;
        let port = self.port(port_node)?;
        if let Some(owner) = port_owner(port, tenants, None) {
            return Err(self.port_taken(port_node, port, &owner));
        }
        let token = self.admin_token(&fields)?;
        Ok(AdminConfig { port, token })
    }

    /// The token from `token`, else from the variable `token-env` names,
    /// else from [`ADMIN_TOKEN_ENV`]; a deploy API without one would let
    /// anyone who reaches the port run code.
    fn admin_token(&self, fields: &Fields<'_>) -> Result<String> {
        let lookup = |name: &str| (self.env)(name).filter(|v| !v.is_empty());
        let (token, path) = match (fields.get("token"), fields.get("token-env")) {
            (Some(_), Some(env)) => {
                return Err(self.error(env.path, "set either `token` or `token-env`, not both"))
            }
            (Some(node), None) => (self.string(node)?.to_owned(), node.path.to_owned()),
            (None, Some(node)) => {
                let name = self.nonempty_string(node)?;
                let token = lookup(name).ok_or_else(|| {
                    self.error(
                        node.path,
                        format!("environment variable `{name}` is not set or empty"),
                    )
                })?;
                (token, node.path.to_owned())
            }
            (None, None) => {
                let path = fields.path_of("token");
                let token = lookup(ADMIN_TOKEN_ENV).ok_or_else(|| {
                    self.error(
                        &path,
                        format!(
                            "the admin listener needs a bearer token: set `token`, or \
                             `token-env` to the name of a variable holding it, or set \
                             {ADMIN_TOKEN_ENV}"
                        ),
                    )
                })?;
                (token, path)
            }
        };
        self.check_token(&token, &path)?;
        Ok(token)
    }

    /// A token travels as `Authorization: Bearer <token>`, so it must be one
    /// non-empty word.
    fn check_token(&self, token: &str, path: &str) -> Result<()> {
        if token.is_empty() {
            return Err(self.error(path, "the token is empty"));
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(self.error(
                path,
                "the token must not contain whitespace or control characters",
            ));
        }
        Ok(())
    }

    fn openwhisk(&mut self, node: Node<'_>, config: &ServeConfig) -> Result<OpenWhiskConfig> {
        let fields = self.fields(node, &OPENWHISK)?;
        let port_node = self.require(&fields, "port")?;
        let port = self.port(port_node)?;
        if let Some(owner) = port_owner(port, &config.tenants, config.admin.as_ref()) {
            return Err(self.port_taken(port_node, port, &owner));
        }
        Ok(OpenWhiskConfig { port })
    }

    fn port_taken(&self, node: Node<'_>, port: u16, owner: &str) -> ConfigError {
        self.error(node.path, format!("port {port} is already used by {owner}"))
    }

    /// Checks an object against `section`: repeated and unknown fields are
    /// errors, ignored Sledge fields are recorded.
    fn fields<'j>(&mut self, node: Node<'j>, section: &Section) -> Result<Fields<'j>> {
        let entries = self.object(node)?;
        let paths: Vec<String> = entries.iter().map(|(k, _)| child(node.path, k)).collect();
        for ((key, _), path) in entries.iter().zip(&paths) {
            if section.ignored.contains(&key.as_str()) {
                if !self.ignored.contains(key) {
                    self.ignored.push(key.clone());
                }
            } else if !section.known.contains(&key.as_str()) {
                return Err(self.error(path, unknown_field(key, section)));
            }
        }
        Ok(Fields {
            path: node.path,
            entries,
            paths,
        })
    }

    fn require<'f>(&self, fields: &'f Fields<'_>, key: &str) -> Result<Node<'f>> {
        fields
            .get(key)
            .ok_or_else(|| self.error(&fields.path_of(key), "missing required field"))
    }

    /// An object's entries; a repeated key is an error, since JSON parsers
    /// disagree on which one wins.
    fn object<'j>(&self, node: Node<'j>) -> Result<&'j [(String, Json)]> {
        let Json::Object(entries) = node.value else {
            return Err(self.expected(node, "an object"));
        };
        for (i, (key, _)) in entries.iter().enumerate() {
            if entries[..i].iter().any(|(k, _)| k == key) {
                return Err(self.error(&child(node.path, key), "duplicate field"));
            }
        }
        Ok(entries)
    }

    fn array<'j>(&self, node: Node<'j>) -> Result<&'j [Json]> {
        match node.value {
            Json::Array(items) => Ok(items),
            _ => Err(self.expected(node, "an array")),
        }
    }

    fn string<'j>(&self, node: Node<'j>) -> Result<&'j str> {
        match node.value {
            Json::String(s) => Ok(s),
            _ => Err(self.expected(node, "a string")),
        }
    }

    fn nonempty_string<'j>(&self, node: Node<'j>) -> Result<&'j str> {
        let s = self.string(node)?;
        if s.is_empty() {
            return Err(self.error(node.path, "must not be empty"));
        }
        Ok(s)
    }

    fn u64(&self, node: Node<'_>) -> Result<u64> {
        match node.value {
            Json::Number(n) => n.as_u64(),
            _ => None,
        }
        .ok_or_else(|| self.expected(node, "a non-negative integer"))
    }

    fn positive(&self, node: Node<'_>) -> Result<u64> {
        match self.u64(node)? {
            0 => Err(self.error(node.path, "must be greater than 0")),
            n => Ok(n),
        }
    }

    fn positive_usize(&self, node: Node<'_>) -> Result<usize> {
        let n = self.positive(node)?;
        usize::try_from(n).map_err(|_| self.error(node.path, format!("{n} is too large")))
    }

    fn port(&self, node: Node<'_>) -> Result<u16> {
        let expected = "a port number between 1 and 65535";
        let port = self.u64(node).map_err(|_| self.expected(node, expected))?;
        match u16::try_from(port) {
            Ok(port) if port > 0 => Ok(port),
            _ => Err(self.expected(node, expected)),
        }
    }

    fn ip_addr(&self, node: Node<'_>) -> Result<IpAddr> {
        let s = self.string(node)?;
        s.parse().map_err(|_| {
            let reason =
                format!("expected an IP address such as 127.0.0.1, 0.0.0.0 or ::, found `{s}`");
            self.error(node.path, reason)
        })
    }

    fn expected(&self, node: Node<'_>, what: &str) -> ConfigError {
        self.error(
            node.path,
            format!("expected {what}, found {}", node.value.describe()),
        )
    }

    /// A route is matched against request paths, so it must look like one.
    fn route_path<'j>(&self, node: Node<'j>) -> Result<&'j str> {
        let route = self.string(node)?;
        if !route.starts_with('/') {
            return Err(self.error(node.path, format!("`{route}` must start with `/`")));
        }
        if route.contains(['?', '#']) || route.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            let reason =
                format!("`{route}` must not contain `?`, `#`, whitespace or control characters");
            return Err(self.error(node.path, reason));
        }
        Ok(route)
    }

    /// Checked now so that a typo fails at start, not at the first request.
    fn module_path(&self, node: Node<'_>) -> Result<PathBuf> {
        let written = self.nonempty_string(node)?;
        let path = self.resolve(written);
        let extension = path.extension().and_then(|e| e.to_str());
        if !matches!(extension, Some("wasm" | "so")) {
            let reason =
                format!("`{written}` is neither a .wasm module nor a .so from `luge compile`");
            return Err(self.error(node.path, reason));
        }
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(path),
            Ok(_) => Err(self.error(node.path, format!("`{}` is not a file", path.display()))),
            Err(e) => Err(self.error(node.path, missing(&path, &e))),
        }
    }

    fn content_type(&self, node: Node<'_>) -> Result<String> {
        let value = self.nonempty_string(node)?;
        // It is copied into a response header, where a line break would
        // split the response.
        if value.chars().any(char::is_control) {
            return Err(self.error(node.path, "must not contain control characters"));
        }
        Ok(value.to_owned())
    }

    fn memory_limit(&self, node: Node<'_>) -> Result<u64> {
        let mib = self.positive(node)?;
        if mib > MAX_MEMORY_LIMIT_MIB {
            let reason = format!(
                "{mib} MiB is more than the {MAX_MEMORY_LIMIT_MIB} MiB a 32-bit memory can address"
            );
            return Err(self.error(node.path, reason));
        }
        Ok(mib)
    }

    fn stack_limit(&self, node: Node<'_>) -> Result<usize> {
        let kib = self.positive(node)?;
        kib.checked_mul(1024)
            .and_then(|bytes| usize::try_from(bytes).ok())
            .ok_or_else(|| self.error(node.path, format!("{kib} KiB is too large")))
    }

    /// `"HOST[::GUEST]"` strings, as `luge run --dir` takes them.
    fn dirs(&self, node: Node<'_>) -> Result<Vec<(PathBuf, String)>> {
        let items = self.array(node)?;
        let mut dirs = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = index(node.path, i);
            let spec = self.string(Node {
                value: item,
                path: &path,
            })?;
            dirs.push(self.dir(spec, &path)?);
        }
        Ok(dirs)
    }

    fn dir(&self, spec: &str, path: &str) -> Result<(PathBuf, String)> {
        let (host, guest) = spec.split_once("::").unwrap_or((spec, spec));
        if host.is_empty() || guest.is_empty() {
            return Err(self.error(path, format!("expected HOST[::GUEST], found `{spec}`")));
        }
        let resolved = self.resolve(host);
        match std::fs::metadata(&resolved) {
            Ok(meta) if meta.is_dir() => Ok((resolved, guest.to_owned())),
            Ok(_) => Err(self.error(path, format!("`{}` is not a directory", resolved.display()))),
            Err(e) => Err(self.error(path, missing(&resolved, &e))),
        }
    }

    fn env_vars(&self, node: Node<'_>) -> Result<Vec<(String, String)>> {
        let mut vars = Vec::new();
        for (key, value) in self.object(node)? {
            let path = child(node.path, key);
            if key.is_empty() || key.contains(['=', '\0']) {
                let reason = "a variable name must be non-empty and contain no `=` or NUL";
                return Err(self.error(&path, reason));
            }
            let value = self.string(Node { value, path: &path })?;
            if value.contains('\0') {
                return Err(self.error(&path, "a value must not contain NUL"));
            }
            vars.push((key.clone(), value.to_owned()));
        }
        Ok(vars)
    }

    fn resolve(&self, written: &str) -> PathBuf {
        self.dir.join(written)
    }
}

/// Who listens on `port` already, if anyone.
fn port_owner(port: u16, tenants: &[Tenant], admin: Option<&AdminConfig>) -> Option<String> {
    if let Some(tenant) = tenants.iter().find(|t| t.port == port) {
        return Some(format!("tenant `{}`", tenant.name));
    }
    admin
        .filter(|a| a.port == port)
        .map(|_| "the admin listener".to_owned())
}

fn missing(path: &Path, error: &std::io::Error) -> String {
    if error.kind() == std::io::ErrorKind::NotFound {
        format!("`{}` does not exist", path.display())
    } else {
        format!("cannot read `{}`: {error}", path.display())
    }
}

fn unknown_field(key: &str, section: &Section) -> String {
    let all = section.known.iter().chain(section.ignored);
    let closest = all.min_by_key(|k| edit_distance(key, k));
    match closest {
        Some(k) if edit_distance(key, k) * 3 <= key.len().max(k.len()) => {
            format!("unknown field (did you mean `{k}`?)")
        }
        _ => format!(
            "unknown field (expected one of: {})",
            section.known.join(", ")
        ),
    }
}

/// Edit distance counting an insertion, a deletion, a replacement or a swap
/// of two neighbours as one edit (optimal string alignment), so that
/// `prot` is one edit from `port`.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // d[i][j]: distance between the first i characters of a and j of b.
    let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let replace = d[i - 1][j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut best = replace.min(d[i - 1][j] + 1).min(d[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use tempfile::TempDir;

    /// A directory holding a config and the files it names.
    struct Fixture {
        dir: TempDir,
        env: HashMap<String, String>,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture {
                dir: tempfile::tempdir().unwrap(),
                env: HashMap::new(),
            }
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        fn touch(&self, name: &str) -> &Fixture {
            let path = self.path(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"").unwrap();
            self
        }

        fn mkdir(&self, name: &str) -> &Fixture {
            std::fs::create_dir_all(self.path(name)).unwrap();
            self
        }

        fn set_env(&mut self, name: &str, value: &str) -> &mut Fixture {
            self.env.insert(name.to_owned(), value.to_owned());
            self
        }

        fn parse(&self, text: &str) -> Result<ServeConfig> {
            let env = |name: &str| self.env.get(name).cloned();
            parse_with_env(text, &self.path("luge.json"), &env)
        }

        /// The error message, with the temporary directory written `DIR`.
        fn error(&self, text: &str) -> String {
            let error = self.parse(text).expect_err("config should be refused");
            let dir = self.dir.path().display().to_string();
            error.to_string().replace(&dir, "DIR")
        }
    }

    /// A Luge-shape config with one tenant and one route to `app.wasm` with
    /// the given extra route fields.
    fn luge_route(extra: &str) -> String {
        let comma = if extra.is_empty() { "" } else { "," };
        format!(
            r#"{{"tenants": [{{"name": "t", "port": 9001, "routes": [
                {{"route": "/app", "path": "app.wasm"{comma} {extra}}}]}}]}}"#
        )
    }

    /// A Sledge-shape config with one tenant and one route.
    fn sledge_route(route: &str, path: &str) -> String {
        format!(
            r#"[{{"name": "a", "port": 1, "routes": [
                {{"route": "{route}", "path": "{path}"}}]}}]"#
        )
    }

    fn sledge_readme() -> &'static str {
        r#"[
	{
		"name": "GWU",
		"port": 10010,
		"routes": [
			{
				"route": "/fib",
				"path": "fibonacci.wasm.so",
				"expected-execution-us": 6000,
				"relative-deadline-us": 20000,
				"http-resp-content-type": "text/plain"
			}
		]
	}
]
"#
    }

    #[test]
    fn sledge_readme_example_loads_unchanged() {
        let fx = Fixture::new();
        fx.touch("fibonacci.wasm.so");
        std::fs::write(fx.path("spec.json"), sledge_readme()).unwrap();
        let config = ServeConfig::load(&fx.path("spec.json")).unwrap();
        let mut route = RouteConfig::new("/fib", fx.path("fibonacci.wasm.so"));
        route.relative_deadline = Some(Duration::from_micros(20000));
        let mut expected = ServeConfig::with_tenants(vec![Tenant {
            name: "GWU".into(),
            port: 10010,
            routes: vec![route],
        }]);
        expected.ignored_fields = vec!["expected-execution-us".into()];
        assert_eq!(config, expected);
    }

    #[test]
    fn other_sledge_fields_are_ignored_and_recorded_once() {
        let fx = Fixture::new();
        fx.touch("fib.wasm.so");
        let route = r#"{"route": "/fib%", "request-type": 1, "n-resas": 2, "group-id": 1,
            "path": "fib.wasm.so", "admissions-percentile": 70, "expected-execution-us": 5,
            "relative-deadline-us": 0, "http-req-size": 1024, "http-resp-size": 1024,
            "http-req-content-type": "text/plain", "http-req-headers": [],
            "http-resp-headers": [], "path_premodule": "pre.so", "model-bias": 1,
            "model-scale": 2, "model-num-of-param": 2, "model-beta1": 0.5,
            "model-beta2": 0.5, "http-resp-content-type": "text/plain"}"#;
        let text = format!(
            r#"[{{"name": "gwu", "port": 31850, "replenishment-period-us": 0,
                "max-budget-us": 0, "route-replicas": 1,
                "routes": [{}, {}]}}]"#,
            route.replace('%', "1"),
            route.replace('%', "2")
        );
        let config = fx.parse(&text).unwrap();
        assert_eq!(config.tenants[0].routes.len(), 2);
        assert_eq!(config.tenants[0].routes[1].relative_deadline, None);
        let mut expected: Vec<&str> = TENANT.ignored.to_vec();
        expected.extend(ROUTE.ignored.iter().filter(|f| **f != "path_premodule"));
        expected.push("path_premodule");
        let mut ignored = config.ignored_fields.clone();
        ignored.sort();
        expected.sort();
        assert_eq!(ignored, expected);
    }

    #[test]
    fn luge_defaults() {
        let fx = Fixture::new();
        fx.touch("app.wasm");
        let config = fx.parse(&luge_route("")).unwrap();
        assert_eq!(config.host, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(config.workers, None);
        assert_eq!(config.queue_limit, 1024);
        assert_eq!(config.state_dir, None);
        assert_eq!(config.admin, None);
        assert_eq!(config.openwhisk, None);
        assert!(config.ignored_fields.is_empty());
        let route = &config.tenants[0].routes[0];
        assert_eq!(route.path, fx.path("app.wasm"));
        assert_eq!(route.relative_deadline, None);
        assert_eq!(route.content_type, "text/plain");
        assert_eq!(route.memory_limit_mib, None);
        assert_eq!(route.timeout, Duration::from_millis(10_000));
        assert!(route.dirs.is_empty());
        assert!(route.env.is_empty());
        assert_eq!(route.max_body_bytes, 1 << 20);
        assert_eq!(route.max_output_bytes, 16 << 20);
        assert_eq!(route.bounds, Arch::host().default_bounds());
        assert_eq!(route.stack_limit, crate::DEFAULT_MAX_STACK);
    }

    #[test]
    fn luge_explicit_values() {
        let fx = Fixture::new();
        fx.touch("fn/app.so").mkdir("assets").mkdir("tmp");
        let text = r#"{
            "host": "0.0.0.0", "workers": 3, "queue-limit": 64, "state-dir": "state",
            "admin": {"port": 9000, "token": "s3cret"}, "openwhisk": {"port": 9002},
            "tenants": [{"name": "edge", "port": 9001, "routes": [{
                "route": "/app", "path": "fn/app.so", "relative-deadline-us": 50000,
                "http-resp-content-type": "image/png", "memory-limit-mib": 64,
                "timeout-ms": 2000, "dirs": ["assets::/assets", "tmp"],
                "env": {"QUALITY": "85", "MODE": "fast"}, "max-body-bytes": 10,
                "max-output-bytes": 20, "bounds": "software", "stack-limit-kib": 512}]}]}"#;
        let config = fx.parse(text).unwrap();
        assert_eq!(config.host, "0.0.0.0".parse::<IpAddr>().unwrap());
        assert_eq!(config.workers, Some(3));
        assert_eq!(config.queue_limit, 64);
        assert_eq!(config.state_dir, Some(fx.path("state")));
        let admin = AdminConfig {
            port: 9000,
            token: "s3cret".into(),
        };
        assert_eq!(config.admin, Some(admin));
        assert_eq!(config.openwhisk, Some(OpenWhiskConfig { port: 9002 }));
        let route = &config.tenants[0].routes[0];
        let expected = RouteConfig {
            route: "/app".into(),
            path: fx.path("fn/app.so"),
            relative_deadline: Some(Duration::from_millis(50)),
            content_type: "image/png".into(),
            memory_limit_mib: Some(64),
            timeout: Duration::from_secs(2),
            dirs: vec![
                (fx.path("assets"), "/assets".into()),
                (fx.path("tmp"), "tmp".into()),
            ],
            env: vec![
                ("QUALITY".into(), "85".into()),
                ("MODE".into(), "fast".into()),
            ],
            max_body_bytes: 10,
            max_output_bytes: 20,
            bounds: BoundsMode::Software,
            stack_limit: 512 << 10,
        };
        assert_eq!(*route, expected);
    }

    #[test]
    fn absolute_paths_are_kept() {
        let fx = Fixture::new();
        fx.touch("app.wasm");
        let module = fx.path("app.wasm").display().to_string();
        let text = luge_route("").replace("app.wasm", &module);
        let config = fx.parse(&text).unwrap();
        assert_eq!(config.tenants[0].routes[0].path, fx.path("app.wasm"));
    }

    #[test]
    fn admin_token_comes_from_the_named_variable() {
        let mut fx = Fixture::new();
        fx.set_env("DEPLOY_TOKEN", "from-var")
            .set_env(ADMIN_TOKEN_ENV, "fallback");
        let text = r#"{"tenants": [], "admin": {"port": 9000, "token-env": "DEPLOY_TOKEN"}}"#;
        let config = fx.parse(text).unwrap();
        assert_eq!(config.admin.unwrap().token, "from-var");
    }

    #[test]
    fn admin_token_falls_back_to_luge_admin_token() {
        let mut fx = Fixture::new();
        fx.set_env(ADMIN_TOKEN_ENV, "fallback");
        let config = fx
            .parse(r#"{"tenants": [], "admin": {"port": 9000}}"#)
            .unwrap();
        assert_eq!(config.admin.unwrap().token, "fallback");
    }

    #[test]
    fn admin_token_is_redacted_in_debug_output() {
        let admin = AdminConfig {
            port: 9000,
            token: "s3cret".into(),
        };
        let debug = format!("{admin:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
    }

    #[test]
    fn bundled_examples_point_at_existing_files() {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let config = ServeConfig::bundled_examples(&examples);
        assert_eq!(config.host, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(config.tenants.len(), 1);
        let tenant = &config.tenants[0];
        assert_eq!(
            (tenant.name.as_str(), tenant.port),
            ("examples", DEFAULT_PORT)
        );
        let routes: Vec<&str> = tenant.routes.iter().map(|r| r.route.as_str()).collect();
        assert_eq!(
            routes,
            ["/hello", "/hash", "/prime", "/net", "/sleep", "/rust-hello"]
        );
        for route in &tenant.routes {
            assert!(route.path.is_absolute(), "{}", route.path.display());
            assert!(route.path.is_file(), "{} is missing", route.path.display());
        }
    }

    #[test]
    fn unreadable_file() {
        let fx = Fixture::new();
        let error = ServeConfig::load(&fx.path("missing.json")).unwrap_err();
        let message = error
            .to_string()
            .replace(&fx.dir.path().display().to_string(), "DIR");
        assert_eq!(
            message,
            "DIR/missing.json: cannot read: No such file or directory (os error 2)"
        );
    }

    #[test]
    fn bad_json_gives_line_and_column() {
        let fx = Fixture::new();
        let text = "[\n  {\"name\": \"a\",}\n]";
        assert_eq!(fx.error(text), "DIR/luge.json:2:16: trailing comma");
    }

    #[test]
    fn wrong_top_level_type() {
        let fx = Fixture::new();
        assert_eq!(
            fx.error("\"spec\""),
            "DIR/luge.json: expected an array of tenants (Sledge's spec.json) or an object \
             with `tenants`, found a string"
        );
    }

    #[test]
    fn empty_configs_are_refused() {
        let fx = Fixture::new();
        assert_eq!(
            fx.error("[]"),
            "DIR/luge.json: no tenants: there is nothing to serve"
        );
        assert_eq!(
            fx.error(r#"{"tenants": []}"#),
            "DIR/luge.json: tenants: no tenants, and no admin or openwhisk listener to \
             deploy to: there is nothing to serve"
        );
    }

    #[test]
    fn wrong_types_say_what_was_expected_and_found() {
        let fx = Fixture::new();
        fx.touch("app.wasm");
        let cases = [
            (
                r#"[{"name": "a", "port": "10010", "routes": []}]"#,
                "[0].port: expected a port number between 1 and 65535, found a string",
            ),
            (
                r#"[{"name": 7, "port": 1, "routes": []}]"#,
                "[0].name: expected a string, found 7",
            ),
            (
                r#"[{"name": "a", "port": 1, "routes": {}}]"#,
                "[0].routes: expected an array, found an object",
            ),
            (
                &luge_route(r#""timeout-ms": 1.5"#),
                "tenants[0].routes[0].timeout-ms: expected a non-negative integer, found 1.5",
            ),
            (
                &luge_route(r#""relative-deadline-us": -1"#),
                "tenants[0].routes[0].relative-deadline-us: expected a non-negative integer, \
                 found -1",
            ),
            (
                &luge_route(r#""env": ["A=1"]"#),
                "tenants[0].routes[0].env: expected an object, found an array",
            ),
            (
                &luge_route(r#""env": {"A": 1}"#),
                "tenants[0].routes[0].env.A: expected a string, found 1",
            ),
            (
                r#"{"tenants": [], "openwhisk": null}"#,
                "openwhisk: expected an object, found null",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(fx.error(text), format!("DIR/luge.json: {expected}"));
        }
    }

    #[test]
    fn missing_required_fields() {
        let fx = Fixture::new();
        assert_eq!(
            fx.error(r#"[{"name": "a", "port": 1}]"#),
            "DIR/luge.json: [0].routes: missing required field"
        );
        assert_eq!(
            fx.error(r#"[{"name": "a", "port": 1, "routes": [{"route": "/a"}]}]"#),
            "DIR/luge.json: [0].routes[0].path: missing required field"
        );
        assert_eq!(
            fx.error(r#"{"host": "::"}"#),
            "DIR/luge.json: tenants: missing required field"
        );
    }

    #[test]
    fn unknown_fields_suggest_the_closest_name() {
        let fx = Fixture::new();
        fx.touch("app.wasm");
        assert_eq!(
            fx.error(&luge_route(r#""timout-ms": 5"#)),
            "DIR/luge.json: tenants[0].routes[0].timout-ms: unknown field (did you mean \
             `timeout-ms`?)"
        );
        assert_eq!(
            fx.error(r#"[{"name": "a", "prot": 1, "routes": []}]"#),
            "DIR/luge.json: [0].prot: unknown field (did you mean `port`?)"
        );
        assert_eq!(
            fx.error(r#"{"tenants": [], "admin": {"port": 1, "tokn_env": "X"}}"#),
            "DIR/luge.json: admin.tokn_env: unknown field (did you mean `token-env`?)"
        );
        assert_eq!(
            fx.error(r#"{"tenants": [], "colour": "blue"}"#),
            "DIR/luge.json: colour: unknown field (expected one of: tenants, host, workers, \
             queue-limit, state-dir, admin, openwhisk)"
        );
    }

    #[test]
    fn repeated_fields_are_refused() {
        let fx = Fixture::new();
        fx.touch("app.wasm");
        assert_eq!(
            fx.error(&luge_route(r#""timeout-ms": 5, "timeout-ms": 6"#)),
            "DIR/luge.json: tenants[0].routes[0].timeout-ms: duplicate field"
        );
    }

    #[test]
    fn duplicate_routes_names_and_ports() {
        let fx = Fixture::new();
        fx.touch("a.wasm");
        let route = r#"{"route": "/a", "path": "a.wasm"}"#;
        assert_eq!(
            fx.error(&format!(
                r#"[{{"name": "a", "port": 1, "routes": [{route}, {route}]}}]"#
            )),
            "DIR/luge.json: [0].routes[1].route: duplicate route `/a` (also at [0].routes[0])"
        );
        assert_eq!(
            fx.error(
                r#"{"tenants": [{"name": "a", "port": 1, "routes": []},
                               {"name": "a", "port": 2, "routes": []}]}"#
            ),
            "DIR/luge.json: tenants[1].name: duplicate tenant name `a` (also at tenants[0])"
        );
        assert_eq!(
            fx.error(
                r#"[{"name": "a", "port": 1, "routes": []},
                    {"name": "b", "port": 1, "routes": []}]"#
            ),
            "DIR/luge.json: [1].port: port 1 is already used by tenant `a`"
        );
    }

    #[test]
    fn listener_ports_must_differ_from_tenant_ports() {
        let mut fx = Fixture::new();
        fx.set_env(ADMIN_TOKEN_ENV, "t");
        let tenants = r#""tenants": [{"name": "a", "port": 9000, "routes": []}]"#;
        assert_eq!(
            fx.error(&format!(r#"{{{tenants}, "admin": {{"port": 9000}}}}"#)),
            "DIR/luge.json: admin.port: port 9000 is already used by tenant `a`"
        );
        assert_eq!(
            fx.error(&format!(
                r#"{{{tenants}, "admin": {{"port": 9001}}, "openwhisk": {{"port": 9001}}}}"#
            )),
            "DIR/luge.json: openwhisk.port: port 9001 is already used by the admin listener"
        );
    }

    #[test]
    fn ports_out_of_range() {
        let fx = Fixture::new();
        for port in ["0", "65536", "-80"] {
            assert_eq!(
                fx.error(&format!(
                    r#"[{{"name": "a", "port": {port}, "routes": []}}]"#
                )),
                format!(
                    "DIR/luge.json: [0].port: expected a port number between 1 and 65535, \
                     found {port}"
                )
            );
        }
    }

    #[test]
    fn routes_must_be_paths() {
        let fx = Fixture::new();
        fx.touch("a.wasm");
        let config = |route: &str| sledge_route(route, "a.wasm");
        assert_eq!(
            fx.error(&config("fib")),
            "DIR/luge.json: [0].routes[0].route: `fib` must start with `/`"
        );
        assert_eq!(
            fx.error(&config("/a?b")),
            "DIR/luge.json: [0].routes[0].route: `/a?b` must not contain `?`, `#`, \
             whitespace or control characters"
        );
    }

    #[test]
    fn module_paths_must_exist_with_a_known_extension() {
        let fx = Fixture::new();
        fx.touch("fib.txt").mkdir("dir.wasm");
        let config = |path: &str| sledge_route("/a", path);
        assert_eq!(
            fx.error(&config("fibonacci.wasm.so")),
            "DIR/luge.json: [0].routes[0].path: `DIR/fibonacci.wasm.so` does not exist"
        );
        assert_eq!(
            fx.error(&config("fib.txt")),
            "DIR/luge.json: [0].routes[0].path: `fib.txt` is neither a .wasm module nor a .so \
             from `luge compile`"
        );
        assert_eq!(
            fx.error(&config("dir.wasm")),
            "DIR/luge.json: [0].routes[0].path: `DIR/dir.wasm` is not a file"
        );
        assert_eq!(
            fx.error(&config("")),
            "DIR/luge.json: [0].routes[0].path: must not be empty"
        );
    }

    #[test]
    fn admin_without_a_token_is_refused() {
        let fx = Fixture::new();
        assert_eq!(
            fx.error(r#"{"tenants": [], "admin": {"port": 9000}}"#),
            "DIR/luge.json: admin.token: the admin listener needs a bearer token: set \
             `token`, or `token-env` to the name of a variable holding it, or set \
             LUGE_ADMIN_TOKEN"
        );
        assert_eq!(
            fx.error(r#"{"tenants": [], "admin": {"port": 9000, "token-env": "NOPE"}}"#),
            "DIR/luge.json: admin.token-env: environment variable `NOPE` is not set or empty"
        );
        assert_eq!(
            fx.error(r#"{"tenants": [], "admin": {"port": 9000, "token": "a", "token-env": "B"}}"#),
            "DIR/luge.json: admin.token-env: set either `token` or `token-env`, not both"
        );
        assert_eq!(
            fx.error(r#"{"tenants": [], "admin": {"port": 9000, "token": "a b"}}"#),
            "DIR/luge.json: admin.token: the token must not contain whitespace or control \
             characters"
        );
    }

    #[test]
    fn dirs_must_be_existing_directories() {
        let fx = Fixture::new();
        fx.touch("app.wasm").touch("file");
        let cases = [
            (r#"["nope::/data"]"#, "dirs[0]: `DIR/nope` does not exist"),
            (r#"["file"]"#, "dirs[0]: `DIR/file` is not a directory"),
            (
                r#"["::/data"]"#,
                "dirs[0]: expected HOST[::GUEST], found `::/data`",
            ),
            (r#"[3]"#, "dirs[0]: expected a string, found 3"),
        ];
        for (dirs, expected) in cases {
            assert_eq!(
                fx.error(&luge_route(&format!(r#""dirs": {dirs}"#))),
                format!("DIR/luge.json: tenants[0].routes[0].{expected}")
            );
        }
    }

    #[test]
    fn bad_route_values() {
        let fx = Fixture::new();
        fx.touch("app.wasm");
        let cases = [
            (
                r#""env": {"A=B": "1"}"#,
                "env.A=B: a variable name must be non-empty and contain no `=` or NUL",
            ),
            (
                r#""bounds": "none""#,
                "bounds: unknown bounds mode `none` (expected `guard` or `software`)",
            ),
            (r#""timeout-ms": 0"#, "timeout-ms: must be greater than 0"),
            (
                r#""memory-limit-mib": 8192"#,
                "memory-limit-mib: 8192 MiB is more than the 4096 MiB a 32-bit memory can address",
            ),
            (
                r#""stack-limit-kib": 18446744073709551615"#,
                "stack-limit-kib: 18446744073709551615 KiB is too large",
            ),
            (
                r#""http-resp-content-type": "text/plain\r\nX: y""#,
                "http-resp-content-type: must not contain control characters",
            ),
        ];
        for (field, expected) in cases {
            assert_eq!(
                fx.error(&luge_route(field)),
                format!("DIR/luge.json: tenants[0].routes[0].{expected}")
            );
        }
    }

    #[test]
    fn bad_server_values() {
        let fx = Fixture::new();
        assert_eq!(
            fx.error(r#"{"tenants": [], "host": "localhost"}"#),
            "DIR/luge.json: host: expected an IP address such as 127.0.0.1, 0.0.0.0 or ::, \
             found `localhost`"
        );
        assert_eq!(
            fx.error(r#"{"tenants": [], "workers": 0}"#),
            "DIR/luge.json: workers: must be greater than 0"
        );
        assert_eq!(
            fx.error(r#"{"tenants": [], "queue-limit": true}"#),
            "DIR/luge.json: queue-limit: expected a non-negative integer, found true"
        );
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("timout-ms", "timeout-ms"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("prot", "port"), 1);
    }
}
