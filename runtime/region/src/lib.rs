//! Guarded regions of virtual memory.
//!
//! Every mapping Luge makes for guests is one [`Region`]: address space
//! reserved inaccessible, parts of it then committed (made readable and
//! writable), protected again (guard pages), or decommitted (pages given
//! back to the kernel, reading as zero after). Linear memories, task
//! stacks, signal stacks and the address-space probe all use it, so the
//! system calls and their unsafe blocks live here alone.

use rustix::mm::{self, Advice, MapFlags, MprotectFlags, ProtFlags};
use std::ffi::c_void;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes of address space held by every [`Region`] of the process.
static RESERVED: AtomicU64 = AtomicU64::new(0);

/// Bytes of address space the process's regions hold now (reserved, not
/// necessarily committed): what `luge serve` weighs a new guard-mode
/// memory's reservation against.
pub fn reserved() -> u64 {
    RESERVED.load(Ordering::Relaxed)
}

/// The size of a page of virtual memory.
pub fn page_size() -> usize {
    rustix::param::page_size()
}

/// Whether the machine may hold pages of this process in swap. Without
/// swap, a page of private anonymous memory that was ever touched stays
/// resident until it is given back (`swapoff` brings every page back in
/// before it returns), so a page `mincore` reports absent was never
/// written. If the kernel cannot be asked (`sysinfo` refused, as a seccomp
/// filter may), the answer is yes: assuming swap only costs system calls,
/// assuming none could leak a swapped-out page.
pub fn swap_configured() -> bool {
    let mut info = std::mem::MaybeUninit::<libc::sysinfo>::uninit();
    // SAFETY: `sysinfo` writes one `struct sysinfo` to the pointer, which
    // points at room for exactly that; the value is read only on success.
    unsafe {
        if libc::sysinfo(info.as_mut_ptr()) != 0 {
            return true;
        }
        info.assume_init().totalswap != 0
    }
}

/// A reservation of address space, unmapped on drop. It starts out
/// inaccessible; ranges inside it change with [`Region::commit`],
/// [`Region::protect`] and [`Region::decommit`], which take offsets from
/// its base.
pub struct Region {
    base: *mut u8,
    size: usize,
}

// SAFETY: a region is plain address space owned by this value; whoever
// owns it may use it from any thread.
unsafe impl Send for Region {}

impl Region {
    /// Reserves `size` bytes of inaccessible address space wherever the
    /// kernel chooses. No memory is committed: the reservation counts
    /// against neither RAM nor swap until parts of it are committed and
    /// touched.
    pub fn reserve(size: usize) -> io::Result<Region> {
        Region::reserve_near(std::ptr::null_mut(), size)
    }

    /// [`Region::reserve`], asking for the region to start at `hint`. The
    /// kernel places it elsewhere when the address is taken or out of
    /// reach, so callers compare [`Region::base`] with the hint.
    pub fn reserve_near(hint: *mut u8, size: usize) -> io::Result<Region> {
        Region::map(hint, size, MapFlags::empty())
    }

    /// [`Region::reserve`] for a thread or task stack (`MAP_STACK`: since
    /// Linux 6.7 it also keeps transparent huge pages off the region, so a
    /// stack's resident size is the pages it touched).
    pub fn reserve_stack(size: usize) -> io::Result<Region> {
        Region::map(std::ptr::null_mut(), size, MapFlags::STACK)
    }

    fn map(hint: *mut u8, size: usize, extra: MapFlags) -> io::Result<Region> {
        let flags = MapFlags::PRIVATE | MapFlags::NORESERVE | extra;
        // SAFETY: a new anonymous mapping; without MAP_FIXED the kernel
        // never places it over an existing one, so no memory in use is
        // touched.
        let base = unsafe { mm::mmap_anonymous(hint.cast(), size, ProtFlags::empty(), flags) }?;
        RESERVED.fetch_add(size as u64, Ordering::Relaxed);
        Ok(Region {
            base: base.cast(),
            size,
        })
    }

