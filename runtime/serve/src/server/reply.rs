//! How a request's answer gets back to its connection: jobs (sandboxes on
//! the scheduler's workers, compilations on threads of their own) answer
//! through a [`Requester`], which writes the response to the socket itself
//! when it can and hands the loop the rest, or the step that makes the
//! response, through a channel and the poller's waker. A detached
//! requester (a non-blocking invocation, already answered) answers no one:
//! what the job must keep it keeps itself, and the loop gets only its
//! bookkeeping.

use crate::http::Response;
use mio::net::TcpStream;
use mio::{Token, Waker};
use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// sends (a detached job has nothing to send); `after` books the call.
    Wrote { unsent: Vec<u8>, after: After<H> },
}

/// What a job sends the loop: its outcome, with the connection to answer,
/// or `None` for a detached job.
pub(super) type Message<H> = (Option<Token>, Completion<H>);

/// How jobs report back to the loop.
pub(super) struct Completer<H> {
    pub(super) tx: Sender<Message<H>>,
    pub(super) waker: Arc<Waker>,
    /// Detached jobs not yet booked: a shutdown waits for them as for
    /// connections whose request runs.
    pub(super) detached: Arc<AtomicUsize>,
}

impl<H> Clone for Completer<H> {
    fn clone(&self) -> Self {
        Completer {
            tx: self.tx.clone(),
            waker: self.waker.clone(),
            detached: self.detached.clone(),
        }
    }
}

impl<H> Completer<H> {
    /// Whether detached jobs are still running (or their bookkeeping is
    /// still to run).
    pub(super) fn detached_running(&self) -> bool {
        self.detached.load(Ordering::Relaxed) > 0
    }

    fn send(&self, token: Option<Token>, completion: Completion<H>) {
        // The loop is gone only when the server has stopped; the result has
        // nowhere to go then.
        if self.tx.send((token, completion)).is_ok() {
            let _ = self.waker.wake();
        }
    }
}

/// Whom a job answers: its connection, through the loop, and, when nothing
/// else waits to be sent there, the connection's socket directly; or, once
/// detached, no one.
pub struct Requester<H> {
    pub(super) completer: Completer<H>,
    pub(super) to: Destination,
}

/// Where a job's response goes.
pub(super) enum Destination {
    /// The connection `token`, whose socket is lent as `direct` when
    /// nothing else waits to be sent there.
    Connection {
        token: Token,
        direct: Option<Direct>,
    },
    /// Nowhere: the request was answered when the job started. This
    /// counts the job among the detached until its bookkeeping has run on
    /// the loop, or until it is dropped unanswered (a call refused before
    /// it started).
    Detached(Detached),
}

/// One detached job, counted in [`Completer::detached`] while it lives.
pub(super) struct Detached(Arc<AtomicUsize>);

impl Detached {
    fn new(count: &Arc<AtomicUsize>) -> Detached {
        count.fetch_add(1, Ordering::Relaxed);
        Detached(count.clone())
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<H: 'static> Requester<H> {
    /// A requester for a job that answers no connection: the request that
    /// starts it is answered at once, by its handler, and its response is
    /// dropped; its bookkeeping still runs on the loop, and a shutdown
    /// waits for it.
    pub fn detach(self) -> Requester<H> {
        let counted = Detached::new(&self.completer.detached);
        Requester {
            completer: self.completer,
            to: Destination::Detached(counted),
        }
    }

    /// Answers with the response `finish` makes on the loop's thread.
    pub fn complete(self, finish: Finish<H>) {
        match self.to {
            Destination::Connection { token, .. } => {
                self.completer
                    .send(Some(token), Completion::Respond(finish));
            }
            Destination::Detached(counted) => {
                let after: After<H> = Box::new(move |handler: &mut H| {
                    finish(handler);
                    drop(counted);
                });
                let completion = Completion::Wrote {
                    unsent: Vec::new(),
                    after,
                };
                self.completer.send(None, completion);
            }
        }
    }

    /// Answers with `response`, written from this thread when the
    /// connection allows (dropped, if detached); `after` then books the
    /// call on the loop's thread.
    pub fn respond(self, response: Response, after: After<H>) {
        let (token, completion) = match self.to {
            Destination::Connection {
                token,
                direct: Some(direct),
            } => {
                let unsent = direct.write(&response);
                (Some(token), Completion::Wrote { unsent, after })
            }
            Destination::Connection {
                token,
                direct: None,
            } => {
                let finish = Box::new(move |handler: &mut H| {
                    after(handler);
                    response
                });
                (Some(token), Completion::Respond(finish))
            }
            Destination::Detached(counted) => {
                drop(response);
                let after: After<H> = Box::new(move |handler: &mut H| {
                    after(handler);
                    drop(counted);
                });
                let unsent = Vec::new();
                (None, Completion::Wrote { unsent, after })
            }
        };
        self.completer.send(token, completion);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{self, Receiver};

    /// The test's stand-in for the server's handler: what was booked.
    type Booked = Vec<&'static str>;

    /// A completer whose loop is this test, and a requester for connection
    /// 7 that has no socket lent.
    fn requester() -> (Requester<Booked>, Receiver<Message<Booked>>) {
        let poll = mio::Poll::new().unwrap();
        let waker = Arc::new(Waker::new(poll.registry(), Token(0)).unwrap());
        let (tx, rx) = mpsc::channel();
        let completer = Completer {
            tx,
            waker,
            detached: Arc::default(),
        };
        let to = Destination::Connection {
            token: Token(7),
            direct: None,
        };
        (Requester { completer, to }, rx)
    }

    #[test]
    fn a_detached_job_answers_no_connection_and_counts_until_it_is_booked() {
        for by_loop in [false, true] {
            let (requester, completions) = requester();
            let count = requester.completer.detached.clone();
            let requester = requester.detach();
            assert_eq!(count.load(Ordering::Relaxed), 1);
            if by_loop {
                requester.complete(Box::new(|booked: &mut Booked| {
                    booked.push("made");
                    Response::text(202, "")
                }));
            } else {
                let after: After<Booked> = Box::new(|booked: &mut Booked| booked.push("booked"));
                requester.respond(Response::text(200, ""), after);
            }
            let (token, completion) = completions.try_recv().unwrap();
            assert_eq!(token, None);
            let Completion::Wrote { unsent, after } = completion else {
                panic!("a detached job has nothing for the loop to send");
            };
            assert!(unsent.is_empty());
            // Counted until the loop has booked it: a shutdown waits.
            assert_eq!(count.load(Ordering::Relaxed), 1);
            let mut booked = Vec::new();
            after(&mut booked);
            assert_eq!(count.load(Ordering::Relaxed), 0);
            assert_eq!(booked, [if by_loop { "made" } else { "booked" }]);
        }
    }

    #[test]
    fn a_detached_job_dropped_unanswered_is_no_longer_waited_for() {
        let (requester, completions) = requester();
        let count = requester.completer.detached.clone();
        let requester = requester.detach();
        drop(requester);
        assert_eq!(count.load(Ordering::Relaxed), 0);
        assert!(completions.try_recv().is_err());
    }
}
