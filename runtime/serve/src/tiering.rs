//! Tiered execution (`"tier": "auto"`, the default): a function answers
//! its first requests with the fast tier's code (Cranelift), while a
//! background thread compiles its module again with the opt tier (LLVM,
//! through clang). Once that code has loaded, new calls start on it, in
//! one step ([`Function::switch_to`]); calls in flight finish on the code
//! they started with, which is unloaded when the last of them ends. A
//! failed opt compile leaves the fast tier serving, and says why.
//!
//! One thread compiles, one function at a time, at a lowered priority and
//! within [`TIER_UP_BUDGET`]: tiering up never takes more than one core
//! from the functions being served, yields that one to them, and one
//! module cannot hold it for long. A queued job names its function only;
//! the `.wasm` stays with the function ([`Function::take_tier_up_source`]),
//! so a function replaced before its turn takes its source with it.

use crate::function::Function;
use crate::metrics::{Metrics, TierUpResult};
use awsm_compiler::{CompileBudget, CompileError};
use luge_runtime::cache::{CacheError, ModuleCache};
use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// How much the compile thread's priority is lowered (a nice value).
const COMPILE_NICENESS: i32 = 10;

/// What one opt-tier build may take: clang at -O2 needs seconds for
/// ordinary modules and a few minutes for the largest the size limit
/// allows; a module that takes longer stays on the fast tier rather than
/// hold up every other function's build.
const TIER_UP_BUDGET: CompileBudget = CompileBudget {
    time: Some(Duration::from_secs(300)),
    code_bytes: None,
};

/// Where functions are tiered up; see the module documentation.
pub struct Tiering {
    /// `None` when the opt tier is unavailable, or tiering is off.
    jobs: Option<Mutex<mpsc::Sender<Job>>>,
    metrics: Arc<Metrics>,
}

/// One function to build with the opt tier.
struct Job {
    function: Weak<Function>,
    /// When the function was first served.
    served_since: Instant,
}

impl Tiering {
    /// Tiering through `cache` (where the opt tier's objects are kept, so
    /// that a restart loads them), counted in `metrics`. Without the opt
    /// tier on this machine (no clang), says so on stderr if `talk`, and
    /// every function stays on the fast tier.
    pub fn start(cache: ModuleCache, metrics: Arc<Metrics>, talk: bool) -> Tiering {
        if let Err(e) = awsm_compiler::opt_tier_available() {
            if talk {
                eprintln!("luge: note: functions run the fast tier's code only: {e}");
            }
            return Tiering::off(metrics);
        }
        let (tx, rx) = mpsc::channel();
        let thread_metrics = metrics.clone();
        let spawned = std::thread::Builder::new()
            .name("luge-tier-up".into())
            .spawn(move || compile_jobs(rx, cache, thread_metrics, talk));
        match spawned {
            Ok(_) => Tiering {
                jobs: Some(Mutex::new(tx)),
                metrics,
            },
            Err(e) => {
                eprintln!("luge: cannot start the opt tier's compile thread ({e}); functions run the fast tier's code only");
                Tiering::off(metrics)
            }
        }
    }

    /// No tiering: every function runs the code it was loaded with.
    pub fn off(metrics: Arc<Metrics>) -> Tiering {
        Tiering {
            jobs: None,
            metrics,
        }
    }

    /// `function` is served as `name` from now on: reports its tier, and
    /// queues its opt-tier build if it wants one.
    pub fn serving(&self, name: &str, function: &Arc<Function>) {
        self.metrics.function_served(name, function);
        let Some(jobs) = &self.jobs else {
            // Nothing will build it: the source need not be kept.
            drop(function.take_tier_up_source());
            return;
        };
        if !function.has_tier_up_source() {
            return;
        }
        let job = Job {
            function: Arc::downgrade(function),
            served_since: Instant::now(),
        };
        if jobs.lock().unwrap().send(job).is_err() {
            // The thread is gone (it only ends with the process).
            self.metrics.tier_up(TierUpResult::Failed);
        }
    }

    /// `name` is no longer served.
    pub fn stopped(&self, name: &str) {
        self.metrics.function_gone(name);
    }
}

/// The compile thread: builds each job's function with the opt tier and
/// switches it over.
fn compile_jobs(jobs: mpsc::Receiver<Job>, cache: ModuleCache, metrics: Arc<Metrics>, talk: bool) {
    // On Linux the nice value is the calling thread's alone; clang, run
    // from here, inherits it.
    let _ = rustix::process::setpriority_process(None, COMPILE_NICENESS);
    for job in jobs {
        // A panic in Luge's own code costs this function its tier-up, not
        // the thread the others wait on.
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| job.run(&cache, talk)))
            .unwrap_or(Some(TierUpResult::Failed));
        if let Some(result) = result {
            metrics.tier_up(result);
        }
    }
}

impl Job {
    /// Builds and switches the function; `None` when it is no longer
    /// served, so there was nothing to do.
    fn run(self, cache: &ModuleCache, talk: bool) -> Option<TierUpResult> {
        let function = self.function.upgrade()?;
        if function.is_retiring() {
            return None;
        }
        let wasm = function.take_tier_up_source()?;
        let started = Instant::now();
        let built =
            cache.load_or_compile_within(&wasm, &function.opt_compile_options(), TIER_UP_BUDGET);
        drop(wasm);
        let name = &function.name;
        let module = match built {
            Ok((module, _)) => module,
            Err(e) => {
                let result = match e {
                    CacheError::Compile(CompileError::NotInOptTier { .. }) => {
                        TierUpResult::Unsupported
                    }
                    _ => TierUpResult::Failed,
                };
                if talk {
                    eprintln!(
                        "luge: {name} stays on the fast tier: its opt-tier build failed: {e}"
                    );
                }
                return Some(result);
            }
        };
        // Replaced or removed while it was built: nothing to switch.
        if function.is_retiring() {
            return None;
        }
        match function.switch_to(module, self.served_since.elapsed()) {
            Ok(()) => {
                if talk {
                    eprintln!(
                        "luge: {name} runs the opt tier's code from now on (built in {:.0?}, {:.0?} after it was first served)",
                        started.elapsed(),
                        self.served_since.elapsed()
                    );
                }
                Some(TierUpResult::Switched)
            }
            Err(e) => {
                if talk {
                    eprintln!(
                        "luge: {name} stays on the fast tier: its opt-tier code did not load: {e}"
                    );
                }
                Some(TierUpResult::Failed)
            }
        }
    }
}
