//! Admission: whether a call may start now. Calls admitted and not yet
//! finished are counted against the queue limit; one past it is refused
//! (429) before it takes any resource.

/// The calls in flight, against their limit.
pub struct Admission {
    in_flight: usize,
    limit: usize,
}

impl Admission {
    pub fn new(limit: usize) -> Admission {
        Admission {
            in_flight: 0,
            limit,
        }
    }

    /// Admits a call if the limit allows; it then counts until
    /// [`Admission::finish`].
    pub fn admit(&mut self) -> bool {
        if self.in_flight >= self.limit {
            return false;
        }
        self.in_flight += 1;
        true
    }

    /// An admitted call finished.
    pub fn finish(&mut self) {
        self.in_flight -= 1;
    }

    /// Calls admitted and not finished.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_past_the_limit_are_refused_until_one_finishes() {
        let mut admission = Admission::new(2);
        assert!(admission.admit());
        assert!(admission.admit());
        assert!(!admission.admit());
        assert_eq!(admission.in_flight(), 2);
        admission.finish();
        assert!(admission.admit());
        assert_eq!(admission.in_flight(), 2);
    }
}
