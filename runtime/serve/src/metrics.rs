//! Observability for `luge serve`: metrics for `GET /metrics` and one
//! structured log line per invocation.
//!
//! [`Metrics`] is shared (through an `Arc`) by the event loop and the
//! scheduler's workers. Every update is a few relaxed atomic operations:
//! counters and gauges are atomics, and histograms are this module's own
//! `DurationHistogram`, whose buckets are atomics too (prometheus-client's
//! `Histogram` takes a write lock on every observation, which all workers
//! would contend for). Labelled metrics find their series in a
//! prometheus-client `Family`, which only takes its map's read lock (shared)
//! unless the label set is new.
//!
//! [`Metrics::render`] writes the OpenMetrics text format (served with
//! [`CONTENT_TYPE`]), adding what is read from the process at that moment:
//! its resident memory, the scheduler's life-cycle counters, and the tier
//! each function's code is of.
//!
//! [`InvocationLog`] is the per-invocation log record, one JSON object per
//! line.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::function::Function;
use luge_abi::{Tier, TrapKind};
use luge_runtime::lifecycle::SandboxState;
use luge_scheduler::lifecycle::{self, Counts, States, TaskState};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::{Registry, Unit};
use serde::{Serialize, Serializer};

/// The `Content-Type` of a [`Metrics::render`] response: the OpenMetrics
/// text format, which Prometheus asks for and parses.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `N` histogram upper bounds in nanoseconds, doubling from `first`.
const fn doubling<const N: usize>(first: u64) -> [u64; N] {
    let mut bounds = [0; N];
    let mut i = 0;
    while i < N {
        bounds[i] = first << i;
        i += 1;
    }
    bounds
}

/// Request latency: 50 µs (a warm, trivial function) to 52 s, so that the
/// longest timeouts still fall in a finite bucket.
static REQUEST_BOUNDS: [u64; 21] = doubling(50_000);
/// Instantiation: 1 µs (a small module from a warm pool) to 524 ms.
static INSTANTIATION_BOUNDS: [u64; 20] = doubling(1_000);
/// Queue wait: 1 µs (an idle worker) to 16.8 s (a badly overloaded server).
static QUEUE_WAIT_BOUNDS: [u64; 25] = doubling(1_000);

/// A histogram of durations with lock-free observations.
///
/// Clones share their buckets, so that the registry and [`Metrics`] can
/// hold the same histogram.
#[derive(Debug, Clone)]
struct DurationHistogram(Arc<HistogramCells>);

#[derive(Debug)]
struct HistogramCells {
    /// Upper bounds (inclusive) in nanoseconds, ascending.
    bounds: &'static [u64],
    /// Observations per bucket, not cumulative; the last one is `+Inf`.
    counts: Box<[AtomicU64]>,
    /// Nanoseconds rather than an `f64` of seconds so that an observation
    /// is one `fetch_add` instead of a compare-and-swap loop.
    sum_nanos: AtomicU64,
}

impl DurationHistogram {
    fn new(bounds: &'static [u64]) -> DurationHistogram {
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        DurationHistogram(Arc::new(HistogramCells {
            bounds,
            counts,
            sum_nanos: AtomicU64::new(0),
        }))
    }

    fn for_requests() -> DurationHistogram {
        DurationHistogram::new(&REQUEST_BOUNDS)
    }

