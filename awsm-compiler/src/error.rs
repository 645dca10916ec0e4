//! Errors of the compiler. Each renders as one line that names the problem
//! and, for problems in the input, its byte offset.

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("invalid module at byte offset {offset:#x}: {message}")]
    Invalid { offset: usize, message: String },
    #[error("unsupported feature at byte offset {offset:#x}: {message}")]
    Unsupported { offset: usize, message: String },
    /// Valid and supported by the fast tier, but not translated by the opt
    /// tier yet (SIMD): a gap in the tier, not a fault of the module.
    #[error(
        "at byte offset {offset:#x}: the opt tier does not translate {what} yet \
         (the fast tier does: --tier fast)"
    )]
    NotInOptTier { offset: usize, what: String },
    #[error("module is {size} bytes, larger than the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("{path} is {size} bytes, larger than the {limit}-byte limit for a module")]
    FileTooLarge {
        path: std::path::PathBuf,
        size: u64,
        limit: usize,
    },
    #[error("compile budget exceeded: {0}")]
    OverBudget(String),
    #[error("code generation failed in function {func}: {message}")]
    Codegen { func: u32, message: String },
    #[error("cannot build shared object: {0}")]
    Link(String),
    /// The opt tier's LLVM failed: a bug in the translator, or in LLVM.
    #[error("opt tier: {0}")]
    Optimizer(String),
    #[error("{0}")]
    Target(String),
    #[error("cannot read {path}: {error}")]
    Read {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    #[error("neither a WebAssembly binary nor valid WebAssembly text: {message}")]
    Text {
        path: std::path::PathBuf,
        message: String,
    },
}

/// Collapses a possibly multi-line message (wasmparser prints some
/// expectations as indented lists) into one line.
pub(crate) fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A WebAssembly text error as one line, `FILE:LINE:COL: message`. The
/// parser renders the location on a `-->` line under the message, followed
/// by a source excerpt that is dropped here.
pub(crate) fn text_error(rendered: &str) -> String {
    let mut lines = rendered.lines();
    let message = lines.next().unwrap_or("").trim();
    match lines.find_map(|l| l.trim().strip_prefix("--> ")) {
        Some(location) => format!("{location}: {message}"),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_become_one_line() {
        assert_eq!(
            one_line("bad magic - expected=[\n    0x0,\n    0x61,\n]"),
            "bad magic - expected=[ 0x0, 0x61, ]"
        );
        let rendered = "expected `(`\n     --> g.wat:1:1\n      |\n    1 | garbage\n      | ^";
        assert_eq!(text_error(rendered), "g.wat:1:1: expected `(`");
    }
}
