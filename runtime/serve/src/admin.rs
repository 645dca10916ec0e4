//! The admin listener: live management of functions, behind a bearer
//! token, and OpenWhisk's REST API for actions.
//!
//! - `GET /functions`: every function, as JSON.
//! - `GET /functions/NAME`: one function.
//! - `PUT /functions/NAME?route=/PATH&port=N&timeout-ms=..&tier=..` (the
//!   settings are listed in `SETTINGS`) with a `.wasm` as the body: compiles it, keeps it on disk, then routes
//!   it (replacing an earlier deployment of NAME at once). 201 with the
//!   settings it runs with; a redeploy keeps every setting it does not
//!   give, and lists them under `kept`.
//! - `DELETE /functions/NAME`: stops routing it and removes it from disk.
//! - `PUT /api/v1/namespaces/NS/actions/NAME`: an OpenWhisk action create
//!   or update (`exec.code` the base64 of a `.wasm` or of a zip holding
//!   one, `exec.binary` true), deployed as NAME; limits not given are kept
//!   from an earlier deployment.
//! - `POST /api/v1/namespaces/NS/actions/NAME?blocking=true[&result=true]`:
//!   a blocking invocation answered with an activation record.
//! - `POST /api/v1/namespaces/NS/actions/NAME[?blocking=false]`: a
//!   non-blocking invocation, answered 202 with its `activationId` as soon
//!   as it is admitted.
//! - `GET /api/v1/namespaces/NS/activations[?limit=N&skip=M]`: the records
//!   kept (see [`crate::activations`]: every invocation's, once it ends),
//!   newest first, without their logs.
//! - `GET /api/v1/namespaces/NS/activations/ID[/result|/logs]`: one record,
//!   or its `response` or `logs` part; 404 while the call runs, or once the
//!   record has given way to newer ones.
//!
//! `GET /metrics` is answered without the token, like on every listener,
//! before a request gets here.
//!
//! The token goes in `Authorization: Bearer TOKEN`; HTTP Basic with the
//! configured user name (`admin.user`, default `luge`) and the token as
//! password (what OpenWhisk's CLI sends) works too. The credentials are
//! checked from the request head, before any body is read.

use crate::activations::ActivationStore;
use crate::code::wasm_module;
use crate::compiles::CompilePool;
use crate::config::{check_route, check_timeout, AdminConfig, RouteConfig, DEFAULT_MAX_BODY_BYTES};
use crate::deploy::{valid_name, DeployError, Deployment, FunctionStore};
use crate::http::{Request, RequestHead, Response};
use crate::invoke::{Invoker, Invokes, OPENWHISK_TENANT};
use crate::openwhisk::{self, error, Activation, Reply};
use crate::routes::{RouteTable, Routed, Served};
use crate::server::{Handled, Requester};
use awsm_compiler::CompileBudget;
use luge_scheduler::worker::Scheduler;
use subtle::ConstantTimeEq;

use serde_json::{json, Value};
use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The admin API: its token, where deployments are kept, and the tenant
/// ports deployments may go to (the first when a deploy names none).
pub struct AdminApi {
    credentials: AdminConfig,
    store: Arc<FunctionStore>,
    tenant_ports: Vec<u16>,
    compiles: CompilePool,
    /// Names whose deploy is being built: another deploy or a removal of
    /// the name waits until it is answered (409), so that what is routed
    /// and what is on disk cannot part.
    deploying: Arc<Mutex<HashSet<String>>>,
    /// The records of invocations, kept by the workers that end them.
    activations: Arc<Mutex<ActivationStore>>,
}

/// The bytes of activation records kept (about 100,000 records of a small
/// action).
const ACTIVATION_STORE_BYTES: usize = 64 << 20;

/// The most one record may take in the store: its logs, then its result,
/// give way beyond (`openwhisk::bounded_record`), so that at least 64
/// records fit whatever guests print.
const MAX_RECORD_BYTES: usize = 1 << 20;

/// Records listed at once, by default and at most (OpenWhisk's figures).
const LIST_DEFAULT: usize = 30;
const LIST_MAX: usize = 200;

