//! Instances: building a sandbox context for a loaded module, resolving
//! its imports and running its initializers; the store that owns a
//! sandbox's instances ([`store`]), the functions and globals they export
//! and import ([`externs`]), and the host functions compiled code calls
//! into ([`builtins`]).

pub(crate) mod builtins;
pub(crate) mod externs;
pub(crate) mod store;

use crate::memory::{Memory, MemoryBudget, MemoryError};
use crate::module::Module;
use crate::sys::Unwind;
use crate::table::Table;
use builtins::BUILTINS;
use externs::{invoke, CallError, Extern, Func, FuncKind, Global};
use luge_abi::{
    BoundsMode, ConstExpr, ElemMode, ExternKind, ImportKind, TrapKind, VmCtx, VmFuncImport,
    VmFuncRef, VmGlobal, VmLayout, VmMemory, VmTable,
};
use std::alloc::Layout;
use std::any::Any;
use std::cell::Cell;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::Arc;
use store::{Limits, Store};

#[derive(Debug, thiserror::Error)]
pub enum InstantiationError {
    #[error("module expects {expected} imports, {given} were given")]
    ImportCount { expected: usize, given: usize },
    #[error("import `{module}::{name}`: {reason}")]
    Import {
        module: String,
        name: String,
        reason: String,
    },
    #[error(transparent)]
    Memory(#[from] MemoryError),
    #[error("table of {0} elements is larger than supported")]
    Table(u32),
    #[error("instantiation trapped: {0}")]
    Trap(TrapKind),
    #[error("start function exited with status {0}")]
    Exit(i32),
    #[error("instantiation trapped: host function panicked: {0}")]
    HostPanic(String),
}

impl From<Unwind> for InstantiationError {
    fn from(u: Unwind) -> Self {
        match u {
            Unwind::Trap { kind, .. } => InstantiationError::Trap(kind),
            Unwind::Exit(status) => InstantiationError::Exit(status),
            Unwind::HostPanic(message) => InstantiationError::HostPanic(message.into()),
        }
    }
}

/// Per-instance settings.
#[derive(Debug, Clone)]
pub struct InstanceConfig {
    /// Largest linear memory, in wasm pages.
    pub memory_limit_pages: u32,
    /// What a memory the instance creates is charged to, if anything.
    pub memory_budget: Option<Arc<MemoryBudget>>,
}

impl Default for InstanceConfig {
    fn default() -> Self {
        InstanceConfig {
            memory_limit_pages: luge_abi::WASM_MAX_PAGES as u32,
            memory_budget: None,
        }
    }
}

/// An instantiated module. Cheap to clone; the context lives until the last
/// clone (or export) is dropped.
#[derive(Clone)]
pub struct Instance(pub(crate) Rc<InstanceInner>);

pub(crate) struct InstanceInner {
    pub module: Module,
    pub limits: Arc<Limits>,
    pub host_data: Option<Rc<dyn Any>>,
    vmctx: NonNull<VmCtx>,
    pub memory: Option<Memory>,
    pub tables: Vec<Table>,
    imported_funcs: Vec<Func>,
    imported_globals: Vec<Global>,
    pub dropped_data: Box<[Cell<bool>]>,
    pub dropped_elems: Box<[Cell<bool>]>,
}

fn vmctx_layout(layout: &VmLayout) -> Layout {
    Layout::from_size_align(layout.size as usize, 16).expect("context layout")
}

impl Drop for InstanceInner {
    fn drop(&mut self) {
        // SAFETY: allocated in `Instance::new` with this same layout.
        unsafe {
            std::alloc::dealloc(
                self.vmctx.as_ptr() as *mut u8,
                vmctx_layout(&self.module.inner.layout),
            )
        };
    }
}

fn import_error(module: &Module, index: usize, reason: String) -> InstantiationError {
    let import = &module.descriptor().imports[index];
    InstantiationError::Import {
        module: import.module.clone(),
        name: import.name.clone(),
        reason,
    }
}

fn limits_match(given_min: u32, given_max: Option<u32>, min: u32, max: Option<u32>) -> bool {
    given_min >= min
        && match (max, given_max) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(m), Some(g)) => g <= m,
        }
}

