//! Linear memories: each lives at the start of a reserved region taken from
//! a process-wide pool, so creating one costs a few `mprotect` calls at most
//! and never a fresh `mmap` once the pool is warm.

use luge_abi::{
    BoundsMode, ConstExpr, MemoryType, ModuleDescriptor, VmMemory, GUARD_RESERVATION,
    SOFTWARE_GUARD_SIZE, WASM_MAX_PAGES, WASM_PAGE_SIZE,
};
use luge_region::{page_size, Region};
use std::cell::{Cell, OnceCell, UnsafeCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error("cannot reserve {size} bytes of address space for a linear memory: {error}")]
    Reserve { size: u64, error: std::io::Error },
    #[error("cannot change linear memory protection: {0}")]
    Protect(std::io::Error),
    #[error("memory needs {needed} pages, more than the limit of {limit} pages")]
    TooLarge { needed: u32, limit: u32 },
    #[error(
        "the server's memory budget cannot hold {needed} more bytes ({used} of {limit} in use)"
    )]
    OverBudget { needed: u64, used: u64, limit: u64 },
}

/// Linear memory that many sandboxes draw from together (`luge serve`'s
/// `memory-budget-mib`): a memory charged to it counts its length from
/// creation to drop, and may not grow, nor be created, past the budget.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: u64,
    used: AtomicU64,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget {
            limit,
            used: AtomicU64::new(0),
        })
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes charged now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    fn reserve(&self, bytes: u64) -> Result<(), MemoryError> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&n| n <= self.limit)
            })
            .map(drop)
            .map_err(|used| MemoryError::OverBudget {
                needed: bytes,
                used,
                limit: self.limit,
            })
    }

    fn release(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Address space reserved for a memory of at most `max_pages` in `mode`
/// (memories never move, so they must be able to grow in place): the whole
/// 32-bit range plus the guard in `guard` mode, which compiled code relies
/// on; in `software` mode only `max_pages`, rounded up to a power of two so
/// that pooled slots suit many memories, plus the small guard that code
/// relies on past the largest length. That keeps software-mode sandboxes
/// with a memory limit cheap in address space, which 39-bit ARM kernels
/// have little of (`sys::address_space`).
pub fn reservation_size(mode: BoundsMode, max_pages: u32) -> u64 {
    match mode {
        BoundsMode::Guard => GUARD_RESERVATION,
        BoundsMode::Software => {
            (u64::from(max_pages.max(1)) * WASM_PAGE_SIZE).next_power_of_two() + SOFTWARE_GUARD_SIZE
        }
    }
}

/// The initial contents of a module's memory: its active data segments laid
/// out from address 0, padded to whole host pages. Sandboxes of the same
/// module reuse pool slots that already hold the image, so instantiating
/// neither copies data nor faults in fresh pages.
pub struct MemoryImage {
    /// Process-unique, so that a slot can tell which image it holds.
    id: u64,
    bytes: Vec<u8>,
}

impl MemoryImage {
    /// The image of `descriptor`'s memory, or `None` when the module imports
    /// its memory, has no data, or places a segment at an offset that is not
    /// a constant or does not fit in the initial size (that must trap at
    /// instantiation, after earlier segments were written).
    pub fn build(descriptor: &ModuleDescriptor) -> Option<Arc<MemoryImage>> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let memory = descriptor
            .memory
            .filter(|_| !descriptor.memory_imported())?;
        let initial = u64::from(memory.min) * WASM_PAGE_SIZE;
        let mut end = 0;
        for segment in &descriptor.data {
            let offset = match segment.offset {
                None => continue,
                Some(ConstExpr::I32(offset)) => u64::from(offset as u32),
                Some(_) => return None,
            };
            let segment_end = offset + segment.bytes.len() as u64;
            if segment_end > initial {
                return None;
            }
            end = end.max(segment_end);
        }
        if end == 0 {
            return None;
        }
        let page = page_size() as u64;
        let mut bytes = vec![0; end.div_ceil(page).saturating_mul(page).min(initial) as usize];
        for segment in &descriptor.data {
            if let Some(ConstExpr::I32(offset)) = segment.offset {
                let at = offset as u32 as usize;
                bytes[at..at + segment.bytes.len()].copy_from_slice(&segment.bytes);
            }
        }
        Some(Arc::new(MemoryImage {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            bytes,
        }))
    }
}

