//! WASI preview1 error numbers (the `errno` enum of `wasi_snapshot_preview1`).

/// An error a WASI function returns to the guest: every value of
/// preview1's `errno` but success, numbered as in the witx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Errno {
    TooBig = 1,
    Acces = 2,
    Addrinuse = 3,
    Addrnotavail = 4,
    Afnosupport = 5,
    Again = 6,
    Already = 7,
    Badf = 8,
    Badmsg = 9,
    Busy = 10,
    Canceled = 11,
    Child = 12,
    Connaborted = 13,
    Connrefused = 14,
    Connreset = 15,
    Deadlk = 16,
    Destaddrreq = 17,
    Dom = 18,
    Dquot = 19,
    Exist = 20,
    Fault = 21,
    Fbig = 22,
    Hostunreach = 23,
    Idrm = 24,
    Ilseq = 25,
    Inprogress = 26,
    Intr = 27,
    Inval = 28,
    Io = 29,
    Isconn = 30,
    Isdir = 31,
    Loop = 32,
    Mfile = 33,
    Mlink = 34,
    Msgsize = 35,
    Multihop = 36,
    Nametoolong = 37,
    Netdown = 38,
    Netreset = 39,
    Netunreach = 40,
    Nfile = 41,
    Nobufs = 42,
    Nodev = 43,
    Noent = 44,
    Noexec = 45,
    Nolck = 46,
    Nolink = 47,
    Nomem = 48,
    Nomsg = 49,
    Noprotoopt = 50,
    Nospc = 51,
    Nosys = 52,
    Notconn = 53,
    Notdir = 54,
    Notempty = 55,
    Notrecoverable = 56,
    Notsock = 57,
    Notsup = 58,
    Notty = 59,
    Nxio = 60,
    Overflow = 61,
    Ownerdead = 62,
    Perm = 63,
    Pipe = 64,
    Proto = 65,
    Protonosupport = 66,
    Prototype = 67,
    Range = 68,
    Rofs = 69,
    Spipe = 70,
    Srch = 71,
    Stale = 72,
    Timedout = 73,
    Txtbsy = 74,
    Xdev = 75,
    Notcapable = 76,
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

