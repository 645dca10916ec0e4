//! The preopened-directory sandbox of WASI: a program (tests/wasi-programs/
//! escape.c) tries every way out we could think of, through libc and the
//! raw WASI calls, while a sentinel file next to the preopened directory
//! must be neither read, modified nor joined by anything the program made.
//! Legitimate access inside, through symlinks that stay inside, must keep
//! working.

mod common;

use common::*;
use std::fs::{File, FileTimes};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Sets both times of `path` into the past: access a day after
/// modification, both more than a day ago, so that under `relatime` (and
/// `strictatime`) any read moves the access time.
fn age(path: &Path) -> (SystemTime, SystemTime) {
    let modified = SystemTime::now() - Duration::from_secs(4 * 86400);
    let accessed = SystemTime::now() - Duration::from_secs(3 * 86400);
    let times = FileTimes::new()
        .set_accessed(accessed)
        .set_modified(modified);
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_times(times)
        .unwrap();
    (accessed, modified)
}

/// Whether reads show in access times on the file system of `dir` (not
/// with `noatime`): a control file is aged and read.
fn reads_update_atime(dir: &Path) -> bool {
    let control = dir.join("atime-control");
    std::fs::write(&control, "control").unwrap();
    let (accessed, _) = age(&control);
    std::fs::read(&control).unwrap();
    let now = std::fs::metadata(&control).unwrap().accessed().unwrap();
    std::fs::remove_file(&control).unwrap();
    now != accessed
}

#[test]
fn escape_attempts_all_fail_and_legitimate_access_works() {
    let setup = EscapeSetup::new();
    // Snapshot first: it reads the sentinel, which must then be left alone
    // by this test too until its times are checked.
    let before = setup.outside();
    let atime_is_tracked = reads_update_atime(&setup.root);
    let (accessed, modified) = age(&setup.sentinel());

    let out = luge_run(wasm_program("escape"))
        .opts([
            "--dir".to_string(),
            format!("{}::{ESCAPE_GUEST}", setup.sandbox().display()),
        ])
        .args([ESCAPE_GUEST])
        .output();
    let text = stdout_text(&out);
    assert_eq!(exit_code(&out), 0, "{}", describe(&out));

    // One line per attempt, then "done N".
    let lines: Vec<&str> = text.lines().collect();
    let (last, attempts) = lines.split_last().expect("the program printed nothing");
    assert_eq!(
        *last,
        format!("done {}", attempts.len()),
        "the program did not finish its list\n{text}"
    );
    assert!(
        attempts.len() >= 100,
        "only {} lines:\n{text}",
        attempts.len()
    );
    let bad: Vec<&&str> = attempts.iter().filter(|l| !l.ends_with(": OK")).collect();
    assert!(
        bad.is_empty(),
        "{} of {} attempts escaped or legitimate access failed:\n{}\n--- full output:\n{text}",
        bad.len(),
        attempts.len(),
        bad.iter()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        attempts.iter().filter(|l| l.starts_with("legit ")).count() >= 20,
        "{text}"
    );

    // Nothing outside was read, modified, created or removed.
    assert!(
        !text.contains("SECRET") && !stderr_text(&out).contains("SECRET"),
        "{}",
        describe(&out)
    );
    let meta = std::fs::metadata(setup.sentinel()).unwrap();
    assert_eq!(
        meta.modified().unwrap(),
        modified,
        "the sentinel was modified"
    );
    if atime_is_tracked {
        assert_eq!(meta.accessed().unwrap(), accessed, "the sentinel was read");
    } else {
        eprintln!("note: this file system does not track access times; read check skipped");
    }
    assert_eq!(
        std::fs::read_to_string(setup.sentinel()).unwrap(),
        ESCAPE_SECRET
    );
    assert_eq!(
        setup.outside(),
        before,
        "something outside the sandbox changed"
    );

    // What the program was allowed to do inside happened, and no more.
    let sandbox = setup.sandbox();
    assert_eq!(
        std::fs::read_to_string(sandbox.join("victim.txt")).unwrap(),
        "victim\n"
    );
    for gone in ["abs_file_link", "rel_dir_link", "rel_file_link", "made"] {
        assert!(
            std::fs::symlink_metadata(sandbox.join(gone)).is_err(),
            "{gone} is still in the sandbox"
        );
    }
    assert_eq!(
        std::fs::read_link(sandbox.join("rel_file_link_renamed")).unwrap(),
        Path::new("../sentinel.txt")
    );
    for stolen in [
        "stolen.txt",
        "stolen2.txt",
        "stolen3.txt",
        "hard",
        "hard2",
        "parent",
    ] {
        assert!(
            !sandbox.join(stolen).exists(),
            "{stolen} appeared in the sandbox"
        );
    }
}
