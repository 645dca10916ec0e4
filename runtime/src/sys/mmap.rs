//! Reserved regions of virtual memory whose prefix is made accessible on
//! demand: the backing of linear memories.

use std::io;

/// A `PROT_NONE` reservation of `size` bytes, unmapped on drop.
pub struct Reservation {
    base: *mut u8,
    size: usize,
}

// SAFETY: a reservation is plain address space; whoever owns it may use it
// from any thread.
unsafe impl Send for Reservation {}

pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

impl Reservation {
    pub fn new(size: usize) -> io::Result<Reservation> {
        // SAFETY: an anonymous private PROT_NONE mapping at a kernel-chosen
        // address touches no existing memory.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Reservation {
            base: base as *mut u8,
            size,
        })
    }

    pub fn base(&self) -> *mut u8 {
        self.base
    }

    pub fn size(&self) -> usize {
        self.size
    }

    fn protect(&self, start: usize, len: usize, prot: libc::c_int) -> io::Result<()> {
        assert!(start + len <= self.size, "range outside the reservation");
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the range lies inside our own mapping (asserted above).
        let rc = unsafe { libc::mprotect(self.base.add(start) as *mut _, len, prot) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Makes `[start, start + len)` readable and writable.
    pub fn commit(&self, start: usize, len: usize) -> io::Result<()> {
        self.protect(start, len, libc::PROT_READ | libc::PROT_WRITE)
    }

    /// Makes `[start, start + len)` inaccessible again.
    pub fn decommit(&self, start: usize, len: usize) -> io::Result<()> {
        self.protect(start, len, libc::PROT_NONE)
    }

    /// Returns the pages of `[start, start + len)` to the kernel; they read
    /// as zero afterwards and keep their protection. `start` must be
    /// page-aligned.
    pub fn zero(&self, start: usize, len: usize) -> io::Result<()> {
        assert!(start + len <= self.size, "range outside the reservation");
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the range lies inside our own private anonymous mapping,
        // for which MADV_DONTNEED means "zero-fill on next touch".
        let rc = unsafe { libc::madvise(self.base.add(start) as *mut _, len, libc::MADV_DONTNEED) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // SAFETY: we own the mapping and nothing refers into it any more.
        unsafe {
            libc::munmap(self.base as *mut _, self.size);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_zero_and_decommit() {
        let page = page_size();
        let r = Reservation::new(16 * page).unwrap();
        r.commit(0, 2 * page).unwrap();
        // SAFETY: the first two pages were just committed.
        unsafe {
            r.base().write(7);
            r.base().add(2 * page - 1).write(9);
        }
        r.zero(0, 2 * page).unwrap();
        // SAFETY: still committed; MADV_DONTNEED made them read as zero.
        unsafe {
            assert_eq!(r.base().read(), 0);
            assert_eq!(r.base().add(2 * page - 1).read(), 0);
        }
        r.decommit(page, page).unwrap();
    }
}
