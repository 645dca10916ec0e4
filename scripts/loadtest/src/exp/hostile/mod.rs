//! The hostile-tenant benchmark (docs/hostile-tenant.md): does a tenant
//! that spins, traps, overflows its stack, exhausts its memory and parks
//! sleepers (tenant A) change what a well-behaved tenant sees (tenant B,
//! `hello`)? For each scheduling policy (`fifo`, `edf`, `edf-budgets`) a
//! fresh `luge serve` runs both tenants on ports of their own; B's
//! open-loop load is measured alone, then again while A attacks. The
//! targets: every B request answered 200 at the offered rate, and B's p99
//! at most 10 ms under attack, in every policy.

mod attack;
mod config;
mod report;
mod server;

use crate::client::{run_clients, Client};
use crate::csv::{num, write_file, Table};
use crate::http::Target;
use crate::procstat::tree_usage;
use crate::rate::{self, RateConfig};
use crate::stats::Summary;
use anyhow::{bail, ensure, Context, Result};
use attack::{Kind, Plan, Tally};
use config::{serve_config, Modules, Policy, Settings};
use server::Server;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct HostileArgs {
    /// The `luge` binary to serve with.
    #[arg(long, default_value = "target/release/luge")]
    pub luge: PathBuf,
    /// A command to start `luge` through, its words split on spaces (e.g.
    /// `qemu-aarch64` for an aarch64 build on an x86_64 host).
    #[arg(long)]
    pub luge_runner: Option<String>,
    /// Policies, each a fresh server: fifo (no deadlines), edf (a deadline
    /// on every route), edf-budgets (edf, and a CPU budget on tenant A).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "fifo,edf,edf-budgets"
    )]
    pub policies: Vec<Policy>,
    /// The server's scheduler workers (the config's `workers`) [default:
    /// one per core].
    #[arg(long)]
    pub workers: Option<usize>,
    /// Tenant A's port (the attacker).
    #[arg(long, default_value_t = 18190)]
    pub port_a: u16,
    /// Tenant B's port (the victim, /hello).
    #[arg(long, default_value_t = 18191)]
    pub port_b: u16,
    /// Measured seconds of B's load, alone and again under attack.
    #[arg(short, long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of B's load before each measured part (not recorded).
    #[arg(short, long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Seconds to wait for B's outstanding answers after its last request
    /// fell due; those still missing count as unanswered.
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
    /// B's offered rate in requests per second. Without it, each policy
    /// first measures B's closed-loop maximum alone and offers
    /// --b-fraction of it.
    #[arg(long)]
    pub b_rate: Option<f64>,
    /// The share of B's solo maximum to offer.
    #[arg(long, default_value_t = 0.5)]
    pub b_fraction: f64,
    /// Seconds of the closed-loop probe of B's solo maximum.
    #[arg(long, default_value_t = 2.0)]
    pub probe_seconds: f64,
    /// Closed-loop clients of the probe.
    #[arg(long, default_value_t = 8)]
    pub probe_clients: usize,
    /// B's keep-alive connections (one request at a time each).
    #[arg(long, default_value_t = 64)]
    pub b_connections: usize,
    /// `relative-deadline-us` of every route, A's and B's, under edf and
    /// edf-budgets: B is given no earlier deadline than the attacker.
    #[arg(long, default_value_t = 50_000)]
    pub deadline_us: u64,
    /// `relative-deadline-us` of tenant A's routes instead [default:
    /// --deadline-us]. Admission control may refuse (429) calls expected to
    /// run past their deadline, as spinners are; a deadline beyond A's
    /// timeout lets them in, to load the scheduler rather than admission.
    #[arg(long)]
    pub a_deadline_us: Option<u64>,
    /// Tenant A's `max-budget-us` under edf-budgets.
    #[arg(long, default_value_t = 5_000)]
    pub a_budget_us: u64,
    /// Tenant A's `replenishment-period-us` under edf-budgets.
    #[arg(long, default_value_t = 20_000)]
    pub a_period_us: u64,
    /// Spinners tenant A keeps in flight per worker.
    #[arg(long, default_value_t = 2)]
    pub spinners_per_worker: usize,
    /// Tenant A's /trap calls per second (an out-of-bounds store).
    #[arg(long, default_value_t = 20.0)]
    pub trap_rate: f64,
    /// Tenant A's /stack calls per second (a stack overflow).
    #[arg(long, default_value_t = 20.0)]
    pub stack_rate: f64,
    /// Tenant A's /membomb calls per second (allocate until refused).
    #[arg(long, default_value_t = 20.0)]
    pub membomb_rate: f64,
    /// Tenant A's /sleep calls per second.
    #[arg(long, default_value_t = 20.0)]
    pub sleep_rate: f64,
    /// Seconds each of A's sleepers sleeps.
    #[arg(long, default_value_t = 1)]
    pub sleep_seconds: u32,
    /// `timeout-ms` of tenant A's routes: what ends a spinner.
    #[arg(long, default_value_t = 2000)]
    pub a_timeout_ms: u64,
    /// `memory-limit-mib` of /membomb.
    #[arg(long, default_value_t = 256)]
    pub membomb_limit_mib: u64,
    /// /membomb calls in flight at most, so that the attack holds at most
    /// this many times --membomb-limit-mib of memory.
    #[arg(long, default_value_t = 8)]
    pub membomb_in_flight: usize,
    /// Connections (so calls in flight, at most) of each other fixed-rate
    /// route of A.
    #[arg(long, default_value_t = 32)]
    pub a_connections: usize,
    /// B's p99 target under attack, in milliseconds.
    #[arg(long, default_value_t = 10.0)]
    pub target_p99_ms: f64,
    /// Where spin.wasm, trap.wasm and membomb.wasm are.
    #[arg(long, default_value = "scripts/loadtest/functions")]
    pub functions: PathBuf,
    /// Where the examples are (sleep/sleep.wasm, hello/hello.wasm).
    #[arg(long, default_value = "examples")]
    pub examples: PathBuf,
    /// Where hostile.csv, hostile-statuses.csv, hostile-functions.csv,
    /// hostile-latency.svg and each policy's config and server log go.
    #[arg(long, default_value = "target/loadtest/hostile")]
    pub out: PathBuf,
}

