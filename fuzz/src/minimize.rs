//! Shrinking a diverging module to the little that still diverges, with
//! `wasm-shrink` (random reductions that keep the module valid).

use crate::case::{self, Finding};
use crate::engines::luge::Configuration;
use std::path::Path;

/// How many reductions in a row may fail before the smallest module found
/// is taken as small enough.
const ATTEMPTS: u32 = 500;

/// The smallest module found that still makes Luge in `config` diverge
/// (disagree with agreeing reference engines) under the plan of `seed`.
pub fn divergence(
    seed: u64,
    wasm: Vec<u8>,
    config: &Configuration,
    dir: &Path,
    mut progress: impl FnMut(u64) + 'static,
) -> anyhow::Result<Vec<u8>> {
    let configs = std::slice::from_ref(config);
    let info = wasm_shrink::WasmShrink::default()
        .attempts(ATTEMPTS)
        .seed(seed)
        .on_new_smallest(Some(Box::new(move |wasm: &[u8]| {
            progress(wasm.len() as u64);
            Ok(())
        })))
        .run(wasm, |candidate| {
            let report = case::run(seed, candidate, configs, dir);
            Ok(report
                .findings
                .iter()
                .any(|f| matches!(f, Finding::Divergence { .. })))
        })?;
    Ok(info.output)
}
