//! CPU features compiled code may rely on. Modules are compiled ahead of
//! time, possibly on another machine, so the descriptor records what the
//! code needs and the runtime refuses a module its host cannot run.

use crate::Arch;
use serde::{Deserialize, Serialize};

/// An x86_64 extension beyond the SSE2 baseline every x86_64 CPU has.
/// (aarch64 code needs nothing beyond the base architecture and its NEON
/// unit, which every aarch64 Linux system has.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CpuFeature {
    Sse3,
    Ssse3,
    Sse41,
    Sse42,
    Popcnt,
    Avx,
    Avx2,
    Fma,
    Bmi1,
    Bmi2,
    Lzcnt,
}

impl CpuFeature {
    pub const ALL: [CpuFeature; 11] = [
        CpuFeature::Sse3,
        CpuFeature::Ssse3,
        CpuFeature::Sse41,
        CpuFeature::Sse42,
        CpuFeature::Popcnt,
        CpuFeature::Avx,
        CpuFeature::Avx2,
        CpuFeature::Fma,
        CpuFeature::Bmi1,
        CpuFeature::Bmi2,
        CpuFeature::Lzcnt,
    ];

    /// The name `/proc/cpuinfo`-literate users know (as Rust's
    /// `is_x86_feature_detected!` spells it).
    pub fn name(self) -> &'static str {
        match self {
            CpuFeature::Sse3 => "sse3",
            CpuFeature::Ssse3 => "ssse3",
            CpuFeature::Sse41 => "sse4.1",
            CpuFeature::Sse42 => "sse4.2",
            CpuFeature::Popcnt => "popcnt",
            CpuFeature::Avx => "avx",
            CpuFeature::Avx2 => "avx2",
            CpuFeature::Fma => "fma",
            CpuFeature::Bmi1 => "bmi1",
            CpuFeature::Bmi2 => "bmi2",
            CpuFeature::Lzcnt => "lzcnt",
        }
    }

    /// Whether the CPU this process runs on has the feature.
    pub fn on_host(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                CpuFeature::Sse3 => is_x86_feature_detected!("sse3"),
                CpuFeature::Ssse3 => is_x86_feature_detected!("ssse3"),
                CpuFeature::Sse41 => is_x86_feature_detected!("sse4.1"),
                CpuFeature::Sse42 => is_x86_feature_detected!("sse4.2"),
                CpuFeature::Popcnt => is_x86_feature_detected!("popcnt"),
                CpuFeature::Avx => is_x86_feature_detected!("avx"),
                CpuFeature::Avx2 => is_x86_feature_detected!("avx2"),
                CpuFeature::Fma => is_x86_feature_detected!("fma"),
                CpuFeature::Bmi1 => is_x86_feature_detected!("bmi1"),
                CpuFeature::Bmi2 => is_x86_feature_detected!("bmi2"),
                CpuFeature::Lzcnt => is_x86_feature_detected!("lzcnt"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }
}

impl std::fmt::Display for CpuFeature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which CPUs compiled code targets, as a choice of [`CpuFeature`] sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CpuLevel {
    /// x86-64 as first shipped (SSE2): runs on any x86_64 CPU.
    Baseline,
    /// x86-64-v2: SSE3 to SSE4.2 and POPCNT, on every x86_64 CPU sold in
    /// the last decade or so (Intel since 2008, AMD since 2011).
    #[default]
    V2,
    /// x86-64-v3: v2 plus AVX, AVX2, FMA, BMI1/2 and LZCNT (Intel since
    /// 2013, AMD since 2015; not Atom-class edge boxes before 2021).
    V3,
    /// Whatever the compiling machine has (of the features above).
    Native,
}

impl CpuLevel {
    pub const NAMES: &'static str = "baseline, v2, v3 or native";
    pub const ALL: [CpuLevel; 4] = [
        CpuLevel::Baseline,
        CpuLevel::V2,
        CpuLevel::V3,
        CpuLevel::Native,
    ];

