//! Loading shared objects with the dynamic loader, once they are known to
//! run none of their code as they load (see `crate::elf`).
//!
//! The loader is handed the very bytes that were checked, never a path
//! that could name another file by the time it is opened: they are copied
//! into a sealed, anonymous memory file, which is what `dlopen` maps.

use crate::elf::NoLoadTimeCode;
use libloading::os::unix::{Library as Dl, RTLD_LOCAL, RTLD_NOW};
use rustix::fs::{MemfdFlags, SealFlags};
use std::os::fd::AsRawFd;

/// A loaded shared object, unloaded on drop.
pub struct Library {
    library: Dl,
    /// The sealed file it was loaded from, open for as long as it is
    /// loaded (declared after `library`, so closed after it is unloaded).
    /// The dynamic loader knows the object by its path, `/proc/self/fd/N`,
    /// and answers a later `dlopen` of the same path with the object
    /// already loaded: while this descriptor stays open, no other object
    /// can be given its number.
    _file: std::fs::File,
}

impl Library {
    /// Loads the object whose contents are `bytes` (`name` labels it in
    /// the process's memory map), which passed the load-time-code check
    /// (`_checked` is the proof). Every symbol is resolved now.
    pub fn open(name: &str, bytes: &[u8], _checked: NoLoadTimeCode) -> Result<Library, String> {
        let file = sealed_copy(name, bytes).map_err(|e| format!("cannot stage it: {e}"))?;
        let path = format!("/proc/self/fd/{}", file.as_raw_fd());
        // Objects that would stay loaded under this name are refused by
        // the load-time check; this makes sure, since the loader would
        // answer with the old object.
        // SAFETY: RTLD_NOLOAD loads nothing, it only looks the name up.
        if unsafe { Dl::open(Some(&path), RTLD_NOW | libc::RTLD_NOLOAD) }.is_ok() {
            return Err(format!("another object is still loaded as {path}"));
        }
        // SAFETY: the object has nothing the dynamic loader would run
        // (initializers, needed libraries, IFUNC resolvers), so loading it
        // runs none of its code; the sealed file cannot change under the
        // loader.
        let library = unsafe { Dl::open(Some(&path), RTLD_NOW | RTLD_LOCAL) };
        let library = library.map_err(|e| e.to_string())?;
        Ok(Library {
            library,
            _file: file,
        })
    }

    /// The `count` pointers of the table the object exports as `symbol`,
    /// or `None` when it exports no such symbol.
    ///
    /// # Safety
    /// `symbol` must be a table of at least `count` pointer-sized entries.
    pub unsafe fn pointer_table(&self, symbol: &str, count: usize) -> Option<Vec<*const u8>> {
        // SAFETY: only the symbol's address is taken, never called.
        let table = unsafe { self.library.get::<*const *const u8>(symbol.as_bytes()) }.ok()?;
        let table = table.as_raw_ptr() as *const *const u8;
        // SAFETY: per the caller's contract, `count` entries are readable.
        Some(unsafe { std::slice::from_raw_parts(table, count) }.to_vec())
    }
}

/// An anonymous file holding `bytes`, sealed against every change.
fn sealed_copy(name: &str, bytes: &[u8]) -> std::io::Result<std::fs::File> {
    // The kernel takes names of at most 249 bytes.
    let mut end = name.len().min(200);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    let name = &name[..end];
    let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    // Where `vm.memfd_noexec` is 2 (Linux 6.3 and later), only files that
    // can never be `execve`d may be made; the loader only maps them, which
    // that seal does not forbid.
    let fd = match rustix::fs::memfd_create(name, flags) {
        Err(rustix::io::Errno::ACCESS) => {
            rustix::fs::memfd_create(name, flags | MemfdFlags::NOEXEC_SEAL)?
        }
        other => other?,
    };
    let mut file = std::fs::File::from(fd);
    std::io::Write::write_all(&mut file, bytes)?;
    rustix::fs::fcntl_add_seals(
        &file,
        SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE | SealFlags::SEAL,
    )?;
    Ok(file)
}
