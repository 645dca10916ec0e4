//! How each value of a configuration is read: as one kind of JSON value (a
//! string, a non-negative integer, a port, an array, an object), any other
//! kind being refused as, say, "expected a string, found 7".
//!
//! serde's own messages name Rust types in serde's terms ("invalid type:
//! integer `7`, expected a string"), and serde_json reads a struct from an
//! array of its fields as readily as from an object. Every value of the raw
//! structs is therefore read through [`Kind`] (with
//! `#[serde(deserialize_with = "kind")]`, or `"optional_kind"` for a field
//! that may be left out), which speaks JSON's terms and takes only the
//! kinds it names.

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt::{self, Display};
use std::marker::PhantomData;

/// A value read from some kinds of JSON value. Each `from_*` refuses its
/// kind unless overridden.
pub(super) trait Kind<'de>: Sized {
    /// What is expected, as in "expected {EXPECTED}, found ...".
    const EXPECTED: &'static str;

    fn from_u64<E: de::Error>(n: u64) -> Result<Self, E> {
        Err(found::<Self, E>(n))
    }

    fn from_str<E: de::Error>(_text: &str) -> Result<Self, E> {
        Err(found::<Self, E>("a string"))
    }

    fn from_seq<A: SeqAccess<'de>>(_seq: A) -> Result<Self, A::Error> {
        Err(found::<Self, A::Error>("an array"))
    }

    fn from_map<A: MapAccess<'de>>(_map: A) -> Result<Self, A::Error> {
        Err(found::<Self, A::Error>("an object"))
    }
}

/// The refusal of a value of the wrong kind, `found` describing it.
fn found<'de, T: Kind<'de>, E: de::Error>(found: impl Display) -> E {
    E::custom(format_args!("expected {}, found {found}", T::EXPECTED))
}

/// Reads a `T`; for `#[serde(deserialize_with = "kind")]`.
pub(super) fn kind<'de, D: Deserializer<'de>, T: Kind<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    deserializer.deserialize_any(KindVisitor(PhantomData))
}

/// Reads a `T` of a field that may be left out; for
/// `#[serde(default, deserialize_with = "optional_kind")]`. Unlike serde's
/// `Option`, which reads `null` as "left out", this refuses `null` as a
/// value of the wrong kind.
pub(super) fn optional_kind<'de, D: Deserializer<'de>, T: Kind<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    kind(deserializer).map(Some)
}

struct KindVisitor<T>(PhantomData<T>);

impl<'de, T: Kind<'de>> Visitor<'de> for KindVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTED)
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Err(found::<T, E>("null"))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<T, E> {
        Err(found::<T, E>(b))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<T, E> {
        T::from_u64(n)
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<T, E> {
        // serde_json hands over non-negative integers as u64, but nothing
        // promises it.
        match u64::try_from(n) {
            Ok(n) => T::from_u64(n),
            Err(_) => Err(found::<T, E>(n)),
        }
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<T, E> {
        // Written as JSON writes it (`1e20`, not `100000000000000000000`);
        // JSON text has no NaN or infinity, so the fallback is never taken.
        match serde_json::Number::from_f64(x) {
            Some(number) => Err(found::<T, E>(number)),
            None => Err(found::<T, E>(x)),
        }
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        T::from_str(text)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::from_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::from_map(map)
    }
}

/// [`kind`] for the items of arrays and the values of [`Env`].
struct KindSeed<T>(PhantomData<T>);

impl<'de, T: Kind<'de>> DeserializeSeed<'de> for KindSeed<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        kind(deserializer)
    }
}

impl<'de> Kind<'de> for String {
    const EXPECTED: &'static str = "a string";

    fn from_str<E: de::Error>(text: &str) -> Result<String, E> {
        Ok(text.to_owned())
    }
}

impl<'de> Kind<'de> for u64 {
    const EXPECTED: &'static str = "a non-negative integer";

    fn from_u64<E: de::Error>(n: u64) -> Result<u64, E> {
        Ok(n)
    }
}

/// A port a listener can bind: 1-65535.
#[derive(Debug, Clone, Copy)]
pub(super) struct Port(pub u16);

impl<'de> Kind<'de> for Port {
    const EXPECTED: &'static str = "a port number between 1 and 65535";

    fn from_u64<E: de::Error>(n: u64) -> Result<Port, E> {
        match u16::try_from(n) {
            Ok(port) if port > 0 => Ok(Port(port)),
            _ => Err(found::<Port, E>(n)),
        }
    }
}

impl<'de, T: Kind<'de>> Kind<'de> for Vec<T> {
    const EXPECTED: &'static str = "an array";

    fn from_seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(KindSeed(PhantomData))? {
            items.push(item);
        }
        Ok(items)
    }
}

/// An object of strings, such as a route's `env`, in file order with
/// repeated keys kept (validation refuses them where it knows the path).
#[derive(Debug)]
pub(super) struct Env(pub Vec<(String, String)>);

impl<'de> Kind<'de> for Env {
    const EXPECTED: &'static str = "an object";

    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Env, A::Error> {
        let mut vars = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            vars.push((key, map.next_value_seed(KindSeed(PhantomData))?));
        }
        Ok(Env(vars))
    }
}

/// A struct whose fields serde's derive reads: one of the raw structs, read
/// from a JSON object only.
pub(super) trait Object {}

impl<'de, T: Object + Deserialize<'de>> Kind<'de> for T {
    const EXPECTED: &'static str = "an object";

    fn from_map<A: MapAccess<'de>>(map: A) -> Result<T, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map))
    }
}
