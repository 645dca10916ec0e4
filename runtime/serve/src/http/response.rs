//! Responses: the interim `100 Continue`, and final responses serialized
//! with their framing headers.

use super::HttpError;

/// The interim response that tells a client waiting on
/// `Expect: 100-continue` to send its body.
pub fn continue_bytes() -> &'static [u8] {
    b"HTTP/1.1 100 Continue\r\n\r\n"
}

/// A response to serialize with [`write_to`](Self::write_to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, three digits (100 to 999).
    pub status: u16,
    /// Header fields, written in order. `Content-Length`,
    /// `Transfer-Encoding` and `Connection` are left out: `write_to` frames
    /// the response itself.
    pub headers: Vec<(String, String)>,
    /// The body, written in full with a `Content-Length`.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with a `Content-Type` and a body.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
            body: body.into(),
        }
    }

    /// A UTF-8 plain text response.
    pub fn text(status: u16, text: &str) -> Self {
        Self::new(status, "text/plain; charset=utf-8", text)
    }

    /// A JSON response.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::new(status, "application/json", value.to_string())
    }

    /// Appends the serialized response to `out`.
    ///
    /// The status line always says HTTP/1.1, as servers should whatever the
    /// request's version (RFC 9110 §6.2). `Content-Length` is always written,
    /// except for 1xx, 204 and 304, which have no body: theirs is left out
    /// (RFC 9110 §8.6, §6.4.1). `keep_alive` is whether the connection stays
    /// open after this response: if not, `Connection: close` is written; if
    /// so and the request was HTTP/1.0 (`minor_version` 0),
    /// `Connection: keep-alive` is, since 1.0 clients close otherwise.
    ///
    /// A header whose name is not a token or whose value holds CR, LF or
    /// NUL is dropped rather than written: it would let whoever produced it
    /// (a sandboxed function) split the response.
    pub fn write_to(&self, out: &mut Vec<u8>, keep_alive: bool, minor_version: u8) {
        debug_assert!((100..1000).contains(&self.status), "status {}", self.status);
        let has_body = status_has_body(self.status);
        out.reserve(64 + self.body.len());
        out.extend_from_slice(b"HTTP/1.1 ");
        push_decimal(out, u64::from(self.status));
        out.push(b' ');
        out.extend_from_slice(reason_phrase(self.status).as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers {
            if is_writable_header(name, value) {
                push_header(out, name, value.as_bytes());
            }
        }
        if has_body {
            out.extend_from_slice(b"Content-Length: ");
            push_decimal(out, self.body.len() as u64);
            out.extend_from_slice(b"\r\n");
        }
        if !keep_alive {
            push_header(out, "Connection", b"close");
        } else if minor_version == 0 {
            push_header(out, "Connection", b"keep-alive");
        }
        out.extend_from_slice(b"\r\n");
        if has_body {
            out.extend_from_slice(&self.body);
        }
    }
}

impl From<&HttpError> for Response {
    /// The plain text response for a refused request.
    fn from(error: &HttpError) -> Self {
        Self::text(error.status, &error.reason)
    }
}

/// Whether a response with this status carries a body.
fn status_has_body(status: u16) -> bool {
    !matches!(status, 100..=199 | 204 | 304)
}

/// Whether a caller-supplied header can be written as is. Framing headers
/// are ours: a second `Content-Length` would desynchronize the client.
fn is_writable_header(name: &str, value: &str) -> bool {
    const FRAMING: [&str; 3] = ["content-length", "transfer-encoding", "connection"];
    !name.is_empty()
        && name.bytes().all(is_token_byte)
        && !value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
        && !FRAMING.iter().any(|f| name.eq_ignore_ascii_case(f))
}

/// `tchar` of RFC 9110 §5.6.2.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal, without the formatting machinery.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// The standard reason phrase for a status (RFC 9110 §15, plus 429 from
/// RFC 6585), or an empty one, which HTTP/1.1 allows, for others.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serialize(response: &Response, keep_alive: bool, minor_version: u8) -> String {
        let mut out = Vec::new();
        response.write_to(&mut out, keep_alive, minor_version);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn errors_become_plain_text_responses() {
        let error = HttpError::new(413, "too big");
        assert_eq!(error.to_string(), "413 too big");
        assert_eq!(
            serialize(&Response::from(&error), false, 1),
            "HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: 7\r\nConnection: close\r\n\r\ntoo big"
        );
    }

    #[test]
    fn response_bytes() {
        assert_eq!(
            serialize(&Response::text(200, "hi"), true, 1),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: 2\r\n\r\nhi"
        );
        assert_eq!(
            serialize(&Response::json(201, &serde_json::json!({"id": 7})), true, 0),
            "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n\
             Content-Length: 8\r\nConnection: keep-alive\r\n\r\n{\"id\":7}"
        );
        let mut response = Response::new(404, "text/html", "<p>no</p>");
        response.headers.push(("X-Request-Id".into(), "42".into()));
        assert_eq!(
            serialize(&response, false, 0),
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nX-Request-Id: 42\r\n\
             Content-Length: 9\r\nConnection: close\r\n\r\n<p>no</p>"
        );
    }

    #[test]
    fn responses_without_content_have_no_length() {
        let response = Response {
            status: 204,
            headers: Vec::new(),
            body: b"ignored".to_vec(),
        };
        assert_eq!(
            serialize(&response, true, 1),
            "HTTP/1.1 204 No Content\r\n\r\n"
        );
        let unknown = Response {
            status: 299,
            headers: Vec::new(),
            body: Vec::new(),
        };
        assert_eq!(
            serialize(&unknown, true, 1),
            "HTTP/1.1 299 \r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn unsafe_and_framing_headers_are_not_written() {
        let mut response = Response::text(500, "");
        for (name, value) in [
            ("X-Split", "a\r\nSet-Cookie: evil"),
            ("Bad Name", "v"),
            ("", "v"),
            ("content-length", "99"),
            ("Transfer-Encoding", "chunked"),
            ("Connection", "upgrade"),
            ("X-Ok", "fine\tvalue"),
        ] {
            response.headers.push((name.into(), value.into()));
        }
        assert_eq!(
            serialize(&response, true, 1),
            "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n\
             X-Ok: fine\tvalue\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn every_status_we_send_has_a_reason_phrase() {
        for status in [
            100, 200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 429, 431, 500, 501, 503, 504,
            505,
        ] {
            assert!(!reason_phrase(status).is_empty(), "{status}");
        }
    }
}
