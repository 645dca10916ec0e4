//! Process-wide canonical ids of function signatures, so that
//! `call_indirect` can compare signatures across modules with one integer
//! comparison.

use luge_abi::FuncType;
use std::collections::HashMap;
use std::sync::Mutex;

static IDS: Mutex<Option<HashMap<FuncType, u64>>> = Mutex::new(None);

/// The id of `ty`; equal types get equal ids. Ids start at 1 so that a
/// zeroed context never matches a real signature.
pub fn canonical_type_id(ty: &FuncType) -> u64 {
    let mut ids = IDS.lock().unwrap();
    let ids = ids.get_or_insert_with(HashMap::new);
    let next = ids.len() as u64 + 1;
    *ids.entry(ty.clone()).or_insert(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use luge_abi::ValType;

    #[test]
    fn equal_types_share_an_id() {
        let a = FuncType {
            params: vec![ValType::I32],
            results: vec![],
        };
        let b = FuncType {
            params: vec![ValType::I64],
            results: vec![],
        };
        assert_eq!(canonical_type_id(&a), canonical_type_id(&a.clone()));
        assert_ne!(canonical_type_id(&a), canonical_type_id(&b));
        assert_ne!(canonical_type_id(&a), 0);
    }
}
