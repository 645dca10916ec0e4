//! Reading and writing: streams and files, at their position or at an
//! offset, and seeking, syncing and growing files.

use super::Call;
use crate::errno::{Errno, WasiResult};
use crate::fd::Fd;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;

/// Largest single read or write buffered on behalf of the guest.
const MAX_IO: usize = 16 << 20;

impl<'a> Call<'a> {
    // ---- reading and writing ---------------------------------------------

    pub(super) fn fd_write(
        &mut self,
        fd: u32,
        iovs: u32,
        count: u32,
        written: u32,
    ) -> WasiResult<()> {
        let data = self.mem.gather(iovs, count, MAX_IO)?;
        match self.ctx.fds.get(fd)? {
            stream @ (Fd::Stdout(_) | Fd::Stderr(_)) => {
                if let Some(budget) = self.ctx.output_budget.as_mut() {
                    if (data.len() as u64) > *budget {
                        // A guest that ignored the error would run on to
                        // its timeout with nobody waiting for its output.
                        self.ctx.output_limit_hit = true;
                        self.caller.interrupt();
                        return Err(Errno::Fbig);
                    }
                    *budget -= data.len() as u64;
                }
                stream.write_stream(fd, &data)?;
            }
            Fd::File { file, .. } => file.write_all(&data)?,
            Fd::Dir { .. } | Fd::Stdin(_) => return Err(Errno::Badf),
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

    pub(super) fn fd_read(&mut self, fd: u32, iovs: u32, count: u32, read: u32) -> WasiResult<()> {
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

    pub(super) fn fd_pread(
        &mut self,
        fd: u32,
        iovs: u32,
        count: u32,
        offset: u64,
        read: u32,
    ) -> WasiResult<()> {
        self.read_into(iovs, count, read, |call, buf| {
            Ok(call.positioned(fd, false)?.read_at(buf, offset)?)
        })
    }

    pub(super) fn fd_pwrite(
        &mut self,
        fd: u32,
        iovs: u32,
        count: u32,
        offset: u64,
        written: u32,
    ) -> WasiResult<()> {
        let data = self.mem.gather(iovs, count, MAX_IO)?;
        self.positioned(fd, true)?.write_all_at(&data, offset)?;
        self.mem.write_u32(written, data.len() as u32)
    }

    pub(super) fn fd_seek(
        &mut self,
        fd: u32,
        offset: u64,
        whence: u32,
        new_offset: u32,
    ) -> WasiResult<()> {
        let pos = match whence {
            0 => SeekFrom::Start(offset),
            1 => SeekFrom::Current(offset as i64),
            2 => SeekFrom::End(offset as i64),
            _ => return Err(Errno::Inval),
        };
        let at = self.seekable(fd)?.seek(pos)?;
        self.mem.write_u64(new_offset, at)
    }

    pub(super) fn fd_tell(&mut self, fd: u32, offset: u32) -> WasiResult<()> {
        let at = self.seekable(fd)?.stream_position()?;
        self.mem.write_u64(offset, at)
    }

    pub(super) fn fd_sync(&mut self, fd: u32) -> WasiResult<()> {
        Ok(self.file(fd)?.sync_all()?)
    }

    pub(super) fn fd_datasync(&mut self, fd: u32) -> WasiResult<()> {
        Ok(self.file(fd)?.sync_data()?)
    }

    /// Advice is accepted and has no effect (the host's page cache decides
    /// on its own); an advice value preview1 does not define is `EINVAL`.
    pub(super) fn fd_advise(
        &mut self,
        fd: u32,
        _offset: u64,
        _len: u64,
        advice: u32,
    ) -> WasiResult<()> {
        const ADVICE_NOREUSE: u32 = 5;
        if advice > ADVICE_NOREUSE {
            return Err(Errno::Inval);
        }
        self.file(fd).map(|_| ())
    }

    /// Space is never reserved ahead: `ENOTSUP` for a file, as in Wasmtime
    /// (and as `posix_fallocate` says of a file system that cannot).
    pub(super) fn fd_allocate(&mut self, fd: u32, _offset: u64, _len: u64) -> WasiResult<()> {
        self.file(fd)?;
        Err(Errno::Notsup)
    }
}
