//! Loop versioning: a second copy of an innermost loop in which memory
//! accesses are plain loads and stores, entered after one check before
//! the loop.
//!
//! In the ordinary copy a guard-mode access is volatile and its address is
//! Wasm's: a 32-bit sum that may wrap, zero-extended. Volatile accesses
//! cannot be vectorized or hoisted, and a wrapping 32-bit sum hides the
//! loop's stride from LLVM's analyses. Both are needed only where an
//! access may fault or wrap. For a loop whose every address is an affine
//! function of the iteration count (a sum of constants and of locals that
//! stay fixed or step by a constant each pass), the check before the loop
//! computes how many passes `M` keep every access in bounds and every
//! address below 2^32. The second copy runs at most `M` passes, with each
//! address computed in 64 bits as `start + k * stride` from the pass
//! count `k`: nothing in it can fault, so plain accesses are exact. If the
//! loop wants more passes than `M`, it goes on in the ordinary copy, from
//! the same state (locals live in slots), where the access that is out of
//! bounds traps precisely as it would have.
//!
//! Why the addresses are right: every operation the analysis follows
//! (`add`, `sub`, `mul` and `shl` by a constant) is exact modulo 2^32, so
//! Wasm's 32-bit address equals the 64-bit affine value modulo 2^32; the
//! check keeps that value in `[0, length - size]` for every pass run here,
//! where the two are equal.
//!
//! Only loops of the simplest shape are versioned: empty block type, no
//! nested control (straight-line body), no calls, and one back edge, the
//! `br_if 0` that ends the body. That is the shape of the innermost loops
//! of numeric code as clang emits it.

use super::{Emitter, Value, UNCHECKED_OFFSET};
use crate::error::CompileError;
use luge_abi::{BoundsMode, ValType};
use std::collections::BTreeMap;
use wasmparser::{BlockType, Operator};

/// The largest coefficient of a local, and of a stride, that the analysis
/// keeps: far above any array row, and small enough that a few passes
/// run speculatively past `M` stay within the guard region.
const MAX_SCALE: i64 = 1 << 20;
/// The most locals one address may depend on; with [`MAX_SCALE`] this
/// keeps the 64-bit sums of the check far from overflowing.
const MAX_TERMS: usize = 8;
/// `M` for a loop whose accesses do not move: any count will do.
const UNBOUNDED: i64 = 1 << 62;

/// An i32 value as `constant + sum(coefficient * local)`, where `local` is
/// the value a local held at the start of the current pass, read as
/// unsigned. Constants and coefficients are kept modulo 2^32, in the
/// signed range.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(super) struct Affine {
    constant: i64,
    terms: BTreeMap<u32, i64>,
}

impl Affine {
    fn constant(value: i64) -> Option<Affine> {
        Affine {
            constant: value,
            terms: BTreeMap::new(),
        }
        .normalized()
    }

    fn local(index: u32) -> Affine {
        Affine {
            constant: 0,
            terms: BTreeMap::from([(index, 1)]),
        }
    }

    /// Reduces modulo 2^32 into the signed range; `None` past the limits.
    fn normalized(mut self) -> Option<Affine> {
        self.constant = i64::from(self.constant as i32);
        for c in self.terms.values_mut() {
            *c = i64::from(*c as i32);
        }
        self.terms.retain(|_, c| *c != 0);
        let small = self.terms.values().all(|c| c.abs() <= MAX_SCALE);
        (small && self.terms.len() <= MAX_TERMS).then_some(self)
    }

    fn plus(&self, other: &Affine, sign: i64) -> Option<Affine> {
        let mut sum = self.clone();
        sum.constant += sign * other.constant;
        for (&l, &c) in &other.terms {
            *sum.terms.entry(l).or_insert(0) += sign * c;
        }
        sum.normalized()
    }

    fn times(&self, factor: i64) -> Option<Affine> {
        let factor = i64::from(factor as i32);
        let mut product = self.clone();
        product.constant = product.constant.wrapping_mul(factor);
        for c in product.terms.values_mut() {
            *c = c.wrapping_mul(factor);
        }
        product.normalized()
    }

    /// The locals and their coefficients, without the constant.
    fn linear(&self) -> Vec<(u32, i64)> {
        self.terms.iter().map(|(&l, &c)| (l, c)).collect()
    }

    fn as_constant(&self) -> Option<i64> {
        self.terms.is_empty().then_some(self.constant)
    }
}

