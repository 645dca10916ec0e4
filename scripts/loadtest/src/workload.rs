//! The example functions as the experiments call them, and the servers
//! they are called on. Every server (Luge, the Node.js peer, the fork
//! server) maps a request the same way: the path names the function, the
//! query's `&`-separated parts are its argv, the body its stdin.

use crate::http::{HttpError, Target};
use std::fmt;

/// A call of one example function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `hello` with the body "edge": no work to speak of.
    Hello,
    /// `hash` of "luge", `iterations` SHA-256 rounds: CPU-bound.
    Hash { iterations: u32 },
    /// `prime`: the n-th prime by trial division: CPU-bound.
    Prime { n: u32 },
    /// `net`: sleeps 300 ms, standing in for a network call.
    Net,
    /// `sleep` for `seconds`.
    Sleep { seconds: u32 },
}

/// The hash rounds of the CPU-load experiments (the example's default).
pub const HASH_ITERATIONS: u32 = 100_000;
/// The prime of the access-pattern and mixed experiments (the example's
/// default).
pub const PRIME_N: u32 = 10_000;

impl Function {
    /// The function's path and query, and the body to send.
    pub fn path_and_body(self) -> (String, &'static [u8]) {
        match self {
            Function::Hello => ("/hello".into(), b"edge"),
            Function::Hash { iterations } => (format!("/hash?luge&{iterations}"), b""),
            Function::Prime { n } => (format!("/prime?{n}"), b""),
            Function::Net => ("/net".into(), b""),
            Function::Sleep { seconds } => (format!("/sleep?{seconds}"), b""),
        }
    }

    /// The bytes of a request for this function on `server`.
    pub fn request(self, server: &Server) -> Vec<u8> {
        let (path, body) = self.path_and_body();
        server.base.with_path(&path).request(body, &[])
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Function::Hello => write!(f, "hello"),
            Function::Hash { .. } => write!(f, "hash"),
            Function::Prime { .. } => write!(f, "prime"),
            Function::Net => write!(f, "net"),
            Function::Sleep { .. } => write!(f, "sleep"),
        }
    }
}

/// A server under test: a name for the CSV and charts, and its base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub name: String,
    pub base: Target,
}

impl Server {
    /// Parses `NAME=URL`, or a bare URL named `luge`.
    pub fn parse(spec: &str) -> Result<Server, HttpError> {
        let (name, url) = match spec.split_once('=') {
            Some((name, url)) if !name.contains('/') => (name, url),
            _ => ("luge", spec),
        };
        Ok(Server {
            name: name.to_owned(),
            base: Target::parse(url)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_named_urls() {
        let s = Server::parse("node=http://127.0.0.1:9000").unwrap();
        assert_eq!((s.name.as_str(), s.base.path.as_str()), ("node", "/"));
        assert_eq!(Server::parse("http://127.0.0.1:1").unwrap().name, "luge");
    }

    #[test]
    fn function_requests_map_args_to_the_query() {
        let s = Server::parse("http://127.0.0.1:1").unwrap();
        let r = Function::Hash { iterations: 5 }.request(&s);
        assert!(r.starts_with(b"GET /hash?luge&5 HTTP/1.1\r\n"));
        let r = Function::Hello.request(&s);
        assert!(r.starts_with(b"POST /hello HTTP/1.1\r\n") && r.ends_with(b"\r\n\r\nedge"));
    }
}
