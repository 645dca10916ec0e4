//! Loading shared objects with the dynamic loader, once they are known to
//! run none of their code as they load (see `crate::elf`).

use crate::elf::NoLoadTimeCode;
use libloading::os::unix::{Library as Dl, RTLD_LOCAL, RTLD_NOW};
use std::path::Path;

/// A loaded shared object, unloaded on drop.
pub struct Library(Dl);

impl Library {
    /// Loads the object at `path`, whose bytes passed the load-time-code
    /// check (`_checked` is the proof). Every symbol is resolved now.
    pub fn open(path: &Path, _checked: NoLoadTimeCode) -> Result<Library, String> {
        // dlopen only searches the library path for names without a slash.
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        // SAFETY: the object has nothing the dynamic loader would run
        // (initializers, needed libraries, IFUNC resolvers), so loading it
        // runs none of its code.
        let library = unsafe { Dl::open(Some(&absolute), RTLD_NOW | RTLD_LOCAL) };
        library.map(Library).map_err(|e| e.to_string())
    }

    /// The `count` pointers of the table the object exports as `symbol`,
    /// or `None` when it exports no such symbol.
    ///
    /// # Safety
    /// `symbol` must be a table of at least `count` pointer-sized entries.
    pub unsafe fn pointer_table(&self, symbol: &str, count: usize) -> Option<Vec<*const u8>> {
        // SAFETY: only the symbol's address is taken, never called.
        let table = unsafe { self.0.get::<*const *const u8>(symbol.as_bytes()) }.ok()?;
        let table = table.as_raw_ptr() as *const *const u8;
        // SAFETY: per the caller's contract, `count` entries are readable.
        Some(unsafe { std::slice::from_raw_parts(table, count) }.to_vec())
    }
}
