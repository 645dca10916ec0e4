//! What serde cannot check, and the public types built from the raw
//! structs once it is checked: ranges, unique tenant names, routes and
//! ports, module files and directories that exist, the admin token from
//! the environment, and relative paths resolved against the file's
//! directory.

use super::error::ConfigError;
use super::{child, index, raw};
use super::{
    AdminConfig, ConnectionLimits, DeadlineMiss, OpenWhiskConfig, RouteConfig, ServeConfig, Tenant,
    ADMIN_TOKEN_ENV, DEFAULT_ADMIN_USER, DEFAULT_COMPILE_MAX_CODE_MIB, DEFAULT_COMPILE_TIMEOUT_MS,
    MAX_MEMORY_LIMIT_MIB, MAX_TIMEOUT, METRICS_PATH,
};
use awsm_compiler::CompileBudget;
use luge_scheduler::group::Budget;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// Checks a document read from one file, and stops at the first error. Each
/// check takes the path of the value it checks, for its error.
pub(super) struct Validator<'a> {
    file: &'a Path,
    /// Absolute directory of the file: the base of relative paths.
    dir: PathBuf,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Validator<'a> {
    pub(super) fn new(file: &'a Path, env: &'a dyn Fn(&str) -> Option<String>) -> Validator<'a> {
        let parent = luge_runtime::files::dir_of(file);
        let dir = std::path::absolute(parent).unwrap_or_else(|_| parent.to_owned());
        Validator { file, dir, env }
    }

    fn error(&self, path: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::field(self.file, path, reason)
    }

    pub(super) fn document(&self, document: raw::Document) -> Result<ServeConfig> {
        match document {
            raw::Document::Sledge(tenants) => self.sledge_document(tenants),
            raw::Document::Luge(luge) => self.luge_document(*luge),
        }
    }

    fn sledge_document(&self, tenants: Vec<raw::Tenant>) -> Result<ServeConfig> {
        let tenants = self.tenants(tenants, "")?;
        if tenants.is_empty() {
            let reason = "no tenants: there is nothing to serve";
            return Err(ConfigError::document(self.file, reason));
        }
        Ok(ServeConfig::with_tenants(tenants))
    }

    fn luge_document(&self, mut luge: raw::Luge) -> Result<ServeConfig> {
        let tenants = self.tenants(std::mem::take(&mut luge.tenants), "tenants")?;
        let mut config = ServeConfig::with_tenants(tenants);
        if let Some(host) = &luge.host {
            config.host = self.ip_addr(host, "host")?;
        }
        if let Some(n) = luge.workers {
            config.workers = Some(self.positive_usize(n, "workers")?);
        }
        if let Some(n) = luge.queue_limit {
            config.queue_limit = self.positive_usize(n, "queue-limit")?;
        }
        if let Some(mib) = luge.memory_budget_mib {
            config.memory_budget_mib = Some(self.positive(mib, "memory-budget-mib")?);
        }
        if let Some(mib) = luge.memory_limit_mib {
            config.memory_limit_mib = self.memory_limit(mib, "memory-limit-mib")?;
        }
        if let Some(ms) = luge.retire_grace_ms {
            config.retire_grace = Duration::from_millis(ms);
        }
        config.connections = self.connection_limits(&luge)?;
        if let Some(dir) = &luge.state_dir {
            config.state_dir = Some(self.resolve(self.nonempty(dir, "state-dir")?));
        }
        if let Some(admin) = &luge.admin {
            config.admin = Some(self.admin(admin, &config.tenants)?);
        }
        if let Some(openwhisk) = &luge.openwhisk {
            config.openwhisk = Some(self.openwhisk(openwhisk, &config)?);
        }
        let listeners = config.admin.is_some() || config.openwhisk.is_some();
        if config.tenants.is_empty() && !listeners {
            return Err(self.error(
                "tenants",
                "no tenants, and no admin or openwhisk listener to deploy to: there is \
                 nothing to serve",
            ));
        }
        Ok(config)
    }

    /// The top-level connection settings; every one is positive.
    fn connection_limits(&self, luge: &raw::Luge) -> Result<ConnectionLimits> {
        let mut limits = ConnectionLimits::default();
        let ms = |value: Option<u64>, key: &str, field: &mut Duration| -> Result<()> {
            if let Some(ms) = value {
                *field = Duration::from_millis(self.positive(ms, key)?);
            }
            Ok(())
        };
        ms(
            luge.send_timeout_ms,
            "send-timeout-ms",
            &mut limits.send_timeout,
        )?;
        ms(
            luge.head_timeout_ms,
            "head-timeout-ms",
            &mut limits.head_timeout,
        )?;
        ms(
            luge.body_timeout_ms,
            "body-timeout-ms",
            &mut limits.body_timeout,
        )?;
        ms(
            luge.idle_timeout_ms,
            "idle-timeout-ms",
            &mut limits.idle_timeout,
        )?;
        if let Some(n) = luge.max_connections {
            limits.max_connections = Some(self.positive_usize(n, "max-connections")?);
        }
        if let Some(n) = luge.max_connections_per_client {
            limits.max_per_client = self.positive_usize(n, "max-connections-per-client")?;
        }
        if let Some(rate) = luge.min_body_rate {
            limits.min_body_rate = self.positive(rate, "min-body-rate")?;
        }
        Ok(limits)
    }

    /// The tenants of the array at `list`.
    fn tenants(&self, raw: Vec<raw::Tenant>, list: &str) -> Result<Vec<Tenant>> {
        let mut tenants: Vec<Tenant> = Vec::new();
        for (i, tenant) in raw.into_iter().enumerate() {
            let tenant = self.tenant(tenant, list, i, &tenants)?;
            tenants.push(tenant);
        }
        Ok(tenants)
    }

    /// Tenant `i` of the array at `list`; `earlier` are the tenants before
    /// it, which its name and port must not repeat.
    fn tenant(&self, raw: raw::Tenant, list: &str, i: usize, earlier: &[Tenant]) -> Result<Tenant> {
        let path = index(list, i);
        let name_path = child(&path, "name");
        let name = self.nonempty(&raw.name, &name_path)?.to_owned();
        if let Some(j) = earlier.iter().position(|t| t.name == name) {
            let reason = format!(
                "duplicate tenant name `{name}` (also at {})",
                index(list, j)
            );
            return Err(self.error(&name_path, reason));
        }
        let port = raw.port.0;
        if let Some(owner) = port_owner(port, earlier, None) {
            return Err(self.port_taken(&child(&path, "port"), port, &owner));
        }
        let routes = self.routes(raw.routes, &child(&path, "routes"))?;
        let mut tenant = Tenant::new(&name, port, routes);
        if let Some(weight) = raw.cpu_weight {
            tenant.cpu_weight = self.cpu_weight(weight, &child(&path, "cpu-weight"))?;
        }
        tenant.budget = self.budget(raw.max_budget_us, raw.replenishment_period_us, &path)?;
        if let Some(n) = raw.queue_limit {
            tenant.queue_limit = Some(self.positive_usize(n, &child(&path, "queue-limit"))?);
        }
        Ok(tenant)
    }

    fn cpu_weight(&self, weight: u64, path: &str) -> Result<u32> {
        match weight {
            1..=10_000 => Ok(weight as u32),
            _ => Err(self.error(path, format!("{weight} is not within 1-10000"))),
        }
    }

    /// `max-budget-us` per `replenishment-period-us`: both or neither, and
    /// both 0 means none, as in Sledge's own configurations.
    fn budget(&self, max: Option<u64>, period: Option<u64>, path: &str) -> Result<Option<Budget>> {
        let max_path = child(path, "max-budget-us");
        let period_path = child(path, "replenishment-period-us");
        match (max, period) {
            (None, None) | (Some(0), Some(0)) => Ok(None),
            (Some(_), None) => Err(self.error(&period_path, "missing: `max-budget-us` needs it")),
            (None, Some(_)) => {
                Err(self.error(&max_path, "missing: `replenishment-period-us` needs it"))
            }
            (Some(max), Some(period)) => {
                let period = self.positive(period, &period_path)?;
                let max = self.positive(max, &max_path)?;
                if max > period {
                    let reason = format!(
                        "{max} µs is more than the {period} µs period it is replenished in"
                    );
                    return Err(self.error(&max_path, reason));
                }
                Ok(Some(Budget {
                    max: Duration::from_micros(max),
                    period: Duration::from_micros(period),
                }))
            }
        }
    }

    /// The routes of the array at `list`.
    fn routes(&self, raw: Vec<raw::Route>, list: &str) -> Result<Vec<RouteConfig>> {
        let mut routes: Vec<RouteConfig> = Vec::new();
        for (i, route) in raw.into_iter().enumerate() {
            let path = index(list, i);
            let route = self.route(route, &path)?;
            if let Some(j) = routes.iter().position(|r| r.route == route.route) {
                let reason = format!(
                    "duplicate route `{}` (also at {})",
                    route.route,
                    index(list, j)
                );
                return Err(self.error(&child(&path, "route"), reason));
            }
            routes.push(route);
        }
        Ok(routes)
    }

    /// The route at `path`.
    fn route(&self, raw: raw::Route, path: &str) -> Result<RouteConfig> {
        let route = self.route_path(&raw.route, &child(path, "route"))?;
        let module = self.module_path(&raw.path, &child(path, "path"))?;
        let mut config = RouteConfig::new(route, module);
        self.sledge_route_fields(&raw, path, &mut config)?;
        self.limit_fields(&raw, path, &mut config)?;
        self.sandbox_fields(raw, path, &mut config)?;
        Ok(config)
    }

    fn sledge_route_fields(
        &self,
        raw: &raw::Route,
        path: &str,
        config: &mut RouteConfig,
    ) -> Result<()> {
        if let Some(us) = raw.relative_deadline_us {
            config.relative_deadline = (us > 0).then(|| Duration::from_micros(us));
        }
        if let Some(value) = &raw.http_resp_content_type {
            config.content_type =
                self.content_type(value, &child(path, "http-resp-content-type"))?;
        }
        if let Some(p) = raw.admissions_percentile {
            let field = child(path, "admissions-percentile");
            if !(50..=99).contains(&p) {
                return Err(self.error(&field, format!("{p} is not within 50-99")));
            }
            config.admissions_percentile = p as u8;
        }
        if let Some(us) = raw.expected_execution_us {
            config.expected_execution = (us > 0).then(|| Duration::from_micros(us));
        }
        Ok(())
    }

    fn deadline_miss(&self, value: &str, path: &str) -> Result<DeadlineMiss> {
        match value {
            "continue" => Ok(DeadlineMiss::Continue),
            "abort" => Ok(DeadlineMiss::Abort),
            other => Err(self.error(
                path,
                format!("expected \"continue\" or \"abort\", found `{other}`"),
            )),
        }
    }

    fn limit_fields(&self, raw: &raw::Route, path: &str, config: &mut RouteConfig) -> Result<()> {
        if let Some(mib) = raw.memory_limit_mib {
            config.memory_limit_mib =
                Some(self.memory_limit(mib, &child(path, "memory-limit-mib"))?);
        }
        if let Some(ms) = raw.timeout_ms {
            config.timeout = self.timeout(ms, &child(path, "timeout-ms"))?;
        }
        if let Some(n) = raw.max_concurrency {
            let field = child(path, "max-concurrency");
            config.max_concurrency = Some(self.positive_usize(n, &field)?);
        }
        if let Some(value) = &raw.deadline_miss {
            config.deadline_miss = self.deadline_miss(value, &child(path, "deadline-miss"))?;
        }
        if let Some(bytes) = raw.max_body_bytes {
            config.max_body_bytes = bytes;
        }
        if let Some(bytes) = raw.max_output_bytes {
            config.max_output_bytes = bytes;
        }
        if let Some(kib) = raw.stack_limit_kib {
            config.stack_limit = self.stack_limit(kib, &child(path, "stack-limit-kib"))?;
        }
        Ok(())
    }

    fn sandbox_fields(&self, raw: raw::Route, path: &str, config: &mut RouteConfig) -> Result<()> {
        if let Some(dirs) = &raw.dirs {
            config.dirs = self.dirs(dirs, &child(path, "dirs"))?;
        }
        if let Some(env) = raw.env {
            config.env = self.env_vars(env.0, &child(path, "env"))?;
        }
        if let Some(spectre) = &raw.spectre {
            config.spectre = match spectre.as_str() {
                "on" => true,
                "off" => false,
                other => {
                    let reason = format!("expected `on` or `off`, found `{other}`");
                    return Err(self.error(&child(path, "spectre"), reason));
                }
            };
        }
        if let Some(name) = &raw.bounds {
            let bounds_path = child(path, "bounds");
            config.bounds = name
                .parse()
                .map_err(|e: String| self.error(&bounds_path, e))?;
        }
        if let Some(name) = &raw.tier {
            let tier_path = child(path, "tier");
            config.tier = name
                .parse()
                .map_err(|e: String| self.error(&tier_path, e))?;
        }
        Ok(())
    }

    fn admin(&self, raw: &raw::Admin, tenants: &[Tenant]) -> Result<AdminConfig> {
        let port = raw.port.0;
        if let Some(owner) = port_owner(port, tenants, None) {
            return Err(self.port_taken("admin.port", port, &owner));
        }
        let token = self.admin_token(raw)?;
        let user = match &raw.user {
            Some(user) if user.contains(':') => {
                return Err(self.error("admin.user", "a user name cannot contain `:`"));
            }
            Some(user) => self.nonempty(user, "admin.user")?.to_owned(),
            None => DEFAULT_ADMIN_USER.to_owned(),
        };
        let timeout = raw.compile_timeout_ms.unwrap_or(DEFAULT_COMPILE_TIMEOUT_MS);
        let code_mib = raw
            .compile_max_code_mib
            .unwrap_or(DEFAULT_COMPILE_MAX_CODE_MIB);
        let compile_budget = CompileBudget {
            time: Some(Duration::from_millis(
                self.positive(timeout, "admin.compile-timeout-ms")?,
            )),
            code_bytes: Some(
                self.positive(code_mib, "admin.compile-max-code-mib")?
                    .saturating_mul(1 << 20),
            ),
        };
        Ok(AdminConfig {
            port,
            token,
            user,
            compile_budget,
        })
    }

    /// The token from `token`, else from the variable `token-env` names,
    /// else from [`ADMIN_TOKEN_ENV`]; a deploy API without one would let
    /// anyone who reaches the port run code.
    fn admin_token(&self, raw: &raw::Admin) -> Result<String> {
        let lookup = |name: &str| (self.env)(name).filter(|v| !v.is_empty());
        let (token, path) = match (&raw.token, &raw.token_env) {
            (Some(_), Some(_)) => {
                let reason = "set either `token` or `token-env`, not both";
                return Err(self.error("admin.token-env", reason));
            }
            (Some(token), None) => (token.clone(), "admin.token"),
            (None, Some(name)) => {
                let path = "admin.token-env";
                let name = self.nonempty(name, path)?;
                let token = lookup(name).ok_or_else(|| {
                    let reason = format!("environment variable `{name}` is not set or empty");
                    self.error(path, reason)
                })?;
                (token, path)
            }
            (None, None) => {
                let path = "admin.token";
                let token = lookup(ADMIN_TOKEN_ENV).ok_or_else(|| {
                    let reason = format!(
                        "the admin listener needs a bearer token: set `token`, or \
                         `token-env` to the name of a variable holding it, or set \
                         {ADMIN_TOKEN_ENV}"
                    );
                    self.error(path, reason)
                })?;
                (token, path)
            }
        };
        self.check_token(&token, path)?;
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

    fn openwhisk(&self, raw: &raw::OpenWhisk, config: &ServeConfig) -> Result<OpenWhiskConfig> {
        let port = raw.port.0;
        if let Some(owner) = port_owner(port, &config.tenants, config.admin.as_ref()) {
            return Err(self.port_taken("openwhisk.port", port, &owner));
        }
        let mut openwhisk = OpenWhiskConfig::new(port);
        if let Some(ms) = raw.timeout_ms {
            openwhisk.timeout = self.timeout(ms, "openwhisk.timeout-ms")?;
        }
        if let Some(mib) = raw.memory_limit_mib {
            openwhisk.memory_limit_mib =
                Some(self.memory_limit(mib, "openwhisk.memory-limit-mib")?);
        }
        Ok(openwhisk)
    }

    fn port_taken(&self, path: &str, port: u16, owner: &str) -> ConfigError {
        self.error(path, format!("port {port} is already used by {owner}"))
    }

    fn nonempty<'s>(&self, value: &'s str, path: &str) -> Result<&'s str> {
        if value.is_empty() {
            return Err(self.error(path, "must not be empty"));
        }
        Ok(value)
    }

    fn positive(&self, n: u64, path: &str) -> Result<u64> {
        match n {
            0 => Err(self.error(path, "must be greater than 0")),
            n => Ok(n),
        }
    }

    fn positive_usize(&self, n: u64, path: &str) -> Result<usize> {
        let n = self.positive(n, path)?;
        usize::try_from(n).map_err(|_| self.error(path, format!("{n} is too large")))
    }

    fn ip_addr(&self, text: &str, path: &str) -> Result<IpAddr> {
        text.parse().map_err(|_| {
            let reason =
                format!("expected an IP address such as 127.0.0.1, 0.0.0.0 or ::, found `{text}`");
            self.error(path, reason)
        })
    }

    fn route_path<'s>(&self, route: &'s str, path: &str) -> Result<&'s str> {
        check_route(route).map_err(|reason| self.error(path, reason))?;
        Ok(route)
    }

    /// Checked now so that a typo fails at start, not at the first request.
    fn module_path(&self, written: &str, path: &str) -> Result<PathBuf> {
        let module = self.resolve(self.nonempty(written, path)?);
        let extension = module.extension().and_then(|e| e.to_str());
        if !matches!(extension, Some("wasm" | "so")) {
            let reason =
                format!("`{written}` is neither a .wasm module nor a .so from `luge compile`");
            return Err(self.error(path, reason));
        }
        match std::fs::metadata(&module) {
            Ok(meta) if meta.is_file() => Ok(module),
            Ok(_) => Err(self.error(path, format!("`{}` is not a file", module.display()))),
            Err(e) => Err(self.error(path, missing(&module, &e))),
        }
    }

    fn content_type(&self, value: &str, path: &str) -> Result<String> {
        let value = self.nonempty(value, path)?;
        // It is copied into a response header, where a line break would
        // split the response.
        if value.chars().any(char::is_control) {
            return Err(self.error(path, "must not contain control characters"));
        }
        Ok(value.to_owned())
    }

    fn memory_limit(&self, mib: u64, path: &str) -> Result<u64> {
        let mib = self.positive(mib, path)?;
        if mib > MAX_MEMORY_LIMIT_MIB {
            let reason = format!(
                "{mib} MiB is more than the {MAX_MEMORY_LIMIT_MIB} MiB a 32-bit memory can address"
            );
            return Err(self.error(path, reason));
        }
        Ok(mib)
    }

    fn timeout(&self, ms: u64, path: &str) -> Result<Duration> {
        let ms = self.positive(ms, path)?;
        check_timeout(ms).map_err(|reason| self.error(path, reason))
    }

    fn stack_limit(&self, kib: u64, path: &str) -> Result<usize> {
        let kib = self.positive(kib, path)?;
        kib.checked_mul(1024)
            .and_then(|bytes| usize::try_from(bytes).ok())
            .ok_or_else(|| self.error(path, format!("{kib} KiB is too large")))
    }

    /// `"HOST[::GUEST]"` strings, as `luge run --dir` takes them.
    fn dirs(&self, specs: &[String], list: &str) -> Result<Vec<(PathBuf, String)>> {
        let dirs = specs.iter().enumerate();
        dirs.map(|(i, spec)| self.dir(spec, &index(list, i)))
            .collect()
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

    /// The variables of the object at `object`, in file order; a repeated
    /// name is refused, since JSON parsers disagree on which value wins.
    fn env_vars(&self, vars: Vec<(String, String)>, object: &str) -> Result<Vec<(String, String)>> {
        for (i, (name, value)) in vars.iter().enumerate() {
            let path = child(object, name);
            if vars[..i].iter().any(|(earlier, _)| earlier == name) {
                return Err(self.error(&path, "duplicate field"));
            }
            if name.is_empty() || name.contains(['=', '\0']) {
                let reason = "a variable name must be non-empty and contain no `=` or NUL";
                return Err(self.error(&path, reason));
            }
            if value.contains('\0') {
                return Err(self.error(&path, "a value must not contain NUL"));
            }
        }
        Ok(vars)
    }

    fn resolve(&self, written: &str) -> PathBuf {
        self.dir.join(written)
    }
}

/// A timeout of `ms` milliseconds, if it is within [`MAX_TIMEOUT`]; the
/// admin API checks deployed timeouts with it too.
pub fn check_timeout(ms: u64) -> std::result::Result<Duration, String> {
    let timeout = Duration::from_millis(ms);
    if timeout > MAX_TIMEOUT {
        return Err(format!(
            "{ms} ms is more than the longest timeout, {} ms",
            MAX_TIMEOUT.as_millis()
        ));
    }
    Ok(timeout)
}

/// Whether `route` may be a route: it is matched against request paths,
/// so it must look like one, and it must not take over the path every
/// listener answers with the metrics. The admin API checks deployed routes
/// with it too.
pub(crate) fn check_route(route: &str) -> std::result::Result<(), String> {
    if !route.starts_with('/') {
        return Err(format!("`{route}` must start with `/`"));
    }
    if route.contains(['?', '#']) || route.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "`{route}` must not contain `?`, `#`, whitespace or control characters"
        ));
    }
    if route == METRICS_PATH {
        return Err(format!(
            "`{METRICS_PATH}` is reserved: every listener answers it with the server's metrics"
        ));
    }
    Ok(())
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
