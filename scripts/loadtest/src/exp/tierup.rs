//! Experiment 6, tiered execution: a compute-heavy function (hash) is
//! deployed with `tier=auto` (a unique custom section, so that nothing of
//! it is cached), then called back to back by one client for `seconds`
//! while the server builds its opt-tier code in the background. A second
//! thread polls `/metrics` for the moment the function's
//! `luge_function_tier` gauge says `opt`. Each call's latency is recorded
//! against the time since the deploy was answered; the chart shows the
//! latency over time (means of `bin_ms` bins) with the switch marked.

use super::cold::{with_custom_section, Admin};
use crate::client::{Client, Sample};
use crate::csv::{num, write_file, Table};
use crate::http::Target;
use crate::workload::{Function, HASH_ITERATIONS};
use anyhow::{ensure, Context, Result};
use luge_report::chart::{Labels, LineChart, Scale, Series};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct TierupArgs {
    /// The admin listener of `luge serve`.
    #[arg(long, default_value = "http://127.0.0.1:9090")]
    pub admin: String,
    /// The admin bearer token [default: $LUGE_ADMIN_TOKEN].
    #[arg(long)]
    pub token: Option<String>,
    /// The tenant listener the function is deployed on (its first tenant).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// The hash function's module.
    #[arg(long, default_value = "examples/hash/hash.wasm")]
    pub wasm: PathBuf,
    /// SHA-256 rounds per call.
    #[arg(long, default_value_t = HASH_ITERATIONS)]
    pub iterations: u32,
    /// How long to call the function, from the deploy's answer.
    #[arg(long, default_value_t = 20.0)]
    pub seconds: f64,
    /// Width of the chart's bins, in milliseconds.
    #[arg(long, default_value_t = 250.0)]
    pub bin_ms: f64,
    /// Where tierup.csv, tierup-summary.csv and tierup.svg go.
    #[arg(long, default_value = "target/loadtest/tierup")]
    pub out: PathBuf,
}

/// How often `/metrics` is read for the switch.
const POLL: Duration = Duration::from_millis(20);

pub fn run(args: TierupArgs) -> Result<()> {
    ensure!(
        args.seconds > 0.0 && args.bin_ms > 0.0,
        "--seconds and --bin-ms must be positive"
    );
    let admin = Admin {
        target: Target::parse(&args.admin)?,
        token: Admin::token(args.token.clone())?,
        timeout: Duration::from_secs(120),
    };
    let server = Target::parse(&args.server)?;
    let wasm =
        std::fs::read(&args.wasm).with_context(|| format!("reading {}", args.wasm.display()))?;
    let name = format!("tierup-{}", std::process::id());
    let code = with_custom_section(&wasm, "luge-load-nonce", name.as_bytes());
    let deploy_path = format!("/functions/{name}?route=/{name}&tier=auto");
    admin.call("PUT", &deploy_path, &code)?;
    let deployed = Instant::now();
    eprintln!("tierup: deployed {name}; calling it for {} s", args.seconds);

    let (path, body) = Function::Hash {
        iterations: args.iterations,
    }
    .path_and_body();
    let path = path.replacen("/hash", &format!("/{name}"), 1);
    let request = server.with_path(&path).request(body, &[]);
    let metrics = server.with_path("/metrics").request(b"", &[]);
    let opt_line = format!(r#"luge_function_tier{{function="{name}",tier="opt"}} 1"#);
    let until = deployed + Duration::from_secs_f64(args.seconds);
    let done = AtomicBool::new(false);
    let (samples, switched) = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            let mut client = Client::new(&server, Duration::from_secs(10));
            while !done.load(Ordering::Relaxed) {
                let (_, text) = client.call(&metrics, deployed);
                if String::from_utf8_lossy(&text).contains(&opt_line) {
                    return Some(deployed.elapsed());
                }
                std::thread::sleep(POLL);
            }
            None
        });
        let mut client = Client::new(&server, Duration::from_secs(60));
        let mut samples = Vec::new();
        while Instant::now() < until {
            samples.push(client.call(&request, deployed).0);
        }
        done.store(true, Ordering::Relaxed);
        (samples, watcher.join().expect("metrics watcher panicked"))
    });
    admin.call("DELETE", &format!("/functions/{name}"), b"")?;
    write_results(&args, &samples, switched)
}

