//! Linear memories: each lives at the start of a reserved region taken from
//! a process-wide pool, so creating one costs a few `mprotect` calls at most
//! and never a fresh `mmap` once the pool is warm.

use crate::sys::mmap::Reservation;
use luge_abi::{
    BoundsMode, MemoryType, VmMemory, GUARD_RESERVATION, WASM_MAX_PAGES, WASM_PAGE_SIZE,
};
use std::cell::UnsafeCell;
use std::rc::Rc;
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error("cannot reserve {size} bytes of address space for a linear memory: {error}")]
    Reserve { size: u64, error: std::io::Error },
    #[error("cannot change linear memory protection: {0}")]
    Protect(std::io::Error),
    #[error("memory needs {needed} pages, more than the limit of {limit} pages")]
    TooLarge { needed: u32, limit: u32 },
}

/// Address space reserved for one memory in `mode`: the whole 32-bit range
/// plus the guard in `guard` mode, the 32-bit range in `software` mode
/// (memories never move, so they must be able to grow in place).
pub fn reservation_size(mode: BoundsMode) -> u64 {
    match mode {
        BoundsMode::Guard => GUARD_RESERVATION,
        BoundsMode::Software => WASM_MAX_PAGES * WASM_PAGE_SIZE,
    }
}

/// A reservation whose first `committed` bytes are accessible and zero.
struct Slot {
    reservation: Reservation,
    committed: usize,
}

/// Free slots kept for reuse, per reservation size.
static POOL: Mutex<Vec<Slot>> = Mutex::new(Vec::new());
/// More free slots than this are unmapped instead of kept.
const POOL_CAPACITY: usize = 1024;

fn take_slot(size: u64) -> Result<Slot, MemoryError> {
    let mut pool = POOL.lock().unwrap();
    if let Some(i) = pool
        .iter()
        .rposition(|s| s.reservation.size() as u64 == size)
    {
        return Ok(pool.swap_remove(i));
    }
    drop(pool);
    let reservation =
        Reservation::new(size as usize).map_err(|error| MemoryError::Reserve { size, error })?;
    Ok(Slot {
        reservation,
        committed: 0,
    })
}

fn return_slot(slot: Slot) {
    let mut pool = POOL.lock().unwrap();
    if pool.len() < POOL_CAPACITY {
        pool.push(slot);
    }
}

/// A linear memory, shared by the instance that defines it and those that
/// import it.
#[derive(Clone)]
pub struct Memory(pub(crate) Rc<MemoryInner>);

pub(crate) struct MemoryInner {
    /// What compiled code reads; its address is stable inside the `Rc`.
    vm: UnsafeCell<VmMemory>,
    slot: UnsafeCell<Option<Slot>>,
    max_pages: u32,
    ty: MemoryType,
    mode: BoundsMode,
}

impl Memory {
    /// Creates a memory of `ty` for code compiled in `mode`, never larger
    /// than `limit_pages`.
    pub fn new(ty: MemoryType, mode: BoundsMode, limit_pages: u32) -> Result<Memory, MemoryError> {
        let reservation = reservation_size(mode);
        let max_pages = ty
            .max
            .unwrap_or(WASM_MAX_PAGES as u32)
            .min(limit_pages)
            .min((reservation / WASM_PAGE_SIZE).min(WASM_MAX_PAGES) as u32);
        if ty.min > max_pages {
            return Err(MemoryError::TooLarge {
                needed: ty.min,
                limit: max_pages,
            });
        }
        let mut slot = take_slot(reservation)?;
        let length = ty.min as usize * WASM_PAGE_SIZE as usize;
        let r = &slot.reservation;
        if slot.committed > length {
            r.decommit(length, slot.committed - length)
                .map_err(MemoryError::Protect)?;
        } else {
            r.commit(slot.committed, length - slot.committed)
                .map_err(MemoryError::Protect)?;
        }
        slot.committed = length;
        Ok(Memory(Rc::new(MemoryInner {
            vm: UnsafeCell::new(VmMemory {
                base: slot.reservation.base(),
                length: length as u64,
            }),
            slot: UnsafeCell::new(Some(slot)),
            max_pages,
            ty,
            mode,
        })))
    }

    pub(crate) fn vm(&self) -> *mut VmMemory {
        self.0.vm.get()
    }

    pub fn base(&self) -> *mut u8 {
        // SAFETY: `vm` is only written by `grow`, on the thread running the
        // sandbox, which is also the only caller of this.
        unsafe { (*self.0.vm.get()).base }
    }

