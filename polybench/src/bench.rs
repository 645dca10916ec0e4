//! Measuring one kernel: build it, compile it ahead of time for each
//! runtime, check every runtime's output against native's once, then time
//! the repetitions. A failure ends that runtime's
//! measurement of that kernel, never the whole run.

use crate::compile::{self, Toolchain};
use crate::kernels::{Dataset, Kernel};
use crate::output::{parse_time, Dump, Mismatch, OutputError};
use crate::process::{self, Exit, ProcessError};
use crate::runtimes::{Artifacts, Runtime, Tools};
use crate::stats;
use anyhow::Context;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// How every run is done.
#[derive(Debug, Clone)]
pub struct Settings {
    pub dataset: Dataset,
    /// Timed runs per kernel and runtime; the median counts.
    pub reps: usize,
    /// Compare every runtime's arrays against native's before timing.
    pub check: bool,
    /// Longest one run may take before it is killed and counted as failed.
    pub timeout: Duration,
}

/// Why one run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error("{status}{}", last_words(.stderr))]
    Status {
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("output differs from native: {0}")]
    Mismatch(Mismatch),
}

/// `: <last line>` of a failed program's stderr, which says why it failed
/// (`trap: ...`, a Node.js exception).
fn last_words(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("polybench "))
        .map(|l| format!(": {l}"))
        .unwrap_or_default()
}

/// The kernel time of a run that ended, if it ended well.
fn kernel_time(exit: &Exit, kernel: &str, settings: &Settings) -> Result<f64, RunError> {
    if !exit.status.success() {
        return Err(RunError::Status {
            status: exit.status,
            stderr: exit.stderr.clone(),
        });
    }
    Ok(parse_time(&exit.stderr, kernel, settings.dataset)?)
}

/// Runs the reference (`cmd` with `--dump`) and returns its arrays.
pub fn reference_run(
    cmd: &mut Command,
    kernel: &str,
    settings: &Settings,
) -> Result<Dump, RunError> {
    let (exit, dump) = process::run(cmd, settings.timeout, |out| Dump::read(out))?;
    kernel_time(&exit, kernel, settings)?;
    Ok(dump?)
}

/// Runs `cmd` (with `--dump`) and compares its arrays against `reference`.
pub fn checked_run(
    cmd: &mut Command,
    reference: &Dump,
    kernel: &str,
    settings: &Settings,
) -> Result<(), RunError> {
    let (exit, verdict) = process::run(cmd, settings.timeout, |out| reference.check(out))?;
    kernel_time(&exit, kernel, settings)?;
    verdict.map_err(RunError::Mismatch)
}

/// Runs `cmd` (without `--dump`) and returns the kernel time it reports.
pub fn timed_run(cmd: &mut Command, kernel: &str, settings: &Settings) -> Result<f64, RunError> {
    let (exit, ()) = process::run(cmd, settings.timeout, |_| ())?;
    kernel_time(&exit, kernel, settings)
}

/// One runtime's result on one kernel: the time of every repetition, or
/// why it failed (one line).
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    pub runtime: Runtime,
    pub outcome: Result<Vec<f64>, String>,
}

impl Measurement {
    pub fn median(&self) -> Option<f64> {
        self.outcome
            .as_ref()
            .ok()
            .and_then(|runs| stats::median(runs))
    }
}

/// Every runtime's result on one kernel, in the order they ran.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelResults {
    pub kernel: String,
    pub measurements: Vec<Measurement>,
}

impl KernelResults {
    pub fn get(&self, runtime: Runtime) -> Option<&Measurement> {
        self.measurements.iter().find(|m| m.runtime == runtime)
    }

    pub fn median(&self, runtime: Runtime) -> Option<f64> {
        self.get(runtime).and_then(Measurement::median)
    }

    /// How many times slower than native `runtime` was; `None` unless
    /// both have a time, and native's is not zero (a clock too coarse for
    /// a tiny kernel).
    pub fn slowdown(&self, runtime: Runtime) -> Option<f64> {
        let native = self.median(Runtime::Native).filter(|t| *t > 0.0)?;
        Some(self.median(runtime)? / native)
    }

    pub fn failed(&self) -> bool {
        self.measurements.iter().any(|m| m.outcome.is_err())
    }
}

/// What the benchmark is doing, for progress output.
#[derive(Debug)]
pub enum Event<'a> {
    /// Building natively and to wasm.
    Building,
    BuildFailed(&'a anyhow::Error),
    /// Compiling the wasm build ahead of time for a runtime.
    Compiling(Runtime),
    Checking(Runtime),
    /// Repetition `rep` (from 1) of `runtime` starts.
    Rep(Runtime, usize),
    /// `runtime` is done, with this slowdown if it and native succeeded.
    Done(&'a Measurement, Option<f64>),
}

/// Measures kernels under a set of runtimes.
pub struct Bench<'a> {
    pub settings: &'a Settings,
    pub toolchain: &'a Toolchain,
    pub tools: &'a Tools,
    /// Native first: it is the reference for the others.
    pub runtimes: &'a [Runtime],
    /// Where each kernel's builds go (in a subdirectory per kernel).
    pub build_dir: PathBuf,
}

