//! `luge`: the command-line front end of the Luge runtime.

// The process starts at `process::main`, not through std's start-up.
#![no_main]

use anyhow::{Context, Result};
use awsm_compiler::{Arch, BoundsMode, CpuLevel, OptLevel, Tier};
use clap::{Parser, Subcommand};
use luge_runtime::cache::ModuleCache;
use luge_runtime::read_descriptor;
use std::path::PathBuf;

mod container;
mod process;
mod run;
mod serve;

#[derive(Parser)]
#[command(
    name = "luge",
    version,
    about = "A serverless WebAssembly runtime for edge hardware",
    long_about = "Luge compiles WebAssembly modules ahead of time into native shared objects \
                  and runs each request in its own lightweight sandbox."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile a .wasm module into a native shared object (.so), and its
    /// digest (OUTPUT.hmac, keyed with this user's secret in the module
    /// cache directory) beside it.
    Compile {
        /// The WebAssembly module to compile.
        input: PathBuf,
        /// Where to write the shared object [default: INPUT with .so appended].
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// How memory accesses are kept in bounds: `guard` (reserved address
        /// space and guard pages, no checks in code) or `software` (explicit
        /// checks) [default: guard on x86_64, software on aarch64].
        #[arg(long)]
        bounds: Option<BoundsMode>,
        /// Architecture to generate code for [default: this machine's].
        #[arg(long)]
        target: Option<Arch>,
        /// Optimization level: `none` or `speed`.
        #[arg(long, default_value = "speed")]
        opt: OptLevel,
        /// Which x86_64 CPUs the code must run on: `baseline` (SSE2, any
        /// x86_64), `v2` (x86-64-v2: SSE4.2 and POPCNT), `v3` (x86-64-v3:
        /// AVX2, FMA, BMI) or `native` (this machine's). The runtime refuses
        /// to load code whose CPU features its host lacks. Ignored on
        /// aarch64, where NEON is always present.
        #[arg(long, default_value = "v2")]
        cpu: CpuLevel,
        /// Put an interruption check at every loop header and function entry.
        /// On x86_64 the default is without: Luge stops and preempts guests
        /// there with a signal, at no cost to compiled code. On aarch64 the
        /// checks are the default and the only way to stop a guest.
        #[arg(long, conflicts_with = "no_interrupt_checks")]
        interrupt_checks: bool,
        /// Leave the interruption checks out (on aarch64 such code cannot be
        /// preempted or timed out).
        #[arg(long)]
        no_interrupt_checks: bool,
        /// Spectre v1 guards on the bounds checks in code (memory accesses
        /// with `software` bounds, table accesses always). `off` only for
        /// trusted code: it saves a few percent where memory is checked in
        /// software (docs/polybench.md).
        #[arg(long, value_name = "on|off", default_value = "on", value_parser = on_off, action = clap::ArgAction::Set)]
        spectre: bool,
        /// Which code generator compiles the module: `fast` (Cranelift, in
        /// process, milliseconds) or `opt` (LLVM through clang 16 or later,
        /// found on the PATH or as LUGE_CLANG: slower to compile, faster
        /// code; see docs/opt-tier.md for what it does not translate yet).
        #[arg(long, default_value = "fast")]
        tier: Tier,
    },
    #[command(about = run::ABOUT)]
    Run(run::RunArgs),
    /// Serve functions over HTTP: each request on a route runs in a fresh sandbox (its body is stdin, its stdout the response). Without a config, serves the bundled examples on 127.0.0.1:8080
    Serve(serve::ServeArgs),
    /// Run the OpenWhisk action container: POST /init takes the action (a
    /// .wasm, or a zip holding one, base64), POST /run runs it with the
    /// parameters on stdin and answers the last line of its stdout. The
    /// action's other output goes to this process's stdout and stderr,
    /// which carry nothing else. See docs/openwhisk.md
    Container(container::ContainerArgs),
    /// Print the descriptor of a compiled module: ABI version, memory
    /// limits, imports, exports and sizes.
    Inspect {
        /// The shared object to inspect.
        module: PathBuf,
    },
}

/// What `luge compile` was asked for, beyond its input and output.
struct CompileFlags {
    bounds: Option<BoundsMode>,
    target: Option<Arch>,
    opt: OptLevel,
    cpu: CpuLevel,
    interrupt_checks: Option<bool>,
    spectre: bool,
    tier: Tier,
}

/// `on` or `off`, for switches given a value.
fn on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("expected `on` or `off`, found `{other}`")),
    }
}