/// Mean latency in ms of the successful calls sent in `range` (seconds).
fn mean_ms(samples: &[Sample], range: std::ops::Range<f64>) -> Option<f64> {
    let latencies: Vec<f64> = samples
        .iter()
        .filter(|s| s.ok() && range.contains(&s.sent.as_secs_f64()))
        .map(|s| s.latency.as_secs_f64() * 1e3)
        .collect();
    (!latencies.is_empty()).then(|| latencies.iter().sum::<f64>() / latencies.len() as f64)
}

fn write_results(args: &TierupArgs, samples: &[Sample], switched: Option<Duration>) -> Result<()> {
    let mut rows = Table::new(&["sent_s", "latency_ms", "status"]);
    for s in samples {
        rows.row(vec![
            num(s.sent.as_secs_f64(), 4),
            num(s.latency.as_secs_f64() * 1e3, 3),
            s.status.to_string(),
        ]);
    }
    rows.write(&args.out.join("tierup.csv"))?;

    let failed = samples.iter().filter(|s| !s.ok()).count();
    let switch_s = switched.map(|d| d.as_secs_f64());
    let end = args.seconds;
    let before = mean_ms(samples, 0.0..switch_s.unwrap_or(end));
    let after = switch_s.and_then(|s| mean_ms(samples, s..end));
    let mut summary = Table::new(&[
        "calls",
        "failed",
        "switch_s",
        "mean_before_ms",
        "mean_after_ms",
        "speedup",
    ]);
    let opt_num = |v: Option<f64>, places| v.map_or_else(String::new, |v| num(v, places));
    let speedup = before.zip(after).map(|(b, a)| b / a);
    summary.row(vec![
        samples.len().to_string(),
        failed.to_string(),
        opt_num(switch_s, 3),
        opt_num(before, 3),
        opt_num(after, 3),
        opt_num(speedup, 2),
    ]);
    summary.write(&args.out.join("tierup-summary.csv"))?;
    match switch_s {
        Some(s) => eprintln!(
            "tierup: {} calls ({failed} failed); opt tier serving {s:.2} s after the deploy; \
             mean {:.2} ms before, {:.2} ms after ({:.2}x)",
            samples.len(),
            before.unwrap_or(f64::NAN),
            after.unwrap_or(f64::NAN),
            speedup.unwrap_or(f64::NAN)
        ),
        None => eprintln!(
            "tierup: {} calls ({failed} failed); the opt tier did not serve within {end} s",
            samples.len()
        ),
    }

    let chart = LineChart {
        labels: Labels {
            title: "A hash function through the switch to the opt tier".into(),
            x: "seconds since the deploy".into(),
            y: "mean latency (ms)".into(),
        },
        scale: Scale::Linear,
        series: chart_series(samples, args.bin_ms / 1e3, switch_s),
    };
    write_file(&args.out.join("tierup.svg"), chart.svg()?.as_bytes())?;
    eprintln!("tierup: wrote {}", args.out.display());
    Ok(())
}

/// The binned latency line, and the switch as a vertical line from zero
/// to the highest bin.
fn chart_series(samples: &[Sample], bin_s: f64, switch_s: Option<f64>) -> Vec<Series> {
    let last = samples
        .iter()
        .map(|s| s.sent.as_secs_f64())
        .fold(0.0, f64::max);
    let bins = (last / bin_s).floor() as usize + 1;
    let points: Vec<(f64, f64)> = (0..bins)
        .filter_map(|i| {
            let start = i as f64 * bin_s;
            Some((start + bin_s / 2.0, mean_ms(samples, start..start + bin_s)?))
        })
        .collect();
    let top = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let mut series = vec![Series {
        name: "hash latency".into(),
        points,
    }];
    if let Some(s) = switch_s {
        series.push(Series {
            name: "opt tier serving".into(),
            points: vec![(s, 0.0), (s, top)],
        });
    }
    series
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(sent_ms: u64, latency_ms: u64) -> Sample {
        Sample {
            sent: Duration::from_millis(sent_ms),
            latency: Duration::from_millis(latency_ms),
            status: 200,
        }
    }

    #[test]
    fn calls_are_binned_by_send_time_and_the_switch_drawn_to_the_top() {
        let samples = [
            sample(0, 10),
            sample(100, 20),
            sample(300, 4),
            sample(350, 2),
        ];
        let series = chart_series(&samples, 0.25, Some(0.3));
        assert_eq!(series[0].points, vec![(0.125, 15.0), (0.375, 3.0)]);
        assert_eq!(series[1].points, vec![(0.3, 0.0), (0.3, 15.0)]);
        assert_eq!(mean_ms(&samples, 0.3..1.0), Some(3.0));
        assert_eq!(mean_ms(&samples, 2.0..3.0), None);
    }
}
