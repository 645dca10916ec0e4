//! The `luge serve` process of one policy: started on its configuration
//! with its output in a log file, ready once every tenant port accepts,
//! killed when dropped (also on an error or a panic of the benchmark).

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to listen: it compiles every module not
/// yet in its cache first (seconds natively, much longer under emulation).
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// A running `luge serve`.
pub struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts `luge serve CONFIG` (through `runner` when given: a command
    /// and its arguments, split on spaces) with stdout and stderr in
    /// `log`, and waits until each of `ports` accepts connections.
    pub fn start(
        luge: &Path,
        runner: Option<&str>,
        config: &Path,
        log: &Path,
        ports: &[u16],
    ) -> Result<Server> {
        // A port something else already listens on would look ready at
        // once, and the load would go to the wrong server.
        for &port in ports {
            TcpListener::bind(("127.0.0.1", port)).with_context(|| {
                format!("port {port} is taken; choose others with --port-a/--port-b")
            })?;
        }
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut command = match runner.map(str::split_whitespace) {
            Some(mut words) if words.clone().next().is_some() => {
                let mut c = Command::new(words.next().expect("checked above"));
                c.args(words).arg(luge);
                c
            }
            _ => Command::new(luge),
        };
        let child = command
            .arg("serve")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {} (build it with `cargo build --release -p luge-cli`, or pass --luge)", luge.display()))?;
        let mut server = Server {
            child,
            log: log.to_owned(),
        };
        server.wait_listening(ports)?;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if the server has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn wait_listening(&mut self, ports: &[u16]) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        for &port in ports {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Some(status) = self.exited() {
                    bail!(
                        "luge serve exited ({status}) before listening on {port}:\n{}",
                        self.log_tail()
                    );
                }
                if Instant::now() > deadline {
                    bail!(
                        "luge serve did not listen on {port} within {START_TIMEOUT:?}:\n{}",
                        self.log_tail()
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// The last lines of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
