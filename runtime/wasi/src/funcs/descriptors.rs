//! Descriptors: closing and renumbering them, their status and flags, the
//! metadata of what they refer to, preopens and directory listings.

use super::Call;
use crate::clock::nanos;
use crate::errno::{Errno, WasiResult};
use crate::fd::{DirEntry, Fd};
use crate::guest::{offset, Guest};
use fs_set_times::{SetTimes, SystemTimeSpec};
use std::os::unix::fs::MetadataExt;

mod filetype {
    pub const BLOCK_DEVICE: u8 = 1;
    pub const CHARACTER_DEVICE: u8 = 2;
    pub const DIRECTORY: u8 = 3;
    pub const REGULAR_FILE: u8 = 4;
    pub const SYMBOLIC_LINK: u8 = 7;
    pub const UNKNOWN: u8 = 0;
}

/// Rights (preview1's `rights` bits) as `fd_fdstat_get` reports them.
/// They describe what a descriptor can do; like Wasmtime, Luge decides that
/// by how the descriptor was opened and never narrows it on request.
pub(super) mod rights {
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub const ALL: u64 = (1 << 30) - 1;
    /// A directory opened by `path_open`: everything but what only a file
    /// can do (seek, write, set its size).
    pub const DIRECTORY: u64 =
        ALL & !(FD_SEEK | FD_WRITE | PATH_FILESTAT_SET_SIZE | FD_FILESTAT_SET_SIZE);
    /// A preopened directory, as Wasmtime reports one: the path operations,
    /// listing and the directory's own metadata.
    pub const PREOPEN: u64 = 0x07b7_fe00;
    /// What files and directories opened below a directory may get: all
    /// but setting a size by path and the socket rights. wasi-libc masks
    /// the rights it asks for with these.
    pub const DIRECTORY_INHERITING: u64 = 0x0ff7_ffff;

    /// A regular file open for reading, writing or both.
    pub fn file(readable: bool, writable: bool) -> u64 {
        let mut rights = ALL;
        if !readable {
            rights &= !(FD_READ | FD_READDIR);
        }
        if !writable {
            rights &= !FD_WRITE;
        }
        rights
    }
}

pub(super) const FDFLAG_APPEND: u16 = 1;
pub(super) const FDFLAG_DSYNC: u16 = 2;
pub(super) const FDFLAG_NONBLOCK: u16 = 4;
pub(super) const FDFLAG_RSYNC: u16 = 8;
pub(super) const FDFLAG_SYNC: u16 = 16;
/// The synchronous-I/O fdflags, which Luge does not provide (as Wasmtime).
pub(super) const FDFLAGS_SYNCS: u16 = FDFLAG_DSYNC | FDFLAG_RSYNC | FDFLAG_SYNC;
const FDFLAGS_ALL: u16 = FDFLAG_APPEND | FDFLAG_NONBLOCK | FDFLAGS_SYNCS;

/// The fdflags a program passed, or `EINVAL` for bits preview1 does not
/// define (Wasmtime traps on those).
pub(super) fn checked_fdflags(flags: u32) -> WasiResult<u16> {
    u16::try_from(flags)
        .ok()
        .filter(|f| f & !FDFLAGS_ALL == 0)
        .ok_or(Errno::Inval)
}

/// Times to set, as cap-std's path functions take them.
pub(super) fn for_cap_std(
    (atime, mtime): (Option<SystemTimeSpec>, Option<SystemTimeSpec>),
) -> (
    Option<cap_fs_ext::SystemTimeSpec>,
    Option<cap_fs_ext::SystemTimeSpec>,
) {
    let convert = cap_fs_ext::SystemTimeSpec::from_std;
    (atime.map(convert), mtime.map(convert))
}

/// Sets or clears `O_APPEND` on an open host file.
pub(super) fn set_append(file: &std::fs::File, append: bool) -> WasiResult<()> {
    use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
    let mut flags = fcntl_getfl(file).map_err(std::io::Error::from)?;
    flags.set(OFlags::APPEND, append);
    fcntl_setfl(file, flags).map_err(std::io::Error::from)?;
    Ok(())
}

/// `fstflags` of the `*_filestat_set_times` functions.
const FST_ATIM: u32 = 1;
const FST_ATIM_NOW: u32 = 2;
const FST_MTIM: u32 = 4;
const FST_MTIM_NOW: u32 = 8;