fn compile(input: PathBuf, output: Option<PathBuf>, flags: CompileFlags) -> Result<()> {
    let CompileFlags {
        bounds,
        target,
        opt,
        cpu,
        interrupt_checks,
        spectre,
        tier,
    } = flags;
    let wasm = awsm_compiler::read_module(&input)?;
    let mut opts = luge_runtime::scheduled_compile_options(target.unwrap_or_else(Arch::host));
    if let Some(bounds) = bounds {
        opts.bounds = bounds;
    }
    opts.opt = opt;
    opts.cpu = cpu;
    opts.spectre = spectre;
    opts.tier = tier;
    if let Some(checks) = interrupt_checks {
        opts.interrupt_checks = checks;
    }
    let output = output.unwrap_or_else(|| {
        let mut name = input.clone().into_os_string();
        name.push(".so");
        name.into()
    });
    // Signed with this user's key, so that `luge run --require-digest`
    // accepts the object and nothing changed after it.
    let cache = ModuleCache::new(ModuleCache::default_dir());
    let in_input = || format!("{}", input.display());
    match cache.key() {
        Ok(key) => {
            let budget = awsm_compiler::CompileBudget::default();
            let label = luge_runtime::digest::COMPILED_LABEL;
            luge_runtime::cache::compile_signed(&wasm, &opts, budget, &output, key, label)
                .with_context(in_input)?;
        }
        Err(e) => {
            awsm_compiler::compile_to_file(&wasm, &opts, &output).with_context(in_input)?;
            eprintln!(
                "luge: warning: {} is not signed ({e}); `luge run --require-digest` will refuse it",
                output.display()
            );
        }
    }
    Ok(())
}

fn inspect(path: PathBuf) -> Result<()> {
    let d = &read_descriptor(&path)?;
    println!("module:      {}", path.display());
    println!("abi version: {}", luge_abi::ABI_VERSION);
    println!("compiler:    awsm-compiler {}", d.compiler);
    println!("target:      {}", d.arch.name());
    println!("tier:        {}", d.tier.name());
    println!("bounds:      {}", d.bounds.name());
    println!(
        "interrupt checks: {}",
        if d.interrupt_checks { "yes" } else { "no" }
    );
    let features: Vec<_> = d.cpu_features.iter().map(|f| f.name()).collect();
    println!(
        "cpu features: {}",
        if features.is_empty() {
            "none beyond the architecture's baseline".to_string()
        } else {
            features.join(", ")
        }
    );
    let code: u64 = d.code.iter().map(|c| u64::from(c.size)).sum();
    let data: usize = d.data.iter().map(|s| s.bytes.len()).sum();
    println!(
        "sizes:       wasm {} bytes, machine code {} bytes, data segments {} bytes",
        d.wasm_size, code, data
    );
    match d.memory {
        Some(m) => println!(
            "memory:      min {} pages, max {}{}",
            m.min,
            m.max.map_or("none".to_string(), |m| format!("{m} pages")),
            if d.memory_imported() {
                " (imported)"
            } else {
                ""
            }
        ),
        None => println!("memory:      none"),
    }
    println!(
        "functions:   {} ({} imported), types {}, tables {}, globals {}",
        d.funcs.len(),
        d.counts().imported_funcs,
        d.types.len(),
        d.tables.len(),
        d.globals.len()
    );
    println!("imports:     {}", d.imports.len());
    for import in &d.imports {
        let what = match &import.kind {
            luge_abi::ImportKind::Func(t) => format!("func {}", d.types[*t as usize]),
            luge_abi::ImportKind::Memory(m) => format!("memory {} pages", m.min),
            luge_abi::ImportKind::Table(t) => format!("table {} x {}", t.min, t.elem),
            luge_abi::ImportKind::Global(g) => {
                format!("global {}{}", if g.mutable { "mut " } else { "" }, g.ty)
            }
        };
        println!("  {}::{}: {what}", import.module, import.name);
    }
    println!("exports:     {}", d.exports.len());
    for export in &d.exports {
        let what = match export.kind {
            luge_abi::ExternKind::Func => {
                format!("func {}", d.types[d.funcs[export.index as usize] as usize])
            }
            kind => format!("{kind} {}", export.index),
        };
        println!("  {}: {what}", export.name);
    }
    if let Some(start) = d.start {
        println!("start:       function {start}");
    }
    Ok(())
}

/// Runs the command line; returns the process's exit status.
fn cli() -> u8 {
    // `luge run` is timed against the native program (docs/benchmarks.md,
    // "Start-up of `luge run`"), and building the parsers of every other
    // subcommand cost it about 40 µs: its arguments go to a parser of `run`
    // alone, which answers with the same help and errors.
    let command = if std::env::args_os().nth(1).is_some_and(|a| a == "run") {
        Command::Run(run::RunCommand::parse_from(std::env::args_os().skip(1)).args)
    } else {
        Cli::parse().command
    };
    let result = match command {
        Command::Run(args) => run::run(args),
        Command::Serve(args) => serve::serve(args).map(|()| 0),
        Command::Container(args) => container::container(args).map(|()| 0),
        Command::Compile {
            input,
            output,
            bounds,
            target,
            opt,
            cpu,
            interrupt_checks,
            no_interrupt_checks,
            spectre,
            tier,
        } => {
            let checks = (interrupt_checks || no_interrupt_checks).then_some(interrupt_checks);
            let flags = CompileFlags {
                bounds,
                target,
                opt,
                cpu,
                interrupt_checks: checks,
                spectre,
                tier,
            };
            compile(input, output, flags)
        }
        .map(|()| 0),
        Command::Inspect { module } => inspect(module).map(|()| 0),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("luge: {e:#}");
            1
        }
    }
}