    fn observe(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let cells = &self.0;
        let bucket = cells.bounds.partition_point(|&bound| bound < nanos);
        cells.counts[bucket].fetch_add(1, Ordering::Relaxed);
        cells.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl TypedMetric for DurationHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for DurationHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> fmt::Result {
        let cells = &self.0;
        // prometheus-client marks the +Inf bucket with an upper bound of
        // f64::MAX.
        let upper_bounds = cells
            .bounds
            .iter()
            .map(|&nanos| seconds(nanos))
            .chain([f64::MAX]);
        let buckets: Vec<(f64, u64)> = upper_bounds
            .zip(cells.counts.iter().map(|c| c.load(Ordering::Relaxed)))
            .collect();
        // The count is derived from the same snapshot as the buckets, so a
        // scrape racing an observation still has `_count` equal to the +Inf
        // bucket; only `_sum` may be one observation ahead or behind.
        let count = buckets.iter().map(|&(_, n)| n).sum();
        let sum = seconds(cells.sum_nanos.load(Ordering::Relaxed));
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

fn seconds(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

/// How an opt-tier build of a function ended (see `crate::tiering`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierUpResult {
    /// New calls run the opt tier's code.
    Switched,
    /// The function stays on the fast tier: the opt tier does not
    /// translate something in it yet (SIMD).
    Unsupported,
    /// The function stays on the fast tier: the build failed otherwise.
    Failed,
}

impl TierUpResult {
    fn name(self) -> &'static str {
        match self {
            TierUpResult::Switched => "switched",
            TierUpResult::Unsupported => "unsupported",
            TierUpResult::Failed => "failed",
        }
    }
}

/// The functions served, by listed name, whose code's tier is read at each
/// scrape: so what is reported is what new calls run, however a switch and
/// a redeploy interleave.
#[derive(Default, Clone)]
struct ServedTiers(Arc<Mutex<BTreeMap<String, Weak<Function>>>>);

impl fmt::Debug for ServedTiers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.0.lock().unwrap().keys().cloned().collect();
        f.debug_tuple("ServedTiers").field(&names).finish()
    }
}

impl Collector for ServedTiers {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let functions: Vec<(String, Arc<Function>)> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(name, f)| Some((name.clone(), f.upgrade()?)))
            .collect();
        let mut tiers = encoder.encode_descriptor(
            "luge_function_tier",
            "The tier of the code new calls of a function start on: 1 for that tier, 0 for the other.",
            None,
            MetricType::Gauge,
        )?;
        for (name, function) in &functions {
            let running = function.module().descriptor().tier;
            for tier in [Tier::Fast, Tier::Opt] {
                let labels = [("function", name.as_str()), ("tier", tier.name())];
                ConstGauge::new(i64::from(tier == running))
                    .encode(tiers.encode_family(&labels)?)?;
            }
        }
        let mut after = encoder.encode_descriptor(
            "luge_tier_up",
            "Time from a function's first serving to its opt-tier code serving, for functions that switched.",
            Some(&Unit::Seconds),
            MetricType::Gauge,
        )?;
        for (name, function) in &functions {
            if let Some(took) = function.tiered_up_after() {
                ConstGauge::new(took.as_secs_f64())
                    .encode(after.encode_family(&[("function", name.as_str())])?)?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteReasonLabels {
    route: String,
    reason: String,
}

/// The metrics of a `luge serve` process.
///
/// Route labels should be configured route names (or one fixed value for
/// requests that match no route), never raw request paths: every distinct
/// label value is a series kept for the life of the process.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Family<RouteLabels, DurationHistogram, fn() -> DurationHistogram>,
    instantiation: DurationHistogram,
    queue_wait: DurationHistogram,
    queue_depth: Gauge,
    live_sandboxes: Gauge,
    traps: Family<KindLabels, Counter>,
    rejected: Family<ReasonLabels, Counter>,
    refused: Family<RouteReasonLabels, Counter>,
    connections_refused: Family<ReasonLabels, Counter>,
    connections_closed: Family<ReasonLabels, Counter>,
    open_connections: Gauge,
    route_states: RouteStates,
    tier_ups: Family<ResultLabels, Counter>,
    bounds_fallbacks: Family<RouteLabels, Counter>,
    served_tiers: ServedTiers,
}

/// Where one route's sandboxes and their tasks count the states they
/// enter (see [`Metrics::route_counts`]).
#[derive(Debug, Clone)]
pub struct RouteCounts {
    pub sandboxes: Arc<Counts<SandboxState>>,
    pub tasks: Arc<Counts<TaskState>>,
}

/// Every route's [`RouteCounts`], by route, encoded at each scrape with
/// a `route` and a `state` label.
#[derive(Debug, Default, Clone)]
struct RouteStates(Arc<RwLock<BTreeMap<String, RouteCounts>>>);

impl RouteStates {
    fn get(&self, route: &str) -> RouteCounts {
        if let Some(counts) = self.0.read().unwrap().get(route) {
            return counts.clone();
        }
        let mut routes = self.0.write().unwrap();
        let new = || RouteCounts {
            sandboxes: Arc::new(Counts::new()),
            tasks: Arc::new(Counts::new()),
        };
        routes.entry(route.to_owned()).or_insert_with(new).clone()
    }
}

impl Collector for RouteStates {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let routes = self.0.read().unwrap();
        let mut sandboxes = encoder.encode_descriptor(
            "luge_sandbox_state_entered",
            "Times a route's sandboxes entered each life-cycle state.",
            None,
            MetricType::Counter,
        )?;
        for (route, counts) in routes.iter() {
            encode_states(&counts.sandboxes, Some(route), &mut sandboxes)?;
        }
        let mut tasks = encoder.encode_descriptor(
            "luge_task_state_entered",
            "Times the scheduler tasks of a route's sandboxes entered each state.",
            None,
            MetricType::Counter,
        )?;
        for (route, counts) in routes.iter() {
            encode_states(&counts.tasks, Some(route), &mut tasks)?;
        }
        Ok(())
    }
}

