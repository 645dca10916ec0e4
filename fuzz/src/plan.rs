//! What every engine does with a case's module: call each exported
//! function, in export order, with arguments drawn from the seed, for
//! [`ROUNDS`] rounds, then read back every exported global, memory and
//! table.

use crate::generate;
use crate::observation::Value;
use wasmparser::{ExternalKind, Payload, ValType, Validator};

/// Calls of each export. Compiling dominates a case's cost, so calls with
/// more arguments are nearly free; state left by one round meets the next.
pub const ROUNDS: u32 = 3;

/// One call: the export and its arguments.
#[derive(Debug, Clone)]
pub struct Call {
    pub export: String,
    pub args: Vec<Value>,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub calls: Vec<Call>,
    pub globals: Vec<String>,
    pub memories: Vec<String>,
    pub tables: Vec<String>,
    /// The global the generator's fuel is kept in, refilled before each
    /// call (see [`generate::FUEL_EXPORT`]); absent in hand-written cases.
    pub fuel: Option<String>,
}

impl Plan {
    /// The plan for `wasm` (which must validate). A function's arguments
    /// depend only on `seed`, its export name, the round and its parameter
    /// types, so that a shrunken module calls what is left of it with the
    /// same ones.
    pub fn new(wasm: &[u8], seed: u64) -> anyhow::Result<Plan> {
        let types = Validator::new_with_features(awsm_compiler::features()).validate_all(wasm)?;
        let mut plan = Plan::default();
        let mut functions = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(wasm) {
            let Payload::ExportSection(exports) = payload? else {
                continue;
            };
            for export in exports {
                let export = export?;
                let name = export.name.to_string();
                match export.kind {
                    ExternalKind::Func => {
                        let id = types.core_function_at(export.index);
                        functions.push((name, types[id].unwrap_func().params().to_vec()));
                    }
                    ExternalKind::Global => {
                        if name == generate::FUEL_EXPORT {
                            plan.fuel = Some(name.clone());
                        }
                        plan.globals.push(name);
                    }
                    ExternalKind::Memory => plan.memories.push(name),
                    ExternalKind::Table => plan.tables.push(name),
                    ExternalKind::Tag => {}
                }
            }
        }
        for round in 0..ROUNDS {
            for (name, params) in &functions {
                plan.calls.push(Call {
                    export: name.clone(),
                    args: arguments(seed, round, name, params),
                });
            }
        }
        Ok(plan)
    }
}

fn arguments(seed: u64, round: u32, export: &str, params: &[ValType]) -> Vec<Value> {
    let salt = fnv1a(export.as_bytes()).rotate_left(round * 8);
    let mut rng = fastrand::Rng::with_seed(seed ^ salt);
    params.iter().map(|ty| argument(&mut rng, *ty)).collect()
}

/// FNV-1a: a hash that is the same in every build (std's is not promised).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Edges first (zero, signs, extremes, powers of two near the widths Wasm
/// code tests against), random bits otherwise.
fn argument(rng: &mut fastrand::Rng, ty: ValType) -> Value {
    const I32_EDGES: [u32; 8] = [
        0,
        1,
        u32::MAX,
        0x8000_0000,
        0x7fff_ffff,
        0xff,
        0xffff,
        0x1_0000,
    ];
    const I64_EDGES: [u64; 6] = [0, 1, u64::MAX, 1 << 63, i64::MAX as u64, 0xffff_ffff];
    const F32_EDGES: [f32; 8] = [
        0.0,
        -0.0,
        1.0,
        -1.5,
        f32::INFINITY,
        f32::NAN,
        2147483648.0,
        0.5,
    ];
    const F64_EDGES: [f64; 8] = [
        0.0,
        -0.0,
        1.0,
        -2.5,
        f64::NEG_INFINITY,
        f64::NAN,
        9.3e18,
        0.5,
    ];
    let edge = rng.bool();
    match ty {
        ValType::I32 if edge => Value::I32(I32_EDGES[rng.usize(..I32_EDGES.len())]),
        ValType::I32 => Value::I32(rng.u32(..)),
        ValType::I64 if edge => Value::I64(I64_EDGES[rng.usize(..I64_EDGES.len())]),
        ValType::I64 => Value::I64(rng.u64(..)),
        ValType::F32 if edge => Value::F32(F32_EDGES[rng.usize(..F32_EDGES.len())].to_bits()),
        ValType::F32 => Value::F32(rng.u32(..)),
        ValType::F64 if edge => Value::F64(F64_EDGES[rng.usize(..F64_EDGES.len())].to_bits()),
        ValType::F64 => Value::F64(rng.u64(..)),
        ValType::V128 => Value::V128(u128::from(rng.u64(..)) << 64 | u128::from(rng.u64(..))),
        // Only null references can be made without a host.
        ValType::Ref(_) => Value::NullRef,
    }
}
