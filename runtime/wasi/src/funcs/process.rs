//! Arguments, environment, clocks, randomness and sleeping: what a
//! sandbox learns about its process rather than its files.

use super::Call;
use crate::clock::{clock_id, clock_now, clock_resolution};
use crate::errno::{Errno, WasiResult};
use crate::guest::{element, offset, Guest};

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

impl<'a> Call<'a> {
    // ---- arguments, environment, clocks, randomness ----------------------

    pub(super) fn args_get(&mut self, argv: u32, buf: u32) -> WasiResult<()> {
        write_string_list(&self.mem, &self.ctx.args, argv, buf)
    }

    pub(super) fn args_sizes_get(&mut self, count: u32, size: u32) -> WasiResult<()> {
        sizes_of(&self.mem, &self.ctx.args, count, size)
    }

    pub(super) fn environ_get(&mut self, environ: u32, buf: u32) -> WasiResult<()> {
        write_string_list(&self.mem, &self.ctx.env, environ, buf)
    }

    pub(super) fn environ_sizes_get(&mut self, count: u32, size: u32) -> WasiResult<()> {
        sizes_of(&self.mem, &self.ctx.env, count, size)
    }

    pub(super) fn clock_res_get(&mut self, id: u32, res: u32) -> WasiResult<()> {
        self.mem.write_u64(res, clock_resolution(clock_id(id)?))
    }

    pub(super) fn clock_time_get(&mut self, id: u32, _precision: u64, time: u32) -> WasiResult<()> {
        self.mem.write_u64(time, clock_now(clock_id(id)?))
    }

    /// Fills the buffer a block at a time: its length is the guest's to
    /// choose, up to all of memory.
    pub(super) fn random_get(&mut self, buf: u32, len: u32) -> WasiResult<()> {
        self.mem.check(buf, len)?;
        let mut block = [0u8; 4096];
        for start in (0..len).step_by(block.len()) {
            let n = (len - start).min(block.len() as u32) as usize;
            getrandom::fill(&mut block[..n]).map_err(|_| Errno::Io)?;
            self.mem.write_bytes(offset(buf, start)?, &block[..n])?;
        }
        Ok(())
    }

    pub(super) fn sched_yield(&mut self) -> WasiResult<()> {
        std::thread::yield_now();
        Ok(())
    }
}
