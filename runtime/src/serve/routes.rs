//! What requests act on: the route table of every listener, admission
//! control, and the bookkeeping (metrics, one log line per invocation) of
//! function calls. Owned by the event loop's thread; jobs hand their
//! results back to it as closures (see [`super::server::Finish`]).

use super::config::{ServeConfig, DEFAULT_MAX_BODY_BYTES};
use super::function::{Function, Invocation};
use super::http::{Request, RequestHead, Response};
use super::metrics::{InvocationLog, Metrics, Outcome, CONTENT_TYPE as METRICS_CONTENT_TYPE};
use super::server::{Completer, Requester};
use crate::TrapKind;
use luge_scheduler::task::TaskOptions;
use luge_scheduler::worker::Scheduler;

use super::deploy::{Deployment, FunctionStore};
use super::openwhisk::Reply;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Stderr, Write};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// What a listening socket serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listener {
    /// A tenant's routes (and `GET /metrics`).
    Tenant { name: String, port: u16 },
    /// Live management and OpenWhisk's REST API, behind the bearer token.
    Admin,
    /// OpenWhisk's action-container protocol (`/init`, `/run`).
    ActionContainer,
}

impl Listener {
    /// Every listener `config` asks for, with its port.
    pub fn all(config: &ServeConfig) -> Vec<(u16, Listener)> {
        let tenants = config.tenants.iter().map(|t| {
            let listener = Listener::Tenant {
                name: t.name.clone(),
                port: t.port,
            };
            (t.port, listener)
        });
        let admin = config.admin.iter().map(|a| (a.port, Listener::Admin));
        let container = config
            .openwhisk
            .iter()
            .map(|o| (o.port, Listener::ActionContainer));
        tenants.chain(admin).chain(container).collect()
    }
}

/// A function the server runs, under the name it is listed by: `TENANT/ROUTE`
/// for functions of the config file, the deployed name for deployed ones.
pub struct Served {
    pub function: Arc<Function>,
    /// The tenant port its route is on.
    pub port: u16,
    /// How it was deployed, for functions deployed through the admin API.
    pub deployment: Option<Deployment>,
}

/// How a request is answered.
pub enum Handled {
    /// At once, with this response.
    Now(Response),
    /// By a job, which completes through the [`Completer`].
    Later,
}

/// The largest request the admin listener takes: an upload of a module of
/// the largest size the compiler accepts, base64-encoded in a JSON action.
const ADMIN_MAX_BODY_BYTES: u64 = 360 << 20;

/// The path every tenant listener answers with the metrics, unless a route
/// of its own claims it.
pub const METRICS_PATH: &str = "/metrics";

pub struct State {
    /// Every function, by name.
    pub(super) functions: BTreeMap<String, Served>,
    /// Function names by tenant port and request path.
    /// Function names by tenant port, then request path (nested so that a
    /// request's path is looked up as it is, without building a key).
    pub(super) routes: HashMap<u16, HashMap<String, String>>,
    pub(super) completer: Completer,
    pub(super) metrics: Arc<Metrics>,
    /// Function calls admitted and not finished.
    in_flight: usize,
    queue_limit: usize,
    log: BufWriter<Stderr>,
    /// The admin API's token and where deployments are kept.
    pub(super) admin: Option<Admin>,
    /// The tenants' ports, the first being where deployed functions go when
    /// the deploy names none.
    pub(super) tenant_ports: Vec<u16>,
    /// The action-container listener's action, once `/init` gave it.
    pub(super) container: ContainerAction,
}

/// Where the action container's one action stands.
#[derive(Default)]
pub enum ContainerAction {
    #[default]
    Uninitialized,
    /// `/init` came and its module is being compiled.
    Initializing,
    Ready(Arc<Function>),
}

/// What the admin API needs.
pub struct Admin {
    pub token: String,
    pub store: Arc<FunctionStore>,
}

