//! The platform: what answers every request of `luge serve`. It owns the
//! parts (the route table, the invoker with its admission, the admin API,
//! the action container) and sends each request to the one its listener
//! and path name; the parts never reach into each other's state, each is
//! handed what it acts on.

use crate::admin::{AdminApi, AdminScope};
use crate::config::OpenWhiskConfig;
use crate::config::{ServeConfig, DEFAULT_MAX_BODY_BYTES, METRICS_PATH};
use crate::container::{ActionContainer, ContainerSettings, HostsContainer};
use crate::function::Invocation;
use crate::http::{Request, RequestHead, Response};
use crate::invoke::{Invoker, Invokes};
use crate::metrics::CONTENT_TYPE as METRICS_CONTENT_TYPE;
use crate::openwhisk::{error, Reply};
use crate::routes::{RouteTable, Routed, Served};
use crate::server::{ConnectionEvent, Handled, Handler, Listener, Requester};
use crate::tiering::Tiering;
use luge_scheduler::worker::Scheduler;

/// The largest request the admin listener takes: an upload of a module of
/// the largest size the compiler accepts, base64-encoded in a JSON action.
const ADMIN_MAX_BODY_BYTES: u64 = 360 << 20;

pub struct Platform {
    routes: RouteTable,
    invoker: Invoker,
    admin: Option<AdminApi>,
    container: ActionContainer,
}

impl Platform {
    /// The platform for `config`, serving `functions` through `invoker`,
    /// with the admin API if `admin` is given, and moving functions to the
    /// opt tier through `tiering`.
    pub fn new(
        config: &ServeConfig,
        functions: Vec<(String, Served)>,
        admin: Option<AdminApi>,
        invoker: Invoker,
        tiering: Tiering,
    ) -> Platform {
        Platform {
            routes: RouteTable::new(functions, config.retire_grace, tiering),
            invoker,
            admin,
            // Without an `openwhisk` listener the container is never asked.
            container: ActionContainer::new(ContainerSettings::from_env(
                config
                    .openwhisk
                    .clone()
                    .unwrap_or_else(|| OpenWhiskConfig::new(0)),
            )),
        }
    }

    fn metrics_response(&self) -> Response {
        let text = self.invoker.metrics().render();
        Response::new(200, METRICS_CONTENT_TYPE, text)
    }

    fn handle_tenant(
        &mut self,
        port: u16,
        requester: Requester<Platform>,
        request: Request,
        scheduler: &Scheduler,
    ) -> Handled {
        if request.head.path == METRICS_PATH {
            // No route may take it (`config::check_route`), not even one
            // deployed before that was checked.
            return Handled::Now(self.metrics_response());
        }
        match self.routes.function_at(port, &request.head.path).cloned() {
            Some(function) => {
                let invocation = Invocation::Request(request);
                let invoker = &mut self.invoker;
                invoker.invoke(
                    function,
                    port,
                    requester,
                    invocation,
                    scheduler,
                    Reply::Http,
                )
            }
            None => {
                let body = format!("no route for {}\n", request.head.path);
                Handled::Now(Response::text(404, &body))
            }
        }
    }

    fn handle_admin(
        &mut self,
        requester: Requester<Platform>,
        request: Request,
        scheduler: &Scheduler,
    ) -> Handled {
        let head = &request.head;
        if head.method == "GET" && head.path == METRICS_PATH {
            return Handled::Now(self.metrics_response());
        }
        let Some(admin) = &self.admin else {
            return Handled::Now(error(404, "no admin API"));
        };
        let scope = AdminScope {
            routes: &mut self.routes,
            invoker: &mut self.invoker,
            scheduler,
        };
        admin.handle(scope, requester, request)
    }
}

impl Handler for Platform {
    fn handle(
        &mut self,
        listener: &Listener,
        requester: Requester<Platform>,
        request: Request,
        scheduler: &Scheduler,
    ) -> Handled {
        match listener {
            Listener::Tenant { port, .. } => {
                self.handle_tenant(*port, requester, request, scheduler)
            }
            Listener::Admin => self.handle_admin(requester, request, scheduler),
            Listener::ActionContainer => {
                let invoker = &mut self.invoker;
                self.container
                    .handle(invoker, requester, request, scheduler)
            }
        }
    }

    fn admit(&self, listener: &Listener, head: &RequestHead) -> Result<u64, Response> {
        match listener {
            Listener::Admin => {
                let metrics = head.method == "GET" && head.path == METRICS_PATH;
                match &self.admin {
                    Some(admin) if !metrics => admin.refusal(head).map_or_else(
                        || {
                            Ok(AdminApi::body_limit(
                                &self.routes,
                                head,
                                ADMIN_MAX_BODY_BYTES,
                            ))
                        },
                        Err,
                    ),
                    _ => Ok(ADMIN_MAX_BODY_BYTES),
                }
            }
            Listener::ActionContainer => self.container.admit(head, ADMIN_MAX_BODY_BYTES),
            // A request for no route is read like any other, then
            // answered 404.
            Listener::Tenant { port, .. } => Ok(self
                .routes
                .function_at(*port, &head.path)
                .map_or(DEFAULT_MAX_BODY_BYTES, |f| f.config.max_body_bytes)),
        }
    }

    fn note_rejected(&self, status: u16) {
        let reason = match status {
            401 => "unauthorized",
            403 => "forbidden",
            413 => "body_too_large",
            431 => "head_too_large",
            _ => "bad_request",
        };
        self.invoker.metrics().rejected(reason);
    }

    fn note_connections(&self, event: ConnectionEvent) {
        let metrics = self.invoker.metrics();
        match event {
            ConnectionEvent::Refused(reason) => metrics.connection_refused(reason),
            ConnectionEvent::Closed(reason) => metrics.connection_closed(reason),
            ConnectionEvent::Open(open) => metrics.set_open_connections(open),
        }
    }

    fn end_round(&mut self) {
        self.invoker.flush_log();
        self.routes.watch_guard_space();
    }
}

impl Invokes for Platform {
    fn invoker(&mut self) -> &mut Invoker {
        &mut self.invoker
    }
}

impl Routed for Platform {
    fn routes(&mut self) -> &mut RouteTable {
        &mut self.routes
    }
}

impl HostsContainer for Platform {
    fn container(&mut self) -> &mut ActionContainer {
        &mut self.container
    }
}
