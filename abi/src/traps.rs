//! Trap kinds shared by the compiler (which records, per trapping
//! instruction, which kind it raises) and the runtime (which reports them).

/// Why a sandbox stopped abnormally. The discriminants are stored in trap
/// tables inside compiled modules, so they are part of the ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[repr(u8)]
pub enum TrapKind {
    Unreachable = 0,
    IntegerDivideByZero = 1,
    IntegerOverflow = 2,
    InvalidConversion = 3,
    MemoryOutOfBounds = 4,
    TableOutOfBounds = 5,
    /// `call_indirect` with an index past the end of the table.
    UndefinedElement = 6,
    /// `call_indirect` through a null table entry.
    UninitializedElement = 7,
    IndirectCallTypeMismatch = 8,
    StackOverflow = 9,
    /// The sandbox was interrupted (its time ran out).
    Interrupted = 10,
    MisalignedAccess = 11,
    NullReference = 12,
}

impl TrapKind {
    pub const ALL: [TrapKind; 13] = [
        TrapKind::Unreachable,
        TrapKind::IntegerDivideByZero,
        TrapKind::IntegerOverflow,
        TrapKind::InvalidConversion,
        TrapKind::MemoryOutOfBounds,
        TrapKind::TableOutOfBounds,
        TrapKind::UndefinedElement,
        TrapKind::UninitializedElement,
        TrapKind::IndirectCallTypeMismatch,
        TrapKind::StackOverflow,
        TrapKind::Interrupted,
        TrapKind::MisalignedAccess,
        TrapKind::NullReference,
    ];

    pub fn from_u8(v: u8) -> Option<TrapKind> {
        TrapKind::ALL.get(usize::from(v)).copied()
    }

    /// The wording of the WebAssembly specification's test suite.
    pub fn message(self) -> &'static str {
        match self {
            TrapKind::Unreachable => "unreachable",
            TrapKind::IntegerDivideByZero => "integer divide by zero",
            TrapKind::IntegerOverflow => "integer overflow",
            TrapKind::InvalidConversion => "invalid conversion to integer",
            TrapKind::MemoryOutOfBounds => "out of bounds memory access",
            TrapKind::TableOutOfBounds => "out of bounds table access",
            TrapKind::UndefinedElement => "undefined element",
            TrapKind::UninitializedElement => "uninitialized element",
            TrapKind::IndirectCallTypeMismatch => "indirect call type mismatch",
            TrapKind::StackOverflow => "call stack exhausted",
            TrapKind::Interrupted => "interrupted",
            TrapKind::MisalignedAccess => "misaligned memory access",
            TrapKind::NullReference => "null reference",
        }
    }
}

impl std::fmt::Display for TrapKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discriminants_round_trip() {
        for (i, kind) in TrapKind::ALL.iter().enumerate() {
            assert_eq!(*kind as u8 as usize, i);
            assert_eq!(TrapKind::from_u8(i as u8), Some(*kind));
        }
        assert_eq!(TrapKind::from_u8(TrapKind::ALL.len() as u8), None);
    }
}
