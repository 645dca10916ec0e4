//! Files through Rust's std: every OpenOptions combination that std lets
//! through, reading, writing, seeking, sizes, times, metadata, and
//! directory listings that agree with metadata.

use std::fs::{self, File, FileTimes, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wasi_conformance::{check, errno, fails, ok, report, root};

fn open_options() {
    let dir = root();
    let path = dir.join("opts");
    // Every combination of read, write, append, truncate, create and
    // create_new, against a missing file and an existing one.
    for bits in 0..64u32 {
        let [read, write, append, truncate, create, create_new] =
            [0, 1, 2, 3, 4, 5].map(|i| bits & (1 << i) != 0);
        for exists in [false, true] {
            let _ = fs::remove_file(&path);
            if exists {
                ok!(fs::write(&path, b"before"));
            }
            let result = OpenOptions::new()
                .read(read)
                .write(write)
                .append(append)
                .truncate(truncate)
                .create(create)
                .create_new(create_new)
                .open(&path);
            let writes = write || append;
            // std's own rules (the same on every platform): access is
            // needed, creating and truncating need writing, and truncating
            // forbids appending unless the file is new anyway.
            let refused_by_std = (!read && !writes)
                || ((create || create_new) && !writes)
                || (truncate && !writes)
                || (truncate && append && !create_new);
            let what = format!(
                "read={read} write={write} append={append} truncate={truncate} \
                 create={create} create_new={create_new} exists={exists}"
            );
            if refused_by_std {
                check!(
                    matches!(&result, Err(e) if e.kind() == ErrorKind::InvalidInput),
                    "{what}: {result:?}"
                );
                continue;
            }
            match (exists, create, create_new) {
                (true, _, true) => {
                    check!(
                        matches!(&result, Err(e) if e.raw_os_error() == Some(errno::EXIST)),
                        "{what}: {result:?}"
                    );
                    continue;
                }
                (false, false, false) => {
                    check!(
                        matches!(&result, Err(e) if e.raw_os_error() == Some(errno::NOENT)),
                        "{what}: {result:?}"
                    );
                    continue;
                }
                _ => {}
            }
            let Ok(mut file) = result else {
                check!(false, "{what}: {result:?}");
                continue;
            };
            let mut text = String::new();
            check!(file.read_to_string(&mut text).is_ok() == read, "{what}: read");
            check!(file.write_all(b"!").is_ok() == writes, "{what}: write");
            drop(file);
            // Reading to the end first moves the position there.
            let expected = match (exists && !truncate, writes) {
                (true, true) if append || read => "before!",
                (true, true) => "!efore",
                (true, false) => "before",
                (false, true) => "!",
                (false, false) => "",
            };
            check!(
                fs::read_to_string(&path).ok().as_deref() == Some(expected),
                "{what}: contents {:?}, expected {expected:?}",
                fs::read_to_string(&path)
            );
        }
    }
}

fn reading_writing_seeking() {
    let path = root().join("rw");
    let mut file = ok!(File::create_new(&path));
    ok!(file.write_all(b"hello, world"));
    check!(ok!(file.stream_position()) == 12);
    check!(ok!(file.seek(SeekFrom::Start(7))) == 7);
    ok!(file.write_all(b"WASI!"));
    check!(ok!(file.seek(SeekFrom::End(-5))) == 7);
    check!(ok!(file.seek(SeekFrom::Current(-2))) == 5);
    check!(file.seek(SeekFrom::Current(-100)).is_err());
    ok!(file.set_len(5));
    check!(ok!(file.metadata()).len() == 5);
    drop(file);
    check!(ok!(fs::read_to_string(&path)) == "hello");
    let mut append = ok!(OpenOptions::new().append(true).open(&path));
    ok!(append.write_all(b" there"));
    check!(ok!(fs::read_to_string(&path)) == "hello there");
    // Reading a file opened only for writing is refused.
    let mut buf = [0u8; 4];
    fails!(append.read(&mut buf), errno::BADF);
}

fn metadata_and_times() {
    let dir = root();
    let path = dir.join("times");
    ok!(fs::write(&path, b"12345"));
    let meta = ok!(fs::metadata(&path));
    check!(meta.is_file() && meta.len() == 5);
    let file = ok!(File::options().write(true).open(&path));
    let accessed = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let modified = UNIX_EPOCH + Duration::new(1_500_000_000, 123_456_789);
    ok!(file.set_times(FileTimes::new().set_accessed(accessed).set_modified(modified)));
    let meta = ok!(fs::metadata(&path));
    check!(ok!(meta.accessed()) == accessed);
    check!(ok!(meta.modified()) == modified);
    ok!(file.set_modified(SystemTime::now()));
    check!(ok!(ok!(fs::metadata(&path)).modified()) > modified);
    check!(ok!(ok!(fs::metadata(&path)).accessed()) == accessed);
    // Directories have metadata too.
    let dmeta = ok!(fs::metadata(&dir));
    check!(dmeta.is_dir());
}

fn listings() {
    let dir = root().join("listing");
    ok!(fs::create_dir(&dir));
    let names = ["one", "two", "three", "a name with spaces", "ünïcödé"];
    for name in names {
        ok!(fs::write(dir.join(name), name));
    }
    ok!(fs::create_dir(dir.join("sub")));
    let mut seen = Vec::new();
    for entry in ok!(fs::read_dir(&dir)) {
        let entry = ok!(entry);
        let name = entry.file_name().into_string().unwrap_or_default();
        check!(ok!(fs::symlink_metadata(entry.path())).is_dir() == (name == "sub"));
        check!(ok!(entry.file_type()).is_dir() == (name == "sub"), "{name}: type");
        seen.push(name);
    }
    seen.sort();
    let mut expected: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    expected.push("sub".into());
    expected.sort();
    check!(seen == expected, "listing {seen:?}");
    // Removing entries while listing (as remove_dir_all does) loses none.
    ok!(fs::remove_dir_all(&dir));
    check!(!dir.exists());
}

fn main() {
    open_options();
    reading_writing_seeking();
    metadata_and_times();
    listings();
    report("std_files")
}
