//! The WASI preview1 functions. Each is a safe method on [`Call`]; the
//! `wasi_functions!` table generates the `extern "C"` shims compiled code
//! calls and the signature each import must have, from one list.

use super::errno::{Errno, WasiResult};
use super::fd::{DirEntry, Fd};
use super::guest::{element, offset, Guest};
use super::WasiCtx;
use crate::sys::{raise, Unwind};
use crate::{Caller, FuncType, TrapKind, ValType, VmCtx};
use std::cell::RefCell;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::time::Duration;

/// Largest single read or write buffered on behalf of the guest.
const MAX_IO: usize = 16 << 20;

mod filetype {
    pub const CHARACTER_DEVICE: u8 = 2;
    pub const DIRECTORY: u8 = 3;
    pub const REGULAR_FILE: u8 = 4;
    pub const SYMBOLIC_LINK: u8 = 7;
    pub const UNKNOWN: u8 = 0;
}

const RIGHTS_ALL: u64 = (1 << 30) - 1;
const RIGHT_FD_READ: u64 = 1 << 1;
const RIGHT_FD_SEEK: u64 = 1 << 2;
const RIGHT_FD_TELL: u64 = 1 << 5;
const RIGHT_FD_WRITE: u64 = 1 << 6;
const FDFLAG_APPEND: u16 = 1;
const OFLAG_CREAT: u16 = 1;
const OFLAG_DIRECTORY: u16 = 2;
const OFLAG_EXCL: u16 = 4;
const OFLAG_TRUNC: u16 = 8;
const LOOKUP_SYMLINK_FOLLOW: u32 = 1;

/// A call in progress: the context and the caller's memory.
pub(super) struct Call<'a> {
    ctx: &'a mut WasiCtx,
    mem: Guest<'a>,
    caller: &'a Caller<'a>,
}

/// `struct filestat` of preview1.
struct Filestat {
    dev: u64,
    ino: u64,
    filetype: u8,
    nlink: u64,
    size: u64,
    atim: u64,
    mtim: u64,
    ctim: u64,
}

