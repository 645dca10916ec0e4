//! Paths, resolved against a directory descriptor: opening files and
//! directories, creating, removing and renaming them, their metadata and
//! symlink targets.

use super::descriptors::{
    checked_fdflags, for_cap_std, rights, set_append, times_to_set, Filestat, FDFLAGS_SYNCS,
    FDFLAG_APPEND,
};
use super::Call;
use crate::errno::{Errno, WasiResult};
use crate::fd::Fd;

const OFLAG_CREAT: u16 = 1;
const OFLAG_DIRECTORY: u16 = 2;
const OFLAG_EXCL: u16 = 4;
const OFLAG_TRUNC: u16 = 8;
const OFLAGS_ALL: u16 = OFLAG_CREAT | OFLAG_DIRECTORY | OFLAG_EXCL | OFLAG_TRUNC;
const LOOKUP_SYMLINK_FOLLOW: u32 = 1;

/// How `path_open` opens a regular file, decided as Wasmtime decides it:
/// writable with the `FD_WRITE` right or when creating or truncating,
/// readable with `FD_READ`, or when not writable by right.
/// `APPEND` without a way to write is only reported back.
struct Access {
    readable: bool,
    writable: bool,
}

impl Access {
    fn of(oflags: u16, rights: u64) -> Access {
        let write_right = rights & rights::FD_WRITE != 0;
        Access {
            readable: rights & rights::FD_READ != 0 || !write_right,
            writable: write_right || oflags & (OFLAG_CREAT | OFLAG_TRUNC) != 0,
        }
    }

    /// Open options for these flags. `O_APPEND` is set after opening: std
    /// refuses to combine it with creating or truncating.
    fn options(&self, oflags: u16, follow: bool) -> cap_std::fs::OpenOptions {
        use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt};
        let mut options = cap_std::fs::OpenOptions::new();
        options
            .read(self.readable)
            .write(self.writable)
            .create(oflags & OFLAG_CREAT != 0)
            .create_new(oflags & OFLAG_CREAT != 0 && oflags & OFLAG_EXCL != 0)
            .truncate(oflags & OFLAG_TRUNC != 0)
            .follow(FollowSymlinks::follow(follow));
        options
    }
}

/// `path` without its trailing slashes ("/" stays as it is).
fn without_slash(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => path,
        trimmed => trimmed,
    }
}

/// Whether lookup flags ask to follow a final symlink; `EINVAL` for bits
/// preview1 does not define.
fn lookup_follows(flags: u32) -> WasiResult<bool> {
    match flags {
        0 => Ok(false),
        LOOKUP_SYMLINK_FOLLOW => Ok(true),
        _ => Err(Errno::Inval),
    }
}

/// The error of an operation on a non-directory given a name with a
/// trailing slash, which POSIX resolves through a final symlink and which
/// must then name a directory: `if_dir` when it does (the operation cannot
/// apply to a directory), `ENOTDIR` when it names something else, the
/// lookup's error when it names nothing.
fn wrong_kind(dir: &cap_std::fs::Dir, path: &str, if_dir: Errno) -> WasiResult<Errno> {
    Ok(if dir.metadata(path)?.is_dir() {
        if_dir
    } else {
        Errno::Notdir
    })
}

/// The error of creating a link under a name with a trailing slash, which
/// can never succeed: `EEXIST` for a directory already there, `ENOTDIR`
/// for something else, `ENOENT` for nothing.
fn taken_name(dir: &cap_std::fs::Dir, path: &str) -> WasiResult<Errno> {
    wrong_kind(dir, path, Errno::Exist)
}

/// Most symlinks followed in one lookup, as Linux's `MAXSYMLINKS`.
const MAX_SYMLINKS: usize = 40;

/// `path` with its final symlinks resolved (inside the sandbox; one that
/// leads out is `EPERM`), found without opening what it names: cap-std's
/// own ways of following open the target, and opening a FIFO the host
/// placed in the preopen blocks until a writer comes.
fn resolve_symlinks(dir: &cap_std::fs::Dir, path: &str) -> WasiResult<std::path::PathBuf> {
    let mut path = std::path::PathBuf::from(path);
    for _ in 0..MAX_SYMLINKS {
        if !dir.symlink_metadata(&path)?.file_type().is_symlink() {
            return Ok(path);
        }
        let target = dir.read_link(&path)?;
        path = match path.parent() {
            Some(parent) => parent.join(target),
            None => target,
        };
    }
    Err(Errno::Loop)
}

