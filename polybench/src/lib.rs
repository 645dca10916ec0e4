//! PolyBench/C comparisons: builds every kernel natively and to wasm32-wasi,
//! runs it natively, under Luge's three code-generation modes and, when
//! installed, under Wasmtime and Node.js; checks every runtime's output
//! arrays against native and reports median kernel times and slowdowns.
//!
//! The kernels and their harness (`polybench/kernels`, `polybench/include`)
//! are plain C; this crate is the runner around them.

pub mod bench;
pub mod chart;
pub mod compile;
pub mod kernels;
pub mod output;
pub mod process;
pub mod progress;
pub mod report;
pub mod runtimes;
pub mod stats;

use std::path::{Path, PathBuf};

/// The workspace this crate was built in. The runner is a development tool:
/// it finds the kernels, their header and the Node.js launcher there.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate lives in a workspace directory")
}

/// Cargo's target directory: `$CARGO_TARGET_DIR`, else the workspace's
/// `target/`, where `luge` is looked for and results go by default.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}
