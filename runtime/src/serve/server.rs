//! The event loop of `luge serve`: one `mio` poller on one thread owns
//! every socket; requests become jobs (a sandbox on the scheduler's
//! workers, or a compilation on a thread of its own) whose results come
//! back through a channel and the poller's waker. The loop itself never
//! blocks on a client or a function.
//!
//! A sandbox writes its response to the client itself, as Sledge's workers
//! do, when nothing else waits to be sent on the connection: the response
//! then leaves without waiting for the loop's thread to wake up, and the
//! loop only books the call and sends what the socket did not take at
//! once.
//!
//! A connection carries one request at a time: while its request runs,
//! later pipelined requests stay buffered (up to the reader's bound, then
//! TCP pushes back) and are taken in order once the response is queued, so
//! responses always leave in request order.

use super::config::ServeConfig;
use super::http::{
    continue_bytes, Drained, HttpError, Limits, Next, ReadOutcome, Request, RequestReader, Response,
};
use super::routes::{Handled, Listener, State};
use luge_scheduler::worker::Scheduler;

use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use std::collections::HashMap;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WAKER: Token = Token(usize::MAX);
const SIGNALS: Token = Token(usize::MAX - 1);
/// Connections are numbered from here; listeners below.
const FIRST_CONNECTION: usize = 1 << 16;

/// A keep-alive connection with no request in progress is closed after
/// this long, and so is one whose request has not fully arrived: a client
/// that dribbles its request may take this long, not longer.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a shutdown waits for requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What a job hands back to the loop: run on the loop's thread, with the
/// server's state, it produces the response.
pub type Finish = Box<dyn FnOnce(&mut State) -> Response + Send>;

/// The bookkeeping of a job that has written its own response, run on the
/// loop's thread.
pub type After = Box<dyn FnOnce(&mut State) + Send>;

/// A job's outcome, as the loop receives it.
enum Completion {
    /// The loop makes the response and sends it.
    Respond(Finish),
    /// The job has written its response but for `unsent`, which the loop
    /// sends; `after` books the call.
    Wrote { unsent: Vec<u8>, after: After },
}

/// How jobs report back to the loop.
#[derive(Clone)]
pub struct Completer {
    tx: Sender<(Token, Completion)>,
    waker: Arc<Waker>,
}

impl Completer {
    fn send(&self, token: Token, completion: Completion) {
        // The loop is gone only when the server has stopped; the result has
        // nowhere to go then.
        if self.tx.send((token, completion)).is_ok() {
            let _ = self.waker.wake();
        }
    }
}

/// Whom a job answers: its connection, through the loop, and, when nothing
/// else waits to be sent there, the connection's socket directly.
pub struct Requester {
    token: Token,
    completer: Completer,
    direct: Option<Direct>,
}

impl Requester {
    /// Answers with the response `finish` makes on the loop's thread.
    pub fn complete(self, finish: Finish) {
        self.completer.send(self.token, Completion::Respond(finish));
    }

    /// Answers with `response`, written from this thread when the
    /// connection allows; `after` then books the call on the loop's thread.
    pub fn respond(self, response: Response, after: After) {
        let completion = match self.direct {
            Some(direct) => Completion::Wrote {
                unsent: direct.write(&response),
                after,
            },
            None => Completion::Respond(Box::new(move |state: &mut State| {
                after(state);
                response
            })),
        };
        self.completer.send(self.token, completion);
    }
}