/// Encodes one counter per state of `counts`, labelled with the state
/// (and the route, if any).
fn encode_states<S: States>(
    counts: &Counts<S>,
    route: Option<&str>,
    encoder: &mut MetricEncoder,
) -> fmt::Result {
    for (state, n) in counts.snapshot() {
        let counter = ConstCounter::new(n);
        match route {
            Some(route) => {
                counter.encode(encoder.encode_family(&[("route", route), ("state", state.name())])?)
            }
            None => counter.encode(encoder.encode_family(&[("state", state.name())])?),
        }?;
    }
    Ok(())
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Creates the metrics, all zero, and registers them for rendering.
    pub fn new() -> Metrics {
        let requests = Family::default();
        let request_duration = Family::new_with_constructor(
            DurationHistogram::for_requests as fn() -> DurationHistogram,
        );
        let instantiation = DurationHistogram::new(&INSTANTIATION_BOUNDS);
        let queue_wait = DurationHistogram::new(&QUEUE_WAIT_BOUNDS);
        let queue_depth = Gauge::default();
        let live_sandboxes = Gauge::default();
        let traps = Family::default();
        let rejected = Family::default();
        let refused = Family::default();
        let connections_refused = Family::default();
        let connections_closed = Family::default();
        let open_connections = Gauge::default();
        let route_states = RouteStates::default();
        let tier_ups: Family<ResultLabels, Counter> = Family::default();
        for result in [
            TierUpResult::Switched,
            TierUpResult::Unsupported,
            TierUpResult::Failed,
        ] {
            drop(tier_ups.get_or_create(&ResultLabels {
                result: result.name(),
            }));
        }
        let served_tiers = ServedTiers::default();
        // Every trap kind is exported from the start, at zero, so that
        // rate() and alerts see the series before the first trap.
        for kind in TrapKind::ALL {
            drop(traps.get_or_create(&KindLabels {
                kind: kind.to_string(),
            }));
        }

        let mut registry = Registry::default();
        // prometheus-client adds `_total` to counters and the unit to names.
        registry.register(
            "luge_requests",
            "Requests answered, by route and HTTP status",
            requests.clone(),
        );
        registry.register_with_unit(
            "luge_request_duration",
            "Time from a request's arrival to its response, by route",
            Unit::Seconds,
            request_duration.clone(),
        );
        registry.register_with_unit(
            "luge_instantiation_duration",
            "Time to instantiate a sandbox",
            Unit::Seconds,
            instantiation.clone(),
        );
        registry.register_with_unit(
            "luge_queue_wait",
            "Time a request waited for a worker",
            Unit::Seconds,
            queue_wait.clone(),
        );
        registry.register(
            "luge_queue_depth",
            "Requests waiting for a worker",
            queue_depth.clone(),
        );
        registry.register(
            "luge_live_sandboxes",
            "Sandboxes that exist now",
            live_sandboxes.clone(),
        );
        registry.register(
            "luge_traps",
            "Sandboxes ended by a trap, by trap kind",
            traps.clone(),
        );
        registry.register(
            "luge_rejected",
            "Requests refused before running, by reason",
            rejected.clone(),
        );
        registry.register(
            "luge_refused",
            "Calls admission refused (429), by route and reason: route_full \
             (max-concurrency), tenant_full (queue-limit), deadline (admission \
             control), server_full",
            refused.clone(),
        );
        registry.register(
            "luge_connections_refused",
            "Connections closed as soon as they were accepted, by reason: client_limit \
             (max-connections-per-client), server_limit (max-connections, every \
             connection busy), no_descriptors (accept found no file descriptor)",
            connections_refused.clone(),
        );
        registry.register(
            "luge_connections_closed",
            "Connections the server closed on its own account, by reason: head_timeout, \
             body_timeout (408), idle, send_timeout, evicted (to make room at \
             max-connections)",
            connections_closed.clone(),
        );
        registry.register(
            "luge_open_connections",
            "Client connections open on every listener",
            open_connections.clone(),
        );
        registry.register(
            "luge_tier_ups",
            "Opt-tier builds of functions served, by result: switched (new calls run \
             the opt tier's code), unsupported (the opt tier does not translate \
             something in the module yet, such as SIMD) or failed (the log says \
             why); in both of the last the fast tier goes on serving",
            tier_ups.clone(),
        );
        let bounds_fallbacks: Family<RouteLabels, Counter> = Family::default();
        registry.register(
            "luge_bounds_fallbacks",
            "Sandboxes that ran on their function's software-bounds build, by route: \
             guard-mode memories had taken their share of the address space",
            bounds_fallbacks.clone(),
        );
        registry.register_collector(Box::new(route_states.clone()));
        registry.register_collector(Box::new(served_tiers.clone()));
        registry.register_collector(Box::new(ProcessCollector));

        Metrics {
            registry,
            requests,
            request_duration,
            instantiation,
            queue_wait,
            queue_depth,
            live_sandboxes,
            traps,
            rejected,
            refused,
            connections_refused,
            connections_closed,
            open_connections,
            route_states,
            tier_ups,
            bounds_fallbacks,
            served_tiers,
        }
    }

    /// Where the sandboxes of `route` (and their tasks) count their states.
    pub fn route_counts(&self, route: &str) -> RouteCounts {
        self.route_states.get(route)
    }

    /// Counts a response on `route` with `status`, `latency` after the
    /// request arrived.
    pub fn request_done(&self, route: &str, status: u16, latency: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                status,
            })
            .inc();
        self.request_duration
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(latency);
    }

    /// Records that instantiating a sandbox took `took`.
    pub fn instantiated(&self, took: Duration) {
        self.instantiation.observe(took);
    }

    /// Records that a request waited `waited` in the queue for a worker.
    pub fn queue_wait(&self, waited: Duration) {
        self.queue_wait.observe(waited);
    }

    /// Sets the number of requests waiting for a worker.
    pub fn set_queue_depth(&self, n: i64) {
        self.queue_depth.set(n);
    }

    /// Counts a sandbox into `luge_live_sandboxes`.
    pub fn sandbox_started(&self) {
        self.live_sandboxes.inc();
    }

    /// Counts a sandbox out of `luge_live_sandboxes`; call it once for each
    /// [`Metrics::sandbox_started`], however the sandbox ended.
    pub fn sandbox_ended(&self) {
        self.live_sandboxes.dec();
    }

    /// Counts a sandbox ended by a trap; `kind` is the [`TrapKind`]'s
    /// display string (such as `"unreachable"`).
    pub fn trapped(&self, kind: &str) {
        self.traps
            .get_or_create(&KindLabels {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// Counts a request refused before it ran, for `reason` (such as
    /// `"queue_full"` or `"body_too_large"`).
    pub fn rejected(&self, reason: &str) {
        self.rejected
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Counts a connection closed at accept, for `reason`.
    pub fn connection_refused(&self, reason: &str) {
        let labels = ReasonLabels {
            reason: reason.to_owned(),
        };
        self.connections_refused.get_or_create(&labels).inc();
    }

    /// Counts an open connection the server closed, for `reason`.
    pub fn connection_closed(&self, reason: &str) {
        let labels = ReasonLabels {
            reason: reason.to_owned(),
        };
        self.connections_closed.get_or_create(&labels).inc();
    }

    pub fn set_open_connections(&self, open: usize) {
        self.open_connections.set(open as i64);
    }

    /// Counts a call of `route` that admission refused, for `reason`.
    pub fn refused(&self, route: &str, reason: &str) {
        let labels = RouteReasonLabels {
            route: route.to_owned(),
            reason: reason.to_owned(),
        };
        self.refused.get_or_create(&labels).inc();
    }

    /// Counts an opt-tier build that ended with `result`.
    pub fn tier_up(&self, result: TierUpResult) {
        self.tier_ups
            .get_or_create(&ResultLabels {
                result: result.name(),
            })
            .inc();
    }

    /// Counts a sandbox of `route` that ran on its software-bounds fallback.
    pub fn bounds_fallback(&self, route: &str) {
        let labels = RouteLabels {
            route: route.to_owned(),
        };
        self.bounds_fallbacks.get_or_create(&labels).inc();
    }

    /// Reports the tier of `function`'s code as `name`'s, from now until
    /// [`Metrics::function_gone`].
    pub fn function_served(&self, name: &str, function: &Arc<Function>) {
        let mut served = self.served_tiers.0.lock().unwrap();
        served.insert(name.to_owned(), Arc::downgrade(function));
    }

    /// `name` is no longer served.
    pub fn function_gone(&self, name: &str) {
        self.served_tiers.0.lock().unwrap().remove(name);
    }

    /// The metrics in the OpenMetrics text format, ending with `# EOF`.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// The metrics read from the process at each scrape rather than updated as
/// events happen: they are kept elsewhere (the kernel, the scheduler).
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        if let Some(bytes) = resident_memory_bytes() {
            let gauge = ConstGauge::new(bytes);
            gauge.encode(encoder.encode_descriptor(
                "luge_resident_memory",
                "Resident set size of the process.",
                Some(&Unit::Bytes),
                gauge.metric_type(),
            )?)?;
        }

        let tasks = lifecycle::task_counts();
        let mut states = encoder.encode_descriptor(
            "luge_process_task_state_entered",
            "Times any scheduler task of the process entered each state.",
            None,
            MetricType::Counter,
        )?;
        encode_states(tasks, None, &mut states)?;

        let preemptions = ConstCounter::new(tasks.entered(TaskState::Preempted));
        preemptions.encode(encoder.encode_descriptor(
            "luge_preemptions",
            "Times the scheduler preempted a task at the end of its quantum.",
            None,
            preemptions.metric_type(),
        )?)
    }
}

/// The resident set size, or `None` where `/proc` cannot tell it.
fn resident_memory_bytes() -> Option<u64> {
    // statm counts pages: size, resident, shared, ...
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * rustix::param::page_size() as u64)
}

/// How an invocation ended, as logged in [`InvocationLog::outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The function returned, or exited with status 0.
    Ok,
    /// The function exited with a non-zero status (the detail holds it).
    Exit,
    /// The sandbox trapped (the detail holds the trap kind).
    Trap,
    /// The sandbox ran out of time.
    Timeout,
    /// The request was refused before it ran (the detail holds the reason).
    Rejected,
    /// The host failed to run the function, e.g. to instantiate it (the
    /// detail holds the error).
    Error,
}

