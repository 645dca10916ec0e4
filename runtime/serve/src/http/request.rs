//! Requests as they come off a connection: [`RequestReader`] buffers the
//! bytes read, takes heads and bodies out of them (keep-alive and
//! pipelining: one request after another on the same connection) and tells
//! the event loop when to read, wait or answer `100 Continue`.

use super::body::{PendingBody, MAX_CHUNK_LINE};
use super::head::{find_head_end, parse_head, RequestHead};
use super::HttpError;
use std::io::{self, Read};

/// Smallest free space offered to one `read`: small enough that an idle
/// connection costs little, large enough for a typical request in one call.
const READ_SPARE: usize = 4096;

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
    /// arrived: write [`continue_bytes`](super::continue_bytes) (this is
    /// returned once per request), then keep reading.
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

/// Where a connection's next request stands ([`RequestReader::phase`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Nothing of it has arrived.
    Idle,
    /// Part of its head has arrived.
    Head,
    /// Its head is parsed and `received` bytes of its body (de-chunked)
    /// have arrived.
    Body { received: u64 },
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
    /// `admit` is asked once per request, right after its head is parsed and
    /// before any of its body is buffered: it answers with the most body
    /// bytes the request may carry (a `Content-Length` over it is refused
    /// with 413 at once, a chunked body as soon as a chunk would take it
    /// over), or with an error that refuses the request as it stands, such
    /// as a missing credential.
    pub fn next_request(
        &mut self,
        admit: &dyn Fn(&RequestHead) -> Result<u64, HttpError>,
    ) -> Result<Next, HttpError> {
        let mut pending = match self.pending.take() {
            Some(pending) => pending,
            None => match self.take_head()? {
                Some(head) => {
                    let limit = admit(&head)?;
                    PendingBody::new(head, limit)?
                }
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
        self.phase() == Phase::Idle
    }

    /// Where the connection's next request stands, for the deadlines of
    /// its head and body.
    pub fn phase(&self) -> Phase {
        match &self.pending {
            Some(pending) => Phase::Body {
                received: pending.received(),
            },
            None if self.start == self.end => Phase::Idle,
            None => Phase::Head,
        }
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

#[cfg(test)]
pub(super) mod test_support {
    //! Helpers for the tests of every part of the request parser: they feed
    //! bytes to a [`RequestReader`] as reads would and take requests out.

    use super::*;

    pub(in crate::http) fn no_limit(_: &RequestHead) -> Result<u64, HttpError> {
        Ok(u64::MAX)
    }

    pub(in crate::http) fn new_reader() -> RequestReader {
        RequestReader::new(Limits::default())
    }

    /// Copies `bytes` into the reader as reads would.
    pub(in crate::http) fn feed(reader: &mut RequestReader, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let room = reader.buffer_for_read();
            let n = room.len().min(rest.len());
            room[..n].copy_from_slice(&rest[..n]);
            reader.filled(n);
            rest = &rest[n..];
        }
    }

    pub(in crate::http) fn next(reader: &mut RequestReader) -> Result<Next, HttpError> {
        reader.next_request(&no_limit)
    }

    pub(in crate::http) fn expect_request(reader: &mut RequestReader) -> Request {
        match next(reader) {
            Ok(Next::Request(request)) => request,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    pub(in crate::http) fn parse_one(bytes: &[u8]) -> Request {
        let mut reader = new_reader();
        feed(&mut reader, bytes);
        let request = expect_request(&mut reader);
        assert_eq!(next(&mut reader), Ok(Next::NeedMore));
        assert!(reader.is_idle());
        request
    }

    pub(in crate::http) fn error_status(bytes: &[u8]) -> u16 {
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

    /// Feeds `bytes` one at a time, asking for a request after each, and
    /// returns every request that came out.
    pub(in crate::http) fn dribble(bytes: &[u8]) -> Vec<Request> {
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
}

#[cfg(test)]
mod tests {
    use super::test_support::{dribble, expect_request, feed, new_reader, next, parse_one};
    use super::*;

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
