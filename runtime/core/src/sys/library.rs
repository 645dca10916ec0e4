//! Loading shared objects with the dynamic loader, once they are known to
//! run none of their code as they load (see `crate::elf`).
//!
//! The loader is handed the very bytes that were checked, never a path
//! that could name another file by the time it is opened: they are first
//! staged in a sealed, anonymous memory file ([`Staged`]), whose mapping
//! is what gets checked and what `dlopen` maps.

use crate::elf::NoLoadTimeCode;
use libloading::os::unix::{Library as Dl, RTLD_LOCAL, RTLD_NOW};
use rustix::fs::{MemfdFlags, SealFlags};
use rustix::mm::{MapFlags, ProtFlags};
use std::ffi::c_void;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::ptr::NonNull;

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
    /// Loads the object `staged` (whose name labels it in the process's
    /// memory map), which passed the load-time-code check (`_checked` is
    /// the proof). Every symbol is resolved now.
    pub fn open(staged: Staged, _checked: NoLoadTimeCode) -> Result<Library, String> {
        let Staged { file, .. } = staged;
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

/// The bytes of an object about to be loaded, in an anonymous file sealed
/// against every change, mapped to be read: what is checked (its digest,
/// its ELF, its descriptor) is what the dynamic loader maps. A file read
/// into one is copied by the kernel, never through this process's heap,
/// which `luge run` would pay for in page faults, one per 4 KiB.
pub struct Staged {
    file: std::fs::File,
    view: View,
}

impl Staged {
    /// Stages `bytes` under `name`.
    pub fn copy_of(name: &str, bytes: &[u8]) -> std::io::Result<Staged> {
        let mut file = sealable_file(name)?;
        file.write_all(bytes)?;
        Staged::seal(file)
    }

    /// Stages `source`, a regular file, under `name`, as long as it is
    /// now: a file that grows meanwhile cannot make the copy endless, and
    /// a device or a pipe, which has no length, is refused.
    pub fn read_from(name: &str, source: &mut std::fs::File) -> std::io::Result<Staged> {
        let metadata = source.metadata()?;
        if !metadata.is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        let mut file = sealable_file(name)?;
        std::io::copy(&mut Read::take(source, metadata.len()), &mut file)?;
        Staged::seal(file)
    }

    fn seal(file: std::fs::File) -> std::io::Result<Staged> {
        rustix::fs::fcntl_add_seals(
            &file,
            SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE | SealFlags::SEAL,
        )?;
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::FileTooLarge))?;
        let view = View::of(&file, len)?;
        Ok(Staged { file, view })
    }

    /// The staged bytes.
    pub fn bytes(&self) -> &[u8] {
        match self.view.base {
            // SAFETY: the mapping is `len` readable bytes of a file sealed
            // against writes and shrinking, so they stay as they are (and
            // backed) for as long as the view is mapped, which is as long
            // as `self` lives.
            Some(base) => unsafe {
                std::slice::from_raw_parts(base.as_ptr().cast::<u8>(), self.view.len)
            },
            None => &[],
        }
    }
}

/// A read-only mapping of a whole file, unmapped on drop (`base` is `None`
/// for an empty file, which cannot be mapped).
struct View {
    base: Option<NonNull<c_void>>,
    len: usize,
}

impl View {
    fn of(file: &std::fs::File, len: usize) -> std::io::Result<View> {
        if len == 0 {
            return Ok(View { base: None, len });
        }
        // SAFETY: a new private mapping at an address of the kernel's
        // choosing, which replaces nothing.
        let base = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ,
                MapFlags::PRIVATE,
                file,
                0,
            )
        }?;
        Ok(View {
            base: NonNull::new(base),
            len,
        })
    }
}

impl Drop for View {
    fn drop(&mut self) {
        if let Some(base) = self.base {
            // SAFETY: this is the mapping `View::of` made, and no slice of
            // it outlives the view (`Staged::bytes` borrows it).
            let _ = unsafe { rustix::mm::munmap(base.as_ptr(), self.len) };
        }
    }
}

/// A new anonymous file that can be sealed, named `name`.
fn sealable_file(name: &str) -> std::io::Result<std::fs::File> {
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
    Ok(std::fs::File::from(fd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{ErrorKind, Seek};

    #[test]
    fn a_file_is_staged_as_long_as_it_was_and_only_a_regular_one() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"an object").unwrap();
        file.rewind().unwrap();
        let staged = Staged::read_from("file", &mut file).unwrap();
        assert_eq!(staged.bytes(), b"an object");
        assert_eq!(Staged::copy_of("empty", b"").unwrap().bytes(), b"");
        // A device has no end: staging it would fill memory.
        let mut zero = std::fs::File::open("/dev/zero").unwrap();
        let refused = Staged::read_from("zero", &mut zero).err().unwrap();
        assert_eq!(refused.kind(), ErrorKind::InvalidInput);
    }
}
