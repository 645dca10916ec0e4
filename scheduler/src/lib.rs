//! User-space scheduling for Luge sandboxes.
//!
//! Sandboxes run on their own stacks ([`stack`]) and switch between each
//! other and their worker without entering the kernel ([`context`]); their
//! life cycle is an explicit state machine ([`lifecycle`]). The
//! unsafe parts live in `context` (the switch itself, in assembly) and
//! `stack` (the mappings).

pub mod context;
pub mod lifecycle;
pub mod queue;
pub mod stack;
pub mod worker;