/// A reservation whose first `committed` bytes are accessible. While it is
/// in the pool it holds `image` (id and length) from address 0 and zeros
/// everywhere else.
struct Slot {
    reservation: Region,
    committed: usize,
    image: Option<(u64, usize)>,
}

/// Bytes of a used memory (past its image) that teardown zeroes in place
/// instead of returning to the kernel; see [`Slot::reset`].
const KEEP_RESIDENT: usize = 256 << 10;

/// Free slots kept for reuse.
static POOL: Mutex<Vec<Slot>> = Mutex::new(Vec::new());
/// More free slots than this are unmapped instead of kept.
const POOL_CAPACITY: usize = 1024;

/// A free slot of `size` bytes, preferably one that holds image `image`.
fn take_slot(size: u64, image: Option<u64>) -> Result<Slot, MemoryError> {
    let mut pool = POOL.lock().unwrap();
    let fits = |s: &Slot| s.reservation.size() as u64 == size;
    let found = pool
        .iter()
        .rposition(|s| fits(s) && s.image.map(|(id, _)| id) == image)
        .or_else(|| pool.iter().rposition(fits));
    if let Some(i) = found {
        return Ok(pool.swap_remove(i));
    }
    drop(pool);
    let reservation =
        Region::reserve(size as usize).map_err(|error| MemoryError::Reserve { size, error })?;
    Ok(Slot {
        reservation,
        committed: 0,
        image: None,
    })
}

fn return_slot(slot: Slot) {
    let mut pool = POOL.lock().unwrap();
    if pool.len() < POOL_CAPACITY {
        pool.push(slot);
    }
}

impl Slot {
    /// Prepares the slot to hold `length` accessible bytes starting with
    /// `image` and zeros after it.
    fn prepare(&mut self, length: usize, image: Option<&MemoryImage>) -> Result<(), MemoryError> {
        let wanted = image.map(|i| i.id);
        if let Some((id, len)) = self.image {
            if Some(id) != wanted {
                // SAFETY: the held image lies inside the committed prefix.
                unsafe { std::ptr::write_bytes(self.reservation.base(), 0, len) };
                self.image = None;
            }
        }
        let r = &self.reservation;
        if self.committed > length {
            r.protect(length, self.committed - length)
                .map_err(MemoryError::Protect)?;
        } else {
            r.commit(self.committed, length - self.committed)
                .map_err(MemoryError::Protect)?;
        }
        self.committed = length;
        if let (None, Some(image)) = (self.image, image) {
            // SAFETY: the image fits in the initial size, which is committed.
            unsafe {
                std::ptr::copy_nonoverlapping(image.bytes.as_ptr(), r.base(), image.bytes.len())
            };
            self.image = Some((image.id, image.bytes.len()));
        }
        Ok(())
    }

