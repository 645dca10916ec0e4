//! The kernels (one C file each in `polybench/kernels`) and the datasets
//! they can be built for.

use anyhow::{bail, Context, Result};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A PolyBench dataset size, chosen at compile time with `-D<NAME>_DATASET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    Mini,
    Small,
    Medium,
    Large,
    ExtraLarge,
}

impl Dataset {
    pub const ALL: [Dataset; 5] = [
        Dataset::Mini,
        Dataset::Small,
        Dataset::Medium,
        Dataset::Large,
        Dataset::ExtraLarge,
    ];

    /// The name as the harness prints it and the `-D` macro spells it.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Mini => "MINI",
            Dataset::Small => "SMALL",
            Dataset::Medium => "MEDIUM",
            Dataset::Large => "LARGE",
            Dataset::ExtraLarge => "EXTRALARGE",
        }
    }

    /// The preprocessor flag selecting this dataset.
    pub fn define(self) -> String {
        format!("-D{}_DATASET", self.name())
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Dataset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Dataset::ALL
            .into_iter()
            .find(|d| d.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<_> = Dataset::ALL.iter().map(|d| d.name()).collect();
                format!("unknown dataset `{s}` (expected {})", names.join(", "))
            })
    }
}

/// One kernel: its name (the file stem, which is also the name the
/// harness prints) and its source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    pub name: String,
    pub source: PathBuf,
}

/// The directory holding the kernel sources.
pub fn kernels_dir() -> PathBuf {
    crate::workspace_root().join("polybench/kernels")
}

/// The directory holding `polybench.h`.
pub fn include_dir() -> PathBuf {
    crate::workspace_root().join("polybench/include")
}

/// Every `*.c` file in `dir`, sorted by name.
pub fn discover(dir: &Path) -> Result<Vec<Kernel>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    let mut kernels = Vec::new();
    for entry in entries {
        let source = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        let is_c = source.extension().is_some_and(|e| e == "c");
        let name = source
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string);
        if let (true, Some(name)) = (is_c, name) {
            kernels.push(Kernel { name, source });
        }
    }
    kernels.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(kernels)
}

/// The kernels named in `wanted`, in the order given; every name must exist.
/// An empty list means all of them.
pub fn select(all: Vec<Kernel>, wanted: &[String]) -> Result<Vec<Kernel>> {
    if wanted.is_empty() {
        return Ok(all);
    }
    wanted
        .iter()
        .map(|name| match all.iter().find(|k| &k.name == name) {
            Some(kernel) => Ok(kernel.clone()),
            None => {
                let known: Vec<_> = all.iter().map(|k| k.name.as_str()).collect();
                bail!("unknown kernel `{name}` (known: {})", known.join(", "))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datasets_parse_in_any_case() {
        assert_eq!("mini".parse(), Ok(Dataset::Mini));
        assert_eq!("EXTRALARGE".parse(), Ok(Dataset::ExtraLarge));
        assert_eq!(Dataset::Large.define(), "-DLARGE_DATASET");
        let err = "huge".parse::<Dataset>().unwrap_err();
        assert!(
            err.contains("MINI, SMALL, MEDIUM, LARGE, EXTRALARGE"),
            "{err}"
        );
    }

    #[test]
    fn discovery_finds_c_files_sorted() {
        let dir = tempfile::tempdir().unwrap();
        for file in ["syrk.c", "2mm.c", "notes.txt", "gemm.c"] {
            std::fs::write(dir.path().join(file), "").unwrap();
        }
        let names: Vec<_> = discover(dir.path())
            .unwrap()
            .into_iter()
            .map(|k| k.name)
            .collect();
        assert_eq!(names, ["2mm", "gemm", "syrk"]);
    }

    #[test]
    fn selection_keeps_order_and_rejects_unknown_names() {
        let all: Vec<_> = ["atax", "gemm", "lu"]
            .map(|name| Kernel {
                name: name.into(),
                source: PathBuf::from(format!("{name}.c")),
            })
            .into();
        let picked = select(all.clone(), &["lu".into(), "atax".into()]).unwrap();
        assert_eq!(picked, [all[2].clone(), all[0].clone()]);
        assert_eq!(select(all.clone(), &[]).unwrap(), all);
        let err = select(all, &["gem".into()]).unwrap_err().to_string();
        assert!(err.contains("unknown kernel `gem`") && err.contains("atax, gemm, lu"));
    }
}
