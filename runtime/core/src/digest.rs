//! Keyed digests of compiled modules, so that Luge runs only objects it
//! compiled itself.
//!
//! Every `.so` Luge writes into its cache or state directory (and every one
//! `luge compile` writes) gets an HMAC-SHA-256 beside it, in
//! `NAME.so.hmac`, keyed with a secret generated on first use and kept in
//! that directory's `digest.key` (mode 0600). The digest covers the
//! object's bytes and a label saying what the object is for (its cache
//! name, its deployment), so a file changed after Luge wrote it no longer
//! matches, and neither does another signed object put in its place with
//! its digest: both are refused before the dynamic loader sees them. The key is only as safe as the
//! account that owns it: this defends against other users and against
//! objects copied in from elsewhere, not against this user.

use crate::files;
use hmac::{KeyInit, Mac};
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The label of objects `luge compile` writes for a user, who may rename
/// and move them: they are told apart by content alone.
pub const COMPILED_LABEL: &str = "luge compile";

/// Name of the key file in a directory of signed objects.
pub const KEY_FILE: &str = "digest.key";
const KEY_LEN: usize = 32;
const DIGEST_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{path}: the digest key must be {KEY_LEN} bytes readable only by its owner (mode 0600)"
    )]
    BadKey { path: PathBuf },
    #[error("{path}: no digest beside it ({digest} is missing); Luge did not compile it here")]
    Missing { path: PathBuf, digest: PathBuf },
    #[error("{path}: its digest does not match: it changed after Luge compiled it")]
    Mismatch { path: PathBuf },
}

/// The secret that digests are keyed with.
pub struct DigestKey([u8; KEY_LEN]);

impl std::fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DigestKey(..)")
    }
}

impl DigestKey {
    /// The key of `dir` (created private if missing), generated and
    /// written on first use. A key file readable by others, or of the
    /// wrong size, is refused rather than trusted.
    pub fn open_or_create(dir: &Path) -> Result<DigestKey, DigestError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |error| DigestError::Io { path, error }
        };
        files::create_private_dir(dir).map_err(io(dir))?;
        let path = dir.join(KEY_FILE);
        match files::open_no_follow(&path) {
            Ok(file) => DigestKey::read(&path, file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => DigestKey::create(&path),
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn read(path: &Path, mut file: std::fs::File) -> Result<DigestKey, DigestError> {
        let meta = file.metadata().map_err(|error| DigestError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        let mut key = [0; KEY_LEN];
        // Ours alone: not readable by others, not another user's file, not
        // a hard link to a file elsewhere.
        let private = meta.mode() & 0o077 == 0 && files::owned_by_me(&meta) && meta.nlink() == 1;
        if !private || meta.len() != KEY_LEN as u64 {
            return Err(DigestError::BadKey {
                path: path.to_path_buf(),
            });
        }
        std::io::Read::read_exact(&mut file, &mut key).map_err(|error| DigestError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        Ok(DigestKey(key))
    }

    /// Generates a key into the new file `path`; when another process got
    /// there first, uses theirs.
    fn create(path: &Path) -> Result<DigestKey, DigestError> {
        let io = |error| DigestError::Io {
            path: path.to_path_buf(),
            error,
        };
        let mut key = [0; KEY_LEN];
        getrandom::fill(&mut key).map_err(|e| io(std::io::Error::other(e.to_string())))?;
        // Written whole under a temporary name and linked in without
        // replacing anything: a reader never sees a short key, and two
        // processes starting at once agree on one.
        let dir = files::dir_of(path);
        let mut temp = tempfile::Builder::new()
            .prefix(".luge-key-")
            .tempfile_in(dir)
            .map_err(io)?;
        temp.write_all(&key).map_err(io)?;
        temp.as_file().sync_all().map_err(io)?;
        match temp.persist_noclobber(path) {
            Ok(_) => {
                files::sync_dir(dir).map_err(io)?;
                Ok(DigestKey(key))
            }
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                let file = files::open_no_follow(path).map_err(io)?;
                DigestKey::read(path, file)
            }
            Err(e) => Err(io(e.error)),
        }
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length")
    }

    /// The MAC of an object labelled `label` whose contents are `bytes`
    /// (the label's length first, so that no label and content pair can
    /// pass for another).
    fn mac_of(&self, label: &str, bytes: &[u8]) -> HmacSha256 {
        let mut mac = self.mac();
        mac.update(&(label.len() as u64).to_le_bytes());
        mac.update(label.as_bytes());
        mac.update(bytes);
        mac
    }

    /// Writes the digest of `bytes`, the contents of the object at `path`,
    /// beside it, for the purpose `label`.
    pub fn sign(&self, path: &Path, label: &str, bytes: &[u8]) -> Result<(), DigestError> {
        let digest: [u8; DIGEST_LEN] = self.mac_of(label, bytes).finalize().into_bytes().into();
        let hex = hex(&digest) + "\n";
        let digest = digest_path(path);
        files::write_atomically(&digest, hex.as_bytes(), 0o600).map_err(|error| DigestError::Io {
            path: digest,
            error,
        })
    }

    /// Checks `bytes`, the contents of the object at `path`, against the
    /// digest beside it for the purpose `label` (compared in constant time).
    pub fn verify(&self, path: &Path, label: &str, bytes: &[u8]) -> Result<(), DigestError> {
        let digest = digest_path(path);
        let text = match files::read_no_follow(&digest) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DigestError::Missing {
                    path: path.to_path_buf(),
                    digest,
                })
            }
            Err(error) => {
                return Err(DigestError::Io {
                    path: digest,
                    error,
                })
            }
        };
        let mismatch = || DigestError::Mismatch {
            path: path.to_path_buf(),
        };
        let expected = unhex(text.trim_ascii()).ok_or_else(mismatch)?;
        self.mac_of(label, bytes)
            .verify_slice(&expected)
            .map_err(|_| mismatch())
    }
}

