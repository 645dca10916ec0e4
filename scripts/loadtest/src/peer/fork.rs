//! The process-per-request peer (`fork-server`): the container/fork
//! baseline without a container. Each request on `/NAME` runs the native
//! executable DIR/NAME in a new process.

use super::{Invoke, Request};
use anyhow::Result;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

#[derive(clap::Args)]
pub struct ForkServerArgs {
    /// Directory of native executables, one per function name (e.g.
    /// target/examples-native from scripts/build-examples.sh).
    pub functions: PathBuf,
    /// Loopback port to listen on.
    #[arg(long, default_value_t = 8082)]
    pub port: u16,
}

pub fn run(args: ForkServerArgs) -> Result<()> {
    let listener = super::listen("fork-server", args.port)?;
    eprintln!(
        "fork-server: http://127.0.0.1:{}/NAME runs {}/NAME per request",
        args.port,
        args.functions.display()
    );
    super::serve(listener, Arc::new(Fork(args.functions)), 128 << 10)
}

/// Runs DIR/NAME per request.
struct Fork(PathBuf);

impl Invoke for Fork {
    fn invoke(&self, request: &Request) -> (u16, Vec<u8>) {
        let valid = !request.name.is_empty()
            && request
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let program = self.0.join(&request.name);
        if !valid || !program.is_file() {
            return (404, b"no such function\n".to_vec());
        }
        let child = Command::new(&program)
            .args(&request.args)
            .env_clear()
            .envs(request.cgi_env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => return (500, format!("spawn failed: {e}\n").into_bytes()),
        };
        // Bodies are small (they fit the pipe); a function that exits
        // without reading its stdin makes this write fail, which is no
        // error here.
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(&request.body);
        }
        match child.wait_with_output() {
            Ok(out) if out.status.success() => (200, out.stdout),
            Ok(out) => (500, format!("exit: {}\n", out.status).into_bytes()),
            Err(e) => (500, format!("wait failed: {e}\n").into_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_or_unsafe_names_are_404() {
        let dir = tempfile::tempdir().unwrap();
        let fork = Fork(dir.path().to_owned());
        let request = |name: &str| Request {
            name: name.into(),
            args: vec![],
            method: "GET".into(),
            query: String::new(),
            body: vec![],
            detached: false,
        };
        assert_eq!(fork.invoke(&request("nope")).0, 404);
        assert_eq!(fork.invoke(&request("../bin/sh")).0, 404);
    }
}
