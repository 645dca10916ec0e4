//! Deployed functions on disk, so that they survive a restart.
//!
//! Each deployment of function NAME is a directory
//! `<state-dir>/functions/NAME.<stamp>/` holding `module.wasm` and
//! `function.json` (its settings). It is written under a `.tmp` name and
//! renamed into place only when complete, so a crash mid-deploy leaves at
//! worst a `.tmp` directory, which loading removes; the newest complete
//! directory of a name is the deployed one and older ones are removed
//! once the new one is in place. Removal renames the directory away before
//! deleting it. Compiled objects live in `<state-dir>/cache`, named by
//! content hash like every module cache.

use luge_runtime::cache::ModuleCache;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The settings a deployment was made with (what `function.json` holds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Deployment {
    pub name: String,
    pub route: String,
    pub port: u16,
    pub timeout_ms: u64,
    pub memory_limit_mib: Option<u64>,
    pub max_body_bytes: u64,
    pub relative_deadline_us: u64,
    pub content_type: String,
    /// When it was deployed, in seconds since the Unix epoch.
    pub deployed_at: u64,
}

/// The directory of deployed functions.
pub struct FunctionStore {
    dir: PathBuf,
    cache: ModuleCache,
}

const MODULE_FILE: &str = "module.wasm";
const SETTINGS_FILE: &str = "function.json";

impl FunctionStore {
    /// The store under `state_dir`, created if missing.
    pub fn open(state_dir: &Path) -> std::io::Result<FunctionStore> {
        let dir = state_dir.join("functions");
        std::fs::create_dir_all(&dir)?;
        Ok(FunctionStore {
            dir,
            cache: ModuleCache::new(state_dir.join("cache")),
        })
    }

    /// Where deployed functions' compiled objects are kept.
    pub fn cache(&self) -> &ModuleCache {
        &self.cache
    }

    /// Writes a deployment durably; returns the path of its module. Older
    /// deployments of the name stay until [`FunctionStore::keep_only`]: a
    /// module that then fails to compile must not cost the one before it.
    pub fn save(&self, deployment: &Deployment, wasm: &[u8]) -> std::io::Result<PathBuf> {
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let final_dir = self.dir.join(format!("{}.{stamp}", deployment.name));
        let temp_dir = self.dir.join(format!("{}.{stamp}.tmp", deployment.name));
        std::fs::create_dir(&temp_dir)?;
        write_synced(&temp_dir.join(MODULE_FILE), wasm)?;
        let settings = serde_json::to_vec_pretty(deployment).expect("settings serialize");
        write_synced(&temp_dir.join(SETTINGS_FILE), &settings)?;
        std::fs::rename(&temp_dir, &final_dir)?;
        sync_dir(&self.dir)?;
        Ok(final_dir.join(MODULE_FILE))
    }

    /// Removes every deployment of `name` but the one whose module is
    /// `module` (a path [`FunctionStore::save`] returned). Loading picks the
    /// newest anyway, so a crash before this loses nothing.
    pub fn keep_only(&self, name: &str, module: &Path) -> std::io::Result<()> {
        let kept = module.parent().unwrap_or(module);
        for (dir, _) in self.versions(name)? {
            if dir != kept {
                std::fs::remove_dir_all(dir)?;
            }
        }
        Ok(())
    }

    /// Removes the deployment whose module is `module` (one that failed).
    pub fn discard(&self, module: &Path) -> std::io::Result<()> {
        match module.parent() {
            Some(dir) if dir.starts_with(&self.dir) => std::fs::remove_dir_all(dir),
            _ => Ok(()),
        }
    }

    /// Removes every deployment of `name`; returns whether there was one.
    pub fn remove(&self, name: &str) -> std::io::Result<bool> {
        let versions = self.versions(name)?;
        for (dir, _) in &versions {
            // Renamed first, so that a crash midway cannot leave a partial
            // directory that loads.
            let doomed = dir.with_extension("removed.tmp");
            std::fs::rename(dir, &doomed)?;
            std::fs::remove_dir_all(&doomed)?;
        }
        sync_dir(&self.dir)?;
        Ok(!versions.is_empty())
    }

    /// Every deployed function (the newest complete deployment of each
    /// name) with its module's path, after clearing leftovers of
    /// interrupted deploys. Deployments that cannot be read are skipped
    /// with a warning on stderr.
    pub fn load_all(&self) -> std::io::Result<Vec<(Deployment, PathBuf)>> {
        let mut newest: std::collections::BTreeMap<String, (u128, PathBuf)> = Default::default();
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let file_name = path.file_name().unwrap_or_default().to_string_lossy();
            if file_name.ends_with(".tmp") {
                let _ = std::fs::remove_dir_all(&path);
                continue;
            }
            let Some((name, stamp)) = parse_dir_name(&file_name) else {
                continue;
            };
            let keep = newest.get(&name).is_none_or(|(s, _)| stamp > *s);
            if keep {
                newest.insert(name, (stamp, path));
            }
        }
        let mut loaded = Vec::new();
        for (name, (_, dir)) in newest {
            match read_deployment(&dir) {
                Ok(deployment) => loaded.push((deployment, dir.join(MODULE_FILE))),
                Err(e) => eprintln!("luge: skipping deployed function {name}: {e}"),
            }
        }
        Ok(loaded)
    }

    /// The deployment directories of `name` with their stamps.
    fn versions(&self, name: &str) -> std::io::Result<Vec<(PathBuf, u128)>> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let file_name = path.file_name().unwrap_or_default().to_string_lossy();
            if let Some((n, stamp)) = parse_dir_name(&file_name) {
                if n == name {
                    found.push((path, stamp));
                }
            }
        }
        Ok(found)
    }
}

