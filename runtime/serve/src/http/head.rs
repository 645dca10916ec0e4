//! The head of a request: its request line and header fields, where it
//! ends in the buffered bytes, and how it is parsed.

use super::{bad_request, HttpError};

/// Header slots `httparse` gets on the stack when `max_headers` allows; the
/// default limit fits, so the common case allocates nothing for parsing.
const STACK_HEADERS: usize = 64;

/// The request line and header fields of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method, as sent (methods are case-sensitive).
    pub method: String,
    /// The path part of the request target, without the query and not
    /// percent-decoded. An absolute-form target (`http://host/p?q`) is
    /// reduced to its path, `/` if it has none.
    pub path: String,
    /// What follows the first `?` of the target, without it; empty if none.
    pub query: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1 (the only versions accepted).
    pub minor_version: u8,
    /// Header fields in the order received, names spelled as sent.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl RequestHead {
    /// The value of the first header field called `name`, compared
    /// case-insensitively.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_slice())
    }

    /// The `Content-Type` value, if present and valid UTF-8.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
            .and_then(|value| std::str::from_utf8(value).ok())
    }

    /// Whether the client wants the connection kept open after the
    /// response: HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with
    /// `Connection: keep-alive` (RFC 9112 §9.3).
    pub fn keep_alive(&self) -> bool {
        let close = self.has_connection_option("close");
        if self.minor_version >= 1 {
            !close
        } else {
            !close && self.has_connection_option("keep-alive")
        }
    }

    /// Whether the client waits for `100 Continue` before sending its body.
    /// HTTP/1.0 clients never do: servers must ignore their `Expect`
    /// (RFC 9110 §10.1.1).
    pub fn expects_continue(&self) -> bool {
        self.minor_version >= 1
            && self
                .header("expect")
                .is_some_and(|value| value.trim_ascii().eq_ignore_ascii_case(b"100-continue"))
    }

    /// The values of every header field called `name`.
    pub(super) fn header_values<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_slice())
    }

    /// The non-empty elements of a comma-separated list header, across all
    /// fields of that name (RFC 9110 §5.6.1).
    pub(super) fn list_elements<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.header_values(name)
            .flat_map(|value| value.split(|&b| b == b','))
            .map(<[u8]>::trim_ascii)
            .filter(|element| !element.is_empty())
    }

    fn has_connection_option(&self, option: &str) -> bool {
        self.list_elements("connection")
            .any(|element| element.eq_ignore_ascii_case(option.as_bytes()))
    }
}

/// Finds the blank line that ends a head, searching from `*scan`, and
/// returns the head's length including that line. A bare LF counts as a line
/// end, as it does for `httparse`. When there is none yet, `*scan` moves past
/// every LF that can no longer begin one.
pub(super) fn find_head_end(data: &[u8], scan: &mut usize) -> Option<usize> {
    let mut from = *scan;
    while let Some(offset) = data[from..].iter().position(|&b| b == b'\n') {
        let lf = from + offset;
        match &data[lf + 1..] {
            [b'\n', ..] => return Some(lf + 2),
            [b'\r', b'\n', ..] => return Some(lf + 3),
            _ => from = lf + 1,
        }
    }
    // A LF among the last two bytes may still be followed by a line end.
    *scan = data.len().saturating_sub(2).max(*scan);
    None
}

/// Parses a complete head (it ends with a blank line).
pub(super) fn parse_head(bytes: &[u8], max_headers: usize) -> Result<RequestHead, HttpError> {
    if max_headers <= STACK_HEADERS {
        parse_head_into(
            bytes,
            &mut [httparse::EMPTY_HEADER; STACK_HEADERS][..max_headers],
        )
    } else {
        parse_head_into(bytes, &mut vec![httparse::EMPTY_HEADER; max_headers])
    }
}

fn parse_head_into<'b>(
    bytes: &'b [u8],
    slots: &mut [httparse::Header<'b>],
) -> Result<RequestHead, HttpError> {
    let mut request = httparse::Request::new(slots);
    match request.parse(bytes) {
        Ok(httparse::Status::Complete(_)) => {}
        // Cannot happen for a head that ends with a blank line, but a
        // request we cannot delimit is malformed either way.
        Ok(httparse::Status::Partial) => return Err(bad_request("incomplete request head")),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HttpError::new(431, "too many header fields"))
        }
        Err(httparse::Error::Version) => return Err(version_error(bytes)),
        Err(e) => return Err(bad_request(&e.to_string())),
    }
    let (Some(method), Some(target), Some(minor_version)) =
        (request.method, request.path, request.version)
    else {
        return Err(bad_request("incomplete request line"));
    };
    let (path, query) = split_target(target);
    Ok(RequestHead {
        method: method.to_owned(),
        path,
        query,
        minor_version,
        headers: request
            .headers
            .iter()
            .map(|h| (h.name.to_owned(), h.value.to_vec()))
            .collect(),
    })
}

/// `httparse` knows only HTTP/1.0 and 1.1 and reports anything else as a
/// bad version: tell a well-formed other version (505) from garbage (400).
fn version_error(head: &[u8]) -> HttpError {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let version = line
        .trim_ascii_end()
        .rsplit(|&b| b == b' ')
        .next()
        .unwrap_or_default();
    match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit()
                && minor.is_ascii_digit()
                && !(*major == b'1' && matches!(minor, b'0' | b'1')) =>
        {
            HttpError::new(505, "HTTP version not supported")
        }
        _ => bad_request("invalid request line"),
    }
}

