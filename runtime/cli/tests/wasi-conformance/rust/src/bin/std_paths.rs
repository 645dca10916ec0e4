//! Paths through Rust's std: directories, renames, removals, hard links,
//! symlinks (dangling, looping, leading outside the preopen) and the error
//! kinds and errnos each failure gives.

use std::fs;
use std::io::ErrorKind;
use wasi_conformance::{allocate, check, errno, fails, ok, report, root, symlink};

fn directories() {
    let dir = root();
    ok!(fs::create_dir_all(dir.join("a/b/c")));
    check!(dir.join("a/b/c").is_dir());
    fails!(fs::create_dir(dir.join("a")), ErrorKind::AlreadyExists, errno::EXIST);
    fails!(fs::remove_dir(dir.join("a")), errno::NOTEMPTY);
    ok!(fs::write(dir.join("a/file"), b"x"));
    fails!(fs::remove_dir(dir.join("a/file")), ErrorKind::NotADirectory, errno::NOTDIR);
    fails!(fs::remove_file(dir.join("a/b")), ErrorKind::IsADirectory, errno::ISDIR);
    fails!(fs::read(dir.join("a/file/x")), ErrorKind::NotADirectory, errno::NOTDIR);
    fails!(fs::read(dir.join("missing")), ErrorKind::NotFound, errno::NOENT);
    fails!(fs::create_dir(dir.join("missing/x")), ErrorKind::NotFound, errno::NOENT);
    ok!(fs::rename(dir.join("a/b"), dir.join("b")));
    check!(dir.join("b/c").is_dir());
    fails!(
        fs::rename(dir.join("a/file"), dir.join("b")),
        ErrorKind::IsADirectory,
        errno::ISDIR
    );
    ok!(fs::remove_dir_all(dir.join("a")));
    ok!(fs::remove_dir_all(dir.join("b")));
}

fn hard_links() {
    let dir = root();
    ok!(fs::write(dir.join("orig"), b"data"));
    ok!(fs::hard_link(dir.join("orig"), dir.join("second")));
    check!(ok!(fs::read(dir.join("second"))) == b"data");
    ok!(fs::write(dir.join("second"), b"changed"));
    check!(ok!(fs::read(dir.join("orig"))) == b"changed");
    fails!(
        fs::hard_link(dir.join("orig"), dir.join("second")),
        ErrorKind::AlreadyExists,
        errno::EXIST
    );
    ok!(fs::remove_file(dir.join("second")));
    check!(dir.join("orig").is_file());
}

fn symlinks() {
    let dir = root();
    ok!(fs::write(dir.join("target"), b"through the link"));
    ok!(symlink("target", &dir, "link"));
    check!(ok!(fs::read(dir.join("link"))) == b"through the link");
    check!(ok!(fs::read_link(dir.join("link"))).to_str() == Some("target"));
    check!(ok!(fs::symlink_metadata(dir.join("link"))).file_type().is_symlink());
    check!(ok!(fs::metadata(dir.join("link"))).is_file());
    // Dangling.
    ok!(symlink("nowhere", &dir, "dangling"));
    fails!(fs::read(dir.join("dangling")), ErrorKind::NotFound, errno::NOENT);
    check!(ok!(fs::symlink_metadata(dir.join("dangling"))).file_type().is_symlink());
    // Looping.
    ok!(symlink("loop2", &dir, "loop1"));
    ok!(symlink("loop1", &dir, "loop2"));
    fails!(fs::read(dir.join("loop1")), errno::LOOP);
    // Leading outside: created and readable as a link, never followed.
    ok!(symlink("../../etc/passwd", &dir, "escape"));
    check!(ok!(fs::read_link(dir.join("escape"))).to_str() == Some("../../etc/passwd"));
    fails!(fs::read(dir.join("escape")), ErrorKind::PermissionDenied, errno::PERM);
    fails!(
        symlink("/etc/passwd", &dir, "absolute"),
        ErrorKind::PermissionDenied,
        errno::PERM
    );
    fails!(
        symlink("target", &dir, "link"),
        ErrorKind::AlreadyExists,
        errno::EXIST
    );
    // Removing a link leaves its target.
    for link in ["link", "dangling", "loop1", "loop2", "escape"] {
        ok!(fs::remove_file(dir.join(link)));
    }
    check!(dir.join("target").is_file());
}

fn unsupported() {
    let dir = root();
    ok!(fs::write(dir.join("f"), b"x"));
    // fd_allocate: space is never reserved ahead.
    let file = ok!(fs::File::options().write(true).open(dir.join("f")));
    fails!(allocate(&file, 0, 100), errno::NOTSUP);
    check!(ok!(file.metadata()).len() == 1);
    // Nothing outside the preopen is reachable by name.
    fails!(fs::read(dir.join("../x")), ErrorKind::PermissionDenied, errno::PERM);
}

fn main() {
    directories();
    hard_links();
    symlinks();
    unsupported();
    report("std_paths")
}
