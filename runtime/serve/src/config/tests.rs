//! The configuration module's tests: what is accepted, the defaults, and
//! the exact wording of every refusal.

use super::fields::{SLEDGE_ROUTE_FIELDS, SLEDGE_TENANT_FIELDS};
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

    fn parse(&self, text: &str) -> Result<ServeConfig, ConfigError> {
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
    route.expected_execution = Some(Duration::from_micros(6000));
    let expected = ServeConfig::with_tenants(vec![Tenant::new("GWU", 10010, vec![route])]);
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
    let mut expected: Vec<&str> = SLEDGE_TENANT_FIELDS.to_vec();
    expected.extend(
        SLEDGE_ROUTE_FIELDS
            .iter()
            .filter(|f| **f != "path_premodule"),
    );
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
    assert!(route.spectre);
    assert_eq!(route.stack_limit, luge_runtime::DEFAULT_MAX_STACK);
}

#[test]
fn luge_explicit_values() {
    let fx = Fixture::new();
    fx.touch("fn/app.so").mkdir("assets").mkdir("tmp");
    let text = r#"{
        "host": "0.0.0.0", "workers": 3, "queue-limit": 64, "state-dir": "state",
        "memory-budget-mib": 2048, "memory-limit-mib": 128, "retire-grace-ms": 250,
        "send-timeout-ms": 1500, "max-connections": 900, "max-connections-per-client": 9,
        "head-timeout-ms": 2500, "body-timeout-ms": 3500, "min-body-rate": 100,
        "idle-timeout-ms": 4500,
        "admin": {"port": 9000, "token": "s3cret", "user": "ow-uuid", "compile-timeout-ms": 5000,
          "compile-max-code-mib": 64}, "openwhisk": {"port": 9002, "timeout-ms": 60000,
          "memory-limit-mib": 512},
        "tenants": [{"name": "edge", "port": 9001, "cpu-weight": 300, "queue-limit": 8,
            "max-budget-us": 5000, "replenishment-period-us": 20000, "routes": [{
            "route": "/app", "path": "fn/app.so", "relative-deadline-us": 50000,
            "http-resp-content-type": "image/png", "memory-limit-mib": 64,
            "timeout-ms": 2000, "dirs": ["assets::/assets", "tmp"],
            "env": {"QUALITY": "85", "MODE": "fast"}, "max-body-bytes": 10,
            "max-output-bytes": 20, "bounds": "software", "spectre": "off", "tier": "fast", "stack-limit-kib": 512,
            "deadline-miss": "abort", "admissions-percentile": 70,
            "expected-execution-us": 900, "max-concurrency": 4}]}]}"#;
    let config = fx.parse(text).unwrap();
    assert_eq!(config.host, "0.0.0.0".parse::<IpAddr>().unwrap());
    assert_eq!(config.workers, Some(3));
    assert_eq!(config.queue_limit, 64);
    assert_eq!(config.state_dir, Some(fx.path("state")));
    let admin = AdminConfig {
        port: 9000,
        token: "s3cret".into(),
        user: "ow-uuid".into(),
        compile_budget: CompileBudget {
            time: Some(Duration::from_millis(5000)),
            code_bytes: Some(64 << 20),
        },
    };
    assert_eq!(config.admin, Some(admin));
    let openwhisk = OpenWhiskConfig {
        port: 9002,
        timeout: Duration::from_millis(60_000),
        memory_limit_mib: Some(512),
    };
    assert_eq!(config.openwhisk, Some(openwhisk));
    assert_eq!(config.memory_budget_mib, Some(2048));
    assert_eq!(config.memory_limit_mib, 128);
    assert_eq!(config.retire_grace, Duration::from_millis(250));
    let connections = ConnectionLimits {
        max_connections: Some(900),
        max_per_client: 9,
        head_timeout: Duration::from_millis(2500),
        body_timeout: Duration::from_millis(3500),
        min_body_rate: 100,
        idle_timeout: Duration::from_millis(4500),
        send_timeout: Duration::from_millis(1500),
    };
    assert_eq!(config.connections, connections);
    let tenant = &config.tenants[0];
    assert_eq!(tenant.cpu_weight, 300);
    assert_eq!(tenant.queue_limit, Some(8));
    let budget = Budget {
        max: Duration::from_millis(5),
        period: Duration::from_millis(20),
    };
    assert_eq!(tenant.budget, Some(budget));
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
        spectre: false,
        tier: TierChoice::Fast,
        stack_limit: 512 << 10,
        deadline_miss: DeadlineMiss::Abort,
        admissions_percentile: 70,
        expected_execution: Some(Duration::from_micros(900)),
        max_concurrency: Some(4),
    };
    assert_eq!(*route, expected);
}

