//! Running a program with a time limit while its stdout streams into a
//! reader, so that a hung runtime cannot hang the runner and a large dump
//! is never held in memory twice.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How a program that ran to its end ended.
#[derive(Debug)]
pub struct Exit {
    pub status: ExitStatus,
    pub stderr: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot run {program}: {error}")]
    Spawn {
        program: String,
        error: std::io::Error,
    },
    #[error("waiting for {program}: {error}")]
    Wait {
        program: String,
        error: std::io::Error,
    },
    #[error("timed out after {} s", .0.as_secs_f64())]
    Timeout(Duration),
}

/// The longest the runner sleeps between checks on a running program;
/// kernel times come from the program itself, so this only delays the
/// next run a little.
const MAX_POLL: Duration = Duration::from_millis(20);

/// Runs `cmd` (stdin empty), feeding its stdout to `on_stdout` as it comes
/// and collecting stderr; kills it once `timeout` has passed. Whatever
/// `on_stdout` leaves unread is drained, so the program never blocks on a
/// full pipe.
pub fn run<T: Send>(
    cmd: &mut Command,
    timeout: Duration,
    on_stdout: impl FnOnce(&mut dyn BufRead) -> T + Send,
) -> Result<(Exit, T), ProcessError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| ProcessError::Spawn {
            program: program.clone(),
            error,
        })?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let mut input = BufReader::with_capacity(1 << 20, stdout);
            let value = on_stdout(&mut input);
            let _ = std::io::copy(&mut input, &mut std::io::sink());
            value
        });
        let errors = scope.spawn(move || {
            let mut bytes = Vec::new();
            let _ = stderr.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        });
        let status = wait_until(&mut child, Instant::now() + timeout);
        // The pipes close when the program ends (or is killed), so both
        // readers finish.
        let value = join(reader);
        let stderr = join(errors);
        match status {
            Ok(Some(status)) => Ok((Exit { status, stderr }, value)),
            Ok(None) => Err(ProcessError::Timeout(timeout)),
            Err(error) => Err(ProcessError::Wait { program, error }),
        }
    })
}

/// Waits for `child` to end; past `deadline` kills it and returns `None`.
fn wait_until(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    let mut poll = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            child.kill()?;
            child.wait()?;
            return Ok(None);
        }
        thread::sleep(poll.min(deadline - now));
        poll = (poll * 2).min(MAX_POLL);
    }
}

fn join<T>(handle: thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    fn lines(input: &mut dyn BufRead) -> usize {
        input.lines().count()
    }

    #[test]
    fn output_streams_and_stderr_is_collected() {
        let (exit, count) = run(
            &mut sh("seq 100000; echo oops >&2; exit 3"),
            Duration::from_secs(20),
            lines,
        )
        .unwrap();
        assert_eq!(count, 100000);
        assert_eq!(exit.stderr, "oops\n");
        assert_eq!(exit.status.code(), Some(3));
    }

    #[test]
    fn unread_output_is_drained() {
        // 8 MB is far more than a pipe holds: the program would block
        // forever if nobody read the rest.
        let (exit, ()) = run(
            &mut sh("head -c 8000000 /dev/zero"),
            Duration::from_secs(20),
            |_| (),
        )
        .unwrap();
        assert!(exit.status.success());
    }

    #[test]
    fn a_hung_program_is_killed() {
        let started = Instant::now();
        let err = run(&mut sh("exec sleep 30"), Duration::from_millis(200), lines).unwrap_err();
        assert!(matches!(err, ProcessError::Timeout(_)), "{err}");
        assert_eq!(err.to_string(), "timed out after 0.2 s");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_missing_program_is_named() {
        let err = run(
            &mut Command::new("/nonexistent/prog"),
            Duration::from_secs(1),
            lines,
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("cannot run /nonexistent/prog:"),
            "{err}"
        );
    }
}