/// The WASI error for a host `errno` value: the one of the same name, or
/// `EIO` for a host error preview1 has no name for.
fn from_os(code: i32) -> Errno {
    match code {
        libc::E2BIG => Errno::TooBig,
        libc::EACCES => Errno::Acces,
        libc::EADDRINUSE => Errno::Addrinuse,
        libc::EADDRNOTAVAIL => Errno::Addrnotavail,
        libc::EAFNOSUPPORT => Errno::Afnosupport,
        libc::EAGAIN => Errno::Again,
        libc::EALREADY => Errno::Already,
        libc::EBADF => Errno::Badf,
        libc::EBADMSG => Errno::Badmsg,
        libc::EBUSY => Errno::Busy,
        libc::ECANCELED => Errno::Canceled,
        libc::ECHILD => Errno::Child,
        libc::ECONNABORTED => Errno::Connaborted,
        libc::ECONNREFUSED => Errno::Connrefused,
        libc::ECONNRESET => Errno::Connreset,
        libc::EDEADLK => Errno::Deadlk,
        libc::EDESTADDRREQ => Errno::Destaddrreq,
        libc::EDOM => Errno::Dom,
        libc::EDQUOT => Errno::Dquot,
        libc::EEXIST => Errno::Exist,
        libc::EFAULT => Errno::Fault,
        libc::EFBIG => Errno::Fbig,
        libc::EHOSTUNREACH => Errno::Hostunreach,
        libc::EIDRM => Errno::Idrm,
        libc::EILSEQ => Errno::Ilseq,
        libc::EINPROGRESS => Errno::Inprogress,
        libc::EINTR => Errno::Intr,
        libc::EINVAL => Errno::Inval,
        libc::EIO => Errno::Io,
        libc::EISCONN => Errno::Isconn,
        libc::EISDIR => Errno::Isdir,
        libc::ELOOP => Errno::Loop,
        libc::EMFILE => Errno::Mfile,
        libc::EMLINK => Errno::Mlink,
        libc::EMSGSIZE => Errno::Msgsize,
        libc::EMULTIHOP => Errno::Multihop,
        libc::ENAMETOOLONG => Errno::Nametoolong,
        libc::ENETDOWN => Errno::Netdown,
        libc::ENETRESET => Errno::Netreset,
        libc::ENETUNREACH => Errno::Netunreach,
        libc::ENFILE => Errno::Nfile,
        libc::ENOBUFS => Errno::Nobufs,
        libc::ENODEV => Errno::Nodev,
        libc::ENOENT => Errno::Noent,
        libc::ENOEXEC => Errno::Noexec,
        libc::ENOLCK => Errno::Nolck,
        libc::ENOLINK => Errno::Nolink,
        libc::ENOMEM => Errno::Nomem,
        libc::ENOMSG => Errno::Nomsg,
        libc::ENOPROTOOPT => Errno::Noprotoopt,
        libc::ENOSPC => Errno::Nospc,
        libc::ENOSYS => Errno::Nosys,
        libc::ENOTCONN => Errno::Notconn,
        libc::ENOTDIR => Errno::Notdir,
        libc::ENOTEMPTY => Errno::Notempty,
        libc::ENOTRECOVERABLE => Errno::Notrecoverable,
        libc::ENOTSOCK => Errno::Notsock,
        libc::ENOTSUP => Errno::Notsup,
        libc::ENOTTY => Errno::Notty,
        libc::ENXIO => Errno::Nxio,
        libc::EOVERFLOW => Errno::Overflow,
        libc::EOWNERDEAD => Errno::Ownerdead,
        libc::EPERM => Errno::Perm,
        libc::EPIPE => Errno::Pipe,
        libc::EPROTO => Errno::Proto,
        libc::EPROTONOSUPPORT => Errno::Protonosupport,
        libc::EPROTOTYPE => Errno::Prototype,
        libc::ERANGE => Errno::Range,
        libc::EROFS => Errno::Rofs,
        libc::ESPIPE => Errno::Spipe,
        libc::ESRCH => Errno::Srch,
        libc::ESTALE => Errno::Stale,
        libc::ETIMEDOUT => Errno::Timedout,
        libc::ETXTBSY => Errno::Txtbsy,
        libc::EXDEV => Errno::Xdev,
        _ => Errno::Io,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers are preview1's (wasi-libc's `__WASI_ERRNO_*`); four of
    /// them were once off by three, which turned every `ESPIPE` into
    /// `EPROTOTYPE`.
    #[test]
    fn numbers_are_the_witx_ones() {
        let pinned = [
            (Errno::TooBig, 1),
            (Errno::Badf, 8),
            (Errno::Noent, 44),
            (Errno::Notsock, 57),
            (Errno::Notsup, 58),
            (Errno::Perm, 63),
            (Errno::Rofs, 69),
            (Errno::Spipe, 70),
            (Errno::Xdev, 75),
            (Errno::Notcapable, 76),
        ];
        for (errno, number) in pinned {
            assert_eq!(errno as u16, number, "{errno:?}");
        }
    }

    #[test]
    fn host_errors_map_by_name() {
        let os = |code| Errno::from(std::io::Error::from_raw_os_error(code));
        assert_eq!(os(libc::ESPIPE), Errno::Spipe);
        assert_eq!(os(libc::EROFS), Errno::Rofs);
        assert_eq!(os(libc::EXDEV), Errno::Xdev);
        assert_eq!(os(libc::ENOTSOCK), Errno::Notsock);
        assert_eq!(os(libc::EOPNOTSUPP), Errno::Notsup);
        assert_eq!(os(libc::E2BIG), Errno::TooBig);
        // No WASI name: EIO.
        assert_eq!(os(libc::EHWPOISON), Errno::Io);
    }
}
