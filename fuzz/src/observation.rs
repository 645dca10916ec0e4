//! What an engine did with a case, in terms every engine can be put in, and
//! how two such records compare.

use std::fmt;

/// A value. References compare by null-ness only: which function a
/// non-null `funcref` names is not comparable across engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    I32(u32),
    I64(u64),
    F32(u32),
    F64(u64),
    V128(u128),
    NullRef,
    NonNullRef,
}

impl Value {
    /// Equal as results: bit for bit, except that any two scalar NaNs are
    /// equal (the specification leaves a NaN's payload open, and the
    /// generator's canonicalization may have been shrunk away).
    fn agrees(&self, other: &Value) -> bool {
        match (*self, *other) {
            (Value::F32(a), Value::F32(b)) => {
                a == b || (f32::from_bits(a).is_nan() && f32::from_bits(b).is_nan())
            }
            (Value::F64(a), Value::F64(b)) => {
                a == b || (f64::from_bits(a).is_nan() && f64::from_bits(b).is_nan())
            }
            _ => self == other,
        }
    }

    pub fn reference(null: bool) -> Value {
        if null {
            Value::NullRef
        } else {
            Value::NonNullRef
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::I32(v) => write!(f, "i32:{v:#x}"),
            Value::I64(v) => write!(f, "i64:{v:#x}"),
            Value::F32(v) => write!(f, "f32:{v:#x}"),
            Value::F64(v) => write!(f, "f64:{v:#x}"),
            Value::V128(v) => write!(f, "v128:{v:#034x}"),
            Value::NullRef => f.write_str("null"),
            Value::NonNullRef => f.write_str("ref"),
        }
    }
}

/// Why code stopped, in the specification's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trap {
    Unreachable,
    MemoryOutOfBounds,
    TableOutOfBounds,
    IndirectCallToNull,
    IndirectCallType,
    IntegerDivideByZero,
    IntegerOverflow,
    InvalidConversion,
    NullReference,
    /// Engines differ in how deep they let code recurse: what follows an
    /// exhausted stack is not compared.
    StackOverflow,
    /// A trap the specification does not name; compared by text.
    Other(String),
}

/// How a call (or the start function, at instantiation) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Returned(Vec<Value>),
    Trapped(Trap),
    /// The engine could not run it at all (a compile or link refusal).
    Refused(String),
}

impl Outcome {
    fn stack_overflow(&self) -> bool {
        matches!(self, Outcome::Trapped(Trap::StackOverflow))
    }

    /// Equal for the purpose of a verdict: refusals match whatever their
    /// wording, since each engine words them its own way.
    fn agrees(&self, other: &Outcome) -> bool {
        match (self, other) {
            (Outcome::Refused(_), Outcome::Refused(_)) => true,
            (Outcome::Returned(a), Outcome::Returned(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.agrees(y))
            }
            _ => self == other,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Returned(values) => {
                f.write_str("returned [")?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Outcome::Trapped(trap) => write!(f, "trapped: {trap:?}"),
            Outcome::Refused(reason) => write!(f, "refused: {reason}"),
        }
    }
}

/// Everything an engine did with a case's [`Plan`](crate::plan::Plan).
#[derive(Debug, Clone)]
pub struct Observation {
    /// Instantiation, start function included (`Returned([])` when it
    /// worked).
    pub instantiation: Outcome,
    pub calls: Vec<(String, Outcome)>,
    /// Exported globals after the last call (`None`: the engine has no
    /// such export).
    pub globals: Vec<(String, Option<Value>)>,
    /// Exported memories' bytes after the last call.
    pub memories: Vec<(String, Option<Vec<u8>>)>,
    /// Exported tables after the last call: whether each element is null.
    pub tables: Vec<(String, Option<Vec<bool>>)>,
}

impl Observation {
    pub fn failed(instantiation: Outcome) -> Observation {
        Observation {
            instantiation,
            calls: Vec::new(),
            globals: Vec::new(),
            memories: Vec::new(),
            tables: Vec::new(),
        }
    }

    /// Whether some code ran out of stack (at instantiation or in a call).
    pub fn overflowed(&self) -> bool {
        self.instantiation.stack_overflow() || self.calls.iter().any(|(_, o)| o.stack_overflow())
    }

    /// The first difference between two observations of the same plan, in
    /// words, or `None`. Nothing after a stack overflow in either is
    /// compared: engines may exhaust their stacks at different depths.
    pub fn difference(&self, other: &Observation) -> Option<String> {
        if self.instantiation.stack_overflow() || other.instantiation.stack_overflow() {
            return None;
        }
        if !self.instantiation.agrees(&other.instantiation) {
            return Some(format!(
                "instantiation: {} / {}",
                self.instantiation, other.instantiation
            ));
        }
        for ((export, a), (_, b)) in self.calls.iter().zip(&other.calls) {
            if a.stack_overflow() || b.stack_overflow() {
                return None;
            }
            if !a.agrees(b) {
                return Some(format!("call {export:?}: {a} / {b}"));
            }
        }
        if self.calls.len() != other.calls.len() {
            return Some(format!(
                "{} calls / {} calls",
                self.calls.len(),
                other.calls.len()
            ));
        }
        let globals = compare(&self.globals, &other.globals, |a, b| {
            let same = match (a, b) {
                (Some(x), Some(y)) => x.agrees(y),
                _ => a == b,
            };
            (!same).then(|| format!("{} / {}", show(a), show(b)))
        });
        let memories = compare(&self.memories, &other.memories, |a, b| match (a, b) {
            (Some(a), Some(b)) => memory_difference(a, b),
            _ => (a.is_some() != b.is_some()).then(|| "missing on one side".to_string()),
        });
        let tables = compare(&self.tables, &other.tables, |a, b| {
            (a != b).then(|| table_difference(a.as_deref(), b.as_deref()))
        });
        [("global", globals), ("memory", memories), ("table", tables)]
            .into_iter()
            .find_map(|(kind, d)| d.map(|(name, d)| format!("{kind} {name:?}: {d}")))
    }
}

/// The first named item whose states differ, by `differ`.
fn compare<T>(
    a: &[(String, T)],
    b: &[(String, T)],
    differ: impl Fn(&T, &T) -> Option<String>,
) -> Option<(String, String)> {
    if a.len() != b.len() {
        return Some((String::new(), format!("{} exports / {}", a.len(), b.len())));
    }
    a.iter()
        .zip(b)
        .find_map(|((name, x), (_, y))| differ(x, y).map(|d| (name.clone(), d)))
}

fn show(value: &Option<Value>) -> String {
    value.map_or("missing".to_string(), |v| v.to_string())
}

fn table_difference(a: Option<&[bool]>, b: Option<&[bool]>) -> String {
    let (Some(a), Some(b)) = (a, b) else {
        return "missing on one side".to_string();
    };
    if a.len() != b.len() {
        return format!("{} elements / {}", a.len(), b.len());
    }
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or_default();
    let null = |n: bool| if n { "null" } else { "non-null" };
    format!("element {at}: {} / {}", null(a[at]), null(b[at]))
}

fn memory_difference(a: &[u8], b: &[u8]) -> Option<String> {
    if a.len() != b.len() {
        return Some(format!("{} bytes / {} bytes", a.len(), b.len()));
    }
    let at = a.iter().zip(b).position(|(x, y)| x != y)?;
    Some(format!("byte {at:#x}: {:#04x} / {:#04x}", a[at], b[at]))
}
