//! Turns the relocatable object into an ELF shared object with a system
//! linker. The object has no undefined symbols, so no libraries are linked.

use crate::error::CompileError;
use luge_abi::Arch;
use std::io::{Read, Seek};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long one linker run may take before it is taken for hung: linking
/// even a large module takes well under a second.
const LINK_TIMEOUT: Duration = Duration::from_secs(60);
/// Runs of the linker before a hang is an error. A hung run is killed and
/// started again once: under qemu-user (the aarch64 tests in CI) a forked
/// child can deadlock inside the emulator before it reaches `exec`, which
/// a second fork does not repeat.
const LINK_ATTEMPTS: usize = 2;

/// How a linker is invoked: through a C compiler driver, or directly.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Linker {
    /// `cc`-style driver: flags for the linker go through `-Wl,`.
    Driver(String),
    /// `ld.lld`-style linker.
    Direct(String),
}

impl Linker {
    fn program(&self) -> &str {
        match self {
            Linker::Driver(p) | Linker::Direct(p) => p,
        }
    }

    fn command(&self, objects: &[&Path], out: &Path) -> Command {
        let mut cmd = Command::new(self.program());
        match self {
            Linker::Driver(_) => {
                cmd.args([
                    "-shared",
                    "-nostdlib",
                    "-Wl,-z,noexecstack",
                    "-Wl,--hash-style=gnu",
                ]);
            }
            Linker::Direct(_) => {
                cmd.args(["-shared", "-z", "noexecstack", "--hash-style=gnu"]);
            }
        }
        cmd.arg("-o").arg(out).args(objects);
        cmd
    }
}

pub(crate) fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// The linker for `arch`, and how to choose another (for the message when
/// it cannot be started). For the host's own architecture: `$LUGE_LINKER`
/// if set (a `cc`-style driver unless it is named as a linker: `ld`,
/// `ld.lld`, `aarch64-linux-gnu-ld`), else the
/// system's `ld` (binutils, there wherever a C toolchain is), else `cc`.
/// `ld` itself rather than through `cc`: the object needs no C runtime,
/// and the driver's own start-up cost a third of a small module's whole
/// compile (about 3.5 ms of 10, docs/benchmarks.md).
/// For another architecture: LLVM's `ld.lld` (which links any target) or the
/// Debian cross compiler. `$LUGE_LINKER` names a linker for the code this
/// machine runs, so it is not applied to another target: under qemu-user the
/// emulated host's linker is a cross gcc that cannot link x86_64 objects.
fn linker(arch: Arch) -> Result<(Linker, &'static str), CompileError> {
    if arch == Arch::host() {
        const HINT: &str = " (set LUGE_LINKER to choose another)";
        let Ok(program) = std::env::var("LUGE_LINKER") else {
            let linker = if on_path("ld") {
                Linker::Direct("ld".into())
            } else {
                Linker::Driver("cc".into())
            };
            return Ok((linker, HINT));
        };
        let name = Path::new(&program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // `ld`, `ld.lld`, `ld.bfd`, and binutils' cross linkers such as
        // `aarch64-linux-gnu-ld`.
        let direct = name.starts_with("ld") || name.ends_with("-ld") || name.contains("-ld.");
        let linker = if direct {
            Linker::Direct(program)
        } else {
            Linker::Driver(program)
        };
        return Ok((linker, HINT));
    }
    let cross_gcc = format!("{}-linux-gnu-gcc", arch.name());
    ["ld.lld", "ld.lld-16"]
        .into_iter()
        .find(|p| on_path(p))
        .map(|p| (Linker::Direct(p.into()), ""))
        .or_else(|| on_path(&cross_gcc).then(|| (Linker::Driver(cross_gcc.clone()), "")))
        .ok_or_else(|| {
            CompileError::Link(format!(
                "no linker for {}: install ld.lld (Debian: lld-16) or {cross_gcc}",
                arch.name()
            ))
        })
}

/// Links the relocatable `objects` into the shared object `out`.
pub fn link_shared_object(objects: &[Vec<u8>], arch: Arch, out: &Path) -> Result<(), CompileError> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let io = |what: &str, e: std::io::Error| CompileError::Link(format!("{what}: {e}"));
    let temp = |suffix: &str| {
        tempfile::Builder::new()
            .prefix(".luge-")
            .suffix(suffix)
            .tempfile_in(dir)
            .map_err(|e| {
                io(
                    &format!("creating a temporary file in {}", dir.display()),
                    e,
                )
            })
    };
    let mut files = Vec::with_capacity(objects.len());
    for object in objects {
        let file = temp(".o")?;
        std::fs::write(file.path(), object).map_err(|e| io("writing the object file", e))?;
        files.push(file);
    }
    let paths: Vec<&Path> = files.iter().map(|f| f.path()).collect();
    let so = temp(".so")?;
    let (linker, hint) = linker(arch)?;
    let (status, stderr) = run_linker(&linker, &paths, so.path(), LINK_TIMEOUT)
        .map_err(|e| io(&format!("running linker `{}`{hint}", linker.program()), e))?;
    match status {
        Some(status) if status.success() => {}
        Some(_) => {
            return Err(CompileError::Link(format!(
                "`{}` failed: {}",
                linker.program(),
                stderr.lines().next().unwrap_or("no output")
            )))
        }
        None => {
            return Err(CompileError::Link(format!(
                "`{}` did not finish within {} s, {LINK_ATTEMPTS} times",
                linker.program(),
                LINK_TIMEOUT.as_secs()
            )))
        }
    }
    // Renaming a finished file into place keeps a half-written object from
    // ever appearing at `out`.
    so.persist(out)
        .map_err(|e| io(&format!("writing {}", out.display()), e.error))?;
    Ok(())
}

