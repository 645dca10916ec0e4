//! What instances import and export: functions, memories, tables, globals.

use crate::instance::store::Limits;
use crate::instance::Instance;
use crate::memory::Memory;
use crate::sys::Unwind;
use crate::table::Table;
use crate::types::canonical_type_id;
use crate::values::Val;
use luge_abi::{FuncType, GlobalType, Trampoline, TrapKind, ValType, VmCtx, VmGlobal};
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
    #[error("host function panicked: {0}")]
    HostPanic(String),
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
            Unwind::HostPanic(message) => CallError::HostPanic(message.into()),
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
    /// vector register. A panic must not leave it: its body runs inside
    /// [`crate::sys::host_call`], which ends the calling sandbox instead.
    ///
    /// # Safety
    /// `code` must have exactly that signature and stay valid for as long
    /// as any instance uses it.
    pub unsafe fn host(code: *const u8, ty: FuncType) -> Func {
        // SAFETY: the caller's contract is `HostFunc::new`'s.
        unsafe { HostFunc::new(code, ty) }.func()
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

/// A host function resolved once, for imports instantiated many times: its
/// signature's canonical id is computed here, not per instantiation.
#[derive(Clone)]
pub struct HostFunc {
    code: usize,
    ty: Arc<FuncType>,
    type_id: u64,
}

impl HostFunc {
    /// # Safety
    /// As for [`Func::host`]: `code` has exactly the signature `ty` says
    /// and stays valid for as long as any instance uses it.
    pub unsafe fn new(code: *const u8, ty: FuncType) -> HostFunc {
        HostFunc {
            code: code as usize,
            type_id: canonical_type_id(&ty),
            ty: Arc::new(ty),
        }
    }

    /// The function as an import of one instantiation.
    pub fn func(&self) -> Func {
        Func {
            code: self.code as *const u8,
            type_id: self.type_id,
            ty: self.ty.clone(),
            kind: FuncKind::Host,
        }
    }

    pub fn ty(&self) -> &FuncType {
        &self.ty
    }
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

    /// Sets a mutable global, as `global.set` would.
    pub fn set(&self, value: Val) -> Result<(), SetGlobalError> {
        if !self.ty.mutable {
            return Err(SetGlobalError::Immutable);
        }
        if value.ty() != self.ty.ty {
            return Err(SetGlobalError::Type {
                global: self.ty.ty,
                value: value.ty(),
            });
        }
        // SAFETY: `ptr` points into storage kept alive by `_owner`; a
        // store's instances and globals stay on one thread (`Rc`), and no
        // guest code of it runs while the host holds `&self` here.
        unsafe { (*self.ptr).bits = value.to_bits() };
        Ok(())
    }
}

/// Why [`Global::set`] refused a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetGlobalError {
    #[error("the global is immutable")]
    Immutable,
    #[error("a global of type {global:?} cannot hold a value of type {value:?}")]
    Type { global: ValType, value: ValType },
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
