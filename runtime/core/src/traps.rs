//! Mapping faulting program counters to wasm traps.
//!
//! Every loaded module registers the address range of its code together
//! with the trap sites the compiler recorded. The signal handler asks
//! [`trap_at`] whether a faulting instruction is one of them.

use luge_abi::{FuncCode, TrapKind};
use std::sync::{Arc, RwLock};

/// Code of one loaded module: the functions' address ranges, sorted by
/// start address, and their trap sites.
pub struct CodeMap {
    start: usize,
    end: usize,
    /// `(start, end, index into the descriptor's code list)`, sorted.
    funcs: Vec<(usize, usize, usize)>,
    code: Vec<FuncCode>,
}

impl CodeMap {
    /// `starts[i]` is the address of defined function `i`.
    pub fn new(starts: &[usize], code: &[FuncCode]) -> CodeMap {
        let mut funcs: Vec<_> = starts
            .iter()
            .zip(code)
            .enumerate()
            .map(|(i, (&start, c))| (start, start + c.size as usize, i))
            .collect();
        funcs.sort_unstable();
        CodeMap {
            start: funcs.first().map_or(0, |f| f.0),
            end: funcs.iter().map(|f| f.1).max().unwrap_or(0),
            funcs,
            code: code.to_vec(),
        }
    }

    fn contains(&self, pc: usize) -> bool {
        if pc < self.start || pc >= self.end {
            return false;
        }
        let i = self.funcs.partition_point(|f| f.0 <= pc);
        i > 0 && pc < self.funcs[i - 1].1
    }

    fn trap_at(&self, pc: usize) -> Option<TrapKind> {
        if pc < self.start || pc >= self.end {
            return None;
        }
        let i = self.funcs.partition_point(|f| f.0 <= pc).checked_sub(1)?;
        let (start, end, index) = self.funcs[i];
        if pc >= end {
            return None;
        }
        let offset = (pc - start) as u32;
        let traps = &self.code[index].traps;
        traps
            .binary_search_by_key(&offset, |t| t.offset)
            .ok()
            .map(|j| traps[j].kind)
    }
}

static REGISTRY: RwLock<Vec<Arc<CodeMap>>> = RwLock::new(Vec::new());

pub fn register(map: Arc<CodeMap>) {
    REGISTRY.write().unwrap().push(map);
}

pub fn unregister(map: &Arc<CodeMap>) {
    REGISTRY.write().unwrap().retain(|m| !Arc::ptr_eq(m, map));
}

/// The trap raised by the instruction at `pc`, if it is a recorded trap
/// site of loaded code. Called from the signal handler: it only reads.
pub fn trap_at(pc: usize) -> Option<TrapKind> {
    let registry = REGISTRY.read().ok()?;
    registry.iter().find_map(|m| m.trap_at(pc))
}

/// Whether `pc` lies inside a compiled function of a loaded module. Called
/// from the preemption signal handler: it only reads.
pub fn in_compiled_code(pc: usize) -> bool {
    REGISTRY
        .read()
        .is_ok_and(|registry| registry.iter().any(|m| m.contains(pc)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use luge_abi::TrapSite;

    #[test]
    fn finds_exact_trap_sites_only() {
        let code = vec![
            FuncCode {
                size: 32,
                traps: vec![TrapSite {
                    offset: 4,
                    kind: TrapKind::Unreachable,
                }],
            },
            FuncCode {
                size: 16,
                traps: vec![
                    TrapSite {
                        offset: 0,
                        kind: TrapKind::StackOverflow,
                    },
                    TrapSite {
                        offset: 8,
                        kind: TrapKind::MemoryOutOfBounds,
                    },
                ],
            },
        ];
        let map = CodeMap::new(&[0x2000, 0x1000], &code);
        assert_eq!(map.trap_at(0x2004), Some(TrapKind::Unreachable));
        assert_eq!(map.trap_at(0x1000), Some(TrapKind::StackOverflow));
        assert_eq!(map.trap_at(0x1008), Some(TrapKind::MemoryOutOfBounds));
        assert_eq!(map.trap_at(0x1004), None);
        assert_eq!(map.trap_at(0x1010), None, "past the end of the function");
        assert_eq!(map.trap_at(0xfff), None);
        assert!(map.contains(0x1004) && map.contains(0x201f));
        assert!(!map.contains(0x1010) && !map.contains(0x2020) && !map.contains(0xfff));
    }
}
