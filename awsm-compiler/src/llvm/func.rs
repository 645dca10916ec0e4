//! One wasm function body to LLVM IR text.
//!
//! Wasm's structured control flow maps onto basic blocks; the values a
//! branch carries to its target go through stack slots (`alloca`s in the
//! entry block), as locals do, and LLVM's SROA turns both into registers
//! and phis. Code after an unconditional branch is skipped until the
//! frame it belongs to ends, so every emitted block is reachable and
//! ends in one terminator.
//!
//! Semantics are Wasm's, not C's: every trap is an explicit check that
//! branches to a block calling the `trap` builtin (LLVM's `sdiv` overflow,
//! `fptosi` of a NaN and over-wide shifts are undefined behaviour, so they
//! never reach it), floats carry no fast-math flags (no contraction into
//! FMA), and `min`/`max` are spelled out for NaN and signed zeros.

mod simd;
mod versioning;

use super::{ir_type, Context};
use crate::error::CompileError;
use crate::module::PendingBody;
use luge_abi::{builtin_index, offsets, BoundsMode, TrapKind, ValType, GUARD_SIZE, WASM_PAGE_SIZE};
pub(super) use simd::V128;
use std::collections::BTreeSet;
use std::fmt::Write;
use wasmparser::{BlockType, MemArg, Operator};

/// The TBAA access tags (defined in the module header, see
/// [`super::header`]) of linear memory and of the runtime's context
/// (memory length, globals, tables): the two never overlap, so LLVM may
/// keep the length in a register across stores to memory.
pub(super) const TBAA_MEMORY: u32 = 3;
pub(super) const TBAA_CONTEXT: u32 = 5;
/// The metadata naming the stack pointer register, for `llvm.read_register`.
pub(super) const STACK_POINTER: u32 = 6;

/// In guard mode, accesses whose offset plus size is at most this fault in
/// the guard instead of being checked: half the guard, so that such a fault
/// lands at least a GiB below the end of the memory's reservation, never
/// near a stack above it (which is how the runtime tells the two apart).
const UNCHECKED_OFFSET: u64 = GUARD_SIZE / 2;

/// A memory access's address, and whether it was left unchecked to fault
/// in the guard (see [`Emitter::address`]).
struct Access {
    ptr: String,
    unchecked: bool,
}

impl Access {
    /// An unchecked access is volatile, so that LLVM neither deletes it nor
    /// moves it past another side effect.
    fn volatile(&self) -> &'static str {
        if self.unchecked {
            "volatile "
        } else {
            ""
        }
    }

    /// The access's TBAA tag. An unchecked access has none: with it, LLVM
    /// would know the access cannot touch the runtime's context, and keep
    /// a global in a register across it (promoted through a loop, stored
    /// at the exit), so a fault would leave the global behind the value
    /// Wasm says it holds at the trap (the fuzzer found that).
    fn tbaa(&self) -> String {
        if self.unchecked {
            String::new()
        } else {
            format!(", !tbaa !{TBAA_MEMORY}")
        }
    }
}

/// A value on the operand stack: its wasm type and how IR names it (a
/// register like `%v3` or a literal like `7`).
#[derive(Clone)]
struct Value {
    ty: ValType,
    name: String,
    /// The value of a float constant (see [`Emitter::float_arith`]).
    constant: Option<f64>,
    /// An i32 value as an affine sum of locals, inside a loop being
    /// versioned (see [`versioning`]).
    affine: Option<versioning::Affine>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FrameKind {
    Function,
    Block,
    Loop,
    If,
}

/// An open control construct.
struct Frame {
    kind: FrameKind,
    params: Vec<ValType>,
    results: Vec<ValType>,
    /// Operand stack height below the frame's own values.
    height: usize,
    /// Where a branch to this frame goes: the loop header, else the end.
    target: String,
    /// The slots the branch's values go through (params of a loop,
    /// results otherwise).
    slots: Vec<String>,
    /// For blocks and ifs: the end block, whose results come from `slots`.
    end: String,
    /// Whether anything branches to the end.
    end_reached: bool,
    /// For ifs: the else block, and the parameters to give it.
    else_block: Option<String>,
    if_params: Vec<Value>,
}

/// Emits the body of one function.
struct Emitter<'c, 'm> {
    cx: &'c Context<'m>,
    /// `alloca`s and the context loads every path needs, for the entry block.
    entry: String,
    body: String,
    next: u32,
    stack: Vec<Value>,
    frames: Vec<Frame>,
    /// Each local's type and slot.
    locals: Vec<(ValType, String)>,
    reachable: bool,
    /// Frames opened inside unreachable code, skipped with it.
    dead_frames: u32,
    /// The traps this function branches to, each a block of its own.
    traps: BTreeSet<u8>,
    /// The offset of the operator being translated, for errors.
    offset: usize,
    /// The loop being followed for versioning, and the state of its
    /// second copy while that is emitted (see [`versioning`]).
    tracker: Option<versioning::Tracker>,
    fast: Option<versioning::Fast>,
}

/// The IR of defined function `defined`, named `luge_func_N`.
pub(super) fn translate(
    cx: &Context<'_>,
    defined: u32,
    body: PendingBody<'_>,
) -> Result<String, CompileError> {
    let mut validator = body.validator.into_validator(Default::default());
    validator
        .validate(&body.body)
        .map_err(|e| CompileError::Invalid {
            offset: e.offset(),
            message: crate::error::one_line(e.message()),
        })?;
    let index = cx.module.imported_funcs + defined;
    let ty = &cx.module.types[cx.module.funcs[index as usize] as usize];
    let offset = body.body.range().start;
    let ret = return_type(&ty.results);
    let mut e = Emitter {
        cx,
        entry: String::new(),
        body: String::new(),
        next: 0,
        stack: Vec::new(),
        frames: Vec::new(),
        locals: Vec::new(),
        reachable: true,
        dead_frames: 0,
        traps: BTreeSet::new(),
        offset,
        tracker: None,
        fast: None,
    };
    let mut params = String::from("ptr %vmctx");
    for (i, &p) in ty.params.iter().enumerate() {
        let lty = e.ty(p);
        write!(params, ", {lty} %p{i}").unwrap();
        let slot = e.alloca(lty);
        writeln!(e.entry, "  store {lty} %p{i}, ptr {slot}").unwrap();
        e.locals.push((p, slot));
    }
    let mut locals = body.body.get_locals_reader().map_err(invalid)?;
    for _ in 0..locals.get_count() {
        let (count, wty) = locals.read().map_err(invalid)?;
        let vt = crate::module::val_type(wty, offset)?;
        let lty = e.ty(vt);
        for _ in 0..count {
            let slot = e.alloca(lty);
            writeln!(e.entry, "  store {lty} {}, ptr {slot}", zero(vt)).unwrap();
            e.locals.push((vt, slot));
        }
    }
    e.prologue();
    e.frames.push(Frame {
        kind: FrameKind::Function,
        params: Vec::new(),
        results: ty.results.clone(),
        height: 0,
        target: String::new(),
        slots: Vec::new(),
        end: String::new(),
        end_reached: false,
        else_block: None,
        if_params: Vec::new(),
    });
    let mut reader = body.body.get_operators_reader().map_err(invalid)?;
    let mut ops = Vec::new();
    while !reader.eof() {
        ops.push(reader.read_with_offset().map_err(invalid)?);
    }
    // (operator, offset) pairs, turned around to read in offset order.
    let ops: Vec<_> = ops.into_iter().map(|(op, at)| (at, op)).collect();
    e.translate_ops(&ops)?;
    let mut ir = format!(
        "define hidden {ret} @luge_func_{defined}({params}) #0 {{\nentry:\n{}  br label %start\nstart:\n{}",
        e.entry, e.body
    );
    for kind in &e.traps {
        write!(
            ir,
            "trap{kind}:\n  %trapb{kind} = load ptr, ptr %trapslot\n  call void %trapb{kind}(ptr %vmctx, i32 {kind}) #1\n  unreachable\n"
        )
        .unwrap();
    }
    ir.push_str("}\n\n");
    Ok(ir)
}

fn invalid(e: wasmparser::BinaryReaderError) -> CompileError {
    CompileError::Invalid {
        offset: e.offset(),
        message: crate::error::one_line(e.message()),
    }
}

/// The IR return type of a function with `results`.
/// The IR return type of a function with `results`: a struct for several,
/// which LLVM returns in registers while they last (both sides of every
/// such call are this tier's code: host functions return one value at
/// most).
pub(super) fn return_type(results: &[ValType]) -> String {
    match results {
        [] => "void".into(),
        [one] => ir_type(*one).to_owned(),
        many => {
            let types: Vec<&str> = many.iter().map(|&t| ir_type(t)).collect();
            format!("{{ {} }}", types.join(", "))
        }
    }
}

/// The zero value of `ty` as an IR literal.
fn zero(ty: ValType) -> &'static str {
    match ty {
        ValType::F32 | ValType::F64 => "0.0",
        ValType::V128 => "zeroinitializer",
        _ => "0",
    }
}

