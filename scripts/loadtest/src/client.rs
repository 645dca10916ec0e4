//! Closed-loop clients for the experiments: each client is a thread with
//! one keep-alive connection that sends a request, waits for the answer,
//! and records it. A failed call is recorded as status 0 and the client
//! reconnects for its next call.

use crate::http::{self, Target};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The pause after a failed call before a client's next one.
const ERROR_BACKOFF: Duration = Duration::from_millis(10);

/// One call as seen by its client.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When the call was sent, from the experiment's start.
    pub sent: Duration,
    pub latency: Duration,
    /// The HTTP status, 0 for a connection error or timeout.
    pub status: u16,
}

impl Sample {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A client's connection, opened on first use and after failures.
pub struct Client {
    target: Target,
    stream: Option<TcpStream>,
    timeout: Duration,
}

impl Client {
    /// A client whose calls give up after `timeout`.
    pub fn new(target: &Target, timeout: Duration) -> Client {
        Client {
            target: target.clone(),
            stream: None,
            timeout,
        }
    }

    /// Sends `request` and waits for the answer; `epoch` is the
    /// experiment's start. Returns the sample and the body.
    pub fn call(&mut self, request: &[u8], epoch: Instant) -> (Sample, Vec<u8>) {
        let started = Instant::now();
        let result = self.try_call(request);
        let sample = |status| Sample {
            sent: started - epoch,
            latency: started.elapsed(),
            status,
        };
        match result {
            Ok(response) => (sample(response.status), response.body),
            Err(e) => {
                self.stream = None;
                (sample(0), e.to_string().into_bytes())
            }
        }
    }

    /// Opens the connection now, if it is not open, so that the next
    /// call's latency does not include connecting.
    pub fn connect(&mut self) -> Result<&mut TcpStream, http::HttpError> {
        if self.stream.is_none() {
            let stream = self.target.connect(CONNECT_TIMEOUT)?;
            stream.set_read_timeout(Some(self.timeout))?;
            self.stream = Some(stream);
        }
        Ok(self.stream.as_mut().expect("connected above"))
    }

    fn try_call(&mut self, request: &[u8]) -> Result<http::Response, http::HttpError> {
        http::call(self.connect()?, request)
    }
}

/// Runs `clients` closed-loop clients at once, each making up to `calls`
/// calls with `request(client, call)` and stopping early at `deadline`;
/// client `k` starts `k x ramp / clients` after the others' start. Returns
/// every sample.
pub fn run_clients(
    target: &Target,
    clients: usize,
    calls: usize,
    ramp: Duration,
    deadline: Instant,
    timeout: Duration,
    request: &(dyn Fn(usize, usize) -> Vec<u8> + Sync),
) -> Vec<Sample> {
    let epoch = Instant::now();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|k| {
                let delay = ramp.mul_f64(k as f64 / clients as f64);
                scope.spawn(move || {
                    std::thread::sleep(delay);
                    let mut client = Client::new(target, timeout);
                    let mut samples = Vec::with_capacity(calls.min(1024));
                    for call in 0..calls {
                        if Instant::now() >= deadline {
                            break;
                        }
                        let sample = client.call(&request(k, call), epoch).0;
                        samples.push(sample);
                        if sample.status == 0 {
                            // A server that is down answers at once; do
                            // not spin on it.
                            std::thread::sleep(ERROR_BACKOFF);
                        }
                    }
                    samples
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("client thread panicked"))
            .collect()
    })
}
