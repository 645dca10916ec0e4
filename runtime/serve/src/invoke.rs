//! Invocations: a call of a function runs in a sandbox on the scheduler,
//! once admission lets it, and is booked when it ends: counted in the
//! metrics at once (on the worker that ran it) and logged as one line of
//! JSON on the loop's thread.

use crate::admission::Admission;
use crate::function::{Function, Invocation};
use crate::http::Response;
use crate::metrics::{InvocationLog, Metrics, Outcome};
use crate::openwhisk::Reply;
use crate::server::{Handled, Requester};
use luge_runtime::TrapKind;
use luge_scheduler::task::TaskOptions;
use luge_scheduler::worker::Scheduler;
use std::io::{BufWriter, Stderr, Write};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Whatever answers requests and owns the [`Invoker`] that books its
/// calls, so that a call's bookkeeping reaches it on the loop's thread.
pub trait Invokes: 'static {
    fn invoker(&mut self) -> &mut Invoker;
}

/// Starts calls and books them.
pub struct Invoker {
    admission: Admission,
    metrics: Arc<Metrics>,
    log: BufWriter<Stderr>,
}

impl Invoker {
    /// Books calls in `metrics` and on stderr; at most `queue_limit` at
    /// once are in flight.
    pub fn new(queue_limit: usize, metrics: Arc<Metrics>) -> Invoker {
        Invoker {
            admission: Admission::new(queue_limit),
            metrics,
            log: BufWriter::new(std::io::stderr()),
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Runs `function` for `request` in a sandbox on the scheduler, unless
    /// as many calls as the queue allows are already in flight (429), and
    /// answers as `reply` says.
    pub fn invoke<H: Invokes>(
        &mut self,
        function: Arc<Function>,
        requester: Requester<H>,
        invocation: Invocation,
        scheduler: &Scheduler,
        reply: Reply,
    ) -> Handled {
        let arrived = Instant::now();
        let arrived_at = SystemTime::now();
        if !self.admission.admit() {
            self.metrics.rejected("queue_full");
            let response = Response::text(429, "too many requests in flight; try again\n");
            let request_bytes = invocation.stdin_len() as u64;
            self.log_rejected(&function, request_bytes, arrived, arrived_at, &response);
            return Handled::Now(response);
        }
        self.metrics
            .set_queue_depth(self.admission.in_flight() as i64);
        let counts = self.metrics.route_counts(&function.config.route);
        let options = TaskOptions {
            relative_deadline: function.config.relative_deadline,
            timeout: Some(function.config.timeout),
            counts: Some(counts.tasks),
        };
        let metrics = self.metrics.clone();
        scheduler.spawn_with(options, move || {
            let waited = arrived.elapsed();
            metrics.queue_wait(waited);
            metrics.sandbox_started();
            let request_bytes = invocation.stdin_len() as u64;
            let invoked = function.invoke(invocation, counts.sandboxes);
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
                Box::new(move |handler: &mut H| handler.invoker().finish(&call)),
            );
        });
        Handled::Later
    }

    /// The loop's part of booking a finished call: it no longer counts
    /// against the queue limit, and its log line.
    fn finish(&mut self, call: &Call) {
        self.admission.finish();
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
