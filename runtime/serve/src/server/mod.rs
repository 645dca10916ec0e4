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

mod reply;

pub use reply::{After, Finish, Handled, Requester};

use crate::config::ServeConfig;
use crate::http::{
    continue_bytes, Drained, HttpError, Limits, Next, ReadOutcome, Request, RequestHead,
    RequestReader, Response,
};
use luge_scheduler::worker::Scheduler;
use reply::{Completer, Completion, Direct};

use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use std::cell::Cell;
use std::collections::HashMap;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::mpsc::{self, Receiver};
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

/// What a listening socket serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listener {
    /// A tenant's routes (and `GET /metrics`).
    Tenant { name: String, port: u16 },
    /// Live management and OpenWhisk's REST API, behind the bearer token.
    Admin,
    /// OpenWhisk's action-container protocol (`/init`, `/run`).
    ActionContainer,
}

impl Listener {
    /// Every listener `config` asks for, with its port.
    pub fn all(config: &ServeConfig) -> Vec<(u16, Listener)> {
        let tenants = config.tenants.iter().map(|t| {
            let listener = Listener::Tenant {
                name: t.name.clone(),
                port: t.port,
            };
            (t.port, listener)
        });
        let admin = config.admin.iter().map(|a| (a.port, Listener::Admin));
        let container = config
            .openwhisk
            .iter()
            .map(|o| (o.port, Listener::ActionContainer));
        tenants.chain(admin).chain(container).collect()
    }
}

/// What the loop asks of whatever answers its requests. Everything here
/// runs on the loop's thread and must not block.
pub trait Handler: Sized + 'static {
    /// Answers `request`, which arrived on `listener`: at once, or later
    /// through `requester` from a job.
    fn handle(
        &mut self,
        listener: &Listener,
        requester: Requester<Self>,
        request: Request,
        scheduler: &Scheduler,
    ) -> Handled;

    /// Judges a request on `listener` by its head alone, before any of
    /// its body is read: the most body bytes it may carry, or the response
    /// that refuses it (a missing credential, say), after which the
    /// connection is closed with the body unread.
    fn admit(&self, listener: &Listener, head: &RequestHead) -> Result<u64, Response>;

    /// Counts a request the HTTP layer refused with `status`.
    fn note_rejected(&self, status: u16);

    /// Called once per round of the loop: a chance to write out what was
    /// buffered (log lines) in one go.
    fn end_round(&mut self);
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
    /// When the peer last took bytes of `out`, or `out` last became
    /// non-empty: a peer that takes none for the send timeout is not
    /// reading, and its connection is closed (see [`Server::close_stalled`]).
    last_sent: Instant,
}

/// The server: listeners, connections and the handler that answers.
pub struct Server<H: Handler> {
    poll: Poll,
    listeners: Vec<(TcpListener, Listener)>,
    connections: HashMap<Token, Connection>,
    next_token: usize,
    handler: H,
    completer: Completer<H>,
    completions: Receiver<(Token, Completion<H>)>,
    /// Set by SIGTERM or SIGINT: stop accepting, finish what is in flight.
    shutdown: bool,
    signals: Option<signal_hook_mio::v1_0::Signals>,
    /// How long a response may wait for its client to read any of it.
    send_timeout: Duration,
}

