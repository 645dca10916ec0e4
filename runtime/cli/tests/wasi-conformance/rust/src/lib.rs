//! The checking half of the Rust conformance programs: each takes the guest
//! name of its (fresh, empty) preopened directory as its only argument,
//! checks what Rust's std does through WASI, prints one line per failed
//! check and exits 1 if any failed.

use std::cell::Cell;
use std::path::PathBuf;

thread_local! {
    static CHECKS: Cell<u32> = const { Cell::new(0) };
    static FAILURES: Cell<u32> = const { Cell::new(0) };
}

/// Records one check.
pub fn check(ok: bool, line: u32, what: &str) {
    CHECKS.with(|c| c.set(c.get() + 1));
    if !ok {
        FAILURES.with(|f| f.set(f.get() + 1));
        println!("FAIL line {line}: {what}");
    }
}

/// `check!(condition)` or `check!(condition, "format", args)`.
#[macro_export]
macro_rules! check {
    ($cond:expr) => {
        $crate::check($cond, line!(), stringify!($cond))
    };
    ($cond:expr, $($fmt:tt)+) => {
        $crate::check($cond, line!(), &format!($($fmt)+))
    };
}

/// `ok!(result)`: the result is `Ok`; its value. An error ends the program
/// (what follows depends on the value).
#[macro_export]
macro_rules! ok {
    ($result:expr) => {
        match $result {
            Ok(value) => {
                $crate::check(true, line!(), "");
                value
            }
            Err(error) => {
                $crate::check(false, line!(), &format!("{} failed: {error}", stringify!($result)));
                $crate::report(env!("CARGO_BIN_NAME"))
            }
        }
    };
}

/// `fails!(result, errno)`: the result is an error with that WASI errno as
/// its OS error; `fails!(result, ErrorKind::X, errno)` checks its kind too.
#[macro_export]
macro_rules! fails {
    ($result:expr, $errno:expr) => {
        match $result {
            Ok(_) => $crate::check(false, line!(), &format!("{} succeeded", stringify!($result))),
            Err(error) => $crate::check(
                error.raw_os_error() == Some($errno),
                line!(),
                &format!(
                    "{} gave errno {:?}, expected {}",
                    stringify!($result),
                    error.raw_os_error(),
                    $errno
                ),
            ),
        }
    };
    ($result:expr, $kind:expr, $errno:expr) => {
        match $result {
            Ok(_) => $crate::check(false, line!(), &format!("{} succeeded", stringify!($result))),
            Err(error) => $crate::check(
                error.kind() == $kind && error.raw_os_error() == Some($errno),
                line!(),
                &format!(
                    "{} gave {:?} (errno {:?}), expected {:?} (errno {})",
                    stringify!($result),
                    error.kind(),
                    error.raw_os_error(),
                    $kind,
                    $errno
                ),
            ),
        }
    };
}

/// The directory the program works in (its first argument).
pub fn root() -> PathBuf {
    PathBuf::from(std::env::args().nth(1).expect("usage: PROGRAM GUEST-DIR"))
}

/// Prints the summary and exits 0 when every check held.
pub fn report(program: &str) -> ! {
    let (checks, failures) = (CHECKS.with(Cell::get), FAILURES.with(Cell::get));
    println!("{program}: {checks} checks, {failures} failed");
    std::process::exit(i32::from(failures != 0))
}

/// WASI errno values (witx numbering), as `raw_os_error` gives them.
pub mod errno {
    pub const BADF: i32 = 8;
    pub const EXIST: i32 = 20;
    pub const INVAL: i32 = 28;
    pub const ISDIR: i32 = 31;
    pub const LOOP: i32 = 32;
    pub const NOENT: i32 = 44;
    pub const NOTDIR: i32 = 54;
    pub const NOTEMPTY: i32 = 55;
    pub const NOTSUP: i32 = 58;
    pub const PERM: i32 = 63;
}

/// The two WASI calls std offers only behind unstable features, called
/// directly.
mod raw {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    extern "C" {
        pub fn path_symlink(
            old: *const u8,
            old_len: usize,
            fd: u32,
            new: *const u8,
            new_len: usize,
        ) -> u16;
        pub fn fd_allocate(fd: u32, offset: u64, len: u64) -> u16;
    }
}

fn result(errno: u16) -> std::io::Result<()> {
    match errno {
        0 => Ok(()),
        e => Err(std::io::Error::from_raw_os_error(i32::from(e))),
    }
}

/// Creates the symlink `name` in the directory `dir`, holding `target`.
pub fn symlink(target: &str, dir: &std::path::Path, name: &str) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let dir = std::fs::File::open(dir)?;
    // SAFETY: both pointers and lengths describe live strings, and the
    // descriptor is open for the duration of the call.
    result(unsafe {
        raw::path_symlink(
            target.as_ptr(),
            target.len(),
            dir.as_raw_fd() as u32,
            name.as_ptr(),
            name.len(),
        )
    })
}

/// `fd_allocate` on an open file.
pub fn allocate(file: &std::fs::File, offset: u64, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: the call only names the descriptor, which `file` keeps open.
    result(unsafe { raw::fd_allocate(file.as_raw_fd() as u32, offset, len) })
}
