//! Mapping faulting program counters to wasm traps.
//!
//! Every loaded module registers the address range of its code together
//! with the trap sites the compiler recorded. The signal handler asks
//! [`trap_at`] whether a faulting instruction is one of them. Opt-tier
//! code records no sites: its traps are checks that call a builtin, but for
//! two kinds of fault, anywhere in its functions. A frame larger than the
//! stack check's headroom runs into the guard page below the stack, and a
//! guard-mode memory access (left unchecked, volatile) faults in the guard
//! of the memory's reservation. The compiler checks any access whose
//! offset could reach the last GiB of the reservation, so such a fault is
//! never within [`STACK_GUARD_WINDOW`] below a stack mapped above it, and
//! a stack mapped below lies below the whole reservation. So the faulting
//! address tells them apart.

use luge_abi::{FuncCode, Tier, TrapKind};
use std::sync::{Arc, RwLock};

/// Code of one loaded module: the functions' address ranges, sorted by
/// start address, and their trap sites.
pub struct CodeMap {
    start: usize,
    end: usize,
    /// `(start, end, index into the descriptor's code list)`, sorted.
    funcs: Vec<(usize, usize, usize)>,
    code: Vec<FuncCode>,
    tier: Tier,
}

/// How far below the lowest usable address of a stack a fault counts as
/// running out of that stack: a task stack's guard page, the gap the
/// kernel keeps below a thread's main stack (256 pages by default), with
/// room to spare.
const STACK_GUARD_WINDOW: usize = 4 << 20;

impl CodeMap {
    /// `starts[i]` is the address of defined function `i`, compiled by
    /// `tier`.
    pub fn new(starts: &[usize], code: &[FuncCode], tier: Tier) -> CodeMap {
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
            tier,
        }
    }

    fn contains(&self, pc: usize) -> bool {
        self.function_at(pc).is_some()
    }

    /// The compiled function `pc` lies in: its start address and its index
    /// into the descriptor's code list.
    fn function_at(&self, pc: usize) -> Option<(usize, usize)> {
        if pc < self.start || pc >= self.end {
            return None;
        }
        let i = self.funcs.partition_point(|f| f.0 <= pc).checked_sub(1)?;
        let (start, end, index) = self.funcs[i];
        (pc < end).then_some((start, index))
    }

    /// The trap of a fault at `pc` touching `address` (for faults of
    /// memory accesses), the stack's lowest usable address being what
    /// `stack_bottom` gives (asked for opt-tier code only).
    fn trap_at(
        &self,
        pc: usize,
        address: Option<usize>,
        stack_bottom: impl FnOnce() -> usize,
    ) -> Option<TrapKind> {
        let (start, index) = self.function_at(pc)?;
        if self.tier == Tier::Opt {
            let address = address?;
            let stack_bottom = stack_bottom();
            let in_stack_guard = address < stack_bottom
                && address >= stack_bottom.saturating_sub(STACK_GUARD_WINDOW);
            return Some(if in_stack_guard {
                TrapKind::StackOverflow
            } else {
                TrapKind::MemoryOutOfBounds
            });
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
pub fn trap_at(pc: usize, address: Option<usize>) -> Option<TrapKind> {
    let registry = REGISTRY.read().ok()?;
    // Cached per thread before guest code runs (the stack limit is set
    // from it), so asking here makes no system call.
    registry
        .iter()
        .find_map(|m| m.trap_at(pc, address, crate::sys::stack_bottom))
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
        let map = CodeMap::new(&[0x2000, 0x1000], &code, Tier::Fast);
        // The address a fast-tier fault touched does not matter.
        let at = |pc| map.trap_at(pc, Some(0x5000), || 0x8000);
        assert_eq!(at(0x2004), Some(TrapKind::Unreachable));
        assert_eq!(at(0x1000), Some(TrapKind::StackOverflow));
        assert_eq!(at(0x1008), Some(TrapKind::MemoryOutOfBounds));
        assert_eq!(at(0x1004), None);
        assert_eq!(at(0x1010), None, "past the end of the function");
        assert_eq!(at(0xfff), None);
        assert!(map.contains(0x1004) && map.contains(0x201f));
        assert!(!map.contains(0x1010) && !map.contains(0x2020) && !map.contains(0xfff));
    }

    #[test]
    fn opt_tier_faults_are_told_apart_by_the_address_they_touch() {
        let code = vec![FuncCode {
            size: 32,
            traps: vec![],
        }];
        let opt = CodeMap::new(&[0x1000], &code, Tier::Opt);
        let bottom = 0x7000_0000;
        let at = |pc, address| opt.trap_at(pc, Some(address), || bottom);
        // The guard page just below the stack, and the main thread's gap.
        assert_eq!(at(0x1004, bottom - 8), Some(TrapKind::StackOverflow));
        assert_eq!(
            at(0x101f, bottom - (1 << 20)),
            Some(TrapKind::StackOverflow)
        );
        // Anything else is a memory's guard: far below, or above the stack.
        assert_eq!(
            at(0x1004, bottom - (1 << 30)),
            Some(TrapKind::MemoryOutOfBounds)
        );
        assert_eq!(at(0x1004, bottom), Some(TrapKind::MemoryOutOfBounds));
        assert_eq!(
            at(0x1004, bottom + (6 << 30)),
            Some(TrapKind::MemoryOutOfBounds)
        );
        assert_eq!(at(0x1020, bottom - 8), None, "past the end of the function");
        // An illegal instruction or arithmetic fault is no memory access.
        assert_eq!(opt.trap_at(0x1004, None, || bottom), None);
    }
}