/// Checks each import against what the module declares.
fn check_imports(module: &Module, imports: &[Extern]) -> Result<(), InstantiationError> {
    let d = module.descriptor();
    if imports.len() != d.imports.len() {
        return Err(InstantiationError::ImportCount {
            expected: d.imports.len(),
            given: imports.len(),
        });
    }
    for (i, (import, given)) in d.imports.iter().zip(imports).enumerate() {
        let fail = |reason: String| Err(import_error(module, i, reason));
        match (&import.kind, given) {
            (ImportKind::Func(t), Extern::Func(f)) => {
                if f.type_id != module.inner.type_ids[*t as usize] {
                    return fail(format!(
                        "function type mismatch: expected {}, found {}",
                        d.types[*t as usize], f.ty
                    ));
                }
            }
            (ImportKind::Memory(ty), Extern::Memory(m)) => {
                if d.bounds == BoundsMode::Guard && m.mode() != BoundsMode::Guard {
                    return fail(
                        "memory was created for software-checked code and has no guard region"
                            .into(),
                    );
                }
                let given = m.ty();
                if !limits_match(given.min, given.max, ty.min, ty.max) {
                    return fail("incompatible memory limits".into());
                }
            }
            (ImportKind::Table(ty), Extern::Table(t)) => {
                let given = t.ty();
                if given.elem != ty.elem || !limits_match(given.min, given.max, ty.min, ty.max) {
                    return fail("incompatible table type".into());
                }
            }
            (ImportKind::Global(ty), Extern::Global(g)) => {
                if g.ty != *ty {
                    return fail("global type mismatch".into());
                }
            }
            (_, given) => {
                return fail(format!(
                    "expected a {}, found a {}",
                    kind_of(&import.kind),
                    given.kind()
                ));
            }
        }
    }
    Ok(())
}

fn kind_of(kind: &ImportKind) -> ExternKind {
    match kind {
        ImportKind::Func(_) => ExternKind::Func,
        ImportKind::Table(_) => ExternKind::Table,
        ImportKind::Memory(_) => ExternKind::Memory,
        ImportKind::Global(_) => ExternKind::Global,
    }
}

impl InstanceInner {
    /// The instance owning `vmctx`.
    ///
    /// # Safety
    /// `vmctx` must be a context compiled code passed to a builtin or host
    /// function: that of a live instance, whose `host` field points to its
    /// `InstanceInner`.
    pub(crate) unsafe fn from_vmctx<'a>(vmctx: *mut VmCtx) -> &'a InstanceInner {
        // SAFETY: per the contract above.
        unsafe { &*((*vmctx).host as *const InstanceInner) }
    }

    pub(crate) fn layout(&self) -> &VmLayout {
        &self.module.inner.layout
    }

    /// Address `offset` bytes into the context.
    pub(crate) fn at<T>(&self, offset: u32) -> *mut T {
        // SAFETY: every offset comes from this module's `VmLayout`, so it
        // lies inside the context allocation.
        unsafe { (self.vmctx.as_ptr() as *mut u8).add(offset as usize) as *mut T }
    }

    /// Pointer to the storage of global `index`.
    pub(crate) fn global_ptr(&self, index: u32) -> *mut VmGlobal {
        let layout = self.layout();
        match index.checked_sub(layout.counts.imported_globals) {
            None => self.imported_globals[index as usize].ptr,
            Some(defined) => self.at(layout.defined_global(defined)),
        }
    }

    /// Value of a constant expression, as slot bits.
    pub(crate) fn eval(&self, expr: &ConstExpr) -> u128 {
        match *expr {
            ConstExpr::I32(v) => u128::from(v as u32),
            ConstExpr::I64(v) => u128::from(v as u64),
            ConstExpr::F32(v) => u128::from(v),
            ConstExpr::F64(v) => u128::from(v),
            ConstExpr::V128(v) => v,
            ConstExpr::RefNull => 0,
            ConstExpr::RefFunc(f) => self.at::<VmFuncRef>(self.layout().funcref(f)) as u128,
            // SAFETY: the validator only allows reading globals that exist
            // and are initialized before this expression is evaluated.
            ConstExpr::GlobalGet(g) => unsafe { (*self.global_ptr(g)).bits },
        }
    }
}

