//! The `luge-fuzz` binary as a campaign runs it: a worker that dies is a
//! finding for its case, and the run goes on with a fresh worker.

use std::process::Command;

/// `luge-fuzz` writing nothing outside `scratch`, and not minimizing (that
/// takes minutes).
fn luge_fuzz(scratch: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_luge-fuzz"));
    command
        .arg("--no-minimize")
        .arg("--findings")
        .arg(scratch.join("findings"))
        .arg("--regressions")
        .arg(scratch.join("regressions"));
    command
}

#[test]
fn a_crashing_worker_is_a_finding_and_the_run_goes_on() {
    let scratch = tempfile::tempdir().unwrap();
    let findings = scratch.path().join("findings");
    let out = luge_fuzz(scratch.path())
        .args(["--seed", "10", "--cases", "4", "--abort-on-seed", "11"])
        .args(["--config", "guard"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("4 cases"), "{stdout}");
    assert!(
        stdout.contains("case 11: FINDING: crash: the worker was killed by signal 6"),
        "{stdout}"
    );
    let report = std::fs::read_to_string(findings.join("11.txt")).unwrap();
    assert!(report.contains("luge-fuzz -- --seed 11 --cpu"), "{report}");
    assert!(report.contains("--config guard\n"), "{report}");
    assert!(findings.join("11.wasm").exists());
}

#[test]
fn a_seed_reproduces_its_case() {
    let scratch = tempfile::tempdir().unwrap();
    let run = || {
        luge_fuzz(scratch.path())
            .args(["--seed", "42"])
            .output()
            .unwrap()
    };
    let (first, second) = (run(), run());
    assert!(first.status.success(), "{first:?}");
    let verdict = |out: &std::process::Output| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("case ") || l.starts_with("  "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        verdict(&first).starts_with("case 42: "),
        "{}",
        verdict(&first)
    );
    assert_eq!(verdict(&first), verdict(&second));
}

#[test]
fn usage_errors_name_the_choices() {
    let scratch = tempfile::tempdir().unwrap();
    let out = luge_fuzz(scratch.path())
        .args(["--config", "fast"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("expected guard, guard-nointr, software or software-nointr"),
        "{stderr}"
    );
}
