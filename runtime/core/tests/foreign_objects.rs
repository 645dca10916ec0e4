//! Shared objects that are not Luge modules are refused before any of
//! their code runs: `dlopen` would run their initializers, load the
//! libraries they need and call their IFUNC resolvers before the module
//! descriptor could be looked at.

use luge_runtime::{LoadError, LoadTimeCode, Module};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The C compiler for objects this process can load: `$LUGE_TEST_CC` (the
/// target's compiler when the tests run under an emulator), else `cc`.
/// Not `$LUGE_LINKER`: that may name a bare linker, which compiles nothing.
fn c_compiler() -> String {
    std::env::var("LUGE_TEST_CC").unwrap_or_else(|_| "cc".into())
}

/// Builds `source` into a shared object in `dir` with `flags`.
fn shared_object(dir: &Path, name: &str, source: &str, flags: &[&str]) -> PathBuf {
    let c = dir.join(format!("{name}.c"));
    let so = dir.join(format!("{name}.so"));
    std::fs::write(&c, source).unwrap();
    let out = Command::new(c_compiler())
        .args(["-shared", "-fPIC", "-O1"])
        .args(flags)
        .arg("-o")
        .arg(&so)
        .arg(&c)
        .output()
        .expect("run the C compiler");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    so
}

fn refusal(path: &Path) -> LoadTimeCode {
    match Module::load(path) {
        Err(LoadError::Refused { error, .. }) => error,
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("{} was loaded", path.display()),
    }
}

/// A shared object named `name` in `dir` whose constructor creates the
/// file it returns second. It needs libc, and is otherwise a Luge module
/// of no functions for this host: its descriptor and tables are valid, so
/// that only the load-time check stands between it and `dlopen`.
fn constructor_object(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let marker = dir.join(format!("{name}-constructor-ran"));
    let descriptor = luge_abi::ModuleDescriptor {
        arch: luge_abi::Arch::host(),
        tier: luge_abi::Tier::Fast,
        bounds: luge_abi::BoundsMode::Guard,
        interrupt_checks: false,
        cpu_features: Vec::new(),
        compiler: "a foreign object".into(),
        wasm_size: 0,
        types: Vec::new(),
        imports: Vec::new(),
        funcs: Vec::new(),
        tables: Vec::new(),
        memory: None,
        globals: Vec::new(),
        exports: Vec::new(),
        start: None,
        elements: Vec::new(),
        data: Vec::new(),
        code: Vec::new(),
    };
    let bytes: Vec<String> = descriptor.encode().iter().map(u8::to_string).collect();
    let source = format!(
        r#"
        #include <fcntl.h>
        __attribute__((constructor)) static void attack(void) {{
            open("{}", O_CREAT | O_WRONLY, 0600);
        }}
        const unsigned char {}[] = {{ {} }};
        const void *{}[1];
        const void *{}[1];
        "#,
        marker.display(),
        luge_abi::DESCRIPTOR_SYMBOL,
        bytes.join(", "),
        luge_abi::FUNCTIONS_SYMBOL,
        luge_abi::TRAMPOLINES_SYMBOL,
    );
    (shared_object(dir, name, &source, &[]), marker)
}

#[test]
fn a_constructor_never_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (so, marker) = constructor_object(dir.path(), "ctor");
    let result = Module::load(&so);
    assert!(!marker.exists(), "the constructor ran");
    let message = result.err().expect("a foreign object loads").to_string();
    assert!(
        message.contains("ctor.so: refused before loading"),
        "{message}"
    );
    assert!(matches!(refusal(&so), LoadTimeCode::Runs(_)));
}

/// An ELF64 program header: where it is in the file, and its type, file
/// offset and file size.
struct ProgramHeader {
    at: usize,
    kind: u32,
    offset: usize,
    file_size: usize,
}

const PT_DYNAMIC: u32 = 2;
const PT_NOTE: u32 = 4;

fn program_headers(elf: &[u8]) -> Vec<ProgramHeader> {
    let u16_at = |i: usize| u16::from_le_bytes(elf[i..i + 2].try_into().unwrap()) as usize;
    let u64_at = |i: usize| u64::from_le_bytes(elf[i..i + 8].try_into().unwrap()) as usize;
    let (table, size, count) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    (0..count)
        .map(|i| {
            let at = table + i * size;
            ProgramHeader {
                at,
                kind: u32::from_le_bytes(elf[at..at + 4].try_into().unwrap()),
                offset: u64_at(at + 8),
                file_size: u64_at(at + 32),
            }
        })
        .collect()
}

fn put_u64(elf: &mut [u8], at: usize, value: usize) {
    elf[at..at + 8].copy_from_slice(&(value as u64).to_le_bytes());
}

/// `table` (a dynamic table) without the entries that make the loader
/// run code or load libraries, ended by its DT_NULL.
fn harmless_copy(table: &[u8]) -> Vec<u8> {
    // DT_NEEDED, DT_INIT, DT_FINI, DT_INIT_ARRAY, DT_FINI_ARRAY and their
    // sizes, DT_PREINIT_ARRAY and its size.
    const RUNS: [u64; 9] = [1, 12, 13, 25, 26, 27, 28, 32, 33];
    let mut copy = Vec::new();
    for entry in table.chunks_exact(16) {
        let tag = u64::from_le_bytes(entry[..8].try_into().unwrap());
        if !RUNS.contains(&tag) {
            copy.extend_from_slice(entry);
        }
        if tag == 0 {
            break;
        }
    }
    copy
}

