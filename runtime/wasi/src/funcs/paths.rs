//! Paths, resolved against a directory descriptor: opening files and
//! directories, creating, removing and renaming them, their metadata and
//! symlink targets.

use super::descriptors::{Filestat, FDFLAG_APPEND};
use super::Call;
use crate::errno::{Errno, WasiResult};
use crate::fd::Fd;

const RIGHT_FD_READ: u64 = 1 << 1;
const RIGHT_FD_WRITE: u64 = 1 << 6;
const OFLAG_CREAT: u16 = 1;
const OFLAG_DIRECTORY: u16 = 2;
const OFLAG_EXCL: u16 = 4;
const OFLAG_TRUNC: u16 = 8;
const LOOKUP_SYMLINK_FOLLOW: u32 = 1;

/// How to open a file for `path_open` flags and rights.
fn file_options(oflags: u16, rights: u64, append: bool) -> cap_std::fs::OpenOptions {
    let mut options = cap_std::fs::OpenOptions::new();
    let write = rights & RIGHT_FD_WRITE != 0 || append || oflags & OFLAG_TRUNC != 0;
    options
        .read(rights & RIGHT_FD_READ != 0 || !write)
        .write(write && !append)
        .append(append)
        .create(oflags & OFLAG_CREAT != 0)
        .create_new(oflags & OFLAG_CREAT != 0 && oflags & OFLAG_EXCL != 0)
        .truncate(oflags & OFLAG_TRUNC != 0);
    options
}

/// `ELOOP` when `path` names a symlink, for opens that must not follow
/// one (`O_NOFOLLOW`). A trailing slash asks to follow, as in POSIX.
/// (cap-std follows symlinks that stay inside the directory on its own;
/// this only refuses those.)
fn refuse_symlink(dir: &cap_std::fs::Dir, path: &str) -> WasiResult<()> {
    let is_symlink = !path.ends_with('/')
        && dir
            .symlink_metadata(path)
            .is_ok_and(|m| m.file_type().is_symlink());
    if is_symlink {
        return Err(Errno::Loop);
    }
    Ok(())
}

impl<'a> Call<'a> {
    // ---- paths -----------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    pub(super) fn path_open(
        &mut self,
        fd: u32,
        dirflags: u32,
        path: u32,
        path_len: u32,
        oflags: u32,
        rights: u64,
        _inheriting: u64,
        fdflags: u32,
        opened: u32,
    ) -> WasiResult<()> {
        let path = self.path(path, path_len)?;
        let oflags = oflags as u16;
        let append = fdflags as u16 & FDFLAG_APPEND != 0;
        let dir = self.dir(fd)?;
        let follow = dirflags & LOOKUP_SYMLINK_FOLLOW != 0;
        if !follow {
            refuse_symlink(dir, &path)?;
        }
        let wants_dir = oflags & OFLAG_DIRECTORY != 0;
        let is_dir = || {
            let meta = if follow {
                dir.metadata(&path)
            } else {
                dir.symlink_metadata(&path)
            };
            meta.map(|m| m.is_dir()).unwrap_or(false)
        };
        let new = if wants_dir
            || (oflags & OFLAG_CREAT == 0 && rights & RIGHT_FD_WRITE == 0 && is_dir())
        {
            if oflags & (OFLAG_CREAT | OFLAG_TRUNC | OFLAG_EXCL) != 0 {
                return Err(Errno::Inval);
            }
            Fd::dir(dir.open_dir(&path)?, None)
        } else {
            let options = file_options(oflags, rights, append);
            Fd::File {
                file: dir.open_with(&path, &options)?.into_std(),
                append,
            }
        };
        let number = self.ctx.fds.open(new)?;
        self.mem.write_u32(opened, number)
    }

    pub(super) fn path_create_directory(&mut self, fd: u32, path: u32, len: u32) -> WasiResult<()> {
        let path = self.path(path, len)?;
        Ok(self.dir(fd)?.create_dir(path)?)
    }

    pub(super) fn path_remove_directory(&mut self, fd: u32, path: u32, len: u32) -> WasiResult<()> {
        let path = self.path(path, len)?;
        Ok(self.dir(fd)?.remove_dir(path)?)
    }

    pub(super) fn path_unlink_file(&mut self, fd: u32, path: u32, len: u32) -> WasiResult<()> {
        let path = self.path(path, len)?;
        Ok(self.dir(fd)?.remove_file(path)?)
    }

    pub(super) fn path_rename(
        &mut self,
        fd: u32,
        old: u32,
        old_len: u32,
        new_fd: u32,
        new: u32,
        new_len: u32,
    ) -> WasiResult<()> {
        let old = self.path(old, old_len)?;
        let new = self.path(new, new_len)?;
        let target = self.dir(new_fd)?.try_clone()?;
        let dir = self.dir(fd)?;
        // cap-std ignores trailing slashes here; POSIX makes them demand
        // a directory.
        if old.ends_with('/') || new.ends_with('/') {
            let old_meta = dir.symlink_metadata(old.trim_end_matches('/'))?;
            if !old_meta.is_dir() {
                return Err(Errno::Notdir);
            }
        }
        Ok(dir.rename(old, &target, new)?)
    }

    pub(super) fn path_filestat_get(
        &mut self,
        fd: u32,
        flags: u32,
        path: u32,
        len: u32,
        buf: u32,
    ) -> WasiResult<()> {
        let path = self.path(path, len)?;
        let dir = self.dir(fd)?;
        let meta = if flags & LOOKUP_SYMLINK_FOLLOW != 0 {
            dir.metadata(path)?
        } else {
            dir.symlink_metadata(path)?
        };
        Filestat::of_cap(&meta).store(&self.mem, buf)
    }

    pub(super) fn path_readlink(
        &mut self,
        fd: u32,
        path: u32,
        len: u32,
        buf: u32,
        buf_len: u32,
        used: u32,
    ) -> WasiResult<()> {
        let path = self.path(path, len)?;
        let target = self.dir(fd)?.read_link_contents(path)?;
        let bytes = target.as_os_str().as_encoded_bytes();
        let n = bytes.len().min(buf_len as usize);
        self.mem.write_bytes(buf, &bytes[..n])?;
        self.mem.write_u32(used, n as u32)
    }
}
