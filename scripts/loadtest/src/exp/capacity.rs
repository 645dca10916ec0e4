//! Experiment 4, capacity: calls of `sleep` (5 s) are started at a rising
//! rate and held open, so that the number of sandboxes alive at once
//! climbs, until the first failed call, the server's memory bound, or the
//! cap. The server's CPU time and RSS (its process and descendants, from
//! /proc) are sampled over time; RSS per sandbox is the growth over the
//! idle server divided by the peak number of calls in flight.
//!
//! With `--detached`, the calls are OpenWhisk's non-blocking invocations
//! instead, over a few connections: a sleeping call then holds no
//! connection (nor a client thread), so that the ramp can reach hundreds
//! of thousands of sandboxes, and the calls alive are read from the
//! server's `/metrics`.

use crate::client::Client;
use crate::csv::{num, write_file, Table};
use crate::procstat::tree_usage;
use crate::workload::{Function, Server};
use anyhow::{bail, ensure, Context, Result};
use luge_report::chart::{Labels, LineChart, Scale, Series};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct CapacityArgs {
    /// Servers, as NAME=URL (repeatable), tested one after the other.
    #[arg(long = "server", default_value = "luge=http://127.0.0.1:8080")]
    pub servers: Vec<String>,
    /// The process id of each server, in the order of --server, for CPU and
    /// RSS sampling.
    #[arg(long = "pid", required = true)]
    pub pids: Vec<u32>,
    /// Seconds each call sleeps.
    #[arg(long, default_value_t = 5)]
    pub sleep: u32,
    /// Calls started per tick.
    #[arg(long, default_value_t = 50)]
    pub step: usize,
    /// Milliseconds per tick (also the sampling period).
    #[arg(long, default_value_t = 100)]
    pub tick_ms: u64,
    /// Most calls started in all.
    #[arg(long, default_value_t = 2000)]
    pub max: usize,
    /// Stop when the server's RSS passes this many MiB (the published
    /// figures were for an 8 GB laptop).
    #[arg(long, default_value_t = 8192)]
    pub memory_limit_mib: u64,
    /// Where capacity.csv, capacity-timeline.csv and the charts go.
    #[arg(long, default_value = "target/loadtest/capacity")]
    pub out: PathBuf,
    /// Start the calls as non-blocking invocations of the OpenWhisk action
    /// --action (`POST URL/api/v1/namespaces/_/actions/ACTION`, parameters
    /// `{"seconds": S}`, answered 202 at once) over a few keep-alive
    /// connections. URL is luge's admin listener (with --token and the
    /// action, examples/sleep, created first) or `luge-load
    /// wasmtime-server --detached` (which serves sleep.wasm as `sleep`).
    /// The calls alive are read from URL/metrics (--live-metric); "ok"
    /// counts the calls answered 202.
    #[arg(long)]
    pub detached: bool,
    /// The action --detached calls invoke.
    #[arg(long, default_value = "sleep")]
    pub action: String,
    /// The bearer token of --detached invocations (luge's admin token).
    #[arg(long)]
    pub token: Option<String>,
    /// The gauge of sandboxes alive on each server's /metrics, for
    /// --detached: one per --server in order, else luge's for every one.
    #[arg(long = "live-metric")]
    pub live_metrics: Vec<String>,
}

/// Connections a --detached ramp invokes over at once.
const DETACHED_CONNECTIONS: usize = 4;

/// The gauge luge keeps of its sandboxes alive.
const LUGE_LIVE: &str = "luge_live_sandboxes";

/// What stopped the ramp.
fn stop_reason(
    failed: usize,
    rss_mib: f64,
    limit: u64,
    started: usize,
    max: usize,
) -> Option<&'static str> {
    if failed > 0 {
        Some("first failure")
    } else if rss_mib > limit as f64 {
        Some("memory bound")
    } else if started >= max {
        Some("cap (--max)")
    } else {
        None
    }
}

/// Counters shared by the calls.
#[derive(Default)]
struct Counters {
    in_flight: AtomicUsize,
    ok: AtomicUsize,
    failed: AtomicUsize,
}

