//! `luge-load`: load generation and serverless workload experiments
//! against `luge serve` and its peers, on loopback only. See
//! docs/workloads.md for what each experiment reproduces and the results.

mod client;
mod csv;
mod exp;
mod http;
mod peer;
mod procstat;
mod rate;
mod rate_cmd;
mod schedule;
mod stats;
mod timer;
mod workload;

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
    /// Experiment 1, access patterns (Hall & Ramachandran 2019): Single
    /// Client Multiple Access (1 client, 25 sequential calls), Multiple
    /// Client Single Access (25 clients, one call each, started over 5 s)
    /// and Multiple Client Multiple Access (both), for hello, hash and
    /// prime on each --server. Min, mean, max and p99 latency.
    Access(exp::access::AccessArgs),
    /// Experiment 2, cold start against concurrency (Funk 2023): deploys a
    /// fresh OpenWhisk action through the admin API, sends 1..15
    /// simultaneous blocking invocations, 10 times per level; initTime,
    /// waitTime and latency with mean, stddev and CV.
    Cold(exp::cold::ColdArgs),
    /// Experiment 3, concurrency with warm functions: 2..15 closed-loop
    /// clients, one level every 5 s, under no load (hello), CPU load (hash)
    /// and net/prime mixes from 10/90 to 90/10. Throughput and latency.
    Concurrency(exp::concurrency::ConcurrencyArgs),
    /// Experiment 4, capacity: 5 s sleep calls started at a rising rate
    /// until the first failure, the memory bound or the cap; the server's
    /// CPU and RSS over time (from /proc, with its child processes) and RSS
    /// per sandbox.
    Capacity(exp::capacity::CapacityArgs),
    /// The hostile-tenant benchmark (docs/hostile-tenant.md): starts `luge
    /// serve` once per scheduling policy (fifo, edf, edf-budgets) with two
    /// tenants, measures tenant B's hello open loop alone, then again while
    /// tenant A spins, traps, overflows its stack, exhausts its memory and
    /// sleeps; B's p50/p99/max and every status of both tenants, and
    /// whether the targets hold (all of B answered 200, p99 <= 10 ms).
    // Boxed: its many options would make every variant as large.
    Hostile(Box<exp::hostile::HostileArgs>),
    /// Tiered execution (docs/workloads.md, experiment 6): deploys a
    /// compute-heavy function (hash) with `tier=auto` through the admin
    /// API, calls it back to back from one client while the opt tier is
    /// built, and records each call's latency over time and the moment
    /// `/metrics` shows the switch; mean latency before and after.
    Tierup(exp::tierup::TierupArgs),
    /// The process-per-request peer of experiment 5: serves DIR/NAME
    /// native executables on /NAME, one fork/exec per request, with Luge's
    /// CGI mapping (query parts as argv, body as stdin).
    ForkServer(peer::fork::ForkServerArgs),
    /// The Wasmtime peer of experiment 5 (built with `--features
    /// wasmtime-peer`): serves each MODULE.wasm on /MODULE, a fresh
    /// Wasmtime instance from its pooling allocator per request, WASI
    /// preview1 from wasmtime-wasi, the same CGI mapping.
    #[cfg(feature = "wasmtime-peer")]
    WasmtimeServer(peer::wasmtime::WasmtimeServerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Rate(args) => rate_cmd::run(args),
        Command::Access(args) => exp::access::run(args),
        Command::Cold(args) => exp::cold::run(args),
        Command::Concurrency(args) => exp::concurrency::run(args),
        Command::Capacity(args) => exp::capacity::run(args),
        Command::Hostile(args) => exp::hostile::run(*args),
        Command::Tierup(args) => exp::tierup::run(args),
        Command::ForkServer(args) => peer::fork::run(args),
        #[cfg(feature = "wasmtime-peer")]
        Command::WasmtimeServer(args) => peer::wasmtime::run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("luge-load: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
