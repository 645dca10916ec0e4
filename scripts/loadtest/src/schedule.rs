//! The open-loop send schedule: request `i` is meant to leave at
//! `i / rate` seconds after the start, whatever happened to the requests
//! before it. Latency is measured from that intended time, so a server that
//! stalls is charged for every request that should have been sent during
//! the stall (coordinated omission corrected, as wrk2 does).

use std::time::Duration;

/// A fixed-rate schedule of `total` requests.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Requests per second, > 0.
    rate: f64,
    total: u64,
}

impl Schedule {
    /// `rate` requests per second for `length`; at least one request.
    pub fn new(rate: f64, length: Duration) -> Schedule {
        assert!(rate > 0.0 && rate.is_finite(), "rate must be positive");
        let total = (length.as_secs_f64() * rate).floor().max(1.0) as u64;
        Schedule { rate, total }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// When request `i` is meant to be sent, from the start.
    pub fn intended(&self, i: u64) -> Duration {
        Duration::from_nanos((i as f64 * 1e9 / self.rate).round() as u64)
    }

    /// How many requests are due `elapsed` after the start: those whose
    /// intended time is at or before it.
    pub fn due_by(&self, elapsed: Duration) -> u64 {
        // The float estimate may be one off either way at a boundary; the
        // loops settle it against `intended`, the single source of truth.
        let mut n = ((elapsed.as_secs_f64() * self.rate).floor() as u64 + 1).min(self.total);
        while n > 0 && self.intended(n - 1) > elapsed {
            n -= 1;
        }
        while n < self.total && self.intended(n) <= elapsed {
            n += 1;
        }
        n
    }

    /// The number of requests meant for the first `warmup`: those are sent
    /// but not recorded.
    pub fn warmup_count(&self, warmup: Duration) -> u64 {
        if warmup.is_zero() {
            0
        } else {
            // Requests strictly before the warm-up's end.
            self.due_by(warmup.saturating_sub(Duration::from_nanos(1)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn requests_are_evenly_spaced() {
        let s = Schedule::new(1000.0, Duration::from_secs(2));
        assert_eq!(s.total(), 2000);
        assert_eq!(s.intended(0), Duration::ZERO);
        assert_eq!(s.intended(1), ms(1));
        assert_eq!(s.intended(1999), ms(1999));
        let s = Schedule::new(3.0, Duration::from_secs(1));
        assert_eq!(s.intended(1), Duration::from_nanos(333_333_333));
    }

    #[test]
    fn due_counts_follow_the_clock_and_stop_at_the_total() {
        let s = Schedule::new(1000.0, Duration::from_secs(1));
        assert_eq!(s.due_by(Duration::ZERO), 1);
        assert_eq!(s.due_by(Duration::from_micros(999)), 1);
        assert_eq!(s.due_by(ms(1)), 2);
        assert_eq!(s.due_by(ms(10)), 11);
        assert_eq!(s.due_by(Duration::from_secs(5)), 1000);
        // Every count agrees with the intended times.
        for i in 1..1000 {
            let t = s.intended(i);
            assert_eq!(s.due_by(t), i + 1);
            assert_eq!(s.due_by(t - Duration::from_nanos(1)), i);
        }
    }

    #[test]
    fn fractional_rates_and_warmup() {
        let s = Schedule::new(2.5, Duration::from_secs(4));
        assert_eq!(s.total(), 10);
        assert_eq!(s.intended(5), Duration::from_secs(2));
        assert_eq!(s.warmup_count(Duration::from_secs(2)), 5);
        assert_eq!(s.warmup_count(Duration::ZERO), 0);
        // A schedule shorter than one interval still sends one request.
        assert_eq!(Schedule::new(1.0, ms(10)).total(), 1);
    }
}