/// `NAME.<stamp>` → (NAME, stamp).
fn parse_dir_name(file_name: &str) -> Option<(String, u128)> {
    let (name, stamp) = file_name.rsplit_once('.')?;
    Some((name.to_owned(), stamp.parse().ok()?))
}

fn read_deployment(dir: &Path) -> Result<Deployment, String> {
    let path = dir.join(SETTINGS_FILE);
    let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Whether `name` can name a deployed function: it becomes a directory
/// name and a route, so only letters, digits, `-` and `_`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(name: &str) -> Deployment {
        Deployment {
            name: name.to_owned(),
            route: format!("/{name}"),
            port: 8080,
            timeout_ms: 1000,
            memory_limit_mib: None,
            max_body_bytes: 1024,
            relative_deadline_us: 0,
            content_type: "text/plain".to_owned(),
            deployed_at: 0,
        }
    }

    #[test]
    fn the_newest_deployment_wins_and_leftovers_are_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let store = FunctionStore::open(dir.path()).unwrap();
        let first = store.save(&deployment("a"), b"first").unwrap();
        let second = store.save(&deployment("a"), b"second").unwrap();
        // A third that fails goes, the two before it stay.
        let failed = store.save(&deployment("a"), b"third").unwrap();
        store.discard(&failed).unwrap();
        assert!(first.exists() && second.exists() && !failed.exists());
        store.keep_only("a", &second).unwrap();
        assert!(!first.exists());
        store.save(&deployment("b"), b"bee").unwrap();
        // A deploy that crashed before its rename.
        std::fs::create_dir(dir.path().join("functions/c.99.tmp")).unwrap();
        let loaded = store.load_all().unwrap();
        let names: Vec<_> = loaded.iter().map(|(d, _)| d.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(loaded[0].1, second);
        assert_eq!(std::fs::read(&loaded[0].1).unwrap(), b"second");
        assert!(!dir.path().join("functions/c.99.tmp").exists());
        assert!(store.remove("a").unwrap());
        assert!(!store.remove("a").unwrap());
        assert_eq!(store.load_all().unwrap().len(), 1);
    }

    #[test]
    fn names_are_safe_as_paths_and_routes() {
        assert!(valid_name("hello-2_x"));
        for bad in ["", "a/b", "..", "a.b", "sp ace", &"x".repeat(65)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
