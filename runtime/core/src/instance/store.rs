//! A store groups the instances that run as one sandbox: they share stack
//! and interruption limits.

use crate::instance::Instance;
use crate::sys;
use luge_abi::{TrapKind, VmLimits};
use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Native stack guest code may use below the point where it was entered.
pub const DEFAULT_MAX_STACK: usize = 1 << 20;

/// Native stack a sandbox's scheduler task needs beyond what its guest may
/// use, for the runtime and host functions below the guest's frames.
const HOST_STACK: usize = 256 << 10;

/// The stack size to give scheduler tasks whose guests may use `max_stack`
/// bytes.
pub fn task_stack_size(max_stack: usize) -> usize {
    max_stack + HOST_STACK
}
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
    instances: RefCell<Vec<Instance>>,
    /// What the embedder's host functions reach through [`crate::Caller::data`].
    data: Option<Rc<dyn Any>>,
}

/// What compiled code reads through `VmCtx::limits`, plus the stack budget
/// used to compute the stack limit.
pub(crate) struct Limits {
    pub vm: VmLimits,
    max_stack: usize,
    /// Wakes the guest's task while a host call sleeps on its behalf (see
    /// [`crate::Caller::wake_on_interrupt`]), so that an interruption ends
    /// the sleep at once rather than at its end.
    sleeper: Mutex<Option<luge_scheduler::task::Waker>>,
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
                sleeper: Mutex::default(),
            }),
            instances: RefCell::new(Vec::new()),
            data: None,
        }
    }

    /// Sets the host data every instance created in this store hands to the
    /// host functions it calls.
    pub fn with_data<T: 'static>(mut self, data: T) -> Store {
        self.data = Some(Rc::new(data));
        self
    }

    pub(crate) fn data(&self) -> Option<Rc<dyn Any>> {
        self.data.clone()
    }

    /// The host data set with [`Store::with_data`], if it is a `T`.
    pub fn data_ref<T: 'static>(&self) -> Option<&T> {
        self.data.as_ref()?.downcast_ref()
    }

    pub(crate) fn limits(&self) -> &Arc<Limits> {
        &self.limits
    }

    /// Keeps `instance` alive for the life of the store.
    pub(crate) fn adopt(&self, instance: Instance) {
        self.instances.borrow_mut().push(instance);
    }

    /// The instances created in this store so far.
    pub fn instances(&self) -> std::cell::Ref<'_, [Instance]> {
        std::cell::Ref::map(self.instances.borrow(), Vec::as_slice)
    }

    /// A handle another thread can use to stop this store's running guest.
    pub fn interrupt_handle(&self) -> InterruptHandle {
        InterruptHandle(self.limits.clone())
    }

    /// Interrupts this store's guest when the scheduler task it runs on
    /// reaches its timeout (see `luge_scheduler::task::TaskOptions`); at
    /// once if the timeout has already passed. Returns whether the task has
    /// a timeout; outside a task, does nothing.
    pub fn interrupt_on_task_timeout(&self) -> bool {
        let handle = self.interrupt_handle();
        luge_scheduler::task::on_timeout(move || handle.interrupt())
    }
}

impl Limits {
    /// Makes the guest trap with `Interrupted` at its next loop header or
    /// function entry.
    pub(crate) fn interrupt(&self) {
        self.vm.interrupt.store(1, Ordering::Release);
        if let Some(sleeper) = &*self.sleeper.lock().unwrap() {
            sleeper.wake();
        }
    }

    /// Has `waker` called on every interruption until the guard returned
    /// is dropped. Whoever then looks at [`Limits::interrupt_pending`] sees
    /// an interruption that came before this call: the flag is set before
    /// the lock is taken.
    pub(crate) fn wake_on_interrupt(&self, waker: luge_scheduler::task::Waker) -> SleeperGuard<'_> {
        *self.sleeper.lock().unwrap() = Some(waker);
        SleeperGuard(self)
    }

    /// Whether an interrupt is pending, leaving it pending.
    pub(crate) fn interrupt_pending(&self) -> bool {
        self.vm.interrupt.load(Ordering::Acquire) != 0
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
        let result = sys::catch_unwind(body);
        if let Err(sys::Unwind::Trap {
            kind: TrapKind::Interrupted,
            ..
        }) = result
        {
            // Served: the next call into this store runs normally.
            self.vm.interrupt.store(0, Ordering::Release);
        }
        result
    }
}

/// Keeps a [`Limits`]' sleeper registered; see [`Limits::wake_on_interrupt`].
pub struct SleeperGuard<'a>(&'a Limits);

impl Drop for SleeperGuard<'_> {
    fn drop(&mut self) {
        *self.0.sleeper.lock().unwrap() = None;
    }
}

/// Stops guest code running in a store, from any thread: the guest traps
/// with `Interrupted` at its next loop header or function entry.
#[derive(Clone)]
pub struct InterruptHandle(Arc<Limits>);

impl InterruptHandle {
    pub fn interrupt(&self) {
        self.0.interrupt();
    }
}