/// An IR float literal of `ty` with the value `x`, which `ty` holds
/// exactly (LLVM writes both widths as a double's bits).
fn float(x: f64) -> String {
    format!("0x{:016X}", x.to_bits())
}

impl Emitter<'_, '_> {
    fn unsupported(&self, what: impl std::fmt::Display) -> CompileError {
        CompileError::NotInOptTier {
            offset: self.offset,
            what: what.to_string(),
        }
    }

    fn ty(&self, ty: ValType) -> &'static str {
        ir_type(ty)
    }

    fn fresh(&mut self) -> String {
        self.next += 1;
        format!("%v{}", self.next)
    }

    fn label(&mut self, what: &str) -> String {
        self.next += 1;
        format!("{what}{}", self.next)
    }

    fn alloca(&mut self, lty: &str) -> String {
        let slot = self.fresh();
        writeln!(self.entry, "  {slot} = alloca {lty}, align 16").unwrap();
        slot
    }

    /// Emits `inst` (an instruction producing a value) and returns its name.
    fn emit(&mut self, inst: std::fmt::Arguments) -> String {
        let name = self.fresh();
        writeln!(self.body, "  {name} = {inst}").unwrap();
        name
    }

    fn line(&mut self, inst: std::fmt::Arguments) {
        writeln!(self.body, "  {inst}").unwrap();
    }

    fn start_block(&mut self, label: &str) {
        writeln!(self.body, "{label}:").unwrap();
    }

    fn push(&mut self, ty: ValType, name: String) {
        self.stack.push(Value {
            ty,
            name,
            constant: None,
            affine: None,
        });
    }

    fn pop(&mut self) -> Value {
        self.stack.pop().expect("validated: operand present")
    }

    fn pop_n(&mut self, n: usize) -> Vec<Value> {
        self.stack.split_off(self.stack.len() - n)
    }

    /// The context loads every function uses, in the entry block, and the
    /// checks at its start.
    fn prologue(&mut self) {
        let builtins = offsets::BUILTINS;
        let trap = offsets::builtin(builtin_index::TRAP);
        writeln!(
            self.entry,
            "  %membase = load ptr, ptr %vmctx, align 8\n  %builtinsp = getelementptr i8, ptr %vmctx, i64 {builtins}\n  %builtinst = load ptr, ptr %builtinsp, align 8\n  %trapslot = getelementptr i8, ptr %builtinst, i64 {trap}\n  %limitsp = getelementptr i8, ptr %vmctx, i64 {}\n  %limits = load ptr, ptr %limitsp, align 8",
            offsets::LIMITS
        )
        .unwrap();
        // The stack check: the stack pointer, below this function's whole
        // frame once the prologue has run, against the limit. (The frame's
        // address, at its top, would let a frame larger than the headroom
        // pass and reach past the guard page where clang emits no stack
        // probes: AArch64 before LLVM 17.)
        let limit_at = self.emit(format_args!(
            "getelementptr i8, ptr %limits, i64 {}",
            offsets::STACK_LIMIT
        ));
        let limit = self.emit(format_args!(
            "load atomic i64, ptr {limit_at} monotonic, align 8"
        ));
        let sp = self.emit(format_args!(
            "call i64 @llvm.read_register.i64(metadata !{STACK_POINTER})"
        ));
        let low = self.emit(format_args!("icmp ult i64 {sp}, {limit}"));
        self.trap_if(&low, TrapKind::StackOverflow);
        self.interrupt_check();
    }

    /// Traps with `Interrupted` when the runtime asks, where the options
    /// want the checks (function entries and loop headers).
    fn interrupt_check(&mut self) {
        if !self.cx.opts.interrupt_checks {
            return;
        }
        let at = self.emit(format_args!(
            "getelementptr i8, ptr %limits, i64 {}",
            offsets::INTERRUPT
        ));
        // Atomic, so that LLVM reloads it on every pass of a loop.
        let flag = self.emit(format_args!("load atomic i64, ptr {at} monotonic, align 8"));
        let set = self.emit(format_args!("icmp ne i64 {flag}, 0"));
        self.trap_if(&set, TrapKind::Interrupted);
    }

    /// Branches to the block raising `kind` when `cond` holds.
    fn trap_if(&mut self, cond: &str, kind: TrapKind) {
        let ok = self.label("ok");
        let k = kind as u8;
        self.traps.insert(k);
        self.line(format_args!(
            "br i1 {cond}, label %trap{k}, label %{ok}, !prof !0"
        ));
        self.start_block(&ok);
    }

    /// Ends the current block with `terminator`; what follows is
    /// unreachable until the enclosing frame ends.
    fn terminate(&mut self, terminator: std::fmt::Arguments) {
        self.line(terminator);
        self.reachable = false;
    }

    fn block_type(&self, ty: BlockType) -> (Vec<ValType>, Vec<ValType>) {
        match ty {
            BlockType::Empty => (Vec::new(), Vec::new()),
            BlockType::Type(t) => (
                Vec::new(),
                vec![crate::module::val_type(t, self.offset).expect("validated type")],
            ),
            BlockType::FuncType(i) => {
                let ty = &self.cx.module.types[i as usize];
                (ty.params.clone(), ty.results.clone())
            }
        }
    }

    fn slots(&mut self, types: &[ValType]) -> Result<Vec<String>, CompileError> {
        types
            .iter()
            .map(|&t| {
                let lty = self.ty(t);
                Ok(self.alloca(lty))
            })
            .collect()
    }

    /// Stores the top `types.len()` values (left on the stack) into `slots`.
    fn store_top(&mut self, slots: &[String]) {
        let values = self.stack[self.stack.len() - slots.len()..].to_vec();
        for (v, slot) in values.iter().zip(slots) {
            let lty = ir_type(v.ty);
            self.line(format_args!("store {lty} {}, ptr {slot}", v.name));
        }
    }

    fn load_slots(&mut self, types: &[ValType], slots: &[String]) {
        for (&t, slot) in types.iter().zip(slots) {
            let lty = ir_type(t);
            let v = self.emit(format_args!("load {lty}, ptr {slot}"));
            self.push(t, v);
        }
    }

    /// Branches to the frame `depth` levels out, carrying its values.
    fn branch(&mut self, depth: u32) {
        let i = self.frames.len() - 1 - depth as usize;
        if self.frames[i].kind == FrameKind::Function {
            self.return_();
            return;
        }
        let slots = self.frames[i].slots.clone();
        self.store_top(&slots);
        if self.frames[i].kind != FrameKind::Loop {
            self.frames[i].end_reached = true;
        }
        let target = self.frames[i].target.clone();
        self.line(format_args!("br label %{target}"));
    }

    fn return_(&mut self) {
        let results = self.frames[0].results.clone();
        let values = self.stack[self.stack.len() - results.len()..].to_vec();
        match values.as_slice() {
            [] => self.line(format_args!("ret void")),
            [v] => {
                let lty = ir_type(v.ty);
                self.line(format_args!("ret {lty} {}", v.name));
            }
            many => {
                let ret = return_type(&results);
                let mut agg = "poison".to_owned();
                for (i, v) in many.iter().enumerate() {
                    let lty = ir_type(v.ty);
                    agg = self.emit(format_args!(
                        "insertvalue {ret} {agg}, {lty} {}, {i}",
                        v.name
                    ));
                }
                self.line(format_args!("ret {ret} {agg}"));
            }
        }
    }

    fn open(&mut self, kind: FrameKind, ty: BlockType) -> Result<(), CompileError> {
        let (params, results) = self.block_type(ty);
        let end = self.label("end");
        let mut frame = Frame {
            kind,
            height: self.stack.len() - params.len(),
            target: end.clone(),
            slots: Vec::new(),
            end,
            end_reached: false,
            else_block: None,
            if_params: Vec::new(),
            params,
            results,
        };
        match kind {
            FrameKind::Block => frame.slots = self.slots(&frame.results)?,
            FrameKind::Loop => {
                frame.slots = self.slots(&frame.params)?;
                let header = self.label("loop");
                self.store_top(&frame.slots);
                self.line(format_args!("br label %{header}"));
                self.start_block(&header);
                self.stack.truncate(frame.height);
                let (params, slots) = (frame.params.clone(), frame.slots.clone());
                self.load_slots(&params, &slots);
                frame.target = header;
                self.frames.push(frame);
                self.interrupt_check();
                return Ok(());
            }
            FrameKind::If => {
                let cond = self.pop();
                frame.height -= 1;
                frame.slots = self.slots(&frame.results)?;
                frame.if_params = self.stack[self.stack.len() - frame.params.len()..].to_vec();
                let then = self.label("then");
                let els = self.label("else");
                let c = self.emit(format_args!("icmp ne i32 {}, 0", cond.name));
                self.line(format_args!("br i1 {c}, label %{then}, label %{els}"));
                self.start_block(&then);
                frame.else_block = Some(els);
            }
            FrameKind::Function => unreachable!("only the body opens it"),
        }
        self.frames.push(frame);
        Ok(())
    }

    fn else_(&mut self) {
        if self.reachable {
            let slots = self.frames.last().unwrap().slots.clone();
            self.store_top(&slots);
            let end = self.frames.last().unwrap().end.clone();
            self.line(format_args!("br label %{end}"));
            self.frames.last_mut().unwrap().end_reached = true;
        }
        let frame = self.frames.last_mut().unwrap();
        let els = frame.else_block.take().expect("else follows if");
        let params = frame.if_params.clone();
        let height = frame.height;
        // Frames open in reachable code only (unreachable ones are
        // skipped whole), so the else arm is reachable.
        self.reachable = true;
        self.start_block(&els);
        self.stack.truncate(height);
        self.stack.extend(params);
    }

    fn end(&mut self) {
        let frame = self.frames.last().unwrap();
        match frame.kind {
            FrameKind::Function => {
                if self.reachable {
                    self.return_();
                }
                self.frames.pop();
                return;
            }
            FrameKind::Loop => {
                // Only falling through reaches a loop's end: its values
                // stay where they are.
                self.frames.pop();
                return;
            }
            FrameKind::Block | FrameKind::If => {}
        }
        if self.reachable {
            let (slots, end) = (frame.slots.clone(), frame.end.clone());
            self.store_top(&slots);
            self.line(format_args!("br label %{end}"));
            self.frames.last_mut().unwrap().end_reached = true;
        }
        // An if without an else passes its parameters on as results.
        if let Some(els) = self.frames.last_mut().unwrap().else_block.take() {
            let frame = self.frames.last().unwrap();
            let (params, slots, end) = (
                frame.if_params.clone(),
                frame.slots.clone(),
                frame.end.clone(),
            );
            self.start_block(&els);
            for (v, slot) in params.iter().zip(&slots) {
                let lty = ir_type(v.ty);
                self.line(format_args!("store {lty} {}, ptr {slot}", v.name));
            }
            self.line(format_args!("br label %{end}"));
            self.frames.last_mut().unwrap().end_reached = true;
        }
        let frame = self.frames.pop().unwrap();
        self.stack.truncate(frame.height);
        self.reachable = frame.end_reached;
        if self.reachable {
            self.start_block(&frame.end);
            self.load_slots(&frame.results, &frame.slots);
        }
    }

    /// Translates one operator.
    fn operator(&mut self, op: Operator) -> Result<(), CompileError> {
        if !self.reachable {
            return self.skip(op);
        }
        use Operator as O;
        use ValType::{F32, F64, I32, I64};
        match op {
            O::Unreachable => {
                self.traps.insert(TrapKind::Unreachable as u8);
                self.terminate(format_args!(
                    "br label %trap{}",
                    TrapKind::Unreachable as u8
                ));
            }
            O::Nop => {}
            O::Block { blockty } => self.open(FrameKind::Block, blockty)?,
            O::Loop { blockty } => self.open(FrameKind::Loop, blockty)?,
            O::If { blockty } => self.open(FrameKind::If, blockty)?,
            O::Else => self.else_(),
            O::End => self.end(),
            O::Br { relative_depth } => {
                self.branch(relative_depth);
                self.reachable = false;
            }
            O::BrIf { .. } if self.fast.is_some() => self.fast_back_edge(),
            O::BrIf { relative_depth } => {
                let c = self.pop();
                let cond = self.emit(format_args!("icmp ne i32 {}, 0", c.name));
                let (taken, next) = (self.label("taken"), self.label("next"));
                self.line(format_args!("br i1 {cond}, label %{taken}, label %{next}"));
                self.start_block(&taken);
                self.branch(relative_depth);
                self.start_block(&next);
            }
            O::BrTable { targets } => {
                let index = self.pop();
                let default = targets.default();
                let depths: Vec<u32> = targets
                    .targets()
                    .collect::<Result<_, _>>()
                    .map_err(invalid)?;
                let mut labels = std::collections::BTreeMap::new();
                for &d in depths.iter().chain([&default]) {
                    if let std::collections::btree_map::Entry::Vacant(slot) = labels.entry(d) {
                        slot.insert(self.label("case"));
                    }
                }
                let mut cases = String::new();
                for (i, d) in depths.iter().enumerate() {
                    write!(cases, " i32 {i}, label %{}", labels[d]).unwrap();
                }
                self.line(format_args!(
                    "switch i32 {}, label %{} [{cases} ]",
                    index.name, labels[&default]
                ));
                for (d, l) in labels {
                    self.start_block(&l);
                    self.branch(d);
                }
                self.reachable = false;
            }
            O::Return => {
                self.return_();
                self.reachable = false;
            }
            O::Call { function_index } => self.call(function_index)?,
            O::CallIndirect {
                type_index,
                table_index,
            } => self.call_indirect(type_index, table_index)?,
            O::Drop => {
                self.pop();
            }
            O::Select | O::TypedSelect { .. } => {
                let c = self.pop();
                let b = self.pop();
                let a = self.pop();
                let lty = self.ty(a.ty);
                let cond = self.emit(format_args!("icmp ne i32 {}, 0", c.name));
                let v = self.emit(format_args!(
                    "select i1 {cond}, {lty} {}, {lty} {}",
                    a.name, b.name
                ));
                self.push(a.ty, v);
            }
            O::LocalGet { local_index } => {
                let (ty, slot) = self.locals[local_index as usize].clone();
                let lty = self.ty(ty);
                let v = self.emit(format_args!("load {lty}, ptr {slot}"));
                self.push(ty, v);
            }
            O::LocalSet { local_index } | O::LocalTee { local_index } => {
                let v = self.pop();
                let (ty, slot) = self.locals[local_index as usize].clone();
                let lty = self.ty(ty);
                self.line(format_args!("store {lty} {}, ptr {slot}", v.name));
                if matches!(op, O::LocalTee { .. }) {
                    self.push(v.ty, v.name);
                }
            }
            O::GlobalGet { global_index } => {
                let (ty, at) = self.global(global_index)?;
                let lty = self.ty(ty);
                let v = self.emit(format_args!(
                    "load {lty}, ptr {at}, align 16, !tbaa !{TBAA_CONTEXT}"
                ));
                self.push(ty, v);
            }
            O::GlobalSet { global_index } => {
                let v = self.pop();
                let (ty, at) = self.global(global_index)?;
                let lty = self.ty(ty);
                self.line(format_args!(
                    "store {lty} {}, ptr {at}, align 16, !tbaa !{TBAA_CONTEXT}",
                    v.name
                ));
            }
            O::I32Load { memarg } => self.load(memarg, I32, "i32", None)?,
            O::I64Load { memarg } => self.load(memarg, I64, "i64", None)?,
            O::F32Load { memarg } => self.load(memarg, F32, "float", None)?,
            O::F64Load { memarg } => self.load(memarg, F64, "double", None)?,
            O::I32Load8S { memarg } => self.load(memarg, I32, "i8", Some("sext"))?,
            O::I32Load8U { memarg } => self.load(memarg, I32, "i8", Some("zext"))?,
            O::I32Load16S { memarg } => self.load(memarg, I32, "i16", Some("sext"))?,
            O::I32Load16U { memarg } => self.load(memarg, I32, "i16", Some("zext"))?,
            O::I64Load8S { memarg } => self.load(memarg, I64, "i8", Some("sext"))?,
            O::I64Load8U { memarg } => self.load(memarg, I64, "i8", Some("zext"))?,
            O::I64Load16S { memarg } => self.load(memarg, I64, "i16", Some("sext"))?,
            O::I64Load16U { memarg } => self.load(memarg, I64, "i16", Some("zext"))?,
            O::I64Load32S { memarg } => self.load(memarg, I64, "i32", Some("sext"))?,
            O::I64Load32U { memarg } => self.load(memarg, I64, "i32", Some("zext"))?,
            O::I32Store { memarg }
            | O::I64Store { memarg }
            | O::F32Store { memarg }
            | O::F64Store { memarg } => self.store(memarg, None)?,
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => self.store(memarg, Some("i8"))?,
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => {
                self.store(memarg, Some("i16"))?
            }
            O::I64Store32 { memarg } => self.store(memarg, Some("i32"))?,
            O::MemorySize { .. } => {
                let len = self.memory_length();
                let pages = self.emit(format_args!("udiv i64 {len}, {WASM_PAGE_SIZE}"));
                let v = self.emit(format_args!("trunc i64 {pages} to i32"));
                self.push(I32, v);
            }
            O::MemoryGrow { .. } => {
                let delta = self.pop();
                let f = self.builtin(builtin_index::MEMORY_GROW);
                let v = self.emit(format_args!("call i32 {f}(ptr %vmctx, i32 {})", delta.name));
                self.push(I32, v);
            }
            O::I32Const { value } => self.push(I32, value.to_string()),
            O::I64Const { value } => self.push(I64, value.to_string()),
            O::F32Const { value } => {
                let v = self.emit(format_args!("bitcast i32 {} to float", value.bits() as i32));
                self.push(F32, v);
                let x = f32::from_bits(value.bits());
                self.stack.last_mut().unwrap().constant = Some(f64::from(x));
            }
            O::F64Const { value } => {
                let v = self.emit(format_args!(
                    "bitcast i64 {} to double",
                    value.bits() as i64
                ));
                self.push(F64, v);
                self.stack.last_mut().unwrap().constant = Some(f64::from_bits(value.bits()));
            }
            // Both reference types are pointer-sized words, null 0.
            O::RefNull { .. } => self.push(ValType::FuncRef, "0".into()),
            O::RefIsNull => {
                let r = self.pop();
                let c = self.emit(format_args!("icmp eq i64 {}, 0", r.name));
                let v = self.emit(format_args!("zext i1 {c} to i32"));
                self.push(I32, v);
            }
            O::RefFunc { function_index } => {
                let at = self.cx.layout.funcref(function_index);
                let p = self.emit(format_args!("getelementptr i8, ptr %vmctx, i64 {at}"));
                let v = self.emit(format_args!("ptrtoint ptr {p} to i64"));
                self.push(ValType::FuncRef, v);
            }
            O::MemoryCopy { .. } => self.checked_builtin(
                builtin_index::MEMORY_COPY,
                &[],
                3,
                TrapKind::MemoryOutOfBounds,
            ),
            O::MemoryFill { .. } => self.checked_builtin(
                builtin_index::MEMORY_FILL,
                &[],
                3,
                TrapKind::MemoryOutOfBounds,
            ),
            O::MemoryInit { data_index, .. } => self.checked_builtin(
                builtin_index::MEMORY_INIT,
                &[data_index],
                3,
                TrapKind::MemoryOutOfBounds,
            ),
            O::DataDrop { data_index } => {
                let f = self.builtin(builtin_index::DATA_DROP);
                self.line(format_args!("call void {f}(ptr %vmctx, i32 {data_index})"));
            }
            O::TableCopy {
                dst_table,
                src_table,
            } => self.checked_builtin(
                builtin_index::TABLE_COPY,
                &[dst_table, src_table],
                3,
                TrapKind::TableOutOfBounds,
            ),
            O::TableFill { table } => self.checked_builtin(
                builtin_index::TABLE_FILL,
                &[table],
                3,
                TrapKind::TableOutOfBounds,
            ),
            O::TableInit { elem_index, table } => self.checked_builtin(
                builtin_index::TABLE_INIT,
                &[table, elem_index],
                3,
                TrapKind::TableOutOfBounds,
            ),
            O::ElemDrop { elem_index } => {
                let f = self.builtin(builtin_index::ELEM_DROP);
                self.line(format_args!("call void {f}(ptr %vmctx, i32 {elem_index})"));
            }
            O::TableGrow { table } => {
                let delta = self.pop();
                let init = self.pop();
                let f = self.builtin(builtin_index::TABLE_GROW);
                let v = self.emit(format_args!(
                    "call i32 {f}(ptr %vmctx, i32 {table}, i32 {}, i64 {})",
                    delta.name, init.name
                ));
                self.push(I32, v);
            }
            O::TableSize { table } => {
                let t = self.table(table);
                let len = self.table_length(&t);
                let v = self.emit(format_args!("trunc i64 {len} to i32"));
                self.push(I32, v);
            }
            O::TableGet { table } => {
                let at = self.table_element(table);
                let v = self.emit(format_args!("load i64, ptr {at}, align 8"));
                let ty = self.cx.module.tables[table as usize].elem;
                self.push(ty, v);
            }
            O::TableSet { table } => {
                let value = self.pop();
                let at = self.table_element(table);
                self.line(format_args!("store i64 {}, ptr {at}, align 8", value.name));
            }
            other => return self.numeric(other),
        }
        Ok(())
    }

    /// Calls a builtin with the constants `immediates` and the top `count`
    /// i32 operands; traps with `kind` when it reports failure.
    fn checked_builtin(&mut self, index: usize, immediates: &[u32], count: usize, kind: TrapKind) {
        let operands = self.pop_n(count);
        let f = self.builtin(index);
        let mut args = String::from("ptr %vmctx");
        for i in immediates {
            write!(args, ", i32 {i}").unwrap();
        }
        for o in &operands {
            let lty = ir_type(o.ty);
            write!(args, ", {lty} {}", o.name).unwrap();
        }
        let status = self.emit(format_args!("call i32 {f}({args})"));
        let failed = self.emit(format_args!("icmp ne i32 {status}, 0"));
        self.trap_if(&failed, kind);
    }

    /// The `VmTable` of table `index`.
    fn table(&mut self, index: u32) -> String {
        let tp = self.emit(format_args!(
            "getelementptr i8, ptr %vmctx, i64 {}",
            self.cx.layout.table_ptr(index)
        ));
        self.emit(format_args!("load ptr, ptr {tp}, align 8"))
    }

    fn table_length(&mut self, table: &str) -> String {
        let lenp = self.emit(format_args!(
            "getelementptr i8, ptr {table}, i64 {}",
            offsets::TABLE_LENGTH
        ));
        self.emit(format_args!(
            "load i64, ptr {lenp}, align 8, !tbaa !{TBAA_CONTEXT}"
        ))
    }

    /// The address of the element of table `index` at the popped index;
    /// traps past the end.
    fn table_element(&mut self, index: u32) -> String {
        self.table_element_or(index, TrapKind::TableOutOfBounds)
    }

    /// [`Emitter::table_element`], trapping with `kind` past the end.
    fn table_element_or(&mut self, index: u32, kind: TrapKind) -> String {
        let i = self.pop();
        let t = self.table(index);
        let len = self.table_length(&t);
        let wide = self.emit(format_args!("zext i32 {} to i64", i.name));
        let out = self.emit(format_args!("icmp uge i64 {wide}, {len}"));
        self.trap_if(&out, kind);
        let wide = self.spectre_guard(&out, &wide);
        let elemsp = self.emit(format_args!(
            "getelementptr i8, ptr {t}, i64 {}",
            offsets::TABLE_ELEMENTS
        ));
        let elems = self.emit(format_args!("load ptr, ptr {elemsp}, align 8"));
        self.emit(format_args!("getelementptr i64, ptr {elems}, i64 {wide}"))
    }

    /// In unreachable code: follows nesting only.
    fn skip(&mut self, op: Operator) -> Result<(), CompileError> {
        match op {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                self.dead_frames += 1
            }
            Operator::Else if self.dead_frames == 0 => self.else_(),
            Operator::End if self.dead_frames == 0 => self.end(),
            Operator::End => self.dead_frames -= 1,
            _ => {}
        }
        Ok(())
    }

    fn builtin(&mut self, index: usize) -> String {
        let at = self.emit(format_args!(
            "getelementptr i8, ptr %builtinst, i64 {}",
            offsets::builtin(index)
        ));
        self.emit(format_args!("load ptr, ptr {at}, align 8"))
    }

    /// The type and address of global `index`.
    fn global(&mut self, index: u32) -> Result<(ValType, String), CompileError> {
        let ty = self.cx.module.globals[index as usize].0.ty;
        let imported = self.cx.layout.counts.imported_globals;
        let at = if index < imported {
            let slot = self.emit(format_args!(
                "getelementptr i8, ptr %vmctx, i64 {}",
                self.cx.layout.imported_global(index)
            ));
            self.emit(format_args!("load ptr, ptr {slot}, align 8"))
        } else {
            self.emit(format_args!(
                "getelementptr i8, ptr %vmctx, i64 {}",
                self.cx.layout.defined_global(index - imported)
            ))
        };
        Ok((ty, at))
    }

    fn memory_length(&mut self) -> String {
        let memp = self.emit(format_args!(
            "getelementptr i8, ptr %vmctx, i64 {}",
            offsets::MEMORY
        ));
        let mem = self.emit(format_args!(
            "load ptr, ptr {memp}, align 8, !tbaa !{TBAA_CONTEXT}"
        ));
        let lenp = self.emit(format_args!(
            "getelementptr i8, ptr {mem}, i64 {}",
            offsets::MEMORY_LENGTH
        ));
        self.emit(format_args!(
            "load i64, ptr {lenp}, align 8, !tbaa !{TBAA_CONTEXT}"
        ))
    }

    /// The address of an access of `size` bytes at the popped index plus
    /// `memarg`'s offset, and whether the access is to be volatile.
    ///
    /// In guard mode, an access whose offset stays well inside the guard
    /// region is left to fault there, as in the fast tier, but volatile:
    /// LLVM takes plain loads for operations that cannot trap, deleting
    /// those whose value goes unused and moving others past branches,
    /// stores and calls, so the fault would come late or not at all, where
    /// Wasm traps precisely (the fuzzer found both). A volatile access is
    /// neither deleted nor moved past another side effect; the runtime
    /// tells its fault from running out of stack by the faulting address
    /// (`runtime/core/src/traps.rs`). The reservation also keeps a
    /// speculative read inside the guard, so no Spectre guard is needed.
    ///
    /// In software mode, and for offsets near the guard's size, the access
    /// is checked against the memory's length: a branch to a call that
    /// never returns, which LLVM keeps in its place.
    fn address(&mut self, memarg: MemArg, size: u64) -> Access {
        if let Some(ptr) = self.fast_address() {
            return Access {
                ptr,
                unchecked: false,
            };
        }
        let index = self.pop();
        if let Some(t) = &mut self.tracker {
            t.access(index.affine.as_ref(), memarg.offset, size);
        }
        let wide = self.emit(format_args!("zext i32 {} to i64", index.name));
        let ea = if memarg.offset == 0 {
            wide
        } else {
            self.emit(format_args!("add i64 {wide}, {}", memarg.offset))
        };
        if self.cx.opts.bounds == BoundsMode::Guard && memarg.offset + size <= UNCHECKED_OFFSET {
            let ptr = self.emit(format_args!("getelementptr i8, ptr %membase, i64 {ea}"));
            return Access {
                ptr,
                unchecked: true,
            };
        }
        let end = self.emit(format_args!("add i64 {ea}, {size}"));
        let len = self.memory_length();
        let out = self.emit(format_args!("icmp ugt i64 {end}, {len}"));
        self.trap_if(&out, TrapKind::MemoryOutOfBounds);
        let ea = match self.cx.opts.bounds {
            BoundsMode::Guard => ea,
            BoundsMode::Software => self.spectre_guard(&out, &ea),
        };
        let ptr = self.emit(format_args!("getelementptr i8, ptr %membase, i64 {ea}"));
        Access {
            ptr,
            unchecked: false,
        }
    }

    /// `index` made 0 when `out` holds, without a branch, so that a check
    /// the CPU mispredicts cannot read past the end even speculatively (as
    /// the fast tier's guards do, when the options ask for them). LLVM
    /// knows `out` is false past the check and would drop the select, so
    /// the condition reaches it through an empty `asm`.
    fn spectre_guard(&mut self, out: &str, index: &str) -> String {
        if !self.cx.opts.spectre {
            return index.to_owned();
        }
        let byte = self.emit(format_args!("zext i1 {out} to i8"));
        let hidden = self.emit(format_args!("call i8 asm \"\", \"=r,0\"(i8 {byte})"));
        let cond = self.emit(format_args!("icmp ne i8 {hidden}, 0"));
        self.emit(format_args!("select i1 {cond}, i64 0, i64 {index}"))
    }

    /// A load of `mem` (an IR type) extended by `extend` into `ty`.
    fn load(
        &mut self,
        memarg: MemArg,
        ty: ValType,
        mem: &str,
        extend: Option<&str>,
    ) -> Result<(), CompileError> {
        let at = self.address(memarg, access_size(mem));
        let raw = self.emit(format_args!(
            "load {}{mem}, ptr {}, align 1{}",
            at.volatile(),
            at.ptr,
            at.tbaa()
        ));
        let v = match extend {
            Some(how) => {
                let lty = self.ty(ty);
                self.emit(format_args!("{how} {mem} {raw} to {lty}"))
            }
            None => raw,
        };
        self.push(ty, v);
        Ok(())
    }

    /// A store of the popped value, truncated to `narrow` if given.
    fn store(&mut self, memarg: MemArg, narrow: Option<&str>) -> Result<(), CompileError> {
        let value = self.pop();
        let lty = self.ty(value.ty);
        let (mem, v) = match narrow {
            Some(n) => {
                let t = self.emit(format_args!("trunc {lty} {} to {n}", value.name));
                (n, t)
            }
            None => (lty, value.name.clone()),
        };
        let at = self.address(memarg, access_size(mem));
        self.line(format_args!(
            "store {}{mem} {v}, ptr {}, align 1{}",
            at.volatile(),
            at.ptr,
            at.tbaa()
        ));
        Ok(())
    }

    /// Pops a call's arguments and emits `callee` with them; pushes its
    /// results. `notail`: LLVM would otherwise turn recursion into loops,
    /// and a recursion Wasm runs out of stack on would run forever.
    fn emit_call(
        &mut self,
        ty_index: u32,
        callee: &str,
        callee_vmctx: &str,
    ) -> Result<(), CompileError> {
        let ty = self.cx.module.types[ty_index as usize].clone();
        let ret = return_type(&ty.results);
        let args = self.pop_n(ty.params.len());
        let mut list = format!("ptr {callee_vmctx}");
        for a in &args {
            write!(list, ", {} {}", self.ty(a.ty), a.name).unwrap();
        }
        match ty.results.as_slice() {
            [] => self.line(format_args!("notail call void {callee}({list})")),
            [r] => {
                let v = self.emit(format_args!("notail call {ret} {callee}({list})"));
                self.push(*r, v);
            }
            many => {
                let agg = self.emit(format_args!("notail call {ret} {callee}({list})"));
                for (i, &r) in many.iter().enumerate() {
                    let v = self.emit(format_args!("extractvalue {ret} {agg}, {i}"));
                    self.push(r, v);
                }
            }
        }
        Ok(())
    }

    fn call(&mut self, function: u32) -> Result<(), CompileError> {
        let ty = self.cx.module.funcs[function as usize];
        let imported = self.cx.module.imported_funcs;
        if function >= imported {
            return self.emit_call(ty, &format!("@luge_func_{}", function - imported), "%vmctx");
        }
        let at = self.cx.layout.imported_func(function);
        let codep = self.emit(format_args!(
            "getelementptr i8, ptr %vmctx, i64 {}",
            at + offsets::IMPORT_CODE
        ));
        let code = self.emit(format_args!("load ptr, ptr {codep}, align 8"));
        let ctxp = self.emit(format_args!(
            "getelementptr i8, ptr %vmctx, i64 {}",
            at + offsets::IMPORT_VMCTX
        ));
        let ctx = self.emit(format_args!("load ptr, ptr {ctxp}, align 8"));
        self.emit_call(ty, &code, &ctx)
    }

    fn call_indirect(&mut self, ty: u32, table: u32) -> Result<(), CompileError> {
        let slot = self.table_element_or(table, TrapKind::UndefinedElement);
        let funcref = self.emit(format_args!("load ptr, ptr {slot}, align 8"));
        let null = self.emit(format_args!("icmp eq ptr {funcref}, null"));
        self.trap_if(&null, TrapKind::UninitializedElement);
        let idp = self.emit(format_args!(
            "getelementptr i8, ptr {funcref}, i64 {}",
            offsets::FUNCREF_TYPE_ID
        ));
        let id = self.emit(format_args!("load i64, ptr {idp}, align 8"));
        let wantp = self.emit(format_args!(
            "getelementptr i8, ptr %vmctx, i64 {}",
            self.cx.layout.type_id(ty)
        ));
        let want = self.emit(format_args!("load i64, ptr {wantp}, align 8"));
        let differs = self.emit(format_args!("icmp ne i64 {id}, {want}"));
        self.trap_if(&differs, TrapKind::IndirectCallTypeMismatch);
        let code = self.emit(format_args!("load ptr, ptr {funcref}, align 8"));
        let ctxp = self.emit(format_args!(
            "getelementptr i8, ptr {funcref}, i64 {}",
            offsets::FUNCREF_VMCTX
        ));
        let ctx = self.emit(format_args!("load ptr, ptr {ctxp}, align 8"));
        self.emit_call(ty, &code, &ctx)
    }

    fn unary(
        &mut self,
        ty: ValType,
        f: impl FnOnce(&mut Self, &str, &str) -> String,
    ) -> Result<(), CompileError> {
        let a = self.pop();
        let lty = self.ty(a.ty);
        let v = f(self, lty, &a.name);
        self.push(ty, v);
        Ok(())
    }

    fn binary(
        &mut self,
        ty: ValType,
        f: impl FnOnce(&mut Self, &str, &str, &str) -> String,
    ) -> Result<(), CompileError> {
        let b = self.pop();
        let a = self.pop();
        let lty = self.ty(a.ty);
        let v = f(self, lty, &a.name, &b.name);
        self.push(ty, v);
        Ok(())
    }

    fn arith(&mut self, inst: &str) -> Result<(), CompileError> {
        let ty = self.stack.last().expect("operand").ty;
        self.binary(ty, |e, lty, a, b| {
            e.emit(format_args!("{inst} {lty} {a}, {b}"))
        })
    }

    /// A float operation whose operands may include a constant that makes
    /// it an identity (`identity` or its negation: x * 1.0, x - 0.0, ...).
    /// LLVM folds those to `x` or `-x`, which passes a signalling NaN on
    /// where Wasm gives a quiet one, so the result is quieted explicitly:
    /// `x + x` is a quiet NaN whenever `x` is a NaN.
    fn float_arith(&mut self, inst: &str, identity: f64) -> Result<(), CompileError> {
        let n = self.stack.len();
        let is_identity = |v: &Value| v.constant.is_some_and(|c| c.abs() == identity);
        let other = match (
            is_identity(&self.stack[n - 2]),
            is_identity(&self.stack[n - 1]),
        ) {
            (_, true) => self.stack[n - 2].name.clone(),
            (true, false) => self.stack[n - 1].name.clone(),
            (false, false) => return self.arith(inst),
        };
        self.arith(inst)?;
        let top = self.pop();
        let v = self.quieted(top.ty, &top.name, &other)?;
        self.push(top.ty, v);
        Ok(())
    }

    /// `result`, or a quiet NaN when `input` is a NaN. LLVM may return any
    /// NaN for a NaN (it would fold `select(isnan x, x + x, x)` to `x`),
    /// so the quiet one comes through an empty `asm` it cannot see into.
    fn quieted(&mut self, ty: ValType, result: &str, input: &str) -> Result<String, CompileError> {
        let lty = self.ty(ty);
        let reg = match self.cx.opts.arch {
            luge_abi::Arch::X86_64 => "x",
            luge_abi::Arch::Aarch64 => "w",
        };
        let nan = self.emit(format_args!("fcmp uno {lty} {input}, {input}"));
        let sum = self.emit(format_args!("fadd {lty} {input}, {input}"));
        let quiet = self.emit(format_args!(
            "call {lty} asm \"\", \"={reg},0\"({lty} {sum})"
        ));
        Ok(self.emit(format_args!(
            "select i1 {nan}, {lty} {quiet}, {lty} {result}"
        )))
    }

    fn compare(&mut self, inst: &str) -> Result<(), CompileError> {
        self.binary(ValType::I32, |e, lty, a, b| {
            let c = e.emit(format_args!("{inst} {lty} {a}, {b}"));
            e.emit(format_args!("zext i1 {c} to i32"))
        })
    }

    /// `llvm.NAME` on the top `count` operands (all of one type), with the
    /// constant arguments `extra` after them.
    fn intrinsic(&mut self, name: &str, count: usize, extra: &str) -> Result<(), CompileError> {
        let args = self.pop_n(count);
        let ty = args[0].ty;
        let lty = self.ty(ty);
        let list: Vec<String> = args.iter().map(|a| format!("{lty} {}", a.name)).collect();
        let suffix = intrinsic_suffix(lty);
        let v = self.emit(format_args!(
            "call {lty} @llvm.{name}.{suffix}({}{extra})",
            list.join(", ")
        ));
        self.push(ty, v);
        Ok(())
    }

    /// `ceil`, `floor`, `trunc` or `nearest` on the top operand: LLVM's
    /// intrinsic where the target has a rounding instruction, else spelled
    /// out in arithmetic the target has, as the fast tier's library routine
    /// for such CPUs does (`translate::libcalls`, which explains why it is
    /// exact). LLVM folds none of it: without fast-math flags `(m + 2^k) -
    /// 2^k` is not `m`.
    fn round(&mut self, rounding: Rounding) -> Result<(), CompileError> {
        if super::has_rounding(self.cx.opts) {
            return self.intrinsic(rounding.intrinsic(), 1, "");
        }
        let x = self.pop();
        let ty = x.ty;
        let lty = self.ty(ty);
        let suffix = intrinsic_suffix(lty);
        let big = if lty == "float" {
            "8388608.0"
        } else {
            "4503599627370496.0"
        };
        let x = x.name;
        let magnitude = self.emit(format_args!("call {lty} @llvm.fabs.{suffix}({lty} {x})"));
        // NaNs too: they come out quieted.
        let integral = self.emit(format_args!("fcmp uge {lty} {magnitude}, {big}"));
        let raised = self.emit(format_args!("fadd {lty} {magnitude}, {big}"));
        let nearest = self.emit(format_args!("fsub {lty} {raised}, {big}"));
        let magnitude = match rounding {
            // Toward zero is down for the magnitude.
            Rounding::Zero => self.step(false, lty, &nearest, &magnitude),
            _ => nearest,
        };
        let copysign = |e: &mut Self, v: &str| {
            e.emit(format_args!(
                "call {lty} @llvm.copysign.{suffix}({lty} {v}, {lty} {x})"
            ))
        };
        let mut rounded = copysign(self, &magnitude);
        if matches!(rounding, Rounding::Up | Rounding::Down) {
            let stepped = self.step(rounding == Rounding::Up, lty, &rounded, &x);
            rounded = copysign(self, &stepped);
        }
        let as_is = self.quieted(ty, &x, &x)?;
        let v = self.emit(format_args!(
            "select i1 {integral}, {lty} {as_is}, {lty} {rounded}"
        ));
        self.push(ty, v);
        Ok(())
    }

    /// `integer` moved by one up (`up`) or down where it lies on the other
    /// side of `x`.
    fn step(&mut self, up: bool, lty: &str, integer: &str, x: &str) -> String {
        let (wrong_side, op) = if up { ("olt", "fadd") } else { ("ogt", "fsub") };
        let wrong = self.emit(format_args!("fcmp {wrong_side} {lty} {integer}, {x}"));
        let moved = self.emit(format_args!("{op} {lty} {integer}, 1.0"));
        self.emit(format_args!(
            "select i1 {wrong}, {lty} {moved}, {lty} {integer}"
        ))
    }

    /// A shift or rotate, the count taken modulo the width as Wasm says.
    fn shift(&mut self, inst: &str) -> Result<(), CompileError> {
        let ty = self.stack.last().expect("operand").ty;
        self.binary(ty, |e, lty, a, b| {
            let bits = if lty == "i32" { 31 } else { 63 };
            let n = e.emit(format_args!("and {lty} {b}, {bits}"));
            e.emit(format_args!("{inst} {lty} {a}, {n}"))
        })
    }

    /// Integer division and remainder with Wasm's traps.
    fn divide(&mut self, inst: &str) -> Result<(), CompileError> {
        let b = self.pop();
        let a = self.pop();
        let lty = self.ty(a.ty);
        let zero = self.emit(format_args!("icmp eq {lty} {}, 0", b.name));
        self.trap_if(&zero, TrapKind::IntegerDivideByZero);
        let min = if lty == "i32" {
            i32::MIN as i64
        } else {
            i64::MIN
        };
        let v = match inst {
            "sdiv" => {
                let is_min = self.emit(format_args!("icmp eq {lty} {}, {min}", a.name));
                let is_neg1 = self.emit(format_args!("icmp eq {lty} {}, -1", b.name));
                let both = self.emit(format_args!("and i1 {is_min}, {is_neg1}"));
                self.trap_if(&both, TrapKind::IntegerOverflow);
                self.emit(format_args!("sdiv {lty} {}, {}", a.name, b.name))
            }
            "srem" => {
                // MIN % -1 is 0 in Wasm and undefined in LLVM; x % 1 is 0 too.
                let is_neg1 = self.emit(format_args!("icmp eq {lty} {}, -1", b.name));
                let d = self.emit(format_args!(
                    "select i1 {is_neg1}, {lty} 1, {lty} {}",
                    b.name
                ));
                self.emit(format_args!("srem {lty} {}, {d}", a.name))
            }
            _ => self.emit(format_args!("{inst} {lty} {}, {}", a.name, b.name)),
        };
        self.push(a.ty, v);
        Ok(())
    }

    /// `min` or `max` as Wasm has them: NaN if either operand is, and -0
    /// below +0.
    fn min_max(&mut self, min: bool) -> Result<(), CompileError> {
        let ty = self.stack.last().expect("operand").ty;
        self.binary(ty, |e, lty, a, b| {
            let ity = if lty == "float" { "i32" } else { "i64" };
            e.float_min_max(min, lty, ity, "i1", a, b)
        })
    }

    /// Wasm's float `min` (`max`) of `a` and `b`, of the float type `t`
    /// (scalar or vector), whose integer type of the same width is `int`
    /// and whose comparisons give `cond`: NaN if either is NaN, -0 below
    /// +0 (LLVM's `minnum` and `minimum` differ on one or the other).
    fn float_min_max(
        &mut self,
        min: bool,
        t: &str,
        int: &str,
        cond: &str,
        a: &str,
        b: &str,
    ) -> String {
        let uno = self.emit(format_args!("fcmp uno {t} {a}, {b}"));
        let (pred, bits) = if min { ("olt", "or") } else { ("ogt", "and") };
        let pick = self.emit(format_args!("fcmp {pred} {t} {a}, {b}"));
        let eq = self.emit(format_args!("fcmp oeq {t} {a}, {b}"));
        let ai = self.emit(format_args!("bitcast {t} {a} to {int}"));
        let bi = self.emit(format_args!("bitcast {t} {b} to {int}"));
        let signs = self.emit(format_args!("{bits} {int} {ai}, {bi}"));
        let zeros = self.emit(format_args!("bitcast {int} {signs} to {t}"));
        let picked = self.emit(format_args!("select {cond} {pick}, {t} {a}, {t} {b}"));
        let ordered = self.emit(format_args!(
            "select {cond} {eq}, {t} {zeros}, {t} {picked}"
        ));
        let nan = self.emit(format_args!("fadd {t} {a}, {b}"));
        self.emit(format_args!(
            "select {cond} {uno}, {t} {nan}, {t} {ordered}"
        ))
    }

    /// A trapping float-to-integer conversion: NaN is invalid, values
    /// outside `(low, high)` overflow.
    fn truncate(&mut self, to: ValType, signed: bool) -> Result<(), CompileError> {
        let a = self.pop();
        let lty = self.ty(a.ty);
        let ity = self.ty(to);
        let (low, high) = trunc_bounds(a.ty, to, signed);
        let nan = self.emit(format_args!("fcmp uno {lty} {}, {}", a.name, a.name));
        self.trap_if(&nan, TrapKind::InvalidConversion);
        let above = self.emit(format_args!("fcmp ogt {lty} {}, {}", a.name, float(low)));
        let below = self.emit(format_args!("fcmp olt {lty} {}, {}", a.name, float(high)));
        let inside = self.emit(format_args!("and i1 {above}, {below}"));
        let outside = self.emit(format_args!("xor i1 {inside}, true"));
        self.trap_if(&outside, TrapKind::IntegerOverflow);
        let inst = if signed { "fptosi" } else { "fptoui" };
        let v = self.emit(format_args!("{inst} {lty} {} to {ity}", a.name));
        self.push(to, v);
        Ok(())
    }

    fn saturate(&mut self, to: ValType, signed: bool) -> Result<(), CompileError> {
        let a = self.pop();
        let lty = self.ty(a.ty);
        let ity = self.ty(to);
        let s = if signed { "fptosi" } else { "fptoui" };
        let suffix = intrinsic_suffix(lty);
        let v = self.emit(format_args!(
            "call {ity} @llvm.{s}.sat.{ity}.{suffix}({lty} {})",
            a.name
        ));
        self.push(to, v);
        Ok(())
    }

    fn convert(&mut self, inst: &str, to: ValType) -> Result<(), CompileError> {
        let a = self.pop();
        let from = self.ty(a.ty);
        let lto = self.ty(to);
        let v = self.emit(format_args!("{inst} {from} {} to {lto}", a.name));
        self.push(to, v);
        Ok(())
    }

    /// Sign-extends the low `bits` of the operand in place.
    fn extend_low(&mut self, bits: &str) -> Result<(), CompileError> {
        let ty = self.stack.last().expect("operand").ty;
        self.unary(ty, |e, lty, a| {
            let t = e.emit(format_args!("trunc {lty} {a} to {bits}"));
            e.emit(format_args!("sext {bits} {t} to {lty}"))
        })
    }

    fn numeric(&mut self, op: Operator) -> Result<(), CompileError> {
        use Operator as O;
        use ValType::{F32, F64, I32, I64};
        match op {
            O::I32Eqz | O::I64Eqz => {
                self.unary(I32, |e, lty, a| {
                    let c = e.emit(format_args!("icmp eq {lty} {a}, 0"));
                    e.emit(format_args!("zext i1 {c} to i32"))
                })?;
            }
            O::I32Eq | O::I64Eq => self.compare("icmp eq")?,
            O::I32Ne | O::I64Ne => self.compare("icmp ne")?,
            O::I32LtS | O::I64LtS => self.compare("icmp slt")?,
            O::I32LtU | O::I64LtU => self.compare("icmp ult")?,
            O::I32GtS | O::I64GtS => self.compare("icmp sgt")?,
            O::I32GtU | O::I64GtU => self.compare("icmp ugt")?,
            O::I32LeS | O::I64LeS => self.compare("icmp sle")?,
            O::I32LeU | O::I64LeU => self.compare("icmp ule")?,
            O::I32GeS | O::I64GeS => self.compare("icmp sge")?,
            O::I32GeU | O::I64GeU => self.compare("icmp uge")?,
            O::F32Eq | O::F64Eq => self.compare("fcmp oeq")?,
            O::F32Ne | O::F64Ne => self.compare("fcmp une")?,
            O::F32Lt | O::F64Lt => self.compare("fcmp olt")?,
            O::F32Gt | O::F64Gt => self.compare("fcmp ogt")?,
            O::F32Le | O::F64Le => self.compare("fcmp ole")?,
            O::F32Ge | O::F64Ge => self.compare("fcmp oge")?,
            O::I32Clz | O::I64Clz => self.intrinsic("ctlz", 1, ", i1 false")?,
            O::I32Ctz | O::I64Ctz => self.intrinsic("cttz", 1, ", i1 false")?,
            O::I32Popcnt | O::I64Popcnt => self.intrinsic("ctpop", 1, "")?,
            O::I32Add | O::I64Add => self.arith("add")?,
            O::I32Sub | O::I64Sub => self.arith("sub")?,
            O::I32Mul | O::I64Mul => self.arith("mul")?,
            O::I32DivS | O::I64DivS => self.divide("sdiv")?,
            O::I32DivU | O::I64DivU => self.divide("udiv")?,
            O::I32RemS | O::I64RemS => self.divide("srem")?,
            O::I32RemU | O::I64RemU => self.divide("urem")?,
            O::I32And | O::I64And => self.arith("and")?,
            O::I32Or | O::I64Or => self.arith("or")?,
            O::I32Xor | O::I64Xor => self.arith("xor")?,
            O::I32Shl | O::I64Shl => self.shift("shl")?,
            O::I32ShrS | O::I64ShrS => self.shift("ashr")?,
            O::I32ShrU | O::I64ShrU => self.shift("lshr")?,
            O::I32Rotl | O::I64Rotl => {
                let ty = self.stack.last().expect("operand").ty;
                self.binary(ty, |e, lty, a, b| {
                    e.emit(format_args!(
                        "call {lty} @llvm.fshl.{lty}({lty} {a}, {lty} {a}, {lty} {b})"
                    ))
                })?
            }
            O::I32Rotr | O::I64Rotr => {
                let ty = self.stack.last().expect("operand").ty;
                self.binary(ty, |e, lty, a, b| {
                    e.emit(format_args!(
                        "call {lty} @llvm.fshr.{lty}({lty} {a}, {lty} {a}, {lty} {b})"
                    ))
                })?
            }
            O::F32Abs | O::F64Abs => self.intrinsic("fabs", 1, "")?,
            O::F32Neg | O::F64Neg => {
                let ty = self.stack.last().expect("operand").ty;
                self.unary(ty, |e, lty, a| e.emit(format_args!("fneg {lty} {a}")))?
            }
            O::F32Ceil | O::F64Ceil => self.round(Rounding::Up)?,
            O::F32Floor | O::F64Floor => self.round(Rounding::Down)?,
            O::F32Trunc | O::F64Trunc => self.round(Rounding::Zero)?,
            O::F32Nearest | O::F64Nearest => self.round(Rounding::Nearest)?,
            O::F32Sqrt | O::F64Sqrt => self.intrinsic("sqrt", 1, "")?,
            O::F32Add | O::F64Add => self.float_arith("fadd", 0.0)?,
            O::F32Sub | O::F64Sub => self.float_arith("fsub", 0.0)?,
            O::F32Mul | O::F64Mul => self.float_arith("fmul", 1.0)?,
            O::F32Div | O::F64Div => self.float_arith("fdiv", 1.0)?,
            O::F32Min | O::F64Min => self.min_max(true)?,
            O::F32Max | O::F64Max => self.min_max(false)?,
            O::F32Copysign | O::F64Copysign => self.intrinsic("copysign", 2, "")?,
            O::I32WrapI64 => self.convert("trunc", I32)?,
            O::I32TruncF32S | O::I32TruncF64S => self.truncate(I32, true)?,
            O::I32TruncF32U | O::I32TruncF64U => self.truncate(I32, false)?,
            O::I64TruncF32S | O::I64TruncF64S => self.truncate(I64, true)?,
            O::I64TruncF32U | O::I64TruncF64U => self.truncate(I64, false)?,
            O::I32TruncSatF32S | O::I32TruncSatF64S => self.saturate(I32, true)?,
            O::I32TruncSatF32U | O::I32TruncSatF64U => self.saturate(I32, false)?,
            O::I64TruncSatF32S | O::I64TruncSatF64S => self.saturate(I64, true)?,
            O::I64TruncSatF32U | O::I64TruncSatF64U => self.saturate(I64, false)?,
            O::I64ExtendI32S => self.convert("sext", I64)?,
            O::I64ExtendI32U => self.convert("zext", I64)?,
            O::F32ConvertI32S | O::F32ConvertI64S => self.convert("sitofp", F32)?,
            O::F32ConvertI32U | O::F32ConvertI64U => self.convert("uitofp", F32)?,
            O::F64ConvertI32S | O::F64ConvertI64S => self.convert("sitofp", F64)?,
            O::F64ConvertI32U | O::F64ConvertI64U => self.convert("uitofp", F64)?,
            O::F32DemoteF64 => {
                // LLVM folds demote(promote(x)) to x, signalling NaNs too.
                self.convert("fptrunc", F32)?;
                let top = self.pop();
                let v = self.quieted(F32, &top.name, &top.name)?;
                self.push(F32, v);
            }
            O::F64PromoteF32 => self.convert("fpext", F64)?,
            O::I32ReinterpretF32 => self.convert("bitcast", I32)?,
            O::I64ReinterpretF64 => self.convert("bitcast", I64)?,
            O::F32ReinterpretI32 => self.convert("bitcast", F32)?,
            O::F64ReinterpretI64 => self.convert("bitcast", F64)?,
            O::I32Extend8S | O::I64Extend8S => self.extend_low("i8")?,
            O::I32Extend16S | O::I64Extend16S => self.extend_low("i16")?,
            O::I64Extend32S => self.extend_low("i32")?,
            other => {
                if !self.simd(&other)? {
                    return Err(self.unsupported(format_args!("{other:?}")));
                }
            }
        }
        Ok(())
    }
}

