//! Admission: whether a call may start now, decided on the loop's thread
//! before the call takes any resource. A call is refused (429) when:
//!
//! - its route has `max-concurrency` calls in flight;
//! - its tenant has `queue-limit` calls in flight, so that one tenant's
//!   backlog never refuses another tenant's calls;
//! - its route has a deadline and the call could not finish by it, given
//!   the work its tenant has admitted already (Sledge's admission control,
//!   per tenant): each call in flight counts its expected execution time
//!   divided by its relative deadline, and the tenant's total must stay
//!   within its share of the workers (workers × 0.8, as in Sledge, times
//!   the tenant's CPU weight over all tenants' weights). The expected time
//!   is a percentile (`admissions-percentile`) of the CPU time of the
//!   route's recent calls, or `expected-execution-us` until there are
//!   some;
//! - the server has as many calls in flight as its memory allows (the last
//!   line of defence, sized from the machine).

use crate::config::RouteConfig;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// Load is counted in millionths of a worker.
pub const WORKER: u64 = 1_000_000;

/// Of the workers' time, the part that admission control hands out, in
/// millionths, as in Sledge: the rest absorbs estimates that prove low.
pub const CAPACITY_PER_WORKER: u64 = WORKER * 8 / 10;

/// Recent calls a route's execution time is estimated from.
const HISTORY: usize = 256;

/// Recorded calls after which a route's estimate is computed again, so
/// that the percentile is not recomputed for every call.
const REESTIMATE_EVERY: u32 = 16;

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The route's `max-concurrency`.
    RouteFull,
    /// The tenant's `queue-limit`.
    TenantFull,
    /// It could not finish by its deadline.
    Deadline,
    /// The server-wide limit.
    ServerFull,
}

impl Refusal {
    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::RouteFull => "route_full",
            Refusal::TenantFull => "tenant_full",
            Refusal::Deadline => "deadline",
            Refusal::ServerFull => "server_full",
        }
    }

    /// What the client is told.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::RouteFull => "this function has as many calls in flight as it allows",
            Refusal::TenantFull => "this tenant has as many calls in flight as it allows",
            Refusal::Deadline => "the call could not finish by its deadline",
            Refusal::ServerFull => "the server has as many calls in flight as it can hold",
        }
    }
}

/// An admitted call, as [`Admission::finish`] needs it back.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    tenant: u16,
    /// What the call added to its tenant's load.
    load: u64,
}

/// One tenant's calls in flight.
#[derive(Debug)]
pub struct TenantLoad {
    in_flight: usize,
    limit: usize,
    /// Sum of expected time over relative deadline of the calls in flight,
    /// in millionths of a worker.
    load: u64,
    /// The most `load` may reach.
    capacity: u64,
}

impl TenantLoad {
    /// A tenant that may have `limit` calls in flight and a load of
    /// `capacity` (in millionths of a worker).
    pub fn new(limit: usize, capacity: u64) -> TenantLoad {
        TenantLoad {
            in_flight: 0,
            limit,
            load: 0,
            capacity,
        }
    }
}

/// One route's calls in flight and recent execution times.
#[derive(Debug, Default)]
struct RouteLoad {
    in_flight: usize,
    recent: VecDeque<Duration>,
    estimate: Option<Duration>,
    since_estimate: u32,
}

impl RouteLoad {
    /// The execution time a call is expected to take.
    fn estimate(&mut self, config: &RouteConfig) -> Duration {
        if self.recent.is_empty() {
            return config.expected_execution.unwrap_or_default();
        }
        if self.estimate.is_none() || self.since_estimate >= REESTIMATE_EVERY {
            let mut sorted: Vec<Duration> = self.recent.iter().copied().collect();
            sorted.sort_unstable();
            let at = (sorted.len() - 1) * usize::from(config.admissions_percentile) / 100;
            self.estimate = Some(sorted[at]);
            self.since_estimate = 0;
        }
        self.estimate.unwrap_or_default()
    }

    fn record(&mut self, cpu: Duration) {
        if self.recent.len() == HISTORY {
            self.recent.pop_front();
        }
        self.recent.push_back(cpu);
        self.since_estimate += 1;
    }
}

/// The calls in flight, against their limits.
#[derive(Debug)]
pub struct Admission {
    in_flight: usize,
    server_limit: usize,
    tenants: HashMap<u16, TenantLoad>,
    /// A tenant for ports that have none of their own (deployed functions
    /// on a port that is not a tenant's are refused earlier; this keeps
    /// admission total).
    fallback: TenantLoad,
    /// By function name.
    routes: HashMap<String, RouteLoad>,
}

impl Admission {
    /// At most `server_limit` calls in flight in all; each tenant's own
    /// limits as `tenants` gives them, by port.
    pub fn new(server_limit: usize, tenants: HashMap<u16, TenantLoad>) -> Admission {
        Admission {
            in_flight: 0,
            server_limit,
            tenants,
            fallback: TenantLoad::new(server_limit, u64::MAX),
            routes: HashMap::new(),
        }
    }

    fn tenant(&mut self, port: u16) -> &mut TenantLoad {
        self.tenants.get_mut(&port).unwrap_or(&mut self.fallback)
    }