/// The index of the `end` of the loop opened at `ops[start]` if the loop
/// has the shape this pass versions (see the module's comment).
pub(super) fn straight_line_loop(ops: &[(usize, Operator)], start: usize) -> Option<usize> {
    use Operator as O;
    if !matches!(
        ops[start].1,
        O::Loop {
            blockty: BlockType::Empty
        }
    ) {
        return None;
    }
    for (i, (_, op)) in ops.iter().enumerate().skip(start + 1) {
        match op {
            O::End => {
                let last = i.checked_sub(1).map(|j| &ops[j].1);
                return matches!(last, Some(O::BrIf { relative_depth: 0 })).then_some(i);
            }
            O::BrIf { relative_depth: 0 } if matches!(ops.get(i + 1), Some((_, O::End))) => {}
            O::Block { .. }
            | O::Loop { .. }
            | O::If { .. }
            | O::Else
            | O::Br { .. }
            | O::BrIf { .. }
            | O::BrTable { .. }
            | O::Return
            | O::Unreachable
            | O::Call { .. }
            | O::CallIndirect { .. }
            | O::ReturnCall { .. }
            | O::ReturnCallIndirect { .. }
            | O::MemoryGrow { .. }
            | O::MemoryCopy { .. }
            | O::MemoryFill { .. }
            | O::MemoryInit { .. }
            | O::TableCopy { .. }
            | O::TableFill { .. }
            | O::TableInit { .. }
            | O::TableGrow { .. }
            | O::Try { .. }
            | O::TryTable { .. }
            | O::Throw { .. }
            | O::ThrowRef
            | O::Rethrow { .. }
            | O::Delegate { .. }
            | O::Catch { .. }
            | O::CatchAll => return None,
            _ => {}
        }
    }
    None
}

/// One access of the loop, as the analysis saw it.
struct Seen {
    index: Option<Affine>,
    offset: u64,
    size: u64,
}

/// What the analysis follows while the loop's ordinary copy is translated.
pub(super) struct Tracker {
    /// The loop's `loop` and `end` among the function's operators.
    pub(super) start: usize,
    pub(super) end: usize,
    /// Where in the function's IR the check goes: just before the loop.
    pub(super) mark: usize,
    /// The ordinary copy's header, where the second copy goes on.
    pub(super) header: String,
    /// The value of each local the pass has set so far, in terms of the
    /// values at the pass's start; `None` for values the analysis does
    /// not follow. (Sparse: a loop costs what its body sets, not what
    /// the function declares.)
    set: BTreeMap<u32, Option<Affine>>,
    seen: Vec<Seen>,
}

impl Tracker {
    pub(super) fn new(start: usize, end: usize, mark: usize) -> Tracker {
        Tracker {
            start,
            end,
            mark,
            header: String::new(),
            set: BTreeMap::new(),
            seen: Vec::new(),
        }
    }

    /// Follows `op`, about to be translated with `stack` as its operands
    /// and `locals` as the function's locals: updates the locals it sets,
    /// and returns what it pushes if that is affine.
    pub(super) fn before(
        &mut self,
        op: &Operator,
        stack: &[Value],
        locals: &[(ValType, String)],
    ) -> Option<Affine> {
        use Operator as O;
        let top = |n: usize| stack[stack.len() - n].affine.as_ref();
        let both = || Some((top(2)?, top(1)?));
        match *op {
            O::LocalGet { local_index } => match self.set.get(&local_index) {
                Some(now) => now.clone(),
                None => (locals[local_index as usize].0 == ValType::I32)
                    .then(|| Affine::local(local_index)),
            },
            O::LocalSet { local_index } => {
                self.set.insert(local_index, top(1).cloned());
                None
            }
            O::LocalTee { local_index } => {
                self.set.insert(local_index, top(1).cloned());
                top(1).cloned()
            }
            O::I32Const { value } => Affine::constant(i64::from(value)),
            O::I32Add => both().and_then(|(a, b)| a.plus(b, 1)),
            O::I32Sub => both().and_then(|(a, b)| a.plus(b, -1)),
            O::I32Mul => both().and_then(|(a, b)| match (a.as_constant(), b.as_constant()) {
                (_, Some(c)) => a.times(c),
                (Some(c), _) => b.times(c),
                _ => None,
            }),
            O::I32Shl => both()
                .and_then(|(a, b)| Some((a, b.as_constant()?)))
                .and_then(|(a, s)| a.times(1 << (s & 31))),
            _ => None,
        }
    }