    /// Current length in bytes.
    pub fn len(&self) -> u64 {
        // SAFETY: as in `base`.
        unsafe { (*self.0.vm.get()).length }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn pages(&self) -> u32 {
        (self.len() / WASM_PAGE_SIZE) as u32
    }

    /// The type this memory was created with, with its current size as
    /// minimum (what import matching compares against).
    pub fn ty(&self) -> MemoryType {
        MemoryType {
            min: self.pages(),
            max: self.0.ty.max,
        }
    }

    /// The bounds mode whose code may use this memory: `guard`-mode code
    /// needs the guard region only `guard` memories reserve.
    pub fn mode(&self) -> BoundsMode {
        self.0.mode
    }

    /// Grows by `delta` pages; returns the old size in pages, or `None`
    /// (the guest sees -1) when the memory may not grow that far.
    pub fn grow(&self, delta: u32) -> Option<u32> {
        let old = self.pages();
        let new = old.checked_add(delta).filter(|&n| n <= self.0.max_pages)?;
        if delta == 0 {
            return Some(old);
        }
        let old_len = old as usize * WASM_PAGE_SIZE as usize;
        let new_len = new as usize * WASM_PAGE_SIZE as usize;
        // SAFETY: only the thread running the sandbox touches the slot.
        let slot = unsafe { (*self.0.slot.get()).as_mut()? };
        slot.reservation.commit(old_len, new_len - old_len).ok()?;
        slot.committed = new_len;
        // SAFETY: as above; compiled code reads `length` only between our
        // calls, on this same thread.
        unsafe { (*self.0.vm.get()).length = new_len as u64 };
        Some(old)
    }

    /// Address of `[offset, offset + len)`, if that range is in bounds.
    pub fn checked_ptr(&self, offset: u64, len: u64) -> Option<*mut u8> {
        let end = offset.checked_add(len)?;
        if end > self.len() {
            return None;
        }
        // SAFETY: `offset` is within the committed length of our mapping.
        Some(unsafe { self.base().add(offset as usize) })
    }

    /// Copies `buf.len()` bytes at `offset` into `buf`.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Option<()> {
        let src = self.checked_ptr(offset, buf.len() as u64)?;
        // SAFETY: the source range is in bounds; `buf` is host memory and
        // cannot overlap linear memory.
        unsafe { std::ptr::copy_nonoverlapping(src, buf.as_mut_ptr(), buf.len()) };
        Some(())
    }

    /// Copies `data` to `offset`.
    pub fn write(&self, offset: u64, data: &[u8]) -> Option<()> {
        let dst = self.checked_ptr(offset, data.len() as u64)?;
        // SAFETY: the destination range is in bounds; `data` is host memory
        // and cannot overlap linear memory.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len()) };
        Some(())
    }

    /// Sets `len` bytes at `offset` to `byte`.
    pub fn fill(&self, offset: u64, len: u64, byte: u8) -> Option<()> {
        let dst = self.checked_ptr(offset, len)?;
        // SAFETY: the range is in bounds.
        unsafe { std::ptr::write_bytes(dst, byte, len as usize) };
        Some(())
    }

    /// Copies `len` bytes from `src` to `dst` inside this memory; the
    /// ranges may overlap.
    pub fn copy_within(&self, dst: u64, src: u64, len: u64) -> Option<()> {
        let from = self.checked_ptr(src, len)?;
        let to = self.checked_ptr(dst, len)?;
        // SAFETY: both ranges are in bounds; `copy` allows overlap.
        unsafe { std::ptr::copy(from, to, len as usize) };
        Some(())
    }
}

impl Drop for MemoryInner {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.get_mut().take() {
            // A slot whose contents cannot be cleared is not reused.
            if slot.reservation.zero(slot.committed).is_ok() {
                return_slot(slot);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_within_its_maximum_and_starts_zeroed() {
        let ty = MemoryType {
            min: 1,
            max: Some(3),
        };
        let m = Memory::new(ty, BoundsMode::Software, u32::MAX).unwrap();
        assert_eq!(m.pages(), 1);
        m.write(0, b"abcd").unwrap();
        assert_eq!(m.grow(2), Some(1));
        assert_eq!(m.grow(1), None);
        assert_eq!(m.pages(), 3);
        assert!(m.checked_ptr(3 * 65536 - 1, 1).is_some());
        assert!(m.checked_ptr(3 * 65536, 1).is_none());
        drop(m);
        // The slot is reused and must not leak the previous contents.
        let m = Memory::new(ty, BoundsMode::Software, u32::MAX).unwrap();
        let mut buf = [1u8; 4];
        m.read(0, &mut buf).unwrap();
        assert_eq!(buf, [0, 0, 0, 0]);
        assert!(
            m.checked_ptr(65536, 1).is_none(),
            "length shrank back to min"
        );
    }

    #[test]
    fn refuses_a_minimum_above_the_limit() {
        let ty = MemoryType { min: 10, max: None };
        assert!(matches!(
            Memory::new(ty, BoundsMode::Guard, 5),
            Err(MemoryError::TooLarge {
                needed: 10,
                limit: 5
            })
        ));
    }
}
