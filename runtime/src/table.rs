//! Tables of references.

use luge_abi::{TableType, VmTable};
use std::cell::UnsafeCell;
use std::rc::Rc;

/// Upper bound on table length regardless of declared maximum, so that a
/// guest cannot make the host allocate without bound.
pub const MAX_TABLE_ELEMENTS: u32 = 10_000_000;

/// A table, shared by the instance that defines it and those that import it.
#[derive(Clone)]
pub struct Table(pub(crate) Rc<TableInner>);

pub(crate) struct TableInner {
    /// What compiled code reads; its address is stable inside the `Rc`.
    vm: UnsafeCell<VmTable>,
    elements: UnsafeCell<Vec<usize>>,
    ty: TableType,
}

impl Table {
    pub fn new(ty: TableType, init: usize) -> Option<Table> {
        if ty.min > MAX_TABLE_ELEMENTS {
            return None;
        }
        let mut elements = vec![init; ty.min as usize];
        let vm = VmTable {
            elements: elements.as_mut_ptr(),
            length: elements.len() as u64,
        };
        Some(Table(Rc::new(TableInner {
            vm: UnsafeCell::new(vm),
            elements: UnsafeCell::new(elements),
            ty,
        })))
    }

    pub(crate) fn vm(&self) -> *mut VmTable {
        self.0.vm.get()
    }

    #[allow(clippy::mut_from_ref)]
    fn elements(&self) -> &mut Vec<usize> {
        // SAFETY: a table is used only by the thread running its sandbox,
        // and no reference returned here outlives the calling method.
        unsafe { &mut *self.0.elements.get() }
    }

    pub fn len(&self) -> u32 {
        self.elements().len() as u32
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The declared type, with the current length as minimum.
    pub fn ty(&self) -> TableType {
        TableType {
            min: self.len(),
            ..self.0.ty
        }
    }

    pub fn get(&self, index: u32) -> Option<usize> {
        self.elements().get(index as usize).copied()
    }

    pub fn set(&self, index: u32, value: usize) -> Option<()> {
        *self.elements().get_mut(index as usize)? = value;
        Some(())
    }

    /// The elements `[start, start + len)`, if in bounds.
    pub(crate) fn range(&self, start: u32, len: u32) -> Option<&mut [usize]> {
        let end = start.checked_add(len)? as usize;
        self.elements().get_mut(start as usize..end)
    }

    /// Grows by `delta` elements set to `init`; returns the old length or
    /// `None` when the table may not grow that far.
    pub fn grow(&self, delta: u32, init: usize) -> Option<u32> {
        let old = self.len();
        let max = self.0.ty.max.unwrap_or(u32::MAX).min(MAX_TABLE_ELEMENTS);
        let new = old.checked_add(delta).filter(|&n| n <= max)?;
        let elements = self.elements();
        elements.resize(new as usize, init);
        // SAFETY: see `elements`; compiled code re-reads these fields on
        // every access, so the new buffer is seen from now on.
        unsafe {
            *self.0.vm.get() = VmTable {
                elements: elements.as_mut_ptr(),
                length: u64::from(new),
            };
        }
        Some(old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use luge_abi::ValType;

    #[test]
    fn grow_keeps_the_view_of_compiled_code_current() {
        let t = Table::new(
            TableType {
                elem: ValType::FuncRef,
                min: 1,
                max: Some(4),
            },
            0,
        )
        .unwrap();
        t.set(0, 7).unwrap();
        assert_eq!(t.grow(2, 9), Some(1));
        assert_eq!(t.grow(2, 9), None);
        // SAFETY: reading the view as compiled code would.
        let vm = unsafe { &*t.vm() };
        assert_eq!(vm.length, 3);
        // SAFETY: `length` elements are valid.
        let seen = unsafe { std::slice::from_raw_parts(vm.elements, 3) };
        assert_eq!(seen, &[7, 9, 9]);
        assert!(t.set(3, 1).is_none());
    }
}