/// The access and modification times `fstflags` asks to set (`None`
/// leaves one as it is); `EINVAL` when a time is asked to be both given
/// and now or `fstflags` has bits preview1 does not define.
pub(super) fn times_to_set(
    atim: u64,
    mtim: u64,
    fstflags: u32,
) -> WasiResult<(Option<SystemTimeSpec>, Option<SystemTimeSpec>)> {
    if fstflags & !(FST_ATIM | FST_ATIM_NOW | FST_MTIM | FST_MTIM_NOW) != 0 {
        return Err(Errno::Inval);
    }
    let one = |time: u64, given: u32, now: u32| match (fstflags & given, fstflags & now) {
        (0, 0) => Ok(None),
        (_, 0) => Ok(Some(SystemTimeSpec::Absolute(
            std::time::UNIX_EPOCH + std::time::Duration::from_nanos(time),
        ))),
        (0, _) => Ok(Some(SystemTimeSpec::SymbolicNow)),
        _ => Err(Errno::Inval),
    };
    Ok((
        one(atim, FST_ATIM, FST_ATIM_NOW)?,
        one(mtim, FST_MTIM, FST_MTIM_NOW)?,
    ))
}

/// `struct filestat` of preview1.
pub(super) struct Filestat {
    dev: u64,
    ino: u64,
    filetype: u8,
    nlink: u64,
    size: u64,
    atim: u64,
    mtim: u64,
    ctim: u64,
}

/// The preview1 file type of a std or cap-std `FileType` (two types whose
/// queries are named alike). FIFOs and sockets are `UNKNOWN`, as in
/// Wasmtime: preview1's socket types name sockets a program may use as
/// such, which these are not.
macro_rules! filetype_of {
    ($ft:expr) => {{
        #[allow(unused_imports)]
        use {cap_std::fs::FileTypeExt as _, std::os::unix::fs::FileTypeExt as _};
        let ft = $ft;
        if ft.is_dir() {
            filetype::DIRECTORY
        } else if ft.is_file() {
            filetype::REGULAR_FILE
        } else if ft.is_symlink() {
            filetype::SYMBOLIC_LINK
        } else if ft.is_block_device() {
            filetype::BLOCK_DEVICE
        } else if ft.is_char_device() {
            filetype::CHARACTER_DEVICE
        } else {
            filetype::UNKNOWN
        }
    }};
}

/// The [`Filestat`] of metadata with the Unix `stat` accessors, which std's
/// and cap-std's `MetadataExt` traits both name alike.
macro_rules! filestat_of {
    ($m:expr) => {{
        let m = $m;
        Filestat {
            dev: m.dev(),
            ino: m.ino(),
            filetype: filetype_of!(m.file_type()),
            nlink: m.nlink(),
            size: m.size(),
            atim: nanos(m.atime(), m.atime_nsec()),
            mtim: nanos(m.mtime(), m.mtime_nsec()),
            ctim: nanos(m.ctime(), m.ctime_nsec()),
        }
    }};
}

impl Filestat {
    fn of_std(m: &std::fs::Metadata) -> Filestat {
        filestat_of!(m)
    }

    pub(super) fn of_cap(m: &cap_std::fs::Metadata) -> Filestat {
        use cap_std::fs::MetadataExt as _;
        filestat_of!(m)
    }

    fn character_device() -> Filestat {
        Filestat {
            dev: 0,
            ino: 0,
            filetype: filetype::CHARACTER_DEVICE,
            nlink: 0,
            size: 0,
            atim: 0,
            mtim: 0,
            ctim: 0,
        }
    }

    pub(super) fn store(&self, mem: &Guest, ptr: u32) -> WasiResult<()> {
        let mut buf = [0u8; 64];
        buf[0..8].copy_from_slice(&self.dev.to_le_bytes());
        buf[8..16].copy_from_slice(&self.ino.to_le_bytes());
        buf[16] = self.filetype;
        buf[24..32].copy_from_slice(&self.nlink.to_le_bytes());
        buf[32..40].copy_from_slice(&self.size.to_le_bytes());
        buf[40..48].copy_from_slice(&self.atim.to_le_bytes());
        buf[48..56].copy_from_slice(&self.mtim.to_le_bytes());
        buf[56..64].copy_from_slice(&self.ctim.to_le_bytes());
        mem.write_bytes(ptr, &buf)
    }
}

