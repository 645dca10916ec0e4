//! The WASI preview1 functions. Each is a safe method on [`Call`]; the
//! `wasi_functions!` table generates the `extern "C"` shims compiled code
//! calls and the signature each import must have, from one list.
//!
//! The methods live with their family: `process` (arguments, environment,
//! clocks, randomness), `io` (reading and writing), `descriptors` (what a
//! descriptor is and says about itself) and `paths` (names relative to a
//! directory); this module holds the dispatch table.

use crate::errno::{Errno, WasiResult};
use crate::fd::Fd;
use crate::guest::Guest;
use crate::WasiCtx;
use luge_runtime::sys::{host_call, raise, Unwind};
use luge_runtime::{Caller, FuncType, TrapKind, ValType, VmCtx};
use std::cell::RefCell;

mod descriptors;
mod io;
mod paths;
mod process;
mod sockets;

/// A call in progress: the context and the caller's memory.
pub(super) struct Call<'a> {
    ctx: &'a mut WasiCtx,
    mem: Guest<'a>,
    caller: &'a Caller<'a>,
}

// Which errno a descriptor of the wrong kind gives follows Wasmtime:
// `EBADF` for whatever cannot do the operation at all (syncing a stream,
// resolving a path from a file), `ESPIPE` for positioned operations on a
// stream of the right direction, and `ENOTDIR` from `path_open` alone,
// for a file where a directory was needed. One exception keeps POSIX:
// reading a directory is `EISDIR` (Wasmtime: `EBADF`), what C programs
// print as "Is a directory".
impl<'a> Call<'a> {
    /// The regular file `fd` refers to.
    fn file(&mut self, fd: u32) -> WasiResult<&mut std::fs::File> {
        match self.ctx.fds.get(fd)? {
            Fd::File { file, .. } => Ok(file),
            _ => Err(Errno::Badf),
        }
    }

    /// The file `fd` refers to, for reading (`write == false`) or writing
    /// at a position: a stream of that direction has none (`ESPIPE`).
    fn positioned(&mut self, fd: u32, write: bool) -> WasiResult<&mut std::fs::File> {
        match (self.ctx.fds.get(fd)?, write) {
            (Fd::File { file, .. }, _) => Ok(file),
            (Fd::Stdin(_), false) | (Fd::Stdout(_) | Fd::Stderr(_), true) => Err(Errno::Spipe),
            (Fd::Dir { .. }, false) => Err(Errno::Isdir),
            _ => Err(Errno::Badf),
        }
    }

    /// The file `fd` refers to, for seeking: streams have no position.
    fn seekable(&mut self, fd: u32) -> WasiResult<&mut std::fs::File> {
        match self.ctx.fds.get(fd)? {
            Fd::File { file, .. } => Ok(file),
            Fd::Dir { .. } => Err(Errno::Badf),
            _ => Err(Errno::Spipe),
        }
    }

    /// The directory `fd` refers to, for resolving a path.
    fn dir(&mut self, fd: u32) -> WasiResult<&cap_std::fs::Dir> {
        match self.ctx.fds.get(fd)? {
            Fd::Dir { dir, .. } => Ok(dir),
            _ => Err(Errno::Badf),
        }
    }

    /// The directories of a call with two paths (`path_rename`,
    /// `path_link`): its own handle on the second (the two may be the same
    /// descriptor), and the first.
    fn dir_pair(
        &mut self,
        fd: u32,
        second: u32,
    ) -> WasiResult<(cap_std::fs::Dir, &cap_std::fs::Dir)> {
        let second = self.dir(second)?.try_clone()?;
        Ok((second, self.dir(fd)?))
    }

    /// The directory `fd` refers to, for `path_open`.
    fn dir_to_open_in(&mut self, fd: u32) -> WasiResult<&cap_std::fs::Dir> {
        match self.ctx.fds.get(fd)? {
            Fd::Dir { dir, .. } => Ok(dir),
            Fd::File { .. } => Err(Errno::Notdir),
            _ => Err(Errno::Badf),
        }
    }

    fn path(&self, ptr: u32, len: u32) -> WasiResult<String> {
        self.mem.read_str(ptr, len)
    }

    // ---- waiting ---------------------------------------------------------

