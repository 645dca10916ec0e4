//! The configuration as serde reads it: structs that mirror the JSON field
//! for field, with every value of the kind it must have but nothing else
//! checked yet, and [`read`], which reads them from the text.
//!
//! The structs do not `deny_unknown_fields`: Sledge's fields must get
//! through, so serde_ignored reports every key no struct has and
//! [`KeyCheck`] accepts Sledge's and refuses the rest.

use super::error::ConfigError;
use super::fields::KeyCheck;
use super::kinds::{kind, optional_kind, Env, Kind, Object, Port};
use serde::de::{MapAccess, SeqAccess};
use serde::Deserialize;
use std::path::Path;

/// The two shapes of a configuration.
pub(super) enum Document {
    /// Sledge's `spec.json`: an array of tenants.
    Sledge(Vec<Tenant>),
    /// Luge's own: an object holding the tenants and the server settings.
    Luge(Box<Luge>),
}

impl<'de> Kind<'de> for Document {
    const EXPECTED: &'static str =
        "an array of tenants (Sledge's spec.json) or an object with `tenants`";

    fn from_seq<A: SeqAccess<'de>>(seq: A) -> Result<Document, A::Error> {
        Vec::from_seq(seq).map(Document::Sledge)
    }

    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Document, A::Error> {
        Luge::from_map(map).map(|luge| Document::Luge(Box::new(luge)))
    }
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Document, D::Error> {
        kind(deserializer)
    }
}

// The fields of each struct are in the order "unknown field (expected one
// of: ...)" lists them.

/// The object form's top level.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) struct Luge {
    /// Optional: a server of only an admin or OpenWhisk listener has none.
    #[serde(default, deserialize_with = "kind")]
    pub tenants: Vec<Tenant>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub host: Option<String>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub workers: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub queue_limit: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub memory_budget_mib: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub memory_limit_mib: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub retire_grace_ms: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub send_timeout_ms: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub max_connections: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub max_connections_per_client: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub head_timeout_ms: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub body_timeout_ms: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub min_body_rate: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub idle_timeout_ms: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub state_dir: Option<String>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub admin: Option<Admin>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub openwhisk: Option<OpenWhisk>,
}

/// A tenant: an item of the top-level array or of `tenants`.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) struct Tenant {
    #[serde(deserialize_with = "kind")]
    pub name: String,
    #[serde(deserialize_with = "kind")]
    pub port: Port,
    #[serde(deserialize_with = "kind")]
    pub routes: Vec<Route>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub replenishment_period_us: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub max_budget_us: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub cpu_weight: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub queue_limit: Option<u64>,
}

/// A route: an item of a tenant's `routes`.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) struct Route {
    #[serde(deserialize_with = "kind")]
    pub route: String,
    #[serde(deserialize_with = "kind")]
    pub path: String,
    #[serde(default, deserialize_with = "optional_kind")]
    pub relative_deadline_us: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub http_resp_content_type: Option<String>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub memory_limit_mib: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub timeout_ms: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub dirs: Option<Vec<String>>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub env: Option<Env>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub max_body_bytes: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub max_output_bytes: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub bounds: Option<String>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub spectre: Option<String>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub tier: Option<String>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub stack_limit_kib: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub deadline_miss: Option<String>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub admissions_percentile: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub expected_execution_us: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub max_concurrency: Option<u64>,
}

/// The `admin` listener.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) struct Admin {
    #[serde(deserialize_with = "kind")]
    pub port: Port,
    #[serde(default, deserialize_with = "optional_kind")]
    pub token: Option<String>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub token_env: Option<String>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub user: Option<String>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub compile_timeout_ms: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub compile_max_code_mib: Option<u64>,
}

/// The `openwhisk` listener.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) struct OpenWhisk {
    #[serde(deserialize_with = "kind")]
    pub port: Port,
    #[serde(default, deserialize_with = "optional_kind")]
    pub timeout_ms: Option<u64>,
    #[serde(default, deserialize_with = "optional_kind")]
    pub memory_limit_mib: Option<u64>,
}

impl Object for Luge {}
impl Object for Tenant {}
impl Object for Route {}
impl Object for Admin {}
impl Object for OpenWhisk {}

/// What [`read`] found.
pub(super) struct Read {
    pub document: Document,
    /// The Sledge fields Luge ignores that the document has, each once, in
    /// order of first appearance.
    pub ignored_fields: Vec<String>,
}

/// Reads `text`, the contents of `file`, into the raw structs. The first
/// error in the file wins: syntax, a value of the wrong kind, a missing,
/// repeated or unknown field.
pub(super) fn read(text: &str, file: &Path) -> Result<Read, ConfigError> {
    // Syntax first, over the whole text, so that a broken file is reported
    // as broken rather than by whichever field the reader reached before
    // the break. The text is read as a `Value`, not skipped as `IgnoredAny`,
    // whose quicker scan words some errors vaguely ("key must be a string"
    // for a trailing comma) and lets numbers out of range through.
    serde_json::from_str::<serde_json::Value>(text).map_err(|e| ConfigError::syntax(file, &e))?;
    let mut keys = KeyCheck::new(file);
    let mut json = serde_json::Deserializer::from_str(text);
    let mut note = |path: serde_ignored::Path<'_>| keys.note(&path);
    let document =
        serde_path_to_error::deserialize(serde_ignored::Deserializer::new(&mut json, &mut note));
    // A bad key was met before whatever error stopped the reader, if any.
    let ignored_fields = keys.finish()?;
    let document = document.map_err(|e| ConfigError::from_serde(file, &e))?;
    Ok(Read {
        document,
        ignored_fields,
    })
}
