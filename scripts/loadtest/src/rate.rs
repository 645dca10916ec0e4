//! The open-loop constant-rate generator (the `rate` subcommand), in the
//! manner of wrk2: one thread, one `mio` poller, a fixed set of keep-alive
//! connections. Requests fall due on the [`Schedule`]; a due request goes
//! out on the first connection with room for it, or waits in a backlog when
//! every connection is busy. Each latency runs from the request's intended
//! send time to its response's arrival, so backlog time counts.
//!
//! With `pipeline` = 1 (the default) a connection carries one request at a
//! time, as a browser or a serverless gateway would; a larger value lets a
//! connection carry that many outstanding requests (HTTP/1.1 pipelining),
//! which needs fewer connections for a given rate but is not how most
//! clients behave.
//!
//! The loop sleeps until the next request is due on a `timerfd`
//! ([`Timer`]), not on the poller's millisecond timeout, but never for less
//! than `resolution`: at high rates the requests due within one resolution
//! leave together, which saves a wake-up per request. A request sent late
//! (by at most the resolution plus the kernel's timer slack) has the
//! lateness counted in its latency.

use crate::http::{parse_response, HttpError, Target};
use crate::schedule::Schedule;
use crate::timer::Timer;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::collections::{BTreeMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct RateConfig {
    pub target: Target,
    /// The bytes of one request, sent as is every time.
    pub request: Vec<u8>,
    /// Requests per second.
    pub rate: f64,
    pub connections: usize,
    /// Outstanding requests per connection (1: no pipelining).
    pub pipeline: usize,
    /// The measured part of the run.
    pub duration: Duration,
    /// Sent on schedule before the measured part, not recorded.
    pub warmup: Duration,
    /// How long to wait for outstanding responses after the last request
    /// fell due; those still missing then count as timeouts.
    pub drain: Duration,
    /// The shortest sleep between sends (see the module comment).
    pub resolution: Duration,
}

/// What happened.
#[derive(Debug, Clone, Default)]
pub struct RateResult {
    /// Latencies of the measured requests answered 2xx.
    pub latencies: Vec<Duration>,
    /// Measured requests answered with another status.
    pub non_2xx: u64,
    /// Measured requests answered, by status (2xx included), for the
    /// experiments that tell a timeout (504) from a refusal (429) or a
    /// crash (500).
    pub statuses: BTreeMap<u16, u64>,
    /// Measured requests lost to a connection error.
    pub errors: u64,
    /// Measured requests still unanswered at the end of the drain.
    pub timeouts: u64,
    /// Measured requests scheduled.
    pub scheduled: u64,
    /// From the first measured request's intended time to the last
    /// response.
    pub measured_time: Duration,
    /// The largest number of due requests waiting for a connection.
    pub max_backlog: usize,
    /// CPU time (user + system) this process spent in the run.
    pub cpu_time: Duration,
}

impl RateResult {
    /// Responses per second over the measured part.
    pub fn achieved_rate(&self) -> f64 {
        let answered = self.latencies.len() as u64 + self.non_2xx;
        answered as f64 / self.measured_time.as_secs_f64().max(1e-9)
    }
}

/// One keep-alive connection and its outstanding requests.
struct Conn {
    stream: TcpStream,
    /// Bytes not yet written.
    out: Vec<u8>,
    out_sent: usize,
    /// Indices of the requests sent and not yet answered, oldest first.
    in_flight: VecDeque<u64>,
    input: Vec<u8>,
    /// Whether the connection is in the idle queue.
    queued: bool,
}

/// The timer's token; connections use their index.
const TIMER: Token = Token(usize::MAX);

/// Progress every this often on stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Runs the generator. `progress` is called about once a second with a
/// line for stderr.
pub fn run(config: &RateConfig, mut progress: impl FnMut(&str)) -> Result<RateResult, HttpError> {
    assert!(config.connections > 0 && config.pipeline > 0);
    let schedule = Schedule::new(config.rate, config.warmup + config.duration);
    let warm = schedule.warmup_count(config.warmup);
    let mut run = Run::new(config, schedule, warm)?;
    let timer = Timer::new(run.poll.registry(), TIMER)?;
    let cpu_before = crate::procstat::own_cpu_time();
    let start = Instant::now();
    run.result.scheduled = schedule.total() - warm;
    let mut events = Events::with_capacity(1024);
    let mut last_progress = start;
    let mut last_done = 0u64;
    let end_of_schedule = schedule.intended(schedule.total() - 1);
    loop {
        let now = Instant::now();
        let elapsed = now - start;
        run.enqueue_due(schedule.due_by(elapsed));
        run.dispatch()?;
        if run.finished() || elapsed > end_of_schedule + config.drain {
            break;
        }
        if now - last_progress >= PROGRESS_EVERY {
            let done = run.done;
            progress(&format!(
                "rate: {:>5.1} s  {:>8.0} resp/s  backlog {}  errors {}",
                elapsed.as_secs_f64(),
                (done - last_done) as f64 / (now - last_progress).as_secs_f64(),
                run.backlog.len(),
                run.result.errors + run.result.non_2xx
            ));
            last_progress = now;
            last_done = done;
        }
        let timeout = if run.next < schedule.total() {
            let until_due = schedule
                .intended(run.next)
                .saturating_sub(Instant::now() - start);
            timer.arm(until_due.max(config.resolution))?;
            // The timer wakes the poll; the timeout is only a backstop.
            until_due.max(config.resolution) + Duration::from_millis(10)
        } else {
            (end_of_schedule + config.drain).saturating_sub(elapsed)
        };
        run.poll.poll(&mut events, Some(timeout))?;
        for event in events.iter() {
            if event.token() == TIMER {
                timer.clear();
                continue;
            }
            let id = event.token().0;
            if event.is_writable() {
                run.flush(id)?;
            }
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                run.receive(id, start)?;
            }
        }
    }
    let end = run.last_response.unwrap_or_else(Instant::now);
    let first_measured = start + schedule.intended(warm.min(schedule.total() - 1));
    run.result.measured_time = end.saturating_duration_since(first_measured);
    let unanswered: u64 = run
        .conns
        .iter()
        .flat_map(|c| c.in_flight.iter())
        .chain(run.backlog.iter())
        .filter(|&&i| i >= warm)
        .count() as u64;
    run.result.timeouts = unanswered;
    run.result.cpu_time = crate::procstat::own_cpu_time().saturating_sub(cpu_before);
    Ok(run.result)
}