    /// The lowest address of the region.
    pub fn base(&self) -> *mut u8 {
        self.base
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// The address range `[start, start + len)` of the region, checked.
    fn range(&self, start: usize, len: usize) -> *mut c_void {
        assert!(
            start.checked_add(len).is_some_and(|end| end <= self.size),
            "range {start}+{len} outside a region of {} bytes",
            self.size
        );
        self.base.wrapping_add(start).cast()
    }

    /// Makes `[start, start + len)` readable and writable.
    pub fn commit(&self, start: usize, len: usize) -> io::Result<()> {
        self.set_access(start, len, MprotectFlags::READ | MprotectFlags::WRITE)
    }

    /// Makes `[start, start + len)` inaccessible again (a guard): any
    /// access faults. The pages keep their contents.
    pub fn protect(&self, start: usize, len: usize) -> io::Result<()> {
        self.set_access(start, len, MprotectFlags::empty())
    }

    fn set_access(&self, start: usize, len: usize, access: MprotectFlags) -> io::Result<()> {
        let addr = self.range(start, len);
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the range lies inside this region's own mapping (checked
        // by `range`); what lives there is the owner's to protect.
        unsafe { mm::mprotect(addr, len, access) }?;
        Ok(())
    }

    /// Gives the pages of `[start, start + len)` back to the kernel: they
    /// read as zero on their next touch and keep their protection. `start`
    /// must be page-aligned.
    pub fn decommit(&self, start: usize, len: usize) -> io::Result<()> {
        let addr = self.range(start, len);
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the range lies inside this region's own private
        // anonymous mapping, for which MADV_DONTNEED means "zero-fill on
        // next touch"; no Rust reference into guest memory survives it.
        unsafe { mm::madvise(addr, len, Advice::LinuxDontNeed) }?;
        Ok(())
    }

    /// Splits `[start, start + len)` into runs of pages that are resident
    /// (present in this process's page tables, the shared zero page
    /// included) and runs that are not (untouched since they were last
    /// given back, or swapped out), and hands each to `run` in order as
    /// (start, length, resident). `start` must be page-aligned; the last
    /// run ends at `start + len`.
    pub fn resident_runs(
        &self,
        start: usize,
        len: usize,
        mut run: impl FnMut(usize, usize, bool) -> io::Result<()>,
    ) -> io::Result<()> {
        let addr = self.range(start, len);
        let page = page_size();
        const CHUNK: usize = 256;
        let mut flags = [0u8; CHUNK];
        let mut current: Option<(usize, bool)> = None;
        let mut done = 0;
        while done < len {
            let bytes = (len - done).min(CHUNK * page);
            let pages = bytes.div_ceil(page);
            // SAFETY: the range lies inside this region's own mapping, and
            // `flags` holds a byte for each of its `pages` pages.
            let result =
                unsafe { libc::mincore(addr.wrapping_byte_add(done), bytes, flags.as_mut_ptr()) };
            if result != 0 {
                return Err(io::Error::last_os_error());
            }
            for (i, flag) in flags[..pages].iter().enumerate() {
                let resident = flag & 1 != 0;
                let at = start + done + i * page;
                match current {
                    Some((_, r)) if r == resident => {}
                    Some((from, r)) => {
                        run(from, at - from, r)?;
                        current = Some((at, resident));
                    }
                    None => current = Some((at, resident)),
                }
            }
            done += bytes;
        }
        match current {
            Some((from, resident)) => run(from, start + len - from, resident),
            None => Ok(()),
        }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours and nothing refers into it any more
        // (the owner drops the region only once done with it).
        let _ = unsafe { mm::munmap(self.base.cast(), self.size) };
        RESERVED.fetch_sub(self.size as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether reading `addr` would fault, asked of the kernel without
    /// touching it: `mincore`-free, through a write(2) from the address to
    /// a pipe, which fails with EFAULT on an inaccessible page.
    fn readable(addr: *const u8) -> bool {
        let (_reader, writer) = rustix::pipe::pipe().unwrap();
        // SAFETY: the slice is only handed to the kernel, which checks the
        // address itself and reports EFAULT instead of faulting.
        let bytes = unsafe { std::slice::from_raw_parts(addr, 1) };
        rustix::io::write(&writer, bytes).is_ok()
    }

    #[test]
    fn regions_count_their_address_space_while_they_live() {
        // Other tests' regions come and go meanwhile; theirs are megabytes.
        const SIZE: u64 = 64 << 30;
        const SLACK: u64 = 1 << 30;
        let region = Region::reserve(SIZE as usize).unwrap();
        let held = reserved();
        assert!(held >= SIZE, "{held} bytes reserved with {SIZE} held");
        drop(region);
        assert!(
            reserved() + SIZE <= held + SLACK,
            "{} after the drop",
            reserved()
        );
    }

    #[test]
    fn runs_of_resident_pages_are_told_apart_from_untouched_ones() {
        let page = page_size();
        let r = Region::reserve(600 * page).unwrap();
        r.commit(0, 600 * page).unwrap();
        let runs = |start, len| {
            let mut found = Vec::new();
            r.resident_runs(start, len, |at, n, resident| {
                found.push((at / page, n.div_ceil(page), resident));
                Ok(())
            })
            .unwrap();
            found
        };
        assert_eq!(runs(0, 600 * page), [(0, 600, false)]);
        // SAFETY: committed bytes of this test's own region.
        let touch = |at: usize| unsafe { r.base().add(at).write(1) };
        touch(3 * page + 5);
        touch(4 * page);
        // Past the first chunk of pages mincore is asked about.
        touch(300 * page);
        assert_eq!(
            runs(0, 600 * page),
            [
                (0, 3, false),
                (3, 2, true),
                (5, 295, false),
                (300, 1, true),
                (301, 299, false)
            ]
        );
        assert_eq!(runs(4 * page, page + 100), [(4, 1, true), (5, 1, false)]);
        r.decommit(0, 600 * page).unwrap();
        assert_eq!(runs(0, 600 * page), [(0, 600, false)]);
    }

    #[test]
    fn swap_is_reported_as_the_kernel_lists_it() {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
        let total = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("SwapTotal:"))
            .unwrap();
        let kib: u64 = total.trim().trim_end_matches("kB").trim().parse().unwrap();
        assert_eq!(swap_configured(), kib != 0, "SwapTotal: {total}");
    }

    #[test]
    fn a_new_region_is_inaccessible() {
        let page = page_size();
        let r = Region::reserve(4 * page).unwrap();
        assert_eq!(r.size(), 4 * page);
        assert!(!readable(r.base()));
        assert!(!readable(r.base().wrapping_add(3 * page)));
    }

    #[test]
    fn commit_protect_and_decommit() {
        let page = page_size();
        let r = Region::reserve(16 * page).unwrap();
        r.commit(0, 2 * page).unwrap();
        assert!(readable(r.base()) && readable(r.base().wrapping_add(2 * page - 1)));
        assert!(!readable(r.base().wrapping_add(2 * page)));
        // SAFETY: the first two pages were just committed.
        unsafe {
            r.base().write(7);
            r.base().add(2 * page - 1).write(9);
        }
        r.decommit(0, 2 * page).unwrap();
        // SAFETY: still committed; MADV_DONTNEED made them read as zero.
        unsafe {
            assert_eq!(r.base().read(), 0);
            assert_eq!(r.base().add(2 * page - 1).read(), 0);
        }
        r.protect(page, page).unwrap();
        assert!(readable(r.base()));
        assert!(!readable(r.base().wrapping_add(page)));
    }

    #[test]
    #[should_panic(expected = "outside a region")]
    fn a_range_past_the_end_is_refused() {
        let page = page_size();
        let r = Region::reserve(page).unwrap();
        let _ = r.commit(page, 1);
    }

    #[test]
    fn a_hint_is_honoured_when_the_address_is_free() {
        let page = page_size();
        let probe = Region::reserve(64 * page).unwrap();
        let hint = probe.base().wrapping_add(8 * page);
        drop(probe);
        let r = Region::reserve_near(hint, page).unwrap();
        assert_eq!(r.base(), hint);
    }
}