/// Deploys compiled at once: one, so that the other cores keep serving.
const COMPILE_THREADS: usize = 1;
/// Deploys that may wait for a compile thread; more are refused with 503.
const COMPILE_QUEUE: usize = 4;
/// Seconds a deploy refused for a full queue is told to wait.
const COMPILE_RETRY_AFTER_S: u32 = 5;

/// What an admin request acts on besides the API itself.
pub struct AdminScope<'a> {
    pub routes: &'a mut RouteTable,
    pub invoker: &'a mut Invoker,
    pub scheduler: &'a Scheduler,
}

impl AdminApi {
    /// The API behind `credentials` (the token and the Basic user name),
    /// keeping deployments in `store`; starts its compile threads.
    pub fn new(
        credentials: AdminConfig,
        store: Arc<FunctionStore>,
        tenant_ports: Vec<u16>,
    ) -> std::io::Result<AdminApi> {
        Ok(AdminApi {
            credentials,
            store,
            tenant_ports,
            compiles: CompilePool::start(COMPILE_THREADS, COMPILE_QUEUE)?,
            deploying: Arc::default(),
            activations: Arc::new(Mutex::new(ActivationStore::new(ACTIVATION_STORE_BYTES))),
        })
    }

    /// The 401 for a request whose head lacks the credentials; `None` lets
    /// it in. Asked as soon as the head is parsed, before any body is
    /// read (`Handler::admit`): a client without the token can make the
    /// server hold no more than a request head.
    pub fn refusal(&self, head: &RequestHead) -> Option<Response> {
        if authorized(head, &self.credentials) {
            return None;
        }
        let mut response = error(401, "missing or wrong token");
        response
            .headers
            .push(("WWW-Authenticate".to_owned(), "Bearer".to_owned()));
        Some(response)
    }

    /// Answers a request on the admin listener whose credentials
    /// [`AdminApi::refusal`] has accepted.
    pub fn handle<H: Routed + Invokes>(
        &self,
        scope: AdminScope,
        requester: Requester<H>,
        request: Request,
    ) -> Handled {
        let head = &request.head;
        let path = head.path.clone();
        let segments = segments(&path);
        let routes = &mut *scope.routes;
        match (head.method.as_str(), segments.as_slice()) {
            ("GET", ["functions"]) => Handled::Now(list(routes)),
            ("GET", ["functions", name]) => Handled::Now(inspect(routes, name)),
            ("PUT", ["functions", name]) => self.deploy_upload(routes, requester, name, request),
            ("DELETE", ["functions", name]) => Handled::Now(self.remove(routes, name)),
            ("PUT", ["api", "v1", "namespaces", _, "actions", name]) => {
                self.create_action(routes, requester, name, request)
            }
            ("POST", ["api", "v1", "namespaces", ns, "actions", name]) => {
                let (ns, name) = (ns.to_string(), name.to_string());
                self.invoke_action(scope, requester, &ns, &name, request)
            }
            ("GET", ["api", "v1", "namespaces", _, "activations"]) => {
                Handled::Now(self.activations(&request.head.query))
            }
            ("GET", ["api", "v1", "namespaces", _, "activations", id, part @ ..]) => {
                Handled::Now(self.activation(id, part))
            }
            (_, ["functions", ..]) | (_, ["api", ..]) => {
                Handled::Now(error(405, "method not allowed here"))
            }
            _ => Handled::Now(error(404, &format!("no admin endpoint {path}"))),
        }
    }