/// How long A's attack runs before B's load starts: the spinners are on
/// the workers by then.
const LEAD: Duration = Duration::from_millis(500);

/// The phases of each policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Alone,
    Attacked,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Alone => "alone",
            Phase::Attacked => "attacked",
        }
    }
}

/// Tenant B's load in one phase, as answered.
#[derive(Debug, Clone)]
pub struct BLoad {
    /// Requests in the measured part.
    pub scheduled: u64,
    pub outcomes: Tally,
    /// Latencies of the requests answered 200, from their intended send
    /// times (ms).
    pub latency: Summary,
}

/// One phase of one policy.
#[derive(Debug, Clone)]
pub struct Row {
    pub policy: Policy,
    pub phase: Phase,
    pub workers: usize,
    /// B's closed-loop maximum alone; `None` when --b-rate was given.
    pub solo_max: Option<f64>,
    pub offered: f64,
    pub duration: f64,
    /// `None` when B's load could not run (the server was gone).
    pub b: Option<BLoad>,
    /// What tenant A was answered, per route (empty when alone).
    pub a: Vec<(Kind, Tally)>,
    /// The server's largest resident set during the phase.
    pub peak_rss_mib: f64,
    /// What went wrong, if anything (no commas).
    pub note: String,
}

impl Row {
    /// B's requests answered 200 per second of the measured part.
    pub fn answered_rate(&self) -> f64 {
        self.b
            .as_ref()
            .map_or(0.0, |b| b.outcomes.count(200) as f64 / self.duration)
    }

