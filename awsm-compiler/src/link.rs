//! Turns the relocatable object into an ELF shared object with the system
//! linker. The object has no undefined symbols, so no libraries are linked.

use crate::error::CompileError;
use luge_abi::Arch;
use std::path::Path;
use std::process::Command;

/// The linker driver for `arch`: `$LUGE_LINKER` if set, otherwise `cc` for
/// the host architecture and the Debian cross compiler for aarch64.
fn linker(arch: Arch) -> String {
    if let Ok(linker) = std::env::var("LUGE_LINKER") {
        return linker;
    }
    if arch == Arch::host() {
        "cc".to_string()
    } else {
        format!("{}-linux-gnu-gcc", arch.name())
    }
}

pub fn link_shared_object(object: &[u8], arch: Arch, out: &Path) -> Result<(), CompileError> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let io = |what: &str, e: std::io::Error| CompileError::Link(format!("{what}: {e}"));
    let obj = tempfile::Builder::new()
        .prefix(".luge-")
        .suffix(".o")
        .tempfile_in(dir)
        .map_err(|e| {
            io(
                &format!("creating a temporary file in {}", dir.display()),
                e,
            )
        })?;
    std::fs::write(obj.path(), object).map_err(|e| io("writing the object file", e))?;
    let so = tempfile::Builder::new()
        .prefix(".luge-")
        .suffix(".so")
        .tempfile_in(dir)
        .map_err(|e| {
            io(
                &format!("creating a temporary file in {}", dir.display()),
                e,
            )
        })?;
    let linker = linker(arch);
    let output = Command::new(&linker)
        .args([
            "-shared",
            "-nostdlib",
            "-Wl,-z,noexecstack",
            "-Wl,--hash-style=gnu",
            "-o",
        ])
        .arg(so.path())
        .arg(obj.path())
        .output()
        .map_err(|e| {
            io(
                &format!("running linker `{linker}` (set LUGE_LINKER to choose another)"),
                e,
            )
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(CompileError::Link(format!(
            "`{linker}` failed: {}",
            stderr.lines().next().unwrap_or("no output")
        )));
    }
    // Renaming a finished file into place keeps a half-written object from
    // ever appearing at `out`.
    so.persist(out)
        .map_err(|e| io(&format!("writing {}", out.display()), e.error))?;
    Ok(())
}
