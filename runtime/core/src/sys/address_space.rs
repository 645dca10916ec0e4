//! How much virtual address space this process has, and whether the
//! bounds mode of the modules it runs fits in it.
//!
//! Every linear memory reserves its whole reachable range up front
//! (memories never move): 6 GiB in `guard` mode; in `software` mode its
//! limit rounded up to a power of two, 4 GiB without one, and a 64 KiB
//! guard. An x86_64 or 48-bit aarch64 kernel gives user space 128 or
//! 256 TiB, room for tens of thousands of such reservations. Many ARM
//! boards run kernels configured for 39-bit virtual addresses: 512 GiB,
//! where guard reservations run out after a few dozen sandboxes. `luge run`
//! and `luge serve` check this at start and say which mode fits, and
//! `luge serve` moves a guard-mode function's new sandboxes to its
//! software-bounds build once guard memories have taken their share
//! ([`guard_space_left`]).

use crate::memory::reservation_size;
use luge_abi::{BoundsMode, GUARD_RESERVATION, WASM_MAX_PAGES};
use luge_region::{page_size, Region};
use rustix::process::{getrlimit, Resource};
use std::fmt;
use std::sync::OnceLock;

/// Share of the address space, in halves, that linear memories may count
/// on: the rest holds the program, its libraries, heap and stacks, and
/// the kernel does not pack reservations perfectly.
const USABLE_SHIFT: u32 = 1;

/// Fewest memories a bounds mode must have room for before Luge stops
/// recommending it: a busy edge box runs hundreds of sandboxes at once.
pub const MIN_MEMORIES: u64 = 1024;

/// Address space a memory of `mode` reserves at most (without a limit).
fn largest_reservation(mode: BoundsMode) -> u64 {
    reservation_size(mode, WASM_MAX_PAGES as u32)
}

/// How many memories of `mode` without a memory limit fit in a
/// `va_bits`-bit user address space.
pub fn memories_fitting(va_bits: u32, mode: BoundsMode) -> u64 {
    let usable = 1u64 << va_bits.saturating_sub(USABLE_SHIFT).min(63);
    usable / largest_reservation(mode)
}

/// Advice for a user whose modules use `guard` bounds where that leaves
/// room for fewer than [`MIN_MEMORIES`] sandboxes. (`software` bounds never
/// reserve more than `guard`, so they are the only alternative.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundsAdvice {
    pub va_bits: u32,
    /// Guard-mode memories that fit.
    pub guard: u64,
    /// Software-mode memories without a memory limit that fit.
    pub software: u64,
}

/// What to tell a user who asked for `requested` bounds in a `va_bits`-bit
/// address space: `None` when it leaves room for enough sandboxes, or for
/// `software` bounds, which nothing beats.
pub fn bounds_advice(va_bits: u32, requested: BoundsMode) -> Option<BoundsAdvice> {
    let guard = memories_fitting(va_bits, BoundsMode::Guard);
    (requested == BoundsMode::Guard && guard < MIN_MEMORIES).then(|| BoundsAdvice {
        va_bits,
        guard,
        software: memories_fitting(va_bits, BoundsMode::Software),
    })
}

impl fmt::Display for BoundsAdvice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "this kernel gives processes a {}-bit ({} GiB) address space: room for only \
             about {} sandboxes at once with `guard` bounds ({} GiB reserved each); \
             `software` bounds fit about {} without a memory limit and many more with one, \
             since each reserves only its limit (luge run --bounds software --memory-limit \
             MIB, or \"bounds\": \"software\" and \"memory-limit-mib\" in a serve route)",
            self.va_bits,
            (1u64 << self.va_bits.min(63)) >> 30,
            self.guard,
            largest_reservation(BoundsMode::Guard) >> 30,
            self.software,
        )
    }
}

/// Widest user address space [`user_va_bits`] looks for: 48 bits (x86_64's
/// 5-level paging and aarch64's 52-bit mode only hand out higher addresses
/// to a program that asks for them, and Luge's reservations do not).
const MAX_VA_BITS: u32 = 48;
/// Narrowest it looks for.
const MIN_VA_BITS: u32 = 32;

/// Bits of user virtual address space this process has, found by asking
/// the kernel for a page at addresses near the top of each candidate size
/// (a mapping hint is honoured only where the address space reaches).
/// Asking works where reading the highest mapping in `/proc/self/maps`
/// does not: under qemu-user the stack sits low while the host's whole
/// address space is available.
pub fn user_va_bits() -> Option<u32> {
    va_bits_by_probing(|hint| {
        Region::reserve_near(hint as *mut u8, page_size())
            .is_ok_and(|page| page.base() as u64 == hint)
    })
}

/// The widest address space, in bits, in which `maps_at(address)` says a
/// page can be placed at three quarters of its size: above every narrower
/// space, and far enough below the top that the stack and libraries (which
/// the kernel places there) do not get in the way.
pub fn va_bits_by_probing(mut maps_at: impl FnMut(u64) -> bool) -> Option<u32> {
    (MIN_VA_BITS..=MAX_VA_BITS)
        .rev()
        .find(|&bits| maps_at(3 << (bits - 2)))
}

/// The address space this process may reserve: its user address space,
/// or its `RLIMIT_AS` where that is lower. Found once.
pub fn process_address_space() -> u64 {
    static SIZE: OnceLock<u64> = OnceLock::new();
    *SIZE.get_or_init(|| {
        let space = 1u64 << user_va_bits().unwrap_or(MAX_VA_BITS - 1);
        getrlimit(Resource::As)
            .current
            .map_or(space, |limit| limit.min(space))
    })
}