/// Where the digest of the object at `path` is kept: `path` + `.hmac`.
pub fn digest_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".hmac");
    PathBuf::from(name)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &[u8]) -> Option<[u8; DIGEST_LEN]> {
    let mut out = [0; DIGEST_LEN];
    if text.len() != 2 * DIGEST_LEN {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::OpenOptionsExt;

    /// Creates a key file the way an attacker might leave one, for tests.
    fn plant_key(path: &Path, bytes: &[u8], mode: u32) {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .unwrap();
        file.write_all(bytes).unwrap();
    }

    #[test]
    fn objects_changed_or_unsigned_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = DigestKey::open_or_create(dir.path()).unwrap();
        let so = dir.path().join("m.so");
        key.sign(&so, "m", b"module").unwrap();
        key.verify(&so, "m", b"module").unwrap();
        let err = key.verify(&so, "m", b"modulE").unwrap_err();
        assert!(matches!(err, DigestError::Mismatch { .. }), "{err}");
        // Signed for another purpose; label and bytes do not run together.
        let err = key.verify(&so, "n", b"module").unwrap_err();
        assert!(matches!(err, DigestError::Mismatch { .. }), "{err}");
        let err = key.verify(&so, "mm", b"odule").unwrap_err();
        assert!(matches!(err, DigestError::Mismatch { .. }), "{err}");
        let other = dir.path().join("other.so");
        let err = key.verify(&other, "m", b"module").unwrap_err();
        assert!(matches!(err, DigestError::Missing { .. }), "{err}");

        // The same key comes back, private; another directory's differs.
        let again = DigestKey::open_or_create(dir.path()).unwrap();
        again.verify(&so, "m", b"module").unwrap();
        let meta = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        let elsewhere = tempfile::tempdir().unwrap();
        let foreign = DigestKey::open_or_create(elsewhere.path()).unwrap();
        assert!(foreign.verify(&so, "m", b"module").is_err());
    }

    #[test]
    fn a_key_others_can_read_or_of_the_wrong_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        plant_key(&dir.path().join(KEY_FILE), &[7; KEY_LEN], 0o644);
        let err = DigestKey::open_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, DigestError::BadKey { .. }), "{err}");

        let dir = tempfile::tempdir().unwrap();
        plant_key(&dir.path().join(KEY_FILE), &[7; 4], 0o600);
        let err = DigestKey::open_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, DigestError::BadKey { .. }), "{err}");
    }
}
