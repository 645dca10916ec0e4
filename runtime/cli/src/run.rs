//! `luge run`: runs a WASI program in one sandbox.

use anyhow::{bail, Context, Result};
use awsm_compiler::{Arch, BoundsMode, Tier};
use luge_runtime::cache::ModuleCache;
use luge_runtime::sys::address_space;
use luge_runtime::{task_stack_size, InstanceConfig, Module};
use luge_scheduler::task::TaskOptions;
use luge_scheduler::worker::Scheduler;
use luge_wasi::{CommandReport, Ended, Input, Output, WasiCtxBuilder};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

/// Exit status when the program trapped.
pub const EXIT_TRAP: u8 = 134;
/// Exit status when the program ran past `--timeout`.
pub const EXIT_TIMEOUT: u8 = 124;
/// How long a program past its timeout gets to notice the interruption
/// before `luge run` stops waiting for it.
const TIMEOUT_GRACE: Duration = Duration::from_millis(500);

/// What `luge help` says of `luge run`.
pub const ABOUT: &str = "Run a WASI program (a .wasm or a compiled .so) in a sandbox. The exit \
                         status is the program's; a trap prints `trap: <kind>` and exits with \
                         134, a timeout exits with 124, and a failure to start exits with 1.";

/// `luge run` parsed on its own, without the other subcommands' parsers
/// (see `cli` in main.rs).
#[derive(clap::Parser)]
#[command(name = "run", bin_name = "luge run", about = ABOUT)]
pub struct RunCommand {
    #[command(flatten)]
    pub args: RunArgs,
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// The program: a .wasm (compiled on first use and cached by content
    /// hash) or a .so compiled by `luge compile`.
    module: PathBuf,
    /// Make a host directory visible to the program, as GUEST (default: the
    /// same path). Nothing outside it is reachable.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<String>,
    /// Set an environment variable for the program.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Largest linear memory the program may have, in MiB; growth beyond
    /// it fails as the spec says (memory.grow returns -1, malloc NULL).
    #[arg(long, value_name = "MIB")]
    memory_limit: Option<u64>,
    /// Wall-clock time limit in milliseconds; a program still running then
    /// is stopped (exit status 124).
    #[arg(long, value_name = "MS")]
    timeout: Option<u64>,
    /// Native stack the program may use, in KiB; deeper recursion traps
    /// with "call stack exhausted".
    #[arg(long, value_name = "KIB", default_value_t = (luge_runtime::DEFAULT_MAX_STACK >> 10) as u64)]
    stack_limit: u64,
    /// Most bytes the program may write to stdout and stderr together;
    /// writes past it fail and the run is reported as over the limit.
    #[arg(long, value_name = "BYTES")]
    output_limit: Option<u64>,
    /// Bounds-check mode used when compiling a .wasm [default: the
    /// architecture's default].
    #[arg(long)]
    bounds: Option<BoundsMode>,
    /// Spectre v1 guards when compiling a .wasm (see `luge compile
    /// --help`); `off` only for trusted code.
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = crate::on_off, action = clap::ArgAction::Set)]
    spectre: bool,
    /// Code generator when compiling a .wasm: `fast` (Cranelift) or `opt`
    /// (LLVM through clang; see `luge compile --help`).
    #[arg(long, default_value = "fast")]
    tier: Tier,
    /// Run a compiled .so only if it carries the digest `luge compile`
    /// signed it with for this user (MODULE.hmac): refuses objects changed
    /// since, or compiled elsewhere. (A .wasm is always compiled through
    /// the cache, whose objects are always checked.)
    #[arg(long)]
    require_digest: bool,
    /// Arguments passed to the program.
    #[arg(last = true)]
    args: Vec<String>,
}

fn load(args: &RunArgs) -> Result<Module> {
    let mut opts = luge_runtime::scheduled_compile_options(Arch::host());
    if let Some(bounds) = args.bounds {
        opts.bounds = bounds;
    }
    opts.spectre = args.spectre;
    opts.tier = args.tier;
    let cache = ModuleCache::new(ModuleCache::default_dir());
    Ok(cache.load_file(&args.module, &opts, args.require_digest)?)
}

fn wasi_ctx(args: &RunArgs) -> Result<WasiCtxBuilder> {
    let name = args
        .module
        .file_name()
        .map_or("main".into(), |n| n.to_string_lossy().into_owned());
    let mut builder = WasiCtxBuilder::new()
        .args(std::iter::once(name).chain(args.args.iter().cloned()))
        .stdin(Input::Inherit)
        .stdout(Output::Inherit)
        .stderr(Output::Inherit);
    for pair in &args.env {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("--env {pair}: expected KEY=VALUE");
        };
        builder = builder.env(key, value);
    }
    for dir in &args.dirs {
        let (host, guest) = dir.split_once("::").unwrap_or((dir, dir));
        builder = builder.preopen_dir(Path::new(host), guest)?;
    }
    if let Some(limit) = args.output_limit {
        builder = builder.output_limit(limit);
    }
    Ok(builder)
}