/// Runs the linker up to [`LINK_ATTEMPTS`] times until one run finishes
/// within `timeout`: its exit status and what it wrote to stderr, or no
/// status when every run hung.
fn run_linker(
    linker: &Linker,
    objects: &[&Path],
    out: &Path,
    timeout: Duration,
) -> std::io::Result<(Option<ExitStatus>, String)> {
    for _ in 0..LINK_ATTEMPTS {
        // A file rather than a pipe: a linker with more to say than a pipe
        // holds would otherwise block until the timeout.
        let mut stderr = tempfile::tempfile()?;
        let mut child = linker
            .command(objects, out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr.try_clone()?)
            .spawn()?;
        if let Some(status) = wait_until(&mut child, Instant::now() + timeout)? {
            let mut text = String::new();
            stderr.rewind()?;
            stderr.read_to_string(&mut text)?;
            return Ok((Some(status), text));
        }
    }
    Ok((None, String::new()))
}

/// Waits for `child` to exit until `deadline`, then kills it. Polls, with
/// pauses growing to 2 ms: a link takes 5-50 ms, and std has no wait with
/// a timeout.
pub(crate) fn wait_until(
    child: &mut Child,
    deadline: Instant,
) -> std::io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_micros(100);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            child.kill()?;
            child.wait()?;
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// Runs a stand-in linker, a shell script with `body` in a directory of
    /// its own (`$0`'s), as `link_shared_object` does but with `timeout`.
    fn fake_link(body: &str, timeout: Duration) -> (Option<ExitStatus>, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fake-ld");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let linker = Linker::Direct(path.to_string_lossy().into_owned());
        run_linker(&linker, &[Path::new("in.o")], Path::new("out.so"), timeout).unwrap()
    }

    #[test]
    fn a_hung_linker_is_killed_and_started_again() {
        let started = Instant::now();
        // Hangs on its first run only.
        let (status, _) = fake_link(
            r#"m="$(dirname "$0")/ran-once"; [ -e "$m" ] && exit 0; touch "$m"; exec sleep 30"#,
            Duration::from_millis(500),
        );
        assert!(status.is_some_and(|s| s.success()), "{status:?}");
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn a_linker_that_always_hangs_gives_up() {
        let (status, _) = fake_link("exec sleep 30", Duration::from_millis(200));
        assert_eq!(status, None);
    }

    #[test]
    fn a_failing_linker_reports_what_it_wrote() {
        let (status, stderr) = fake_link(r#"echo "ld: cannot open $7" >&2; exit 1"#, LINK_TIMEOUT);
        assert!(status.is_some_and(|s| !s.success()), "{status:?}");
        assert_eq!(stderr, "ld: cannot open in.o\n");
    }
}
