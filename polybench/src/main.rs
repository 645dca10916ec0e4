//! `polybench`: builds the PolyBench/C kernels natively and to wasm, runs
//! them under every available runtime, checks their output against native
//! and writes the results as CSV, Markdown and an SVG chart.

use anyhow::{Context, Result};
use clap::Parser;
use luge_polybench::bench::{Bench, Event, KernelResults, Settings};
use luge_polybench::compile::Toolchain;
use luge_polybench::kernels::{self, Dataset};
use luge_polybench::progress::Progress;
use luge_polybench::report::{format_slowdown, Report};
use luge_polybench::runtimes::{self, Runtime, Tools};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "polybench",
    about = "Runs the PolyBench/C kernels natively, under Luge, Wasmtime and Node.js, \
             and reports their slowdowns against native code"
)]
struct Cli {
    /// Problem size: MINI, SMALL, MEDIUM, LARGE or EXTRALARGE.
    #[arg(long, default_value = "LARGE")]
    dataset: Dataset,
    /// Timed runs per kernel and runtime; the median is reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    reps: u32,
    /// Kernels to run, comma-separated [default: every polybench/kernels/*.c].
    #[arg(long, value_delimiter = ',')]
    kernels: Vec<String>,
    /// Runtimes, comma-separated, from native, luge-guard, luge-software,
    /// luge-checks, luge-opt-guard, luge-opt-software (the opt tier),
    /// wasmtime, node, and luge-guard-simd,
    /// luge-software-simd, luge-opt-guard-simd, wasmtime-simd, node-simd (the kernels built with
    /// -msimd128) [default: all of them, wasmtime and node if installed].
    /// Native always runs: it is the reference.
    #[arg(long, value_delimiter = ',')]
    runtimes: Vec<Runtime>,
    /// Where results and builds go [default: target/polybench/<DATASET>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Skip comparing every runtime's output arrays with native's.
    #[arg(long)]
    no_check: bool,
    /// The luge binary [default: target/release/luge, in $CARGO_TARGET_DIR
    /// if set].
    #[arg(long, value_name = "PATH")]
    luge: Option<PathBuf>,
    /// Seconds one run may take before it is stopped and counted as failed.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    timeout: u64,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("polybench: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the benchmark; `Ok(false)` when some run failed.
fn run(cli: Cli) -> Result<bool> {
    let toolchain = Toolchain::detect()?;
    let tools = Tools::detect(cli.luge)?;
    let runtimes = runtimes::select(&tools, &cli.runtimes)?;
    let all = kernels::discover(&kernels::kernels_dir())?;
    let kernels = kernels::select(all, &cli.kernels)?;
    anyhow::ensure!(
        !kernels.is_empty(),
        "no kernels in {}",
        kernels::kernels_dir().display()
    );
    let out = cli.out.unwrap_or_else(|| {
        luge_polybench::target_dir()
            .join("polybench")
            .join(cli.dataset.name())
    });
    let settings = Settings {
        dataset: cli.dataset,
        reps: cli.reps as usize,
        check: !cli.no_check,
        timeout: Duration::from_secs(cli.timeout),
    };
    let bench = Bench {
        settings: &settings,
        toolchain: &toolchain,
        tools: &tools,
        runtimes: &runtimes,
        build_dir: out.join("build"),
    };
    let names: Vec<_> = runtimes.iter().map(|r| r.name()).collect();
    eprintln!(
        "polybench: {} dataset, {} kernel(s), {} rep(s), runtimes: {}",
        cli.dataset,
        kernels.len(),
        settings.reps,
        names.join(", ")
    );
    let progress = Progress::new(&kernels, settings.reps);
    let mut results: Vec<KernelResults> = Vec::new();
    let mut files = Vec::new();
    for (index, kernel) in kernels.iter().enumerate() {
        let mut show = |event: Event| progress.show(index + 1, &kernel.name, &event);
        results.push(bench.run_kernel(kernel, &mut show));
        // After every kernel, so that an interrupted run leaves results.
        files = report(&settings, &runtimes, &results)
            .write(&out)
            .context("writing the reports")?;
    }
    summarize(&report(&settings, &runtimes, &results), &files);
    Ok(!results.iter().any(KernelResults::failed))
}

fn report<'a>(
    settings: &Settings,
    runtimes: &'a [Runtime],
    results: &'a [KernelResults],
) -> Report<'a> {
    Report {
        dataset: settings.dataset,
        reps: settings.reps,
        runtimes,
        results,
    }
}

/// Prints the geometric means, the failures and where the reports are.
fn summarize(report: &Report, files: &[PathBuf]) {
    eprintln!("\ngeometric mean of slowdowns against native:");
    for &runtime in report.runtimes {
        let (mean, n) = report.geomean(runtime);
        let mean = mean.map_or("n/a".into(), format_slowdown);
        eprintln!(
            "  {runtime:<width$}  {mean:>8}  ({n} of {} kernels)",
            report.results.len(),
            width = luge_polybench::progress::RUNTIME_WIDTH,
        );
    }
    let failures: usize = report
        .results
        .iter()
        .map(|r| r.measurements.iter().filter(|m| m.outcome.is_err()).count())
        .sum();
    if failures > 0 {
        eprintln!("\n{failures} run(s) failed; see the progress lines above or results.md");
    }
    eprintln!();
    for file in files {
        eprintln!("wrote {}", file.display());
    }
}
