//! `luge-fuzz`: differential fuzzing of Luge against Wasmtime and wasmi.
//! See the library's documentation for what a case is, and
//! docs/testing.md for campaigns.

mod campaign;
mod worker;

use anyhow::{anyhow, Context, Result};
use awsm_compiler::CpuLevel;
use clap::Parser;
use luge_fuzz::engines::luge::{runnable_cpu_levels, Configuration, Variant};
use std::path::PathBuf;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "luge-fuzz",
    about = "Differential fuzzing of Luge against Wasmtime and wasmi",
    long_about = "Differential fuzzing of Luge against Wasmtime and wasmi.\n\n\
        Each case is a seed: it makes a module (wasm-smith) and the arguments its exported \
        functions are called with. The case runs under Luge in every configuration and under \
        both reference engines; Luge diverges where it disagrees with both and they agree. \
        Cases run in worker processes, so a crash or a hang is a finding too.\n\n\
        `luge-fuzz --seed S` reproduces case S and prints its verdict. \
        `luge-fuzz --seed S --seconds N` runs cases S, S+1, ... for N seconds. \
        Findings are written to --findings; a divergence is minimized and saved as a .wat \
        regression test under --regressions, which `cargo test -p luge-fuzz` runs.\n\n\
        Exit status: 0 when nothing was found, 1 when something was, 2 on a usage error."
)]
pub struct Args {
    /// The first case's seed; the next cases take seed+1, seed+2... Without
    /// it, a random first seed is chosen and printed.
    #[arg(long)]
    seed: Option<u64>,
    /// How many cases to run (default: 1, or as many as --seconds allows).
    #[arg(long)]
    cases: Option<u64>,
    /// Start no new case after this many seconds.
    #[arg(long)]
    seconds: Option<u64>,
    /// A Luge configuration to run: guard, guard-nointr, software or
    /// software-nointr ("nointr": without interrupt checks, as `luge serve`
    /// ships on x86_64), each also as opt-guard... for the opt tier (LLVM
    /// through clang; modules it does not translate are left out of
    /// its runs and counted). Repeatable; the fast tier's four by default.
    #[arg(long = "config", value_name = "CONFIG")]
    configs: Vec<Variant>,
    /// The CPU level Luge compiles for: baseline, v2, v3, native, or
    /// `rotate`, where each case's seed picks one of the levels this
    /// machine runs.
    #[arg(long, default_value = "rotate", value_parser = parse_cpu)]
    cpu: CpuChoice,
    /// Worker processes running cases side by side.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Where each finding's module and report are written.
    #[arg(long, default_value = "target/luge-fuzz/findings")]
    findings: PathBuf,
    /// Where minimized divergences are saved as .wat regression tests.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/regressions"))]
    regressions: PathBuf,
    /// Keep divergences as found, without minimizing them.
    #[arg(long)]
    no_minimize: bool,
    /// A case still running after this many seconds is a hang (a finding).
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Print every case's verdict (the default for a single case).
    #[arg(long, short)]
    verbose: bool,
    /// Internal: run cases for a parent, seeds on stdin, reports on stdout.
    #[arg(long, hide = true)]
    worker: bool,
    /// Internal: minimize case --seed's divergence in the one --config at
    /// the one --cpu level, and save it under --regressions.
    #[arg(long, hide = true)]
    minimize: bool,
    /// Testing the harness: a worker aborts the process on this seed.
    #[arg(long, hide = true)]
    abort_on_seed: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CpuChoice {
    Rotate,
    Level(CpuLevel),
}

impl CpuChoice {
    /// The name `--cpu` takes.
    fn name(self) -> &'static str {
        match self {
            CpuChoice::Rotate => "rotate",
            CpuChoice::Level(level) => level.name(),
        }
    }
}

fn parse_cpu(s: &str) -> Result<CpuChoice, String> {
    if s == "rotate" {
        return Ok(CpuChoice::Rotate);
    }
    let level: CpuLevel = s.parse()?;
    if !runnable_cpu_levels().contains(&level) {
        return Err(format!(
            "this machine cannot run code compiled for CPU level `{s}`"
        ));
    }
    Ok(CpuChoice::Level(level))
}

impl Args {
    fn variants(&self) -> Vec<Variant> {
        if self.configs.is_empty() {
            Variant::ALL.to_vec()
        } else {
            self.configs.clone()
        }
    }

    /// The CPU level case `seed` compiles for.
    fn cpu_for(&self, seed: u64) -> CpuLevel {
        match self.cpu {
            CpuChoice::Level(level) => level,
            CpuChoice::Rotate => {
                let levels = runnable_cpu_levels();
                levels[(seed % levels.len() as u64) as usize]
            }
        }
    }

    /// The Luge configurations case `seed` runs under.
    fn configurations(&self, seed: u64) -> Vec<Configuration> {
        let cpu = self.cpu_for(seed);
        self.variants().into_iter().map(|v| v.at(cpu)).collect()
    }
}

fn main() {
    let args = Args::parse();
    let run = if args.worker {
        worker::serve(&args).map(|()| true)
    } else if args.minimize {
        worker::minimize(&args).map(|()| true)
    } else {
        campaign::run(args)
    };
    match run {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("luge-fuzz: {e:#}");
            std::process::exit(2);
        }
    }
}

/// The one seed `--minimize` works on, and its one configuration.
fn single_configuration(args: &Args) -> Result<(u64, Configuration)> {
    let seed = args.seed.context("--minimize needs --seed")?;
    let [config] = <[Configuration; 1]>::try_from(args.configurations(seed))
        .map_err(|_| anyhow!("--minimize needs exactly one --config"))?;
    Ok((seed, config))
}