#[test]
fn isolation_settings_out_of_range_are_refused_by_name() {
    let fx = Fixture::new();
    fx.touch("f.so");
    let tenant = |fields: &str| {
        format!(
            r#"[{{"name": "a", "port": 1, {fields}
                "routes": [{{"route": "/f", "path": "f.so"}}]}}]"#
        )
    };
    let route = |fields: &str| {
        format!(
            r#"[{{"name": "a", "port": 1, "routes": [{{"route": "/f", "path": "f.so", {fields}}}]}}]"#
        )
    };
    let cases = [
        (
            tenant(r#""max-budget-us": 5000,"#),
            "[0].replenishment-period-us: missing: `max-budget-us` needs it",
        ),
        (
            tenant(r#""max-budget-us": 5000, "replenishment-period-us": 1000,"#),
            "[0].max-budget-us: 5000 µs is more than the 1000 µs period it is replenished in",
        ),
        (
            tenant(r#""cpu-weight": 0,"#),
            "[0].cpu-weight: 0 is not within 1-10000",
        ),
        (
            route(r#""timeout-ms": 18446744073709551615"#),
            "[0].routes[0].timeout-ms: 18446744073709551615 ms is more than the longest \
             timeout, 900000 ms",
        ),
        (
            route(r#""deadline-miss": "kill""#),
            "[0].routes[0].deadline-miss: expected \"continue\" or \"abort\", found `kill`",
        ),
        (
            route(r#""admissions-percentile": 100"#),
            "[0].routes[0].admissions-percentile: 100 is not within 50-99",
        ),
        (
            route(r#""max-concurrency": 0"#),
            "[0].routes[0].max-concurrency: must be greater than 0",
        ),
    ];
    for (text, expected) in cases {
        let error = fx.parse(&text).unwrap_err().to_string();
        assert!(error.ends_with(expected), "{error}\nexpected: {expected}");
    }
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
fn admin_user_and_compile_budget_have_defaults_and_are_checked() {
    let fx = Fixture::new();
    let config = fx
        .parse(r#"{"tenants": [], "admin": {"port": 9000, "token": "t"}}"#)
        .unwrap();
    let admin = config.admin.unwrap();
    assert_eq!(admin.user, "luge");
    let budget = admin.compile_budget;
    assert_eq!(
        budget.time,
        Some(Duration::from_millis(DEFAULT_COMPILE_TIMEOUT_MS))
    );
    assert_eq!(budget.code_bytes, Some(DEFAULT_COMPILE_MAX_CODE_MIB << 20));
    assert_eq!(
        fx.error(r#"{"tenants": [], "admin": {"port": 9000, "token": "t", "user": "a:b"}}"#),
        "DIR/luge.json: admin.user: a user name cannot contain `:`"
    );
    assert_eq!(
        fx.error(
            r#"{"tenants": [], "admin": {"port": 9000, "token": "t", "compile-timeout-ms": 0}}"#
        ),
        "DIR/luge.json: admin.compile-timeout-ms: must be greater than 0"
    );
}

#[test]
fn admin_token_is_redacted_in_debug_output() {
    let admin = AdminConfig {
        port: 9000,
        token: "s3cret".into(),
        user: "luge".into(),
        compile_budget: CompileBudget::default(),
    };
    let debug = format!("{admin:?}");
    assert!(!debug.contains("s3cret"), "{debug}");
}

#[test]
fn bundled_examples_point_at_existing_files() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
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
    for nothing in [r#"{"tenants": []}"#, "{}"] {
        assert_eq!(
            fx.error(nothing),
            "DIR/luge.json: tenants: no tenants, and no admin or openwhisk listener to \
             deploy to: there is nothing to serve"
        );
    }
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
    // `tenants` may be left out, but then a listener must take deploys.
    assert_eq!(
        fx.error(r#"{"host": "::"}"#),
        "DIR/luge.json: tenants: no tenants, and no admin or openwhisk listener to \
         deploy to: there is nothing to serve"
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
         queue-limit, memory-budget-mib, memory-limit-mib, retire-grace-ms, send-timeout-ms, \
         max-connections, max-connections-per-client, head-timeout-ms, body-timeout-ms, \
         min-body-rate, idle-timeout-ms, state-dir, admin, openwhisk)"
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
    assert_eq!(
        fx.error(&config("/metrics")),
        "DIR/luge.json: [0].routes[0].route: `/metrics` is reserved: every listener \
         answers it with the server's metrics"
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
        (
            r#""spectre": "maybe""#,
            "spectre: expected `on` or `off`, found `maybe`",
        ),
        (
            r#""tier": "turbo""#,
            "tier: expected `fast`, `opt` or `auto`, found `turbo`",
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

/// The distance "did you mean" suggestions use: a swap of neighbours is one
/// edit, as in optimal string alignment, so that `prot` suggests `port`.
#[test]
fn edit_distances() {
    let edit_distance = strsim::osa_distance;
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(edit_distance("timout-ms", "timeout-ms"), 1);
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(edit_distance("prot", "port"), 1);
}

#[test]
fn null_and_arrays_are_not_objects_or_absent_fields() {
    let fx = Fixture::new();
    assert_eq!(
        fx.error(r#"[{"name": null, "port": 1, "routes": []}]"#),
        "DIR/luge.json: [0].name: expected a string, found null"
    );
    assert_eq!(
        fx.error(r#"{"tenants": [], "workers": null}"#),
        "DIR/luge.json: workers: expected a non-negative integer, found null"
    );
    // serde_json would read a struct from an array of its fields in order.
    assert_eq!(
        fx.error(r#"{"tenants": [], "openwhisk": [9000]}"#),
        "DIR/luge.json: openwhisk: expected an object, found an array"
    );
}

#[test]
fn unknown_fields_in_every_section() {
    let fx = Fixture::new();
    fx.touch("a.wasm");
    assert_eq!(
        fx.error(r#"{"tenants": [], "openwhisk": {"prot": 9000}}"#),
        "DIR/luge.json: openwhisk.prot: unknown field (did you mean `port`?)"
    );
    assert_eq!(
        fx.error(r#"{"tenants": [{"name": "a", "port": 1, "routes": [], "rutes": []}]}"#),
        "DIR/luge.json: tenants[0].rutes: unknown field (did you mean `routes`?)"
    );
    assert_eq!(
        fx.error(
            &sledge_route("/a", "a.wasm")
                .replace("\"route\":", "\"expected-execution\": 1, \"route\":")
        ),
        "DIR/luge.json: [0].routes[0].expected-execution: unknown field (did you mean \
         `expected-execution-us`?)"
    );
}

#[test]
fn repeated_sledge_fields_and_variables_are_refused() {
    let fx = Fixture::new();
    fx.touch("app.wasm");
    assert_eq!(
        fx.error(&luge_route(
            r#""expected-execution-us": 5, "expected-execution-us": 6"#
        )),
        "DIR/luge.json: tenants[0].routes[0].expected-execution-us: duplicate field"
    );
    assert_eq!(
        fx.error(&luge_route(r#""env": {"A": "1", "A": "2"}"#)),
        "DIR/luge.json: tenants[0].routes[0].env.A: duplicate field"
    );
}

#[test]
fn the_first_error_in_the_file_is_reported() {
    let fx = Fixture::new();
    assert_eq!(
        fx.error(r#"[{"name": "a", "prot": 1, "port": "x", "routes": []}]"#),
        "DIR/luge.json: [0].prot: unknown field (did you mean `port`?)"
    );
    assert_eq!(
        fx.error(r#"[{"name": 7, "prot": 1, "port": 1, "routes": []}]"#),
        "DIR/luge.json: [0].name: expected a string, found 7"
    );
    // Syntax comes first wherever it is broken.
    assert_eq!(
        fx.error(r#"[{"name": 7, "port": 1, "routes": []},]"#),
        "DIR/luge.json:1:39: trailing comma"
    );
    assert_eq!(fx.error("[] []"), "DIR/luge.json:1:4: trailing characters");
}

#[test]
fn the_container_example_config_is_what_luge_container_runs() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let loaded = ServeConfig::load(&examples.join("openwhisk-container.json")).unwrap();
    let all_addresses = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let expected = ServeConfig::action_container(all_addresses, OpenWhiskConfig::new(8080));
    assert_eq!(loaded, expected);
}