/// One log line per invocation, see [`InvocationLog::to_line`].
///
/// Durations are whole microseconds and sizes are bytes of HTTP body.
#[derive(Debug, Clone, Serialize)]
pub struct InvocationLog<'a> {
    /// When the request arrived; logged as RFC 3339 in UTC with
    /// microseconds, e.g. `2023-11-14T22:13:20.123456Z`.
    #[serde(serialize_with = "serialize_rfc3339")]
    pub ts: SystemTime,
    /// The route the request matched.
    pub route: &'a str,
    /// The function the route runs.
    pub function: &'a str,
    /// The HTTP status of the response.
    pub status: u16,
    /// How the invocation ended.
    pub outcome: Outcome,
    /// What [`Outcome`] says goes with it (trap kind, exit status, reason),
    /// or `None`; logged as `null` so that every line has the same fields.
    pub detail: Option<&'a str>,
    /// Time spent waiting for a worker.
    pub wait_us: u64,
    /// Time spent instantiating the sandbox.
    pub init_us: u64,
    /// Time spent running the function.
    pub run_us: u64,
    /// Time from the request's arrival to its response.
    pub total_us: u64,
    /// Size of the request body.
    pub request_bytes: u64,
    /// Size of the response body.
    pub response_bytes: u64,
}

impl InvocationLog<'_> {
    /// Writes the record as one line of JSON and a newline. JSON escapes
    /// control characters in strings, so a detail or route can never
    /// break the line.
    pub fn write_line(&self, out: &mut impl Write) -> io::Result<()> {
        serde_json::to_writer(&mut *out, self)?;
        out.write_all(b"\n")
    }
}