impl Instance {
    /// Instantiates `module` in `store` with `imports` given in the order
    /// of the module's import section, and runs its start function.
    pub fn new(
        module: &Module,
        store: &Store,
        imports: &[Extern],
        config: &InstanceConfig,
    ) -> Result<Instance, InstantiationError> {
        check_imports(module, imports)?;
        let d = module.descriptor();
        let mut memory = None;
        let mut tables = Vec::with_capacity(d.tables.len());
        let mut imported_funcs = Vec::new();
        let mut imported_globals = Vec::new();
        for given in imports {
            match given {
                Extern::Func(f) => imported_funcs.push(f.clone()),
                Extern::Memory(m) => memory = Some(m.clone()),
                Extern::Table(t) => tables.push(t.clone()),
                Extern::Global(g) => imported_globals.push(g.clone()),
            }
        }
        let image = module.inner.image.clone();
        let data_in_image = memory.is_none() && image.is_some();
        if memory.is_none() {
            if let Some(ty) = d.memory {
                let created = Memory::with_image(ty, d.bounds, config.memory_limit_pages, image)?;
                if let Some(budget) = &config.memory_budget {
                    created.charge_to(budget)?;
                }
                memory = Some(created);
            }
        }
        for ty in &d.tables[tables.len()..] {
            tables.push(Table::new(*ty, 0).ok_or(InstantiationError::Table(ty.min))?);
        }
        let layout = &module.inner.layout;
        // SAFETY: the layout has non-zero size (the header alone is 40 bytes).
        let vmctx = unsafe { std::alloc::alloc_zeroed(vmctx_layout(layout)) } as *mut VmCtx;
        let vmctx = NonNull::new(vmctx).expect("out of memory allocating a sandbox context");
        let instance = Instance(Rc::new(InstanceInner {
            module: module.clone(),
            limits: store.limits().clone(),
            host_data: store.data(),
            vmctx,
            memory,
            tables,
            imported_funcs,
            imported_globals,
            dropped_data: (0..d.data.len()).map(|_| Cell::new(false)).collect(),
            dropped_elems: (0..d.elements.len()).map(|_| Cell::new(false)).collect(),
        }));
        instance.init_context();
        store.adopt(instance.clone());
        instance.init_segments(data_in_image)?;
        if let Some(start) = d.start {
            instance.call_index(start, &mut [])?;
        }
        Ok(instance)
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.0.limits
    }

    pub(crate) fn vmctx(&self) -> *mut VmCtx {
        self.0.vmctx.as_ptr()
    }

    /// Fills the context: header, imports, tables, funcrefs, signature ids
    /// and globals, in an order where each step finds what it reads.
    fn init_context(&self) {
        let inner = &*self.0;
        let module = &inner.module.inner;
        let d = &module.descriptor;
        let layout = *inner.layout();
        let vmctx = self.vmctx();
        let (memory_base, memory_vm) = match &inner.memory {
            Some(m) => (m.base(), m.vm()),
            None => (std::ptr::null_mut(), std::ptr::null_mut::<VmMemory>()),
        };
        // SAFETY: `vmctx` is a fresh, zeroed allocation of `layout.size`
        // bytes owned by this instance; every write below stays inside it
        // (offsets from `layout`) and stores plain data.
        unsafe {
            vmctx.write(VmCtx {
                memory_base,
                memory: memory_vm,
                limits: &inner.limits.vm,
                builtins: &BUILTINS,
                host: Rc::as_ptr(&self.0) as *mut u8,
            });
            for (i, f) in inner.imported_funcs.iter().enumerate() {
                let callee_vmctx = match &f.kind {
                    FuncKind::Host => vmctx,
                    FuncKind::Wasm { vmctx, .. } => *vmctx,
                };
                self.0
                    .at::<VmFuncImport>(layout.imported_func(i as u32))
                    .write(VmFuncImport {
                        code: f.code,
                        vmctx: callee_vmctx,
                    });
            }
            for (i, t) in inner.tables.iter().enumerate() {
                self.0
                    .at::<*mut VmTable>(layout.table_ptr(i as u32))
                    .write(t.vm());
            }
            for (i, &ty) in d.funcs.iter().enumerate() {
                let import = self.0.at::<VmFuncImport>(layout.imported_funcs).add(i);
                let (code, callee_vmctx) = match i.checked_sub(inner.imported_funcs.len()) {
                    None => ((*import).code, (*import).vmctx),
                    Some(defined) => (module.functions[defined], vmctx),
                };
                self.0
                    .at::<VmFuncRef>(layout.funcref(i as u32))
                    .write(VmFuncRef {
                        code,
                        type_id: module.type_ids[ty as usize],
                        vmctx: callee_vmctx,
                    });
            }
            for (i, id) in module.type_ids.iter().enumerate() {
                self.0.at::<u64>(layout.type_id(i as u32)).write(*id);
            }
            for (i, g) in inner.imported_globals.iter().enumerate() {
                self.0
                    .at::<*mut VmGlobal>(layout.imported_global(i as u32))
                    .write(g.ptr);
            }
            let imported = inner.imported_globals.len();
            for (i, (_, init)) in d.globals.iter().enumerate().skip(imported) {
                let init = init.expect("defined globals have initializers");
                let bits = self.0.eval(&init);
                self.0
                    .at::<VmGlobal>(layout.defined_global((i - imported) as u32))
                    .write(VmGlobal { bits });
            }
        }
    }