/// Whether the process has room for one more guard-mode memory within
/// the share of its address space guard memories may take: half of it
/// ([`USABLE_SHIFT`]) held by every region (memories of both modes,
/// stacks) together. The other half stays for what no guard memory may
/// crowd out: software-bounds memories, each a few hundred MiB at most
/// where routes set memory limits, which is how `luge serve` keeps
/// sandboxes coming once guard memories have had their share (100,000
/// sandboxes of 256 MiB fit in 25 TiB; guard memories at 6 GiB each fit
/// about 21,000 in all of x86_64's 128 TiB), and the program's own heap,
/// stacks and code. The kernel may still refuse a reservation this allows
/// (other mappings, fragmentation), which `luge serve` meets the same way.
pub fn guard_space_left() -> bool {
    fits_another(luge_region::reserved(), process_address_space())
}

/// Whether a guard reservation fits beside `reserved` bytes in the share
/// of `space` guard memories may take.
fn fits_another(reserved: u64, space: u64) -> bool {
    reserved.saturating_add(GUARD_RESERVATION) <= space >> USABLE_SHIFT
}

/// Of their share, what guard memories have left when they are running
/// low: a quarter (about 2,700 memories on x86_64).
const LOW_SHIFT: u32 = 2;

/// Whether guard memories are running low on address space: less than a
/// quarter of their share ([`guard_space_left`]) is left. `luge serve`
/// builds its software-bounds fallbacks then, ahead of need, so that no
/// call waits for a compile once guard memories have no room at all.
pub fn guard_space_low() -> bool {
    runs_low(luge_region::reserved(), process_address_space())
}

/// Whether, beside `reserved` bytes, a quarter of the share of `space`
/// guard memories may take would leave no room for another.
fn runs_low(reserved: u64, space: u64) -> bool {
    let quarter = (space >> USABLE_SHIFT) >> LOW_SHIFT;
    !fits_another(reserved.saturating_add(quarter), space)
}

/// The advice for `mode` on this machine, if it needs any.
pub fn advice_for(mode: BoundsMode) -> Option<BoundsAdvice> {
    bounds_advice(user_va_bits()?, mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn va_bits_are_those_of_the_highest_address_the_kernel_hands_out() {
        for bits in [39, 42, 47, 48] {
            let limit = 1u64 << bits;
            assert_eq!(
                va_bits_by_probing(|addr| addr < limit),
                Some(bits),
                "{bits}"
            );
        }
        assert_eq!(va_bits_by_probing(|addr| addr < 1 << 60), Some(48));
        assert_eq!(va_bits_by_probing(|_| false), None);
    }

    #[test]
    fn this_process_has_a_plausible_address_space() {
        let bits = user_va_bits().expect("some address space can be mapped");
        assert!((36..=MAX_VA_BITS).contains(&bits), "{bits} bits");
    }

    #[test]
    fn guard_bounds_are_advised_against_on_39_bits_only() {
        let advice = bounds_advice(39, BoundsMode::Guard).expect("39 bits is too small");
        // 256 GiB usable / 6 GiB = 42 guard memories, / 4 GiB 64 KiB = 63 software.
        assert_eq!(
            advice,
            BoundsAdvice {
                va_bits: 39,
                guard: 42,
                software: 63
            }
        );
        let text = advice.to_string();
        for needle in [
            "39-bit",
            "512 GiB",
            "about 42 sandboxes at once with `guard`",
            "`software` bounds fit about 63",
            "--bounds software --memory-limit",
        ] {
            assert!(text.contains(needle), "{needle:?} missing in: {text}");
        }
        // 47-bit x86_64 and 48-bit aarch64 have room for thousands.
        assert_eq!(bounds_advice(47, BoundsMode::Guard), None);
        assert_eq!(bounds_advice(48, BoundsMode::Guard), None);
    }

    #[test]
    fn guard_memories_take_at_most_half_the_address_space() {
        let tib = 1u64 << 40;
        // x86_64: 128 TiB, 64 TiB for guard memories, 6 GiB each.
        let space = 128 * tib;
        assert!(fits_another(0, space));
        assert!(fits_another(64 * tib - GUARD_RESERVATION, space));
        assert!(!fits_another(64 * tib - GUARD_RESERVATION + 1, space));
        // An RLIMIT_AS of 3 GiB leaves room for none.
        assert!(!fits_another(0, 3 << 30));
        assert!(!fits_another(u64::MAX, space));
    }

    #[test]
    fn guard_space_runs_low_with_a_quarter_of_its_share_left() {
        let tib = 1u64 << 40;
        let space = 128 * tib;
        assert!(!runs_low(0, space));
        assert!(!runs_low(48 * tib - GUARD_RESERVATION, space));
        assert!(runs_low(48 * tib - GUARD_RESERVATION + 1, space));
        // Space that has no room runs low from the start.
        assert!(runs_low(0, 3 << 30) && !fits_another(0, 3 << 30));
        assert!(runs_low(u64::MAX, space));
    }

    #[test]
    fn this_process_may_reserve_guard_memories() {
        let space = process_address_space();
        assert!(space >= 1 << 36, "{space} bytes of address space");
        assert!(guard_space_left());
    }

    #[test]
    fn software_bounds_need_no_advice() {
        // 63 unlimited software memories (4 GiB and a 64 KiB guard each)
        // on 39 bits are few, but guard bounds would fit fewer still.
        assert_eq!(memories_fitting(39, BoundsMode::Software), 63);
        assert_eq!(bounds_advice(39, BoundsMode::Software), None);
        assert_eq!(bounds_advice(47, BoundsMode::Software), None);
    }
}
