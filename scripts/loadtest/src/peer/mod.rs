//! The peers of experiment 5: servers a user would otherwise pick, run on
//! the same machine with the same functions and Luge's CGI mapping (query
//! parts as argv, body as stdin, stdout as the response body, exit status
//! 0 as 200, else 500). This module is their shared HTTP side: a thread per
//! keep-alive connection, which keeps the server itself out of the way, so
//! what is measured is how each peer runs a function:
//! - [`fork`]: a new process per request running the native build (the
//!   container/fork baseline);
//! - `wasmtime` (feature `wasmtime-peer`): a fresh Wasmtime instance per
//!   request from its pooling allocator.
//!
//! OpenWhisk's invocation path, `POST /api/v1/namespaces/NS/actions/NAME`,
//! calls NAME too, its body as stdin; without `blocking=true` it is a
//! detached call, answered 202 at once, which a peer runs without its
//! connection if it can (the capacity experiment's sleepers).

pub mod fork;
#[cfg(feature = "wasmtime-peer")]
pub mod wasmtime;

use anyhow::{Context, Result};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

/// How a peer runs the function a request names.
pub trait Invoke: Send + Sync + 'static {
    /// The response status and body for `request`.
    fn invoke(&self, request: &Request) -> (u16, Vec<u8>);

    /// Starts `request` as a detached call and answers at once. A peer
    /// that runs calls only on their connection refuses.
    fn detach(&self, _request: Request) -> (u16, Vec<u8>) {
        (
            501,
            b"this peer runs calls on their connection only\n".to_vec(),
        )
    }
}

/// A request head and body as the peers need them.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    name: String,
    args: Vec<String>,
    method: String,
    query: String,
    body: Vec<u8>,
    /// A non-blocking OpenWhisk invocation.
    detached: bool,
}

impl Request {
    /// The CGI variables every peer passes, as Luge does.
    fn cgi_env(&self) -> [(&'static str, String); 4] {
        [
            ("REQUEST_METHOD", self.method.clone()),
            ("PATH_INFO", format!("/{}", self.name)),
            ("QUERY_STRING", self.query.clone()),
            ("CONTENT_LENGTH", self.body.len().to_string()),
        ]
    }
}

/// Largest request head or body accepted.
const MAX_REQUEST: usize = 1 << 20;

/// Binds the loopback `port` for the peer called `what`.
pub fn listen(what: &str, port: u16) -> Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port))
        .with_context(|| format!("{what}: binding 127.0.0.1:{port}"))
}

/// Serves connections on `listener` with `peer`, a thread of `stack` bytes
/// per connection, until accepting fails for a reason that does not pass.
pub fn serve(listener: TcpListener, peer: Arc<dyn Invoke>, stack: usize) -> Result<()> {
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) if accept_can_retry(&e) => {
                // Out of descriptors or memory, the connection waits in the
                // backlog until calls end and free some, as a capacity ramp
                // needs; a client that gave up is simply gone. A pause keeps
                // the retry from spinning.
                eprintln!("peer: cannot accept a connection yet: {e}");
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            }
            Err(e) => return Err(e).context("accepting a connection"),
        };
        let peer = Arc::clone(&peer);
        // Out of threads (or memory for a stack): this connection is
        // closed, the server goes on, as a capacity ramp needs to see.
        if let Err(e) = std::thread::Builder::new()
            .stack_size(stack)
            .spawn(move || connection(stream, &*peer))
        {
            eprintln!("peer: cannot start a connection thread, closing the connection: {e}");
        }
    }
    Ok(())
}

/// Whether `accept` failed for lack of descriptors, memory or buffers, or
/// because the client gave up first: conditions that pass.
fn accept_can_retry(error: &std::io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ENOBUFS | libc::ECONNABORTED)
    )
}

/// Answers requests on one keep-alive connection until the peer closes it.
fn connection(mut stream: TcpStream, peer: &dyn Invoke) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        match parse_request(&buf) {
            Ok(Some((request, used))) => {
                buf.drain(..used);
                let (status, body) = if request.detached {
                    peer.detach(request)
                } else {
                    peer.invoke(&request)
                };
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
    let mut parts = query.split('&').filter(|a| !a.is_empty());
    // An action's parameters are its body; its query says how to call it.
    let (name, args, detached) = match openwhisk_action(path) {
        Some(action) => (action, Vec::new(), !parts.any(|p| p == "blocking=true")),
        None => (
            path.trim_start_matches('/'),
            parts.map(percent_decode).collect(),
            false,
        ),
    };
    let request = Request {
        name: name.to_owned(),
        args,
        method: req.method.unwrap_or("GET").to_owned(),
        query: query.to_owned(),
        body: buf[head..head + length].to_vec(),
        detached,
    };
    Ok(Some((request, head + length)))
}

/// The action NAME of OpenWhisk's invocation path,
/// `/api/v1/namespaces/NS/actions/NAME`.
fn openwhisk_action(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/api/v1/namespaces/")?;
    let (_namespace, action) = rest.split_once("/actions/")?;
    (!action.is_empty() && !action.contains('/')).then_some(action)
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

fn respond(stream: &mut TcpStream, status: u16, body: &[u8]) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        404 => "Not Found",
        501 => "Not Implemented",
        503 => "Service Unavailable",
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
    fn accept_is_retried_only_for_conditions_that_pass() {
        let error = std::io::Error::from_raw_os_error;
        assert!(accept_can_retry(&error(libc::EMFILE)));
        assert!(accept_can_retry(&error(libc::ENOMEM)));
        assert!(accept_can_retry(&error(libc::ECONNABORTED)));
        assert!(!accept_can_retry(&error(libc::EBADF)));
        assert!(!accept_can_retry(&error(libc::EINVAL)));
    }

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
    fn openwhisk_invocations_are_detached_unless_blocking() {
        let call = |target: &str| {
            let raw = format!("POST {target} HTTP/1.1\r\nContent-Length: 2\r\n\r\n{{}}");
            parse_request(raw.as_bytes()).unwrap().unwrap().0
        };
        let detached = call("/api/v1/namespaces/_/actions/sleep");
        assert_eq!((detached.name.as_str(), detached.detached), ("sleep", true));
        assert!(detached.args.is_empty());
        assert_eq!(detached.body, b"{}");
        let blocking = call("/api/v1/namespaces/guest/actions/sleep?blocking=true");
        assert_eq!(
            (blocking.name.as_str(), blocking.detached),
            ("sleep", false)
        );
        assert!(blocking.args.is_empty(), "the query is not the argv");
        let plain = call("/api/v1/namespaces/_/actions/a/b");
        assert_eq!(
            (plain.name.as_str(), plain.detached),
            ("api/v1/namespaces/_/actions/a/b", false)
        );
    }

    #[test]
    fn a_peer_without_detached_calls_refuses_them() {
        struct OnConnection;
        impl Invoke for OnConnection {
            fn invoke(&self, _: &Request) -> (u16, Vec<u8>) {
                (200, Vec::new())
            }
        }
        let raw = b"POST /api/v1/namespaces/_/actions/sleep HTTP/1.1\r\n\r\n";
        let (request, _) = parse_request(raw).unwrap().unwrap();
        assert_eq!(OnConnection.detach(request).0, 501);
    }
}
