//! A store groups the instances that run as one sandbox: they share stack
//! and interruption limits.

use crate::instance::Instance;
use crate::sys;
use luge_abi::VmLimits;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Native stack guest code may use below the point where it was entered.
pub const DEFAULT_MAX_STACK: usize = 1 << 20;
/// Stack kept free below the guest's limit for host functions and the
/// signal handler's caller-side frames.
const HOST_STACK_RESERVE: usize = 128 << 10;

/// Owns the instances of one sandbox and the limits they share.
///
/// Instances live as long as their store: tables may hold references to the
/// functions of any instance of the store, including one whose
/// instantiation failed halfway, so none may go away before the store does.
pub struct Store {
    limits: Arc<Limits>,
    instances: Mutex<Vec<Instance>>,
}

/// What compiled code reads through `VmCtx::limits`, plus the stack budget
/// used to compute the stack limit.
pub(crate) struct Limits {
    pub vm: VmLimits,
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
        Store {
            limits: Arc::new(Limits {
                vm: VmLimits {
                    stack_limit: AtomicUsize::new(0),
                    interrupt: AtomicU64::new(0),
                },
                max_stack,
            }),
            instances: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn limits(&self) -> &Arc<Limits> {
        &self.limits
    }

    /// Keeps `instance` alive for the life of the store.
    pub(crate) fn adopt(&self, instance: Instance) {
        self.instances.lock().unwrap().push(instance);
    }

    /// A handle another thread can use to stop this store's running guest.
    pub fn interrupt_handle(&self) -> InterruptHandle {
        InterruptHandle(self.limits.clone())
    }
}

impl Limits {
    /// Whether an interrupt is pending; clears it.
    pub(crate) fn take_interrupt(&self) -> bool {
        self.vm.interrupt.swap(0, Ordering::AcqRel) != 0
    }

    /// Runs `body`, which enters guest code, with the stack limit in force,
    /// catching traps and exits.
    pub(crate) fn enter(&self, body: &mut dyn FnMut()) -> Result<(), sys::Unwind> {
        if sys::in_guest().is_none() {
            let sp = sys::stack_pointer();
            let floor = sys::stack_bottom() + HOST_STACK_RESERVE;
            let limit = sp.saturating_sub(self.max_stack).max(floor);
            self.vm.stack_limit.store(limit, Ordering::Relaxed);
        }
        sys::catch_unwind(body)
    }
}

/// Stops guest code running in a store, from any thread: the guest traps
/// with `Interrupted` at its next loop header or function entry.
#[derive(Clone)]
pub struct InterruptHandle(Arc<Limits>);

impl InterruptHandle {
    pub fn interrupt(&self) {
        self.0.vm.interrupt.store(1, Ordering::Release);
    }
}
