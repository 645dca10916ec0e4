//! One case: a module and its plan, run under every Luge configuration and
//! every reference engine, and judged by majority.

use crate::engines::luge::Configuration;
use crate::engines::Reference;
use crate::observation::Observation;
use crate::plan::Plan;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Something about Luge that needs a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Finding {
    /// Luge in `config` disagrees with reference engines that agree.
    Divergence { config: String, detail: String },
    /// No two of Luge and the reference engines agree, or the one engine
    /// able to judge disagrees with Luge.
    NoMajority { config: String, detail: String },
}

impl Finding {
    /// Where the difference shows (`call "f"`, `global "g"`,
    /// `instantiation`...), without the values: what a smaller module
    /// must still show to be the same finding.
    pub fn site(&self) -> &str {
        let (Finding::Divergence { detail, .. } | Finding::NoMajority { detail, .. }) = self;
        detail.split(':').next().unwrap_or(detail)
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Divergence { config, detail } => {
                write!(f, "divergence in {config}: {detail}")
            }
            Finding::NoMajority { config, detail } => {
                write!(f, "no majority in {config}: {detail}")
            }
        }
    }
}

/// The verdict on one case.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub seed: u64,
    pub findings: Vec<Finding>,
    /// Where the reference engines disagree with each other (one of them
    /// is wrong; Luge sided with the other).
    pub reference_disagreement: Option<String>,
    /// Reference engines that could not run the case, and why.
    pub reference_failures: Vec<String>,
    /// Calls made per engine (the plan's length).
    pub calls: usize,
    /// Why the case could not be run at all (a harness fault: the
    /// generator or the plan failed on a module).
    pub skipped: Option<String>,
    /// Opt-tier configurations that do not translate the module yet.
    pub untranslated: usize,
}

impl Report {
    /// Nothing for a person to look at: no finding, the case ran, and both
    /// reference engines could judge it.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty() && self.skipped.is_none() && self.reference_failures.is_empty()
    }
}

/// Runs `wasm` with the plan of `seed` under `configs` and the reference
/// engines; `dir` holds the shared objects while they load.
pub fn run(seed: u64, wasm: &[u8], configs: &[Configuration], dir: &Path) -> Report {
    let mut report = Report {
        seed,
        ..Report::default()
    };
    let plan = match Plan::new(wasm, seed) {
        Ok(plan) => plan,
        Err(e) => {
            report.skipped = Some(format!("no plan: {e:#}"));
            return report;
        }
    };
    report.calls = plan.calls.len();
    let references: Vec<(Reference, Observation)> = Reference::ALL
        .into_iter()
        .filter_map(|r| match r.observe(wasm, &plan) {
            Ok(observation) => Some((r, observation)),
            Err(e) => {
                report.reference_failures.push(e);
                None
            }
        })
        .collect();
    if let [(a, first), (b, second)] = references.as_slice() {
        report.reference_disagreement = first
            .difference(second)
            .map(|d| format!("{} / {}: {d}", a.name(), b.name()));
    }
    for config in configs {
        let Some(luge) = config.observe(wasm, &plan, dir) else {
            report.untranslated += 1;
            continue;
        };
        if let Some(finding) = judge(&config.name(), &luge, &references) {
            report.findings.push(finding);
        }
    }
    report
}