impl Counters {
    fn count(&self, ok: bool) {
        let counter = if ok { &self.ok } else { &self.failed };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

/// The sum of the samples of `name` (any labels) in the Prometheus text
/// `metrics`, `None` if it has none.
fn gauge(metrics: &str, name: &str) -> Option<f64> {
    let values: Vec<f64> = metrics
        .lines()
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let metric = series.split('{').next()?;
            (metric == name).then(|| value.parse().ok())?
        })
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// A ramp's detached invocations, and how the calls alive are read.
struct Detached {
    invocation: Vec<u8>,
    clients: Vec<Client>,
    metrics: Vec<u8>,
    watcher: Client,
    live_metric: String,
}

impl Detached {
    fn new(server: &Server, args: &CapacityArgs, live_metric: &str) -> Detached {
        let timeout = Duration::from_secs(30);
        let params = format!(r#"{{"seconds": {}}}"#, args.sleep);
        let bearer = args.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(bearer) = &bearer {
            headers.push(("Authorization", bearer));
        }
        let path = format!("/api/v1/namespaces/_/actions/{}", args.action);
        let action = server.base.with_path(&path);
        Detached {
            invocation: action.request(params.as_bytes(), &headers),
            clients: (0..DETACHED_CONNECTIONS)
                .map(|_| Client::new(&server.base, timeout))
                .collect(),
            metrics: server.base.with_path("/metrics").request(b"", &[]),
            watcher: Client::new(&server.base, timeout),
            live_metric: live_metric.to_owned(),
        }
    }

    /// Makes `count` invocations spread over the connections, and waits
    /// for their answers: 202 counts as ok.
    fn invoke(&mut self, count: usize, counters: &Counters, epoch: Instant) {
        let per = count.div_ceil(self.clients.len());
        let invocation = &self.invocation;
        std::thread::scope(|scope| {
            for (k, client) in self.clients.iter_mut().enumerate() {
                let calls = count.saturating_sub(k * per).min(per);
                scope.spawn(move || {
                    for _ in 0..calls {
                        counters.count(client.call(invocation, epoch).0.status == 202);
                    }
                });
            }
        });
    }

    /// The sandboxes alive on the server.
    fn live(&mut self, epoch: Instant) -> Result<usize> {
        let (sample, body) = self.watcher.call(&self.metrics, epoch);
        let text = String::from_utf8_lossy(&body);
        if !sample.ok() {
            bail!(
                "reading /metrics: status {}: {}",
                sample.status,
                text.trim()
            );
        }
        let live = gauge(&text, &self.live_metric)
            .with_context(|| format!("/metrics has no {}", self.live_metric))?;
        Ok(live as usize)
    }
}

/// One reading of the timeline.
struct Tick {
    t: f64,
    in_flight: usize,
    cpu_s: f64,
    rss_mib: f64,
}

const MIB: f64 = 1024.0 * 1024.0;

pub fn run(args: CapacityArgs) -> Result<()> {
    ensure!(
        args.pids.len() == args.servers.len(),
        "--pid: give one per --server ({} servers, {} pids)",
        args.servers.len(),
        args.pids.len()
    );
    ensure!(
        args.step >= 1 && args.tick_ms >= 1,
        "--step and --tick-ms must be >= 1"
    );
    ensure!(
        args.live_metrics.is_empty() || args.live_metrics.len() == args.servers.len(),
        "--live-metric: give one per --server ({} servers, {} metrics)",
        args.servers.len(),
        args.live_metrics.len()
    );
    let mut summary = Table::new(&[
        "server",
        "reached",
        "stop",
        "ok",
        "failed",
        "idle_rss_mib",
        "peak_rss_mib",
        "rss_per_sandbox_kib",
        "cpu_s",
    ]);
    let mut timeline = Table::new(&["server", "t_s", "in_flight", "cpu_s", "rss_mib"]);
    let (mut rss_lines, mut flight_lines) = (Vec::new(), Vec::new());
    for (i, (spec, &pid)) in args.servers.iter().zip(&args.pids).enumerate() {
        let server = Server::parse(spec)?;
        let live_metric = args.live_metrics.get(i).map_or(LUGE_LIVE, String::as_str);
        let mut detached = args
            .detached
            .then(|| Detached::new(&server, &args, live_metric));
        let ticks = ramp(&server, pid, &args, detached.as_mut(), &mut summary)?;
        for t in &ticks {
            timeline.row(vec![
                server.name.clone(),
                num(t.t, 2),
                t.in_flight.to_string(),
                num(t.cpu_s, 2),
                num(t.rss_mib, 1),
            ]);
        }
        rss_lines.push(Series {
            name: server.name.clone(),
            points: ticks.iter().map(|t| (t.t, t.rss_mib)).collect(),
        });
        flight_lines.push(Series {
            name: server.name.clone(),
            points: ticks.iter().map(|t| (t.t, t.in_flight as f64)).collect(),
        });
    }
    summary.write(&args.out.join("capacity.csv"))?;
    timeline.write(&args.out.join("capacity-timeline.csv"))?;
    for (file, what, series) in [
        ("capacity-rss.svg", "server RSS (MiB)", rss_lines),
        ("capacity-in-flight.svg", "calls in flight", flight_lines),
    ] {
        let chart = LineChart {
            labels: Labels {
                title: format!("Capacity with {} s sleeps: {what}", args.sleep),
                x: "time (s)".into(),
                y: what.into(),
            },
            scale: Scale::Linear,
            series,
        };
        write_file(&args.out.join(file), chart.svg()?.as_bytes())?;
    }
    eprintln!("capacity: wrote {}", args.out.display());
    Ok(())
}

/// Ramps calls up on one server until a stop condition, waits for the calls
/// to end, and returns the timeline. The calls are `detached` ones if given.
fn ramp(
    server: &Server,
    pid: u32,
    args: &CapacityArgs,
    mut detached: Option<&mut Detached>,
    summary: &mut Table,
) -> Result<Vec<Tick>> {
    let idle =
        tree_usage(pid).with_context(|| format!("process {pid} of {} is gone", server.name))?;
    let request = Function::Sleep {
        seconds: args.sleep,
    }
    .request(server);
    let counters = Counters::default();
    let timeout = Duration::from_secs(args.sleep as u64 + 30);
    let start = Instant::now();
    let mut ticks = Vec::new();
    let (mut started, mut reached, mut stop) = (0, 0, None);
    let (mut peak_rss, mut last_cpu) = (idle.rss_bytes, 0.0);
    std::thread::scope(|scope| -> Result<()> {
        loop {
            // A server that dies under the ramp has found its limit too:
            // the calls in flight fail, and the summary says why it ended.
            let usage = tree_usage(pid);
            let in_flight = match (&mut detached, &usage) {
                // Detached calls die with their server.
                (Some(_), None) => 0,
                (Some(detached), Some(_)) => detached.live(start)?,
                (None, _) => counters.in_flight.load(Ordering::SeqCst),
            };
            let failed = counters.failed.load(Ordering::SeqCst);
            let Some(now) = usage else {
                if stop.is_none() {
                    reached = reached.max(in_flight);
                    stop = Some("server exited");
                    eprintln!(
                        "capacity: {}: the server exited with {reached} in flight",
                        server.name
                    );
                }
                if in_flight == 0 {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(args.tick_ms));
                continue;
            };
            let rss_mib = now.rss_bytes as f64 / MIB;
            peak_rss = peak_rss.max(now.rss_bytes);
            // A child that exits between readings can make the sum
            // dip (see `tree_usage`): never below the idle reading.
            last_cpu = now.cpu.saturating_sub(idle.cpu).as_secs_f64();
            ticks.push(Tick {
                t: start.elapsed().as_secs_f64(),
                in_flight,
                cpu_s: last_cpu,
                rss_mib,
            });
            if stop.is_none() {
                reached = reached.max(in_flight);
                stop = stop_reason(failed, rss_mib, args.memory_limit_mib, started, args.max);
                let count = args.step.min(args.max - started);
                match (&stop, &mut detached) {
                    (Some(reason), _) => eprintln!(
                        "capacity: {}: stopped at {reached} in flight ({reason})",
                        server.name
                    ),
                    (None, Some(detached)) => {
                        detached.invoke(count, &counters, start);
                        started += count;
                    }
                    (None, None) => {
                        for _ in 0..count {
                            let (request, counters) = (&request, &counters);
                            // Counted before the thread runs, so that the
                            // end check below cannot see zero while calls
                            // start.
                            counters.in_flight.fetch_add(1, Ordering::SeqCst);
                            std::thread::Builder::new()
                                .stack_size(64 * 1024)
                                .spawn_scoped(scope, move || {
                                    let mut client = Client::new(&server.base, timeout);
                                    let (sample, _) = client.call(request, start);
                                    counters.in_flight.fetch_sub(1, Ordering::SeqCst);
                                    counters.count(sample.ok());
                                })
                                .context("starting a client thread")?;
                            started += 1;
                        }
                    }
                }
            }
            if stop.is_some() && in_flight == 0 {
                return Ok(());
            }
            if ticks.len() % 10 == 0 {
                eprintln!(
                    "capacity: {}: {:>5.1} s, {started} started, {in_flight} in flight, RSS {rss_mib:.0} MiB, {failed} failed",
                    server.name,
                    start.elapsed().as_secs_f64()
                );
            }
            std::thread::sleep(Duration::from_millis(args.tick_ms));
        }
    })?;
    let growth = peak_rss.saturating_sub(idle.rss_bytes) as f64;
    summary.row(vec![
        server.name.clone(),
        reached.to_string(),
        stop.unwrap_or("").into(),
        counters.ok.load(Ordering::SeqCst).to_string(),
        counters.failed.load(Ordering::SeqCst).to_string(),
        num(idle.rss_bytes as f64 / MIB, 1),
        num(peak_rss as f64 / MIB, 1),
        num(growth / 1024.0 / reached.max(1) as f64, 1),
        num(last_cpu, 2),
    ]);
    Ok(ticks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ramp_stops_at_the_first_reason() {
        assert_eq!(stop_reason(0, 10.0, 100, 5, 10), None);
        assert_eq!(stop_reason(1, 200.0, 100, 10, 10), Some("first failure"));
        assert_eq!(stop_reason(0, 200.0, 100, 10, 10), Some("memory bound"));
        assert_eq!(stop_reason(0, 10.0, 100, 10, 10), Some("cap (--max)"));
    }

    #[test]
    fn a_gauge_is_summed_over_its_labels_and_matched_by_whole_name() {
        let text = "# TYPE luge_live_sandboxes gauge\n\
                    luge_live_sandboxes{mode=\"guard\"} 7\n\
                    luge_live_sandboxes{mode=\"bounds\"} 5\n\
                    luge_live_sandboxes_peak 99\n\
                    wasmtime_server_detached_running 3\n";
        assert_eq!(gauge(text, "luge_live_sandboxes"), Some(12.0));
        assert_eq!(gauge(text, "wasmtime_server_detached_running"), Some(3.0));
        assert_eq!(gauge(text, "luge_live"), None);
    }
}
