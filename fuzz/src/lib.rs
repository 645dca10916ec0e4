//! Differential fuzzing of Luge (issue 17 of the project's plan).
//!
//! A case is a seed. The seed makes a module (`wasm-smith`, restricted to
//! what Luge compiles, made to terminate) and a plan: call each exported
//! function three times with arguments drawn from the seed, refilling the
//! fuel before each call, then read back every exported global, memory and
//! table. The plan runs under Luge in each configuration (guard or
//! software bounds, with or without interrupt checks, at a CPU level) and
//! under the reference engines, Wasmtime and wasmi. Luge is wrong only where it disagrees with every reference
//! engine and they agree with each other: either reference engine has had
//! its own bugs, and a majority keeps them from being blamed on Luge.
//!
//! The `luge-fuzz` binary runs cases in child processes, so that a crash is
//! a finding, and minimizes divergences into `.wat` regression tests
//! (`regressions/`, run by `cargo test`). docs/testing.md says how to run
//! it.

pub mod case;
pub mod engines;
pub mod generate;
pub mod minimize;
pub mod observation;
pub mod plan;
pub mod regression;
