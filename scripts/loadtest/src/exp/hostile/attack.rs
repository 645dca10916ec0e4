//! Tenant A's attack: spinners kept in flight at all times (closed loop,
//! re-issued as soon as one ends, normally with 504 at the route's
//! timeout) and, at fixed rates (open loop, the `rate` generator), calls
//! that trap, overflow the stack, exhaust their memory or sleep. It runs
//! while tenant B is measured, and what A was answered is tallied per
//! route.

use crate::client::Client;
use crate::http::Target;
use crate::rate::{self, RateConfig, RateResult};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One of tenant A's routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// An endless loop: only the timeout ends it.
    Spin,
    /// A store far out of bounds: a trap.
    Trap,
    /// Recursion without end: a stack-exhaustion trap.
    Stack,
    /// 1 MiB allocations, every page touched, up to the memory limit.
    Membomb,
    /// Sleeps (parks, holding no worker) for `--sleep-seconds`.
    Sleep,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Spin,
        Kind::Trap,
        Kind::Stack,
        Kind::Membomb,
        Kind::Sleep,
    ];

    pub fn route(self) -> &'static str {
        match self {
            Kind::Spin => "/spin",
            Kind::Trap => "/trap",
            Kind::Stack => "/stack",
            Kind::Membomb => "/membomb",
            Kind::Sleep => "/sleep",
        }
    }

    /// The request path: the route and the function's arguments.
    pub fn path(self, sleep_seconds: u32) -> String {
        match self {
            Kind::Stack => "/stack?stack".into(),
            Kind::Sleep => format!("/sleep?{sleep_seconds}"),
            _ => self.route().into(),
        }
    }
}

/// How the requests of a route ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Answered, by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Lost to a connection error (or a client-side timeout).
    pub errors: u64,
    /// Still unanswered when the run's drain ended.
    pub unanswered: u64,
}

impl Tally {
    /// The measured requests of a `rate` run.
    pub fn of_rate(r: &RateResult) -> Tally {
        Tally {
            statuses: r.statuses.clone(),
            errors: r.errors,
            unanswered: r.timeouts,
        }
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Tally) {
        for (s, n) in &other.statuses {
            *self.statuses.entry(*s).or_default() += n;
        }
        self.errors += other.errors;
        self.unanswered += other.unanswered;
    }

    /// Counts one closed-loop call; status 0 is a connection error.
    fn add_status(&mut self, status: u16) {
        if status == 0 {
            self.errors += 1;
        } else {
            *self.statuses.entry(status).or_default() += 1;
        }
    }

    pub fn count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.errors + self.unanswered
    }

    /// Every outcome but 200.
    pub fn not_ok(&self) -> u64 {
        self.total() - self.count(200)
    }

    /// `200:95 504:3 errors:1 unanswered:1`, the outcomes that occurred
    /// (no commas, so that it sits in a CSV field unquoted); `-` for none.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}:{n}"))
            .collect();
        for (what, n) in [("errors", self.errors), ("unanswered", self.unanswered)] {
            if n > 0 {
                parts.push(format!("{what}:{n}"));
            }
        }
        if parts.is_empty() {
            "-".into()
        } else {
            parts.join(" ")
        }
    }
}

/// What tenant A sends.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Tenant A's listener (any path).
    pub target: Target,
    /// Spinners kept in flight.
    pub spinners: usize,
    /// Requests per second of each fixed-rate route; 0 sends none.
    pub rates: Vec<(Kind, f64)>,
    /// Connections (so requests in flight, at most) per fixed-rate route.
    pub connections: usize,
    /// In flight at most on /membomb, which bounds the memory the attack
    /// can hold at once (this many times the route's memory limit).
    pub membomb_in_flight: usize,
    pub sleep_seconds: u32,
    /// Tenant A's route timeout; calls take that long at most.
    pub timeout: Duration,
    /// How long before the measured load A starts.
    pub lead: Duration,
    /// How long the measured load is scheduled to take (its warm-up and
    /// measured part); the fixed-rate routes send for `lead` + this.
    pub length: Duration,
}