impl Bench<'_> {
    /// Builds and measures `kernel` under every runtime.
    pub fn run_kernel(&self, kernel: &Kernel, on_event: &mut dyn FnMut(Event)) -> KernelResults {
        let mut results = KernelResults {
            kernel: kernel.name.clone(),
            measurements: Vec::new(),
        };
        on_event(Event::Building);
        let built = compile::build(
            self.toolchain,
            kernel,
            self.settings.dataset,
            self.runtimes,
            &self.build_dir.join(&kernel.name),
        );
        let artifacts = built.as_ref().map_err(|e| {
            on_event(Event::BuildFailed(e));
            format!("build: {}", reason(e))
        });
        let mut reference = None;
        for &runtime in self.runtimes {
            let outcome = match &artifacts {
                Ok(artifacts) => self
                    .measure(runtime, artifacts, kernel, &mut reference, on_event)
                    .map_err(|e| reason(&e)),
                Err(reason) => Err(reason.clone()),
            };
            results.measurements.push(Measurement { runtime, outcome });
            let done = results.measurements.last().expect("just pushed");
            on_event(Event::Done(done, results.slowdown(runtime)));
        }
        results
    }

    /// Ahead-of-time compilation, the dump check (which for native makes
    /// the reference), then the timed repetitions.
    fn measure(
        &self,
        runtime: Runtime,
        artifacts: &Artifacts,
        kernel: &Kernel,
        reference: &mut Option<Dump>,
        on_event: &mut dyn FnMut(Event),
    ) -> anyhow::Result<Vec<f64>> {
        let settings = self.settings;
        on_event(Event::Compiling(runtime));
        compile::precompile(runtime, self.tools, artifacts).context("compiling")?;
        let command = |dump| runtime.command(artifacts, self.tools, dump);
        if settings.check {
            on_event(Event::Checking(runtime));
            let checking = "checking output";
            if runtime == Runtime::Native {
                let dump = reference_run(&mut command(true)?, &kernel.name, settings);
                *reference = Some(dump.context(checking)?);
            } else {
                let Some(reference) = reference else {
                    anyhow::bail!("no native output to check against");
                };
                checked_run(&mut command(true)?, reference, &kernel.name, settings)
                    .context(checking)?;
            }
        }
        let mut runs = Vec::with_capacity(settings.reps);
        for rep in 1..=settings.reps {
            on_event(Event::Rep(runtime, rep));
            let time = timed_run(&mut command(false)?, &kernel.name, settings);
            runs.push(time.with_context(|| format!("rep {rep}/{}", settings.reps))?);
        }
        Ok(runs)
    }
}

/// Longest failure reason kept: a compiler's diagnostics can go on for
/// pages, and the reason ends up in a table cell.
const MAX_REASON: usize = 300;

/// `error` as a failure reason: its lines joined into one, cut short if
/// long.
fn reason(error: &anyhow::Error) -> String {
    let text = format!("{error:#}");
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
        .replace(":; ", ": ");
    match joined.char_indices().nth(MAX_REASON) {
        Some((cut, _)) => format!("{}...", &joined[..cut]),
        None => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            dataset: Dataset::Mini,
            reps: 3,
            check: true,
            timeout: Duration::from_secs(20),
        }
    }

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    const GOOD: &str =
        "echo 'polybench k MINI time_s=0.25' >&2; printf 'array A 2\\n1\\n2.5\\nend A\\n'";

    #[test]
    fn a_good_run_gives_its_time_and_dump() {
        assert_eq!(timed_run(&mut sh(GOOD), "k", &settings()).unwrap(), 0.25);
        let dump = reference_run(&mut sh(GOOD), "k", &settings()).unwrap();
        assert_eq!(dump.arrays[0].values, [1.0, 2.5]);
        checked_run(&mut sh(GOOD), &dump, "k", &settings()).unwrap();
    }

    #[test]
    fn failures_say_why() {
        let dump = reference_run(&mut sh(GOOD), "k", &settings()).unwrap();
        let wrong = GOOD.replace("2.5", "2.75");
        let err = checked_run(&mut sh(&wrong), &dump, "k", &settings()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "output differs from native: A[1]: expected 2.5, got 2.75"
        );
        let trap = "echo 'trap: out of bounds memory access' >&2; exit 134";
        let err = timed_run(&mut sh(trap), "k", &settings()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "exit status: 134: trap: out of bounds memory access"
        );
        let err = timed_run(&mut sh("true"), "k", &settings()).unwrap_err();
        assert!(
            matches!(err, RunError::Output(OutputError::NoTimeLine { .. })),
            "{err}"
        );
    }

    fn results(native: Result<Vec<f64>, String>, guard: Result<Vec<f64>, String>) -> KernelResults {
        KernelResults {
            kernel: "k".into(),
            measurements: vec![
                Measurement {
                    runtime: Runtime::Native,
                    outcome: native,
                },
                Measurement {
                    runtime: Runtime::LugeGuard,
                    outcome: guard,
                },
            ],
        }
    }

    #[test]
    fn reasons_are_one_line_and_short() {
        let error =
            anyhow::anyhow!("clang failed:\n  a.c:1: error\n\n  a.c:2: error").context("build");
        assert_eq!(
            reason(&error),
            "build: clang failed: a.c:1: error; a.c:2: error"
        );
        let long = reason(&anyhow::anyhow!("x".repeat(1000)));
        assert_eq!(long.len(), MAX_REASON + 3);
        assert!(long.ends_with("x..."));
    }

    #[test]
    fn slowdown_is_against_native_medians() {
        let r = results(Ok(vec![1.0, 2.0, 9.0]), Ok(vec![3.0, 3.0, 5.0]));
        assert_eq!(r.median(Runtime::LugeGuard), Some(3.0));
        assert_eq!(r.slowdown(Runtime::LugeGuard), Some(1.5));
        assert_eq!(r.slowdown(Runtime::Native), Some(1.0));
        assert_eq!(r.slowdown(Runtime::Node), None);
        assert!(!r.failed());
        let r = results(Err("crashed".into()), Ok(vec![3.0]));
        assert_eq!(r.slowdown(Runtime::LugeGuard), None);
        assert!(r.failed());
    }
}