/// Luge is right when it agrees with at least one reference engine (with
/// two that disagree, it makes the majority); wrong when it disagrees with
/// every reference engine and those agree among themselves.
///
/// A reference engine that ran out of stack abstains when another did not:
/// stack depths differ between engines, and nothing after an overflow can
/// be compared.
fn judge(
    config: &str,
    luge: &Observation,
    references: &[(Reference, Observation)],
) -> Option<Finding> {
    let whole: Vec<(Reference, Observation)> = references
        .iter()
        .filter(|(_, o)| !o.overflowed())
        .cloned()
        .collect();
    let references = if whole.is_empty() { references } else { &whole };
    if references.is_empty() {
        return None;
    }
    let differences: Vec<String> = references
        .iter()
        .map(|(_, o)| luge.difference(o))
        .collect::<Option<_>>()?;
    let names: Vec<&str> = references.iter().map(|(r, _)| r.name()).collect();
    let references_agree = references
        .windows(2)
        .all(|pair| pair[0].1.difference(&pair[1].1).is_none());
    let config = config.to_string();
    Some(if references_agree && references.len() > 1 {
        let detail = format!("{} (luge / {})", differences[0], names.join(" and "));
        Finding::Divergence { config, detail }
    } else {
        let detail = names
            .iter()
            .zip(&differences)
            .map(|(name, d)| format!("{d} (luge / {name})"))
            .collect::<Vec<_>>()
            .join("; ");
        Finding::NoMajority { config, detail }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::{Outcome, Trap, Value};

    fn returning(v: u32) -> Observation {
        Observation {
            instantiation: Outcome::Returned(Vec::new()),
            calls: vec![("f".into(), Outcome::Returned(vec![Value::I32(v)]))],
            globals: Vec::new(),
            memories: Vec::new(),
            tables: Vec::new(),
        }
    }

    fn trapping(trap: Trap) -> Observation {
        Observation {
            calls: vec![("f".into(), Outcome::Trapped(trap))],
            ..returning(0)
        }
    }

    fn references(a: Observation, b: Observation) -> Vec<(Reference, Observation)> {
        vec![(Reference::Wasmtime, a), (Reference::Wasmi, b)]
    }

    #[test]
    fn luge_against_agreeing_references_diverges() {
        let found = judge(
            "guard@v2",
            &returning(1),
            &references(returning(2), returning(2)),
        );
        let Some(Finding::Divergence { config, detail }) = found else {
            panic!("{found:?}");
        };
        assert_eq!(config, "guard@v2");
        assert_eq!(
            detail,
            "call \"f\": returned [i32:0x1] / returned [i32:0x2] (luge / wasmtime and wasmi)"
        );
    }

    #[test]
    fn luge_siding_with_one_reference_makes_the_majority() {
        let refs = references(returning(1), returning(2));
        assert_eq!(judge("guard@v2", &returning(1), &refs), None);
        assert_eq!(judge("guard@v2", &returning(2), &refs), None);
        assert!(matches!(
            judge("guard@v2", &returning(3), &refs),
            Some(Finding::NoMajority { .. })
        ));
    }

    #[test]
    fn one_reference_that_disagrees_is_no_majority() {
        let refs = vec![(Reference::Wasmtime, returning(2))];
        assert!(matches!(
            judge("guard@v2", &returning(1), &refs),
            Some(Finding::NoMajority { .. })
        ));
    }

    #[test]
    fn trap_kinds_count_and_stack_overflow_ends_the_comparison() {
        let refs = references(
            trapping(Trap::IntegerDivideByZero),
            trapping(Trap::IntegerDivideByZero),
        );
        assert!(judge("x", &trapping(Trap::IntegerOverflow), &refs).is_some());
        assert!(judge("x", &trapping(Trap::StackOverflow), &refs).is_none());
    }

    #[test]
    fn a_reference_out_of_stack_abstains() {
        let refs = references(returning(2), trapping(Trap::StackOverflow));
        let found = judge("x", &returning(1), &refs);
        assert!(
            matches!(found, Some(Finding::NoMajority { .. })),
            "{found:?}"
        );
        assert_eq!(judge("x", &returning(2), &refs), None);
    }

    #[test]
    fn scalar_nans_agree_whatever_their_payload() {
        let nan = |bits: u32| Observation {
            calls: vec![("f".into(), Outcome::Returned(vec![Value::F32(bits)]))],
            ..returning(0)
        };
        let refs = references(nan(0x7fc0_0000), nan(0x7fc0_0000));
        assert_eq!(judge("x", &nan(0xffc0_0001), &refs), None);
        assert!(judge("x", &nan(0x3f80_0000), &refs).is_some());
    }

    #[test]
    fn tables_compare_by_size_and_null_elements() {
        let with_table = |t: Vec<bool>| Observation {
            tables: vec![("t".into(), Some(t))],
            ..returning(0)
        };
        let refs = references(with_table(vec![true, false]), with_table(vec![true, false]));
        let found = judge("x", &with_table(vec![true, true]), &refs).unwrap();
        assert_eq!(found.site(), "table \"t\"");
        assert!(
            found.to_string().contains("element 1: null / non-null"),
            "{found}"
        );
    }

    #[test]
    fn memories_compare_byte_for_byte() {
        let with_memory = |bytes: Vec<u8>| Observation {
            memories: vec![("m".into(), Some(bytes))],
            ..returning(0)
        };
        let refs = references(with_memory(vec![0, 1]), with_memory(vec![0, 1]));
        let found = judge("x", &with_memory(vec![0, 2]), &refs);
        assert!(
            format!("{found:?}").contains("byte 0x1: 0x02 / 0x01"),
            "{found:?}"
        );
        assert!(judge("x", &with_memory(vec![0, 1]), &refs).is_none());
    }
}
