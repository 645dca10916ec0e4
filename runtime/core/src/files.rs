//! The files Luge keeps for itself (compiled modules, their digests, the
//! digest key, deployments): directories only their owner can enter,
//! files read without following a symbolic link, and writes that a crash
//! leaves either whole or absent.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` and its missing parents with mode 0700, or checks an
/// existing one: it must be a directory, not a symbolic link to one, and
/// belong to this user (a directory another user made, say under a shared
/// /tmp, could be filled by them, and a link could point anywhere); it is
/// made private if it was not.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    let refuse = |why: String| {
        let message = format!(
            "{} {why}; Luge keeps code it will run only in directories of its own",
            dir.display()
        );
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            message,
        ))
    };
    if !meta.is_dir() {
        return refuse("is a symbolic link, not a directory".into());
    }
    if !owned_by_me(&meta) {
        return refuse(format!("belongs to user {}, not to this one", meta.uid()));
    }
    if meta.mode() & 0o077 != 0 {
        // `dir` is no link (checked above), so this changes it alone.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Whether the file `meta` describes belongs to the user this process
/// runs as.
pub fn owned_by_me(meta: &std::fs::Metadata) -> bool {
    meta.uid() == rustix::process::geteuid().as_raw()
}

/// Opens `path` for reading, refusing a symbolic link in its last
/// component (`ELOOP`): a link planted in Luge's directory must not make it
/// read a file from elsewhere. Anything but a regular file is refused too
/// (`InvalidInput`), without waiting: opening a pipe blocks until a writer
/// comes, which `O_NONBLOCK` (no effect on regular files) prevents.
pub fn open_no_follow(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

/// The contents of `path`, read as [`open_no_follow`] opens it.
pub fn read_no_follow(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open_no_follow(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The directory `path` is in: its parent, or `.` for a bare file name
/// (whose parent `Path::parent` gives as the empty path, which no system
/// call accepts as a directory).
pub fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `path` with `mode` so that a crash leaves the old
/// file or the new one, never a mix: written and synced under a temporary
/// name, then renamed over `path`, and the directory synced.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = dir_of(path);
    let mut temp = tempfile::Builder::new()
        .prefix(".luge-")
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Makes the renames and creations in `dir` durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_file_name_is_in_the_working_directory() {
        assert_eq!(dir_of(Path::new("out.so")), Path::new("."));
        assert_eq!(dir_of(Path::new("a/out.so")), Path::new("a"));
        assert_eq!(dir_of(Path::new("/out.so")), Path::new("/"));
    }

    /// A pipe planted where Luge keeps a file is neither waited on nor
    /// read: opening one blocks until a writer comes, and a server
    /// restoring its deployments at start would never start.
    #[test]
    fn a_planted_pipe_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("module.so.hmac");
        let mode = rustix::fs::Mode::from_raw_mode(0o600);
        rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, mode, 0).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(read_no_follow(&fifo).map_err(|e| e.kind())));
        let read = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("opening the pipe blocked");
        assert_eq!(read, Err(std::io::ErrorKind::InvalidInput));
    }

    #[test]
    fn private_dirs_are_made_private_and_links_are_not_followed() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        create_private_dir(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);

        write_atomically(&dir.join("f"), b"one", 0o600).unwrap();
        write_atomically(&dir.join("f"), b"two", 0o600).unwrap();
        assert_eq!(read_no_follow(&dir.join("f")).unwrap(), b"two");
        assert_eq!(mode(&dir.join("f")), 0o600);
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary left"
        );

        std::os::unix::fs::symlink(dir.join("f"), dir.join("link")).unwrap();
        let err = read_no_follow(&dir.join("link")).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP));

        // A link planted where the directory should be is not followed,
        // nor its target made private.
        let elsewhere = root.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o755)).unwrap();
        let planted = root.path().join("planted");
        std::os::unix::fs::symlink(&elsewhere, &planted).unwrap();
        let err = create_private_dir(&planted).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(mode(&elsewhere), 0o755);
    }
}
