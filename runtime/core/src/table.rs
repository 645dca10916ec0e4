//! Tables of references.

use luge_abi::{TableType, VmTable};
use std::cell::{RefCell, UnsafeCell};
use std::rc::Rc;

/// Upper bound on table length regardless of declared maximum, so that a
/// guest cannot make the host allocate without bound.
pub const MAX_TABLE_ELEMENTS: u32 = 10_000_000;

/// A table, shared by the instance that defines it and those that import it.
#[derive(Clone)]
pub struct Table(pub(crate) Rc<TableInner>);

pub(crate) struct TableInner {
    /// What compiled code reads; its address is stable inside the `Rc`.
    /// It points into `elements`, and is rewritten whenever that moves.
    vm: UnsafeCell<VmTable>,
    elements: RefCell<Vec<usize>>,
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
            elements: RefCell::new(elements),
            ty,
        })))
    }

    pub(crate) fn vm(&self) -> *mut VmTable {
        self.0.vm.get()
    }

    pub fn len(&self) -> u32 {
        self.0.elements.borrow().len() as u32
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
        self.0.elements.borrow().get(index as usize).copied()
    }

    pub fn set(&self, index: u32, value: usize) -> Option<()> {
        *self.0.elements.borrow_mut().get_mut(index as usize)? = value;
        Some(())
    }

    /// The elements `[start, start + len)`, if in bounds.
    pub(crate) fn read(&self, start: u32, len: u32) -> Option<Vec<usize>> {
        let end = start.checked_add(len)? as usize;
        Some(self.0.elements.borrow().get(start as usize..end)?.to_vec())
    }

    /// Writes `items` from `start` on, if they all fit; else writes none.
    pub(crate) fn write(&self, start: u32, items: &[usize]) -> Option<()> {
        let end = (start as usize).checked_add(items.len())?;
        let mut elements = self.0.elements.borrow_mut();
        elements
            .get_mut(start as usize..end)?
            .copy_from_slice(items);
        Some(())
    }

    /// Sets the elements `[start, start + len)` to `value`, if in bounds.
    pub(crate) fn fill(&self, start: u32, len: u32, value: usize) -> Option<()> {
        let end = start.checked_add(len)? as usize;
        let mut elements = self.0.elements.borrow_mut();
        elements.get_mut(start as usize..end)?.fill(value);
        Some(())
    }

    /// Grows by `delta` elements set to `init`; returns the old length or
    /// `None` when the table may not grow that far.
    pub fn grow(&self, delta: u32, init: usize) -> Option<u32> {
        let old = self.len();
        let max = self.0.ty.max.unwrap_or(u32::MAX).min(MAX_TABLE_ELEMENTS);
        let new = old.checked_add(delta).filter(|&n| n <= max)?;
        let mut elements = self.0.elements.borrow_mut();
        elements.resize(new as usize, init);
        // SAFETY: a table is used only by the thread running its sandbox,
        // and compiled code is not running while this host call is; it
        // re-reads these fields on every access, so it sees the new buffer
        // from now on.
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