/// The bytes an access of the IR type `mem` touches.
fn access_size(mem: &str) -> u64 {
    match mem {
        "i8" => 1,
        "i16" => 2,
        "i32" | "float" => 4,
        _ => 8,
    }
}

/// A direction of rounding to an integer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rounding {
    Up,
    Down,
    Zero,
    Nearest,
}

impl Rounding {
    /// LLVM's intrinsic for it.
    fn intrinsic(self) -> &'static str {
        match self {
            Rounding::Up => "ceil",
            Rounding::Down => "floor",
            Rounding::Zero => "trunc",
            Rounding::Nearest => "roundeven",
        }
    }
}

/// The suffix LLVM's overloaded intrinsics take for `lty`.
fn intrinsic_suffix(lty: &str) -> &'static str {
    match lty {
        "i32" => "i32",
        "i64" => "i64",
        "float" => "f32",
        _ => "f64",
    }
}

/// The open interval of float values that truncate to an integer of type
/// `to` without overflow: the largest value below it and the smallest
/// above it, both exact in `from`.
fn trunc_bounds(from: ValType, to: ValType, signed: bool) -> (f64, f64) {
    match (to, signed) {
        (ValType::I32, true) => match from {
            ValType::F32 => (-2147483904.0, 2147483648.0),
            _ => (-2147483649.0, 2147483648.0),
        },
        (ValType::I32, false) => (-1.0, 4294967296.0),
        (_, true) => match from {
            ValType::F32 => (-9223373136366403584.0, 9223372036854775808.0),
            _ => (-9223372036854777856.0, 9223372036854775808.0),
        },
        (_, false) => (-1.0, 18446744073709551616.0),
    }
}
