//! A minimal HTTP/1.1 client side: request targets, request bytes, and an
//! incremental response parser shared by the open-loop generator and the
//! blocking clients. Responses must carry `Content-Length` (Luge, nginx,
//! the Node peer and the fork server all do); chunked bodies are refused.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum HttpError {
    #[error("URL {0:?}: expected http://HOST:PORT/PATH")]
    BadUrl(String),
    #[error("URL {url:?}: {addr} is not a loopback address; load goes only to this machine")]
    NotLoopback { url: String, addr: SocketAddr },
    #[error("URL {url:?}: cannot resolve the host: {source}")]
    Resolve { url: String, source: std::io::Error },
    #[error("malformed response head: {0}")]
    Malformed(httparse::Error),
    #[error("response without Content-Length (status {0}); only sized bodies are supported")]
    NoLength(u16),
    #[error("bad Content-Length header")]
    BadLength,
    #[error("connection closed before the response was complete")]
    Closed,
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Where requests go: a loopback address and the request line's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub addr: SocketAddr,
    /// `host:port` as written in the URL, for the `Host` header.
    pub authority: String,
    /// Path and query, e.g. `/prime?100`.
    pub path: String,
}

impl Target {
    /// Parses `http://HOST:PORT/PATH?QUERY`; the host must resolve to a
    /// loopback address.
    pub fn parse(url: &str) -> Result<Target, HttpError> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| HttpError::BadUrl(url.to_owned()))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(HttpError::BadUrl(url.to_owned()));
        }
        let with_port = if authority.contains(':') && !authority.ends_with(']') {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|source| HttpError::Resolve {
                url: url.to_owned(),
                source,
            })?
            .next()
            .ok_or_else(|| HttpError::BadUrl(url.to_owned()))?;
        if !addr.ip().is_loopback() {
            return Err(HttpError::NotLoopback {
                url: url.to_owned(),
                addr,
            });
        }
        Ok(Target {
            addr,
            authority: authority.to_owned(),
            path: path.to_owned(),
        })
    }

    /// The same server with another path.
    pub fn with_path(&self, path: &str) -> Target {
        Target {
            path: path.to_owned(),
            ..self.clone()
        }
    }

    /// The bytes of a keep-alive request: GET without a body, POST with one.
    pub fn request(&self, body: &[u8], headers: &[(&str, &str)]) -> Vec<u8> {
        let method = if body.is_empty() { "GET" } else { "POST" };
        let mut head = format!(
            "{method} {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.path,
            self.authority,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }

    /// A blocking connection with Nagle off (requests are small and must
    /// leave at once).
    pub fn connect(&self, timeout: Duration) -> Result<TcpStream, HttpError> {
        let stream = TcpStream::connect_timeout(&self.addr, timeout)?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

/// A complete response at the front of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub status: u16,
    /// Where the body is in the buffer.
    pub body: std::ops::Range<usize>,
    /// Bytes of the buffer the response took, head and body.
    pub len: usize,
    /// The server will close the connection after this response
    /// (`Connection: close`, as nginx sends after `keepalive_requests`).
    pub close: bool,
}

/// The value of the `Content-Length` field among `headers`, if there is
/// one; [`HttpError::BadLength`] when it is not a number.
pub fn content_length(headers: &[httparse::Header]) -> Result<Option<usize>, HttpError> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .map(|h| {
            std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or(HttpError::BadLength)
        })
        .transpose()
}

/// Parses the response at the start of `buf`: `Ok(None)` until it is
/// complete.
pub fn parse_response(buf: &[u8]) -> Result<Option<Parsed>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(buf).map_err(HttpError::Malformed)? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let status = response.code.unwrap_or(0);
    let length = match content_length(response.headers)? {
        Some(n) => n,
        None if status == 204 || status == 304 || (100..200).contains(&status) => 0,
        None => return Err(HttpError::NoLength(status)),
    };
    let close = response.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("connection") && h.value.eq_ignore_ascii_case(b"close")
    });
    let end = head_len + length;
    if buf.len() < end {
        return Ok(None);
    }
    Ok(Some(Parsed {
        status,
        body: head_len..end,
        len: end,
        close,
    }))
}

/// A response read by [`call`].
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Sends `request` on `stream` and reads one response (blocking).
pub fn call(stream: &mut TcpStream, request: &[u8]) -> Result<Response, HttpError> {
    stream.write_all(request)?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(p) = parse_response(&buf)? {
            return Ok(Response {
                status: p.status,
                body: buf[p.body].to_vec(),
            });
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(HttpError::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_loopback_http() {
        let t = Target::parse("http://127.0.0.1:8080/prime?100").unwrap();
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(t.path, "/prime?100");
        assert_eq!(Target::parse("http://localhost:9").unwrap().path, "/");
        assert!(matches!(
            Target::parse("https://127.0.0.1/"),
            Err(HttpError::BadUrl(_))
        ));
        assert!(matches!(
            Target::parse("http://10.0.0.1:80/"),
            Err(HttpError::NotLoopback { .. })
        ));
    }

    #[test]
    fn requests_carry_length_and_body() {
        let t = Target::parse("http://127.0.0.1:1/hello").unwrap();
        let r = t.request(b"edge", &[("X-A", "b")]);
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "POST /hello HTTP/1.1\r\nHost: 127.0.0.1:1\r\nContent-Length: 4\r\nX-A: b\r\n\r\nedge"
        );
        assert!(t.request(b"", &[]).starts_with(b"GET /hello HTTP/1.1\r\n"));
    }

    #[test]
    fn responses_are_parsed_incrementally() {
        let two = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(parse_response(&two[..10]).unwrap(), None);
        assert_eq!(parse_response(&two[..40]).unwrap(), None);
        let p = parse_response(two).unwrap().unwrap();
        assert_eq!((p.status, &two[p.body.clone()]), (200, &b"abc"[..]));
        let q = parse_response(&two[p.len..]).unwrap().unwrap();
        assert_eq!((q.status, q.body.len(), q.close), (204, 0, false));
        let c =
            parse_response(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        assert!(c.unwrap().unwrap().close);
        assert!(matches!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(HttpError::NoLength(200))
        ));
    }
}