/// Pause after a spinner's failed call (server refused or gone) before the
/// next, so that a dead server does not make the spinner threads spin.
const SPIN_BACKOFF: Duration = Duration::from_millis(10);

/// Runs `measure` while the attack of `plan` goes on: the attack starts
/// `plan.lead` before it and stops once it has returned (spinners finish
/// their last call, fixed-rate routes their schedule). Returns what
/// `measure` returned and each route's tally.
pub fn during<T: Send>(plan: &Plan, measure: impl FnOnce() -> T + Send) -> (T, Vec<(Kind, Tally)>) {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let spinners: Vec<_> = (0..plan.spinners)
            .map(|_| scope.spawn(|| spin(plan, &stop)))
            .collect();
        let fixed: Vec<_> = plan
            .rates
            .iter()
            .filter(|(_, rate)| *rate > 0.0)
            .map(|&(kind, rate)| (kind, scope.spawn(move || fixed_rate(plan, kind, rate))))
            .collect();
        std::thread::sleep(plan.lead);
        let measured = measure();
        stop.store(true, Ordering::SeqCst);
        let mut spin_tally = Tally::default();
        for handle in spinners {
            spin_tally.add(&handle.join().expect("spinner thread panicked"));
        }
        let mut tallies = vec![(Kind::Spin, spin_tally)];
        for (kind, handle) in fixed {
            tallies.push((kind, handle.join().expect("attack thread panicked")));
        }
        (measured, tallies)
    })
}

/// One spinner: calls /spin again and again until `stop`.
fn spin(plan: &Plan, stop: &AtomicBool) -> Tally {
    // The client waits past the route's timeout, so that the server's
    // answer (504) is what ends a call, not the client.
    let mut client = Client::new(&plan.target, plan.timeout + Duration::from_secs(10));
    let request = plan.target.with_path(Kind::Spin.route()).request(b"", &[]);
    let epoch = Instant::now();
    let mut tally = Tally::default();
    while !stop.load(Ordering::SeqCst) {
        let (sample, _) = client.call(&request, epoch);
        tally.add_status(sample.status);
        if !(200..300).contains(&sample.status) && sample.status != 504 {
            std::thread::sleep(SPIN_BACKOFF);
        }
    }
    tally
}

/// One fixed-rate route, open loop, for the attack's whole length.
fn fixed_rate(plan: &Plan, kind: Kind, rate: f64) -> Tally {
    let target = plan.target.with_path(&kind.path(plan.sleep_seconds));
    let connections = if kind == Kind::Membomb {
        plan.membomb_in_flight
    } else {
        plan.connections
    };
    let config = RateConfig {
        request: target.request(b"", &[]),
        target,
        rate,
        connections: connections.max(1),
        pipeline: 1,
        duration: plan.lead + plan.length,
        warmup: Duration::ZERO,
        drain: plan.timeout + Duration::from_secs(2),
        // Tens of requests a second: a millisecond is exact enough.
        resolution: Duration::from_millis(1),
    };
    match rate::run(&config, |_| {}) {
        Ok(result) => Tally::of_rate(&result),
        Err(e) => {
            eprintln!("hostile: tenant A's {} load stopped: {e}", kind.route());
            Tally::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_describe_what_happened() {
        let mut t = Tally::default();
        assert_eq!(t.describe(), "-");
        for s in [200, 200, 504, 0] {
            t.add_status(s);
        }
        t.unanswered = 2;
        assert_eq!(t.describe(), "200:2 504:1 errors:1 unanswered:2");
        assert_eq!((t.total(), t.count(200), t.not_ok()), (6, 2, 4));
        let mut sum = t.clone();
        sum.add(&t);
        assert_eq!(sum.describe(), "200:4 504:2 errors:2 unanswered:4");
    }

    #[test]
    fn requests_carry_the_functions_arguments() {
        assert_eq!(Kind::Stack.path(1), "/stack?stack");
        assert_eq!(Kind::Sleep.path(3), "/sleep?3");
        assert_eq!(Kind::Trap.path(3), "/trap");
    }
}
