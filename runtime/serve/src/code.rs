//! A function's module as clients send it: a `.wasm`, or, for OpenWhisk
//! actions, a zip holding one (what `wsk action create NAME action.zip`
//! sends). Anything else is refused with a reason that names what came
//! instead, so that a native build or a wrong target is told apart from a
//! damaged upload.

use awsm_compiler::MAX_WASM_SIZE;
use std::io::Read;

const WASM_MAGIC: &[u8] = b"\0asm";
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const ELF_MAGIC: &[u8] = b"\x7fELF";

/// The module of an OpenWhisk action's `code` (called `what` in reasons):
/// the code itself, or the module in the zip it is (see [`module_in_zip`]
/// for which entry `main` picks).
pub fn action_module(code: Vec<u8>, main: &str, what: &str) -> Result<Vec<u8>, String> {
    if code.starts_with(ZIP_MAGIC) {
        module_in_zip(&code, main, MAX_WASM_SIZE)
    } else {
        wasm_module(code, what)
    }
}

/// `bytes` (called `what` in reasons) if they are a WebAssembly module;
/// else why not, naming what they are.
pub fn wasm_module(bytes: Vec<u8>, what: &str) -> Result<Vec<u8>, String> {
    if bytes.starts_with(WASM_MAGIC) {
        return Ok(bytes);
    }
    Err(if bytes.starts_with(ELF_MAGIC) {
        format!(
            "{what} is a native ELF file, not WebAssembly: send the .wasm, which Luge \
             compiles itself (the .so of `luge compile` is for `luge run` and the config \
             file's routes)"
        )
    } else if bytes.starts_with(ZIP_MAGIC) {
        format!("{what} is a zip: send the .wasm itself")
    } else {
        format!(
            "{what} is not a WebAssembly module (it does not start with \\0asm): build the \
             function for wasm32-wasip1 and send the .wasm"
        )
    })
}

/// The module in the zip `bytes`: the entry `exec` (what OpenWhisk's
/// native actions call their binary), else `MAIN.wasm`, else the zip's one
/// `.wasm`. At most `limit` bytes are unpacked, whatever the zip claims.
fn module_in_zip(bytes: &[u8], main: &str, limit: usize) -> Result<Vec<u8>, String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("the code is not a readable zip: {e}"))?;
    // Names that are not text cannot be the module's.
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|name| name.ok().map(|n| n.into_owned()))
        .collect();
    let wasm_names: Vec<&String> = names.iter().filter(|n| n.ends_with(".wasm")).collect();
    let wanted = format!("{main}.wasm");
    let name = if names.iter().any(|n| n == "exec") {
        "exec"
    } else if names.contains(&wanted) {
        &wanted
    } else if let [only] = wasm_names.as_slice() {
        only.as_str()
    } else {
        return Err(format!(
            "the zip holds no module to run: name it `exec` or `{wanted}`, or put one .wasm \
             file in it ({} found)",
            wasm_names.len()
        ));
    };
    let entry = zip
        .by_name(name)
        .map_err(|e| format!("{name} in the zip: {e}"))?;
    let mut wasm = Vec::new();
    // The sizes a zip declares are the sender's word; the bound is ours.
    entry
        .take(limit as u64 + 1)
        .read_to_end(&mut wasm)
        .map_err(|e| format!("{name} in the zip: {e}"))?;
    if wasm.len() > limit {
        return Err(format!(
            "{name} in the zip: larger than the {} MiB a module may have",
            limit >> 20
        ));
    }
    wasm_module(wasm, &format!("{name} in the zip"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WASM: &[u8] = b"\0asm\x01\0\0\0";

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, bytes) in entries {
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    fn module(code: Vec<u8>, main: &str) -> Result<Vec<u8>, String> {
        action_module(code, main, "the code")
    }

    #[test]
    fn the_module_may_come_raw_or_in_a_zip() {
        assert_eq!(module(WASM.to_vec(), "main").unwrap(), WASM);
        let exec = zip_of(&[("README", b"x"), ("exec", WASM)]);
        assert_eq!(module(exec, "main").unwrap(), WASM);
        let named = zip_of(&[("a.wasm", b"\0asm other"), ("hello.wasm", WASM)]);
        assert_eq!(module(named.clone(), "hello").unwrap(), WASM);
        let only = zip_of(&[("lib/x.wasm", WASM)]);
        assert_eq!(module(only, "main").unwrap(), WASM);
        let ambiguous = module(named, "main").unwrap_err();
        assert!(ambiguous.contains("2 found"), "{ambiguous}");
        let not_wasm = module(zip_of(&[("exec", b"#!/bin/sh")]), "main").unwrap_err();
        assert!(not_wasm.starts_with("exec in the zip is not"), "{not_wasm}");
    }

    #[test]
    fn what_is_not_wasm_is_named() {
        let elf = wasm_module(b"\x7fELF\x02\x01".to_vec(), "the body").unwrap_err();
        assert!(elf.starts_with("the body is a native ELF file"), "{elf}");
        assert!(elf.contains("send the .wasm"), "{elf}");
        let zip = wasm_module(zip_of(&[("exec", WASM)]), "the body").unwrap_err();
        assert_eq!(zip, "the body is a zip: send the .wasm itself");
        let text = module(b"print('hi')".to_vec(), "main").unwrap_err();
        assert!(text.contains("wasm32-wasip1"), "{text}");
    }

    #[test]
    fn a_zip_bomb_is_unpacked_no_further_than_the_limit() {
        // 64 MiB of zeros deflate to about 64 KiB; only the limit and one
        // byte more are ever inflated.
        let mut huge = WASM.to_vec();
        huge.resize(64 << 20, 0);
        let bomb = zip_of(&[("exec", &huge)]);
        assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
        let refused = module_in_zip(&bomb, "main", 2 << 20).unwrap_err();
        assert_eq!(
            refused,
            "exec in the zip: larger than the 2 MiB a module may have"
        );
        let small = zip_of(&[("exec", &huge[..1 << 20])]);
        assert_eq!(
            module_in_zip(&small, "main", 2 << 20).unwrap().len(),
            1 << 20
        );
    }
}