/// A connection's socket lent to the job running its request, with how
/// the response is framed. The loop writes nothing to a connection while
/// its request runs, so the job's bytes go out in order.
struct Direct {
    socket: Arc<TcpStream>,
    keep_alive: bool,
    minor_version: u8,
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

/// Stops a running server from another thread (SIGTERM and SIGINT do the
/// same): it stops accepting, finishes the requests in flight for up to
/// [`SHUTDOWN_GRACE`], then returns.
#[derive(Clone)]
pub struct ShutdownHandle {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ShutdownHandle {
    pub fn shutdown(&self) {
        self.flag.store(true, Ordering::Release);
        let _ = self.waker.wake();
    }
}

struct Connection {
    /// Shared with the job running the connection's request, which may
    /// write the response (see [`Direct`]).
    socket: Arc<TcpStream>,
    listener: Listener,
    reader: RequestReader,
    /// Bytes to send; `out[sent..]` is still pending.
    out: Vec<u8>,
    sent: usize,
    /// A request of this connection is being run.
    busy: bool,
    /// Whether the request being run keeps the connection open, and its
    /// HTTP minor version.
    keep_alive: bool,
    minor_version: u8,
    /// Close once `out` is sent.
    closing: bool,
    /// The socket may hold bytes not read yet: set by readiness events,
    /// cleared once a read drains it. Without it every response would be
    /// followed by a read that finds nothing.
    readable: bool,
    /// Readiness said the peer closed its side: read until end of file.
    read_closed: bool,
    /// The peer closed its side and every byte before it has been read.
    eof: bool,
    last_active: Instant,
}

/// The server: listeners, connections and the state requests act on.
pub struct Server {
    poll: Poll,
    listeners: Vec<(TcpListener, Listener)>,
    connections: HashMap<Token, Connection>,
    next_token: usize,
    state: State,
    completions: Receiver<(Token, Completion)>,
    shutdown: Arc<AtomicBool>,
    waker: Arc<Waker>,
    signals: Option<signal_hook_mio::v1_0::Signals>,
}

impl Server {
    /// Binds every listener of `config` and prepares `state`, whose
    /// functions are already loaded.
    pub fn bind(
        config: &ServeConfig,
        state: impl FnOnce(Completer) -> State,
    ) -> io::Result<Server> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (tx, completions) = mpsc::channel();
        let completer = Completer {
            tx,
            waker: waker.clone(),
        };
        let mut listeners = Vec::new();
        for (port, listener) in Listener::all(config) {
            let addr = SocketAddr::new(config.host, port);
            let mut socket = TcpListener::bind(addr)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
            poll.registry()
                .register(&mut socket, Token(listeners.len()), Interest::READABLE)?;
            listeners.push((socket, listener));
        }
        Ok(Server {
            poll,
            listeners,
            connections: HashMap::new(),
            next_token: FIRST_CONNECTION,
            state: state(completer),
            completions,
            shutdown: Arc::new(AtomicBool::new(false)),
            waker,
            signals: None,
        })
    }

    /// The addresses listened on, with what each serves.
    pub fn local_addrs(&self) -> Vec<(SocketAddr, Listener)> {
        self.listeners
            .iter()
            .filter_map(|(socket, listener)| Some((socket.local_addr().ok()?, listener.clone())))
            .collect()
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            flag: self.shutdown.clone(),
            waker: self.waker.clone(),
        }
    }

    /// Makes SIGTERM and SIGINT shut the server down gracefully.
    pub fn handle_signals(&mut self) -> io::Result<()> {
        let mut signals = signal_hook_mio::v1_0::Signals::new([
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGINT,
        ])?;
        self.poll
            .registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        self.signals = Some(signals);
        Ok(())
    }

