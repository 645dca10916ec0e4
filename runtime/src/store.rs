//! A store groups the instances that run as one sandbox: they share stack
//! and interruption limits.

use crate::sys;
use luge_abi::VmLimits;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Native stack guest code may use below the point where it was entered.
pub const DEFAULT_MAX_STACK: usize = 1 << 20;
/// Stack kept free below the guest's limit for host functions and the
/// signal handler's caller-side frames.
const HOST_STACK_RESERVE: usize = 128 << 10;

/// Cheap to clone; clones share the same limits.
#[derive(Clone)]
pub struct Store(pub(crate) Arc<StoreInner>);

pub(crate) struct StoreInner {
    pub limits: VmLimits,
    max_stack: usize,
}

impl Default for Store {
    fn default() -> Self {
        Store::new(DEFAULT_MAX_STACK)
    }
}

impl Store {
    /// A store whose guests may use up to `max_stack` bytes of native stack.
    pub fn new(max_stack: usize) -> Store {
        Store(Arc::new(StoreInner {
            limits: VmLimits {
                stack_limit: AtomicUsize::new(0),
                interrupt: AtomicU64::new(0),
            },
            max_stack,
        }))
    }

    pub(crate) fn limits(&self) -> *const VmLimits {
        &self.0.limits
    }

    /// A handle another thread can use to stop this store's running guest.
    pub fn interrupt_handle(&self) -> InterruptHandle {
        InterruptHandle(self.0.clone())
    }

    /// Whether an interrupt is pending; clears it.
    pub(crate) fn take_interrupt(&self) -> bool {
        self.0.limits.interrupt.swap(0, Ordering::AcqRel) != 0
    }

    /// Runs `body`, which enters guest code, with this store's stack limit in
    /// force, catching traps and exits.
    pub(crate) fn enter(&self, body: &mut dyn FnMut()) -> Result<(), sys::Unwind> {
        if sys::in_guest().is_none() {
            let sp = sys::stack_pointer();
            let floor = sys::stack_bottom() + HOST_STACK_RESERVE;
            let limit = sp.saturating_sub(self.0.max_stack).max(floor);
            self.0.limits.stack_limit.store(limit, Ordering::Relaxed);
        }
        sys::catch_unwind(body)
    }
}

/// Stops guest code running in a store, from any thread: the guest traps
/// with `Interrupted` at its next loop header or function entry.
#[derive(Clone)]
pub struct InterruptHandle(Arc<StoreInner>);

impl InterruptHandle {
    pub fn interrupt(&self) {
        self.0.limits.interrupt.store(1, Ordering::Release);
    }
}