impl State {
    /// The state for `config`, serving `functions`.
    pub fn new(
        config: &ServeConfig,
        functions: Vec<(String, Served)>,
        admin: Option<Admin>,
        metrics: Arc<Metrics>,
        completer: Completer,
    ) -> State {
        let mut state = State {
            functions: BTreeMap::new(),
            routes: HashMap::new(),
            completer,
            metrics,
            in_flight: 0,
            queue_limit: config.queue_limit,
            log: BufWriter::new(std::io::stderr()),
            admin,
            tenant_ports: config.tenants.iter().map(|t| t.port).collect(),
            container: ContainerAction::default(),
        };
        for (name, served) in functions {
            state.install(name, served);
        }
        state
    }

    /// Serves `served` as `name` from now on, replacing a function of the
    /// same name (calls in flight finish with the old one).
    pub(super) fn install(&mut self, name: String, served: Served) {
        self.uninstall(&name);
        let path = served.function.config.route.clone();
        let on_port = self.routes.entry(served.port).or_default();
        on_port.insert(path, name.clone());
        self.functions.insert(name, served);
    }

    /// Stops serving `name`; returns what it served.
    pub(super) fn uninstall(&mut self, name: &str) -> Option<Served> {
        let served = self.functions.remove(name)?;
        let path = &served.function.config.route;
        if let Some(on_port) = self.routes.get_mut(&served.port) {
            if on_port.get(path).is_some_and(|n| n == name) {
                on_port.remove(path);
            }
        }
        Some(served)
    }

    /// The name of the function on `port` at `path`.
    pub(super) fn name_at(&self, port: u16, path: &str) -> Option<&String> {
        self.routes.get(&port)?.get(path)
    }

    fn route(&self, listener: &Listener, path: &str) -> Option<&Arc<Function>> {
        match listener {
            Listener::Tenant { port, .. } => {
                let name = self.name_at(*port, path)?;
                self.functions.get(name).map(|s| &s.function)
            }
            Listener::Admin | Listener::ActionContainer => None,
        }
    }

    /// The most body bytes a request with `head` may carry: its route's
    /// limit, or nothing for requests no function will read.
    pub fn body_limit(&self, listener: &Listener, head: &RequestHead) -> u64 {
        match listener {
            Listener::Admin | Listener::ActionContainer => ADMIN_MAX_BODY_BYTES,
            // A request for no route is read like any other, then
            // answered 404.
            Listener::Tenant { .. } => self
                .route(listener, &head.path)
                .map_or(DEFAULT_MAX_BODY_BYTES, |f| f.config.max_body_bytes),
        }
    }

    /// Counts a request refused by the HTTP layer.
    pub fn note_rejected(&self, status: u16) {
        let reason = match status {
            413 => "body_too_large",
            431 => "head_too_large",
            _ => "bad_request",
        };
        self.metrics.rejected(reason);
    }

    /// Answers `request`, which arrived on `listener` from `requester`.
    pub fn handle(
        &mut self,
        listener: &Listener,
        requester: Requester,
        request: Request,
        scheduler: &Scheduler,
    ) -> Handled {
        match listener {
            Listener::Admin => return self.handle_admin(requester, request, scheduler),
            Listener::ActionContainer => {
                return self.handle_container(requester, request, scheduler)
            }
            Listener::Tenant { .. } => {}
        }
        match self.route(listener, &request.head.path).cloned() {
            Some(function) => {
                let invocation = Invocation::Request(request);
                self.invoke(function, requester, invocation, scheduler, Reply::Http)
            }
            None if request.head.path == METRICS_PATH => Handled::Now(self.metrics_response()),
            None => {
                let body = format!("no route for {}\n", request.head.path);
                Handled::Now(Response::text(404, &body))
            }
        }
    }

    /// The metrics page.
    pub(super) fn metrics_response(&self) -> Response {
        Response::new(200, METRICS_CONTENT_TYPE, self.metrics.render())
    }