/// The entries of `dir`, `.` and `..` first. Both of those carry the
/// directory's own inode, as in Wasmtime: the parent may lie outside the
/// sandbox, and its inode is none of the program's business.
fn read_listing(dir: &cap_std::fs::Dir) -> WasiResult<Vec<DirEntry>> {
    use cap_std::fs::MetadataExt as _;
    let ino = dir.dir_metadata()?.ino();
    let dot = |name: &str| DirEntry {
        name: name.to_string(),
        filetype: filetype::DIRECTORY,
        ino,
    };
    let mut entries = vec![dot("."), dot("..")];
    for entry in dir.entries()? {
        let entry = entry?;
        // A name that is not UTF-8 could not be passed back to any path
        // function: the listing fails, as in Wasmtime.
        let name = entry.file_name().into_string().map_err(|_| Errno::Ilseq)?;
        entries.push(DirEntry {
            name,
            filetype: entry
                .file_type()
                .map_or(filetype::UNKNOWN, |t| filetype_of!(t)),
            ino: std::os::unix::fs::DirEntryExt::ino(&entry),
        });
    }
    Ok(entries)
}

/// The `dirent`s of `entries` from position `cookie` on, cut at `buf_len`
/// bytes as preview1 expects (the cookie of an entry is its position + 1).
fn encode_dirents(entries: &[DirEntry], cookie: u64, buf_len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let from = usize::try_from(cookie).unwrap_or(usize::MAX);
    for (i, entry) in entries.iter().enumerate().skip(from) {
        let mut dirent = [0u8; 24];
        dirent[0..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
        dirent[8..16].copy_from_slice(&entry.ino.to_le_bytes());
        dirent[16..20].copy_from_slice(&(entry.name.len() as u32).to_le_bytes());
        dirent[20] = entry.filetype;
        out.extend_from_slice(&dirent);
        out.extend_from_slice(entry.name.as_bytes());
        if out.len() >= buf_len {
            break;
        }
    }
    out.truncate(buf_len);
    out
}

impl<'a> Call<'a> {
    // ---- descriptors -----------------------------------------------------

    pub(super) fn fd_close(&mut self, fd: u32) -> WasiResult<()> {
        self.ctx.fds.close(fd).map(drop)
    }

    pub(super) fn fd_renumber(&mut self, from: u32, to: u32) -> WasiResult<()> {
        self.ctx.fds.renumber(from, to)
    }

    pub(super) fn fd_fdstat_get(&mut self, fd: u32, stat: u32) -> WasiResult<()> {
        // Streams are character devices without the seek and tell rights:
        // that is how wasi-libc tells a terminal, so C programs line-buffer
        // stdout (Wasmtime says so only of a real terminal).
        let (filetype, flags, base, inheriting) = match self.ctx.fds.get(fd)? {
            Fd::Stdin(_) => (
                filetype::CHARACTER_DEVICE,
                0,
                rights::FD_READ,
                rights::FD_READ,
            ),
            Fd::Stdout(_) | Fd::Stderr(_) => (
                filetype::CHARACTER_DEVICE,
                0,
                rights::FD_WRITE,
                rights::FD_WRITE,
            ),
            Fd::File {
                file,
                readable,
                writable,
                fdflags,
            } => {
                let rights = rights::file(*readable, *writable);
                let filetype = filetype_of!(file.metadata()?.file_type());
                (filetype, *fdflags, rights, rights)
            }
            Fd::Dir { preopen, .. } => {
                let base = match preopen {
                    Some(_) => rights::PREOPEN,
                    None => rights::DIRECTORY,
                };
                (filetype::DIRECTORY, 0, base, rights::DIRECTORY_INHERITING)
            }
        };
        let mut buf = [0u8; 24];
        buf[0] = filetype;
        buf[2..4].copy_from_slice(&flags.to_le_bytes());
        buf[8..16].copy_from_slice(&base.to_le_bytes());
        buf[16..24].copy_from_slice(&inheriting.to_le_bytes());
        self.mem.write_bytes(stat, &buf)
    }

    /// Sets `APPEND` and `NONBLOCK` on a file; the synchronous-I/O flags
    /// are refused with `EINVAL`, and anything but a file is `EBADF`, as in
    /// Wasmtime.
    pub(super) fn fd_fdstat_set_flags(&mut self, fd: u32, flags: u32) -> WasiResult<()> {
        let wanted = checked_fdflags(flags)?;
        let Fd::File {
            file,
            writable,
            fdflags,
            ..
        } = self.ctx.fds.get(fd)?
        else {
            return Err(Errno::Badf);
        };
        if wanted & FDFLAGS_SYNCS != 0 {
            return Err(Errno::Inval);
        }
        if *writable {
            set_append(file, wanted & FDFLAG_APPEND != 0)?;
        }
        *fdflags = wanted;
        Ok(())
    }

    /// Rights are never narrowed: what a descriptor can do was decided when
    /// it was opened. `ENOTSUP`, as in Wasmtime, rather than a success
    /// that would let a program believe a right was dropped.
    pub(super) fn fd_fdstat_set_rights(
        &mut self,
        fd: u32,
        base: u64,
        inheriting: u64,
    ) -> WasiResult<()> {
        match self.ctx.fds.get(fd)? {
            Fd::File { .. } | Fd::Dir { .. } => {}
            _ => return Err(Errno::Badf),
        }
        if (base | inheriting) & !rights::ALL != 0 {
            return Err(Errno::Inval);
        }
        Err(Errno::Notsup)
    }

    pub(super) fn fd_filestat_get(&mut self, fd: u32, buf: u32) -> WasiResult<()> {
        let stat = match self.ctx.fds.get(fd)? {
            Fd::File { file, .. } => Filestat::of_std(&file.metadata()?),
            Fd::Dir { dir, .. } => Filestat::of_cap(&dir.dir_metadata()?),
            _ => Filestat::character_device(),
        };
        stat.store(&self.mem, buf)
    }

    pub(super) fn fd_filestat_set_times(
        &mut self,
        fd: u32,
        atim: u64,
        mtim: u64,
        fstflags: u32,
    ) -> WasiResult<()> {
        let (atime, mtime) = times_to_set(atim, mtim, fstflags)?;
        match self.ctx.fds.get(fd)? {
            Fd::File { file, .. } => Ok(file.set_times(atime, mtime)?),
            // cap-std holds directories as `O_PATH` descriptors, which
            // futimens refuses: the times are set through the path ".".
            Fd::Dir { dir, .. } => {
                let (atime, mtime) = for_cap_std((atime, mtime));
                Ok(cap_fs_ext::DirExt::set_times(dir, ".", atime, mtime)?)
            }
            _ => Err(Errno::Badf),
        }
    }

    pub(super) fn fd_filestat_set_size(&mut self, fd: u32, size: u64) -> WasiResult<()> {
        Ok(self.file(fd)?.set_len(size)?)
    }

    pub(super) fn fd_prestat_get(&mut self, fd: u32, buf: u32) -> WasiResult<()> {
        match self.ctx.fds.get(fd)? {
            Fd::Dir {
                preopen: Some(name),
                ..
            } => {
                let len = name.len() as u32;
                self.mem.write_u32(buf, 0)?;
                self.mem.write_u32(offset(buf, 4)?, len)
            }
            _ => Err(Errno::Badf),
        }
    }

    pub(super) fn fd_prestat_dir_name(&mut self, fd: u32, path: u32, len: u32) -> WasiResult<()> {
        let name = match self.ctx.fds.get(fd)? {
            Fd::Dir {
                preopen: Some(name),
                ..
            } => name.clone(),
            // As Wasmtime: a descriptor that is open but no preopen.
            _ => return Err(Errno::Notdir),
        };
        if (len as usize) < name.len() {
            return Err(Errno::Nametoolong);
        }
        self.mem.write_bytes(path, name.as_bytes())
    }

    pub(super) fn fd_readdir(
        &mut self,
        fd: u32,
        buf: u32,
        buf_len: u32,
        cookie: u64,
        used: u32,
    ) -> WasiResult<()> {
        let Fd::Dir { dir, listing, .. } = self.ctx.fds.get(fd)? else {
            return Err(Errno::Badf);
        };
        if cookie == 0 {
            *listing = None;
        }
        let entries = match listing {
            Some(entries) => entries,
            None => listing.insert(read_listing(dir)?),
        };
        let out = encode_dirents(entries, cookie, buf_len as usize);
        self.mem.write_bytes(buf, &out)?;
        self.mem.write_u32(used, out.len() as u32)
    }
}