    /// Serves until shut down.
    pub fn run(mut self, scheduler: &Scheduler) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut draining_since: Option<Instant> = None;
        let mut last_sweep = Instant::now();
        loop {
            let timeout = if draining_since.is_some() {
                Duration::from_millis(10)
            } else {
                Duration::from_secs(1)
            };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            for event in events.iter() {
                match event.token() {
                    WAKER => {}
                    SIGNALS => self.take_signals(),
                    Token(i) if i < FIRST_CONNECTION => self.accept(i),
                    token => self.serve(token, event, scheduler),
                }
            }
            self.take_completions(scheduler);
            self.state.flush_log();
            if last_sweep.elapsed() >= Duration::from_secs(1) {
                self.close_idle(IDLE_TIMEOUT);
                last_sweep = Instant::now();
            }
            if self.shutdown.load(Ordering::Acquire) {
                let since = *draining_since.get_or_insert_with(|| {
                    self.stop_listening();
                    Instant::now()
                });
                self.close_idle(Duration::ZERO);
                let busy = self.connections.values().any(|c| c.busy);
                if !busy || since.elapsed() >= SHUTDOWN_GRACE {
                    return Ok(());
                }
            }
        }
    }

    fn take_signals(&mut self) {
        if let Some(signals) = &mut self.signals {
            if signals.pending().next().is_some() {
                self.shutdown.store(true, Ordering::Release);
            }
        }
    }

    fn stop_listening(&mut self) {
        for (mut socket, _) in self.listeners.drain(..) {
            let _ = self.poll.registry().deregister(&mut socket);
        }
    }

    fn accept(&mut self, index: usize) {
        let Some((socket, listener)) = self.listeners.get(index) else {
            return;
        };
        loop {
            let mut stream = match socket.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // A connection that failed before we took it, or no file
                // descriptor left: try again at the next event.
                Err(_) => return,
            };
            let token = Token(self.next_token);
            self.next_token += 1;
            let interest = Interest::READABLE | Interest::WRITABLE;
            if self
                .poll
                .registry()
                .register(&mut stream, token, interest)
                .is_err()
            {
                continue;
            }
            let _ = stream.set_nodelay(true);
            self.connections.insert(
                token,
                Connection {
                    socket: Arc::new(stream),
                    listener: listener.clone(),
                    reader: RequestReader::new(Limits::default()),
                    out: Vec::new(),
                    sent: 0,
                    busy: false,
                    keep_alive: true,
                    minor_version: 1,
                    closing: false,
                    readable: false,
                    read_closed: false,
                    eof: false,
                    last_active: Instant::now(),
                },
            );
        }
    }

    /// Reads, runs and writes whatever the connection allows now.
    fn serve(&mut self, token: Token, event: &Event, scheduler: &Scheduler) {
        let Some(conn) = self.connections.get_mut(&token) else {
            return;
        };
        conn.last_active = Instant::now();
        conn.read_closed |= event.is_read_closed();
        // An error is read to be seen.
        conn.readable |= event.is_readable() || conn.read_closed || event.is_error();
        let alive = pump(conn, token, &mut self.state, scheduler);
        if !alive {
            self.close(token);
        }
    }

    fn take_completions(&mut self, scheduler: &Scheduler) {
        while let Ok((token, completion)) = self.completions.try_recv() {
            let response = match completion {
                Completion::Respond(finish) => Ok(finish(&mut self.state)),
                Completion::Wrote { unsent, after } => {
                    after(&mut self.state);
                    Err(unsent)
                }
            };
            let Some(conn) = self.connections.get_mut(&token) else {
                continue;
            };
            conn.busy = false;
            match response {
                Ok(response) => queue_response(conn, &response),
                Err(unsent) => queue_bytes(conn, |out| out.extend_from_slice(&unsent)),
            }
            let alive = pump(conn, token, &mut self.state, scheduler);
            if !alive {
                self.close(token);
            }
        }
    }

    /// Closes connections that have waited `idle` or longer with nothing
    /// in progress, or with a request that is still arriving.
    fn close_idle(&mut self, idle: Duration) {
        let now = Instant::now();
        let stale: Vec<Token> = self
            .connections
            .iter()
            .filter(|(_, c)| !c.busy && c.sent == c.out.len())
            .filter(|(_, c)| match idle.is_zero() {
                // Shutting down: only connections between requests.
                true => c.reader.is_idle(),
                false => now.duration_since(c.last_active) >= idle,
            })
            .map(|(t, _)| *t)
            .collect();
        for token in stale {
            self.close(token);
        }
    }

    fn close(&mut self, token: Token) {
        if let Some(conn) = self.connections.remove(&token) {
            // A job may still hold the socket for a moment; the descriptor
            // is closed when it lets go.
            let fd = conn.socket.as_raw_fd();
            let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
        }
    }
}