    /// An OpenWhisk invocation of the function `name`: blocking, answered
    /// with its activation record when it ends, or not, answered at once
    /// with the id under which the record will be kept.
    fn invoke_action<H: Invokes>(
        &self,
        scope: AdminScope,
        requester: Requester<H>,
        namespace: &str,
        name: &str,
        request: Request,
    ) -> Handled {
        let query = &request.head.query;
        let blocking = match query_param(query, "blocking") {
            Some("true") => true,
            None | Some("false") => false,
            Some(other) => {
                let reason = format!("blocking: expected true or false, got {other:?}");
                return Handled::Now(error(400, &reason));
            }
        };
        let Some(served) = scope.routes.get(name) else {
            return Handled::Now(error(404, &format!("no action {name}")));
        };
        let (function, port) = (
            served.function.clone(),
            served.port.unwrap_or(OPENWHISK_TENANT),
        );
        let id = openwhisk::new_activation_id();
        let (store, kept_id) = (self.activations.clone(), id.clone());
        let activation = Activation {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            id: id.clone(),
            start: SystemTime::now(),
            result_only: blocking && query_param(query, "result") == Some("true"),
            timeout: function.config.timeout,
            memory_mib: function.config.memory_limit_mib,
            // Every record is kept, as OpenWhisk keeps blocking calls'
            // too, so that `wsk activation get` finds them.
            keep: Box::new(move |record| {
                let record = openwhisk::bounded_record(record, MAX_RECORD_BYTES);
                lock(&store).keep(kept_id, record);
            }),
        };
        let deadline = activation.start + function.config.timeout;
        let invocation = match openwhisk::action_invocation(&request.body, &activation, deadline) {
            Ok(invocation) => invocation,
            Err(e) => return Handled::Now(error(400, &e)),
        };
        let requester = if blocking {
            requester
        } else {
            requester.detach()
        };
        let reply = Reply::Activation(activation);
        let handled = scope.invoker.invoke(
            function,
            port,
            requester,
            invocation,
            scope.scheduler,
            reply,
        );
        match handled {
            Handled::Later if !blocking => {
                Handled::Now(Response::json(202, &json!({ "activationId": id })))
            }
            handled => handled,
        }
    }

    /// The activation record `id`, or the `part` of it asked for: `result`
    /// (its `response`) or `logs`.
    fn activation(&self, id: &str, part: &[&str]) -> Response {
        let missing = || error(404, "The requested resource does not exist.");
        let Some(record) = lock(&self.activations).get(id) else {
            return missing();
        };
        if part.is_empty() {
            return Response::new(200, "application/json", &record[..]);
        }
        // Records are kept as the JSON that was made for them.
        let record: Value = serde_json::from_slice(&record).unwrap_or_default();
        match part {
            ["result"] => Response::json(200, &record["response"]),
            ["logs"] => Response::json(200, &json!({ "logs": record["logs"] })),
            _ => missing(),
        }
    }

    /// The records kept, newest first, without their logs, as OpenWhisk
    /// lists activations: `limit` (30, at most 200) after the `skip`
    /// newest.
    fn activations(&self, query: &str) -> Response {
        let number = |name: &str, default: usize| match query_param(query, name) {
            None => Ok(default),
            Some(value) => value
                .parse::<usize>()
                .map_err(|_| error(400, &format!("{name}: expected a number, got {value:?}"))),
        };
        let (limit, skip) = match (number("limit", LIST_DEFAULT), number("skip", 0)) {
            (Ok(limit), Ok(skip)) => (limit.clamp(1, LIST_MAX), skip),
            (Err(response), _) | (_, Err(response)) => return response,
        };
        let records: Vec<Arc<[u8]>> = lock(&self.activations)
            .newest(skip)
            .take(limit)
            .cloned()
            .collect();
        let listed: Vec<Value> = records
            .iter()
            .filter_map(|record| serde_json::from_slice::<Value>(record).ok())
            .map(|mut record| {
                if let Some(fields) = record.as_object_mut() {
                    fields.remove("logs");
                }
                record
            })
            .collect();
        Response::json(200, &Value::Array(listed))
    }

    /// The most body bytes a request on the admin listener may carry,
    /// judged from its head: an invocation's parameters, what its function
    /// takes on its route (`max-body-bytes`, since a non-blocking call
    /// holds them until it runs; an invocation of no action is read like
    /// any other, then answered 404); anything else, `upload` (a module).
    pub fn body_limit(routes: &RouteTable, head: &RequestHead, upload: u64) -> u64 {
        match (head.method.as_str(), segments(&head.path).as_slice()) {
            ("POST", ["api", "v1", "namespaces", _, "actions", name]) => {
                routes.get(name).map_or(DEFAULT_MAX_BODY_BYTES, |served| {
                    served.function.config.max_body_bytes
                })
            }
            _ => upload,
        }
    }

    fn remove(&self, routes: &mut RouteTable, name: &str) -> Response {
        if self.deploying.lock().unwrap().contains(name) {
            return in_progress(name);
        }
        let deployed = routes.get(name).is_some_and(|s| s.deployment.is_some());
        if !deployed {
            return error(404, &format!("no deployed function {name}"));
        }
        if let Err(e) = self.store.remove(name) {
            return error(500, &format!("cannot remove {name} from disk: {e}"));
        }
        routes.uninstall(name);
        Response::json(200, &json!({ "removed": name }))
    }

