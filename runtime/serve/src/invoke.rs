//! Invocations: a call of a function runs in a sandbox on the scheduler,
//! once admission lets it, and is booked when it ends: counted in the
//! metrics at once (on the worker that ran it) and logged as one line of
//! JSON on the loop's thread.

use crate::admission::{Admission, Refusal, TenantLoad, Ticket, CAPACITY_PER_WORKER};
use crate::config::ServeConfig;
use crate::function::{Function, Invocation, Invoked, SandboxLimits};
use crate::http::Response;
use crate::metrics::{InvocationLog, Metrics, Outcome};
use crate::openwhisk::Reply;
use crate::server::{Handled, Requester};
use luge_runtime::TrapKind;
use luge_scheduler::group::Group;
use luge_scheduler::task::TaskOptions;
use luge_scheduler::worker::Scheduler;
use std::collections::HashMap;
use std::io::{BufWriter, Stderr, Write};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The tenant port of OpenWhisk calls that no tenant port owns: those of
/// the action container, and of actions created where the config has no
/// tenant. They are a tenant of their own, `openwhisk`, with the server's
/// queue limit and the default CPU weight. (No tenant listens on port 0.)
pub const OPENWHISK_TENANT: u16 = 0;

/// What one call in flight is assumed to hold at least, for the
/// server-wide limit: its task's stack, its request and response, its
/// sandbox's bookkeeping.
const BYTES_PER_CALL: u64 = 1 << 20;

/// Whatever answers requests and owns the [`Invoker`] that books its
/// calls, so that a call's bookkeeping reaches it on the loop's thread.
pub trait Invokes: 'static {
    fn invoker(&mut self) -> &mut Invoker;
}

/// Starts calls and books them.
pub struct Invoker {
    admission: Admission,
    /// Each tenant's share of the CPU, by port.
    groups: HashMap<u16, Arc<Group>>,
    limits: SandboxLimits,
    metrics: Arc<Metrics>,
    log: BufWriter<Stderr>,
}

