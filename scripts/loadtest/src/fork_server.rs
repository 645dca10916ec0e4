//! The process-per-request peer (`fork-server`): the container/fork
//! baseline of experiment 5. Each request on `/NAME` runs the native
//! executable DIR/NAME in a new process with Luge's CGI mapping (query
//! parts as argv, body as stdin, stdout as the response body, exit status
//! 0 as 200, else 500). A thread per connection keeps the server itself
//! out of the way: the measured cost is the fork/exec and the function.

use anyhow::{Context, Result};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(clap::Args)]
pub struct ForkServerArgs {
    /// Directory of native executables, one per function name (e.g.
    /// target/examples-native from scripts/build-examples.sh).
    pub functions: PathBuf,
    /// Loopback port to listen on.
    #[arg(long, default_value_t = 8082)]
    pub port: u16,
}

/// A request head and body as the fork server needs them.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    name: String,
    args: Vec<String>,
    method: String,
    query: String,
    body: Vec<u8>,
}

/// Largest request head or body accepted.
const MAX_REQUEST: usize = 1 << 20;

pub fn run(args: ForkServerArgs) -> Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .with_context(|| format!("binding 127.0.0.1:{}", args.port))?;
    eprintln!(
        "fork-server: http://127.0.0.1:{}/NAME runs {}/NAME per request",
        args.port,
        args.functions.display()
    );
    serve(listener, &args.functions)
}

/// Serves connections on `listener` until it fails.
pub fn serve(listener: TcpListener, functions: &Path) -> Result<()> {
    for stream in listener.incoming() {
        let stream = stream.context("accepting a connection")?;
        let functions = functions.to_owned();
        std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn(move || connection(stream, &functions))
            .context("starting a connection thread")?;
    }
    Ok(())
}

/// Answers requests on one keep-alive connection until the peer closes it.
fn connection(mut stream: TcpStream, functions: &Path) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        match parse_request(&buf) {
            Ok(Some((request, used))) => {
                buf.drain(..used);
                let (status, body) = invoke(functions, &request);
                if respond(&mut stream, status, &body).is_err() {
                    return;
                }
                continue;
            }
            Ok(None) if buf.len() <= MAX_REQUEST => {}
            Ok(None) | Err(_) => {
                let _ = respond(&mut stream, 400, b"bad request\n");
                return;
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The request at the start of `buf` and its length, `None` until complete.
fn parse_request(buf: &[u8]) -> Result<Option<(Request, usize)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let head = match req.parse(buf).map_err(|e| e.to_string())? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let length = crate::http::content_length(req.headers)
        .map_err(|e| e.to_string())?
        .unwrap_or(0);
    if length > MAX_REQUEST {
        return Err("body too large".into());
    }
    if buf.len() < head + length {
        return Ok(None);
    }
    let target = req.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let args = query
        .split('&')
        .filter(|a| !a.is_empty())
        .map(percent_decode)
        .collect();
    let request = Request {
        name: path.trim_start_matches('/').to_owned(),
        args,
        method: req.method.unwrap_or("GET").to_owned(),
        query: query.to_owned(),
        body: buf[head..head + length].to_vec(),
    };
    Ok(Some((request, head + length)))
}

/// Decodes `%XX` escapes (and `+` as a space, as in a form's query).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs the function of `request` in a new process.
fn invoke(functions: &Path, request: &Request) -> (u16, Vec<u8>) {
    let valid = !request.name.is_empty()
        && request
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let program = functions.join(&request.name);
    if !valid || !program.is_file() {
        return (404, b"no such function\n".to_vec());
    }
    let child = Command::new(&program)
        .args(&request.args)
        .env_clear()
        .env("REQUEST_METHOD", &request.method)
        .env("PATH_INFO", format!("/{}", request.name))
        .env("QUERY_STRING", &request.query)
        .env("CONTENT_LENGTH", request.body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return (500, format!("spawn failed: {e}\n").into_bytes()),
    };
    // Bodies are small (they fit the pipe); a function that exits without
    // reading its stdin makes this write fail, which is no error here.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&request.body);
    }
    match child.wait_with_output() {
        Ok(out) if out.status.success() => (200, out.stdout),
        Ok(out) => (500, format!("exit: {}\n", out.status).into_bytes()),
        Err(e) => (500, format!("wait failed: {e}\n").into_bytes()),
    }
}

fn respond(stream: &mut TcpStream, status: u16, body: &[u8]) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    stream.write_all(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_map_to_name_argv_and_stdin() {
        let raw = b"POST /hash?a%20b&7 HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET";
        let (r, used) = parse_request(raw).unwrap().unwrap();
        assert_eq!(used, raw.len() - 3);
        assert_eq!(r.name, "hash");
        assert_eq!(r.args, vec!["a b".to_owned(), "7".to_owned()]);
        assert_eq!(r.body, b"hi");
        assert_eq!(parse_request(b"GET /x HTTP/1.1\r\n").unwrap(), None);
    }

    #[test]
    fn unknown_or_unsafe_names_are_404() {
        let dir = tempfile::tempdir().unwrap();
        let request = |name: &str| Request {
            name: name.into(),
            args: vec![],
            method: "GET".into(),
            query: String::new(),
            body: vec![],
        };
        assert_eq!(invoke(dir.path(), &request("nope")).0, 404);
        assert_eq!(invoke(dir.path(), &request("../bin/sh")).0, 404);
    }
}