    /// `PUT /functions/NAME` with the `.wasm` as body and settings in the
    /// query.
    fn deploy_upload<H: Routed>(
        &self,
        routes: &RouteTable,
        requester: Requester<H>,
        name: &str,
        request: Request,
    ) -> Handled {
        let wasm = match wasm_module(request.body, "the body") {
            Ok(wasm) => wasm,
            Err(e) => return Handled::Now(error(400, &e)),
        };
        let query = request.head.query.split('&').filter(|p| !p.is_empty());
        let given = query.map(|pair| pair.split_once('=').unwrap_or((pair, "")));
        let settings = match self.settings(routes, name, given) {
            Ok(settings) => settings,
            Err(e) => return Handled::Now(error(400, &e)),
        };
        if settings.deployment.port.is_none() {
            let reason = format!(
                "the config has no tenant to route {name} to: add a tenant, or create {name} \
                 as an OpenWhisk action (PUT /api/v1/namespaces/_/actions/{name}), which is \
                 invoked through this listener"
            );
            return Handled::Now(error(400, &reason));
        }
        self.deploy(routes, requester, settings, wasm)
    }

    /// The OpenWhisk action create (and update): deployed as a function of
    /// that name, its limits kept from an earlier deployment when the
    /// request gives none, as OpenWhisk's action update keeps them. Where
    /// the config has no tenant, the action is routed nowhere and invoked
    /// through this listener only.
    fn create_action<H: Routed>(
        &self,
        routes: &RouteTable,
        requester: Requester<H>,
        name: &str,
        request: Request,
    ) -> Handled {
        let action = match openwhisk::action_module(&request.body) {
            Ok(action) => action,
            Err(e) => return Handled::Now(error(400, &e)),
        };
        let timeout = action.timeout_ms.map(|ms| ms.to_string());
        let memory = action.memory_mib.map(|mib| mib.to_string());
        let given = [
            Some(("content-type", "application/json")),
            timeout.as_deref().map(|ms| ("timeout-ms", ms)),
            memory.as_deref().map(|mib| ("memory-limit-mib", mib)),
        ];
        match self.settings(routes, name, given.into_iter().flatten()) {
            Ok(settings) => self.deploy(routes, requester, settings, action.wasm),
            Err(e) => Handled::Now(error(400, &e)),
        }
    }

    /// Checks a deployment against the routes in use, then compiles and
    /// stores it on a thread of its own; routing it happens back on the
    /// loop's thread, in one step.
    fn deploy<H: Routed>(
        &self,
        routes: &RouteTable,
        requester: Requester<H>,
        settings: Settings,
        wasm: Vec<u8>,
    ) -> Handled {
        let deployment = &settings.deployment;
        if let Some(port) = deployment.port {
            if let Some(other) = routes.name_at(port, &deployment.route) {
                if *other != deployment.name {
                    let reason = format!("route {} is taken by {other}", deployment.route);
                    return Handled::Now(error(409, &reason));
                }
            }
        }
        let Some(place) = self.compiles.reserve() else {
            let mut response = error(503, "too many deploys in progress; try again shortly");
            let retry = COMPILE_RETRY_AFTER_S.to_string();
            response.headers.push(("Retry-After".to_owned(), retry));
            return Handled::Now(response);
        };
        if !self
            .deploying
            .lock()
            .unwrap()
            .insert(deployment.name.clone())
        {
            return Handled::Now(in_progress(&deployment.name));
        }
        let store = self.store.clone();
        let budget = self.credentials.compile_budget;
        let deploying = self.deploying.clone();
        place.run(move || {
            let name = settings.deployment.name.clone();
            let answer = build_deployment(&store, settings, &wasm, budget);
            requester.complete(Box::new(move |handler: &mut H| {
                deploying.lock().unwrap().remove(&name);
                answer(handler)
            }));
        });
        Handled::Later
    }

