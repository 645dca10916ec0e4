//! WASI preview1 error numbers (the `errno` enum of `wasi_snapshot_preview1`).

/// An error a WASI function returns to the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Errno {
    TooBig = 1,
    Acces = 2,
    Again = 6,
    Badf = 8,
    Busy = 10,
    Exist = 20,
    Fault = 21,
    Fbig = 22,
    Ilseq = 25,
    Intr = 27,
    Inval = 28,
    Io = 29,
    Isdir = 31,
    Loop = 32,
    Mfile = 33,
    Nametoolong = 37,
    Noent = 44,
    Nomem = 48,
    Nospc = 51,
    Nosys = 52,
    Notdir = 54,
    Notempty = 55,
    Notsup = 58,
    Overflow = 61,
    Perm = 63,
    Pipe = 64,
    Rofs = 66,
    Spipe = 67,
    Xdev = 72,
    Notcapable = 73,
}

pub type WasiResult<T> = Result<T, Errno>;

impl From<std::io::Error> for Errno {
    fn from(e: std::io::Error) -> Errno {
        use std::io::ErrorKind as K;
        if let Some(code) = e.raw_os_error() {
            return from_os(code);
        }
        match e.kind() {
            K::NotFound => Errno::Noent,
            K::PermissionDenied => Errno::Perm,
            K::AlreadyExists => Errno::Exist,
            K::InvalidInput => Errno::Inval,
            K::WouldBlock => Errno::Again,
            K::BrokenPipe => Errno::Pipe,
            K::Interrupted => Errno::Intr,
            K::Unsupported => Errno::Notsup,
            K::OutOfMemory => Errno::Nomem,
            _ => Errno::Io,
        }
    }
}

/// The WASI error for a host `errno` value.
fn from_os(code: i32) -> Errno {
    match code {
        libc::E2BIG => Errno::TooBig,
        libc::EACCES => Errno::Acces,
        libc::EAGAIN => Errno::Again,
        libc::EBADF => Errno::Badf,
        libc::EBUSY => Errno::Busy,
        libc::EEXIST => Errno::Exist,
        libc::EFAULT => Errno::Fault,
        libc::EFBIG => Errno::Fbig,
        libc::EILSEQ => Errno::Ilseq,
        libc::EINTR => Errno::Intr,
        libc::EINVAL => Errno::Inval,
        libc::EISDIR => Errno::Isdir,
        libc::ELOOP => Errno::Loop,
        libc::EMFILE => Errno::Mfile,
        libc::ENAMETOOLONG => Errno::Nametoolong,
        libc::ENOENT => Errno::Noent,
        libc::ENOMEM => Errno::Nomem,
        libc::ENOSPC => Errno::Nospc,
        libc::ENOSYS => Errno::Nosys,
        libc::ENOTDIR => Errno::Notdir,
        libc::ENOTEMPTY => Errno::Notempty,
        libc::EOPNOTSUPP => Errno::Notsup,
        libc::EOVERFLOW => Errno::Overflow,
        libc::EPERM => Errno::Perm,
        libc::EPIPE => Errno::Pipe,
        libc::EROFS => Errno::Rofs,
        libc::ESPIPE => Errno::Spipe,
        libc::EXDEV => Errno::Xdev,
        _ => Errno::Io,
    }
}