/// Moves a connection forward: writes what is pending, reads what has
/// arrived, and starts the next buffered request if none is running.
/// Returns false when the connection is to be closed.
fn pump(conn: &mut Connection, token: Token, state: &mut State, scheduler: &Scheduler) -> bool {
    loop {
        if !flush(conn) {
            return false;
        }
        if conn.busy {
            return true;
        }
        if conn.closing {
            return conn.sent < conn.out.len();
        }
        let outcome = if conn.eof {
            ReadOutcome::Eof
        } else if !conn.readable {
            ReadOutcome::WouldBlock
        } else {
            let drained = match conn.read_closed {
                true => Drained::AtWouldBlock,
                false => Drained::AtShortRead,
            };
            match conn.reader.read_from(&mut &*conn.socket, drained) {
                Ok(outcome) => outcome,
                Err(_) => return false,
            }
        };
        conn.readable &= outcome == ReadOutcome::Full;
        conn.eof |= outcome == ReadOutcome::Eof;
        let progressed = take_request(conn, token, state, scheduler);
        // After `Full` the socket may hold more, and edge-triggered
        // readiness will not say so again: read on.
        if !progressed && outcome != ReadOutcome::Full {
            // Nothing complete: wait for more bytes, unless none can come.
            return !(conn.eof && conn.sent == conn.out.len());
        }
    }
}

/// Takes the next buffered request, if complete, and starts it. Returns
/// whether anything happened (a response queued or a job started).
fn take_request(
    conn: &mut Connection,
    token: Token,
    state: &mut State,
    scheduler: &Scheduler,
) -> bool {
    let listener = &conn.listener;
    let limit = |head: &super::http::RequestHead| state.body_limit(listener, head);
    let next = conn.reader.next_request(&limit);
    match next {
        Ok(Next::NeedMore) => false,
        Ok(Next::Continue) => {
            conn.out.extend_from_slice(continue_bytes());
            true
        }
        Ok(Next::Request(request)) => {
            start(conn, token, request, state, scheduler);
            true
        }
        Err(HttpError { status, reason }) => {
            state.note_rejected(status);
            conn.keep_alive = false;
            queue_response(conn, &Response::text(status, &format!("{reason}\n")));
            true
        }
    }
}

fn start(
    conn: &mut Connection,
    token: Token,
    request: Request,
    state: &mut State,
    scheduler: &Scheduler,
) {
    conn.keep_alive = request.head.keep_alive();
    conn.minor_version = request.head.minor_version;
    let direct = (conn.sent == conn.out.len()).then(|| Direct {
        socket: conn.socket.clone(),
        keep_alive: conn.keep_alive,
        minor_version: conn.minor_version,
    });
    let requester = Requester {
        token,
        completer: state.completer.clone(),
        direct,
    };
    match state.handle(&conn.listener, requester, request, scheduler) {
        Handled::Now(response) => queue_response(conn, &response),
        Handled::Later => conn.busy = true,
    }
}

fn queue_response(conn: &mut Connection, response: &Response) {
    let (keep_alive, minor_version) = (conn.keep_alive, conn.minor_version);
    queue_bytes(conn, |out| {
        response.write_to(out, keep_alive, minor_version)
    });
}

/// Queues the bytes `write` appends: the current request's response.
fn queue_bytes(conn: &mut Connection, write: impl FnOnce(&mut Vec<u8>)) {
    if conn.sent == conn.out.len() {
        conn.out.clear();
        conn.sent = 0;
    }
    write(&mut conn.out);
    if !conn.keep_alive {
        conn.closing = true;
    }
}

/// Writes pending bytes until done or the socket would block. Returns false
/// on a write error.
fn flush(conn: &mut Connection) -> bool {
    while conn.sent < conn.out.len() {
        match (&*conn.socket).write(&conn.out[conn.sent..]) {
            Ok(0) => return false,
            Ok(n) => conn.sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}