impl<H: Handler> Server<H> {
    /// Binds every listener of `config`, to be answered by `handler`.
    pub fn bind(config: &ServeConfig, handler: H) -> io::Result<Server<H>> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (tx, completions) = mpsc::channel();
        let completer = Completer { tx, waker };
        let mut listeners = Vec::new();
        for (port, listener) in Listener::all(config) {
            let addr = SocketAddr::new(config.host, port);
            let mut socket = listen(addr)
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
            handler,
            completer,
            completions,
            shutdown: false,
            signals: None,
            send_timeout: config.send_timeout,
        })
    }

    /// The addresses listened on, with what each serves.
    pub fn local_addrs(&self) -> Vec<(SocketAddr, Listener)> {
        self.listeners
            .iter()
            .filter_map(|(socket, listener)| Some((socket.local_addr().ok()?, listener.clone())))
            .collect()
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
            self.handler.end_round();
            if last_sweep.elapsed() >= Duration::from_secs(1) {
                self.close_idle(IDLE_TIMEOUT);
                self.close_stalled();
                last_sweep = Instant::now();
            }
            if self.shutdown {
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
                self.shutdown = true;
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
                    last_sent: Instant::now(),
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
        let alive = pump(conn, token, &mut self.handler, &self.completer, scheduler);
        if !alive {
            self.close(token);
        }
    }

    fn take_completions(&mut self, scheduler: &Scheduler) {
        while let Ok((token, completion)) = self.completions.try_recv() {
            let response = match completion {
                Completion::Respond(finish) => Ok(finish(&mut self.handler)),
                Completion::Wrote { unsent, after } => {
                    after(&mut self.handler);
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
            let alive = pump(conn, token, &mut self.handler, &self.completer, scheduler);
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

    /// Closes connections whose client has read nothing of a pending
    /// response for the send timeout: their buffer is freed rather than
    /// kept for a client that may never read it.
    fn close_stalled(&mut self) {
        let timeout = self.send_timeout;
        let stalled: Vec<Token> = self
            .connections
            .iter()
            .filter(|(_, c)| c.sent < c.out.len() && c.last_sent.elapsed() >= timeout)
            .map(|(t, _)| *t)
            .collect();
        for token in stalled {
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

/// Connections the kernel may hold for the loop to accept (it caps this
/// at `net.core.somaxconn`). The 128 of `listen` by default overflows in a
/// burst of a few hundred connections, and a client whose connection is
/// dropped that way waits a whole second to retry.
const LISTEN_BACKLOG: i32 = 4096;

/// A listener on `addr`, with [`LISTEN_BACKLOG`].
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    use rustix::net::{sockopt, AddressFamily, SocketFlags, SocketType};
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let flags = SocketFlags::CLOEXEC | SocketFlags::NONBLOCK;
    let socket = rustix::net::socket_with(family, SocketType::STREAM, flags, None)?;
    sockopt::set_socket_reuseaddr(&socket, true)?;
    rustix::net::bind(&socket, &addr)?;
    rustix::net::listen(&socket, LISTEN_BACKLOG)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// Moves a connection forward: writes what is pending, reads what has
/// arrived, and starts the next buffered request if none is running.
/// Returns false when the connection is to be closed.
fn pump<H: Handler>(
    conn: &mut Connection,
    token: Token,
    handler: &mut H,
    completer: &Completer<H>,
    scheduler: &Scheduler,
) -> bool {
    loop {
        if !flush(conn) {
            return false;
        }
        // One response at a time: while the client has not taken the last
        // one, its next requests wait unread, so a client that pipelines
        // requests and never reads holds at most one response here.
        if conn.busy || conn.sent < conn.out.len() {
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
        let progressed = take_request(conn, token, handler, completer, scheduler);
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
fn take_request<H: Handler>(
    conn: &mut Connection,
    token: Token,
    handler: &mut H,
    completer: &Completer<H>,
    scheduler: &Scheduler,
) -> bool {
    let listener = &conn.listener;
    // The reader speaks `HttpError`; a refusal's full response (headers
    // such as `WWW-Authenticate`) waits here.
    let refusal = Cell::new(None);
    let admit = |head: &RequestHead| {
        handler.admit(listener, head).map_err(|response| {
            let error = HttpError::new(response.status, "");
            refusal.set(Some(response));
            error
        })
    };
    let next = conn.reader.next_request(&admit);
    match next {
        Ok(Next::NeedMore) => false,
        Ok(Next::Continue) => {
            conn.out.extend_from_slice(continue_bytes());
            true
        }
        Ok(Next::Request(request)) => {
            let requester = requester(conn, token, &request.head, completer);
            match handler.handle(&conn.listener, requester, request, scheduler) {
                Handled::Now(response) => queue_response(conn, &response),
                Handled::Later => conn.busy = true,
            }
            true
        }
        Err(HttpError { status, reason }) => {
            handler.note_rejected(status);
            conn.keep_alive = false;
            let response = refusal
                .take()
                .unwrap_or_else(|| Response::text(status, &format!("{reason}\n")));
            queue_response(conn, &response);
            true
        }
    }
}

/// The requester of a request starting on `conn`: the job may write to
/// the socket itself when nothing else waits to be sent there.
fn requester<H>(
    conn: &mut Connection,
    token: Token,
    head: &RequestHead,
    completer: &Completer<H>,
) -> Requester<H> {
    conn.keep_alive = head.keep_alive();
    conn.minor_version = head.minor_version;
    let direct = (conn.sent == conn.out.len()).then(|| Direct {
        socket: conn.socket.clone(),
        keep_alive: conn.keep_alive,
        minor_version: conn.minor_version,
    });
    Requester {
        token,
        completer: completer.clone(),
        direct,
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
        conn.last_sent = Instant::now();
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
            Ok(n) => {
                conn.sent += n;
                conn.last_sent = Instant::now();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}
