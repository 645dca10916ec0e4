//! Regression cases: minimized modules saved as text, with the seed whose
//! plan (arguments) made them diverge. `cargo test -p luge-fuzz` runs each
//! under every configuration and CPU level and expects no finding.
//!
//! A file starts with comment lines:
//!
//! ```text
//! ;; luge-fuzz regression
//! ;; seed: 1234
//! ;; found in: guard@baseline
//! ;; divergence: ...
//! ```

use anyhow::{anyhow, Context};
use std::path::{Path, PathBuf};

const SEED: &str = ";; seed: ";

/// A saved case.
pub struct Regression {
    pub seed: u64,
    pub wasm: Vec<u8>,
}

/// Writes `wasm` as `<dir>/<name>.wat` with its header, and returns the path.
pub fn save(
    dir: &Path,
    name: &str,
    seed: u64,
    header: &[String],
    wasm: &[u8],
) -> anyhow::Result<PathBuf> {
    let text = wasmprinter::print_bytes(wasm).context("printing the module as text")?;
    let mut file = format!(";; luge-fuzz regression\n{SEED}{seed}\n");
    for line in header {
        file.push_str(";; ");
        file.push_str(line);
        file.push('\n');
    }
    file.push_str(&text);
    file.push('\n');
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{name}.wat"));
    std::fs::write(&path, file).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Reads a saved case back.
pub fn load(path: &Path) -> anyhow::Result<Regression> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let seed = text
        .lines()
        .find_map(|line| line.strip_prefix(SEED))
        .ok_or_else(|| anyhow!("{}: no `{SEED}N` line", path.display()))?;
    let seed = seed
        .trim()
        .parse()
        .with_context(|| format!("{}: seed {seed:?}", path.display()))?;
    let wasm = wat::parse_str(&text).with_context(|| format!("{}", path.display()))?;
    Ok(Regression { seed, wasm })
}

/// The saved cases in `dir`, in name order.
pub fn all(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "wat"));
    paths.sort();
    Ok(paths)
}
