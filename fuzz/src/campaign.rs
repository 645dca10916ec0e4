//! The parent side: hands seeds to worker processes, watches them, and
//! keeps what they find. A worker that dies or stops answering is a
//! finding for the case it was running, and is replaced.

use crate::{Args, CpuChoice};
use anyhow::{Context, Result};
use luge_fuzz::case::{Finding, Report};
use luge_fuzz::generate;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a long run reports progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// Divergences minimized at the end of a run, at most (each takes minutes).
const MAX_MINIMIZED: usize = 5;
/// How long one minimization may take.
const MINIMIZE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// How long a worker that closed its output has to exit before it is
/// killed.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// Counts, and the divergences to minimize.
#[derive(Default)]
struct Tally {
    cases: u64,
    calls: u64,
    findings: u64,
    reference_disagreements: u64,
    reference_failures: u64,
    /// Opt-tier runs left out: modules it does not translate (SIMD
    /// rounding at a CPU level without SSE4.1).
    untranslated: u64,
    /// (seed, configuration name) of each divergence.
    divergences: Vec<(u64, String)>,
}

/// What the job threads share.
struct Shared<'a> {
    args: &'a Args,
    verbose: bool,
    next: AtomicU64,
    end: u64,
    deadline: Option<Instant>,
    tally: Mutex<Tally>,
}

impl Shared<'_> {
    /// The next seed to run, or `None` once the run is over.
    fn take(&self) -> Option<u64> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        let seed = self.next.fetch_add(1, Ordering::Relaxed);
        (seed < self.end).then_some(seed)
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub fn run(args: Args) -> Result<bool> {
    let single = args.cases.is_none() && args.seconds.is_none();
    let first = args.seed.unwrap_or_else(|| fastrand::u64(..u64::MAX / 2));
    let count = match (args.cases, args.seconds) {
        (Some(n), _) => n,
        (None, Some(_)) => u64::MAX,
        (None, None) => 1,
    };
    std::fs::create_dir_all(&args.findings)
        .with_context(|| format!("creating {}", args.findings.display()))?;
    println!(
        "luge-fuzz: seeds from {first}; Luge in {}; CPU level {}; {} worker(s); findings in {}",
        args.variants()
            .iter()
            .map(|v| v.name())
            .collect::<Vec<_>>()
            .join(", "),
        match args.cpu {
            CpuChoice::Rotate => "rotated by seed".to_string(),
            CpuChoice::Level(level) => level.name().to_string(),
        },
        args.jobs,
        args.findings.display()
    );
    let started = Instant::now();
    let shared = Shared {
        args: &args,
        verbose: args.verbose || single,
        next: AtomicU64::new(first),
        end: first.saturating_add(count),
        deadline: args.seconds.map(|s| started + Duration::from_secs(s)),
        tally: Mutex::new(Tally::default()),
    };
    std::thread::scope(|scope| -> Result<()> {
        let jobs: Vec<_> = (0..args.jobs.max(1))
            .map(|_| scope.spawn(|| job(&shared)))
            .collect();
        let mut reported = Instant::now();
        while !jobs.iter().all(|j| j.is_finished()) {
            std::thread::sleep(Duration::from_millis(100));
            if !single && reported.elapsed() >= PROGRESS_EVERY {
                reported = Instant::now();
                eprintln!("{}", progress(&shared.tally(), started));
            }
        }
        jobs.into_iter()
            .try_for_each(|j| j.join().expect("a job thread panicked"))
    })?;
    let tally = shared.tally.into_inner().unwrap_or_else(|e| e.into_inner());
    let last = first + tally.cases.saturating_sub(1);
    println!("{} (seeds {first}..={last})", progress(&tally, started));
    if !args.no_minimize {
        minimize_all(&args, &tally.divergences);
    }
    Ok(tally.findings == 0)
}