    /// Every B request of the phase was answered 200.
    pub fn all_answered(&self) -> bool {
        self.b
            .as_ref()
            .is_some_and(|b| b.scheduled > 0 && b.outcomes.count(200) == b.scheduled)
    }

    /// B's p99, when any request was answered 200.
    pub fn p99(&self) -> Option<f64> {
        self.b
            .as_ref()
            .filter(|b| b.latency.count > 0)
            .map(|b| b.latency.p99)
    }
}

pub fn run(args: HostileArgs) -> Result<()> {
    check_args(&args)?;
    let modules = Modules::locate(&args.functions, &args.examples)?;
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let started = Instant::now();
    let mut rows = Vec::new();
    let mut functions = Table::new(&["policy", "route", "status", "ms", "output"]);
    // A policy that cannot run (its server refuses the config or does not
    // start) ends the run, but what the earlier policies measured is
    // still written and shown.
    let mut failure = None;
    for &policy in &args.policies {
        match run_policy(policy, &args, &modules, workers, &mut functions) {
            Ok(measured) => rows.extend(measured),
            Err(e) => {
                failure = Some(e.context(format!("policy {}", policy.name())));
                break;
            }
        }
    }
    if !rows.is_empty() {
        report::write(&args.out, &rows, &functions, args.target_p99_ms)?;
        println!("{}", report::table(&rows));
        for line in report::verdicts(&rows, args.target_p99_ms) {
            println!("{line}");
        }
        eprintln!(
            "hostile: wrote {} ({:.0} s)",
            args.out.display(),
            started.elapsed().as_secs_f64()
        );
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn check_args(args: &HostileArgs) -> Result<()> {
    ensure!(!args.policies.is_empty(), "--policies: name at least one");
    ensure!(
        args.duration > 0.0 && args.warmup >= 0.0 && args.drain >= 0.0 && args.probe_seconds > 0.0,
        "--duration and --probe-seconds must be > 0, --warmup and --drain >= 0"
    );
    ensure!(
        args.b_fraction > 0.0 && args.b_fraction <= 1.0,
        "--b-fraction must be in (0, 1]"
    );
    if let Some(rate) = args.b_rate {
        ensure!(rate > 0.0 && rate.is_finite(), "--b-rate must be > 0");
    }
    let rates = [
        args.trap_rate,
        args.stack_rate,
        args.membomb_rate,
        args.sleep_rate,
    ];
    ensure!(
        rates.iter().all(|r| *r >= 0.0 && r.is_finite()),
        "tenant A's rates must be >= 0"
    );
    ensure!(
        args.workers != Some(0) && args.b_connections > 0 && args.probe_clients > 0,
        "--workers, --b-connections and --probe-clients must be > 0"
    );
    ensure!(
        args.a_budget_us > 0 && args.a_period_us >= args.a_budget_us,
        "--a-budget-us must be > 0 and at most --a-period-us"
    );
    ensure!(
        args.port_a != args.port_b,
        "--port-a and --port-b must differ"
    );
    Ok(())
}

/// One policy: a fresh server, its functions checked once, B's probe, B
/// alone, B under attack.
fn run_policy(
    policy: Policy,
    args: &HostileArgs,
    modules: &Modules,
    workers: usize,
    functions: &mut Table,
) -> Result<Vec<Row>> {
    let dir = args.out.join(policy.name());
    let config_path = dir.join("serve.json");
    let config = serve_config(policy, &settings(args, workers), modules);
    write_file(
        &config_path,
        serde_json::to_string_pretty(&config)?.as_bytes(),
    )?;
    eprintln!(
        "hostile: {}: starting luge serve ({workers} workers)",
        policy.name()
    );
    let mut server = Server::start(
        &args.luge,
        args.luge_runner.as_deref(),
        &config_path,
        &dir.join("luge-serve.log"),
        &[args.port_a, args.port_b],
    )?;
    let a = Target::parse(&format!("http://127.0.0.1:{}/", args.port_a))?;
    let b = Target::parse(&format!("http://127.0.0.1:{}/hello", args.port_b))?;
    check_functions(policy, &a, args, functions);
    let (offered, solo_max) = match args.b_rate {
        Some(rate) => (rate, None),
        None => {
            let max = probe(&b, args);
            if max < 1.0 {
                bail!(
                    "{}: tenant B answered nothing in the probe:\n{}",
                    policy.name(),
                    server.log_tail()
                );
            }
            eprintln!(
                "hostile: {}: B's solo maximum {max:.0} req/s",
                policy.name()
            );
            (max * args.b_fraction, Some(max))
        }
    };
    let run = PolicyRun {
        policy,
        args,
        workers,
        b,
        offered,
    };
    let rows = [Phase::Alone, Phase::Attacked].map(|phase| {
        let measured = run.measure(phase, &mut server);
        Row {
            policy,
            phase,
            workers,
            solo_max,
            offered,
            duration: args.duration,
            b: measured.b,
            a: measured.a,
            peak_rss_mib: measured.peak_rss_mib,
            note: measured.note,
        }
    });
    Ok(rows.into())
}

fn settings(args: &HostileArgs, workers: usize) -> Settings {
    Settings {
        workers,
        port_a: args.port_a,
        port_b: args.port_b,
        deadline_us: args.deadline_us,
        a_deadline_us: args.a_deadline_us.unwrap_or(args.deadline_us),
        budget_us: args.a_budget_us,
        period_us: args.a_period_us,
        a_timeout_ms: args.a_timeout_ms,
        membomb_limit_mib: args.membomb_limit_mib,
    }
}

/// Calls each of A's routes but /spin once, alone, and records what it
/// answered: evidence that the attack is what it claims (a trap, a stack
/// overflow, a contained memory bomb), not a misconfigured route.
fn check_functions(policy: Policy, a: &Target, args: &HostileArgs, table: &mut Table) {
    let timeout = Duration::from_millis(args.a_timeout_ms) + Duration::from_secs(10);
    for kind in [Kind::Trap, Kind::Stack, Kind::Membomb, Kind::Sleep] {
        let request = a
            .with_path(&kind.path(args.sleep_seconds))
            .request(b"", &[]);
        let (sample, body) = Client::new(a, timeout).call(&request, Instant::now());
        let text = String::from_utf8_lossy(&body);
        let first = text.lines().next().unwrap_or("").replace(',', ";");
        let ms = sample.latency.as_secs_f64() * 1e3;
        eprintln!(
            "hostile: {}: {} -> {} in {ms:.1} ms: {first}",
            policy.name(),
            kind.route(),
            sample.status
        );
        table.row(vec![
            policy.name().into(),
            kind.route().into(),
            sample.status.to_string(),
            num(ms, 2),
            first,
        ]);
    }
}

/// B's closed-loop maximum alone: requests answered 200 per second by
/// --probe-clients clients calling back to back for --probe-seconds.
fn probe(b: &Target, args: &HostileArgs) -> f64 {
    let request = b.request(b"edge", &[]);
    let started = Instant::now();
    let samples = run_clients(
        b,
        args.probe_clients,
        usize::MAX,
        Duration::ZERO,
        started + Duration::from_secs_f64(args.probe_seconds),
        Duration::from_secs(5),
        &|_, _| request.clone(),
    );
    let ok = samples.iter().filter(|s| s.status == 200).count();
    ok as f64 / started.elapsed().as_secs_f64()
}

/// What one phase measured.
struct Measured {
    b: Option<BLoad>,
    a: Vec<(Kind, Tally)>,
    peak_rss_mib: f64,
    note: String,
}

/// What a policy's phases share.
struct PolicyRun<'a> {
    policy: Policy,
    args: &'a HostileArgs,
    workers: usize,
    /// Tenant B's /hello.
    b: Target,
    /// B's rate in both phases.
    offered: f64,
}

impl PolicyRun<'_> {
    /// Runs B's load for one phase (under A's attack in
    /// `Phase::Attacked`), watching the server's memory and whether it
    /// survives.
    fn measure(&self, phase: Phase, server: &mut Server) -> Measured {
        if let Some(status) = server.exited() {
            return Measured {
                b: None,
                a: Vec::new(),
                peak_rss_mib: 0.0,
                note: format!("server exited earlier ({status})").replace(',', ";"),
            };
        }
        let label = format!("{} {}", self.policy.name(), phase.name());
        eprintln!(
            "hostile: {label}: B at {:.0} req/s for {} s",
            self.offered, self.args.duration
        );
        let load_b = || measure_b(&self.b, self.offered, self.args, &label);
        let ((b, a), peak_rss_mib) = with_peak_rss(server.pid(), || match phase {
            Phase::Alone => (load_b(), Vec::new()),
            Phase::Attacked => attack::during(&self.plan(), load_b),
        });
        let mut note = match &b {
            Ok(_) => String::new(),
            Err(e) => format!("B's load failed: {e:#}"),
        };
        if let Some(status) = server.exited() {
            eprintln!(
                "hostile: {label}: the server exited ({status}):\n{}",
                server.log_tail()
            );
            note = format!("server exited ({status}) {note}");
        }
        Measured {
            b: b.ok(),
            a,
            peak_rss_mib,
            note: note.trim().replace(',', ";"),
        }
    }

    /// Tenant A's attack.
    fn plan(&self) -> Plan {
        let args = self.args;
        Plan {
            target: Target::parse(&format!("http://127.0.0.1:{}/", args.port_a))
                .expect("a loopback URL"),
            spinners: args.spinners_per_worker * self.workers,
            rates: vec![
                (Kind::Trap, args.trap_rate),
                (Kind::Stack, args.stack_rate),
                (Kind::Membomb, args.membomb_rate),
                (Kind::Sleep, args.sleep_rate),
            ],
            connections: args.a_connections,
            membomb_in_flight: args.membomb_in_flight,
            sleep_seconds: args.sleep_seconds,
            timeout: Duration::from_millis(args.a_timeout_ms),
            lead: LEAD,
            length: Duration::from_secs_f64(args.warmup + args.duration),
        }
    }
}

