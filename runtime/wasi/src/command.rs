//! Running a WASI command — a module whose entry point is `_start` — once,
//! in a sandbox of its own: what `luge run` does for one program and `luge
//! serve` for every request.

use crate::{output_limit_hit, WasiCtxBuilder};
use luge_abi::TrapKind;
use luge_runtime::lifecycle::{self, SandboxState};
use luge_runtime::{
    CallError, Extern, Instance, InstanceConfig, InstantiationError, MemoryError, Module, Store,
};
use luge_scheduler::lifecycle::{Counts, Lifecycle};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a command ended other than by returning from `_start` (or calling
/// `proc_exit(0)`, which counts as returning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// `proc_exit` with a non-zero status.
    Exit(i32),
    Trap(TrapKind),
    /// A host function it called panicked (a bug in Luge, contained to
    /// this sandbox), with the panic's message.
    HostPanic(String),
    /// Its scheduler task's timeout interrupted it.
    TimedOut,
    /// It was stopped for writing past its output limit.
    OutputLimit,
    /// It could not start: a missing import, no `_start`, no memory.
    Failed(String),
}

impl Ended {
    /// The sandbox state this ending puts it in.
    fn state(&self) -> SandboxState {
        match self {
            Ended::Exit(_) => SandboxState::Exited,
            Ended::Trap(_) | Ended::HostPanic(_) => SandboxState::Trapped,
            Ended::TimedOut => SandboxState::TimedOut,
            Ended::OutputLimit => SandboxState::Trapped,
            Ended::Failed(_) => SandboxState::Failed,
        }
    }
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Exit(code) => write!(f, "exited with status {code}"),
            Ended::Trap(kind) => write!(f, "trap: {kind}"),
            Ended::HostPanic(message) => write!(f, "trap: host function panicked: {message}"),
            Ended::TimedOut => write!(f, "timed out"),
            Ended::OutputLimit => write!(f, "stopped for writing past its output limit"),
            Ended::Failed(reason) => write!(f, "failed to start: {reason}"),
        }
    }
}

impl From<CallError> for Ended {
    fn from(e: CallError) -> Ended {
        match e {
            CallError::Trap(kind) => Ended::Trap(kind),
            CallError::Exit(code) => Ended::Exit(code),
            CallError::HostPanic(message) => Ended::HostPanic(message),
            other => Ended::Failed(other.to_string()),
        }
    }
}

impl From<InstantiationError> for Ended {
    fn from(e: InstantiationError) -> Ended {
        match e {
            InstantiationError::Trap(kind) => Ended::Trap(kind),
            InstantiationError::Exit(code) => Ended::Exit(code),
            InstantiationError::HostPanic(message) => Ended::HostPanic(message),
            other => Ended::Failed(other.to_string()),
        }
    }
}

/// What happened to one run of a command.
#[derive(Debug)]
pub struct CommandReport {
    pub outcome: Result<(), Ended>,
    /// A memory refused to grow past its limit at some point.
    pub memory_refused: bool,
    /// The memory budget (`InstanceConfig::memory_budget`) refused the
    /// sandbox's memory, when it was created or when it grew.
    pub memory_budget_hit: bool,
    /// The process had no address space left to reserve the sandbox's
    /// memory (too many sandboxes at once, or a limit such as
    /// `RLIMIT_AS`) for any of the code it was given: the sandbox never
    /// started.
    pub address_space_exhausted: bool,
    /// Which of the code given to [`run_command`] the sandbox ran (or was
    /// last tried) on: 0 unless the ones before had no address space.
    pub ran_on: usize,
    /// The command wrote more than its output limit.
    pub output_limit_hit: bool,
    /// Creating the sandbox: memory, tables, data and element segments.
    pub instantiate_time: Duration,
    /// Running `_start`.
    pub run_time: Duration,
}

/// A program to run: its module and the imports resolved for it by
/// [`crate::imports`] (callers that run a module many times resolve them
/// once).
#[derive(Clone, Copy)]
pub struct Program<'a> {
    pub module: &'a Module,
    pub imports: &'a [Extern],
}

