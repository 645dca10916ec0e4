//! Experiment 1, access patterns (Hall & Ramachandran, 2019): for each
//! server and example function, Single Client Multiple Access (one client,
//! `calls` sequential calls), Multiple Client Single Access (`clients`
//! clients, one call each, started evenly over `ramp`) and Multiple Client
//! Multiple Access (both). Min, mean, max and p99 latency.

use crate::client::run_clients;
use crate::csv::{num, write_file, Table};
use crate::stats::Summary;
use crate::workload::{Function, Server, HASH_ITERATIONS, PRIME_N};
use anyhow::Result;
use luge_report::chart::{BarChart, Bars, Labels, Scale};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct AccessArgs {
    /// Servers to compare, as NAME=URL (repeatable); Luge, the Node.js
    /// peer and the fork server all take the same paths.
    #[arg(long = "server", default_value = "luge=http://127.0.0.1:8080")]
    pub servers: Vec<String>,
    /// Clients of the multiple-client patterns.
    #[arg(long, default_value_t = 25)]
    pub clients: usize,
    /// Calls per client of the multiple-access patterns.
    #[arg(long, default_value_t = 25)]
    pub calls: usize,
    /// Seconds over which the clients start.
    #[arg(long, default_value_t = 5.0)]
    pub ramp: f64,
    /// Seconds a pattern may run at most; calls not made by then are
    /// dropped (and the CSV's count shows it).
    #[arg(long, default_value_t = 120.0)]
    pub max_seconds: f64,
    /// Seconds before a call counts as failed.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
    /// Where access.csv and the charts go.
    #[arg(long, default_value = "target/loadtest/access")]
    pub out: PathBuf,
}

/// A pattern: its short name, clients and calls per client.
fn patterns(args: &AccessArgs) -> [(&'static str, usize, usize); 3] {
    [
        ("SCMA", 1, args.calls),
        ("MCSA", args.clients, 1),
        ("MCMA", args.clients, args.calls),
    ]
}

const FUNCTIONS: [Function; 3] = [
    Function::Hello,
    Function::Hash {
        iterations: HASH_ITERATIONS,
    },
    Function::Prime { n: PRIME_N },
];

pub fn run(args: AccessArgs) -> Result<()> {
    let servers = args
        .servers
        .iter()
        .map(|s| Server::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut table = Table::new(&[
        "server",
        "function",
        "pattern",
        "clients",
        "calls_per_client",
        "requests",
        "errors",
        "min_ms",
        "mean_ms",
        "max_ms",
        "p99_ms",
    ]);
    // Chart data: one group per function and pattern, one series of bars
    // per server.
    let mut groups: Vec<String> = Vec::new();
    let (mut means, mut p99s) = (Vec::new(), Vec::new());
    for (si, server) in servers.iter().enumerate() {
        let (mut mean, mut p99) = (Vec::new(), Vec::new());
        for function in FUNCTIONS {
            for (pattern, clients, calls) in patterns(&args) {
                let deadline = Instant::now() + Duration::from_secs_f64(args.max_seconds);
                let request = function.request(server);
                let samples = run_clients(
                    &server.base,
                    clients,
                    calls,
                    Duration::from_secs_f64(if clients > 1 { args.ramp } else { 0.0 }),
                    deadline,
                    Duration::from_secs_f64(args.timeout),
                    &|_, _| request.clone(),
                );
                let ok: Vec<Duration> = samples
                    .iter()
                    .filter(|s| s.ok())
                    .map(|s| s.latency)
                    .collect();
                let errors = samples.len() - ok.len();
                let s = Summary::of(&ok);
                eprintln!(
                    "access: {:<6} {:<6} {pattern}: {} calls, {errors} errors, min {:.2} mean {:.2} max {:.2} p99 {:.2} ms",
                    server.name, function.to_string(), samples.len(), s.min, s.mean, s.max, s.p99
                );
                table.row(vec![
                    server.name.clone(),
                    function.to_string(),
                    pattern.into(),
                    clients.to_string(),
                    calls.to_string(),
                    samples.len().to_string(),
                    errors.to_string(),
                    num(s.min, 3),
                    num(s.mean, 3),
                    num(s.max, 3),
                    num(s.p99, 3),
                ]);
                if si == 0 {
                    groups.push(format!("{function} {pattern}"));
                }
                mean.push(Some(s.mean));
                p99.push(Some(s.p99));
            }
        }
        let bars = |values| Bars {
            name: server.name.clone(),
            color: None,
            values,
        };
        means.push(bars(mean));
        p99s.push(bars(p99));
    }
    table.write(&args.out.join("access.csv"))?;
    for (stat, bars) in [("mean", means), ("p99", p99s)] {
        let chart = BarChart {
            labels: Labels {
                title: format!("Access patterns: {stat} latency"),
                x: "function and pattern".into(),
                y: format!("{stat} latency (ms, log)"),
            },
            scale: Scale::Log10,
            groups: groups.clone(),
            bars,
            reference: None,
        };
        let file = args.out.join(format!("access-{stat}.svg"));
        write_file(&file, chart.svg()?.as_bytes())?;
    }
    eprintln!("access: wrote {}", args.out.display());
    Ok(())
}
