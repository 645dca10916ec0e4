//! Stacks for sandboxes: mmap'd, with an inaccessible guard page below so
//! that an overflow faults instead of corrupting a neighbour, and pooled so
//! that starting a sandbox does not map memory.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// A stack of `size` usable bytes above one guard page.
pub struct Stack {
    mapping: *mut u8,
    mapping_len: usize,
}

// SAFETY: a stack is plain memory owned by this value; it can be handed to
// another thread (the scheduler moves sandboxes between workers).
unsafe impl Send for Stack {}

impl Stack {
    /// Maps a stack with at least `size` usable bytes.
    pub fn new(size: usize) -> io::Result<Stack> {
        let page = page_size();
        let usable = size.div_ceil(page) * page;
        let mapping_len = usable + page;
        // SAFETY: a fresh private anonymous mapping at a kernel-chosen
        // address; the lowest page is then made inaccessible as the guard.
        unsafe {
            let mapping = libc::mmap(
                std::ptr::null_mut(),
                mapping_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
                -1,
                0,
            );
            if mapping == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            if libc::mprotect(mapping, page, libc::PROT_NONE) != 0 {
                let error = io::Error::last_os_error();
                libc::munmap(mapping, mapping_len);
                return Err(error);
            }
            Ok(Stack {
                mapping: mapping as *mut u8,
                mapping_len,
            })
        }
    }

    /// Lowest usable address (just above the guard page).
    pub fn bottom(&self) -> usize {
        self.mapping as usize + page_size()
    }

    /// One past the highest usable address; stacks grow down from here.
    pub fn top(&self) -> usize {
        self.mapping as usize + self.mapping_len
    }

    pub fn size(&self) -> usize {
        self.top() - self.bottom()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: we own the mapping; nothing runs on a stack being dropped.
        unsafe {
            libc::munmap(self.mapping as *mut _, self.mapping_len);
        }
    }
}

/// Stacks of one size, kept for reuse.
pub struct StackPool {
    size: usize,
    capacity: usize,
    /// Free stacks: resident ones at the back, where `get` takes from.
    free: Mutex<VecDeque<Stack>>,
    /// Stacks handed out by `get` and not yet `put` back.
    in_use: AtomicUsize,
}

/// Free stacks kept resident: the ones a steady stream of tasks reuses.
/// Giving a stack's pages back costs a TLB shootdown on every core and a
/// page fault per page on its next use, more than a short task itself; past
/// this many free stacks (after a burst), they are given back.
const RESIDENT_STACKS: usize = 16;

impl StackPool {
    /// A pool of stacks of `size` bytes that keeps at most `capacity` free.
    pub fn new(size: usize, capacity: usize) -> StackPool {
        StackPool {
            size,
            capacity,
            free: Mutex::new(VecDeque::new()),
            in_use: AtomicUsize::new(0),
        }
    }

    pub fn get(&self) -> io::Result<Stack> {
        let free = self.free.lock().unwrap().pop_back();
        let stack = match free {
            Some(stack) => stack,
            None => Stack::new(self.size)?,
        };
        self.in_use.fetch_add(1, Ordering::Relaxed);
        Ok(stack)
    }

    /// Returns `stack` to the pool. The first [`RESIDENT_STACKS`] free
    /// stacks keep their pages (a stack holds no data the next task could
    /// read: guest code only reads frames it wrote); beyond them, pages are
    /// given back to the kernel, so that an idle pool after a burst holds
    /// address space, not memory.
    pub fn put(&self, stack: Stack) {
        self.in_use.fetch_sub(1, Ordering::Relaxed);
        let free_now = self.free.lock().unwrap().len();
        if free_now >= self.capacity {
            return;
        }
        if free_now < RESIDENT_STACKS {
            self.free.lock().unwrap().push_back(stack);
            return;
        }
        // SAFETY: the usable part of our own mapping; nothing runs on it.
        unsafe {
            libc::madvise(stack.bottom() as *mut _, stack.size(), libc::MADV_DONTNEED);
        }
        self.free.lock().unwrap().push_front(stack);
    }

    pub fn free_count(&self) -> usize {
        self.free.lock().unwrap().len()
    }

    /// Stacks handed out and not returned: those of unfinished tasks.
    pub fn in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_are_usable_and_pooled() {
        let pool = StackPool::new(64 << 10, 2);
        let stack = pool.get().unwrap();
        assert!(stack.size() >= 64 << 10);
        assert_eq!(stack.top() % 16, 0);
        // SAFETY: the whole usable range is mapped read/write.
        unsafe {
            (stack.bottom() as *mut u8).write(1);
            ((stack.top() - 1) as *mut u8).write(2);
        }
        pool.put(stack);
        assert_eq!(pool.free_count(), 1);
        let again = pool.get().unwrap();
        // Reused as it was: the pages stayed resident.
        // SAFETY: mapped read/write.
        assert_eq!(unsafe { ((again.top() - 1) as *const u8).read() }, 2);
    }

    #[test]
    fn stacks_past_the_resident_ones_give_their_pages_back() {
        let pool = StackPool::new(64 << 10, 64);
        let stacks: Vec<_> = (0..RESIDENT_STACKS + 1)
            .map(|_| pool.get().unwrap())
            .collect();
        for stack in &stacks {
            // SAFETY: the whole usable range is mapped read/write.
            unsafe { ((stack.top() - 1) as *mut u8).write(7) };
        }
        for stack in stacks {
            pool.put(stack);
        }
        // The resident ones come back first, as they were.
        for _ in 0..RESIDENT_STACKS {
            let stack = pool.get().unwrap();
            // SAFETY: mapped read/write.
            assert_eq!(unsafe { ((stack.top() - 1) as *const u8).read() }, 7);
        }
        // The one returned past them reads as zero.
        let last = pool.get().unwrap();
        // SAFETY: mapped read/write.
        assert_eq!(unsafe { ((last.top() - 1) as *const u8).read() }, 0);
    }
}
