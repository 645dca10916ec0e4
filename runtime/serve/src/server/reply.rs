//! How a request's answer gets back to its connection: jobs (sandboxes on
//! the scheduler's workers, compilations on threads of their own) answer
//! through a [`Requester`], which writes the response to the socket itself
//! when it can and hands the loop the rest, or the step that makes the
//! response, through a channel and the poller's waker.

use crate::http::Response;
use mio::net::TcpStream;
use mio::{Token, Waker};
use std::io::{self, Write};
use std::sync::mpsc::Sender;
use std::sync::Arc;

/// How a request is answered.
pub enum Handled {
    /// At once, with this response.
    Now(Response),
    /// By a job, which completes through its [`Requester`].
    Later,
}

/// What a job hands back to the loop: run on the loop's thread, with the
/// server's handler `H`, it produces the response.
pub type Finish<H> = Box<dyn FnOnce(&mut H) -> Response + Send>;

/// The bookkeeping of a job that has written its own response, run on the
/// loop's thread.
pub type After<H> = Box<dyn FnOnce(&mut H) + Send>;

/// A job's outcome, as the loop receives it.
pub(super) enum Completion<H> {
    /// The loop makes the response and sends it.
    Respond(Finish<H>),
    /// The job has written its response but for `unsent`, which the loop
    /// sends; `after` books the call.
    Wrote { unsent: Vec<u8>, after: After<H> },
}

/// How jobs report back to the loop.
pub(super) struct Completer<H> {
    pub(super) tx: Sender<(Token, Completion<H>)>,
    pub(super) waker: Arc<Waker>,
}

impl<H> Clone for Completer<H> {
    fn clone(&self) -> Self {
        Completer {
            tx: self.tx.clone(),
            waker: self.waker.clone(),
        }
    }
}

impl<H> Completer<H> {
    fn send(&self, token: Token, completion: Completion<H>) {
        // The loop is gone only when the server has stopped; the result has
        // nowhere to go then.
        if self.tx.send((token, completion)).is_ok() {
            let _ = self.waker.wake();
        }
    }
}

/// Whom a job answers: its connection, through the loop, and, when nothing
/// else waits to be sent there, the connection's socket directly.
pub struct Requester<H> {
    pub(super) token: Token,
    pub(super) completer: Completer<H>,
    pub(super) direct: Option<Direct>,
}

impl<H: 'static> Requester<H> {
    /// Answers with the response `finish` makes on the loop's thread.
    pub fn complete(self, finish: Finish<H>) {
        self.completer.send(self.token, Completion::Respond(finish));
    }

    /// Answers with `response`, written from this thread when the
    /// connection allows; `after` then books the call on the loop's thread.
    pub fn respond(self, response: Response, after: After<H>) {
        let completion = match self.direct {
            Some(direct) => Completion::Wrote {
                unsent: direct.write(&response),
                after,
            },
            None => Completion::Respond(Box::new(move |handler: &mut H| {
                after(handler);
                response
            })),
        };
        self.completer.send(self.token, completion);
    }
}

/// A connection's socket lent to the job running its request, with how
/// the response is framed. The loop writes nothing to a connection while
/// its request runs, so the job's bytes go out in order.
pub(super) struct Direct {
    pub(super) socket: Arc<TcpStream>,
    pub(super) keep_alive: bool,
    pub(super) minor_version: u8,
}

impl Direct {
    /// Writes `response` as far as the socket takes it without blocking;
    /// returns the rest. A write error also leaves the rest to the loop,
    /// whose own write then sees the error and closes the connection.
    fn write(&self, response: &Response) -> Vec<u8> {
        let mut bytes = Vec::new();
        response.write_to(&mut bytes, self.keep_alive, self.minor_version);
        let mut sent = 0;
        while sent < bytes.len() {
            match (&*self.socket).write(&bytes[sent..]) {
                Ok(0) => break,
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        bytes.drain(..sent);
        bytes
    }
}