    /// Records an access at `index` plus `offset`, of `size` bytes.
    pub(super) fn access(&mut self, index: Option<&Affine>, offset: u64, size: u64) {
        self.seen.push(Seen {
            index: index.cloned(),
            offset,
            size,
        });
    }

    /// The plan for the second copy, once the whole body has been seen,
    /// or `None` if some address is not affine in the pass count.
    pub(super) fn plan(&self) -> Option<Vec<Planned>> {
        // A local is an induction variable if a pass adds a constant to it
        // (0 for those it leaves alone).
        let step = |l: u32| -> Option<i64> {
            let Some(now) = self.set.get(&l) else {
                return Some(0);
            };
            let now = now.as_ref()?;
            let unit = now.terms.len() == 1 && now.terms.get(&l) == Some(&1);
            unit.then_some(now.constant)
        };
        if self.seen.is_empty() {
            return None;
        }
        self.seen
            .iter()
            .map(|s| {
                let index = s.index.clone()?;
                let mut stride = 0i64;
                for (&l, &c) in &index.terms {
                    stride += c * step(l)?;
                }
                // The offset bound keeps a mispredicted entry inside
                // the reservation (see [`Emitter::check`]).
                let near = s.offset <= UNCHECKED_OFFSET;
                (near && (0..=MAX_SCALE).contains(&stride)).then_some(Planned {
                    index,
                    offset: s.offset,
                    size: s.size,
                    stride,
                })
            })
            .collect()
    }
}

/// One access of the second copy: its address at pass `k` is
/// `index + offset + k * stride`, `index` valued at the loop's entry.
pub(super) struct Planned {
    index: Affine,
    offset: u64,
    size: u64,
    stride: i64,
}

/// Where one access of the second copy starts: `distance` bytes past the
/// base of its group (an IR pointer), moving by `stride` each pass.
#[derive(Clone)]
struct Start {
    base: String,
    distance: i64,
    stride: i64,
}

/// The state of the second copy while it is translated.
pub(super) struct Fast {
    /// Where each access starts, in the order the body makes them.
    starts: Vec<Start>,
    next: usize,
    /// The pass count's slot, and `M`.
    pass: String,
    limit: String,
    /// The ordinary copy's header, where passes past `M` go on.
    header: String,
}

impl Emitter<'_, '_> {
    /// Whether this function's loops are versioned at all: not at `-O0`
    /// (nothing would use it), and in software bounds only without
    /// Spectre guards. (Past `M`, a mispredicted back edge runs a few
    /// passes speculatively, a few strides past the end: guard mode's
    /// reservation contains them, software mode's small guard may not.)
    pub(super) fn versioning_enabled(&self) -> bool {
        self.cx.opts.opt == crate::OptLevel::Speed
            && (self.cx.opts.bounds == BoundsMode::Guard || !self.cx.opts.spectre)
    }

