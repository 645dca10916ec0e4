//! HTTP/1.1 framing without IO: requests parsed incrementally from a
//! connection's bytes, responses serialized into a buffer.
//!
//! The event loop owns the sockets; this module only sees bytes. One
//! [`RequestReader`] per connection buffers what [`RequestReader::read_from`]
//! reads and hands out complete requests from
//! [`RequestReader::next_request`]. Pipelined requests that arrive in one
//! read come out one per call, and a request dribbled one byte at a time
//! costs linear work: the search for the blank line that ends the head
//! resumes where it stopped, `httparse` runs once per head (when it is
//! complete), and the chunked decoder never re-reads a line it has searched.
//!
//! Bodies are framed by `Content-Length` or `Transfer-Encoding: chunked`
//! (RFC 9112 §6); a request with neither has no body. Each body byte is
//! copied once, from the read buffer into its request's body.
//!
//! An [`HttpError`] carries the status to answer with. The connection's
//! framing is lost after one, so the caller writes that response (see
//! `From<&HttpError> for Response`) with `keep_alive = false`, closes the
//! connection and drops the reader.
//!
//! HEAD is not special-cased. The parser treats it like any other method,
//! and [`Response::write_to`] writes whatever body it is given without
//! knowing the request method. A client that sent HEAD reads no body, so
//! whoever answers HEAD must give the response an empty body (or close the
//! connection after it); otherwise the body would be read as the next
//! response.

use std::io::{self, Read};
use std::mem;

/// Smallest free space offered to one `read`: small enough that an idle
/// connection costs little, large enough for a typical request in one call.
const READ_SPARE: usize = 4096;

/// Longest chunk-size line accepted, extensions included. Extensions are
/// ignored, so a longer line can only be an attempt to make us buffer.
const MAX_CHUNK_LINE: usize = 4096;

/// Most capacity reserved up front for a `Content-Length` body. A client may
/// announce a large body and send nothing, so past this the body grows only
/// as its bytes arrive.
const MAX_BODY_PREALLOC: u64 = 64 * 1024;

/// Header slots `httparse` gets on the stack when `max_headers` allows; the
/// default limit fits, so the common case allocates nothing for parsing.
const STACK_HEADERS: usize = 64;

/// Limits on a request head. Body limits are per route: see
/// [`RequestReader::next_request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes in the request line and header fields, the blank line
    /// that ends them included. A larger head is refused with 431; so is a
    /// chunked body's trailer section larger than this.
    pub max_head_bytes: usize,
    /// Most header fields in one request; more are refused with 431.
    pub max_headers: usize,
}

impl Default for Limits {
    /// 16 KiB of head and 64 header fields.
    fn default() -> Self {
        Self {
            max_head_bytes: 16 * 1024,
            max_headers: 64,
        }
    }
}

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
    fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_slice())
    }

    /// The non-empty elements of a comma-separated list header, across all
    /// fields of that name (RFC 9110 §5.6.1).
    fn list_elements<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
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

/// A complete request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The request line and header fields.
    pub head: RequestHead,
    /// The body, de-chunked if it was sent chunked; empty if there was none.
    pub body: Vec<u8>,
}

/// What [`RequestReader::next_request`] found in the buffered bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// A complete request. Call again: more may be buffered (pipelining).
    Request(Request),
    /// No complete request yet: read more bytes.
    NeedMore,
    /// The head asked for `Expect: 100-continue` and none of the body has
    /// arrived: write [`continue_bytes`] (this is returned once per
    /// request), then keep reading.
    Continue,
}

/// How [`RequestReader::read_from`] tells that its source has nothing more
/// for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Only when a read says `WouldBlock`.
    AtWouldBlock,
    /// Also after a read that returned less than the room offered: a TCP
    /// socket's receive queue was empty then, and edge-triggered readiness
    /// reports any byte that arrives later. This saves the `WouldBlock`
    /// read, a system call per request. Not for a socket whose peer has
    /// closed: its end of file would go unseen until the next read.
    AtShortRead,
}

/// What stopped [`RequestReader::read_from`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// The source has nothing more for now (see [`Drained`]): wait for the
    /// next readiness event.
    WouldBlock,
    /// The peer closed its side: nothing more will arrive. Requests already
    /// buffered can still be taken; if the reader is not idle after that,
    /// the last request was cut short.
    Eof,
    /// The buffer holds as many unprocessed bytes as one connection may,
    /// and the source may hold more: edge-triggered readiness will not
    /// report it again. Call [`RequestReader::next_request`] (it always
    /// makes progress here: a request, an error, or buffered body bytes
    /// moved into the body), then call `read_from` again *even if it
    /// returned [`Next::NeedMore`]* — a body larger than the buffer arrives
    /// through several rounds of this. Stopping here is what keeps a client
    /// that sends faster than it is served from growing the buffer without
    /// bound (TCP backpressure does the rest).
    Full,
}

