//! Checked access to guest memory for WASI functions: every pointer and
//! length the guest passes is validated, and a bad one is `EFAULT`.

use crate::errno::{Errno, WasiResult};
use luge_runtime::Memory;

/// Most iovecs one read or write may pass, as `IOV_MAX` on Linux.
const MAX_IOVECS: u32 = 1024;

/// The guest address `offset` bytes past `base`; `EFAULT` past 4 GiB.
pub fn offset(base: u32, offset: u32) -> WasiResult<u32> {
    base.checked_add(offset).ok_or(Errno::Fault)
}

/// The guest address of record `index` of an array of `size`-byte records
/// at `base`; `EFAULT` past 4 GiB.
pub fn element(base: u32, index: u32, size: u32) -> WasiResult<u32> {
    offset(base, index.checked_mul(size).ok_or(Errno::Fault)?)
}

pub struct Guest<'a> {
    memory: &'a Memory,
}

impl<'a> Guest<'a> {
    pub fn new(memory: &'a Memory) -> Self {
        Guest { memory }
    }

    /// `EFAULT` unless `len` bytes at `ptr` lie in memory.
    pub fn check(&self, ptr: u32, len: u32) -> WasiResult<()> {
        self.memory
            .checked_ptr(u64::from(ptr), u64::from(len))
            .map(drop)
            .ok_or(Errno::Fault)
    }

    pub fn read_bytes(&self, ptr: u32, len: u32) -> WasiResult<Vec<u8>> {
        // Checked before allocating, so a bogus length costs nothing.
        self.check(ptr, len)?;
        let mut buf = vec![0; len as usize];
        self.memory
            .read(u64::from(ptr), &mut buf)
            .ok_or(Errno::Fault)?;
        Ok(buf)
    }

    pub fn write_bytes(&self, ptr: u32, data: &[u8]) -> WasiResult<()> {
        self.memory.write(u64::from(ptr), data).ok_or(Errno::Fault)
    }

    fn read_array<const N: usize>(&self, ptr: u32) -> WasiResult<[u8; N]> {
        let mut buf = [0; N];
        self.memory
            .read(u64::from(ptr), &mut buf)
            .ok_or(Errno::Fault)?;
        Ok(buf)
    }

    pub fn read_u32(&self, ptr: u32) -> WasiResult<u32> {
        self.read_array(ptr).map(u32::from_le_bytes)
    }

    pub fn write_u8(&self, ptr: u32, v: u8) -> WasiResult<()> {
        self.write_bytes(ptr, &[v])
    }

    pub fn write_u32(&self, ptr: u32, v: u32) -> WasiResult<()> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    pub fn write_u64(&self, ptr: u32, v: u64) -> WasiResult<()> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    /// A guest string, which must be UTF-8.
    pub fn read_str(&self, ptr: u32, len: u32) -> WasiResult<String> {
        String::from_utf8(self.read_bytes(ptr, len)?).map_err(|_| Errno::Ilseq)
    }

    /// The `(buf, len)` pairs of an iovec array, each checked to lie in
    /// memory; more than [`MAX_IOVECS`] is `EINVAL`.
    pub fn iovecs(&self, iovs: u32, count: u32) -> WasiResult<Vec<(u32, u32)>> {
        if count > MAX_IOVECS {
            return Err(Errno::Inval);
        }
        (0..count)
            .map(|i| {
                let at = element(iovs, i, 8)?;
                let buf = self.read_u32(at)?;
                let len = self.read_u32(offset(at, 4)?)?;
                self.check(buf, len)?;
                Ok((buf, len))
            })
            .collect()
    }

    /// Gathers the bytes of an iovec array (for writes), at most `limit` of
    /// them: iovecs may all name the same memory, so their total is not
    /// bounded by its size, and a write may be short.
    pub fn gather(&self, iovs: u32, count: u32, limit: usize) -> WasiResult<Vec<u8>> {
        let mut out = Vec::new();
        for (buf, len) in self.iovecs(iovs, count)? {
            let take = (len as usize).min(limit - out.len());
            out.extend_from_slice(&self.read_bytes(buf, take as u32)?);
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    /// Scatters `data` over an iovec array (for reads); returns how many
    /// bytes were placed.
    pub fn scatter(&self, iovs: &[(u32, u32)], data: &[u8]) -> WasiResult<usize> {
        let mut done = 0;
        for &(buf, len) in iovs {
            let n = (len as usize).min(data.len() - done);
            self.write_bytes(buf, &data[done..done + n])?;
            done += n;
            if done == data.len() {
                break;
            }
        }
        Ok(done)
    }
}
