//! Request bodies: framing by `Content-Length` or `Transfer-Encoding:
//! chunked` (RFC 9112 §6), the chunked decoder, the per-route body limit and
//! whether a `100 Continue` is owed.

use super::head::RequestHead;
use super::request::{Next, Request};
use super::{bad_request, HttpError};
use std::mem;

/// Longest chunk-size line accepted, extensions included. Extensions are
/// ignored, so a longer line can only be an attempt to make us buffer.
pub(super) const MAX_CHUNK_LINE: usize = 4096;

/// Most capacity reserved up front for a `Content-Length` body. A client may
/// announce a large body and send nothing, so past this the body grows only
/// as its bytes arrive.
const MAX_BODY_PREALLOC: u64 = 64 * 1024;

fn body_too_large() -> HttpError {
    HttpError::new(413, "request body over the route's limit")
}

/// A request whose head is parsed and whose body is arriving.
#[derive(Debug)]
pub(super) struct PendingBody {
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
    /// Works out the body's framing; `limit` is the most body bytes the
    /// request may carry.
    pub(super) fn new(head: RequestHead, limit: u64) -> Result<Self, HttpError> {
        let framing = body_framing(&head)?;
        let mut body = Vec::new();
        if let BodyFraming::Length { remaining } = framing {
            if remaining > limit {
                return Err(body_too_large());
            }
            // Capped at MAX_BODY_PREALLOC, so the cast cannot truncate.
            body.reserve(remaining.min(MAX_BODY_PREALLOC) as usize);
        }
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
    pub(super) fn advance(
        &mut self,
        data: &[u8],
        max_trailer: usize,
    ) -> Result<(usize, bool), HttpError> {
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
    pub(super) fn after_progress(&mut self, used: usize) -> Next {
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

    /// Body bytes received so far.
    pub(super) fn received(&self) -> u64 {
        self.body.len() as u64
    }

    pub(super) fn finish(self) -> Request {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::test_support::{
        dribble, error_status, expect_request, feed, new_reader, next, parse_one,
    };
    use crate::http::{continue_bytes, Limits, RequestReader};

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
            Ok(10)
        };
        let error = reader.next_request(&limit).unwrap_err();
        assert_eq!(error.status, 413);
        assert_eq!(asked.get(), 1);
    }

    #[test]
    fn a_head_refused_by_admit_buffers_none_of_its_body() {
        let mut reader = new_reader();
        feed(
            &mut reader,
            b"PUT /functions/f HTTP/1.1\r\nContent-Length: 100000000\r\n\r\nfirst bytes",
        );
        let refuse = |_: &RequestHead| Err(HttpError::new(401, "no credentials"));
        // Refused with 11 of the 100000000 body bytes here: the rest need
        // never be read.
        assert_eq!(reader.next_request(&refuse).unwrap_err().status, 401);
    }

    #[test]
    fn body_at_the_limit_is_accepted() {
        let mut reader = new_reader();
        feed(
            &mut reader,
            b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nfour",
        );
        let request = match reader.next_request(&|_| Ok(4)) {
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
        assert_eq!(reader.next_request(&|_| Ok(8)), Ok(Next::NeedMore));
        // The size line alone is enough: its data never needs to arrive.
        feed(&mut reader, b"5\r\n");
        assert_eq!(reader.next_request(&|_| Ok(8)).unwrap_err().status, 413);
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
}