    /// The deployment of `name` with the settings `given` (`route`, `port`,
    /// `timeout-ms`, `memory-limit-mib`, `max-body-bytes`,
    /// `relative-deadline-us`, `content-type`, `tier`): every other setting is kept
    /// from the name's earlier deployment, if there is one, else the
    /// default (the first tenant's port; none if there is no tenant).
    fn settings<'a>(
        &self,
        routes: &RouteTable,
        name: &str,
        given: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Result<Settings, String> {
        if !valid_name(name) {
            return Err(format!(
                "function name {name:?}: use 1-64 letters, digits, '-' or '_'"
            ));
        }
        let earlier = routes.get(name).and_then(|s| s.deployment.as_ref());
        let mut d = match earlier {
            Some(earlier) => earlier.clone(),
            None => self.default_deployment(name),
        };
        d.deployed_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let mut kept: Vec<&'static str> = match earlier {
            Some(_) => SETTINGS.to_vec(),
            None => Vec::new(),
        };
        for (key, value) in given {
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("{key}: expected a number, got {value:?}"))
            };
            match key {
                "route" => {
                    check_route(value).map_err(|e| format!("route: {e}"))?;
                    d.route = value.to_owned();
                }
                "port" => {
                    let port = u16::try_from(number()?).map_err(|_| "port: too large")?;
                    if !self.tenant_ports.contains(&port) {
                        return Err(self.no_tenant_on(port));
                    }
                    d.port = Some(port);
                }
                "timeout-ms" => {
                    let ms = number()?.max(1);
                    check_timeout(ms).map_err(|e| format!("timeout-ms: {e}"))?;
                    d.timeout_ms = ms;
                }
                "memory-limit-mib" => d.memory_limit_mib = Some(number()?.clamp(1, 4096)),
                "max-body-bytes" => d.max_body_bytes = number()?,
                "relative-deadline-us" => d.relative_deadline_us = number()?,
                "content-type" => d.content_type = value.to_owned(),
                "tier" => d.tier = value.parse().map_err(|e| format!("tier: {e}"))?,
                _ => return Err(format!("unknown setting {key:?}")),
            }
            kept.retain(|k| *k != key);
        }
        // A tenant removed from the config since the earlier deployment
        // (which a restart moved to the first tenant) cannot be kept.
        if d.port
            .is_some_and(|port| !self.tenant_ports.contains(&port))
        {
            d.port = self.tenant_ports.first().copied();
        }
        Ok(Settings {
            deployment: d,
            kept,
        })
    }

    /// A deployment of `name` with the default settings.
    fn default_deployment(&self, name: &str) -> Deployment {
        let defaults = RouteConfig::new("/", Default::default());
        Deployment {
            name: name.to_owned(),
            route: format!("/{name}"),
            port: self.tenant_ports.first().copied(),
            timeout_ms: defaults.timeout.as_millis() as u64,
            memory_limit_mib: None,
            max_body_bytes: defaults.max_body_bytes,
            relative_deadline_us: 0,
            content_type: defaults.content_type,
            tier: defaults.tier,
            deployed_at: 0,
        }
    }

    /// Why `port` cannot take a deployment.
    fn no_tenant_on(&self, port: u16) -> String {
        let ports: Vec<String> = self.tenant_ports.iter().map(u16::to_string).collect();
        match ports.as_slice() {
            [] => format!("port: {port} is no tenant's, and the config has no tenant"),
            _ => format!(
                "port: {port} is no tenant's (tenants listen on {})",
                ports.join(", ")
            ),
        }
    }
}

/// The settings a deploy can give, by their query names.
const SETTINGS: [&str; 8] = [
    "route",
    "port",
    "timeout-ms",
    "memory-limit-mib",
    "max-body-bytes",
    "relative-deadline-us",
    "content-type",
    "tier",
];

/// A deployment to make, and which of its settings it keeps from the
/// earlier deployment of its name (said in the answer, so that a redeploy
/// does not change settings behind its sender's back).
struct Settings {
    deployment: Deployment,
    kept: Vec<&'static str>,
}

/// The segments of an admin request's path, as its endpoints are matched.
fn segments(path: &str) -> Vec<&str> {
    path.trim_matches('/').split('/').collect()
}

/// The value of `name` in a query string (`a=1&b=2`), if it is given.
fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .find_map(|pair| match pair.split_once('=') {
            Some((key, value)) if key == name => Some(value),
            None if pair == name => Some(""),
            _ => None,
        })
}