fn serialize_rfc3339<S: Serializer>(t: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&rfc3339(*t))
}

/// `t` as RFC 3339 in UTC with microseconds: `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
/// The fixed width makes log lines sort by time as text. A clock set
/// before 1970 (which RFC 3339 cannot carry with humantime) logs the
/// epoch.
fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_micros(t.max(UNIX_EPOCH)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use luge_scheduler::task::TaskOptions;
    use luge_scheduler::worker::Scheduler;

    /// The value of the sample whose name and labels are exactly `series`.
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|line| {
            let value = line.strip_prefix(series)?.strip_prefix(' ')?;
            Some(value.parse().expect("a sample value is a number"))
        })
    }

    #[test]
    fn requests_are_counted_by_route_and_status() {
        let m = Metrics::new();
        m.request_done("hello", 200, Duration::from_micros(80));
        m.request_done("hello", 200, Duration::from_millis(3));
        m.request_done("hello", 500, Duration::from_millis(3));
        m.request_done("hash", 200, Duration::from_secs(40));
        let text = m.render();

        assert!(text.contains("# TYPE luge_requests counter\n"), "{text}");
        let requests = |labels: &str| sample(&text, &format!("luge_requests_total{{{labels}}}"));
        assert_eq!(requests(r#"route="hello",status="200""#), Some(2.0));
        assert_eq!(requests(r#"route="hello",status="500""#), Some(1.0));
        assert_eq!(requests(r#"route="hash",status="200""#), Some(1.0));
        assert_eq!(requests(r#"route="hash",status="500""#), None);

        assert!(text.contains("# TYPE luge_request_duration_seconds histogram\n"));
        let bucket = |route: &str, le: &str| {
            // The encoder puts `le` before the family's labels.
            let series =
                format!("luge_request_duration_seconds_bucket{{le=\"{le}\",route=\"{route}\"}}");
            sample(&text, &series)
        };
        let hello = |le: &str| bucket("hello", le);
        // Upper bounds are inclusive and buckets cumulative: 80 µs is above
        // 50 µs and at most 100 µs; 3 ms is above 1.6 ms and at most 3.2 ms.
        assert_eq!(hello("0.00005"), Some(0.0));
        assert_eq!(hello("0.0001"), Some(1.0));
        assert_eq!(hello("0.0016"), Some(1.0));
        assert_eq!(hello("0.0032"), Some(3.0));
        assert_eq!(hello("+Inf"), Some(3.0));
        let count = r#"luge_request_duration_seconds_count{route="hello"}"#;
        assert_eq!(sample(&text, count), Some(3.0));
        let sum = sample(&text, r#"luge_request_duration_seconds_sum{route="hello"}"#).unwrap();
        assert!((sum - 0.00608).abs() < 1e-12, "{sum}");

        // 40 s is beyond every bucket but the last finite one (52.4 s).
        let hash = |le: &str| bucket("hash", le);
        assert_eq!(hash("26.2144"), Some(0.0));
        assert_eq!(hash("52.4288"), Some(1.0));
        assert_eq!(hash("+Inf"), Some(1.0));
    }

    #[test]
    fn the_text_is_openmetrics() {
        let text = Metrics::new().render();
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(CONTENT_TYPE.starts_with("application/openmetrics-text"));
    }

    #[test]
    fn sandbox_histograms_and_gauges() {
        let m = Metrics::new();
        m.instantiated(Duration::from_nanos(1_000));
        m.instantiated(Duration::from_nanos(1_001));
        m.instantiated(Duration::from_secs(1));
        m.queue_wait(Duration::ZERO);
        m.set_queue_depth(7);
        m.sandbox_started();
        m.sandbox_started();
        m.sandbox_ended();
        let text = m.render();

        let init = |le: &str| {
            sample(
                &text,
                &format!("luge_instantiation_duration_seconds_bucket{{le=\"{le}\"}}"),
            )
        };
        assert_eq!(init("0.000001"), Some(1.0));
        assert_eq!(init("0.000002"), Some(2.0));
        assert_eq!(init("0.524288"), Some(2.0));
        assert_eq!(init("+Inf"), Some(3.0));
        // Every bound is a bucket, plus +Inf.
        let buckets = text
            .lines()
            .filter(|l| l.starts_with("luge_instantiation_duration_seconds_bucket"))
            .count();
        assert_eq!(buckets, INSTANTIATION_BOUNDS.len() + 1);

        let wait = |le: &str| {
            sample(
                &text,
                &format!("luge_queue_wait_seconds_bucket{{le=\"{le}\"}}"),
            )
        };
        assert_eq!(wait("0.000001"), Some(1.0));
        assert_eq!(sample(&text, "luge_queue_wait_seconds_count"), Some(1.0));

        assert_eq!(sample(&text, "luge_queue_depth"), Some(7.0));
        assert_eq!(sample(&text, "luge_live_sandboxes"), Some(1.0));
    }

    #[test]
    fn traps_and_rejections_are_counted_by_label() {
        let m = Metrics::new();
        m.trapped(&TrapKind::Unreachable.to_string());
        m.trapped(&TrapKind::Unreachable.to_string());
        m.rejected("queue_full");
        let text = m.render();

        assert_eq!(
            sample(&text, r#"luge_traps_total{kind="unreachable"}"#),
            Some(2.0)
        );
        // Kinds that never happened are there from the start.
        assert_eq!(
            sample(&text, r#"luge_traps_total{kind="integer divide by zero"}"#),
            Some(0.0)
        );
        assert_eq!(
            sample(&text, r#"luge_rejected_total{reason="queue_full"}"#),
            Some(1.0)
        );
    }

    #[test]
    fn updates_from_many_threads_all_count() {
        let m = Arc::new(Metrics::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let m = Arc::clone(&m);
                std::thread::spawn(move || {
                    for _ in 0..1_000 {
                        m.request_done("hello", 200, Duration::from_micros(200));
                        m.instantiated(Duration::from_micros(10));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let text = m.render();
        assert_eq!(
            sample(&text, r#"luge_requests_total{route="hello",status="200"}"#),
            Some(4_000.0)
        );
        assert_eq!(
            sample(&text, "luge_instantiation_duration_seconds_count"),
            Some(4_000.0)
        );
        let sum = sample(&text, "luge_instantiation_duration_seconds_sum").unwrap();
        assert!((sum - 0.04).abs() < 1e-12, "{sum}");
    }

    #[test]
    fn process_metrics_are_read_at_render_time() {
        let m = Metrics::new();
        let text = m.render();
        let rss = sample(&text, "luge_resident_memory_bytes").unwrap();
        assert!(rss > 0.0, "{rss}");
        assert!(text.contains("# TYPE luge_process_task_state_entered counter\n"));
        for state in TaskState::ALL {
            let series = format!(
                "luge_process_task_state_entered_total{{state=\"{}\"}}",
                state.name()
            );
            assert!(sample(&text, &series).is_some(), "{series} in {text}");
        }

        // A task that yields is preempted once; the next render sees it.
        let preemptions = |text: &str| sample(text, "luge_preemptions_total").unwrap();
        let before = preemptions(&text);
        let scheduler = Scheduler::new(1);
        scheduler.spawn(luge_scheduler::task::yield_now);
        scheduler.wait_idle();
        // Other tests preempt tasks concurrently, hence the lower bound.
        assert!(preemptions(&m.render()) >= before + 1.0);
    }

    #[test]
    fn life_cycles_are_counted_per_route() {
        let m = Metrics::new();
        let hello = m.route_counts("hello");
        // A sandbox of /hello that traps, and its task.
        let mut sandbox = luge_runtime::lifecycle::new_sandbox(Some(hello.sandboxes));
        sandbox.transition(SandboxState::Running).unwrap();
        sandbox.transition(SandboxState::Trapped).unwrap();
        let scheduler = Scheduler::new(1);
        let options = TaskOptions {
            counts: Some(hello.tasks),
            ..TaskOptions::default()
        };
        scheduler.spawn_with(options, luge_scheduler::task::yield_now);
        scheduler.wait_idle();
        // Another route's counts are its own.
        drop(m.route_counts("hash"));

        let text = m.render();
        let entered = |metric: &str, route: &str, state: &str| {
            let series = format!("{metric}_total{{route=\"{route}\",state=\"{state}\"}}");
            sample(&text, &series).unwrap_or_else(|| panic!("no {series} in {text}"))
        };
        let sandbox = |route, state| entered("luge_sandbox_state_entered", route, state);
        assert_eq!(sandbox("hello", "instantiating"), 1.0);
        assert_eq!(sandbox("hello", "trapped"), 1.0);
        assert_eq!(sandbox("hello", "returned"), 0.0);
        assert_eq!(sandbox("hash", "trapped"), 0.0);
        let task = |route, state| entered("luge_task_state_entered", route, state);
        assert_eq!(task("hello", "running"), 2.0);
        assert_eq!(task("hello", "preempted"), 1.0);
        assert_eq!(task("hello", "finished"), 1.0);
        assert_eq!(task("hash", "running"), 0.0);
    }

    /// The record's line, without its newline.
    fn line_of(log: &InvocationLog) -> String {
        let mut out = Vec::new();
        log.write_line(&mut out).unwrap();
        let line = String::from_utf8(out).unwrap();
        line.strip_suffix('\n')
            .expect("a line ends in a newline")
            .to_owned()
    }

    #[test]
    fn an_invocation_is_one_json_line() {
        let log = InvocationLog {
            ts: UNIX_EPOCH + Duration::new(1_700_000_000, 5_000),
            route: "/hello\nworld",
            function: "hello",
            status: 500,
            outcome: Outcome::Trap,
            detail: Some("unreachable"),
            wait_us: 1,
            init_us: 2,
            run_us: 3,
            total_us: 7,
            request_bytes: 5,
            response_bytes: 0,
        };
        let line = line_of(&log);
        assert!(!line.contains('\n'), "{line}");

        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        let expected = serde_json::json!({
            "ts": "2023-11-14T22:13:20.000005Z",
            "route": "/hello\nworld",
            "function": "hello",
            "status": 500,
            "outcome": "trap",
            "detail": "unreachable",
            "wait_us": 1,
            "init_us": 2,
            "run_us": 3,
            "total_us": 7,
            "request_bytes": 5,
            "response_bytes": 0,
        });
        assert_eq!(json, expected);

        let ok = InvocationLog {
            outcome: Outcome::Ok,
            detail: None,
            ..log
        };
        let json: serde_json::Value = serde_json::from_str(&line_of(&ok)).unwrap();
        assert_eq!(json["outcome"], "ok");
        assert!(json["detail"].is_null());
    }
}
