//! Checked access to guest memory for WASI functions: every pointer and
//! length the guest passes is validated, and a bad one is `EFAULT`.

use super::errno::{Errno, WasiResult};
use crate::Memory;

pub struct Guest<'a> {
    memory: &'a Memory,
}

impl<'a> Guest<'a> {
    pub fn new(memory: &'a Memory) -> Self {
        Guest { memory }
    }

    pub fn read_bytes(&self, ptr: u32, len: u32) -> WasiResult<Vec<u8>> {
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

    pub fn read_u8(&self, ptr: u32) -> WasiResult<u8> {
        Ok(self.read_array::<1>(ptr)?[0])
    }

    pub fn read_u16(&self, ptr: u32) -> WasiResult<u16> {
        self.read_array(ptr).map(u16::from_le_bytes)
    }

    pub fn read_u32(&self, ptr: u32) -> WasiResult<u32> {
        self.read_array(ptr).map(u32::from_le_bytes)
    }

    pub fn read_u64(&self, ptr: u32) -> WasiResult<u64> {
        self.read_array(ptr).map(u64::from_le_bytes)
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
    /// memory.
    pub fn iovecs(&self, iovs: u32, count: u32) -> WasiResult<Vec<(u32, u32)>> {
        (0..count)
            .map(|i| {
                let at = iovs
                    .checked_add(i.checked_mul(8).ok_or(Errno::Fault)?)
                    .ok_or(Errno::Fault)?;
                let buf = self.read_u32(at)?;
                let len = self.read_u32(at.checked_add(4).ok_or(Errno::Fault)?)?;
                self.memory
                    .checked_ptr(u64::from(buf), u64::from(len))
                    .ok_or(Errno::Fault)?;
                Ok((buf, len))
            })
            .collect()
    }

    /// Gathers the bytes of an iovec array (for writes).
    pub fn gather(&self, iovs: u32, count: u32) -> WasiResult<Vec<u8>> {
        let mut out = Vec::new();
        for (buf, len) in self.iovecs(iovs, count)? {
            out.extend_from_slice(&self.read_bytes(buf, len)?);
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
