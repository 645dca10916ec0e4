//! Fault injection: signals arriving while a guest is inside host calls.
//! The runtime's own signal (SIGURG, which preempts compiled code) is sent
//! to every thread of a `luge run` as fast as the test can, while the guest
//! sleeps, reads a pipe that fills slowly, writes and reads back files,
//! draws random bytes and writes its output. A signal outside compiled code
//! must be ignored: no call fails or returns early (a sleep that ends short
//! is an error too), no output is lost or doubled, the process survives.

mod common;

use common::*;
use std::io::Write;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const ROUNDS: usize = 300;

/// Sends SIGURG to every thread of process `pid` until `stop`; returns how
/// many signals were delivered.
fn pelt_with_sigurg(pid: u32, stop: &AtomicBool) -> u64 {
    let mut sent = 0;
    while !stop.load(Ordering::Relaxed) {
        let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            break;
        };
        for tid in threads
            .flatten()
            .filter_map(|t| t.file_name().to_str()?.parse::<i32>().ok())
        {
            // SAFETY: tgkill only sends a signal; a thread that has exited
            // meanwhile makes it fail with ESRCH, which is ignored.
            let rc = unsafe { libc::syscall(libc::SYS_tgkill, pid as i32, tid, libc::SIGURG) };
            sent += u64::from(rc == 0);
        }
        std::thread::sleep(Duration::from_micros(50));
    }
    sent
}

#[test]
fn signals_during_host_calls_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = luge_run(wasm_program("hostcalls"))
        .opts([format!("--dir={}::/scratch", dir.path().display())])
        .args([ROUNDS.to_string(), "/scratch".to_string()])
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Lines arrive a few at a time, so the guest's reads wait on the pipe
    // (parked, then woken) while signals arrive.
    let feeder = std::thread::spawn(move || {
        for chunk in (0..ROUNDS).collect::<Vec<_>>().chunks(7) {
            let text: String = chunk.iter().map(|i| format!("line {i}\n")).collect();
            if stdin.write_all(text.as_bytes()).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(3));
        }
    });
    let stop = AtomicBool::new(false);
    let pid = child.id();
    let (out, sent) = std::thread::scope(|scope| {
        let pelter = scope.spawn(|| pelt_with_sigurg(pid, &stop));
        let out = child.wait_with_output().unwrap();
        stop.store(true, Ordering::Relaxed);
        (out, pelter.join().unwrap())
    });
    feeder.join().unwrap();
    assert_eq!(exit_code(&out), 0, "{}", describe(&out));
    let expected: String = (0..ROUNDS)
        .map(|i| format!("{i} line {i}\n"))
        .chain(["done\n".to_string()])
        .collect();
    assert_eq!(stdout_text(&out), expected, "{}", describe(&out));
    // The program runs for at least ROUNDS ms; far more signals than
    // rounds reached it.
    assert!(sent > ROUNDS as u64 * 2, "only {sent} signals were sent");
}
