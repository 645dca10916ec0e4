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

mod body;
mod head;
mod request;
mod response;

pub use head::RequestHead;
pub use request::{Drained, Limits, Next, Phase, ReadOutcome, Request, RequestReader};
pub use response::{continue_bytes, reason_phrase, Response};

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