/// The dynamic loader reads the dynamic table at the address that the last
/// PT_DYNAMIC header gives, through the loaded segments, up to its
/// DT_NULL entry, whatever the header says of its file offset and size.
/// An object that shows the check another table, to hide its initializers
/// and the libraries it needs, is refused before its constructor runs.
#[test]
fn a_dynamic_table_other_than_the_loaders_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (so, marker) = constructor_object(dir.path(), "tables");
    let elf = std::fs::read(&so).unwrap();
    let headers = program_headers(&elf);
    let dynamic = headers.iter().find(|h| h.kind == PT_DYNAMIC).unwrap();
    let copy = harmless_copy(&elf[dynamic.offset..dynamic.offset + dynamic.file_size]);
    let mut appended = elf.clone();
    appended.resize(elf.len().next_multiple_of(16), 0);
    let copy_at = appended.len();
    appended.extend_from_slice(&copy);

    // The header's file offset and size name the copy; its address, which
    // the loader reads, still the table.
    let mut moved = appended.clone();
    put_u64(&mut moved, dynamic.at + 8, copy_at);
    put_u64(&mut moved, dynamic.at + 32, copy.len());
    // The header says the table is empty; the loader reads to DT_NULL.
    let mut empty = elf.clone();
    put_u64(&mut empty, dynamic.at + 32, 0);
    // A PT_DYNAMIC header for the copy, first in order, and the table's
    // own header moved to the place of a later note: the loader takes the
    // last one.
    let note = headers
        .iter()
        .find(|h| h.kind == PT_NOTE && h.at > dynamic.at)
        .expect("the C compiler's object has a note after its dynamic header");
    let mut two = moved.clone();
    // An ELF64 program header is 56 bytes.
    two[note.at..note.at + 56].copy_from_slice(&elf[dynamic.at..dynamic.at + 56]);

    for (name, bytes) in [("moved", moved), ("empty", empty), ("two", two)] {
        let path = dir.path().join(format!("{name}.so"));
        std::fs::write(&path, bytes).unwrap();
        let result = Module::load(&path);
        assert!(!marker.exists(), "{name}: the constructor ran");
        assert!(
            matches!(result, Err(LoadError::Refused { .. })),
            "{name}: {:?}",
            result.err()
        );
    }
}

#[test]
fn each_kind_of_load_time_code_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let nostdlib = ["-nostdlib"];
    let init = shared_object(
        dir.path(),
        "init",
        "int ran; __attribute__((constructor)) void f(void) { ran = 1; }",
        &nostdlib,
    );
    assert_eq!(
        refusal(&init),
        LoadTimeCode::Runs("initializers, DT_INIT_ARRAY")
    );
    let ifunc = shared_object(
        dir.path(),
        "ifunc",
        r#"
        static int impl(void) { return 1; }
        static void *resolve(void) { return (void *)impl; }
        int chosen(void) __attribute__((ifunc("resolve")));
        "#,
        &nostdlib,
    );
    assert!(
        matches!(refusal(&ifunc), LoadTimeCode::Runs(what) if what.contains("IFUNC") || what.contains("IRELATIVE")),
        "{}",
        refusal(&ifunc)
    );
    let needed = shared_object(
        dir.path(),
        "needed",
        "int f(void) { return 0; }",
        &["-nostdlib", "-Wl,--no-as-needed", "-lc"],
    );
    assert_eq!(
        refusal(&needed),
        LoadTimeCode::Runs("it needs another library")
    );
    // Never unloaded: the loader would hand it out for a later object of
    // the same name.
    let nodelete = shared_object(
        dir.path(),
        "nodelete",
        "int f(void) { return 0; }",
        &["-nostdlib", "-Wl,-z,nodelete"],
    );
    assert_eq!(refusal(&nodelete), LoadTimeCode::Stays("DF_1_NODELETE"));
}

/// The descriptor is the symbol the object exports under exactly its name,
/// found through the program headers as the dynamic loader finds symbols:
/// a name it begins, or one that begins with it, is not it.
#[test]
fn the_descriptor_is_found_by_its_exact_name() {
    let dir = tempfile::tempdir().unwrap();
    let name = luge_abi::DESCRIPTOR_SYMBOL;
    let short = &name[..name.len() - 1];
    let near = shared_object(
        dir.path(),
        "near",
        &format!("const char {name}_v2[64] = \"LUGEMOD\"; const char {short}[64] = \"LUGEMOD\";"),
        &[],
    );
    match luge_runtime::read_descriptor(&near) {
        Err(LoadError::MissingSymbol { symbol, .. }) => assert_eq!(symbol, name),
        other => panic!("{near:?}: {other:?}"),
    }
    let exact = shared_object(
        dir.path(),
        "exact",
        &format!("const char {name}[64] = \"NOTLUGE\";"),
        &[],
    );
    match luge_runtime::read_descriptor(&exact) {
        Err(LoadError::Descriptor { error, .. }) => {
            assert!(
                matches!(error, luge_abi::DescriptorError::BadMagic),
                "{error}"
            )
        }
        other => panic!("{exact:?}: {other:?}"),
    }
}
