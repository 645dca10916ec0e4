//! Sockets. Preview1 cannot open one, and a sandbox inherits none, so every
//! descriptor a program can name is something else: the socket functions
//! tell a bad descriptor (`EBADF`) from one that is not a socket
//! (`ENOTSOCK`), as programs probing their descriptors expect.

use super::Call;
use crate::errno::{Errno, WasiResult};

impl<'a> Call<'a> {
    fn not_a_socket(&mut self, fd: u32) -> WasiResult<()> {
        self.ctx.fds.get(fd)?;
        Err(Errno::Notsock)
    }

    pub(super) fn sock_accept(&mut self, fd: u32, _flags: u32, _new_fd: u32) -> WasiResult<()> {
        self.not_a_socket(fd)
    }

    pub(super) fn sock_recv(
        &mut self,
        fd: u32,
        _data: u32,
        _data_len: u32,
        _flags: u32,
        _len_out: u32,
        _flags_out: u32,
    ) -> WasiResult<()> {
        self.not_a_socket(fd)
    }

    pub(super) fn sock_send(
        &mut self,
        fd: u32,
        _data: u32,
        _data_len: u32,
        _flags: u32,
        _len_out: u32,
    ) -> WasiResult<()> {
        self.not_a_socket(fd)
    }

    pub(super) fn sock_shutdown(&mut self, fd: u32, _how: u32) -> WasiResult<()> {
        self.not_a_socket(fd)
    }
}