impl Invoker {
    /// Starts the calls of `config`'s tenants, each in its own CPU group,
    /// on `workers` workers, held to `limits`; books them in `metrics` and
    /// on stderr.
    pub fn new(
        config: &ServeConfig,
        workers: usize,
        limits: SandboxLimits,
        metrics: Arc<Metrics>,
    ) -> Invoker {
        let mut groups = HashMap::new();
        let mut loads = HashMap::new();
        let openwhisk = (config.openwhisk.is_some() || config.admin.is_some()).then(|| {
            let tenant = crate::config::Tenant::new("openwhisk", OPENWHISK_TENANT, Vec::new());
            (tenant, config.queue_limit)
        });
        let tenants = config
            .tenants
            .iter()
            .map(|t| (t.clone(), t.queue_limit.unwrap_or(config.queue_limit)));
        let tenants: Vec<_> = tenants.chain(openwhisk).collect();
        let total_weight: u64 = tenants.iter().map(|(t, _)| u64::from(t.cpu_weight)).sum();
        let capacity = workers as u64 * CAPACITY_PER_WORKER;
        for (tenant, limit) in &tenants {
            let share = capacity * u64::from(tenant.cpu_weight) / total_weight.max(1);
            loads.insert(tenant.port, TenantLoad::new(*limit, share));
            let group = Group::new(&tenant.name, tenant.cpu_weight, tenant.budget);
            groups.insert(tenant.port, group);
        }
        Invoker {
            admission: Admission::new(server_limit(config.queue_limit), loads),
            groups,
            limits,
            metrics,
            log: BufWriter::new(std::io::stderr()),
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Runs `function` of the tenant on port `tenant` for `request` in a
    /// sandbox on the scheduler, unless admission refuses it (429), and
    /// answers as `reply` says.
    pub fn invoke<H: Invokes>(
        &mut self,
        function: Arc<Function>,
        tenant: u16,
        requester: Requester<H>,
        invocation: Invocation,
        scheduler: &Scheduler,
        reply: Reply,
    ) -> Handled {
        let arrived = Instant::now();
        let arrived_at = SystemTime::now();
        // An action container's own output is the action's logs, which
        // nothing else may write to.
        let logged = !matches!(reply, Reply::ContainerRun { .. });
        let ticket = match self
            .admission
            .admit(tenant, &function.name, &function.config)
        {
            Ok(ticket) => ticket,
            Err(refusal) => {
                let response =
                    self.refuse(&function, &invocation, refusal, arrived, arrived_at, logged);
                return Handled::Now(reply.refused(response));
            }
        };
        self.metrics
            .set_queue_depth(self.admission.in_flight() as i64);
        let counts = self.metrics.route_counts(&function.config.route);
        let options = TaskOptions {
            relative_deadline: function.config.relative_deadline,
            timeout: Some(reply.time_limit().unwrap_or_else(|| function.time_limit())),
            counts: Some(counts.tasks),
            group: self.groups.get(&tenant).cloned(),
        };
        let metrics = self.metrics.clone();
        let limits = self.limits.clone();
        let id = function.call_id();
        let tracked = function.clone();
        let task = scheduler.spawn_with(options, move || {
            let waited = arrived.elapsed();
            metrics.queue_wait(waited);
            metrics.sandbox_started();
            let request_bytes = invocation.stdin_len() as u64;
            // A panic in Luge's own code costs the call a 500: unwound out
            // of the task, it would take the call's answer and its booking
            // (its place in the queue) with it.
            let run = || function.invoke(invocation, counts.sandboxes, &limits);
            let invoked = std::panic::catch_unwind(AssertUnwindSafe(run))
                .unwrap_or_else(|_| Invoked::internal_error());
            metrics.sandbox_ended();
            if invoked.fell_back {
                metrics.bounds_fallback(&function.config.route);
            }
            let (outcome, detail, trap) = (invoked.outcome, invoked.detail.clone(), invoked.trap);
            let (init_time, run_time) = (invoked.init_time, invoked.run_time);
            let (response, unfinished) = reply.respond(invoked, waited);
            let (outcome, detail) = match unfinished {
                Some(reason) => (Outcome::Error, Some(reason)),
                None => (outcome, detail),
            };
            let call = Call {
                ticket,
                id,
                cpu_time: luge_scheduler::task::cpu_time(),
                function,
                arrived_at,
                waited,
                total: arrived.elapsed(),
                request_bytes,
                status: response.status,
                outcome,
                detail,
                init_time,
                run_time,
                response_bytes: response.body.len() as u64,
                logged,
            };
            call.count(&metrics, trap);
            requester.respond(
                response,
                Box::new(move |handler: &mut H| handler.invoker().finish(&call)),
            );
        });
        tracked.track(id, task);
        Handled::Later
    }

    /// Answers a call that admission refused, and books it.
    fn refuse(
        &mut self,
        function: &Function,
        invocation: &Invocation,
        refusal: Refusal,
        arrived: Instant,
        arrived_at: SystemTime,
        logged: bool,
    ) -> Response {
        self.metrics
            .refused(&function.config.route, refusal.label());
        let response = Response::text(429, &format!("{}; try again later\n", refusal.message()));
        let request_bytes = invocation.stdin_len() as u64;
        self.metrics
            .request_done(&function.config.route, response.status, arrived.elapsed());
        if logged {
            self.log_rejected(
                function,
                request_bytes,
                arrived,
                arrived_at,
                &response,
                refusal,
            );
        }
        response
    }

    /// The loop's part of booking a finished call: it no longer counts
    /// against the limits, its CPU time teaches admission control, and its
    /// log line.
    fn finish(&mut self, call: &Call) {
        call.function.untrack(call.id);
        self.admission
            .finish(call.ticket, &call.function.name, call.cpu_time);
        self.metrics
            .set_queue_depth(self.admission.in_flight() as i64);
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
        if call.logged {
            self.write_log(&log);
        }
    }

    fn log_rejected(
        &mut self,
        function: &Function,
        request_bytes: u64,
        arrived: Instant,
        arrived_at: SystemTime,
        response: &Response,
        refusal: Refusal,
    ) {
        let route = &function.config.route;
        let log = InvocationLog {
            ts: arrived_at,
            route,
            function: &function.name,
            status: response.status,
            outcome: Outcome::Rejected,
            detail: Some(refusal.label()),
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
    ticket: Ticket,
    /// The call's id with its function (see [`Function::track`]).
    id: u64,
    /// CPU time its task used.
    cpu_time: Duration,
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
    /// Whether the call gets a log line.
    logged: bool,
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

/// The most calls in flight at once over all tenants: as many as the
/// machine's memory holds at [`BYTES_PER_CALL`] each, and never fewer than
/// one tenant's `queue_limit`.
fn server_limit(queue_limit: usize) -> usize {
    let by_memory = crate::function::physical_memory() / BYTES_PER_CALL;
    usize::try_from(by_memory)
        .unwrap_or(usize::MAX)
        .max(queue_limit)
}