/// B's open-loop load (the `rate` generator, coordinated omission
/// corrected), with progress on stderr.
fn measure_b(b: &Target, offered: f64, args: &HostileArgs, label: &str) -> Result<BLoad> {
    let config = RateConfig {
        target: b.clone(),
        request: b.request(b"edge", &[]),
        rate: offered,
        connections: args.b_connections,
        pipeline: 1,
        duration: Duration::from_secs_f64(args.duration),
        warmup: Duration::from_secs_f64(args.warmup),
        drain: Duration::from_secs_f64(args.drain),
        resolution: Duration::from_micros(100),
    };
    let result = rate::run(&config, |line| eprintln!("hostile: {label}: {line}"))
        .context("tenant B's load")?;
    Ok(BLoad {
        scheduled: result.scheduled,
        outcomes: Tally::of_rate(&result),
        latency: Summary::of(&result.latencies),
    })
}

const MIB: f64 = 1024.0 * 1024.0;

/// Runs `f` while sampling the resident memory of process `pid` (and its
/// children) every 100 ms; returns `f`'s result and the peak in MiB.
fn with_peak_rss<T: Send>(pid: u32, f: impl FnOnce() -> T + Send) -> (T, f64) {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut peak = 0;
            while !stop.load(Ordering::SeqCst) {
                if let Some(usage) = tree_usage(pid) {
                    peak = peak.max(usage.rss_bytes);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            peak
        });
        let out = f();
        stop.store(true, Ordering::SeqCst);
        let peak = sampler.join().expect("memory sampler panicked");
        (out, peak as f64 / MIB)
    })
}