/// Runs the program in a sandbox; called on a scheduler task, whose
/// timeout interrupts the guest.
fn run_sandbox(args: &RunArgs, module: &Module) -> Result<CommandReport> {
    let wasi = wasi_ctx(args)?;
    let imports = luge_wasi::imports(module).with_context(|| args.module.display().to_string())?;
    let config = InstanceConfig {
        memory_limit_pages: args.memory_limit.map_or(u32::MAX, |mib| {
            (mib.saturating_mul(16)).min(u64::from(u32::MAX)) as u32
        }),
        memory_budget: None,
    };
    let max_stack = (args.stack_limit as usize) << 10;
    let program = luge_wasi::Program {
        module,
        imports: &imports,
    };
    Ok(luge_wasi::run_command(
        &[program],
        wasi,
        max_stack,
        &config,
        None,
    ))
}

/// Runs the program; returns the exit status for `luge`.
pub fn run(args: RunArgs) -> Result<u8> {
    let module = load(&args)?;
    // The process ends with the program (`luge run` runs one): unloading
    // its code first (`dlclose`, unmapping it, unregistering its trap
    // sites) would only delay the exit, by about 40 µs.
    std::mem::forget(module.clone());
    if let Some(advice) = address_space::advice_for(module.descriptor().bounds) {
        eprintln!("luge: note: {}: {advice}", args.module.display());
    }
    let args = Arc::new(args);
    if let Some(timeout) = args.timeout {
        watch_for_stuck_program(&args, Duration::from_millis(timeout));
    }
    // `luge run` goes through the scheduler like every sandbox does: one
    // task on its own stack, and the scheduler's timeout. This thread is
    // its worker.
    let (report_tx, report_rx) = mpsc::channel();
    let task_args = args.clone();
    let options = TaskOptions {
        timeout: args.timeout.map(Duration::from_millis),
        ..TaskOptions::default()
    };
    let stack_size = task_stack_size((args.stack_limit as usize) << 10);
    Scheduler::run_alone(stack_size, options, move || {
        let report = run_sandbox(&task_args, &module).map_err(|e| format!("{e:#}"));
        let _ = report_tx.send(report);
    });
    let report = report_rx
        .recv()
        .map_err(|_| anyhow::anyhow!("the sandbox ended without a report"))?;
    let report = report.map_err(anyhow::Error::msg)?;
    let status = match report.outcome {
        Ok(()) => 0,
        Err(Ended::Exit(code)) => code as u8,
        Err(Ended::TimedOut) => return Ok(timeout_exit(&args)),
        // Reported below.
        Err(Ended::OutputLimit) => 1,
        Err(ended @ (Ended::Trap(_) | Ended::HostPanic(_))) => {
            eprintln!("{ended}");
            EXIT_TRAP
        }
        Err(Ended::Failed(e)) => bail!("{}: {e}", args.module.display()),
    };
    if status != 0 && report.memory_refused {
        eprintln!(
            "luge: memory limit: the program asked for more than {} MiB",
            args.memory_limit.unwrap_or(4096)
        );
    }
    if report.output_limit_hit {
        eprintln!(
            "luge: output limit: the program wrote more than {} bytes",
            args.output_limit.unwrap_or(0)
        );
        return Ok(if status == 0 { 1 } else { status });
    }
    Ok(status)
}

/// Ends the process if the program is still running `TIMEOUT_GRACE` after
/// its timeout: stuck where no interruption reaches (a host call that
/// cannot park, or code compiled without interruption checks), on this
/// thread, which is its worker.
fn watch_for_stuck_program(args: &Arc<RunArgs>, timeout: Duration) {
    let args = args.clone();
    std::thread::Builder::new()
        .name("luge-watchdog".into())
        .spawn(move || {
            std::thread::sleep(timeout + TIMEOUT_GRACE);
            // What the program wrote is out already: WASI's stdout is
            // flushed on every write.
            crate::process::exit_now(EXIT_TIMEOUT, &format!("{}\n", timed_out_message(&args)));
        })
        .map(drop)
        .unwrap_or_else(|e| eprintln!("luge: cannot start the timeout's watchdog: {e}"));
}

/// Reports a program stopped by its timeout.
fn timeout_exit(args: &RunArgs) -> u8 {
    eprintln!("{}", timed_out_message(args));
    EXIT_TIMEOUT
}

fn timed_out_message(args: &RunArgs) -> String {
    format!(
        "luge: timeout: stopped after {} ms",
        args.timeout.unwrap_or(0)
    )
}
