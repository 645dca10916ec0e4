//! The keys no raw struct has, which serde's derive skips and serde_ignored
//! reports: Sledge's fields that mean nothing to Luge, accepted and
//! recorded, and any other, refused with the closest known name suggested.

use super::error::ConfigError;
use super::{child, index, raw};
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde_ignored::Path as KeyPath;
use std::path::Path;

/// Tenant fields of Sledge's multi-tenant scheduler that Luge has no use
/// for: route replicas (Luge runs every route on every worker).
pub(super) const SLEDGE_TENANT_FIELDS: &[&str] = &["route-replicas"];

/// Sledge route fields Luge has no use for: fixed buffer sizes
/// and request headers of the older module format (`http-req-size`, ...),
/// request classes of the SLEdgeScale fork (`request-type`, `n-resas`,
/// `group-id`), and the execution-time regression model (`path_premodule`,
/// `model-*`).
pub(super) const SLEDGE_ROUTE_FIELDS: &[&str] = &[
    "http-req-size",
    "http-resp-size",
    "http-req-content-type",
    "http-req-headers",
    "http-resp-headers",
    "request-type",
    "n-resas",
    "group-id",
    "path_premodule",
    "model-bias",
    "model-scale",
    "model-num-of-param",
    "model-beta1",
    "model-beta2",
];

/// Judges the keys serde_ignored reports while a document is read. Its
/// callback cannot stop the reader, so the first bad key is kept for
/// [`KeyCheck::finish`].
pub(super) struct KeyCheck<'a> {
    file: &'a Path,
    /// Names of the Sledge fields met, each once.
    ignored: Vec<String>,
    /// Paths of the Sledge fields met, to refuse a repeated one as serde's
    /// derive refuses a repeated known field.
    seen: Vec<String>,
    error: Option<ConfigError>,
}

impl<'a> KeyCheck<'a> {
    pub(super) fn new(file: &'a Path) -> KeyCheck<'a> {
        KeyCheck {
            file,
            ignored: Vec::new(),
            seen: Vec::new(),
            error: None,
        }
    }

    /// Judges the key at `path`, skipped by serde's derive.
    pub(super) fn note(&mut self, path: &KeyPath<'_>) {
        // serde's derive skips only the values of keys it does not know,
        // so every path names a key of an object.
        let KeyPath::Map { parent, key } = path else {
            return;
        };
        if self.error.is_some() {
            return;
        }
        let at = display(path);
        let section = Section::of(parent);
        let reason = if !section.ignored().contains(&key.as_str()) {
            unknown_field(key, section)
        } else if self.seen.contains(&at) {
            "duplicate field".to_owned()
        } else {
            self.seen.push(at);
            if !self.ignored.contains(key) {
                self.ignored.push(key.clone());
            }
            return;
        };
        self.error = Some(ConfigError::field(self.file, at, reason));
    }

    /// The Sledge fields met, in order of first appearance, or the first
    /// unknown or repeated key.
    pub(super) fn finish(self) -> Result<Vec<String>, ConfigError> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.ignored),
        }
    }
}

/// A path as every other error writes it: `[0].routes[1].key`.
fn display(path: &KeyPath<'_>) -> String {
    match path {
        KeyPath::Root => String::new(),
        KeyPath::Seq { parent, index: i } => index(&display(parent), *i),
        KeyPath::Map { parent, key } => child(&display(parent), key),
        KeyPath::Some { parent }
        | KeyPath::NewtypeStruct { parent }
        | KeyPath::NewtypeVariant { parent } => display(parent),
    }
}

/// The kinds of object whose keys are judged: one per raw struct.
#[derive(Clone, Copy)]
enum Section {
    TopLevel,
    Tenant,
    Route,
    Admin,
    OpenWhisk,
}

impl Section {
    /// The section of the object at `path`. serde_ignored says where a key
    /// is, not which struct skipped it, but each raw struct has its place:
    /// the top level, the items of the top-level array or of `tenants`,
    /// the items of a tenant's `routes`, `admin` and `openwhisk`.
    fn of(path: &KeyPath<'_>) -> Section {
        match path {
            KeyPath::Root => Section::TopLevel,
            KeyPath::Map { key, .. } if key == "admin" => Section::Admin,
            KeyPath::Map { key, .. } if key == "openwhisk" => Section::OpenWhisk,
            KeyPath::Seq {
                parent: KeyPath::Map { key, .. },
                ..
            } if key == "routes" => Section::Route,
            _ => Section::Tenant,
        }
    }

    /// The fields Luge reads, as serde's derive names them.
    fn known(self) -> &'static [&'static str] {
        match self {
            Section::TopLevel => field_names::<raw::Luge>(),
            Section::Tenant => field_names::<raw::Tenant>(),
            Section::Route => field_names::<raw::Route>(),
            Section::Admin => field_names::<raw::Admin>(),
            Section::OpenWhisk => field_names::<raw::OpenWhisk>(),
        }
    }

    /// The Sledge fields accepted and ignored.
    fn ignored(self) -> &'static [&'static str] {
        match self {
            Section::Tenant => SLEDGE_TENANT_FIELDS,
            Section::Route => SLEDGE_ROUTE_FIELDS,
            Section::TopLevel | Section::Admin | Section::OpenWhisk => &[],
        }
    }
}

/// The reason for refusing `key`: the closest known or Sledge field when
/// it is close enough to be a typo, else the fields Luge reads.
fn unknown_field(key: &str, section: Section) -> String {
    let known = section.known();
    // Optimal string alignment counts a swap of neighbours as one edit, so
    // that `prot` is one edit from `port`.
    let distance = |name: &str| strsim::osa_distance(key, name);
    let names = known.iter().chain(section.ignored()).copied();
    let closest = names.min_by_key(|name| distance(name));
    match closest {
        Some(name) if distance(name) * 3 <= key.len().max(name.len()) => {
            format!("unknown field (did you mean `{name}`?)")
        }
        _ => format!("unknown field (expected one of: {})", known.join(", ")),
    }
}

/// The field names serde's derive gives the struct `T`, in declaration
/// order, so that they are written once, in the struct. The derive passes
/// them to `deserialize_struct`, where a deserializer that reads nothing
/// catches them.
fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Catch<'a>(&'a mut &'static [&'static str]);

    impl<'de> Deserializer<'de> for Catch<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("only the field names were wanted"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    // The error is the point: the fields are caught before it.
    let _ = T::deserialize(Catch(&mut fields));
    fields
}
