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

mod limits;
mod reply;

pub use reply::{After, Finish, Handled, Requester};

use crate::config::{ConnectionLimits, ServeConfig};
use crate::http::{
    continue_bytes, Drained, HttpError, Limits, Next, Phase, ReadOutcome, Request, RequestHead,
    RequestReader, Response,
};
use limits::{PerClient, Throttled};
use luge_scheduler::worker::Scheduler;
use reply::{Completer, Completion, Destination, Direct, Message};

use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use std::cell::Cell;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WAKER: Token = Token(usize::MAX);
const SIGNALS: Token = Token(usize::MAX - 1);
/// Connections are numbered from here; listeners below.
const FIRST_CONNECTION: usize = 1 << 16;

/// How often the loop looks for connections past a deadline (head, body,
/// idle, send): deadlines are kept to within this much.
const SWEEP: Duration = Duration::from_millis(250);
/// How long accepting pauses when the process has no descriptor left and
/// no connection could be closed to free one.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// A connection closed after a response whose client may still be sending
/// (a body refused at its head, a request cut off at a deadline) is read
/// and discarded for up to this long, or [`LINGER_BYTES`], before it is
/// closed: closing with unread bytes makes the kernel send a reset, which
/// can destroy the response before the client reads it.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: u64 = 1 << 20;
/// How long a shutdown waits for requests in flight (and detached calls).
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

    /// Counts what the loop did to connections on its own account.
    fn note_connections(&self, event: ConnectionEvent);

    /// Called once per round of the loop: a chance to write out what was
    /// buffered (log lines) in one go, and to look after what the round
    /// changed.
    fn end_round(&mut self);
}

