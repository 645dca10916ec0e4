//! User-space scheduling for Luge sandboxes.
//!
//! Sandboxes run as tasks ([`task`]) on their own stacks ([`stack`]) and
//! switch between each other and their worker without entering the kernel
//! ([`context`]); workers ([`worker`]) pick them by group ([`group`]: CPU
//! shares and budgets per tenant) and policy ([`queue`]);
//! their life cycle is an explicit state machine ([`lifecycle`]). Blocked
//! tasks wait in the worker's timers or in the IO loop (`io`), not on a
//! thread. The unsafe parts live in `context` (the switch itself, in
//! assembly), `stack` (the mappings) and `task` (the running task's
//! handle).

pub mod context;
pub mod group;
pub mod hooks;
mod io;
pub mod lifecycle;
mod parked;
pub mod queue;
mod sleepers;
pub mod stack;
pub mod task;
mod waker;
pub mod worker;
