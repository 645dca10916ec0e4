//! Stacks for sandboxes: mmap'd, with an inaccessible guard page below so
//! that an overflow faults instead of corrupting a neighbour, and pooled so
//! that starting a sandbox does not map memory.

use luge_region::{page_size, Region};
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// A stack of `size` usable bytes above one guard page.
pub struct Stack(Region);

impl Stack {
    /// Maps a stack with at least `size` usable bytes.
    pub fn new(size: usize) -> io::Result<Stack> {
        let page = page_size();
        let usable = size.div_ceil(page) * page;
        // The lowest page stays inaccessible as the guard.
        let region = Region::reserve_stack(usable + page)?;
        region.commit(page, usable)?;
        Ok(Stack(region))
    }

    /// Lowest usable address (just above the guard page).
    pub fn bottom(&self) -> usize {
        self.0.base() as usize + page_size()
    }

    /// One past the highest usable address; stacks grow down from here.
    pub fn top(&self) -> usize {
        self.0.base() as usize + self.0.size()
    }

    pub fn size(&self) -> usize {
        self.top() - self.bottom()
    }

    /// Gives the stack's pages back to the kernel; they read as zero on
    /// their next use.
    fn release_pages(&self) -> io::Result<()> {
        self.0.decommit(page_size(), self.size())
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
        // Nothing runs on a stack in the pool. Should the kernel refuse, the
        // stack is dropped rather than kept resident.
        if stack.release_pages().is_ok() {
            self.free.lock().unwrap().push_front(stack);
        }
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
