//! Trap codes: the ones Cranelift records, mapped to the ABI's trap kinds,
//! and user codes for the kinds Cranelift has no code for.

use cranelift_codegen::ir::TrapCode;
use luge_abi::TrapKind;

/// Trap code for a trap kind Cranelift has no code of its own for.
pub fn user_trap(kind: TrapKind) -> TrapCode {
    TrapCode::User(kind as u16)
}

/// Maps the trap codes Cranelift records to the ABI's trap kinds.
pub fn trap_kind(code: TrapCode) -> Option<TrapKind> {
    Some(match code {
        TrapCode::StackOverflow => TrapKind::StackOverflow,
        TrapCode::HeapOutOfBounds => TrapKind::MemoryOutOfBounds,
        TrapCode::HeapMisaligned => TrapKind::MisalignedAccess,
        TrapCode::TableOutOfBounds => TrapKind::TableOutOfBounds,
        TrapCode::IndirectCallToNull => TrapKind::UninitializedElement,
        TrapCode::BadSignature => TrapKind::IndirectCallTypeMismatch,
        TrapCode::IntegerOverflow => TrapKind::IntegerOverflow,
        TrapCode::IntegerDivisionByZero => TrapKind::IntegerDivideByZero,
        TrapCode::BadConversionToInteger => TrapKind::InvalidConversion,
        TrapCode::UnreachableCodeReached => TrapKind::Unreachable,
        TrapCode::Interrupt => TrapKind::Interrupted,
        TrapCode::NullReference | TrapCode::NullI31Ref => TrapKind::NullReference,
        TrapCode::User(n) => return TrapKind::from_u8(u8::try_from(n).ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_trap_kind_survives_the_user_code_round_trip() {
        for kind in TrapKind::ALL {
            assert_eq!(trap_kind(user_trap(kind)), Some(kind));
        }
        assert_eq!(trap_kind(TrapCode::User(999)), None);
    }
}
