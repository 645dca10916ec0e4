//! The `rate` subcommand: arguments, report and output files around the
//! generator in [`crate::rate`].

use crate::csv::{num, write_file, Table};
use crate::http::Target;
use crate::rate::{self, RateConfig, RateResult};
use crate::stats::{percentile, Summary};
use anyhow::{ensure, Context, Result};
use luge_report::chart::{Labels, LineChart, Scale, Series};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Requests a run may schedule at most (rate x (warm-up + duration)), so
/// that a typo cannot start an unbounded run; the latencies are kept in
/// memory (16 bytes each).
const MAX_REQUESTS: f64 = 50_000_000.0;

#[derive(clap::Args)]
pub struct RateArgs {
    /// The URL (loopback only), e.g. http://127.0.0.1:8080/hello.
    pub url: String,
    /// Requests per second.
    #[arg(short, long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Keep-alive connections; each carries one request at a time unless
    /// --pipeline says otherwise, so at rate R and latency L at least R x L
    /// connections are needed.
    #[arg(short, long, default_value_t = 64)]
    pub connections: usize,
    /// Outstanding requests per connection (HTTP/1.1 pipelining); 1 sends
    /// the next request only after the previous answer, as most clients do.
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// Measured seconds.
    #[arg(short, long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of load before measuring (sent on the same schedule, not
    /// recorded).
    #[arg(short, long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Seconds to wait for outstanding answers after the last request fell
    /// due; those still missing count as timeouts.
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
    /// The shortest sleep between sends, in µs: requests due within it
    /// leave together, one wake-up for all. Smaller is more exact and
    /// costs more CPU at high rates; lateness counts in the latency.
    #[arg(long, default_value_t = 100)]
    pub resolution_us: u64,
    /// Request body (sent as a POST; without it, a GET).
    #[arg(long, default_value = "")]
    pub body: String,
    /// Where summary.csv, percentiles.csv and latency.svg go.
    #[arg(long, default_value = "target/loadtest/rate")]
    pub out: PathBuf,
}

fn seconds(v: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(v).with_context(|| format!("--{what} {v}: expected seconds >= 0"))
}

pub fn run(args: RateArgs) -> Result<()> {
    ensure!(
        args.rate > 0.0 && args.rate.is_finite(),
        "--rate must be > 0"
    );
    ensure!(args.connections > 0, "--connections must be > 0");
    ensure!(args.pipeline > 0, "--pipeline must be > 0");
    ensure!(
        args.rate * (args.duration + args.warmup) <= MAX_REQUESTS,
        "--rate x (--duration + --warmup) is over {MAX_REQUESTS} requests"
    );
    let target = Target::parse(&args.url)?;
    let config = RateConfig {
        request: target.request(args.body.as_bytes(), &[]),
        target,
        rate: args.rate,
        connections: args.connections,
        pipeline: args.pipeline,
        duration: seconds(args.duration, "duration")?,
        warmup: seconds(args.warmup, "warmup")?,
        drain: seconds(args.drain, "drain")?,
        resolution: Duration::from_micros(args.resolution_us),
    };
    eprintln!(
        "rate: {} at {} req/s over {} connections (pipeline {}), {} s warm-up + {} s",
        args.url, args.rate, args.connections, args.pipeline, args.warmup, args.duration
    );
    let result = rate::run(&config, |line| eprintln!("{line}"))
        .with_context(|| format!("load on {}", args.url))?;
    let summary = Summary::of(&result.latencies);
    println!("{}", report(&args, &result, &summary));
    write_outputs(&args.out, &args, &result, &summary)?;
    eprintln!("rate: wrote {}", args.out.display());
    Ok(())
}

fn report(args: &RateArgs, r: &RateResult, s: &Summary) -> String {
    let us = |ms: f64| format!("{:.0} µs", ms * 1e3);
    format!(
        "target {:.0} req/s, achieved {:.0} resp/s over {:.2} s: {} ok, {} non-2xx, {} errors, {} timeouts; max backlog {}\n\
         latency from intended send time: p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  (mean {})\n\
         generator CPU: {:.2} s ({:.0}% of one core)",
        args.rate,
        r.achieved_rate(),
        r.measured_time.as_secs_f64(),
        s.count,
        r.non_2xx,
        r.errors,
        r.timeouts,
        r.max_backlog,
        us(s.p50),
        us(s.p90),
        us(s.p99),
        us(s.p999),
        us(s.max),
        us(s.mean),
        r.cpu_time.as_secs_f64(),
        100.0 * r.cpu_time.as_secs_f64() / (args.duration + args.warmup).max(1e-9),
    )
}

/// The percentiles of the latency spectrum written to percentiles.csv.
const SPECTRUM: [f64; 12] = [
    0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.99, 100.0,
];

fn write_outputs(out: &Path, args: &RateArgs, r: &RateResult, s: &Summary) -> Result<()> {
    let mut summary = Table::new(&[
        "url",
        "target_rps",
        "achieved_rps",
        "connections",
        "pipeline",
        "duration_s",
        "ok",
        "non_2xx",
        "errors",
        "timeouts",
        "p50_us",
        "p90_us",
        "p99_us",
        "p999_us",
        "max_us",
        "mean_us",
        "generator_cpu_s",
    ]);
    let us = |ms: f64| num(ms * 1e3, 1);
    summary.row(vec![
        args.url.clone(),
        num(args.rate, 0),
        num(r.achieved_rate(), 0),
        args.connections.to_string(),
        args.pipeline.to_string(),
        num(args.duration, 2),
        s.count.to_string(),
        r.non_2xx.to_string(),
        r.errors.to_string(),
        r.timeouts.to_string(),
        us(s.p50),
        us(s.p90),
        us(s.p99),
        us(s.p999),
        us(s.max),
        us(s.mean),
        num(r.cpu_time.as_secs_f64(), 3),
    ]);
    summary.write(&out.join("summary.csv"))?;

    let mut sorted = r.latencies.clone();
    sorted.sort();
    let mut spectrum = Table::new(&["percentile", "latency_us"]);
    let mut points = Vec::new();
    for p in SPECTRUM {
        if let Some(v) = percentile(&sorted, p) {
            let us = v.as_secs_f64() * 1e6;
            spectrum.row(vec![p.to_string(), num(us, 1)]);
            points.push((p, us));
        }
    }
    spectrum.write(&out.join("percentiles.csv"))?;
    // Tails two decades above the median need a log axis to show both.
    let spread = points.last().map_or(1.0, |p| p.1) / points.first().map_or(1.0, |p| p.1.max(1e-9));
    let (scale, unit) = if spread > 100.0 {
        (Scale::Log10, "latency (µs, log)")
    } else {
        (Scale::Linear, "latency (µs)")
    };
    let chart = LineChart {
        labels: Labels {
            title: format!("Latency at {} req/s, {}", args.rate, args.url),
            x: "percentile".into(),
            y: unit.into(),
        },
        scale,
        series: vec![Series {
            name: "latency".into(),
            points,
        }],
    };
    write_file(&out.join("latency.svg"), chart.svg()?.as_bytes())
}
