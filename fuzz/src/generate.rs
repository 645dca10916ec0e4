//! Test cases from seeds: a `wasm-smith` module built from bytes a seeded
//! generator draws, restricted to what Luge compiles, and made to end.

use arbitrary::Unstructured;
use wasm_smith::{Config, Module};

/// Fuel of the counter `ensure_termination` adds: each loop iteration and
/// each call spends one unit, and an empty tank traps (`unreachable`), so
/// every call ends, in every engine, at the same point.
const FUEL: u32 = 10_000;

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

/// The module of case `seed`.
pub fn module(seed: u64) -> anyhow::Result<Vec<u8>> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let config = config(&mut rng);
    let mut bytes = vec![0u8; rng.usize(1024..=32 * 1024)];
    rng.fill(&mut bytes);
    let mut module = Module::new(config, &mut Unstructured::new(&bytes))?;
    module.ensure_termination(FUEL)?;
    Ok(module.to_bytes())
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
        }
    }
}
