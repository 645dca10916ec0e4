//! Starting executables built for the target from tests, also under
//! emulation. Included by path from other crates' tests too
//! (`scripts/loadtest/tests`), so it depends on nothing else here.

use std::ffi::OsStr;
use std::process::Command;

/// A command that runs `program`, an executable built for the target (the
/// `luge` binary, the test binary itself). When `$LUGE_TEST_RUNNER` is set
/// it runs through that command: the aarch64 cargo runner sets it to
/// qemu-user (`.cargo/qemu-aarch64-runner`), because the host kernel
/// cannot execute aarch64 programs the emulated tests spawn.
pub fn target_command(program: impl AsRef<OsStr>) -> Command {
    let runner = std::env::var("LUGE_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(emulator) => {
            let mut cmd = Command::new(emulator);
            cmd.args(words).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}
