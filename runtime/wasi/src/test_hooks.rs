//! Host functions that exist only to test the runtime itself: built with
//! the `test-hooks` feature, which the workspace's tests turn on and a
//! release build of `luge` never has. A module importing them anywhere
//! else fails to load like any other unknown import.

use crate::funcs::dispatch;
use luge_runtime::sys::host_call;
use luge_runtime::{Caller, FuncType, VmCtx};

/// The import module these functions are found under.
pub const MODULE: &str = "luge_test";

/// The message `luge_test::panic` panics with.
pub const PANIC_MESSAGE: &str = "luge_test::panic was called";

/// The function named `name` and its signature.
pub(crate) fn function(name: &str) -> Option<(*const u8, FuncType)> {
    let no_values = FuncType {
        params: vec![],
        results: vec![],
    };
    match name {
        "panic" => Some((panic as *const u8, no_values)),
        _ => None,
    }
}

/// Panics inside a host call, as a bug in a WASI function would: the
/// sandbox must end with a trap and the process must live on.
unsafe extern "C" fn panic(vmctx: *mut VmCtx) {
    // SAFETY: compiled code calls host functions with its own context, and
    // `caller` does not outlive this call; this frame holds only `caller`,
    // which owns nothing.
    unsafe {
        let caller = Caller::from_vmctx(vmctx);
        host_call(|| dispatch(&caller, |_| panic!("{PANIC_MESSAGE}")));
    }
}
