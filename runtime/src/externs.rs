//! What instances import and export: functions, memories, tables, globals.

use crate::instance::Instance;
use crate::memory::Memory;
use crate::store::Limits;
use crate::sys::Unwind;
use crate::table::Table;
use crate::types::canonical_type_id;
use crate::values::Val;
use luge_abi::{FuncType, GlobalType, Trampoline, TrapKind, VmCtx, VmGlobal};
use std::any::Any;
use std::cell::UnsafeCell;
use std::rc::Rc;
use std::sync::Arc;

/// Why a call into guest code did not return values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("wasm trap: {0}")]
    Trap(TrapKind),
    #[error("exited with status {0}")]
    Exit(i32),
    #[error("{0}")]
    Signature(String),
    #[error("host functions cannot be called from the host")]
    HostFunc,
}

impl From<Unwind> for CallError {
    fn from(u: Unwind) -> Self {
        match u {
            Unwind::Trap { kind, .. } => CallError::Trap(kind),
            Unwind::Exit(status) => CallError::Exit(status),
        }
    }
}

/// A function: compiled guest code of some instance, or a host function.
#[derive(Clone)]
pub struct Func {
    pub(crate) code: *const u8,
    pub(crate) type_id: u64,
    pub(crate) ty: Arc<FuncType>,
    pub(crate) kind: FuncKind,
}

#[derive(Clone)]
pub(crate) enum FuncKind {
    /// Called with the context of whichever instance imports it.
    Host,
    Wasm {
        owner: Instance,
        vmctx: *mut VmCtx,
        trampoline: Trampoline,
    },
}

impl Func {
    /// A host function. `code` must be an `extern "C"` function taking the
    /// calling instance's `*mut VmCtx` followed by the parameters of `ty`,
    /// and returning its (at most one) result. A `v128` travels as a C
    /// vector does (`__m128i` on x86_64, `uint8x16_t` on aarch64), in a
    /// vector register.
    ///
    /// # Safety
    /// `code` must have exactly that signature and stay valid for as long
    /// as any instance uses it.
    pub unsafe fn host(code: *const u8, ty: FuncType) -> Func {
        let type_id = canonical_type_id(&ty);
        // SAFETY: as for this function; `type_id` is `ty`'s.
        unsafe { Func::host_with_id(code, Arc::new(ty), type_id) }
    }

    /// [`Func::host`] with the signature's canonical id already known, for
    /// imports resolved once and instantiated many times.
    ///
    /// # Safety
    /// As for [`Func::host`], and `type_id` must be
    /// `canonical_type_id(&ty)`.
    pub(crate) unsafe fn host_with_id(code: *const u8, ty: Arc<FuncType>, type_id: u64) -> Func {
        Func {
            code,
            type_id,
            ty,
            kind: FuncKind::Host,
        }
    }

    pub fn ty(&self) -> &FuncType {
        &self.ty
    }

    /// Calls a guest function with `args`, returning its results.
    pub fn call(&self, args: &[Val]) -> Result<Vec<Val>, CallError> {
        let FuncKind::Wasm {
            owner,
            vmctx,
            trampoline,
        } = &self.kind
        else {
            return Err(CallError::HostFunc);
        };
        check_args(&self.ty, args)?;
        let mut values: Vec<u128> = args.iter().map(|a| a.to_bits()).collect();
        values.resize(self.ty.params.len().max(self.ty.results.len()), 0);
        invoke(owner.limits(), *trampoline, self.code, *vmctx, &mut values)?;
        Ok(self
            .ty
            .results
            .iter()
            .zip(values)
            .map(|(&ty, bits)| Val::from_bits(bits, ty))
            .collect())
    }
}

fn check_args(ty: &FuncType, args: &[Val]) -> Result<(), CallError> {
    if args.iter().map(Val::ty).eq(ty.params.iter().copied()) {
        return Ok(());
    }
    let given: Vec<_> = args.iter().map(Val::ty).collect();
    Err(CallError::Signature(format!(
        "function expects parameters {ty} but was given {given:?}"
    )))
}

/// Enters guest code through `trampoline`.
pub(crate) fn invoke(
    limits: &Limits,
    trampoline: Trampoline,
    code: *const u8,
    vmctx: *mut VmCtx,
    values: &mut [u128],
) -> Result<(), Unwind> {
    let values = values.as_mut_ptr();
    limits.enter(&mut || {
        // SAFETY: `code` and `vmctx` belong to a live instance (its owner is
        // held by the caller), the trampoline matches the function's type,
        // and `values` has room for its parameters and results.
        unsafe { trampoline(code, vmctx, values) }
    })
}

/// A global variable.
#[derive(Clone)]
pub struct Global {
    pub(crate) ptr: *mut VmGlobal,
    pub(crate) ty: GlobalType,
    /// Keeps the storage `ptr` points into alive: a host cell or the
    /// instance whose context holds the global.
    _owner: Rc<dyn Any>,
}

impl Global {
    /// A global owned by the host, with initial value `value`.
    pub fn host(ty: GlobalType, value: Val) -> Global {
        let cell = Rc::new(UnsafeCell::new(VmGlobal {
            bits: value.to_bits(),
        }));
        Global {
            ptr: cell.get(),
            ty,
            _owner: cell,
        }
    }

    pub(crate) fn of_instance(owner: Instance, ptr: *mut VmGlobal, ty: GlobalType) -> Global {
        Global {
            ptr,
            ty,
            _owner: owner.0,
        }
    }

    pub fn ty(&self) -> GlobalType {
        self.ty
    }

    pub fn get(&self) -> Val {
        // SAFETY: `ptr` points into storage kept alive by `_owner`.
        Val::from_bits(unsafe { (*self.ptr).bits }, self.ty.ty)
    }
}

/// Anything an instance can import or export.
#[derive(Clone)]
pub enum Extern {
    Func(Func),
    Memory(Memory),
    Table(Table),
    Global(Global),
}

impl Extern {
    pub fn kind(&self) -> luge_abi::ExternKind {
        match self {
            Extern::Func(_) => luge_abi::ExternKind::Func,
            Extern::Memory(_) => luge_abi::ExternKind::Memory,
            Extern::Table(_) => luge_abi::ExternKind::Table,
            Extern::Global(_) => luge_abi::ExternKind::Global,
        }
    }
}
