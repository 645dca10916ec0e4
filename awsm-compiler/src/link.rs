//! Turns the relocatable object into an ELF shared object with a system
//! linker. The object has no undefined symbols, so no libraries are linked.

use crate::error::CompileError;
use luge_abi::Arch;
use std::path::Path;
use std::process::Command;

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

    fn command(&self, object: &Path, out: &Path) -> Command {
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
        cmd.arg("-o").arg(out).arg(object);
        cmd
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// The linker for `arch`. For the host's own architecture: `$LUGE_LINKER`
/// if set (a `cc`-style driver unless its name starts with `ld`), else `cc`.
/// For another architecture: LLVM's `ld.lld` (which links any target) or the
/// Debian cross compiler. `$LUGE_LINKER` names a linker for the code this
/// machine runs, so it is not applied to another target: under qemu-user the
/// emulated host's linker is a cross gcc that cannot link x86_64 objects.
fn linker(arch: Arch) -> Result<Linker, CompileError> {
    if arch == Arch::host() {
        let Ok(program) = std::env::var("LUGE_LINKER") else {
            return Ok(Linker::Driver("cc".into()));
        };
        let name = Path::new(&program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Ok(if name.starts_with("ld") {
            Linker::Direct(program)
        } else {
            Linker::Driver(program)
        });
    }
    let cross_gcc = format!("{}-linux-gnu-gcc", arch.name());
    ["ld.lld", "ld.lld-16"]
        .into_iter()
        .find(|p| on_path(p))
        .map(|p| Linker::Direct(p.into()))
        .or_else(|| on_path(&cross_gcc).then(|| Linker::Driver(cross_gcc.clone())))
        .ok_or_else(|| {
            CompileError::Link(format!(
                "no linker for {}: install ld.lld (Debian: lld-16) or {cross_gcc}",
                arch.name()
            ))
        })
}

pub fn link_shared_object(object: &[u8], arch: Arch, out: &Path) -> Result<(), CompileError> {
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
    let obj = temp(".o")?;
    std::fs::write(obj.path(), object).map_err(|e| io("writing the object file", e))?;
    let so = temp(".so")?;
    let linker = linker(arch)?;
    let hint = if arch == Arch::host() {
        " (set LUGE_LINKER to choose another)"
    } else {
        ""
    };
    let output = linker
        .command(obj.path(), so.path())
        .output()
        .map_err(|e| io(&format!("running linker `{}`{hint}", linker.program()), e))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(CompileError::Link(format!(
            "`{}` failed: {}",
            linker.program(),
            stderr.lines().next().unwrap_or("no output")
        )));
    }
    // Renaming a finished file into place keeps a half-written object from
    // ever appearing at `out`.
    so.persist(out)
        .map_err(|e| io(&format!("writing {}", out.display()), e.error))?;
    Ok(())
}
