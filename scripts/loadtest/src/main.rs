//! `luge-load`: load generation and serverless workload experiments
//! against `luge serve` and its peers, on loopback only. See
//! docs/workloads.md for what each experiment reproduces and the results.

mod csv;
mod http;
mod procstat;
mod rate;
mod rate_cmd;
mod schedule;
mod stats;
mod svg;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "luge-load",
    about = "Load generator and serverless workload experiments (docs/workloads.md). \
             Every run is bounded in time and requests, sends only to loopback, \
             prints progress on stderr and writes CSV + SVG into --out."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Open-loop constant-rate load (like wrk2): requests leave on a fixed
    /// schedule over keep-alive connections, and each latency counts from
    /// the request's intended send time, so a stalled server is charged for
    /// the requests it delayed (coordinated omission corrected). Prints
    /// p50/p90/p99/p99.9/max, the achieved rate and the generator's own CPU
    /// time.
    Rate(rate_cmd::RateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Rate(args) => rate_cmd::run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("luge-load: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
