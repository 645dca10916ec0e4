//! Test cases from seeds: a `wasm-smith` module built from bytes a seeded
//! generator draws, restricted to what Luge compiles, and made to end.

use arbitrary::Unstructured;
use wasm_smith::{Config, Module};

/// Fuel of the counter `ensure_termination` adds: each loop iteration and
/// each call spends one unit, and an empty tank traps (`unreachable`), so
/// every call ends, in every engine, at the same point. The plan refills
/// it before each call.
pub const FUEL: u32 = 10_000;
/// The name the fuel global is exported under, for the plan to refill it.
pub const FUEL_EXPORT: &str = "luge-fuzz fuel";

/// Memories are small, so that comparing them after each case is cheap,
/// and bounded, so that `memory.grow` succeeds or fails alike everywhere.
const MAX_MEMORY_PAGES: u64 = 16;
const WASM_PAGE: u64 = 64 * 1024;

/// The `wasm-smith` configuration: every proposal `awsm-compiler` accepts
/// (`awsm_compiler::features`), none it refuses, NaNs canonicalized so
/// that results compare bit for bit, every item exported so that its final
/// state can be compared, and no imports (the engines share no host).
pub fn config(rng: &mut fastrand::Rng) -> Config {
    Config {
        max_imports: 0,
        export_everything: true,
        canonicalize_nans: true,
        allow_start_export: true,
        // Proposals Luge implements.
        bulk_memory_enabled: true,
        reference_types_enabled: true,
        multi_value_enabled: true,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        // Half the cases without SIMD: SIMD-heavy bodies would otherwise
        // crowd out the scalar instructions.
        simd_enabled: rng.bool(),
        // Proposals Luge refuses.
        relaxed_simd_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        tail_call_enabled: false,
        threads_enabled: false,
        memory64_enabled: false,
        wide_arithmetic_enabled: false,
        extended_const_enabled: false,
        custom_page_sizes_enabled: false,
        compact_imports_enabled: false,
        max_memories: 1,
        max_tables: 3,
        memory_max_size_required: true,
        max_memory32_bytes: MAX_MEMORY_PAGES * WASM_PAGE,
        table_max_size_required: true,
        max_table_elements: 1_000,
        // wasm-smith adds items while a drawn bit says so: from random
        // bytes that is one function on average, too few to find much.
        min_funcs: rng.usize(1..=12),
        max_funcs: 30,
        max_instructions: 300,
        ..Config::default()
    }
}

/// The module of case `seed`. A panic inside the generator is an error
/// here, so that it is reported as the harness's fault, not Luge's.
pub fn module(seed: u64) -> anyhow::Result<Vec<u8>> {
    std::panic::catch_unwind(|| generate(seed)).unwrap_or_else(|panic| {
        anyhow::bail!(
            "wasm-smith panicked: {}",
            crate::engines::panic_message(&*panic)
        )
    })
}

fn generate(seed: u64) -> anyhow::Result<Vec<u8>> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let config = config(&mut rng);
    let mut bytes = vec![0u8; rng.usize(1024..=32 * 1024)];
    rng.fill(&mut bytes);
    let mut module = Module::new(config, &mut Unstructured::new(&bytes))?;
    let fuel = module.ensure_termination(FUEL)?;
    export_global(&module.to_bytes(), fuel, FUEL_EXPORT)
}

/// `wasm` with global `index` exported as `name` as well (`wasm-smith`
/// adds the fuel global without exporting it): the export section is
/// encoded anew with one more entry, in place of the old one or, in a
/// module without one, where the binary format orders it.
fn export_global(wasm: &[u8], index: u32, name: &str) -> anyhow::Result<Vec<u8>> {
    use wasm_encoder::{Encode, ExportKind, ExportSection, Section};
    use wasmparser::{ExternalKind, Payload};
    let mut exports = ExportSection::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Payload::ExportSection(reader) = payload? else {
            continue;
        };
        for export in reader {
            let export = export?;
            anyhow::ensure!(export.name != name, "the module already exports {name:?}");
            let kind = match export.kind {
                ExternalKind::Func => ExportKind::Func,
                ExternalKind::Table => ExportKind::Table,
                ExternalKind::Memory => ExportKind::Memory,
                ExternalKind::Global => ExportKind::Global,
                ExternalKind::Tag => ExportKind::Tag,
            };
            exports.export(export.name, kind, export.index);
        }
    }
    exports.export(name, ExportKind::Global, index);
    let mut section = vec![exports.id()];
    exports.encode(&mut section);

    // Sections the export section comes before: start, element, data
    // count, code, data.
    const AFTER_EXPORTS: [u8; 5] = [8, 9, 12, 10, 11];
    const HEADER: usize = 8;
    let mut out = wasm[..HEADER].to_vec();
    let mut placed = false;
    let mut at = HEADER;
    while at < wasm.len() {
        let id = wasm[at];
        let (size, size_len) = read_leb128(&wasm[at + 1..])?;
        let end = at + 1 + size_len + size;
        anyhow::ensure!(end <= wasm.len(), "section {id} at {at} runs past the end");
        if !placed && (id == 7 || AFTER_EXPORTS.contains(&id)) {
            out.extend_from_slice(&section);
            placed = true;
        }
        if id != 7 {
            out.extend_from_slice(&wasm[at..end]);
        }
        at = end;
    }
    if !placed {
        out.extend_from_slice(&section);
    }
    Ok(out)
}

/// An unsigned LEB128 number at the start of `bytes`, and its length.
fn read_leb128(bytes: &[u8]) -> anyhow::Result<(usize, usize)> {
    let mut value = 0usize;
    for (i, byte) in bytes.iter().take(5).enumerate() {
        value |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    anyhow::bail!("a section size is not a valid LEB128 number")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_gives_the_same_valid_module() {
        for seed in 0..20 {
            let wasm = module(seed).unwrap();
            assert_eq!(wasm, module(seed).unwrap(), "seed {seed}");
            wasmparser::Validator::new_with_features(awsm_compiler::features())
                .validate_all(&wasm)
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let plan = crate::plan::Plan::new(&wasm, seed).unwrap();
            assert_eq!(plan.fuel.as_deref(), Some(FUEL_EXPORT), "seed {seed}");
        }
    }
}