    fn poll_oneoff(&mut self, subs: u32, events: u32, count: u32, nevents: u32) -> WasiResult<()> {
        crate::poll::poll_oneoff(
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

    /// A sandbox has no signals to raise (as in Wasmtime).
    fn proc_raise(&mut self, _signal: u32) -> WasiResult<()> {
        Err(Errno::Notsup)
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
pub(crate) fn dispatch(caller: &Caller, f: impl FnOnce(&mut Call) -> WasiResult<()>) -> i32 {
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
                pub unsafe extern "C" fn $name(vmctx: *mut VmCtx, $($arg: $ty),*) -> i32 {
                    // SAFETY: compiled code calls host functions with its own
                    // context, and `caller` does not outlive this call.
                    let caller = unsafe { Caller::from_vmctx(vmctx) };
                    // SAFETY: compiled code called this shim, whose frame
                    // holds only `caller`, which owns nothing.
                    let errno = unsafe {
                        host_call(|| {
                            dispatch(&caller, |call| call.$method($($arg),*))
                        })
                    };
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
    };
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
    fd_filestat_set_times(fd: u32, atim: u64, mtim: u64, flags: u32) => fd_filestat_set_times;
    fd_prestat_get(fd: u32, buf: u32) => fd_prestat_get;
    fd_prestat_dir_name(fd: u32, path: u32, len: u32) => fd_prestat_dir_name;
    fd_readdir(fd: u32, buf: u32, buf_len: u32, cookie: u64, used: u32) => fd_readdir;
    path_open(fd: u32, dirflags: u32, path: u32, path_len: u32, oflags: u32, rights: u64, inheriting: u64, fdflags: u32, opened: u32) => path_open;
    path_create_directory(fd: u32, path: u32, len: u32) => path_create_directory;
    path_remove_directory(fd: u32, path: u32, len: u32) => path_remove_directory;
    path_unlink_file(fd: u32, path: u32, len: u32) => path_unlink_file;
    path_rename(fd: u32, old: u32, old_len: u32, new_fd: u32, new: u32, new_len: u32) => path_rename;
    path_filestat_get(fd: u32, flags: u32, path: u32, len: u32, buf: u32) => path_filestat_get;
    path_filestat_set_times(fd: u32, flags: u32, path: u32, len: u32, atim: u64, mtim: u64, fst_flags: u32) => path_filestat_set_times;
    path_readlink(fd: u32, path: u32, len: u32, buf: u32, buf_len: u32, used: u32) => path_readlink;
    path_link(old_fd: u32, old_flags: u32, old: u32, old_len: u32, new_fd: u32, new: u32, new_len: u32) => path_link;
    path_symlink(old: u32, old_len: u32, fd: u32, new: u32, new_len: u32) => path_symlink;
    poll_oneoff(subs: u32, events: u32, count: u32, nevents: u32) => poll_oneoff;
    proc_raise(signal: u32) => proc_raise;
    sock_accept(fd: u32, flags: u32, new_fd: u32) => sock_accept;
    sock_recv(fd: u32, data: u32, data_len: u32, flags: u32, len_out: u32, flags_out: u32) => sock_recv;
    sock_send(fd: u32, data: u32, data_len: u32, flags: u32, len_out: u32) => sock_send;
    sock_shutdown(fd: u32, how: u32) => sock_shutdown;
}

/// `proc_exit`: ends the sandbox with `code`. Holds no borrow and owns
/// nothing, since its frame is abandoned.
unsafe extern "C" fn proc_exit(_vmctx: *mut VmCtx, code: u32) {
    // SAFETY: called by compiled code, so guest code is running on this
    // thread, and this frame owns nothing that needs dropping.
    unsafe { raise(Unwind::Exit(code as i32)) }
}

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

    /// Every function of `wasi_snapshot_preview1`, as the witx lists
    /// them, links.
    #[test]
    fn every_preview1_function_is_provided() {
        const PREVIEW1: [&str; 46] = [
            "args_get",
            "args_sizes_get",
            "environ_get",
            "environ_sizes_get",
            "clock_res_get",
            "clock_time_get",
            "fd_advise",
            "fd_allocate",
            "fd_close",
            "fd_datasync",
            "fd_fdstat_get",
            "fd_fdstat_set_flags",
            "fd_fdstat_set_rights",
            "fd_filestat_get",
            "fd_filestat_set_size",
            "fd_filestat_set_times",
            "fd_pread",
            "fd_prestat_get",
            "fd_prestat_dir_name",
            "fd_pwrite",
            "fd_read",
            "fd_readdir",
            "fd_renumber",
            "fd_seek",
            "fd_sync",
            "fd_tell",
            "fd_write",
            "path_create_directory",
            "path_filestat_get",
            "path_filestat_set_times",
            "path_link",
            "path_open",
            "path_readlink",
            "path_remove_directory",
            "path_rename",
            "path_symlink",
            "path_unlink_file",
            "poll_oneoff",
            "proc_exit",
            "proc_raise",
            "sched_yield",
            "random_get",
            "sock_accept",
            "sock_recv",
            "sock_send",
            "sock_shutdown",
        ];
        for name in PREVIEW1 {
            assert!(function(name).is_some(), "{name} does not link");
        }
    }
}
