//! Running clang on the opt tier's IR.

use crate::budget::Spending;
use crate::error::CompileError;
use crate::link::wait_until;
use crate::OptLevel;
use luge_abi::Arch;
use std::io::{Read, Seek};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Clangs tried in order when `LUGE_CLANG` is not set: the newest first;
/// 16 is the oldest that reads the IR this tier writes (opaque pointers,
/// `llvm.roundeven`).
const CANDIDATES: [&str; 5] = ["clang-19", "clang-18", "clang-17", "clang-16", "clang"];

/// How long clang may take when the compile has no time budget: an hour
/// is far past any module within the size limit, and still ends a hang.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);

/// The clang to run: `$LUGE_CLANG`, else the first of [`CANDIDATES`] on
/// the `PATH`.
pub(crate) fn find() -> Result<String, CompileError> {
    if let Ok(program) = std::env::var("LUGE_CLANG") {
        // Looked up here rather than left to the spawn: under qemu-user a
        // missing program shows only as a child exiting with 127.
        let found = if program.contains('/') {
            std::path::Path::new(&program).is_file()
        } else {
            crate::link::on_path(&program)
        };
        if !found {
            return Err(CompileError::Target(format!(
                "LUGE_CLANG={program}: no such program; point LUGE_CLANG at clang 16 or \
                 later, or unset it to search the PATH for clang-19 to clang-16 and clang"
            )));
        }
        return Ok(program);
    }
    CANDIDATES
        .into_iter()
        .find(|c| crate::link::on_path(c))
        .map(str::to_owned)
        .ok_or_else(|| {
            CompileError::Target(
                "the opt tier needs clang (LLVM 16 or later) and none is on the PATH: install \
                 clang-16 (Debian) or set LUGE_CLANG; the fast tier needs neither"
                    .into(),
            )
        })
}

/// Compiles `ir` for `arch` into a relocatable object, at -O2 (-O0 for
/// `--opt none`), within what is left of `budget`.
pub(crate) fn compile(
    ir: &str,
    arch: Arch,
    opt: OptLevel,
    budget: &Spending,
) -> Result<Vec<u8>, CompileError> {
    let program = find()?;
    let io = |what: &str, e: std::io::Error| CompileError::Link(format!("{what}: {e}"));
    let dir = tempfile::tempdir().map_err(|e| io("creating a temporary directory", e))?;
    let input = dir.path().join("module.ll");
    let output = dir.path().join("module.o");
    std::fs::write(&input, ir).map_err(|e| io("writing the IR", e))?;
    // A file rather than a pipe: an error report longer than a pipe holds
    // would otherwise block clang until the timeout.
    let mut stderr = tempfile::tempfile().map_err(|e| io("creating a temporary file", e))?;
    let mut child = Command::new(&program)
        .args(["-x", "ir", "-c", "-fPIC", "-w"])
        .arg(match opt {
            OptLevel::None => "-O0",
            OptLevel::Speed => "-O2",
        })
        .arg(format!("--target={}-unknown-linux-gnu", arch.name()))
        .arg("-o")
        .arg(&output)
        .arg(&input)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(
            stderr
                .try_clone()
                .map_err(|e| io("duplicating a file", e))?,
        )
        .spawn()
        .map_err(|e| {
            io(
                &format!("running `{program}` (set LUGE_CLANG to choose another)"),
                e,
            )
        })?;
    let timeout = budget.time_left().unwrap_or(DEFAULT_TIMEOUT);
    let status = wait_until(&mut child, Instant::now() + timeout)
        .map_err(|e| io(&format!("waiting for `{program}`"), e))?;
    let Some(status) = status else {
        budget.check_time()?;
        return Err(CompileError::Optimizer(format!(
            "`{program}` did not finish within {} s",
            timeout.as_secs()
        )));
    };
    if !status.success() {
        let mut text = String::new();
        stderr
            .rewind()
            .and_then(|_| stderr.read_to_string(&mut text))
            .map_err(|e| io("reading clang's errors", e))?;
        let first = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        // A bug in the translator, not in the module: name what failed.
        return Err(CompileError::Optimizer(format!(
            "`{program}` refused the IR ({status}): {first}"
        )));
    }
    std::fs::read(&output).map_err(|e| io("reading clang's object", e))
}