    /// Admits a call of function `name` (served with `config`) on tenant
    /// port `port` if every limit allows; it then counts until
    /// [`Admission::finish`].
    pub fn admit(
        &mut self,
        port: u16,
        name: &str,
        config: &RouteConfig,
    ) -> Result<Ticket, Refusal> {
        if self.in_flight >= self.server_limit {
            return Err(Refusal::ServerFull);
        }
        if !self.routes.contains_key(name) {
            self.routes.insert(name.to_owned(), RouteLoad::default());
        }
        let route = self.routes.get_mut(name).expect("inserted above");
        if config
            .max_concurrency
            .is_some_and(|max| route.in_flight >= max)
        {
            return Err(Refusal::RouteFull);
        }
        let load = config.relative_deadline.map_or(0, |deadline| {
            let share = route.estimate(config).as_nanos() * u128::from(WORKER);
            (share / deadline.as_nanos().max(1)).min(u128::from(u64::MAX)) as u64
        });
        let tenant = self.tenants.get_mut(&port).unwrap_or(&mut self.fallback);
        if tenant.in_flight >= tenant.limit {
            return Err(Refusal::TenantFull);
        }
        // A call alone is always let through when nothing else of its
        // tenant runs, so that an estimate above the share cannot lock a
        // route out for good.
        if tenant.in_flight > 0 && tenant.load.saturating_add(load) > tenant.capacity {
            return Err(Refusal::Deadline);
        }
        tenant.in_flight += 1;
        tenant.load += load;
        route.in_flight += 1;
        self.in_flight += 1;
        Ok(Ticket { tenant: port, load })
    }

    /// An admitted call of function `name` finished, having used `cpu` of
    /// CPU time (its execution time, for the route's estimate).
    pub fn finish(&mut self, ticket: Ticket, name: &str, cpu: Duration) {
        self.in_flight -= 1;
        let tenant = self.tenant(ticket.tenant);
        tenant.in_flight -= 1;
        tenant.load -= ticket.load;
        if let Some(route) = self.routes.get_mut(name) {
            route.in_flight -= 1;
            route.record(cpu);
        }
    }

    /// Calls admitted and not finished.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn route() -> RouteConfig {
        RouteConfig::new("/f", PathBuf::from("/f.wasm"))
    }

    fn admission(server: usize, tenant_limit: usize) -> Admission {
        let share = 2 * CAPACITY_PER_WORKER;
        let tenants = [
            (1, TenantLoad::new(tenant_limit, share)),
            (2, TenantLoad::new(tenant_limit, share)),
        ];
        Admission::new(server, tenants.into_iter().collect())
    }

    #[test]
    fn a_tenant_at_its_limit_does_not_refuse_another_tenant() {
        let mut admission = admission(100, 2);
        let config = route();
        let a = admission.admit(1, "a", &config).unwrap();
        admission.admit(1, "a", &config).unwrap();
        assert_eq!(
            admission.admit(1, "a", &config).unwrap_err(),
            Refusal::TenantFull
        );
        admission.admit(2, "b", &config).unwrap();
        admission.finish(a, "a", Duration::ZERO);
        admission.admit(1, "a", &config).unwrap();
        assert_eq!(admission.in_flight(), 3);
    }

    #[test]
    fn the_server_limit_holds_across_tenants() {
        let mut admission = admission(3, 2);
        let config = route();
        admission.admit(1, "a", &config).unwrap();
        admission.admit(1, "a", &config).unwrap();
        admission.admit(2, "b", &config).unwrap();
        assert_eq!(
            admission.admit(2, "b", &config).unwrap_err(),
            Refusal::ServerFull
        );
    }

    #[test]
    fn a_route_at_its_max_concurrency_is_refused() {
        let mut admission = admission(100, 100);
        let mut config = route();
        config.max_concurrency = Some(1);
        admission.admit(1, "a", &config).unwrap();
        assert_eq!(
            admission.admit(1, "a", &config).unwrap_err(),
            Refusal::RouteFull
        );
        admission.admit(1, "other", &route()).unwrap();
    }

    #[test]
    fn calls_that_cannot_meet_their_deadline_are_refused_from_the_learned_percentile() {
        let mut admission = admission(100, 100);
        let mut config = route();
        config.relative_deadline = Some(Duration::from_millis(10));
        // The first call of a route without history always goes.
        let first = admission.admit(1, "a", &config).unwrap();
        admission.finish(first, "a", Duration::from_millis(4));
        // 4 ms of 10 ms is 0.4 of a worker; 1.6 holds four.
        let tickets: Vec<_> = (0..4)
            .map(|_| admission.admit(1, "a", &config).unwrap())
            .collect();
        assert_eq!(
            admission.admit(1, "a", &config).unwrap_err(),
            Refusal::Deadline
        );
        // Another tenant's share is its own.
        admission.admit(2, "b", &config).unwrap();
        for ticket in tickets {
            admission.finish(ticket, "a", Duration::from_millis(4));
        }
        admission.admit(1, "a", &config).unwrap();
    }

    #[test]
    fn the_expected_execution_time_stands_in_until_there_is_history() {
        let mut admission = admission(100, 100);
        let mut config = route();
        config.relative_deadline = Some(Duration::from_millis(10));
        config.expected_execution = Some(Duration::from_millis(8));
        admission.admit(1, "a", &config).unwrap();
        admission.admit(1, "a", &config).unwrap();
        assert_eq!(
            admission.admit(1, "a", &config).unwrap_err(),
            Refusal::Deadline
        );
    }
}
