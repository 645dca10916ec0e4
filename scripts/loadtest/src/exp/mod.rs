//! The experiments of docs/workloads.md, one module each.

pub mod access;
pub mod capacity;
pub mod cold;
pub mod concurrency;
pub mod hostile;
pub mod tierup;