    /// Translates `ops`, the function's operators, versioning the loops
    /// it can.
    pub(super) fn translate_ops(&mut self, ops: &[(usize, Operator)]) -> Result<(), CompileError> {
        let versioning = self.versioning_enabled();
        for (i, (offset, op)) in ops.iter().enumerate() {
            self.offset = *offset;
            if versioning && self.reachable && self.tracker.is_none() {
                if let Some(end) = straight_line_loop(ops, i) {
                    self.tracker = Some(Tracker::new(i, end, self.body.len()));
                }
            }
            let pushed = match &mut self.tracker {
                Some(t) if self.reachable => t.before(op, &self.stack, &self.locals),
                _ => None,
            };
            self.operator(op.clone())?;
            if pushed.is_some() {
                self.stack.last_mut().expect("the operator pushed").affine = pushed;
            }
            match &mut self.tracker {
                Some(t) if t.start == i => {
                    t.header = self.frames.last().expect("the loop's frame").target.clone();
                }
                Some(t) if t.end == i => {
                    let t = self.tracker.take().expect("matched");
                    if let Some(plan) = t.plan() {
                        self.second_copy(ops, &t, &plan)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Emits the check before the loop the tracker `t` followed, and the
    /// loop's second copy; the ordinary copy has just been translated.
    fn second_copy(
        &mut self,
        ops: &[(usize, Operator)],
        t: &Tracker,
        plan: &[Planned],
    ) -> Result<(), CompileError> {
        let fast = self.label("fast");
        let ordinary = self.label("ordinary");
        let join = self.label("join");
        // The check, spliced in before the ordinary copy's first branch.
        let after = std::mem::take(&mut self.body);
        let (limit, starts) = self.check(plan, &fast, &ordinary);
        self.start_block(&ordinary);
        let check = std::mem::replace(&mut self.body, after);
        self.body.insert_str(t.mark, &check);
        // The ordinary copy falls through to the join.
        self.line(format_args!("br label %{join}"));
        self.start_block(&fast);
        let pass = self.alloca("i64");
        self.line(format_args!("store i64 0, ptr {pass}"));
        // The loop takes and leaves nothing, so the operand stack is as it
        // was before the ordinary copy.
        self.fast = Some(Fast {
            starts,
            next: 0,
            pass,
            limit,
            header: t.header.clone(),
        });
        for (offset, op) in &ops[t.start..=t.end] {
            self.offset = *offset;
            self.operator(op.clone())?;
        }
        self.fast = None;
        self.line(format_args!("br label %{join}"));
        self.start_block(&join);
        Ok(())
    }

    /// Emits the check before the loop: `M`, the number of passes that
    /// keep every access of `plan` in bounds, and a branch to `fast` if it
    /// is not 0, else to `ordinary`. Returns `M` and each access's address
    /// at pass 0 for the second copy.
    ///
    /// Accesses whose addresses have the same locals with the same
    /// coefficients share one base, `sum(coefficient * local)` plus the
    /// least of their constants, and differ from it by a constant, so
    /// that LLVM sees a load and a store of one element as one address.
    ///
    /// Each base is clamped, branch-free, to at most 2^32 minus the
    /// farthest end of its group's accesses, which no base the check
    /// lets through exceeds: whatever the CPU mispredicts (the branch to
    /// the second copy, or a select computing `M`), the second copy then
    /// reads below `max(4 GiB, that end)`, under 5 GiB (a 32-bit constant
    /// difference and an offset of at most 1 GiB), plus a few strides:
    /// inside guard mode's reservation, whatever `--spectre` says.
    ///
    /// Each group's base pointer passes through an empty `asm`, so that
    /// LLVM takes the groups for distinct objects, as it takes distinct
    /// arrays in C: it then checks at run time whether two groups overlap
    /// and works out the distances within each. (With one object for all,
    /// one distance it cannot work out, between two groups, makes it
    /// check every pair of accesses at run time, the load and the store
    /// of one element too, and fall back to the scalar loop.)
    fn check(&mut self, plan: &[Planned], fast: &str, ordinary: &str) -> (String, Vec<Start>) {
        let length = self.memory_length();
        let mut entry = BTreeMap::new();
        let mut bases: BTreeMap<Vec<(u32, i64)>, (String, i64)> = BTreeMap::new();
        for p in plan {
            let key = p.index.linear();
            if let Some((_, least)) = bases.get_mut(&key) {
                *least = (*least).min(p.index.constant);
                continue;
            }
            let mut sum = "0".to_owned();
            for &(l, c) in &key {
                let value = match entry.get(&l) {
                    Some(v) => String::clone(v),
                    None => {
                        let slot = self.locals[l as usize].1.clone();
                        let v = self.emit(format_args!("load i32, ptr {slot}"));
                        let wide = self.emit(format_args!("zext i32 {v} to i64"));
                        entry.insert(l, wide.clone());
                        wide
                    }
                };
                let term = self.emit(format_args!("mul i64 {value}, {c}"));
                sum = self.emit(format_args!("add i64 {sum}, {term}"));
            }
            bases.insert(key, (sum, p.index.constant));
        }
        let mut limit = UNBOUNDED.to_string();
        for p in plan {
            let key = p.index.linear();
            let sum = &bases[&key].0;
            // Wasm's index at pass 0 must be in [0, 2^32), which the
            // bound on the access's end below keeps it under.
            let index = self.emit(format_args!("add i64 {sum}, {}", p.index.constant));
            let start = self.emit(format_args!("add i64 {index}, {}", p.offset));
            // The last address the access may start at.
            let last = self.emit(format_args!("sub i64 {length}, {}", p.size));
            let low = self.emit(format_args!("icmp sge i64 {index}, 0"));
            let high = self.emit(format_args!("icmp sle i64 {start}, {last}"));
            let ok = self.emit(format_args!("and i1 {low}, {high}"));
            let passes = if p.stride == 0 {
                UNBOUNDED.to_string()
            } else {
                let room = self.emit(format_args!("sub i64 {last}, {start}"));
                let more = self.emit(format_args!("udiv i64 {room}, {}", p.stride));
                self.emit(format_args!("add i64 {more}, 1"))
            };
            let mine = self.emit(format_args!("select i1 {ok}, i64 {passes}, i64 0"));
            let fewer = self.emit(format_args!("icmp ult i64 {mine}, {limit}"));
            limit = self.emit(format_args!("select i1 {fewer}, i64 {mine}, i64 {limit}"));
        }
        let none = self.emit(format_args!("icmp eq i64 {limit}, 0"));
        let mut farthest: BTreeMap<Vec<(u32, i64)>, i64> = BTreeMap::new();
        for p in plan {
            let end = p.index.constant + (p.offset + p.size) as i64;
            let far = farthest.entry(p.index.linear()).or_insert(end);
            *far = (*far).max(end);
        }
        let mut guarded = BTreeMap::new();
        for (key, (sum, least)) in &bases {
            let base = self.emit(format_args!("add i64 {sum}, {least}"));
            let cap = ((1i64 << 32) - (farthest[key] - least)).max(0);
            let below = self.emit(format_args!("icmp ult i64 {base}, {cap}"));
            let base = self.emit(format_args!("select i1 {below}, i64 {base}, i64 {cap}"));
            let at = self.emit(format_args!(
                "getelementptr inbounds i8, ptr %membase, i64 {base}"
            ));
            let object = self.emit(format_args!("call ptr asm \"\", \"=r,0\"(ptr {at})"));
            guarded.insert(key.clone(), (object, *least));
        }
        let starts = plan
            .iter()
            .map(|p| {
                let (base, least) = &guarded[&p.index.linear()];
                Start {
                    base: base.clone(),
                    distance: p.index.constant - least + p.offset as i64,
                    stride: p.stride,
                }
            })
            .collect();
        self.line(format_args!(
            "br i1 {none}, label %{ordinary}, label %{fast}"
        ));
        (limit, starts)
    }

    /// In the second copy: the next access's address, which the check
    /// before the loop proved in bounds.
    pub(super) fn fast_address(&mut self) -> Option<String> {
        let fast = self.fast.as_mut()?;
        let start = fast.starts[fast.next].clone();
        fast.next += 1;
        let pass = fast.pass.clone();
        self.pop();
        let k = self.emit(format_args!("load i64, ptr {pass}"));
        let step = self.emit(format_args!("mul nuw nsw i64 {k}, {}", start.stride));
        let at = self.emit(format_args!("add nuw nsw i64 {step}, {}", start.distance));
        // `inbounds`: the address is inside the memory, which LLVM needs
        // to know to work out a stride that does not wrap.
        Some(self.emit(format_args!(
            "getelementptr inbounds i8, ptr {}, i64 {at}",
            start.base
        )))
    }

    /// In the second copy: its back edge, taken while the loop wants
    /// another pass and fewer than `M` have run; past `M` the loop goes on
    /// in the ordinary copy.
    pub(super) fn fast_back_edge(&mut self) {
        let fast = self.fast.as_ref().expect("in the second copy");
        let (pass, limit, header) = (fast.pass.clone(), fast.limit.clone(), fast.header.clone());
        let again = self.frames.last().expect("the loop's frame").target.clone();
        let c = self.pop();
        let wants = self.emit(format_args!("icmp ne i32 {}, 0", c.name));
        let k = self.emit(format_args!("load i64, ptr {pass}"));
        let next = self.emit(format_args!("add nuw nsw i64 {k}, 1"));
        self.line(format_args!("store i64 {next}, ptr {pass}"));
        let room = self.emit(format_args!("icmp ult i64 {next}, {limit}"));
        let both = self.emit(format_args!("and i1 {wants}, {room}"));
        let out = self.label("out");
        let done = self.label("done");
        self.line(format_args!("br i1 {both}, label %{again}, label %{out}"));
        self.start_block(&out);
        self.line(format_args!(
            "br i1 {wants}, label %{header}, label %{done}"
        ));
        self.start_block(&done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CompileOptions, OptLevel, Tier};

    /// How many loops of `body` (a function taking `$p` and `$n`) get a
    /// second copy under `opts`.
    fn second_copies(body: &str, opts: &CompileOptions) -> usize {
        let wat = format!(
            "(module (memory 1) (func (param $p i32) (param $n i32) (local $i i32) {body}))"
        );
        let ir = crate::llvm::ir_of(&wat::parse_str(wat).unwrap(), opts).unwrap();
        ir.lines().filter(|l| l.starts_with("fast")).count()
    }

    const SUM: &str = "(loop $l
        (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0))
          (i32.load offset=8 (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2))))))
        (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))";