/// Splits a request target into path and query.
fn split_target(target: &str) -> (String, String) {
    let origin = origin_form(target);
    let (path, query) = origin.split_once('?').unwrap_or((origin, ""));
    let path = if path.is_empty() { "/" } else { path };
    (path.to_owned(), query.to_owned())
}

/// Reduces an absolute-form target (`http://host/p?q`), which servers must
/// accept (RFC 9112 §3.2.2), to its path and query; other forms are kept.
fn origin_form(target: &str) -> &str {
    if target.starts_with('/') {
        return target;
    }
    let Some((scheme, rest)) = target.split_once("://") else {
        return target;
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return target;
    }
    &rest[rest.find(['/', '?']).unwrap_or(rest.len())..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::test_support::{error_status, expect_request, feed, parse_one};
    use crate::http::{Limits, RequestReader};

    fn head_with(headers: &[(&str, &str)]) -> RequestHead {
        RequestHead {
            method: "GET".into(),
            path: "/".into(),
            query: String::new(),
            minor_version: 1,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect(),
        }
    }

    #[test]
    fn simple_get() {
        let request = parse_one(b"GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\n");
        assert_eq!(request.head.method, "GET");
        assert_eq!(request.head.path, "/hello");
        assert_eq!(request.head.query, "");
        assert_eq!(request.head.minor_version, 1);
        assert_eq!(
            request.head.headers,
            vec![("Host".to_string(), b"example.com".to_vec())]
        );
        assert!(request.body.is_empty());
    }

    #[test]
    fn target_is_split_into_path_and_query() {
        let split = |target: &str| {
            let request = parse_one(format!("GET {target} HTTP/1.1\r\n\r\n").as_bytes());
            (request.head.path, request.head.query)
        };
        let owned = |p: &str, q: &str| (p.to_string(), q.to_string());
        assert_eq!(split("/fn/run?x=1&y=%20"), owned("/fn/run", "x=1&y=%20"));
        assert_eq!(split("/a%2Fb?"), owned("/a%2Fb", ""));
        assert_eq!(split("/q?a=?b"), owned("/q", "a=?b"));
        assert_eq!(split("http://example.com/p?q=1"), owned("/p", "q=1"));
        assert_eq!(split("HTTPS://example.com"), owned("/", ""));
        assert_eq!(split("http://example.com?q"), owned("/", "q"));
        assert_eq!(split("*"), owned("*", ""));
    }

    #[test]
    fn headers_are_case_insensitive_and_keep_their_spelling() {
        let request = parse_one(
            b"POST / HTTP/1.1\r\ncontent-TYPE: application/json\r\nX-Thing:  a b \r\n\r\n",
        );
        let head = &request.head;
        assert_eq!(head.header("Content-Type"), Some(&b"application/json"[..]));
        assert_eq!(head.header("CONTENT-type"), Some(&b"application/json"[..]));
        assert_eq!(head.content_type(), Some("application/json"));
        assert_eq!(head.header("x-thing"), Some(&b"a b"[..]));
        assert_eq!(head.header("missing"), None);
        assert_eq!(head.headers[0].0, "content-TYPE");
    }

    #[test]
    fn keep_alive_rules() {
        let keep_alive = |minor_version: u8, connection: Option<&str>| {
            let mut head = head_with(
                &connection
                    .map(|c| ("Connection", c))
                    .into_iter()
                    .collect::<Vec<_>>(),
            );
            head.minor_version = minor_version;
            head.keep_alive()
        };
        assert!(keep_alive(1, None));
        assert!(!keep_alive(1, Some("close")));
        assert!(!keep_alive(1, Some("Upgrade, CLOSE")));
        assert!(keep_alive(1, Some("keep-alive")));
        assert!(!keep_alive(0, None));
        assert!(keep_alive(0, Some("Keep-Alive")));
        assert!(keep_alive(0, Some("foo, keep-alive")));
        assert!(!keep_alive(0, Some("keep-alive, close")));

        let parsed = parse_one(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_eq!(parsed.head.minor_version, 0);
        assert!(parsed.head.keep_alive());
    }

    #[test]
    fn too_many_headers_is_431() {
        let mut head = String::from("GET / HTTP/1.1\r\n");
        for i in 0..65 {
            head.push_str(&format!("X-{i}: v\r\n"));
        }
        head.push_str("\r\n");
        assert_eq!(error_status(head.as_bytes()), 431);

        let limits = Limits {
            max_headers: 100,
            ..Limits::default()
        };
        let mut reader = RequestReader::new(limits);
        feed(&mut reader, head.as_bytes());
        assert_eq!(expect_request(&mut reader).head.headers.len(), 65);
    }

    #[test]
    fn malformed_requests_are_400() {
        assert_eq!(error_status(b"\x16\x03\x01\x02\x00garbage\r\n\r\n"), 400);
        assert_eq!(
            error_status(b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"),
            400
        );
        assert_eq!(error_status(b"GET /  HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(error_status(b"GET /\r\n\r\n"), 400);
        assert_eq!(
            error_status(b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
            400
        );
        assert_eq!(
            error_status(b"GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n"),
            400
        );
        assert_eq!(
            error_status(b"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
            400
        );
    }

    #[test]
    fn other_http_versions_are_505() {
        assert_eq!(error_status(b"GET / HTTP/2.0\r\n\r\n"), 505);
        assert_eq!(error_status(b"GET / HTTP/1.2\r\nHost: x\r\n\r\n"), 505);
        assert_eq!(error_status(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505);
    }
}