fn progress(tally: &Tally, started: Instant) -> String {
    let seconds = started.elapsed().as_secs_f64();
    format!(
        "[{seconds:6.0} s] {} cases ({:.1}/s), {} calls per engine; {} findings; \
         reference engines disagreed {} times, failed {} times{}",
        tally.cases,
        tally.cases as f64 / seconds.max(0.001),
        tally.calls,
        tally.findings,
        tally.reference_disagreements,
        tally.reference_failures,
        match tally.untranslated {
            0 => String::new(),
            n => format!("; opt tier left out {n} runs (SIMD rounding without SSE4.1)"),
        }
    )
}

/// One worker process, fed seeds until the run is over.
fn job(shared: &Shared) -> Result<()> {
    let timeout = Duration::from_secs(shared.args.timeout);
    let mut worker = Worker::start(shared.args)?;
    while let Some(seed) = shared.take() {
        match worker.run(seed, timeout) {
            Ok(report) => record(shared, report)?,
            Err(failure) => {
                incident(shared, seed, &failure)?;
                worker = Worker::start(shared.args)?;
            }
        }
    }
    Ok(())
}

/// A worker process and the lines it answers with.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    answers: Receiver<String>,
}

impl Worker {
    fn start(args: &Args) -> Result<Worker> {
        let exe = std::env::current_exe().context("finding luge-fuzz's own executable")?;
        let mut command = Command::new(exe);
        command.arg("--worker").arg("--cpu").arg(args.cpu.name());
        for variant in args.variants() {
            command.arg("--config").arg(variant.name());
        }
        if let Some(seed) = args.abort_on_seed {
            command.arg("--abort-on-seed").arg(seed.to_string());
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting a worker process")?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, answers) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).split(b'\n').map_while(Result::ok) {
                if sender
                    .send(String::from_utf8_lossy(&line).into_owned())
                    .is_err()
                {
                    break;
                }
            }
        });
        Ok(Worker {
            child,
            stdin,
            answers,
        })
    }

    /// Runs case `seed`; on failure the worker is gone.
    fn run(&mut self, seed: u64, timeout: Duration) -> Result<Report, String> {
        let answer = match writeln!(self.stdin, "{seed}") {
            Ok(()) => self.answers.recv_timeout(timeout),
            Err(_) => Err(RecvTimeoutError::Disconnected),
        };
        match answer {
            Ok(line) => match serde_json::from_str::<Report>(&line) {
                Ok(report) if report.seed == seed => Ok(report),
                Ok(report) => Err(format!(
                    "harness: the worker answered for case {} instead",
                    report.seed
                )),
                Err(e) => Err(format!(
                    "harness: the worker's answer {line:?} does not parse: {e}"
                )),
            },
            Err(RecvTimeoutError::Timeout) => {
                Err(format!("hang: no answer in {} s", timeout.as_secs()))
            }
            Err(RecvTimeoutError::Disconnected) => Err(format!(
                "crash: the worker {}",
                describe_exit(wait_at_most(&mut self.child, EXIT_GRACE))
            )),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn describe_exit(status: Option<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Some(s) if s.signal().is_some() => {
            format!("was killed by signal {}", s.signal().unwrap_or_default())
        }
        Some(s) => format!("exited with {s}"),
        None => "vanished".to_string(),
    }
}

/// Counts a report, and writes out what it found.
fn record(shared: &Shared, report: Report) -> Result<()> {
    let findings = &shared.args.findings;
    if shared.verbose {
        print_report(&report);
    }
    if let Some(d) = &report.reference_disagreement {
        append(
            &findings.join("reference-disagreements.txt"),
            report.seed,
            d,
        )?;
    }
    for failure in &report.reference_failures {
        append(
            &findings.join("reference-failures.txt"),
            report.seed,
            failure,
        )?;
    }
    // A reference engine that fails (panics) is a bug of its own, and
    // leaves Luge judged by one engine: a person should look.
    let mut problems: Vec<String> = report.findings.iter().map(|f| f.to_string()).collect();
    problems.extend(report.skipped.iter().map(|s| format!("harness: {s}")));
    problems.extend(
        report
            .reference_failures
            .iter()
            .map(|f| format!("reference engine: {f}")),
    );
    if !problems.is_empty() {
        write_finding(shared, report.seed, &problems)?;
    }
    let mut tally = shared.tally();
    tally.cases += 1;
    tally.calls += report.calls as u64;
    tally.findings += problems.len() as u64;
    tally.reference_disagreements += u64::from(report.reference_disagreement.is_some());
    tally.reference_failures += report.reference_failures.len() as u64;
    tally.untranslated += report.untranslated as u64;
    tally
        .divergences
        .extend(report.findings.iter().filter_map(|f| match f {
            Finding::Divergence { config, .. } => Some((report.seed, config.clone())),
            Finding::NoMajority { .. } => None,
        }));
    Ok(())
}

fn print_report(report: &Report) {
    let verdict = if report.is_clean() {
        "agree"
    } else {
        "FINDING"
    };
    println!("case {}: {} calls, {verdict}", report.seed, report.calls);
    for finding in &report.findings {
        println!("  {finding}");
    }
    let notes = report.skipped.iter().map(|s| format!("skipped: {s}"));
    let notes = notes
        .chain(
            report
                .reference_disagreement
                .iter()
                .map(|d| format!("reference engines disagree: {d}")),
        )
        .chain(
            report
                .reference_failures
                .iter()
                .map(|f| format!("reference engine failed: {f}")),
        );
    for note in notes {
        println!("  {note}");
    }
}

/// A worker that crashed or hung on `seed`.
fn incident(shared: &Shared, seed: u64, failure: &str) -> Result<()> {
    println!("case {seed}: FINDING: {failure}");
    write_finding(shared, seed, &[failure.to_string()])?;
    let mut tally = shared.tally();
    tally.cases += 1;
    tally.findings += 1;
    Ok(())
}

/// `<seed>.wasm` and `<seed>.txt` (what was found, and how to see it again).
fn write_finding(shared: &Shared, seed: u64, problems: &[String]) -> Result<()> {
    let dir = &shared.args.findings;
    let cpu = shared.args.cpu_for(seed).name();
    let configs: String = shared
        .args
        .variants()
        .iter()
        .map(|v| format!(" --config {}", v.name()))
        .collect();
    let mut text = problems.join("\n");
    text.push_str(&format!(
        "\n\nreproduce: cargo run --release -p luge-fuzz -- --seed {seed} --cpu {cpu}{configs}\n"
    ));
    let path = dir.join(format!("{seed}.txt"));
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    if let Ok(wasm) = generate::module(seed) {
        let path = dir.join(format!("{seed}.wasm"));
        std::fs::write(&path, wasm).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn append(path: &Path, seed: u64, line: &str) -> Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    writeln!(file, "seed {seed}: {line}").with_context(|| format!("writing {}", path.display()))
}

/// Minimizes the first divergences, each in a process of its own.
/// One configuration per seed: a seed that diverges in several usually
/// shows one bug.
fn minimize_all(args: &Args, divergences: &[(u64, String)]) {
    let mut seeds = std::collections::HashSet::new();
    let firsts = divergences.iter().filter(|(seed, _)| seeds.insert(*seed));
    for (seed, config) in firsts.take(MAX_MINIMIZED) {
        let (variant, cpu) = config.split_once('@').unwrap_or((config, "native"));
        let exe = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(e) => return eprintln!("luge-fuzz: cannot minimize: {e}"),
        };
        let child = Command::new(exe)
            .args([
                "--minimize",
                "--seed",
                &seed.to_string(),
                "--config",
                variant,
                "--cpu",
                cpu,
            ])
            .arg("--regressions")
            .arg(&args.regressions)
            .spawn();
        match child.map(|mut c| wait_at_most(&mut c, MINIMIZE_TIMEOUT)) {
            Ok(Some(status)) if status.success() => {}
            Ok(Some(status)) => eprintln!("luge-fuzz: minimizing case {seed} failed: {status}"),
            Ok(None) => eprintln!("luge-fuzz: minimizing case {seed} took too long; stopped"),
            Err(e) => eprintln!("luge-fuzz: cannot minimize case {seed}: {e}"),
        }
    }
}

/// The child's exit status, if it exits within `limit`; killed otherwise.
fn wait_at_most(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}