    fn opts(bounds: BoundsMode, spectre: bool) -> CompileOptions {
        CompileOptions {
            tier: Tier::Opt,
            bounds,
            spectre,
            ..Default::default()
        }
    }

    #[test]
    fn affine_loops_get_a_second_copy_where_it_is_safe() {
        assert_eq!(second_copies(SUM, &opts(BoundsMode::Guard, true)), 1);
        assert_eq!(second_copies(SUM, &opts(BoundsMode::Software, false)), 1);
        // Software bounds with Spectre guards: speculation past `M` could
        // read past the small guard.
        assert_eq!(second_copies(SUM, &opts(BoundsMode::Software, true)), 0);
        let none = CompileOptions {
            opt: OptLevel::None,
            ..opts(BoundsMode::Guard, true)
        };
        assert_eq!(second_copies(SUM, &none), 0);
    }

    #[test]
    fn loops_with_an_address_that_is_not_affine_keep_one_copy() {
        let guard = opts(BoundsMode::Guard, true);
        // An address loaded from memory.
        let chase = "(loop $l
            (local.set $p (i32.load (local.get $p)))
            (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))";
        assert_eq!(second_copies(chase, &guard), 0);
        // An index that doubles each pass.
        let doubling = "(loop $l
            (i32.store (local.get $i) (i32.const 1))
            (local.set $i (i32.shl (local.get $i) (i32.const 1)))
            (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))";
        assert_eq!(second_copies(doubling, &guard), 0);
        // A stride that walks down.
        let down = "(loop $l
            (i32.store (local.get $p) (i32.const 1))
            (local.set $p (i32.sub (local.get $p) (i32.const 4)))
            (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))";
        assert_eq!(second_copies(down, &guard), 0);
    }

    #[test]
    fn affine_arithmetic_is_modulo_2_32() {
        let x = Affine::local(0);
        let minus_8 = Affine::constant(-8).unwrap();
        let sum = x.plus(&minus_8, 1).unwrap();
        assert_eq!(sum.constant, -8);
        // 0xfffffff8 is -8 modulo 2^32.
        assert_eq!(Affine::constant(0xffff_fff8).unwrap(), minus_8);
        let scaled = sum.times(8).unwrap();
        assert_eq!((scaled.constant, scaled.terms[&0]), (-64, 8));
        // x * 2^31 is past the coefficient limit.
        assert_eq!(x.times(1 << 31), None);
        // x - x is the constant 0.
        assert_eq!(x.plus(&x, -1).unwrap().as_constant(), Some(0));
    }

    #[test]
    fn only_straight_line_loops_ending_in_br_if_0() {
        use Operator as O;
        let at = |ops: Vec<Operator<'static>>| {
            let ops: Vec<_> = ops.into_iter().enumerate().collect();
            straight_line_loop(&ops, 0)
        };
        let lp = O::Loop {
            blockty: BlockType::Empty,
        };
        let get = O::LocalGet { local_index: 0 };
        let br0 = O::BrIf { relative_depth: 0 };
        assert_eq!(
            at(vec![lp.clone(), get.clone(), br0.clone(), O::End]),
            Some(3)
        );
        // An exit other than falling through.
        let br1 = O::BrIf { relative_depth: 1 };
        assert_eq!(at(vec![lp.clone(), get.clone(), br1, O::End]), None);
        // A back edge before the end.
        let body = vec![
            lp.clone(),
            get.clone(),
            br0.clone(),
            get.clone(),
            O::Drop,
            O::End,
        ];
        assert_eq!(at(body), None);
        // A call, and a nested block.
        let call = O::Call { function_index: 0 };
        assert_eq!(
            at(vec![lp.clone(), call, get.clone(), br0.clone(), O::End]),
            None
        );
        let block = O::Block {
            blockty: BlockType::Empty,
        };
        let nested = vec![lp, block, O::End, get, br0, O::End];
        assert_eq!(at(nested), None);
    }
}