    /// The name `--cpu` takes.
    pub fn name(self) -> &'static str {
        match self {
            CpuLevel::Baseline => "baseline",
            CpuLevel::V2 => "v2",
            CpuLevel::V3 => "v3",
            CpuLevel::Native => "native",
        }
    }

    /// Whether this machine can run code compiled at this level for it.
    pub fn runs_on_host(self) -> bool {
        self.features(Arch::host()).iter().all(|f| f.on_host())
    }

    /// The features code compiled at this level for `arch` may use.
    pub fn features(self, arch: Arch) -> Vec<CpuFeature> {
        use CpuFeature::*;
        if arch != Arch::X86_64 {
            return Vec::new();
        }
        match self {
            CpuLevel::Baseline => Vec::new(),
            CpuLevel::V2 => vec![Sse3, Ssse3, Sse41, Sse42, Popcnt],
            CpuLevel::V3 => CpuFeature::ALL.to_vec(),
            CpuLevel::Native if Arch::host() == Arch::X86_64 => CpuFeature::ALL
                .into_iter()
                .filter(|f| f.on_host())
                .collect(),
            // Cross-compiling: the compiling machine says nothing about the
            // target, so `native` means the safe choice.
            CpuLevel::Native => Vec::new(),
        }
    }
}

impl std::str::FromStr for CpuLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "baseline" => Ok(CpuLevel::Baseline),
            "v2" | "x86-64-v2" => Ok(CpuLevel::V2),
            "v3" | "x86-64-v3" => Ok(CpuLevel::V3),
            "native" => Ok(CpuLevel::Native),
            other => Err(format!(
                "unknown CPU level `{other}` (expected {})",
                CpuLevel::NAMES
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for level in CpuLevel::ALL {
            assert_eq!(level.name().parse::<CpuLevel>(), Ok(level));
        }
    }

    #[test]
    fn levels_nest_and_aarch64_needs_nothing() {
        let v2 = CpuLevel::V2.features(Arch::X86_64);
        let v3 = CpuLevel::V3.features(Arch::X86_64);
        assert!(CpuLevel::Baseline.features(Arch::X86_64).is_empty());
        assert!(v2.iter().all(|f| v3.contains(f)));
        assert!(v3.len() > v2.len());
        for level in [CpuLevel::V2, CpuLevel::V3, CpuLevel::Native] {
            assert!(level.features(Arch::Aarch64).is_empty());
        }
    }

    /// The kernel's name in `/proc/cpuinfo` of each feature.
    fn cpuinfo_flag(feature: CpuFeature) -> &'static str {
        match feature {
            CpuFeature::Sse3 => "pni",
            CpuFeature::Sse41 => "sse4_1",
            CpuFeature::Sse42 => "sse4_2",
            CpuFeature::Lzcnt => "abm",
            other => other.name(),
        }
    }

    /// `native` is what the CPU has, as the kernel (not our own detection)
    /// reports it.
    #[test]
    fn native_is_what_the_kernel_says_the_cpu_has() {
        let native = CpuLevel::Native.features(Arch::host());
        if Arch::host() != Arch::X86_64 {
            assert!(native.is_empty());
            return;
        }
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
        let flags: Vec<&str> = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("flags"))
            .expect("a flags line")
            .trim_start_matches([' ', '\t', ':'])
            .split_whitespace()
            .collect();
        for feature in CpuFeature::ALL {
            let listed = flags.contains(&cpuinfo_flag(feature));
            assert_eq!(native.contains(&feature), listed, "{}", feature.name());
        }
    }

    #[test]
    fn parses_levels_and_names_the_choices_on_error() {
        assert_eq!("v2".parse::<CpuLevel>(), Ok(CpuLevel::V2));
        assert_eq!("x86-64-v3".parse::<CpuLevel>(), Ok(CpuLevel::V3));
        let err = "v4".parse::<CpuLevel>().unwrap_err();
        assert!(err.contains("`v4`") && err.contains("baseline"), "{err}");
    }
}