fn nanos(secs: i64, nsec: i64) -> u64 {
    (secs as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(nsec as u64)
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

    fn of_cap(m: &cap_std::fs::Metadata) -> Filestat {
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

    fn store(&self, mem: &Guest, ptr: u32) -> WasiResult<()> {
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

/// Writes `strings` as a NUL-terminated list: pointers at `ptrs`, bytes at
/// `buf`.
fn write_string_list(mem: &Guest, strings: &[String], ptrs: u32, buf: u32) -> WasiResult<()> {
    // `None` once the strings so far end at the very top of memory: fine
    // unless another string follows.
    let mut next = Some(buf);
    for (i, s) in strings.iter().enumerate() {
        let at = next.ok_or(Errno::Fault)?;
        mem.write_u32(element(ptrs, i as u32, 4)?, at)?;
        mem.write_bytes(at, s.as_bytes())?;
        let end = offset(at, s.len() as u32)?;
        mem.write_u8(end, 0)?;
        next = end.checked_add(1);
    }
    Ok(())
}

fn sizes_of(mem: &Guest, strings: &[String], count_ptr: u32, size_ptr: u32) -> WasiResult<()> {
    mem.write_u32(count_ptr, strings.len() as u32)?;
    let size: usize = strings.iter().map(|s| s.len() + 1).sum();
    mem.write_u32(size_ptr, size as u32)
}

fn clock_id(id: u32) -> WasiResult<libc::clockid_t> {
    Ok(match id {
        0 => libc::CLOCK_REALTIME,
        1 => libc::CLOCK_MONOTONIC,
        2 => libc::CLOCK_PROCESS_CPUTIME_ID,
        3 => libc::CLOCK_THREAD_CPUTIME_ID,
        _ => return Err(Errno::Inval),
    })
}

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

pub(super) fn clock_now(id: libc::clockid_t) -> WasiResult<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec to a valid pointer.
    if unsafe { libc::clock_gettime(id, &mut ts) } != 0 {
        return Err(Errno::Inval);
    }
    Ok(nanos(ts.tv_sec, ts.tv_nsec))
}

impl<'a> Call<'a> {
    fn file(&mut self, fd: u32) -> WasiResult<&mut std::fs::File> {
        match self.ctx.fds.get(fd)? {
            Fd::File { file, .. } => Ok(file),
            Fd::Dir { .. } => Err(Errno::Isdir),
            _ => Err(Errno::Spipe),
        }
    }

    fn dir(&mut self, fd: u32) -> WasiResult<&cap_std::fs::Dir> {
        match self.ctx.fds.get(fd)? {
            Fd::Dir { dir, .. } => Ok(dir),
            _ => Err(Errno::Notdir),
        }
    }

    fn path(&self, ptr: u32, len: u32) -> WasiResult<String> {
        self.mem.read_str(ptr, len)
    }

    // ---- arguments, environment, clocks, randomness ----------------------

    fn args_get(&mut self, argv: u32, buf: u32) -> WasiResult<()> {
        write_string_list(&self.mem, &self.ctx.args, argv, buf)
    }

    fn args_sizes_get(&mut self, count: u32, size: u32) -> WasiResult<()> {
        sizes_of(&self.mem, &self.ctx.args, count, size)
    }

    fn environ_get(&mut self, environ: u32, buf: u32) -> WasiResult<()> {
        write_string_list(&self.mem, &self.ctx.env, environ, buf)
    }

    fn environ_sizes_get(&mut self, count: u32, size: u32) -> WasiResult<()> {
        sizes_of(&self.mem, &self.ctx.env, count, size)
    }

    fn clock_res_get(&mut self, id: u32, res: u32) -> WasiResult<()> {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_getres writes one timespec to a valid pointer.
        if unsafe { libc::clock_getres(clock_id(id)?, &mut ts) } != 0 {
            return Err(Errno::Inval);
        }
        self.mem.write_u64(res, nanos(ts.tv_sec, ts.tv_nsec))
    }

    fn clock_time_get(&mut self, id: u32, _precision: u64, time: u32) -> WasiResult<()> {
        let now = clock_now(clock_id(id)?)?;
        self.mem.write_u64(time, now)
    }

    /// Fills the buffer a block at a time: its length is the guest's to
    /// choose, up to all of memory.
    fn random_get(&mut self, buf: u32, len: u32) -> WasiResult<()> {
        self.mem.check(buf, len)?;
        let mut block = [0u8; 4096];
        for start in (0..len).step_by(block.len()) {
            let n = (len - start).min(block.len() as u32) as usize;
            getrandom::fill(&mut block[..n]).map_err(|_| Errno::Io)?;
            self.mem.write_bytes(offset(buf, start)?, &block[..n])?;
        }
        Ok(())
    }

    fn sched_yield(&mut self) -> WasiResult<()> {
        std::thread::yield_now();
        Ok(())
    }

    // ---- reading and writing ---------------------------------------------

    fn fd_write(&mut self, fd: u32, iovs: u32, count: u32, written: u32) -> WasiResult<()> {
        let data = self.mem.gather(iovs, count, MAX_IO)?;
        match self.ctx.fds.get(fd)? {
            stream @ (Fd::Stdout(_) | Fd::Stderr(_)) => {
                if let Some(budget) = self.ctx.output_budget.as_mut() {
                    if (data.len() as u64) > *budget {
                        self.ctx.output_limit_hit = true;
                        return Err(Errno::Fbig);
                    }
                    *budget -= data.len() as u64;
                }
                stream.write_stream(fd, &data)?;
            }
            Fd::File { file, .. } => file.write_all(&data)?,
            Fd::Dir { .. } => return Err(Errno::Isdir),
            Fd::Stdin(_) => return Err(Errno::Badf),
        }
        self.mem.write_u32(written, data.len() as u32)
    }

    /// Reads into the guest's iovecs with `read`, which fills a host buffer
    /// as large as they are (at most `MAX_IO`), and stores the count read.
    fn read_into(
        &mut self,
        iovs: u32,
        count: u32,
        nread: u32,
        read: impl FnOnce(&mut Self, &mut [u8]) -> WasiResult<usize>,
    ) -> WasiResult<()> {
        let iovs = self.mem.iovecs(iovs, count)?;
        let total: usize = iovs.iter().map(|&(_, len)| len as usize).sum();
        let mut buf = vec![0; total.min(MAX_IO)];
        let n = read(self, &mut buf)?;
        self.mem.scatter(&iovs, &buf[..n])?;
        self.mem.write_u32(nread, n as u32)
    }

    fn fd_read(&mut self, fd: u32, iovs: u32, count: u32, read: u32) -> WasiResult<()> {
        self.read_into(iovs, count, read, |call, buf| {
            let caller = call.caller;
            Ok(match call.ctx.fds.get(fd)? {
                Fd::Stdin(input) => input.read(buf, &|| caller.interrupt_pending())?,
                Fd::File { file, .. } => file.read(buf)?,
                Fd::Dir { .. } => return Err(Errno::Isdir),
                _ => return Err(Errno::Badf),
            })
        })
    }

    fn fd_pread(
        &mut self,
        fd: u32,
        iovs: u32,
        count: u32,
        offset: u64,
        read: u32,
    ) -> WasiResult<()> {
        self.read_into(iovs, count, read, |call, buf| {
            Ok(call.file(fd)?.read_at(buf, offset)?)
        })
    }

    fn fd_pwrite(
        &mut self,
        fd: u32,
        iovs: u32,
        count: u32,
        offset: u64,
        written: u32,
    ) -> WasiResult<()> {
        let data = self.mem.gather(iovs, count, MAX_IO)?;
        self.file(fd)?.write_all_at(&data, offset)?;
        self.mem.write_u32(written, data.len() as u32)
    }

    fn fd_seek(&mut self, fd: u32, offset: u64, whence: u32, new_offset: u32) -> WasiResult<()> {
        let pos = match whence {
            0 => SeekFrom::Start(offset),
            1 => SeekFrom::Current(offset as i64),
            2 => SeekFrom::End(offset as i64),
            _ => return Err(Errno::Inval),
        };
        let at = self.file(fd)?.seek(pos)?;
        self.mem.write_u64(new_offset, at)
    }

    fn fd_tell(&mut self, fd: u32, offset: u32) -> WasiResult<()> {
        let at = self.file(fd)?.stream_position()?;
        self.mem.write_u64(offset, at)
    }

    fn fd_sync(&mut self, fd: u32) -> WasiResult<()> {
        match self.ctx.fds.get(fd)? {
            Fd::File { file, .. } => Ok(file.sync_all()?),
            Fd::Dir { .. } => Ok(()),
            _ => Err(Errno::Inval),
        }
    }

    fn fd_datasync(&mut self, fd: u32) -> WasiResult<()> {
        match self.ctx.fds.get(fd)? {
            Fd::File { file, .. } => Ok(file.sync_data()?),
            Fd::Dir { .. } => Ok(()),
            _ => Err(Errno::Inval),
        }
    }

    fn fd_advise(&mut self, fd: u32, _offset: u64, _len: u64, _advice: u32) -> WasiResult<()> {
        self.file(fd).map(|_| ())
    }

    fn fd_allocate(&mut self, fd: u32, offset: u64, len: u64) -> WasiResult<()> {
        let file = self.file(fd)?;
        let end = offset.checked_add(len).ok_or(Errno::Inval)?;
        if end > file.metadata()?.len() {
            file.set_len(end)?;
        }
        Ok(())
    }

    // ---- descriptors -----------------------------------------------------

    fn fd_close(&mut self, fd: u32) -> WasiResult<()> {
        self.ctx.fds.close(fd).map(drop)
    }

    fn fd_renumber(&mut self, from: u32, to: u32) -> WasiResult<()> {
        self.ctx.fds.renumber(from, to)
    }

    fn fd_fdstat_get(&mut self, fd: u32, stat: u32) -> WasiResult<()> {
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

    fn fd_fdstat_set_flags(&mut self, fd: u32, flags: u32) -> WasiResult<()> {
        let wanted_append = flags as u16 & FDFLAG_APPEND != 0;
        match self.ctx.fds.get(fd)? {
            Fd::File { file, append } => {
                use std::os::fd::AsRawFd;
                let raw = file.as_raw_fd();
                // SAFETY: F_GETFL/F_SETFL on a descriptor we own.
                let rc = unsafe {
                    let current = libc::fcntl(raw, libc::F_GETFL);
                    let new = if wanted_append {
                        current | libc::O_APPEND
                    } else {
                        current & !libc::O_APPEND
                    };
                    libc::fcntl(raw, libc::F_SETFL, new)
                };
                if rc != 0 {
                    return Err(std::io::Error::last_os_error().into());
                }
                *append = wanted_append;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Rights are not narrowed per descriptor; what a descriptor can do is
    /// decided by how it was opened and by its preopen.
    fn fd_fdstat_set_rights(&mut self, fd: u32, _base: u64, _inheriting: u64) -> WasiResult<()> {
        self.ctx.fds.get(fd).map(|_| ())
    }

    fn fd_filestat_get(&mut self, fd: u32, buf: u32) -> WasiResult<()> {
        let stat = match self.ctx.fds.get(fd)? {
            Fd::File { file, .. } => Filestat::of_std(&file.metadata()?),
            Fd::Dir { dir, .. } => Filestat::of_cap(&dir.dir_metadata()?),
            _ => Filestat::character_device(),
        };
        stat.store(&self.mem, buf)
    }

    fn fd_filestat_set_size(&mut self, fd: u32, size: u64) -> WasiResult<()> {
        Ok(self.file(fd)?.set_len(size)?)
    }

    fn fd_prestat_get(&mut self, fd: u32, buf: u32) -> WasiResult<()> {
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

    fn fd_prestat_dir_name(&mut self, fd: u32, path: u32, len: u32) -> WasiResult<()> {
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

    fn fd_readdir(
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

    // ---- paths -----------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn path_open(
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

    fn path_create_directory(&mut self, fd: u32, path: u32, len: u32) -> WasiResult<()> {
        let path = self.path(path, len)?;
        Ok(self.dir(fd)?.create_dir(path)?)
    }

    fn path_remove_directory(&mut self, fd: u32, path: u32, len: u32) -> WasiResult<()> {
        let path = self.path(path, len)?;
        Ok(self.dir(fd)?.remove_dir(path)?)
    }

    fn path_unlink_file(&mut self, fd: u32, path: u32, len: u32) -> WasiResult<()> {
        let path = self.path(path, len)?;
        Ok(self.dir(fd)?.remove_file(path)?)
    }

    fn path_rename(
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

    fn path_filestat_get(
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

    fn path_readlink(
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

    // ---- waiting ---------------------------------------------------------

    fn poll_oneoff(&mut self, subs: u32, events: u32, count: u32, nevents: u32) -> WasiResult<()> {
        super::poll::poll_oneoff(
            self.ctx,
            &self.mem,
            self.caller,
            subs,
            events,
            count,
            nevents,
        )
    }

    // ---- not provided ----------------------------------------------------

    fn not_supported(&mut self) -> WasiResult<()> {
        Err(Errno::Nosys)
    }
}

/// Ends the calling guest with an `Interrupted` trap if it was interrupted
/// (its time ran out) during a host call. With interruption checks it
/// would trap at its next one anyway; code compiled without them would
/// otherwise run on after a sleep or read that the timeout cut short.
fn stop_if_interrupted(caller: &Caller) {
    if caller.interrupt_pending() {
        let interrupted = Unwind::Trap {
            kind: TrapKind::Interrupted,
            pc: 0,
        };
        // SAFETY: called by a host function that compiled code called, so
        // guest code runs on this thread; the shim's frame holds nothing
        // that needs dropping.
        unsafe { raise(interrupted) }
    }
}

/// Runs `f` on a [`Call`] for the calling sandbox and turns the result into
/// the errno the guest sees.
fn dispatch(caller: &Caller, f: impl FnOnce(&mut Call) -> WasiResult<()>) -> i32 {
    let (Some(ctx), Some(memory)) = (caller.data::<RefCell<WasiCtx>>(), caller.memory()) else {
        return Errno::Nosys as i32;
    };
    let Ok(mut ctx) = ctx.try_borrow_mut() else {
        return Errno::Busy as i32;
    };
    let mut call = Call {
        ctx: &mut ctx,
        mem: Guest::new(memory),
        caller,
    };
    match f(&mut call) {
        Ok(()) => 0,
        Err(e) => e as i32,
    }
}

/// Maps the Rust parameter types of the table to wasm value types.
macro_rules! val_type {
    (u32) => {
        ValType::I32
    };
    (u64) => {
        ValType::I64
    };
}

/// Declares the WASI functions: each entry names the preview1 function, its
/// parameters (`u32` for wasm i32, `u64` for i64) and the `Call` method
/// implementing it. Every function returns an errno as i32.
macro_rules! wasi_functions {
    ($( $name:ident ( $($arg:ident : $ty:ident),* ) => $method:ident; )*) => {
        mod shims {
            use super::*;
            $(
                // Functions that only return ENOSYS ignore their arguments.
                #[allow(unused_variables)]
                pub unsafe extern "C" fn $name(vmctx: *mut VmCtx, $($arg: $ty),*) -> i32 {
                    // SAFETY: compiled code calls host functions with its own
                    // context, and `caller` does not outlive this call.
                    let caller = unsafe { Caller::from_vmctx(vmctx) };
                    let errno =
                        dispatch(&caller, |call| wasi_functions!(@call call, $method, $($arg),*));
                    stop_if_interrupted(&caller);
                    errno
                }
            )*
        }

        /// The shim implementing WASI function `name` and its signature.
        pub(super) fn function(name: &str) -> Option<(*const u8, FuncType)> {
            match name {
                $(
                    stringify!($name) => Some((
                        shims::$name as *const u8,
                        FuncType {
                            params: vec![$(val_type!($ty)),*],
                            results: vec![ValType::I32],
                        },
                    )),
                )*
                "proc_exit" => Some((
                    proc_exit as *const u8,
                    FuncType {
                        params: vec![ValType::I32],
                        results: vec![],
                    },
                )),
                _ => None,
            }
        }

        /// Names of the functions that only return `ENOSYS`.
        #[cfg(test)]
        pub(super) const UNSUPPORTED: &[&str] = &[$(
            wasi_functions!(@unsupported $name, $method)
        ),*];
    };
    (@call $call:ident, not_supported, $($arg:ident),*) => { $call.not_supported() };
    (@call $call:ident, $method:ident, $($arg:ident),*) => { $call.$method($($arg),*) };
    (@unsupported $name:ident, not_supported) => { stringify!($name) };
    (@unsupported $name:ident, $method:ident) => { "" };
}

wasi_functions! {
    args_get(argv: u32, buf: u32) => args_get;
    args_sizes_get(count: u32, size: u32) => args_sizes_get;
    environ_get(environ: u32, buf: u32) => environ_get;
    environ_sizes_get(count: u32, size: u32) => environ_sizes_get;
    clock_res_get(id: u32, res: u32) => clock_res_get;
    clock_time_get(id: u32, precision: u64, time: u32) => clock_time_get;
    random_get(buf: u32, len: u32) => random_get;
    sched_yield() => sched_yield;
    fd_write(fd: u32, iovs: u32, count: u32, written: u32) => fd_write;
    fd_read(fd: u32, iovs: u32, count: u32, read: u32) => fd_read;
    fd_pread(fd: u32, iovs: u32, count: u32, offset: u64, read: u32) => fd_pread;
    fd_pwrite(fd: u32, iovs: u32, count: u32, offset: u64, written: u32) => fd_pwrite;
    fd_seek(fd: u32, offset: u64, whence: u32, new_offset: u32) => fd_seek;
    fd_tell(fd: u32, offset: u32) => fd_tell;
    fd_sync(fd: u32) => fd_sync;
    fd_datasync(fd: u32) => fd_datasync;
    fd_advise(fd: u32, offset: u64, len: u64, advice: u32) => fd_advise;
    fd_allocate(fd: u32, offset: u64, len: u64) => fd_allocate;
    fd_close(fd: u32) => fd_close;
    fd_renumber(from: u32, to: u32) => fd_renumber;
    fd_fdstat_get(fd: u32, stat: u32) => fd_fdstat_get;
    fd_fdstat_set_flags(fd: u32, flags: u32) => fd_fdstat_set_flags;
    fd_fdstat_set_rights(fd: u32, base: u64, inheriting: u64) => fd_fdstat_set_rights;
    fd_filestat_get(fd: u32, buf: u32) => fd_filestat_get;
    fd_filestat_set_size(fd: u32, size: u64) => fd_filestat_set_size;
    fd_filestat_set_times(fd: u32, atim: u64, mtim: u64, flags: u32) => not_supported;
    fd_prestat_get(fd: u32, buf: u32) => fd_prestat_get;
    fd_prestat_dir_name(fd: u32, path: u32, len: u32) => fd_prestat_dir_name;
    fd_readdir(fd: u32, buf: u32, buf_len: u32, cookie: u64, used: u32) => fd_readdir;
    path_open(fd: u32, dirflags: u32, path: u32, path_len: u32, oflags: u32, rights: u64, inheriting: u64, fdflags: u32, opened: u32) => path_open;
    path_create_directory(fd: u32, path: u32, len: u32) => path_create_directory;
    path_remove_directory(fd: u32, path: u32, len: u32) => path_remove_directory;
    path_unlink_file(fd: u32, path: u32, len: u32) => path_unlink_file;
    path_rename(fd: u32, old: u32, old_len: u32, new_fd: u32, new: u32, new_len: u32) => path_rename;
    path_filestat_get(fd: u32, flags: u32, path: u32, len: u32, buf: u32) => path_filestat_get;
    path_filestat_set_times(fd: u32, flags: u32, path: u32, len: u32, atim: u64, mtim: u64, fst_flags: u32) => not_supported;
    path_readlink(fd: u32, path: u32, len: u32, buf: u32, buf_len: u32, used: u32) => path_readlink;
    path_link(old_fd: u32, old_flags: u32, old: u32, old_len: u32, new_fd: u32, new: u32, new_len: u32) => not_supported;
    path_symlink(old: u32, old_len: u32, fd: u32, new: u32, new_len: u32) => not_supported;
    poll_oneoff(subs: u32, events: u32, count: u32, nevents: u32) => poll_oneoff;
    proc_raise(signal: u32) => not_supported;
    sock_accept(fd: u32, flags: u32, new_fd: u32) => not_supported;
    sock_recv(fd: u32, data: u32, data_len: u32, flags: u32, len_out: u32, flags_out: u32) => not_supported;
    sock_send(fd: u32, data: u32, data_len: u32, flags: u32, len_out: u32) => not_supported;
    sock_shutdown(fd: u32, how: u32) => not_supported;
}

/// `proc_exit`: ends the sandbox with `code`. Holds no borrow and owns
/// nothing, since its frame is abandoned.
unsafe extern "C" fn proc_exit(_vmctx: *mut VmCtx, code: u32) {
    // SAFETY: called by compiled code, so guest code is running on this
    // thread, and this frame owns nothing that needs dropping.
    unsafe { raise(Unwind::Exit(code as i32)) }
}

/// Sleeps for `duration`, waking early when the sandbox is interrupted (its
/// time ran out), so that a sleeping guest cannot overrun its deadline.
pub(super) fn sleep(caller: &Caller, duration: Duration) {
    let deadline = std::time::Instant::now() + duration;
    while !caller.interrupt_pending() {
        let now = std::time::Instant::now();
        if now >= deadline {
            break;
        }
        // On a scheduler worker the sandbox parks and the worker runs others
        // meanwhile; the task's timeout wakes it at once, an interruption by
        // the embedder at the end of the slice.
        let until = now + (deadline - now).min(SLEEP_SLICE);
        if crate::sys::block_until(until) == luge_scheduler::task::Wake::TimedOut {
            break;
        }
    }
}

/// Longest stretch a sleeping sandbox goes without checking whether its
/// embedder interrupted it.
const SLEEP_SLICE: Duration = Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_has_a_preview1_signature() {
        let (_, ty) = function("fd_write").unwrap();
        assert_eq!(ty.params, vec![ValType::I32; 4]);
        let (_, ty) = function("clock_time_get").unwrap();
        assert_eq!(ty.params, vec![ValType::I32, ValType::I64, ValType::I32]);
        let (_, ty) = function("path_open").unwrap();
        assert_eq!(ty.params.len(), 9);
        let (_, ty) = function("proc_exit").unwrap();
        assert!(ty.results.is_empty());
        assert!(function("fd_frobnicate").is_none());
    }

    #[test]
    fn unsupported_functions_are_the_documented_ones() {
        let mut listed: Vec<_> = UNSUPPORTED
            .iter()
            .filter(|n| !n.is_empty())
            .copied()
            .collect();
        listed.sort();
        assert_eq!(
            listed,
            [
                "fd_filestat_set_times",
                "path_filestat_set_times",
                "path_link",
                "path_symlink",
                "proc_raise",
                "sock_accept",
                "sock_recv",
                "sock_send",
                "sock_shutdown",
            ]
        );
    }
}