    /// Applies active element and data segments, in order, as the spec
    /// says: a segment that does not fit traps, and earlier ones stay.
    /// `data_in_image` says the memory already holds the active data
    /// segments (see `MemoryImage`).
    fn init_segments(&self, data_in_image: bool) -> Result<(), InstantiationError> {
        let d = self.0.module.descriptor();
        for (i, seg) in d.elements.iter().enumerate() {
            match &seg.mode {
                ElemMode::Active { table, offset } => {
                    let start = self.0.eval(offset) as u32;
                    let values: Vec<usize> = seg
                        .items
                        .iter()
                        .map(|item| self.0.eval(item) as usize)
                        .collect();
                    self.0.tables[*table as usize]
                        .write(start, &values)
                        .ok_or(InstantiationError::Trap(TrapKind::TableOutOfBounds))?;
                    self.0.dropped_elems[i].set(true);
                }
                ElemMode::Declared => self.0.dropped_elems[i].set(true),
                ElemMode::Passive => {}
            }
        }
        for (i, seg) in d.data.iter().enumerate() {
            let Some(offset) = &seg.offset else { continue };
            if data_in_image {
                self.0.dropped_data[i].set(true);
                continue;
            }
            let start = u64::from(self.0.eval(offset) as u32);
            let memory = self
                .0
                .memory
                .as_ref()
                .expect("validated: data needs a memory");
            memory
                .write(start, &seg.bytes)
                .ok_or(InstantiationError::Trap(TrapKind::MemoryOutOfBounds))?;
            self.0.dropped_data[i].set(true);
        }
        Ok(())
    }

    /// Calls function `index` with raw slot values.
    fn call_index(&self, index: u32, values: &mut [u128]) -> Result<(), Unwind> {
        let module = &self.0.module.inner;
        let ty = module.descriptor.funcs[index as usize];
        // SAFETY: funcref `index` was written by `init_context`.
        let funcref = unsafe { &*self.0.at::<VmFuncRef>(self.0.layout().funcref(index)) };
        invoke(
            &self.0.limits,
            module.trampolines[ty as usize],
            funcref.code,
            funcref.vmctx,
            values,
        )
    }

    pub fn module(&self) -> &Module {
        &self.0.module
    }

    pub fn memory(&self) -> Option<&Memory> {
        self.0.memory.as_ref()
    }

    /// The export called `name`.
    pub fn get_export(&self, name: &str) -> Option<Extern> {
        let d = self.0.module.descriptor();
        let export = d.exports.iter().find(|e| e.name == name)?;
        Some(match export.kind {
            ExternKind::Func => Extern::Func(self.func(export.index)),
            ExternKind::Memory => Extern::Memory(self.0.memory.clone()?),
            ExternKind::Table => Extern::Table(self.0.tables[export.index as usize].clone()),
            ExternKind::Global => {
                let (ty, _) = d.globals[export.index as usize];
                match self.0.imported_globals.get(export.index as usize) {
                    Some(g) => Extern::Global(g.clone()),
                    None => Extern::Global(Global::of_instance(
                        self.clone(),
                        self.0.global_ptr(export.index),
                        ty,
                    )),
                }
            }
        })
    }

    pub fn get_func(&self, name: &str) -> Option<Func> {
        match self.get_export(name)? {
            Extern::Func(f) => Some(f),
            _ => None,
        }
    }

    /// Function `index` of this instance as a callable value.
    fn func(&self, index: u32) -> Func {
        if let Some(f) = self.0.imported_funcs.get(index as usize) {
            return f.clone();
        }
        let module = &self.0.module.inner;
        let ty_index = module.descriptor.funcs[index as usize] as usize;
        let defined = index as usize - self.0.imported_funcs.len();
        Func {
            code: module.functions[defined],
            type_id: module.type_ids[ty_index],
            ty: module.func_types[ty_index].clone(),
            kind: FuncKind::Wasm {
                owner: self.clone(),
                vmctx: self.vmctx(),
                trampoline: module.trampolines[ty_index],
            },
        }
    }

    /// Calls the exported function `name`.
    pub fn call(&self, name: &str, args: &[crate::Val]) -> Result<Vec<crate::Val>, CallError> {
        self.get_func(name)
            .ok_or_else(|| CallError::Signature(format!("no exported function `{name}`")))?
            .call(args)
    }
}