    /// Brings a used slot back to its pooled state: the image restored,
    /// everything after it zeroed or returned to the kernel.
    /// `swap_configured` says whether pages may be in swap
    /// ([`luge_region::swap_configured`] outside tests).
    fn reset(
        &mut self,
        image: Option<&MemoryImage>,
        swap_configured: fn() -> bool,
    ) -> std::io::Result<()> {
        let kept = match (self.image, image) {
            (Some(_), Some(image)) => {
                // SAFETY: the image lies inside the committed prefix.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        image.bytes.as_ptr(),
                        self.reservation.base(),
                        image.bytes.len(),
                    )
                };
                image.bytes.len()
            }
            _ => 0,
        };
        // Pages the guest touched are cleared in place and stay resident:
        // returning them to the kernel would cost a TLB shootdown on every
        // core the process runs on (an inter-processor interrupt each) and
        // a page fault per page on the next use, which for small sandboxes
        // is far more than writing zeros. Pages not resident were not
        // touched since they were last given back (most of a small
        // sandbox's memory, between its data, the top of its stack and its
        // heap) and read as zero, unless they were swapped out: without
        // swap they are left alone; with it they are given back too, which
        // drops what was swapped. Past `KEEP_RESIDENT`, every page goes
        // back.
        let scanned = (self.committed - kept).min(KEEP_RESIDENT);
        let end = kept + scanned;
        let swap = swap_configured();
        let base = self.reservation.base();
        let reservation = &self.reservation;
        // Where the pages to give back in one call start.
        let mut rest = end;
        reservation.resident_runs(kept, scanned, |at, len, resident| {
            if resident {
                // SAFETY: `[at, at + len)` lies inside the committed prefix.
                unsafe { std::ptr::write_bytes(base.add(at), 0, len) };
                Ok(())
            } else if !swap {
                Ok(())
            } else if at + len == end {
                // Given back below, with what lies past `KEEP_RESIDENT`.
                rest = at;
                Ok(())
            } else {
                reservation.decommit(at, len)
            }
        })?;
        if !swap && swap_configured() {
            // Swap was switched on during the scan: a page it took may
            // have looked untouched.
            rest = kept;
        }
        self.reservation.decommit(rest, self.committed - rest)
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
    image: Option<Arc<MemoryImage>>,
    max_pages: u32,
    /// Set when a `grow` was refused for going past `max_pages`.
    growth_refused: Cell<bool>,
    /// What the memory's length is charged to, if anything.
    budget: OnceCell<Arc<MemoryBudget>>,
    /// Set when a `grow` was refused by `budget`.
    budget_refused: Cell<bool>,
    ty: MemoryType,
    mode: BoundsMode,
}

impl Memory {
    /// Creates a zeroed memory of `ty` for code compiled in `mode`, never
    /// larger than `limit_pages`.
    pub fn new(ty: MemoryType, mode: BoundsMode, limit_pages: u32) -> Result<Memory, MemoryError> {
        Memory::with_image(ty, mode, limit_pages, None)
    }