/// What the loop did to connections on its own account, with a reason
/// such as `"head_timeout"`, for the handler to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// A new connection was closed at once: `client_limit` (its address
    /// has as many open as it may), `server_limit` (the server has, and
    /// every one has a request running) or `no_descriptors`.
    Refused(&'static str),
    /// An open connection was closed: `head_timeout`, `body_timeout`,
    /// `idle`, `send_timeout` or `evicted` (to make room for a newcomer).
    Closed(&'static str),
    /// How many connections are open now.
    Open(usize),
}

struct Connection {
    /// Shared with the job running the connection's request, which may
    /// write the response (see [`Direct`]).
    socket: Arc<TcpStream>,
    listener: Listener,
    /// The client's address, for the per-client cap.
    peer: IpAddr,
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
    /// Where the next request stood when last looked at, and since when:
    /// the start of the head, body or idle deadline. A request that runs
    /// or a response being sent stops the clock, which restarts when the
    /// connection waits for its client again.
    phase: Phase,
    phase_since: Instant,
    /// Closing: the last response is sent and our side shut down; what the
    /// client still sends is discarded until then (see [`LINGER`]).
    lingering_until: Option<Instant>,
    /// Bytes discarded while lingering.
    lingered: u64,
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
    completions: Receiver<Message<H>>,
    /// Set by SIGTERM or SIGINT: stop accepting, finish what is in flight.
    shutdown: bool,
    signals: Option<signal_hook_mio::v1_0::Signals>,
    limits: ConnectionLimits,
    /// The server-wide cap on open connections.
    max_connections: usize,
    clients: PerClient,
    /// Accepting waits until then: the process ran out of descriptors.
    accept_paused_until: Option<Instant>,
    notes: LimitNotes,
}

/// Notes to the operator when a connection limit is reached.
#[derive(Default)]
struct LimitNotes {
    server_full: Throttled,
    client_full: Throttled,
    no_descriptors: Throttled,
}

impl<H: Handler> Server<H> {
    /// Binds every listener of `config`, to be answered by `handler`.
    pub fn bind(config: &ServeConfig, handler: H) -> io::Result<Server<H>> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (tx, completions) = mpsc::channel();
        let completer = Completer {
            tx,
            waker,
            detached: Arc::default(),
        };
        let mut listeners = Vec::new();
        for (port, listener) in Listener::all(config) {
            let addr = SocketAddr::new(config.host, port);
            let mut socket = listen_when_free(addr)
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
            limits: config.connections,
            max_connections: limits::connection_cap(&config.connections),
            clients: PerClient::new(config.connections.max_per_client),
            accept_paused_until: None,
            notes: LimitNotes::default(),
        })
    }

    /// The most connections the server keeps open at once.
    pub fn max_connections(&self) -> usize {
        self.max_connections
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
        let mut reported_open = 0;
        loop {
            let timeout = if draining_since.is_some() {
                Some(Duration::from_millis(10))
            } else if self.connections.is_empty() && self.accept_paused_until.is_none() {
                // Nothing to sweep or resume: sleep until a client comes.
                None
            } else {
                Some(SWEEP)
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
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
            self.resume_accepting();
            self.handler.end_round();
            if last_sweep.elapsed() >= SWEEP {
                self.enforce_deadlines();
                self.close_stalled();
                last_sweep = Instant::now();
            }
            // Each round, not each sweep: the loop may sleep for good right
            // after the last connection closes.
            let open = self.connections.len();
            if open != reported_open {
                self.handler.note_connections(ConnectionEvent::Open(open));
                reported_open = open;
            }
            if self.shutdown {
                let since = *draining_since.get_or_insert_with(|| {
                    self.stop_listening();
                    Instant::now()
                });
                self.close_between_requests();
                let busy =
                    self.connections.values().any(|c| c.busy) || self.completer.detached_running();
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

    /// Takes the connections waiting on listener `index`, within the
    /// connection caps.
    fn accept(&mut self, index: usize) {
        while self.accept_paused_until.is_none() {
            let Some((socket, listener)) = self.listeners.get(index) else {
                return;
            };
            let (stream, peer) = match socket.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if is_out_of_descriptors(&e) => {
                    self.out_of_descriptors();
                    continue;
                }
                // A connection that failed before we took it: take the next.
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                // Anything else may persist (no buffers, no memory): try
                // again at the next readiness event, not in a busy loop.
                Err(_) => return,
            };
            let listener = listener.clone();
            if let Some(reason) = self.make_room(peer.ip()) {
                self.handler
                    .note_connections(ConnectionEvent::Refused(reason));
                refuse(stream, reason);
                continue;
            }
            self.open(stream, peer.ip(), listener);
        }
    }

    /// Makes room for a connection from `client`, closing the connection
    /// that has waited longest for its client if the server is full;
    /// returns why there is none.
    fn make_room(&mut self, client: IpAddr) -> Option<&'static str> {
        if !self.clients.has_room(client) {
            let max = self.limits.max_per_client;
            self.notes.client_full.note(|| {
                format!("{client} has {max} connections open (max-connections-per-client); refusing more")
            });
            return Some("client_limit");
        }
        if self.connections.len() >= self.max_connections {
            let max = self.max_connections;
            if !self.evict() {
                self.notes.server_full.note(|| {
                    format!("{max} connections open (max-connections), each with a request running; refusing more")
                });
                return Some("server_limit");
            }
            self.notes.server_full.note(|| {
                format!("{max} connections open (max-connections): closing those that waited longest for their clients to make room")
            });
        }
        None
    }

    /// Closes the connection that has waited longest for its client (idle,
    /// or sending a request); false if every connection has a request
    /// running or a response leaving.
    fn evict(&mut self) -> bool {
        let oldest = self
            .connections
            .iter()
            .filter(|(_, c)| waits_for_client(c))
            .min_by_key(|(_, c)| (c.lingering_until.is_none(), c.phase_since))
            .map(|(token, _)| *token);
        let Some(token) = oldest else {
            return false;
        };
        self.close(token);
        self.handler
            .note_connections(ConnectionEvent::Closed("evicted"));
        true
    }

    /// `accept` failed for want of a descriptor: free one by closing the
    /// connection that has waited longest, or else pause accepting for a
    /// moment (the waiting connections stay in the listen backlog).
    fn out_of_descriptors(&mut self) {
        let open = self.connections.len();
        self.notes.no_descriptors.note(|| {
            format!("out of file descriptors with {open} connections open; raise the limit (ulimit -n) or lower max-connections")
        });
        self.handler
            .note_connections(ConnectionEvent::Refused("no_descriptors"));
        if !self.evict() {
            self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
        }
    }

    /// Accepts again once a pause for descriptors is over: readiness will
    /// not say again that connections wait.
    fn resume_accepting(&mut self) {
        if self
            .accept_paused_until
            .is_some_and(|until| Instant::now() >= until)
        {
            self.accept_paused_until = None;
            for index in 0..self.listeners.len() {
                self.accept(index);
            }
        }
    }

    fn open(&mut self, mut stream: TcpStream, peer: IpAddr, listener: Listener) {
        let token = Token(self.next_token);
        self.next_token += 1;
        let interest = Interest::READABLE | Interest::WRITABLE;
        if self
            .poll
            .registry()
            .register(&mut stream, token, interest)
            .is_err()
        {
            return;
        }
        let _ = stream.set_nodelay(true);
        self.clients.opened(peer);
        let now = Instant::now();
        self.connections.insert(
            token,
            Connection {
                socket: Arc::new(stream),
                listener,
                peer,
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
                phase: Phase::Idle,
                phase_since: now,
                lingering_until: None,
                lingered: 0,
                last_sent: now,
            },
        );
    }

    /// Reads, runs and writes whatever the connection allows now.
    fn serve(&mut self, token: Token, event: &Event, scheduler: &Scheduler) {
        let Some(conn) = self.connections.get_mut(&token) else {
            return;
        };
        if conn.lingering_until.is_some() {
            if !discard_input(conn) {
                self.close(token);
            }
            return;
        }
        conn.read_closed |= event.is_read_closed();
        // An error is read to be seen.
        conn.readable |= event.is_readable() || conn.read_closed || event.is_error();
        let pumped = pump(conn, token, &mut self.handler, &self.completer, scheduler);
        self.after_pump(token, pumped);
    }

    fn after_pump(&mut self, token: Token, pumped: Pumped) {
        match pumped {
            Pumped::Open => {}
            Pumped::Close => self.close(token),
            Pumped::Linger => self.linger(token),
        }
    }

    /// Closes the connection once the client has stopped sending: shuts
    /// down our side now, and discards what arrives for up to [`LINGER`].
    fn linger(&mut self, token: Token) {
        let Some(conn) = self.connections.get_mut(&token) else {
            return;
        };
        if conn.eof || conn.socket.shutdown(std::net::Shutdown::Write).is_err() {
            self.close(token);
            return;
        }
        conn.lingering_until = Some(Instant::now() + LINGER);
        if !discard_input(conn) {
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
            // A detached job answers no connection, and a connection may
            // have closed since.
            let Some(token) = token else {
                continue;
            };
            let Some(conn) = self.connections.get_mut(&token) else {
                continue;
            };
            conn.busy = false;
            // The wait for the client starts again now.
            conn.phase_since = Instant::now();
            match response {
                Ok(response) => queue_response(conn, &response),
                Err(unsent) => queue_bytes(conn, |out| out.extend_from_slice(&unsent)),
            }
            let pumped = pump(conn, token, &mut self.handler, &self.completer, scheduler);
            self.after_pump(token, pumped);
        }
    }

    /// Closes the connections whose client is past a deadline: a head or
    /// body arriving too slowly (answered 408), or an idle keep-alive
    /// connection.
    fn enforce_deadlines(&mut self) {
        let now = Instant::now();
        let limits = &self.limits;
        let expired: Vec<(Token, &'static str)> = self
            .connections
            .iter()
            .filter(|(_, c)| waits_for_client(c))
            .filter_map(|(token, c)| {
                if let Some(until) = c.lingering_until {
                    return (now >= until).then_some((*token, "lingered"));
                }
                let (allowed, reason) = match c.phase {
                    Phase::Idle => (limits.idle_timeout, "idle"),
                    Phase::Head => (limits.head_timeout, "head_timeout"),
                    Phase::Body { received } => {
                        let earned = Duration::from_secs(received / limits.min_body_rate);
                        (limits.body_timeout + earned, "body_timeout")
                    }
                };
                (now.duration_since(c.phase_since) >= allowed).then_some((*token, reason))
            })
            .collect();
        for (token, reason) in expired {
            match reason {
                // Counted when it began to linger.
                "lingered" => self.close(token),
                "idle" => {
                    self.close(token);
                    self.handler
                        .note_connections(ConnectionEvent::Closed(reason));
                }
                _ => {
                    self.answer_and_linger(token, &Response::text(408, "request too slow\n"));
                    self.handler
                        .note_connections(ConnectionEvent::Closed(reason));
                }
            }
        }
    }

    /// Writes `response` to the connection if its socket takes it at once,
    /// then closes the connection (lingering).
    fn answer_and_linger(&mut self, token: Token, response: &Response) {
        let Some(conn) = self.connections.get_mut(&token) else {
            return;
        };
        conn.keep_alive = false;
        queue_response(conn, response);
        if flush(conn) && conn.sent == conn.out.len() {
            self.linger(token);
        } else {
            // A client that does not read cannot be answered either.
            self.close(token);
        }
    }

    /// On shutdown: closes the connections between requests.
    fn close_between_requests(&mut self) {
        let idle: Vec<Token> = self
            .connections
            .iter()
            .filter(|(_, c)| waits_for_client(c) && c.reader.is_idle())
            .map(|(t, _)| *t)
            .collect();
        for token in idle {
            self.close(token);
        }
    }

    /// Closes connections whose client has read nothing of a pending
    /// response for the send timeout: their buffer is freed rather than
    /// kept for a client that may never read it.
    fn close_stalled(&mut self) {
        let timeout = self.limits.send_timeout;
        let stalled: Vec<Token> = self
            .connections
            .iter()
            .filter(|(_, c)| c.sent < c.out.len() && c.last_sent.elapsed() >= timeout)
            .map(|(t, _)| *t)
            .collect();
        for token in stalled {
            self.close(token);
            let closed = ConnectionEvent::Closed("send_timeout");
            self.handler.note_connections(closed);
        }
    }

    fn close(&mut self, token: Token) {
        if let Some(conn) = self.connections.remove(&token) {
            self.clients.closed(conn.peer);
            // A job may still hold the socket for a moment; the descriptor
            // is closed when it lets go.
            let fd = conn.socket.as_raw_fd();
            let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
        }
    }
}

/// Whether the connection waits for its client (to send a request or the
/// rest of one), rather than for a function or for the client to read.
fn waits_for_client(conn: &Connection) -> bool {
    !conn.busy && conn.sent == conn.out.len()
}

/// Whether `accept` failed because the process or the system is out of
/// file descriptors.
fn is_out_of_descriptors(error: &io::Error) -> bool {
    use rustix::io::Errno;
    let code = error.raw_os_error();
    code == Some(Errno::MFILE.raw_os_error()) || code == Some(Errno::NFILE.raw_os_error())
}

/// Answers a connection refused at accept with 503 if its socket takes the
/// few bytes at once, then closes it.
fn refuse(stream: TcpStream, reason: &str) {
    let text = match reason {
        "client_limit" => "too many connections from your address\n",
        _ => "the server has too many connections\n",
    };
    let mut out = Vec::new();
    Response::text(503, text).write_to(&mut out, false, 1);
    let _ = (&stream).write(&out);
    // No room to linger as a closing connection does, but what the client
    // has sent already is read before the close: closing a socket with
    // unread bytes resets the connection, and a reset may reach the client
    // before it has read the 503.
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut scratch = [0; 16 << 10];
    for _ in 0..4 {
        if !matches!((&stream).read(&mut scratch), Ok(n) if n > 0) {
            break;
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

/// How long an address found in use is tried again. A server restarted
/// at once after a crash (by a supervisor, or by hand) can find its ports
/// still held for a moment by what its predecessor left: a compiler child
/// killed with it that had not yet reached its `exec`, which holds a copy
/// of every descriptor until then, or the predecessor's own exit. Seen at
/// a few hundred ms; a port held for longer is another server's.
const ADDRESS_IN_USE_RETRY: Duration = Duration::from_secs(5);

/// [`listen`], trying an address in use again until it is free or
/// [`ADDRESS_IN_USE_RETRY`] has passed (saying so once, at once).
fn listen_when_free(addr: SocketAddr) -> io::Result<TcpListener> {
    let until = Instant::now() + ADDRESS_IN_USE_RETRY;
    let mut told = false;
    loop {
        match listen(addr) {
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && Instant::now() < until => {
                if !told {
                    eprintln!(
                        "luge: {addr} is in use; trying again for up to {} s",
                        ADDRESS_IN_USE_RETRY.as_secs()
                    );
                    told = true;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            listened => return listened,
        }
    }
}

/// Moves a connection forward: writes what is pending, reads what has
/// arrived, and starts the next buffered request if none is running; then
/// notes where its next request stands, for the deadlines. Returns what
/// becomes of the connection.
fn pump<H: Handler>(
    conn: &mut Connection,
    token: Token,
    handler: &mut H,
    completer: &Completer<H>,
    scheduler: &Scheduler,
) -> Pumped {
    let pumped = pump_io(conn, token, handler, completer, scheduler);
    note_phase(conn);
    pumped
}

/// What [`pump`] leaves the connection to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pumped {
    /// It stays open.
    Open,
    /// It is to be closed now: the peer is gone, or IO failed.
    Close,
    /// Its last response is sent and it is to be closed once the client
    /// stops sending (see [`LINGER`]).
    Linger,
}

/// Reads and discards what a lingering connection's client sends; false
/// once it is to be closed (end of file, an error, or [`LINGER_BYTES`]).
fn discard_input(conn: &mut Connection) -> bool {
    let mut scratch = [0u8; 16 << 10];
    loop {
        match (&*conn.socket).read(&mut scratch) {
            Ok(0) => return false,
            Ok(n) => {
                conn.lingered += n as u64;
                if conn.lingered > LINGER_BYTES {
                    return false;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Starts the clock of the next request's phase when it has moved on (from
/// idle to head, from head to body, ...).
fn note_phase(conn: &mut Connection) {
    let phase = conn.reader.phase();
    if std::mem::discriminant(&phase) != std::mem::discriminant(&conn.phase) {
        conn.phase_since = Instant::now();
    }
    conn.phase = phase;
}

/// The reading and writing of [`pump`].
fn pump_io<H: Handler>(
    conn: &mut Connection,
    token: Token,
    handler: &mut H,
    completer: &Completer<H>,
    scheduler: &Scheduler,
) -> Pumped {
    loop {
        if !flush(conn) {
            return Pumped::Close;
        }
        // One response at a time: while the client has not taken the last
        // one, its next requests wait unread, so a client that pipelines
        // requests and never reads holds at most one response here.
        if conn.busy || conn.sent < conn.out.len() {
            return Pumped::Open;
        }
        if conn.closing {
            return Pumped::Linger;
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
                Err(_) => return Pumped::Close,
            }
        };
        conn.readable &= outcome == ReadOutcome::Full;
        conn.eof |= outcome == ReadOutcome::Eof;
        let progressed = take_request(conn, token, handler, completer, scheduler);
        // After `Full` the socket may hold more, and edge-triggered
        // readiness will not say so again: read on.
        if !progressed && outcome != ReadOutcome::Full {
            // Nothing complete: wait for more bytes, unless none can come.
            return match conn.eof && conn.sent == conn.out.len() {
                true => Pumped::Close,
                false => Pumped::Open,
            };
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
            // The connection waits for its client again once this request
            // is answered: its clock starts afresh.
            conn.phase_since = Instant::now();
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
        completer: completer.clone(),
        to: Destination::Connection { token, direct },
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
                // The response is out: the wait for the client starts.
                conn.phase_since = conn.last_sent;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}
