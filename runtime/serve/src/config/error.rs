//! Why a configuration is refused: [`ConfigError`], and how the errors of
//! serde_json and serde's derive, which say where they stopped in their own
//! words, become one that names the field.

use super::child;
use std::path::{Path, PathBuf};

/// Why a configuration was refused. Every message is one line that starts
/// with the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {error}", .file.display())]
    Read {
        /// The configuration file.
        file: PathBuf,
        /// Why reading failed.
        error: std::io::Error,
    },
    /// The file is not valid JSON.
    #[error("{}:{line}:{column}: {reason}", .file.display())]
    Syntax {
        /// The configuration file.
        file: PathBuf,
        /// Line of the error, from 1.
        line: usize,
        /// Column of the error, from 1.
        column: usize,
        /// What is wrong, as serde_json words it.
        reason: String,
    },
    /// A field has a bad value, is missing, unknown or repeated. `field` is
    /// its path, such as `[0].routes[1].relative-deadline-us` or
    /// `admin.port`.
    #[error("{}: {field}: {reason}", .file.display())]
    Field {
        /// The configuration file.
        file: PathBuf,
        /// Path of the field in the document.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The document as a whole is wrong (not an array or object, no
    /// tenants).
    #[error("{}: {reason}", .file.display())]
    Document {
        /// The configuration file.
        file: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl ConfigError {
    pub(super) fn field(
        file: &Path,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Field {
            file: file.to_owned(),
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(super) fn document(file: &Path, reason: impl Into<String>) -> ConfigError {
        ConfigError::Document {
            file: file.to_owned(),
            reason: reason.into(),
        }
    }

    pub(super) fn syntax(file: &Path, error: &serde_json::Error) -> ConfigError {
        ConfigError::Syntax {
            file: file.to_owned(),
            line: error.line(),
            column: error.column(),
            reason: reason(error),
        }
    }

    /// An error from reading the document into the raw structs, at the path
    /// where it stopped.
    pub(super) fn from_serde(
        file: &Path,
        error: &serde_path_to_error::Error<serde_json::Error>,
    ) -> ConfigError {
        let inner = error.inner();
        // The syntax was checked before this read; should the two reads
        // ever disagree, a syntax error is still given its line and column.
        if !inner.is_data() {
            return ConfigError::syntax(file, inner);
        }
        let reason = reason(inner);
        // serde_path_to_error writes the document itself as `.`.
        let path = if error.path().iter().len() == 0 {
            String::new()
        } else {
            error.path().to_string()
        };
        if let Some((key, reason)) = field_of_object(&reason) {
            return ConfigError::field(file, child(&path, key), reason);
        }
        if path.is_empty() {
            ConfigError::document(file, reason)
        } else {
            ConfigError::field(file, path, reason)
        }
    }
}

/// serde_json's message without the position it appends: a syntax error
/// carries it as line and column, and a field error names the field
/// instead.
fn reason(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    message.strip_suffix(&suffix).unwrap_or(&message).to_owned()
}

/// serde's derive reports a missing or repeated field at the object that
/// should hold it once, naming the field only in its message: this finds the
/// field and words the reason as every other field error is worded.
fn field_of_object(reason: &str) -> Option<(&str, &'static str)> {
    [
        ("missing field `", "missing required field"),
        ("duplicate field `", "duplicate field"),
    ]
    .into_iter()
    .find_map(|(prefix, ours)| {
        let key = reason.strip_prefix(prefix)?.strip_suffix('`')?;
        Some((key, ours))
    })
}