    /// Runs `function` for `request` in a sandbox on the scheduler, unless
    /// as many calls as the queue allows are already in flight (429), and
    /// answers as `reply` says.
    pub(super) fn invoke(
        &mut self,
        function: Arc<Function>,
        requester: Requester,
        invocation: Invocation,
        scheduler: &Scheduler,
        reply: Reply,
    ) -> Handled {
        let arrived = Instant::now();
        let arrived_at = SystemTime::now();
        if self.in_flight >= self.queue_limit {
            self.metrics.rejected("queue_full");
            let response = Response::text(429, "too many requests in flight; try again\n");
            let request_bytes = invocation.stdin_len() as u64;
            self.log_rejected(&function, request_bytes, arrived, arrived_at, &response);
            return Handled::Now(response);
        }
        self.in_flight += 1;
        self.metrics.set_queue_depth(self.in_flight as i64);
        let options = TaskOptions {
            relative_deadline: function.config.relative_deadline,
            timeout: Some(function.config.timeout),
        };
        let metrics = self.metrics.clone();
        scheduler.spawn_with(options, move || {
            let waited = arrived.elapsed();
            metrics.queue_wait(waited);
            metrics.sandbox_started();
            let request_bytes = invocation.stdin_len() as u64;
            let invoked = function.invoke(invocation);
            metrics.sandbox_ended();
            let call = Call {
                function,
                arrived_at,
                waited,
                total: arrived.elapsed(),
                request_bytes,
                status: invoked.response.status,
                outcome: invoked.outcome,
                detail: invoked.detail.clone(),
                init_time: invoked.init_time,
                run_time: invoked.run_time,
                response_bytes: invoked.response.body.len() as u64,
            };
            call.count(&metrics, invoked.trap);
            let response = reply.respond(invoked, waited);
            requester.respond(
                response,
                Box::new(move |state: &mut State| state.finish(&call)),
            );
        });
        Handled::Later
    }

    /// The loop's part of booking a finished call: it no longer counts
    /// against the queue limit, and its log line.
    fn finish(&mut self, call: &Call) {
        self.in_flight -= 1;
        self.metrics.set_queue_depth(self.in_flight as i64);
        let log = InvocationLog {
            ts: call.arrived_at,
            route: &call.function.config.route,
            function: &call.function.name,
            status: call.status,
            outcome: call.outcome,
            detail: call.detail.as_deref(),
            wait_us: call.waited.as_micros() as u64,
            init_us: call.init_time.as_micros() as u64,
            run_us: call.run_time.as_micros() as u64,
            total_us: call.total.as_micros() as u64,
            request_bytes: call.request_bytes,
            response_bytes: call.response_bytes,
        };
        self.write_log(&log);
    }

    fn log_rejected(
        &mut self,
        function: &Function,
        request_bytes: u64,
        arrived: Instant,
        arrived_at: SystemTime,
        response: &Response,
    ) {
        let route = &function.config.route;
        self.metrics
            .request_done(route, response.status, arrived.elapsed());
        let log = InvocationLog {
            ts: arrived_at,
            route,
            function: &function.name,
            status: response.status,
            outcome: Outcome::Rejected,
            detail: Some("queue full"),
            wait_us: 0,
            init_us: 0,
            run_us: 0,
            total_us: arrived.elapsed().as_micros() as u64,
            request_bytes,
            response_bytes: response.body.len() as u64,
        };
        self.write_log(&log);
    }

    fn write_log(&mut self, log: &InvocationLog) {
        // A log that cannot be written (stderr closed) must not stop the
        // server.
        let _ = log.write_line(&mut self.log);
    }

    /// Writes out buffered log lines; the loop calls it once per round so
    /// that a burst of requests costs one write, not one per request.
    pub fn flush_log(&mut self) {
        let _ = self.log.flush();
    }
}

/// A finished call, as booked: in the metrics at once, on the worker that
/// ran it, then in the log on the loop's thread.
struct Call {
    function: Arc<Function>,
    arrived_at: SystemTime,
    waited: Duration,
    /// From the request's arrival to its response.
    total: Duration,
    request_bytes: u64,
    status: u16,
    outcome: Outcome,
    detail: Option<String>,
    init_time: Duration,
    run_time: Duration,
    response_bytes: u64,
}

impl Call {
    /// Counts the call in `metrics` (thread-safe), before its response
    /// leaves, so that a client that reads the metrics next sees it.
    fn count(&self, metrics: &Metrics, trap: Option<TrapKind>) {
        metrics.instantiated(self.init_time);
        if let Some(kind) = trap {
            metrics.trapped(&kind.to_string());
        }
        metrics.request_done(&self.function.config.route, self.status, self.total);
    }
}