/// Whether `path` names a directory (through a final symlink if `follow`).
fn is_dir(dir: &cap_std::fs::Dir, path: &str, follow: bool) -> bool {
    let meta = if follow {
        dir.metadata(path)
    } else {
        dir.symlink_metadata(path)
    };
    meta.is_ok_and(|m| m.is_dir())
}

/// Opens the directory `path` for `path_open`. Without `DIRECTORY`, a
/// directory is opened only when nothing asks to create or truncate it
/// (`EEXIST` for an exclusive create, `EISDIR` otherwise); either way,
/// never for writing (`EISDIR`, once the path is known to be one).
fn open_dir(
    dir: &cap_std::fs::Dir,
    path: &str,
    oflags: u16,
    rights: u64,
    follow: bool,
) -> WasiResult<Fd> {
    if oflags & OFLAG_DIRECTORY == 0 {
        if oflags & OFLAG_CREAT != 0 && oflags & OFLAG_EXCL != 0 {
            return Err(Errno::Exist);
        }
        if oflags & (OFLAG_CREAT | OFLAG_TRUNC) != 0 {
            return Err(Errno::Isdir);
        }
    }
    let opened = if follow {
        dir.open_dir(path)?
    } else {
        // cap-std says ENOTDIR for a final symlink; O_NOFOLLOW (and
        // Wasmtime) say ELOOP. Asked after the open failed, so no swapped
        // link is ever followed.
        cap_fs_ext::DirExt::open_dir_nofollow(dir, path).map_err(|error| {
            let is_symlink = || {
                dir.symlink_metadata(path)
                    .is_ok_and(|m| m.file_type().is_symlink())
            };
            match Errno::from(error) {
                Errno::Notdir if is_symlink() => Errno::Loop,
                errno => errno,
            }
        })?
    };
    if rights & rights::FD_WRITE != 0 {
        return Err(Errno::Isdir);
    }
    Ok(Fd::dir(opened, None))
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
        inheriting: u64,
        fdflags: u32,
        opened: u32,
    ) -> WasiResult<()> {
        let fdflags = checked_fdflags(fdflags)?;
        let oflags = u16::try_from(oflags)
            .ok()
            .filter(|o| o & !OFLAGS_ALL == 0)
            .ok_or(Errno::Inval)?;
        let follow = lookup_follows(dirflags)?;
        if (rights | inheriting) & !rights::ALL != 0 {
            return Err(Errno::Inval);
        }
        // Checked in Wasmtime's order: the directory, then what cannot be
        // done, then what makes no sense.
        self.dir_to_open_in(fd)?;
        if fdflags & FDFLAGS_SYNCS != 0 {
            return Err(Errno::Notsup);
        }
        if oflags & OFLAG_DIRECTORY != 0 && oflags & (OFLAG_CREAT | OFLAG_TRUNC | OFLAG_EXCL) != 0 {
            return Err(Errno::Inval);
        }
        let path = self.path(path, path_len)?;
        let dir = self.dir_to_open_in(fd)?;
        // A trailing slash follows a final symlink, as in POSIX. Not
        // following is done by the open itself (`O_NOFOLLOW`: `ELOOP`, or
        // `EEXIST` for an exclusive create), so that a symlink swapped in
        // after a check is never followed.
        let follow = follow || path.ends_with('/');
        let new = if oflags & OFLAG_DIRECTORY != 0 || is_dir(dir, &path, follow) {
            open_dir(dir, &path, oflags, rights, follow)?
        } else if oflags & OFLAG_CREAT != 0 && path.ends_with('/') {
            // Only a directory can be named so, and creating makes files
            // (POSIX; said here because cap-std's fallback resolution,
            // where the kernel lacks openat2, says EINVAL).
            return Err(Errno::Isdir);
        } else {
            let access = Access::of(oflags, rights);
            let file = dir
                .open_with(&path, &access.options(oflags, follow))?
                .into_std();
            if access.writable && fdflags & FDFLAG_APPEND != 0 {
                set_append(&file, true)?;
            }
            Fd::File {
                file,
                readable: access.readable,
                writable: access.writable,
                fdflags,
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
        // rmdir takes "d/" as "d" (cap-std refuses the slash); a symlink
        // is no directory either way.
        Ok(self.dir(fd)?.remove_dir(without_slash(&path))?)
    }

    pub(super) fn path_unlink_file(&mut self, fd: u32, path: u32, len: u32) -> WasiResult<()> {
        let path = self.path(path, len)?;
        let dir = self.dir(fd)?;
        if path.ends_with('/') {
            return Err(wrong_kind(dir, &path, Errno::Isdir)?);
        }
        Ok(dir.remove_file(path)?)
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
        let (old, new) = (self.path(old, old_len)?, self.path(new, new_len)?);
        let (target, dir) = self.dir_pair(fd, new_fd)?;
        // cap-std ignores trailing slashes here; POSIX makes them demand
        // a directory.
        if old.ends_with('/') || new.ends_with('/') {
            let old_meta = dir.symlink_metadata(without_slash(&old))?;
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
        let follow = lookup_follows(flags)?;
        let path = self.path(path, len)?;
        let dir = self.dir(fd)?;
        let meta = if path.ends_with('/') {
            let meta = dir.metadata(&path)?;
            if !meta.is_dir() {
                return Err(Errno::Notdir);
            }
            meta
        } else if follow {
            dir.metadata(path)?
        } else {
            dir.symlink_metadata(path)?
        };
        Filestat::of_cap(&meta).store(&self.mem, buf)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn path_filestat_set_times(
        &mut self,
        fd: u32,
        flags: u32,
        path: u32,
        len: u32,
        atim: u64,
        mtim: u64,
        fstflags: u32,
    ) -> WasiResult<()> {
        use cap_fs_ext::DirExt;
        let follow = lookup_follows(flags)?;
        let (atime, mtime) = for_cap_std(times_to_set(atim, mtim, fstflags)?);
        let path = self.path(path, len)?;
        let dir = self.dir(fd)?;
        if path.ends_with('/') && !dir.metadata(&path)?.is_dir() {
            return Err(Errno::Notdir);
        }
        let target = match follow || path.ends_with('/') {
            true => resolve_symlinks(dir, without_slash(&path))?,
            false => std::path::PathBuf::from(path),
        };
        Ok(dir.set_symlink_times(target, atime, mtime)?)
    }

    /// Creates `new` holding `old` as its target. A relative target may
    /// name anything, even a place outside the preopen (`../x`): every
    /// lookup that meets the link resolves it inside the sandbox (cap-std)
    /// and fails with `EPERM` where it would leave. An absolute target
    /// could never resolve inside, and is refused with `EPERM`, as in
    /// Wasmtime.
    pub(super) fn path_symlink(
        &mut self,
        old: u32,
        old_len: u32,
        fd: u32,
        new: u32,
        new_len: u32,
    ) -> WasiResult<()> {
        let target = self.path(old, old_len)?;
        let link = self.path(new, new_len)?;
        let dir = self.dir(fd)?;
        if link.ends_with('/') {
            return Err(taken_name(dir, &link)?);
        }
        Ok(dir.symlink(target, link)?)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn path_link(
        &mut self,
        old_fd: u32,
        old_flags: u32,
        old: u32,
        old_len: u32,
        new_fd: u32,
        new: u32,
        new_len: u32,
    ) -> WasiResult<()> {
        let (old, new) = (self.path(old, old_len)?, self.path(new, new_len)?);
        let (target, dir) = self.dir_pair(old_fd, new_fd)?;
        if lookup_follows(old_flags)? {
            // linkat(AT_SYMLINK_FOLLOW) could resolve a link to a file
            // outside the sandbox; Wasmtime refuses the flag as well.
            return Err(Errno::Inval);
        }
        if old.ends_with('/') {
            return Err(wrong_kind(dir, &old, Errno::Perm)?);
        }
        if new.ends_with('/') {
            return Err(taken_name(&target, &new)?);
        }
        Ok(dir.hard_link(old, &target, new)?)
    }

    /// The target of a symlink. Targets that are absolute paths are
    /// refused with `EPERM` (they could not be followed here), targets
    /// that are not UTF-8 with `EILSEQ`, as in Wasmtime.
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
        let dir = self.dir(fd)?;
        if path.ends_with('/') {
            return Err(wrong_kind(dir, &path, Errno::Inval)?);
        }
        let target = dir.read_link(path)?;
        let bytes = target.to_str().ok_or(Errno::Ilseq)?.as_bytes();
        let n = bytes.len().min(buf_len as usize);
        self.mem.write_bytes(buf, &bytes[..n])?;
        self.mem.write_u32(used, n as u32)
    }
}