/// A request the connection cannot carry, with the status to answer it
/// with: 400 (malformed), 413 (body over the route's limit), 431 (head or
/// trailers too large, too many header fields), 501 (transfer coding other
/// than chunked) or 505 (HTTP version other than 1.0 and 1.1).
///
/// The connection's framing is lost after an error: answer with
/// `Connection: close` and close the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {reason}")]
pub struct HttpError {
    /// The response status.
    pub status: u16,
    /// What was wrong, for the response body and the logs.
    pub reason: String,
}

impl HttpError {
    /// An error answered with `status`.
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
        }
    }
}

fn bad_request(reason: &str) -> HttpError {
    HttpError::new(400, reason)
}

fn body_too_large() -> HttpError {
    HttpError::new(413, "request body over the route's limit")
}

/// Reads the requests of one connection from its bytes.
///
/// Feed it with [`read_from`](Self::read_from) and take requests with
/// [`next_request`](Self::next_request) until it returns
/// [`Next::NeedMore`]. After an error, close the connection and drop the
/// reader.
#[derive(Debug)]
pub struct RequestReader {
    limits: Limits,
    /// Received bytes: `buf[start..end]` is not consumed yet, `buf[end..]` is
    /// room for the next read.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Where the search for the end of the head resumes, relative to
    /// `start`: no terminator starts before it.
    head_scan: usize,
    /// The request whose body is arriving; `None` while waiting for a head.
    pending: Option<PendingBody>,
}

