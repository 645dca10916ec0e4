//! Errors of the compiler. Each renders as one line that names the problem
//! and, for problems in the input, its byte offset.

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("invalid module at byte offset {offset:#x}: {message}")]
    Invalid { offset: usize, message: String },
    #[error("unsupported feature at byte offset {offset:#x}: {message}")]
    Unsupported { offset: usize, message: String },
    #[error("module is {size} bytes, larger than the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("code generation failed in function {func}: {message}")]
    Codegen { func: u32, message: String },
    #[error("cannot build shared object: {0}")]
    Link(String),
    #[error("{0}")]
    Target(String),
}