/// The activation store, whether or not a worker panicked holding it: a
/// record is whole once it is in.
fn lock(store: &Mutex<ActivationStore>) -> std::sync::MutexGuard<'_, ActivationStore> {
    store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn list(routes: &RouteTable) -> Response {
    let functions: Vec<Value> = routes
        .iter()
        .map(|(name, served)| describe(name, served))
        .collect();
    Response::json(200, &json!({ "functions": functions }))
}

fn inspect(routes: &RouteTable, name: &str) -> Response {
    match routes.get(name) {
        Some(served) => Response::json(200, &describe(name, served)),
        None => error(404, &format!("no function {name}")),
    }
}

/// The 409 for a request on a function whose deploy is being built.
fn in_progress(name: &str) -> Response {
    let reason = format!("a deploy of {name} is in progress; try again once it is answered");
    error(409, &reason)
}

/// Builds and publishes a deployment (on a compile thread); returns the
/// step, for the loop's thread, that routes it and answers the deploy
/// with the settings it runs with.
fn build_deployment<H: Routed>(
    store: &FunctionStore,
    settings: Settings,
    wasm: &[u8],
    budget: CompileBudget,
) -> Box<dyn FnOnce(&mut H) -> Response + Send> {
    let started = Instant::now();
    let Settings { deployment, kept } = settings;
    // A panic in Luge's own code costs this deploy, which is answered,
    // not the compile thread; what it left on disk the next start clears.
    let built =
        std::panic::catch_unwind(AssertUnwindSafe(|| store.deploy(&deployment, wasm, budget)));
    let took = started.elapsed();
    Box::new(move |handler: &mut H| match built {
        Ok(Ok(function)) => {
            let served = Served {
                function: Arc::new(function),
                port: deployment.port,
                deployment: Some(deployment.clone()),
            };
            let mut body = describe(&deployment.name, &served);
            body["compile_ms"] = json!(took.as_millis() as u64);
            body["kept"] = json!(kept);
            handler.routes().install(deployment.name, served);
            Response::json(201, &body)
        }
        Ok(Err(e @ DeployError::Module(_))) => error(400, &e.to_string()),
        Ok(Err(e @ DeployError::Store(_))) => error(500, &e.to_string()),
        Err(_) => error(
            500,
            "the deploy failed on an internal error (a bug in Luge)",
        ),
    })
}

fn describe(name: &str, served: &Served) -> Value {
    let config = &served.function.config;
    let module = served.function.module();
    let descriptor = module.descriptor();
    json!({
        "name": name,
        "route": config.route,
        "port": served.port,
        "path": config.path,
        "deployed": served.deployment.is_some(),
        "timeout_ms": config.timeout.as_millis() as u64,
        "memory_limit_mib": config.memory_limit_mib,
        "max_body_bytes": config.max_body_bytes,
        "relative_deadline_us": config.relative_deadline.map(|d| d.as_micros() as u64),
        "content_type": config.content_type,
        "bounds": descriptor.bounds.name(),
        "bounds_fallback": served.function.has_bounds_fallback(),
        "tier": config.tier.name(),
        "running_tier": descriptor.tier.name(),
        "tiered_up_after_ms": served.function.tiered_up_after().map(|d| d.as_millis() as u64),
        "wasm_bytes": descriptor.wasm_size,
        "exports": descriptor.exports.iter().map(|e| e.name.clone()).collect::<Vec<_>>(),
    })
}

/// Whether the request carries the admin token, as a bearer token or as
/// the password of HTTP Basic credentials with the configured user name.
fn authorized(head: &RequestHead, credentials: &AdminConfig) -> bool {
    use base64::Engine;
    let Some(value) = head
        .header("authorization")
        .and_then(|v| std::str::from_utf8(v).ok())
    else {
        return false;
    };
    let given = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim().to_owned(),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("basic") => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&decoded).into_owned();
            match text.split_once(':') {
                Some((user, password)) if user == credentials.user => password.to_owned(),
                _ => return false,
            }
        }
        _ => return false,
    };
    // Compared without stopping at the first difference, so that response
    // times do not tell how much of a guessed token was right.
    given.as_bytes().ct_eq(credentials.token.as_bytes()).into()
}
