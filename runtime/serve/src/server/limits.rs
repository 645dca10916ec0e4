//! How many connections the loop keeps and from whom: the server-wide cap
//! (from the descriptors the process may open), the cap per client
//! address, and the note an operator gets when either is reached.

use crate::config::ConnectionLimits;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Descriptors kept out of the connection cap for everything else the
/// server opens: listeners, the poller, modules, the files and directories
/// sandboxes open. A quarter of the limit, and at least this many.
const MIN_RESERVE: u64 = 256;
/// The smallest connection cap, however few descriptors there are.
const MIN_CONNECTIONS: usize = 16;

/// Raises the process's soft limit on open descriptors to its hard limit
/// (as servers that hold many sockets do) and returns how many
/// connections that leaves room for.
pub fn descriptor_room() -> usize {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        // If raising fails the old soft limit stands; read it back.
        let _ = setrlimit(Resource::Nofile, limit);
    }
    let open = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    room_for_connections(open)
}

/// Connections that `nofile` descriptors leave room for.
fn room_for_connections(nofile: u64) -> usize {
    let reserve = (nofile / 4).max(MIN_RESERVE);
    let room = usize::try_from(nofile.saturating_sub(reserve)).unwrap_or(usize::MAX);
    room.max(MIN_CONNECTIONS)
}

/// The server-wide cap: the configured one, but no more than the
/// descriptors leave room for (with a note when it had to be lowered).
pub fn connection_cap(limits: &ConnectionLimits) -> usize {
    let room = descriptor_room();
    match limits.max_connections {
        Some(wanted) if wanted > room => {
            eprintln!(
                "luge: max-connections {wanted} is more than the descriptor limit leaves \
                 room for; using {room}"
            );
            room
        }
        Some(wanted) => wanted,
        None => room,
    }
}

/// Open connections per client: per IPv4 address, and per IPv6 /64
/// network (one host is usually given a whole /64, so counting addresses
/// would let it open 2^64 times the cap).
pub struct PerClient {
    open: HashMap<IpAddr, usize>,
    max: usize,
}

/// What a connection from `address` counts against.
fn client_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

impl PerClient {
    pub fn new(max: usize) -> PerClient {
        PerClient {
            open: HashMap::new(),
            max,
        }
    }

    /// Whether a client at `address` may open one more connection.
    pub fn has_room(&self, address: IpAddr) -> bool {
        let client = client_of(address);
        self.open.get(&client).is_none_or(|&n| n < self.max)
    }

    pub fn opened(&mut self, address: IpAddr) {
        *self.open.entry(client_of(address)).or_default() += 1;
    }

    pub fn closed(&mut self, address: IpAddr) {
        let client = client_of(address);
        if let Some(n) = self.open.get_mut(&client) {
            *n -= 1;
            if *n == 0 {
                self.open.remove(&client);
            }
        }
    }
}

/// A note to the operator that is printed at most once a second, however
/// often its cause recurs (an attack may make it recur thousands of times
/// a second).
#[derive(Default)]
pub struct Throttled {
    last: Option<Instant>,
    /// How many times it was due since it was last printed.
    skipped: u64,
}

impl Throttled {
    pub fn note(&mut self, text: impl FnOnce() -> String) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < Duration::from_secs(1))
        {
            self.skipped += 1;
            return;
        }
        match std::mem::take(&mut self.skipped) {
            0 => eprintln!("luge: {}", text()),
            skipped => eprintln!("luge: {} ({skipped} more since the last note)", text()),
        }
        self.last = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quarter_of_the_descriptors_is_kept_back() {
        assert_eq!(room_for_connections(1024), 768);
        assert_eq!(room_for_connections(20000), 15000);
        assert_eq!(room_for_connections(300), 44);
        assert_eq!(room_for_connections(100), MIN_CONNECTIONS);
    }

    #[test]
    fn each_address_has_its_own_count() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let mut clients = PerClient::new(2);
        clients.opened(a);
        clients.opened(a);
        assert!(!clients.has_room(a));
        assert!(clients.has_room(b));
        clients.closed(a);
        assert!(clients.has_room(a));
        clients.closed(a);
        assert!(clients.open.is_empty(), "closed addresses are forgotten");
    }

    #[test]
    fn an_ipv6_network_counts_as_one_client() {
        let mut clients = PerClient::new(2);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        clients.opened(ip("2001:db8:1:2::1"));
        clients.opened(ip("2001:db8:1:2:ffff::9"));
        assert!(!clients.has_room(ip("2001:db8:1:2::77")));
        assert!(clients.has_room(ip("2001:db8:1:3::1")), "another /64");
        // An IPv4 client reaching an IPv6 socket is still itself.
        clients.opened(ip("::ffff:10.0.0.1"));
        clients.opened(ip("10.0.0.1"));
        assert!(!clients.has_room(ip("10.0.0.1")));
        clients.closed(ip("2001:db8:1:2::5"));
        assert!(clients.has_room(ip("2001:db8:1:2::77")));
    }
}
