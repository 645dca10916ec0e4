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

#[test]
fn a_constructor_never_runs() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("constructor-ran");
    // It even carries a descriptor symbol, as a module of ours does.
    let source = format!(
        r#"
        #include <fcntl.h>
        __attribute__((constructor)) static void attack(void) {{
            open("{}", O_CREAT | O_WRONLY, 0600);
        }}
        const char {}[64] = "LUGE";
        "#,
        marker.display(),
        luge_abi::DESCRIPTOR_SYMBOL
    );
    let so = shared_object(dir.path(), "ctor", &source, &[]);
    let result = Module::load(&so);
    assert!(!marker.exists(), "the constructor ran");
    let message = result.err().expect("a foreign object loads").to_string();
    assert!(
        message.contains("ctor.so: refused before loading"),
        "{message}"
    );
    assert!(matches!(refusal(&so), LoadTimeCode::Runs(_)));
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
