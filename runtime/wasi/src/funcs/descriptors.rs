//! Descriptors: closing and renumbering them, their status and flags, the
//! metadata of what they refer to, preopens and directory listings.

use super::Call;
use crate::clock::nanos;
use crate::errno::{Errno, WasiResult};
use crate::fd::{DirEntry, Fd};
use crate::guest::{offset, Guest};
use std::os::unix::fs::MetadataExt;

mod filetype {
    pub const CHARACTER_DEVICE: u8 = 2;
    pub const DIRECTORY: u8 = 3;
    pub const REGULAR_FILE: u8 = 4;
    pub const SYMBOLIC_LINK: u8 = 7;
    pub const UNKNOWN: u8 = 0;
}

const RIGHTS_ALL: u64 = (1 << 30) - 1;
const RIGHT_FD_SEEK: u64 = 1 << 2;
const RIGHT_FD_TELL: u64 = 1 << 5;
pub(super) const FDFLAG_APPEND: u16 = 1;

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
/// queries are named alike).
macro_rules! filetype_of {
    ($ft:expr) => {{
        let ft = $ft;
        if ft.is_dir() {
            filetype::DIRECTORY
        } else if ft.is_file() {
            filetype::REGULAR_FILE
        } else if ft.is_symlink() {
            filetype::SYMBOLIC_LINK
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
            nlink: 1,
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

/// The entries of `dir`, `.` and `..` first.
fn read_listing(dir: &cap_std::fs::Dir) -> WasiResult<Vec<DirEntry>> {
    let dot = |name: &str| DirEntry {
        name: name.to_string(),
        filetype: filetype::DIRECTORY,
        ino: 0,
    };
    let mut entries = vec![dot("."), dot("..")];
    for entry in dir.entries()? {
        let entry = entry?;
        entries.push(DirEntry {
            name: entry.file_name().to_string_lossy().into_owned(),
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
        let (filetype, flags, rights) = match self.ctx.fds.get(fd)? {
            // Streams cannot seek: that is also how wasi-libc tells a tty.
            Fd::Stdin(_) | Fd::Stdout(_) | Fd::Stderr(_) => (
                filetype::CHARACTER_DEVICE,
                0,
                RIGHTS_ALL & !(RIGHT_FD_SEEK | RIGHT_FD_TELL),
            ),
            Fd::File { append, .. } => (
                filetype::REGULAR_FILE,
                if *append { FDFLAG_APPEND } else { 0 },
                RIGHTS_ALL,
            ),
            Fd::Dir { .. } => (filetype::DIRECTORY, 0, RIGHTS_ALL),
        };
        let mut buf = [0u8; 24];
        buf[0] = filetype;
        buf[2..4].copy_from_slice(&flags.to_le_bytes());
        buf[8..16].copy_from_slice(&rights.to_le_bytes());
        buf[16..24].copy_from_slice(&RIGHTS_ALL.to_le_bytes());
        self.mem.write_bytes(stat, &buf)
    }

    pub(super) fn fd_fdstat_set_flags(&mut self, fd: u32, flags: u32) -> WasiResult<()> {
        let wanted_append = flags as u16 & FDFLAG_APPEND != 0;
        match self.ctx.fds.get(fd)? {
            Fd::File { file, append } => {
                use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
                let mut flags = fcntl_getfl(&*file).map_err(std::io::Error::from)?;
                flags.set(OFlags::APPEND, wanted_append);
                fcntl_setfl(&*file, flags).map_err(std::io::Error::from)?;
                *append = wanted_append;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Rights are not narrowed per descriptor; what a descriptor can do is
    /// decided by how it was opened and by its preopen.
    pub(super) fn fd_fdstat_set_rights(
        &mut self,
        fd: u32,
        _base: u64,
        _inheriting: u64,
    ) -> WasiResult<()> {
        self.ctx.fds.get(fd).map(|_| ())
    }

    pub(super) fn fd_filestat_get(&mut self, fd: u32, buf: u32) -> WasiResult<()> {
        let stat = match self.ctx.fds.get(fd)? {
            Fd::File { file, .. } => Filestat::of_std(&file.metadata()?),
            Fd::Dir { dir, .. } => Filestat::of_cap(&dir.dir_metadata()?),
            _ => Filestat::character_device(),
        };
        stat.store(&self.mem, buf)
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
            _ => return Err(Errno::Badf),
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
            return Err(Errno::Notdir);
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