/// Runs a program's `_start` once in a new sandbox with the WASI context
/// `wasi`, a native stack limit of `max_stack` bytes and `config`'s limits.
/// `code` is the program, then, optionally, the same program compiled
/// otherwise to run instead when the process has no address space for the
/// first one's memory (`luge serve` gives guard-mode code a software-mode
/// build, which reserves far less: docs/serve.md, "Address space"). On a
/// scheduler task, the task's timeout interrupts the guest. The sandbox's
/// life cycle is counted in `counts` (its route's, in `luge serve`).
pub fn run_command(
    code: &[Program<'_>],
    wasi: WasiCtxBuilder,
    max_stack: usize,
    config: &InstanceConfig,
    counts: Option<Arc<Counts<SandboxState>>>,
) -> CommandReport {
    assert!(!code.is_empty(), "run_command needs a program");
    let mut lifecycle = lifecycle::new_sandbox(counts);
    let store = wasi.build().store(max_stack);
    store.interrupt_on_task_timeout();
    let started = Instant::now();
    let (ran_on, instance) = instantiate_first_that_fits(code, &store, config);
    let instantiate_time = started.elapsed();
    let budget_refused_start = matches!(
        instance,
        Err(InstantiationError::Memory(MemoryError::OverBudget { .. }))
    );
    let address_space_exhausted = matches!(&instance, Err(e) if no_address_space(e));
    let outcome = instance.map_err(Ended::from).and_then(|instance| {
        advance(&mut lifecycle, SandboxState::Running);
        call_start(&instance)
    });
    // An interruption is the timeout's when the task timed out, the output
    // limit's when that was hit; otherwise the embedder's, a trap like any
    // other.
    let outcome = match outcome {
        Err(Ended::Trap(TrapKind::Interrupted)) if luge_scheduler::task::timed_out() => {
            Err(Ended::TimedOut)
        }
        Err(Ended::Trap(TrapKind::Interrupted)) if output_limit_hit(&store) => {
            Err(Ended::OutputLimit)
        }
        other => other,
    };
    advance(
        &mut lifecycle,
        outcome
            .as_ref()
            .map_or_else(Ended::state, |()| SandboxState::Returned),
    );
    let memories = store.instances();
    let memories = || memories.iter().filter_map(Instance::memory);
    let memory_refused = memories().any(|m| m.growth_refused());
    let memory_budget_hit = budget_refused_start || memories().any(|m| m.budget_refused());
    CommandReport {
        outcome,
        memory_refused,
        memory_budget_hit,
        address_space_exhausted,
        ran_on,
        output_limit_hit: output_limit_hit(&store),
        instantiate_time,
        run_time: started.elapsed() - instantiate_time,
    }
}

/// An instance of the first of `code` whose memory the process has address
/// space for (else the error of the last), with its index.
fn instantiate_first_that_fits(
    code: &[Program<'_>],
    store: &Store,
    config: &InstanceConfig,
) -> (usize, Result<Instance, InstantiationError>) {
    let mut tried = code.iter().enumerate();
    loop {
        let (i, program) = tried.next().expect("run_command checked for a program");
        let instance = Instance::new(program.module, store, program.imports, config);
        match instance {
            Err(e) if no_address_space(&e) && i + 1 < code.len() => continue,
            instance => return (i, instance),
        }
    }
}

/// Whether `error` says the process had no address space for the memory.
fn no_address_space(error: &InstantiationError) -> bool {
    matches!(
        error,
        InstantiationError::Memory(MemoryError::Reserve { .. })
    )
}

/// Moves the sandbox's life cycle on; a move the table refuses is a bug
/// here, caught in debug builds by the life cycle itself.
fn advance(lifecycle: &mut Lifecycle<SandboxState>, next: SandboxState) {
    let _ = lifecycle.transition(next);
}

fn call_start(instance: &Instance) -> Result<(), Ended> {
    let start = instance
        .get_func("_start")
        .ok_or_else(|| Ended::Failed("the module exports no `_start` function".into()))?;
    match start.call(&[]) {
        Ok(_) | Err(CallError::Exit(0)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
