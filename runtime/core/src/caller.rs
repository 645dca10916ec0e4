//! What a host function sees of the sandbox that called it.

use crate::instance::store::SleeperGuard;
use crate::instance::InstanceInner;
use crate::memory::Memory;
use luge_abi::VmCtx;

/// The calling instance, as seen from inside a host function.
pub struct Caller<'a> {
    instance: &'a InstanceInner,
}

impl<'a> Caller<'a> {
    /// The caller of a host function, from the context pointer compiled code
    /// passed as its first argument.
    ///
    /// # Safety
    /// `vmctx` must be exactly that pointer, and the returned value must not
    /// outlive the host function's invocation.
    pub unsafe fn from_vmctx(vmctx: *mut VmCtx) -> Caller<'a> {
        Caller {
            // SAFETY: per the contract above, `vmctx` is a live instance's.
            instance: unsafe { InstanceInner::from_vmctx(vmctx) },
        }
    }

    /// The caller's linear memory.
    pub fn memory(&self) -> Option<&'a Memory> {
        self.instance.memory.as_ref()
    }

    /// Whether the sandbox has been asked to stop (its time ran out): a
    /// host function that blocks should return soon.
    pub fn interrupt_pending(&self) -> bool {
        self.instance.limits.interrupt_pending()
    }

    /// Has `waker` called if the sandbox is interrupted while the returned
    /// guard lives: a host function that sleeps on the guest's behalf
    /// registers its task's waker, then looks at
    /// [`Caller::interrupt_pending`] (which sees an interruption from
    /// before the call) and sleeps, and an interruption ends the sleep at
    /// once instead of the host function waking every so often to look.
    pub fn wake_on_interrupt(&self, waker: luge_scheduler::task::Waker) -> SleeperGuard<'a> {
        self.instance.limits.wake_on_interrupt(waker)
    }

    /// Stops the sandbox as soon as the host function returns: the guest
    /// traps with `Interrupted` at its next loop header or function entry,
    /// as when its time runs out. For a guest that went past a limit it
    /// must not be allowed to go on ignoring.
    pub fn interrupt(&self) {
        self.instance.limits.interrupt();
    }

    /// The host data of the caller's store (see [`crate::Store::with_data`]).
    pub fn data<T: 'static>(&self) -> Option<&'a T> {
        self.instance.host_data.as_ref()?.downcast_ref()
    }
}