    /// Like [`Memory::new`], with `image` already in place.
    pub(crate) fn with_image(
        ty: MemoryType,
        mode: BoundsMode,
        limit_pages: u32,
        image: Option<Arc<MemoryImage>>,
    ) -> Result<Memory, MemoryError> {
        let max_pages = ty
            .max
            .unwrap_or(WASM_MAX_PAGES as u32)
            .min(limit_pages)
            .min(WASM_MAX_PAGES as u32);
        let reservation = reservation_size(mode, max_pages);
        if ty.min > max_pages {
            return Err(MemoryError::TooLarge {
                needed: ty.min,
                limit: max_pages,
            });
        }
        let mut slot = take_slot(reservation, image.as_ref().map(|i| i.id))?;
        let length = ty.min as usize * WASM_PAGE_SIZE as usize;
        if let Err(e) = slot.prepare(length, image.as_deref()) {
            // Its state is unknown: let the reservation go.
            drop(slot);
            return Err(e);
        }
        Ok(Memory(Rc::new(MemoryInner {
            vm: UnsafeCell::new(VmMemory {
                base: slot.reservation.base(),
                length: length as u64,
            }),
            slot: UnsafeCell::new(Some(slot)),
            image,
            max_pages,
            growth_refused: Cell::new(false),
            budget: OnceCell::new(),
            budget_refused: Cell::new(false),
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

    /// The most pages this memory may have (its declared maximum or the
    /// embedder's limit, whichever is lower).
    pub fn max_pages(&self) -> u32 {
        self.0.max_pages
    }

    /// Whether the guest tried to grow this memory past [`Memory::max_pages`].
    pub fn growth_refused(&self) -> bool {
        self.0.growth_refused.get()
    }

    /// Charges this memory's length to `budget` from now until it is
    /// dropped, growth included. Refused, with the memory unchanged, when
    /// the budget cannot hold its current length or it is charged already.
    pub fn charge_to(&self, budget: &Arc<MemoryBudget>) -> Result<(), MemoryError> {
        budget.reserve(self.len())?;
        if let Err(budget) = self.0.budget.set(budget.clone()) {
            budget.release(self.len());
        }
        Ok(())
    }

    /// Whether the guest tried to grow this memory past what its budget
    /// (see [`Memory::charge_to`]) had left.
    pub fn budget_refused(&self) -> bool {
        self.0.budget_refused.get()
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
        let Some(new) = old.checked_add(delta).filter(|&n| n <= self.0.max_pages) else {
            self.0.growth_refused.set(true);
            return None;
        };
        if delta == 0 {
            return Some(old);
        }
        let old_len = old as usize * WASM_PAGE_SIZE as usize;
        let new_len = new as usize * WASM_PAGE_SIZE as usize;
        let added = (new_len - old_len) as u64;
        if let Some(budget) = self.0.budget.get() {
            if budget.reserve(added).is_err() {
                self.0.budget_refused.set(true);
                return None;
            }
        }
        // SAFETY: only the thread running the sandbox touches the slot.
        let slot = unsafe { (*self.0.slot.get()).as_mut() };
        let Some(slot) = slot.filter(|s| s.reservation.commit(old_len, new_len - old_len).is_ok())
        else {
            if let Some(budget) = self.0.budget.get() {
                budget.release(added);
            }
            return None;
        };
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
        if let Some(budget) = self.budget.get() {
            budget.release(self.vm.get_mut().length);
        }
        if let Some(mut slot) = self.slot.get_mut().take() {
            // A slot whose contents cannot be cleared is not reused.
            let image = self.image.as_deref();
            if slot.reset(image, luge_region::swap_configured).is_ok() {
                return_slot(slot);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memories_charged_to_a_budget_grow_only_within_it_and_give_it_back() {
        let ty = MemoryType { min: 1, max: None };
        let page = WASM_PAGE_SIZE;
        let budget = MemoryBudget::new(4 * page);
        let a = Memory::new(ty, BoundsMode::Software, 100).unwrap();
        a.charge_to(&budget).unwrap();
        assert_eq!(a.grow(2), Some(1));
        assert_eq!(budget.used(), 3 * page);
        let b = Memory::new(ty, BoundsMode::Software, 100).unwrap();
        b.charge_to(&budget).unwrap();
        assert_eq!(b.grow(1), None, "the budget is spent");
        assert!(b.budget_refused() && !b.growth_refused());
        assert_eq!(b.pages(), 1);
        let c = Memory::new(ty, BoundsMode::Software, 100).unwrap();
        assert!(matches!(
            c.charge_to(&budget),
            Err(MemoryError::OverBudget { .. })
        ));
        drop(a);
        assert_eq!(budget.used(), page, "a's pages are back");
        assert_eq!(b.grow(3), Some(1));
        drop(b);
        assert_eq!(budget.used(), 0);
    }

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

    fn image(fill: u8, pages: usize) -> Arc<MemoryImage> {
        static NEXT: AtomicU64 = AtomicU64::new(1 << 40);
        Arc::new(MemoryImage {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            bytes: vec![fill; pages * page_size()],
        })
    }

    fn bytes(m: &Memory, offset: u64, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        m.read(offset, &mut buf).unwrap();
        buf
    }

    /// Whatever a sandbox did to its memory, the next sandbox sees exactly
    /// its own image followed by zeros, whether it gets the same slot back
    /// or one that held another module's image.
    #[test]
    fn images_are_restored_and_never_leak_between_modules() {
        let ty = MemoryType { min: 2, max: None };
        let page = page_size();
        let (a, b) = (image(0xaa, 3), image(0xbb, 1));
        for round in 0..3 {
            let m = Memory::with_image(ty, BoundsMode::Guard, u32::MAX, Some(a.clone())).unwrap();
            assert_eq!(
                bytes(&m, 0, 3 * page),
                vec![0xaa; 3 * page],
                "round {round}"
            );
            assert_eq!(
                bytes(&m, 3 * page as u64, page),
                vec![0; page],
                "round {round}"
            );
            m.fill(0, 4 * page as u64, 0x11).unwrap();
            m.grow(1).unwrap();
            m.fill(2 * 65536, 16, 0x22).unwrap();
        }
        for _ in 0..2 {
            let m = Memory::with_image(ty, BoundsMode::Guard, u32::MAX, Some(b.clone())).unwrap();
            assert_eq!(bytes(&m, 0, page), vec![0xbb; page]);
            assert_eq!(bytes(&m, page as u64, 4 * page), vec![0; 4 * page]);
            m.fill(0, 2 * page as u64, 0x33).unwrap();
            let plain = Memory::new(ty, BoundsMode::Guard, u32::MAX).unwrap();
            assert_eq!(bytes(&plain, 0, 2 * 65536), vec![0; 2 * 65536]);
        }
        // Grown pages of an earlier sandbox must read as zero once mapped again.
        let m = Memory::with_image(ty, BoundsMode::Guard, u32::MAX, Some(a)).unwrap();
        m.grow(1).unwrap();
        assert_eq!(bytes(&m, 2 * 65536, 16), vec![0; 16]);
    }

    /// Reset zeroes only pages up to the last one touched and gives the
    /// rest back: whichever pages a sandbox wrote, with untouched ones
    /// between them, the next one sees zeros.
    #[test]
    fn sparse_writes_never_survive_a_reset() {
        let ty = MemoryType { min: 4, max: None };
        let page = page_size() as u64;
        for (round, at) in [0, page, 5 * page, 3 * 65536 + 7, 4 * 65536 - 1]
            .into_iter()
            .enumerate()
        {
            let m = Memory::new(ty, BoundsMode::Guard, u32::MAX).unwrap();
            assert_eq!(bytes(&m, 0, 4 * 65536), vec![0; 4 * 65536], "round {round}");
            m.fill(at, 1, 0x5a).unwrap();
            m.fill(2 * page, 1, 0x5b).unwrap();
        }
    }

    /// Both ways a reset can treat pages it finds absent (left alone
    /// without swap, given back with it) leave the next sandbox zeros;
    /// touched pages within `KEEP_RESIDENT` are zeroed in place and stay
    /// resident, touched pages past it are given back.
    #[test]
    fn a_reset_clears_touched_pages_with_swap_and_without() {
        let page = page_size();
        let length = 8 * 65536;
        let far = KEEP_RESIDENT + 3 * page;
        assert!(far < length);
        for swap in [(|| false) as fn() -> bool, || true] {
            let mut slot = Slot {
                reservation: Region::reserve(GUARD_RESERVATION as usize).unwrap(),
                committed: 0,
                image: None,
            };
            slot.prepare(length, None).unwrap();
            let base = slot.reservation.base();
            for at in [0, 5 * page + 3, 9 * page, far] {
                // SAFETY: every offset lies in the committed prefix.
                unsafe { base.add(at).write(0x5a) };
            }
            slot.reset(None, swap).unwrap();
            let mut resident = Vec::new();
            slot.reservation
                .resident_runs(0, length, |at, len, r| {
                    if r {
                        resident.push((at / page, len / page));
                    }
                    Ok(())
                })
                .unwrap();
            assert_eq!(resident, [(0, 1), (5, 1), (9, 1)], "swap: {}", swap());
            slot.prepare(length, None).unwrap();
            // SAFETY: the committed prefix of the slot's own reservation.
            let contents = unsafe { std::slice::from_raw_parts(base, length) };
            assert!(contents.iter().all(|&b| b == 0), "swap: {}", swap());
        }
    }

    #[test]
    fn software_memories_reserve_only_their_limit_rounded_up() {
        let ty = MemoryType { min: 1, max: None };
        // 100 pages (6.25 MiB) round up to 8 MiB, plus the guard; growth
        // stops at the limit.
        let m = Memory::new(ty, BoundsMode::Software, 100).unwrap();
        // SAFETY: only reads the size of the slot this memory owns.
        let reserved = unsafe { (*m.0.slot.get()).as_ref().unwrap().reservation.size() };
        assert_eq!(reserved, (8 << 20) + SOFTWARE_GUARD_SIZE as usize);
        assert_eq!(m.grow(99), Some(1));
        assert_eq!(m.grow(1), None);
        assert_eq!(
            reservation_size(BoundsMode::Software, u32::MAX >> 16),
            (4 << 30) + SOFTWARE_GUARD_SIZE
        );
        assert_eq!(reservation_size(BoundsMode::Guard, 100), GUARD_RESERVATION);
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
