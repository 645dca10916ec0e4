//! The activation store: the records of OpenWhisk invocations, kept once
//! their calls end so that a client can fetch them by id
//! (`GET /api/v1/namespaces/NS/activations/ID`). That is what a
//! non-blocking call is answered through: it holds no connection while it
//! runs, which is what lets one server hold more sleeping sandboxes than
//! it may open descriptors.
//!
//! The store is bounded by bytes: the oldest records give way to new ones,
//! as OpenWhisk's own store keeps records for a retention period only. A
//! client that asks too late is told 404, like one that asks too early.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// What one record costs beyond its bytes, counted against the budget: its
/// id twice (map and queue) and the containers' bookkeeping.
const RECORD_OVERHEAD: usize = 128;

/// The records kept, oldest first out.
pub struct ActivationStore {
    /// Shared, so that a record is read (and parsed) without the store's
    /// lock held.
    records: HashMap<String, Arc<[u8]>>,
    /// Ids in the order they were kept.
    order: VecDeque<String>,
    /// What the records cost, with [`RECORD_OVERHEAD`] each.
    bytes: usize,
    budget: usize,
}

impl ActivationStore {
    /// A store that holds records worth at most `budget` bytes.
    pub fn new(budget: usize) -> ActivationStore {
        ActivationStore {
            records: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            budget,
        }
    }

    /// Keeps `record` (the JSON of an activation record) under `id`,
    /// letting the oldest records go until it fits. A record larger than
    /// the whole budget is not kept: callers bound their records first
    /// (`openwhisk::bounded_record`).
    pub fn keep(&mut self, id: String, record: Vec<u8>) {
        let record: Arc<[u8]> = record.into();
        let cost = record.len() + RECORD_OVERHEAD;
        if cost > self.budget {
            return;
        }
        while self.bytes + cost > self.budget {
            self.forget_oldest();
        }
        self.bytes += cost;
        if let Some(earlier) = self.records.insert(id.clone(), record) {
            // Ids are random, so this does not happen; if it did, the
            // earlier record's cost must not stay counted.
            self.bytes -= earlier.len() + RECORD_OVERHEAD;
            self.order.retain(|kept| *kept != id);
        }
        self.order.push_back(id);
    }

    /// The record kept under `id`, if it is still kept.
    pub fn get(&self, id: &str) -> Option<Arc<[u8]>> {
        self.records.get(id).cloned()
    }

    /// The records kept, newest first, past the `skip` newest.
    pub fn newest(&self, skip: usize) -> impl Iterator<Item = &Arc<[u8]>> {
        let ids = self.order.iter().rev().skip(skip);
        ids.filter_map(|id| self.records.get(id))
    }

    fn forget_oldest(&mut self) {
        let Some(id) = self.order.pop_front() else {
            return;
        };
        if let Some(record) = self.records.remove(&id) {
            self.bytes -= record.len() + RECORD_OVERHEAD;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_records_give_way_to_the_budget() {
        let record = |n: usize| vec![b'x'; n];
        let mut store = ActivationStore::new(3 * (100 + RECORD_OVERHEAD));
        for id in ["a", "b", "c"] {
            store.keep(id.to_owned(), record(100));
        }
        assert_eq!(store.records.len(), 3);
        store.keep("d".to_owned(), record(100));
        assert!(store.get("a").is_none());
        assert_eq!(store.get("d").as_deref(), Some(&record(100)[..]));
        // A large record pushes out as many as it needs.
        store.keep("e".to_owned(), record(200 + RECORD_OVERHEAD));
        assert!(store.get("b").is_none() && store.get("c").is_none());
        assert!(store.get("d").is_some() && store.get("e").is_some());
        // One larger than the budget is not kept, and costs nothing.
        store.keep("huge".to_owned(), record(10_000));
        assert!(store.get("huge").is_none());
        assert_eq!(store.records.len(), 2);
    }

    #[test]
    fn records_are_listed_newest_first() {
        let mut store = ActivationStore::new(1 << 20);
        for id in ["a", "b", "c"] {
            store.keep(id.to_owned(), id.as_bytes().to_vec());
        }
        let listed: Vec<&[u8]> = store.newest(1).map(|r| &r[..]).collect();
        assert_eq!(listed, [b"b", b"a"]);
    }

    #[test]
    fn a_flood_of_records_stays_within_the_budget() {
        let budget = 1 << 20;
        let mut store = ActivationStore::new(budget);
        for i in 0..100_000 {
            store.keep(format!("{i:032x}"), vec![b'r'; 300]);
        }
        assert!(store.bytes <= budget);
        assert_eq!(store.records.len(), budget / (300 + RECORD_OVERHEAD));
        assert_eq!(store.order.len(), store.records.len());
        assert!(store.get(&format!("{:032x}", 99_999)).is_some());
    }
}
