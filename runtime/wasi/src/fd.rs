//! The file descriptor table of a WASI sandbox.

use crate::errno::{Errno, WasiResult};
use luge_scheduler::task::{self, Wake};
use rustix::event::{PollFd, PollFlags, Timespec};
use std::cell::RefCell;
use std::io::Read;
use std::os::fd::AsFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How long a blocked read of the host's stdin waits between checks that
/// the sandbox has not been interrupted by its embedder (a task's timeout
/// wakes it at once).
pub(super) const STDIN_SLICE: Duration = Duration::from_millis(50);

/// Waits until the process's own stdin has data (or end of file), `until`
/// passes or the sandbox's task times out; parks the sandbox's task
/// meanwhile. Returns whether stdin is readable.
pub(super) fn host_stdin_ready(until: Option<Instant>) -> bool {
    task::wait_readable(std::io::stdin().as_fd(), until) == Wake::Ready
}

/// Whether the process's own stdin has data (or end of file) right now.
pub(super) fn host_stdin_readable_now() -> bool {
    let stdin = std::io::stdin();
    let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(rustix::event::poll(&mut fds, Some(&now)), Ok(n) if n > 0)
}

/// Reads the process's own stdin, unbuffered (so that readiness as `poll`
/// sees it is the whole truth), giving up with `Interrupted` when
/// `interrupted` says the sandbox must stop.
fn read_host_stdin(buf: &mut [u8], interrupted: &dyn Fn() -> bool) -> std::io::Result<usize> {
    loop {
        while !host_stdin_ready(Some(Instant::now() + STDIN_SLICE)) {
            if interrupted() {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
        }
        match rustix::io::read(std::io::stdin(), &mut *buf) {
            Ok(n) => return Ok(n),
            Err(rustix::io::Errno::INTR) => {}
            Err(error) => return Err(error.into()),
        }
    }
}

/// Where a sandbox's stdin comes from.
#[derive(Default)]
pub enum Input {
    /// The runtime process's own stdin.
    Inherit,
    /// These bytes, then end of file.
    Bytes(std::io::Cursor<Vec<u8>>),
    /// End of file at once.
    #[default]
    Null,
}

impl Input {
    pub fn bytes(data: Vec<u8>) -> Input {
        Input::Bytes(std::io::Cursor::new(data))
    }

    /// Reads into `buf`; a read that would block gives up when
    /// `interrupted` says so.
    pub(crate) fn read(
        &mut self,
        buf: &mut [u8],
        interrupted: &dyn Fn() -> bool,
    ) -> std::io::Result<usize> {
        match self {
            Input::Inherit => read_host_stdin(buf, interrupted),
            Input::Bytes(cursor) => cursor.read(buf),
            Input::Null => Ok(0),
        }
    }

    /// Bytes readable without blocking, if known.
    pub(crate) fn available(&self) -> Option<u64> {
        match self {
            Input::Inherit => None,
            Input::Bytes(c) => {
                Some(c.get_ref().len() as u64 - c.position().min(c.get_ref().len() as u64))
            }
            Input::Null => Some(0),
        }
    }
}

/// Where a sandbox's stdout or stderr goes.
#[derive(Default, Clone)]
pub enum Output {
    /// The runtime process's own stdout (for fd 1) or stderr (for fd 2).
    Inherit,
    /// Appended to a buffer the embedder keeps a handle to.
    Capture(Rc<RefCell<Vec<u8>>>),
    /// Discarded.
    #[default]
    Null,
}

impl Output {
    pub fn capture() -> (Output, Rc<RefCell<Vec<u8>>>) {
        let buf = Rc::new(RefCell::new(Vec::new()));
        (Output::Capture(buf.clone()), buf)
    }

    fn write(&self, fd: u32, data: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        match self {
            Output::Inherit if fd == 2 => std::io::stderr().write_all(data),
            Output::Inherit => {
                let mut out = std::io::stdout().lock();
                out.write_all(data)?;
                out.flush()
            }
            Output::Capture(buf) => {
                buf.borrow_mut().extend_from_slice(data);
                Ok(())
            }
            Output::Null => Ok(()),
        }
    }
}

/// An open descriptor.
pub enum Fd {
    Stdin(Input),
    Stdout(Output),
    Stderr(Output),
    File {
        file: std::fs::File,
        /// What the file was opened for, decided by `path_open` from the
        /// rights and flags it was given; `fd_fdstat_get` reports rights
        /// from these.
        readable: bool,
        writable: bool,
        /// The fdflags `APPEND` and `NONBLOCK`, as last set. `APPEND` is
        /// also the host descriptor's `O_APPEND` when the file is
        /// writable; `NONBLOCK` changes nothing for a regular file and is
        /// only reported back.
        fdflags: u16,
    },
    Dir {
        dir: cap_std::fs::Dir,
        /// The guest name of a preopened directory.
        preopen: Option<String>,
        /// The entries `fd_readdir` is going through: read when a listing
        /// starts (cookie 0), so that cookies stay valid while the program
        /// changes the directory (say, unlinking what it lists).
        listing: Option<Vec<DirEntry>>,
    },
}

/// One entry of a directory listing, as `fd_readdir` reports it.
pub struct DirEntry {
    pub name: String,
    pub filetype: u8,
    pub ino: u64,
}

impl Fd {
    /// A directory descriptor; `preopen` is its guest name if preopened.
    pub fn dir(dir: cap_std::fs::Dir, preopen: Option<String>) -> Fd {
        Fd::Dir {
            dir,
            preopen,
            listing: None,
        }
    }

    /// Writes `data` to a standard output stream.
    pub(crate) fn write_stream(&mut self, fd: u32, data: &[u8]) -> WasiResult<()> {
        match self {
            Fd::Stdout(out) | Fd::Stderr(out) => out.write(fd, data).map_err(Errno::from),
            _ => Err(Errno::Badf),
        }
    }
}

/// Descriptor number → descriptor.
pub struct FdTable {
    fds: Vec<Option<Fd>>,
}

/// Most descriptors one sandbox may hold open.
const MAX_FDS: usize = 1024;

impl FdTable {
    pub fn new(stdin: Input, stdout: Output, stderr: Output) -> FdTable {
        FdTable {
            fds: vec![
                Some(Fd::Stdin(stdin)),
                Some(Fd::Stdout(stdout)),
                Some(Fd::Stderr(stderr)),
            ],
        }
    }

    pub fn get(&mut self, fd: u32) -> WasiResult<&mut Fd> {
        self.fds
            .get_mut(fd as usize)
            .and_then(Option::as_mut)
            .ok_or(Errno::Badf)
    }

    /// Stores `fd` in the lowest free slot and returns its number.
    pub fn insert(&mut self, fd: Fd) -> u32 {
        match self.fds.iter().position(Option::is_none) {
            Some(i) => {
                self.fds[i] = Some(fd);
                i as u32
            }
            None => {
                self.fds.push(Some(fd));
                (self.fds.len() - 1) as u32
            }
        }
    }

    /// Like [`FdTable::insert`], refusing when the table is full.
    pub fn open(&mut self, fd: Fd) -> WasiResult<u32> {
        if self.fds.iter().all(Option::is_some) && self.fds.len() >= MAX_FDS {
            return Err(Errno::Mfile);
        }
        Ok(self.insert(fd))
    }

    pub fn close(&mut self, fd: u32) -> WasiResult<Fd> {
        self.fds
            .get_mut(fd as usize)
            .and_then(Option::take)
            .ok_or(Errno::Badf)
    }

    /// Moves `from` to `to`, closing whatever `to` held.
    pub fn renumber(&mut self, from: u32, to: u32) -> WasiResult<()> {
        self.get(to)?;
        let fd = self.close(from)?;
        self.fds[to as usize] = Some(fd);
        Ok(())
    }
}
