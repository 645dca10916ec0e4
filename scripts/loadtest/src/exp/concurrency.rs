//! Experiment 3, concurrency with warm functions: closed-loop clients
//! stepped from `min` to `max` (one level per `step` seconds) under no load
//! (hello), CPU load (hash, 100000 rounds) and mixed IO/CPU load (net's
//! 300 ms sleep and prime, mixed 10/90 to 90/10). Throughput and latency
//! per level.

use crate::client::run_clients;
use crate::csv::{num, write_file, Table};
use crate::stats::Summary;
use crate::workload::{Function, Server, HASH_ITERATIONS, PRIME_N};
use anyhow::{ensure, Result};
use luge_report::chart::{Labels, LineChart, Scale, Series};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct ConcurrencyArgs {
    /// Servers to compare, as NAME=URL (repeatable).
    #[arg(long = "server", default_value = "luge=http://127.0.0.1:8080")]
    pub servers: Vec<String>,
    /// Fewest concurrent clients.
    #[arg(long, default_value_t = 2)]
    pub min_clients: usize,
    /// Most concurrent clients.
    #[arg(long, default_value_t = 15)]
    pub max_clients: usize,
    /// Clients added per level.
    #[arg(long, default_value_t = 1)]
    pub client_step: usize,
    /// Seconds per level.
    #[arg(long, default_value_t = 5.0)]
    pub step: f64,
    /// Workloads: hello, hash, or mix-NET/PRIME with NET + PRIME = 100
    /// (percent of calls to net and to prime).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "hello,hash,mix-10/90,mix-25/75,mix-50/50,mix-75/25,mix-90/10"
    )]
    pub workloads: Vec<String>,
    /// Seconds before a call counts as failed.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
    /// Where concurrency.csv and the charts go.
    #[arg(long, default_value = "target/loadtest/concurrency")]
    pub out: PathBuf,
}

/// What the clients call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Workload {
    One(Function),
    /// `net_percent` of the calls to net, the rest to prime.
    Mix {
        net_percent: u32,
    },
}

impl Workload {
    pub fn parse(s: &str) -> Result<Workload> {
        Ok(match s {
            "hello" => Workload::One(Function::Hello),
            "hash" => Workload::One(Function::Hash {
                iterations: HASH_ITERATIONS,
            }),
            _ => {
                let mix = s.strip_prefix("mix-").and_then(|m| m.split_once('/'));
                let parts =
                    mix.and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)));
                match parts {
                    Some((net, prime)) if net + prime == 100 => Workload::Mix { net_percent: net },
                    _ => anyhow::bail!(
                        "--workloads: {s:?}: expected hello, hash or mix-NET/PRIME summing to 100"
                    ),
                }
            }
        })
    }

    /// The function of call number `i`: for a mix, spread evenly so that
    /// any run of calls has the mix's proportion (to one call).
    pub fn function(self, i: usize) -> Function {
        match self {
            Workload::One(f) => f,
            Workload::Mix { net_percent } => {
                let p = net_percent as usize;
                if (i + 1) * p / 100 > i * p / 100 {
                    Function::Net
                } else {
                    Function::Prime { n: PRIME_N }
                }
            }
        }
    }
}

pub fn run(args: ConcurrencyArgs) -> Result<()> {
    ensure!(
        args.min_clients >= 1 && args.max_clients >= args.min_clients && args.client_step >= 1,
        "--min-clients, --max-clients, --client-step: expected 1 <= min <= max and step >= 1"
    );
    let servers = args
        .servers
        .iter()
        .map(|s| Server::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let workloads = args
        .workloads
        .iter()
        .map(|w| Ok((w.clone(), Workload::parse(w)?)))
        .collect::<Result<Vec<_>>>()?;
    let mut table = Table::new(&[
        "server",
        "workload",
        "clients",
        "requests",
        "errors",
        "throughput_rps",
        "mean_ms",
        "p50_ms",
        "p99_ms",
        "max_ms",
    ]);
    let step = Duration::from_secs_f64(args.step);
    for server in &servers {
        let mut latency = Vec::new();
        let mut throughput = Vec::new();
        for (name, workload) in &workloads {
            let requests: Vec<Vec<u8>> = (0..100)
                .map(|i| workload.function(i).request(server))
                .collect();
            let mut lat = Series {
                name: name.clone(),
                points: Vec::new(),
            };
            let mut thr = lat.clone();
            for clients in (args.min_clients..=args.max_clients).step_by(args.client_step) {
                let started = Instant::now();
                let samples = run_clients(
                    &server.base,
                    clients,
                    usize::MAX,
                    Duration::ZERO,
                    started + step,
                    Duration::from_secs_f64(args.timeout),
                    // Each client walks the whole mix (from its own
                    // offset), so that every client makes the mix's share
                    // of net and prime calls.
                    &|client, call| requests[(call + client * 37) % requests.len()].clone(),
                );
                let elapsed = started.elapsed().as_secs_f64();
                let ok: Vec<Duration> = samples
                    .iter()
                    .filter(|s| s.ok())
                    .map(|s| s.latency)
                    .collect();
                let s = Summary::of(&ok);
                let rps = ok.len() as f64 / elapsed;
                let errors = samples.len() - ok.len();
                eprintln!(
                    "concurrency: {:<6} {name:<10} {clients:>2} clients: {rps:>8.1} req/s, mean {:.2} ms, p99 {:.2} ms, {errors} errors",
                    server.name, s.mean, s.p99
                );
                table.row(vec![
                    server.name.clone(),
                    name.clone(),
                    clients.to_string(),
                    samples.len().to_string(),
                    errors.to_string(),
                    num(rps, 1),
                    num(s.mean, 3),
                    num(s.p50, 3),
                    num(s.p99, 3),
                    num(s.max, 3),
                ]);
                if ok.is_empty() {
                    eprintln!("concurrency: {} answered nothing at {clients} clients; skipping its higher levels of {name}", server.name);
                    break;
                }
                lat.points.push((clients as f64, s.mean));
                thr.points.push((clients as f64, rps));
            }
            latency.push(lat);
            throughput.push(thr);
        }
        for (what, series, unit) in [
            ("mean latency", latency, "ms, log"),
            ("throughput", throughput, "requests/s, log"),
        ] {
            let chart = LineChart {
                labels: Labels {
                    title: format!("{}: {what} over concurrent clients", server.name),
                    x: "concurrent clients".into(),
                    y: format!("{what} ({unit})"),
                },
                scale: Scale::Log10,
                series,
            };
            let file = format!("concurrency-{}-{}.svg", server.name, what.replace(' ', "-"));
            write_file(&args.out.join(file), chart.svg()?.as_bytes())?;
        }
    }
    table.write(&args.out.join("concurrency.csv"))?;
    eprintln!("concurrency: wrote {}", args.out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_keep_their_proportion() {
        for net in [10, 25, 50, 75, 90] {
            let w = Workload::parse(&format!("mix-{net}/{}", 100 - net)).unwrap();
            let nets = (0..100).filter(|&i| w.function(i) == Function::Net).count();
            assert_eq!(nets, net as usize);
            // Any 20 consecutive calls are within one call of the mix.
            let window = (37..57).filter(|&i| w.function(i) == Function::Net).count();
            assert!(
                (window as f64 - net as f64 / 5.0).abs() <= 1.0,
                "{net}: {window}"
            );
        }
        assert!(Workload::parse("mix-50/40").is_err());
        assert_eq!(
            Workload::parse("hello").unwrap(),
            Workload::One(Function::Hello)
        );
    }
}
