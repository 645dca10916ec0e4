//! Shrinking a diverging module to the little that still diverges, with
//! `wasm-shrink` (random reductions that keep the module valid).

use crate::case::{self, Finding};
use crate::engines::luge::Configuration;
use std::path::Path;

/// How many reductions in a row may fail before the smallest module found
/// is taken as small enough.
const ATTEMPTS: u32 = 500;

/// The smallest module found that still shows `finding` (a divergence of
/// Luge in `config` under the plan of `seed`) at the same site: a smaller
/// module that diverges elsewhere is another finding. `on_smaller` sees
/// each smaller module as it is found.
pub fn divergence(
    seed: u64,
    wasm: Vec<u8>,
    config: &Configuration,
    finding: &Finding,
    dir: &Path,
    on_smaller: impl FnMut(&[u8]) -> anyhow::Result<()> + 'static,
) -> anyhow::Result<Vec<u8>> {
    let configs = std::slice::from_ref(config);
    let info = wasm_shrink::WasmShrink::default()
        .attempts(ATTEMPTS)
        .seed(seed)
        .on_new_smallest(Some(Box::new(on_smaller)))
        .run(wasm, |candidate| {
            let report = case::run(seed, candidate, configs, dir);
            Ok(report
                .findings
                .iter()
                .any(|f| matches!(f, Finding::Divergence { .. }) && f.site() == finding.site()))
        })?;
    Ok(info.output)
}