impl RequestReader {
    /// A reader for a new connection. It allocates nothing until the first
    /// read.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            buf: Vec::new(),
            start: 0,
            end: 0,
            head_scan: 0,
            pending: None,
        }
    }

    /// Reads from `source` (a non-blocking socket) until it is drained (as
    /// `drained` tells), reaches end of file or the buffer is full; see
    /// [`ReadOutcome`]. `Interrupted` reads are retried; other IO errors
    /// are returned.
    pub fn read_from<R: Read + ?Sized>(
        &mut self,
        source: &mut R,
        drained: Drained,
    ) -> io::Result<ReadOutcome> {
        loop {
            if self.is_full() {
                return Ok(ReadOutcome::Full);
            }
            let room = self.buffer_for_read();
            let offered = room.len();
            match source.read(room) {
                Ok(0) => return Ok(ReadOutcome::Eof),
                Ok(n) => {
                    self.filled(n);
                    if n < offered && drained == Drained::AtShortRead {
                        return Ok(ReadOutcome::WouldBlock);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(ReadOutcome::WouldBlock)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes the next request out of the buffered bytes.
    ///
    /// `body_limit` gives the most body bytes the request's route accepts.
    /// It is asked once per request that has a body, right after its head is
    /// parsed: a `Content-Length` over the limit is refused with 413 before
    /// any of the body is buffered, a chunked body as soon as a chunk would
    /// take it over the limit.
    pub fn next_request(
        &mut self,
        body_limit: &dyn Fn(&RequestHead) -> u64,
    ) -> Result<Next, HttpError> {
        let mut pending = match self.pending.take() {
            Some(pending) => pending,
            None => match self.take_head()? {
                Some(head) => PendingBody::new(head, body_limit)?,
                None => return Ok(Next::NeedMore),
            },
        };
        let data = &self.buf[self.start..self.end];
        let (used, done) = pending.advance(data, self.limits.max_head_bytes)?;
        self.start += used;
        if done {
            return Ok(Next::Request(pending.finish()));
        }
        let next = pending.after_progress(used);
        self.pending = Some(pending);
        Ok(next)
    }

    /// Whether no part of a request is buffered: the connection sits between
    /// requests, so it may be closed when idle too long or on shutdown.
    pub fn is_idle(&self) -> bool {
        self.pending.is_none() && self.start == self.end
    }

    /// Room for the next read, at least [`READ_SPARE`] bytes. Consumed bytes
    /// are reclaimed before the buffer grows.
    fn buffer_for_read(&mut self) -> &mut [u8] {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.buf.len() - self.end < READ_SPARE && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < READ_SPARE {
            let len = (self.buf.len() * 2).max(self.end + READ_SPARE);
            self.buf.resize(len, 0);
        }
        &mut self.buf[self.end..]
    }

    /// Records that a read put `n` bytes at the start of
    /// [`buffer_for_read`](Self::buffer_for_read).
    fn filled(&mut self, n: usize) {
        self.end += n;
    }

    /// Whether reading should pause until requests are taken. Past this
    /// much unconsumed data, [`next_request`](Self::next_request) always
    /// makes progress: either a request comes out, or the data is consumed
    /// into a body, or the head, chunk-size line or trailers are over their
    /// limits.
    fn is_full(&self) -> bool {
        self.end - self.start > self.limits.max_head_bytes.max(MAX_CHUNK_LINE)
    }

    /// Parses the head at the start of the buffer and consumes it, once the
    /// blank line that ends it has arrived.
    fn take_head(&mut self) -> Result<Option<RequestHead>, HttpError> {
        self.skip_blank_lines();
        let max = self.limits.max_head_bytes;
        let window = &self.buf[self.start..self.end.min(self.start + max)];
        let Some(len) = find_head_end(window, &mut self.head_scan) else {
            return if window.len() >= max {
                Err(HttpError::new(431, "request head too large"))
            } else {
                Ok(None)
            };
        };
        let head = parse_head(&window[..len], self.limits.max_headers)?;
        self.start += len;
        self.head_scan = 0;
        Ok(Some(head))
    }

    /// Drops empty lines before a request line: RFC 9112 §2.2 asks servers
    /// to ignore them, and some clients send a CRLF after a body.
    fn skip_blank_lines(&mut self) {
        loop {
            match &self.buf[self.start..self.end] {
                [b'\r', b'\n', ..] => self.start += 2,
                [b'\n', ..] => self.start += 1,
                _ => return,
            }
            self.head_scan = 0;
        }
    }
}

/// Finds the blank line that ends a head, searching from `*scan`, and
/// returns the head's length including that line. A bare LF counts as a line
/// end, as it does for `httparse`. When there is none yet, `*scan` moves past
/// every LF that can no longer begin one.
fn find_head_end(data: &[u8], scan: &mut usize) -> Option<usize> {
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
fn parse_head(bytes: &[u8], max_headers: usize) -> Result<RequestHead, HttpError> {
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

/// A request whose head is parsed and whose body is arriving.
#[derive(Debug)]
struct PendingBody {
    head: RequestHead,
    body: Vec<u8>,
    limit: u64,
    framing: BodyFraming,
    /// Whether a `100 Continue` may still be owed: the client asked for one
    /// and neither it nor any of the body has been seen.
    continue_pending: bool,
}

#[derive(Debug)]
enum BodyFraming {
    /// `Content-Length`, or no body at all (0).
    Length {
        remaining: u64,
    },
    Chunked(ChunkState),
}

/// Where a chunked body's decoder is (RFC 9112 §7.1).
#[derive(Debug)]
enum ChunkState {
    /// Reading a chunk-size line; its first `scanned` bytes hold no LF.
    Size { scanned: usize },
    /// Copying a chunk's data.
    Data { remaining: u64 },
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// Skipping the trailer section: `scanned` as for `Size`, `total` is the
    /// number of trailer bytes skipped so far.
    Trailers { scanned: usize, total: usize },
}

impl PendingBody {
    /// Works out the body's framing and, if it has a body, its limit.
    fn new(head: RequestHead, body_limit: &dyn Fn(&RequestHead) -> u64) -> Result<Self, HttpError> {
        let framing = body_framing(&head)?;
        let mut body = Vec::new();
        let limit = match framing {
            BodyFraming::Length { remaining: 0 } => 0,
            BodyFraming::Length { remaining } => {
                let limit = body_limit(&head);
                if remaining > limit {
                    return Err(body_too_large());
                }
                // Capped at MAX_BODY_PREALLOC, so the cast cannot truncate.
                body.reserve(remaining.min(MAX_BODY_PREALLOC) as usize);
                limit
            }
            BodyFraming::Chunked(_) => body_limit(&head),
        };
        Ok(Self {
            continue_pending: head.expects_continue(),
            head,
            body,
            limit,
            framing,
        })
    }

    /// Consumes what it can of `data` into the body; returns how many bytes
    /// it used and whether the body is complete.
    fn advance(&mut self, data: &[u8], max_trailer: usize) -> Result<(usize, bool), HttpError> {
        match &mut self.framing {
            BodyFraming::Length { remaining } => {
                let used = bounded(data.len(), *remaining);
                self.body.extend_from_slice(&data[..used]);
                *remaining -= used as u64;
                Ok((used, *remaining == 0))
            }
            BodyFraming::Chunked(state) => {
                decode_chunked(state, data, &mut self.body, self.limit, max_trailer)
            }
        }
    }

    /// What to tell the caller when the body is not complete after using
    /// `used` more bytes of it.
    fn after_progress(&mut self, used: usize) -> Next {
        if used > 0 {
            // The client is sending the body without waiting.
            self.continue_pending = false;
        }
        if mem::take(&mut self.continue_pending) {
            Next::Continue
        } else {
            Next::NeedMore
        }
    }

    fn finish(self) -> Request {
        Request {
            head: self.head,
            body: self.body,
        }
    }
}

/// How the body of a request is delimited (RFC 9112 §6.3).
fn body_framing(head: &RequestHead) -> Result<BodyFraming, HttpError> {
    let length = content_length(head)?;
    if head.header("transfer-encoding").is_none() {
        return Ok(BodyFraming::Length {
            remaining: length.unwrap_or(0),
        });
    }
    if length.is_some() {
        // The classic request-smuggling ambiguity: refuse rather than pick.
        return Err(bad_request(
            "both Transfer-Encoding and Content-Length are present",
        ));
    }
    if head.minor_version == 0 {
        return Err(bad_request("Transfer-Encoding in an HTTP/1.0 request"));
    }
    check_transfer_codings(head)?;
    Ok(BodyFraming::Chunked(ChunkState::Size { scanned: 0 }))
}

/// The request's `Content-Length`. Repeated values, in several fields or as
/// a list in one, are accepted only if they agree (RFC 9112 §6.3).
fn content_length(head: &RequestHead) -> Result<Option<u64>, HttpError> {
    let mut length = None;
    for value in head.header_values("content-length") {
        for element in value.split(|&b| b == b',') {
            let n = parse_decimal(element.trim_ascii())
                .ok_or_else(|| bad_request("invalid Content-Length"))?;
            if length.is_some_and(|previous| previous != n) {
                return Err(bad_request("conflicting Content-Length values"));
            }
            length = Some(n);
        }
    }
    Ok(length)
}

/// Parses `1*DIGIT` (no sign, no spaces) into a u64.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Accepts exactly one transfer coding, `chunked`: the only one we decode.
/// Other codings are 501 (RFC 9112 §6.1); none, or chunked twice, is
/// malformed.
fn check_transfer_codings(head: &RequestHead) -> Result<(), HttpError> {
    let mut chunked = 0;
    for coding in head.list_elements("transfer-encoding") {
        if !coding.eq_ignore_ascii_case(b"chunked") {
            return Err(HttpError::new(501, "unsupported transfer coding"));
        }
        chunked += 1;
    }
    if chunked == 1 {
        Ok(())
    } else {
        Err(bad_request("invalid Transfer-Encoding"))
    }
}

/// Decodes as much of a chunked body from `data` as has arrived, appending
/// chunk data to `body`. Returns how many bytes it used and whether the body
/// (trailers included) is complete. Chunk extensions and trailer fields are
/// ignored.
fn decode_chunked(
    state: &mut ChunkState,
    data: &[u8],
    body: &mut Vec<u8>,
    limit: u64,
    max_trailer: usize,
) -> Result<(usize, bool), HttpError> {
    let mut pos = 0;
    loop {
        let rest = &data[pos..];
        match state {
            ChunkState::Size { scanned } => {
                let line = take_line(rest, scanned, MAX_CHUNK_LINE)
                    .map_err(|LineTooLong| bad_request("chunk-size line too long"))?;
                let Some(line) = line else {
                    return Ok((pos, false));
                };
                pos += line.len();
                let size = chunk_size(line)?;
                *state = if size == 0 {
                    ChunkState::Trailers {
                        scanned: 0,
                        total: 0,
                    }
                } else if (body.len() as u64).saturating_add(size) > limit {
                    return Err(body_too_large());
                } else {
                    ChunkState::Data { remaining: size }
                };
            }
            ChunkState::Data { remaining } => {
                let used = bounded(rest.len(), *remaining);
                body.extend_from_slice(&rest[..used]);
                pos += used;
                *remaining -= used as u64;
                if *remaining > 0 {
                    return Ok((pos, false));
                }
                *state = ChunkState::DataEnd;
            }
            ChunkState::DataEnd => match rest {
                [b'\r', b'\n', ..] => {
                    pos += 2;
                    *state = ChunkState::Size { scanned: 0 };
                }
                [] | [b'\r'] => return Ok((pos, false)),
                _ => return Err(bad_request("chunk data not followed by CRLF")),
            },
            ChunkState::Trailers { scanned, total } => {
                let line = take_line(rest, scanned, max_trailer.saturating_sub(*total))
                    .map_err(|LineTooLong| HttpError::new(431, "trailer section too large"))?;
                let Some(line) = line else {
                    return Ok((pos, false));
                };
                pos += line.len();
                if matches!(line, b"\r\n" | b"\n") {
                    return Ok((pos, true));
                }
                *total += line.len();
            }
        }
    }
}

/// `available` bytes, but no more than `remaining`.
fn bounded(available: usize, remaining: u64) -> usize {
    usize::try_from(remaining).map_or(available, |remaining| available.min(remaining))
}

/// A line longer than its limit.
struct LineTooLong;

/// The line, LF included, at the start of `data`, or `None` while it is
/// incomplete. `scanned` carries over how much of an incomplete line was
/// already searched, so a line dribbled byte by byte is searched once.
fn take_line<'a>(
    data: &'a [u8],
    scanned: &mut usize,
    max: usize,
) -> Result<Option<&'a [u8]>, LineTooLong> {
    let Some(offset) = data[*scanned..].iter().position(|&b| b == b'\n') else {
        *scanned = data.len();
        return if data.len() > max {
            Err(LineTooLong)
        } else {
            Ok(None)
        };
    };
    let len = *scanned + offset + 1;
    *scanned = 0;
    if len > max {
        Err(LineTooLong)
    } else {
        Ok(Some(&data[..len]))
    }
}

/// The size on a chunk-size line (hex digits, then extensions, then CRLF).
fn chunk_size(line: &[u8]) -> Result<u64, HttpError> {
    // httparse reads a line without digits as size 0; that is malformed.
    if !line.first().is_some_and(u8::is_ascii_hexdigit) {
        return Err(bad_request("invalid chunk size"));
    }
    match httparse::parse_chunk_size(line) {
        Ok(httparse::Status::Complete((_, size))) => Ok(size),
        _ => Err(bad_request("invalid chunk size")),
    }
}

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

    fn no_limit(_: &RequestHead) -> u64 {
        u64::MAX
    }

    fn new_reader() -> RequestReader {
        RequestReader::new(Limits::default())
    }

    /// Copies `bytes` into the reader as reads would.
    fn feed(reader: &mut RequestReader, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let room = reader.buffer_for_read();
            let n = room.len().min(rest.len());
            room[..n].copy_from_slice(&rest[..n]);
            reader.filled(n);
            rest = &rest[n..];
        }
    }

    fn next(reader: &mut RequestReader) -> Result<Next, HttpError> {
        reader.next_request(&no_limit)
    }

    fn expect_request(reader: &mut RequestReader) -> Request {
        match next(reader) {
            Ok(Next::Request(request)) => request,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    fn parse_one(bytes: &[u8]) -> Request {
        let mut reader = new_reader();
        feed(&mut reader, bytes);
        let request = expect_request(&mut reader);
        assert_eq!(next(&mut reader), Ok(Next::NeedMore));
        assert!(reader.is_idle());
        request
    }

    fn error_status(bytes: &[u8]) -> u16 {
        let mut reader = new_reader();
        feed(&mut reader, bytes);
        loop {
            match next(&mut reader) {
                Ok(Next::Request(_)) => {}
                Ok(other) => panic!("expected an error, got {other:?}"),
                Err(e) => return e.status,
            }
        }
    }

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

    fn serialize(response: &Response, keep_alive: bool, minor_version: u8) -> String {
        let mut out = Vec::new();
        response.write_to(&mut out, keep_alive, minor_version);
        String::from_utf8(out).unwrap()
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
    fn post_with_content_length() {
        let request = parse_one(b"POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!(request.head.method, "POST");
        assert_eq!(request.body, b"hello");
    }

    #[test]
    fn repeated_equal_content_lengths_are_accepted() {
        let request =
            parse_one(b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc");
        assert_eq!(request.body, b"abc");
    }

    #[test]
    fn pipelined_requests_come_out_one_per_call() {
        let mut reader = new_reader();
        feed(
            &mut reader,
            b"GET /1 HTTP/1.1\r\n\r\n\
              POST /2 HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody\
              GET /3?x HTTP/1.1\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(expect_request(&mut reader).head.path, "/1");
        let second = expect_request(&mut reader);
        assert_eq!(
            (second.head.path.as_str(), &second.body[..]),
            ("/2", &b"body"[..])
        );
        let third = expect_request(&mut reader);
        assert_eq!(third.head.query, "x");
        assert!(!third.head.keep_alive());
        assert_eq!(next(&mut reader), Ok(Next::NeedMore));
        assert!(reader.is_idle());
    }

    #[test]
    fn leftover_bytes_stay_buffered_for_the_next_request() {
        let mut reader = new_reader();
        feed(&mut reader, b"GET /a HTTP/1.1\r\n\r\nGET /next HT");
        assert_eq!(expect_request(&mut reader).head.path, "/a");
        assert_eq!(next(&mut reader), Ok(Next::NeedMore));
        assert!(!reader.is_idle());
        feed(&mut reader, b"TP/1.1\r\n\r\n");
        assert_eq!(expect_request(&mut reader).head.path, "/next");
        assert!(reader.is_idle());
    }

    #[test]
    fn blank_lines_before_a_request_are_ignored() {
        let mut reader = new_reader();
        feed(
            &mut reader,
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
        );
        assert_eq!(expect_request(&mut reader).body, b"x");
        assert_eq!(expect_request(&mut reader).head.path, "/b");
        feed(&mut reader, b"\r\n");
        assert_eq!(next(&mut reader), Ok(Next::NeedMore));
        assert!(reader.is_idle());
    }

    /// Feeds `bytes` one at a time, asking for a request after each, and
    /// returns every request that came out.
    fn dribble(bytes: &[u8]) -> Vec<Request> {
        let mut reader = new_reader();
        let mut requests = Vec::new();
        for byte in bytes {
            feed(&mut reader, std::slice::from_ref(byte));
            match next(&mut reader).unwrap() {
                Next::Request(request) => requests.push(request),
                Next::NeedMore => {}
                Next::Continue => panic!("no Expect was sent"),
            }
        }
        assert!(reader.is_idle());
        requests
    }

    #[test]
    fn a_request_fed_byte_by_byte_comes_out_once() {
        let bytes = b"POST /slow?a=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world";
        let requests = dribble(bytes);
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].head.path, "/slow");
        assert_eq!(requests[0].body, b"hello world");
        assert_eq!(requests[0], parse_one(bytes));
    }

    #[test]
    fn dribbled_head_is_searched_once() {
        let mut reader = new_reader();
        let head = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n", "a".repeat(8000));
        for byte in head.as_bytes() {
            feed(&mut reader, std::slice::from_ref(byte));
            assert_eq!(next(&mut reader), Ok(Next::NeedMore));
        }
        // Only the last two bytes are left to search again.
        assert_eq!(reader.head_scan, head.len() - 2);
        feed(&mut reader, b"\r\n");
        assert_eq!(
            expect_request(&mut reader)
                .head
                .header("x-big")
                .unwrap()
                .len(),
            8000
        );
    }

    const CHUNKED: &[u8] = b"POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
        4;name=value\r\nWiki\r\n\
        5\r\npedia\r\n\
        E ; a=\"b\"\r\n in\r\n\r\nchunks.\r\n\
        0\r\nX-Trailer: yes\r\nOther: 1\r\n\r\n";

    #[test]
    fn chunked_body_is_decoded() {
        let mut reader = new_reader();
        feed(&mut reader, CHUNKED);
        feed(&mut reader, b"GET /after HTTP/1.1\r\n\r\n");
        let request = expect_request(&mut reader);
        assert_eq!(request.body, b"Wikipedia in\r\n\r\nchunks.");
        assert_eq!(expect_request(&mut reader).head.path, "/after");
        assert!(reader.is_idle());
    }

    #[test]
    fn chunked_body_fed_byte_by_byte() {
        let requests = dribble(CHUNKED);
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].body, b"Wikipedia in\r\n\r\nchunks.");
    }

    #[test]
    fn transfer_coding_names_are_case_insensitive() {
        let request = parse_one(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        );
        assert_eq!(request.body, b"abc");
    }

    #[test]
    fn expect_continue_is_reported_once_before_the_body() {
        let mut reader = new_reader();
        feed(
            &mut reader,
            b"PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
        );
        assert_eq!(next(&mut reader), Ok(Next::Continue));
        assert_eq!(next(&mut reader), Ok(Next::NeedMore));
        feed(&mut reader, b"ab");
        assert_eq!(next(&mut reader), Ok(Next::NeedMore));
        feed(&mut reader, b"c");
        assert_eq!(expect_request(&mut reader).body, b"abc");
        assert_eq!(continue_bytes(), b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn expect_continue_is_skipped_when_the_body_is_already_coming() {
        let mut reader = new_reader();
        feed(
            &mut reader,
            b"PUT /x HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\na",
        );
        assert_eq!(next(&mut reader), Ok(Next::NeedMore));
        feed(&mut reader, b"bc");
        assert_eq!(expect_request(&mut reader).body, b"abc");

        // No body at all: nothing to wait for.
        parse_one(b"GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
        // HTTP/1.0 clients do not wait for it.
        let mut reader = new_reader();
        feed(
            &mut reader,
            b"PUT /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
        );
        assert_eq!(next(&mut reader), Ok(Next::NeedMore));
    }

    #[test]
    fn expect_continue_with_chunked_body() {
        let mut reader = new_reader();
        feed(
            &mut reader,
            b"PUT / HTTP/1.1\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        assert_eq!(next(&mut reader), Ok(Next::Continue));
        feed(&mut reader, b"1\r\nz\r\n0\r\n\r\n");
        assert_eq!(expect_request(&mut reader).body, b"z");
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
    fn content_length_over_the_limit_is_refused_before_the_body() {
        let mut reader = new_reader();
        feed(
            &mut reader,
            b"POST /small HTTP/1.1\r\nContent-Length: 100\r\n\r\n",
        );
        let asked = std::cell::Cell::new(0);
        let limit = |head: &RequestHead| {
            asked.set(asked.get() + 1);
            assert_eq!(head.path, "/small");
            10
        };
        let error = reader.next_request(&limit).unwrap_err();
        assert_eq!(error.status, 413);
        assert_eq!(asked.get(), 1);
    }

    #[test]
    fn body_at_the_limit_is_accepted() {
        let mut reader = new_reader();
        feed(
            &mut reader,
            b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nfour",
        );
        let request = match reader.next_request(&|_| 4) {
            Ok(Next::Request(request)) => request,
            other => panic!("{other:?}"),
        };
        assert_eq!(request.body, b"four");
    }

    #[test]
    fn chunked_body_over_the_limit_is_refused_at_the_chunk_that_passes_it() {
        let mut reader = new_reader();
        feed(
            &mut reader,
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n",
        );
        assert_eq!(reader.next_request(&|_| 8), Ok(Next::NeedMore));
        // The size line alone is enough: its data never needs to arrive.
        feed(&mut reader, b"5\r\n");
        assert_eq!(reader.next_request(&|_| 8).unwrap_err().status, 413);
    }

    #[test]
    fn huge_head_is_431() {
        let limits = Limits {
            max_head_bytes: 1024,
            ..Limits::default()
        };
        let mut reader = RequestReader::new(limits);
        feed(&mut reader, b"GET / HTTP/1.1\r\nX-Long: ");
        feed(&mut reader, &[b'a'; 900]);
        assert_eq!(next(&mut reader), Ok(Next::NeedMore));
        feed(&mut reader, &[b'a'; 200]);
        assert_eq!(next(&mut reader).unwrap_err().status, 431);

        // A complete head over the limit is refused too.
        let mut reader = RequestReader::new(limits);
        let head = format!("GET / HTTP/1.1\r\nX-Long: {}\r\n\r\n", "a".repeat(1100));
        feed(&mut reader, head.as_bytes());
        assert_eq!(next(&mut reader).unwrap_err().status, 431);
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
    fn large_trailer_section_is_431() {
        let mut reader = RequestReader::new(Limits {
            max_head_bytes: 100,
            ..Limits::default()
        });
        feed(
            &mut reader,
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
        );
        // Eight 12-byte fields fit in 100 bytes; a ninth does not.
        for _ in 0..8 {
            feed(&mut reader, b"X-T: 12345\r\n");
        }
        assert_eq!(next(&mut reader), Ok(Next::NeedMore));
        feed(&mut reader, b"X-T: 12345\r\n");
        assert_eq!(next(&mut reader).unwrap_err().status, 431);
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
    fn conflicting_content_lengths_are_400() {
        assert_eq!(
            error_status(b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
            400
        );
        assert_eq!(
            error_status(b"POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\nabcd"),
            400
        );
    }

    #[test]
    fn content_length_with_transfer_encoding_is_400() {
        assert_eq!(
            error_status(
                b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            ),
            400
        );
    }

    #[test]
    fn transfer_codings_other_than_chunked() {
        let request = |te: &str| format!("POST / HTTP/1.1\r\nTransfer-Encoding: {te}\r\n\r\n");
        assert_eq!(error_status(request("gzip, chunked").as_bytes()), 501);
        assert_eq!(error_status(request("identity").as_bytes()), 501);
        assert_eq!(error_status(request("chunked, chunked").as_bytes()), 400);
        assert_eq!(error_status(request("").as_bytes()), 400);
        assert_eq!(
            error_status(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            400
        );
    }

    #[test]
    fn bad_chunks_are_400() {
        let chunked = |body: &str| {
            error_status(
                format!("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{body}").as_bytes(),
            )
        };
        assert_eq!(chunked("zz\r\n"), 400);
        assert_eq!(chunked("\r\n"), 400);
        assert_eq!(chunked("-1\r\n"), 400);
        assert_eq!(chunked("3\nabc\r\n"), 400);
        assert_eq!(chunked("11111111111111111\r\n"), 400);
        assert_eq!(chunked("3\r\nabcX"), 400);
        assert_eq!(chunked(&format!("1;{}", "x".repeat(MAX_CHUNK_LINE))), 400);
    }

    #[test]
    fn other_http_versions_are_505() {
        assert_eq!(error_status(b"GET / HTTP/2.0\r\n\r\n"), 505);
        assert_eq!(error_status(b"GET / HTTP/1.2\r\nHost: x\r\n\r\n"), 505);
        assert_eq!(error_status(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505);
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

    /// A source that hands out its chunks one read at a time, then would
    /// block.
    struct Chunks(Vec<Vec<u8>>);

    impl Read for Chunks {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let chunk = &mut self.0[0];
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            chunk.drain(..n);
            if chunk.is_empty() {
                self.0.remove(0);
            }
            Ok(n)
        }
    }

    #[test]
    fn read_from_reads_until_it_would_block() {
        let mut reader = new_reader();
        let mut source = Chunks(vec![b"GET / HTTP/1.1\r\n".to_vec(), b"\r\nGET /2".to_vec()]);
        assert_eq!(
            reader
                .read_from(&mut source, Drained::AtWouldBlock)
                .unwrap(),
            ReadOutcome::WouldBlock
        );
        assert_eq!(expect_request(&mut reader).head.path, "/");
        assert_eq!(next(&mut reader), Ok(Next::NeedMore));

        let mut rest: &[u8] = b" HTTP/1.1\r\n\r\n";
        assert_eq!(
            reader.read_from(&mut rest, Drained::AtWouldBlock).unwrap(),
            ReadOutcome::Eof
        );
        assert_eq!(expect_request(&mut reader).head.path, "/2");
        assert!(reader.is_idle());
    }

    #[test]
    fn a_short_read_can_end_a_read_without_waiting_for_would_block() {
        let mut reader = new_reader();
        let mut source = Chunks(vec![b"GET / HTTP/1.1\r\n".to_vec(), b"\r\n".to_vec()]);
        assert_eq!(
            reader.read_from(&mut source, Drained::AtShortRead).unwrap(),
            ReadOutcome::WouldBlock
        );
        // One read only: the second chunk is still in the source.
        assert_eq!(source.0.len(), 1);
        assert_eq!(next(&mut reader), Ok(Next::NeedMore));
        assert_eq!(
            reader.read_from(&mut source, Drained::AtShortRead).unwrap(),
            ReadOutcome::WouldBlock
        );
        assert_eq!(expect_request(&mut reader).head.path, "/");
    }

    #[test]
    fn read_from_stops_when_full_and_resumes_after_requests_are_taken() {
        let one = b"POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n";
        let mut stream = Vec::new();
        for _ in 0..100 {
            stream.extend_from_slice(one);
            stream.extend_from_slice(&[b'x'; 1000]);
        }
        let mut source = &stream[..];
        let mut reader = new_reader();
        let mut requests = 0;
        loop {
            let outcome = reader
                .read_from(&mut source, Drained::AtWouldBlock)
                .unwrap();
            assert!(reader.buf.len() <= 2 * (Limits::default().max_head_bytes + READ_SPARE));
            while let Next::Request(request) = next(&mut reader).unwrap() {
                assert_eq!(request.body.len(), 1000);
                requests += 1;
            }
            if outcome == ReadOutcome::Eof {
                break;
            }
            assert_eq!(outcome, ReadOutcome::Full);
        }
        assert_eq!(requests, 100);
        assert!(reader.is_idle());
    }

    #[test]
    fn large_body_streams_through_a_small_buffer() {
        let mut stream = b"PUT / HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n".to_vec();
        stream.resize(stream.len() + 1_000_000, 7);
        let mut source = &stream[..];
        let mut reader = new_reader();
        loop {
            let outcome = reader
                .read_from(&mut source, Drained::AtWouldBlock)
                .unwrap();
            if let Next::Request(request) = next(&mut reader).unwrap() {
                assert_eq!(request.body.len(), 1_000_000);
                assert!(request.body.iter().all(|&b| b == 7));
                break;
            }
            assert_eq!(outcome, ReadOutcome::Full);
        }
        assert!(reader.buf.len() < 64 * 1024);
    }
}