/// The generator's state between polls.
struct Run<'a> {
    config: &'a RateConfig,
    schedule: Schedule,
    /// Requests below this index are warm-up.
    warm: u64,
    poll: Poll,
    conns: Vec<Conn>,
    /// Connections with room for another request.
    idle: VecDeque<usize>,
    /// Due requests waiting for a connection.
    backlog: VecDeque<u64>,
    /// The next request to fall due.
    next: u64,
    /// Requests answered or lost, warm-up included.
    done: u64,
    last_response: Option<Instant>,
    result: RateResult,
}

impl<'a> Run<'a> {
    fn new(config: &'a RateConfig, schedule: Schedule, warm: u64) -> Result<Run<'a>, HttpError> {
        let poll = Poll::new()?;
        let mut run = Run {
            config,
            schedule,
            warm,
            poll,
            conns: Vec::with_capacity(config.connections),
            idle: VecDeque::with_capacity(config.connections),
            backlog: VecDeque::new(),
            next: 0,
            done: 0,
            last_response: None,
            result: RateResult {
                latencies: Vec::with_capacity((schedule.total() - warm) as usize),
                ..RateResult::default()
            },
        };
        for id in 0..config.connections {
            let stream = run.open(id)?;
            run.conns.push(Conn {
                stream,
                out: Vec::new(),
                out_sent: 0,
                in_flight: VecDeque::new(),
                input: Vec::with_capacity(4096),
                queued: true,
            });
            run.idle.push_back(id);
        }
        Ok(run)
    }

    /// A new registered connection for slot `id`.
    fn open(&self, id: usize) -> Result<TcpStream, HttpError> {
        let std_stream = self.config.target.connect(Duration::from_secs(2))?;
        std_stream.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(std_stream);
        self.poll.registry().register(
            &mut stream,
            Token(id),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok(stream)
    }

    fn enqueue_due(&mut self, due: u64) {
        while self.next < due {
            self.backlog.push_back(self.next);
            self.next += 1;
        }
        self.result.max_backlog = self.result.max_backlog.max(self.backlog.len());
    }

    fn finished(&self) -> bool {
        self.next == self.schedule.total()
            && self.backlog.is_empty()
            && self.conns.iter().all(|c| c.in_flight.is_empty())
    }

    /// Hands backlogged requests to connections with room.
    fn dispatch(&mut self) -> Result<(), HttpError> {
        while !self.backlog.is_empty() {
            let Some(id) = self.idle.pop_front() else {
                break;
            };
            let index = self.backlog.pop_front().expect("backlog is not empty");
            let conn = &mut self.conns[id];
            conn.queued = false;
            conn.in_flight.push_back(index);
            conn.out.extend_from_slice(&self.config.request);
            if conn.in_flight.len() < self.config.pipeline {
                conn.queued = true;
                self.idle.push_back(id);
            }
            self.flush(id)?;
        }
        Ok(())
    }

    /// Writes what connection `id` has pending, as far as the socket takes.
    fn flush(&mut self, id: usize) -> Result<(), HttpError> {
        let conn = &mut self.conns[id];
        while conn.out_sent < conn.out.len() {
            match conn.stream.write(&conn.out[conn.out_sent..]) {
                Ok(0) => return self.reset(id),
                Ok(n) => conn.out_sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return self.reset(id),
            }
        }
        conn.out.clear();
        conn.out_sent = 0;
        Ok(())
    }

    /// Reads what connection `id` has and settles each complete response.
    fn receive(&mut self, id: usize, start: Instant) -> Result<(), HttpError> {
        let mut chunk = [0u8; 16 * 1024];
        // Answers that arrived before a close still count: the socket is
        // drained first, then parsed, then reset.
        let mut closing = false;
        loop {
            let conn = &mut self.conns[id];
            match conn.stream.read(&mut chunk) {
                Ok(0) => {
                    closing = true;
                    break;
                }
                Ok(n) => conn.input.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    closing = true;
                    break;
                }
            }
        }
        let now = Instant::now();
        let mut consumed = 0;
        loop {
            let conn = &mut self.conns[id];
            let parsed = match parse_response(&conn.input[consumed..]) {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(_) => return self.reset(id),
            };
            consumed += parsed.len;
            closing |= parsed.close;
            let Some(index) = conn.in_flight.pop_front() else {
                // An answer to nothing asked: the server is broken.
                return self.reset(id);
            };
            if !conn.queued {
                conn.queued = true;
                self.idle.push_back(id);
            }
            self.done += 1;
            self.last_response = Some(now);
            if index >= self.warm {
                *self.result.statuses.entry(parsed.status).or_default() += 1;
                if (200..300).contains(&parsed.status) {
                    let intended = start + self.schedule.intended(index);
                    self.result
                        .latencies
                        .push(now.saturating_duration_since(intended));
                } else {
                    self.result.non_2xx += 1;
                }
            }
        }
        self.conns[id].input.drain(..consumed);
        if closing {
            // Requests already sent behind the closing answer are lost;
            // the slot reconnects at once.
            return self.reset(id);
        }
        Ok(())
    }

    /// Connection `id` failed or closed: its outstanding requests are lost
    /// (counted as errors) and a fresh connection takes its place.
    fn reset(&mut self, id: usize) -> Result<(), HttpError> {
        let lost = std::mem::take(&mut self.conns[id].in_flight);
        self.done += lost.len() as u64;
        self.result.errors += lost.iter().filter(|&&i| i >= self.warm).count() as u64;
        let _ = self.poll.registry().deregister(&mut self.conns[id].stream);
        let stream = self.open(id)?;
        let conn = &mut self.conns[id];
        conn.stream = stream;
        conn.out.clear();
        conn.out_sent = 0;
        conn.input.clear();
        if !conn.queued {
            conn.queued = true;
            self.idle.push_back(id);
        }
        Ok(())
    }
}
