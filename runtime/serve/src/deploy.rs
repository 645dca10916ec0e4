//! Deployed functions on disk, so that they survive a restart, and so that
//! a crash at any moment leaves a server that starts.
//!
//! Each deployment of function NAME is a directory
//! `<state-dir>/functions/NAME.<stamp>/` holding `module.wasm` as it was
//! uploaded, `function.json` (its settings), and the compiled
//! `module.so` with its digest `module.so.hmac`, signed with the state
//! directory's key (see `luge_runtime::digest`). The state directory and
//! everything in it is private to the user the server runs as.
//!
//! A deploy builds its directory under a `.tmp` name: writes the module
//! and settings, compiles, signs, and loads the result as it will be
//! served. Only then is it published, with one rename and a sync of the
//! directory, and only after that is the deploy acknowledged. So a crash
//! leaves at worst a `.tmp` directory, which the next start removes, and
//! every published directory is complete. Older deployments of the name
//! are removed after publication; until then the newest published one is
//! the deployed one. Removal renames a directory away before deleting it.
//!
//! At start every deployment is loaded from its signed object, without
//! compiling. One that does not load (its object changed or was removed,
//! its settings unreadable, its imports unresolvable) is moved to
//! `<state-dir>/quarantine/` with a line on stderr, and the next older
//! deployment of the name, if any, is tried: the server starts with the
//! rest.

use crate::config::{RouteConfig, TierChoice};
use crate::function::{Function, FunctionError};
use awsm_compiler::CompileBudget;
use luge_runtime::cache::{compile_signed, CacheError};
use luge_runtime::digest::{digest_path, DigestError, DigestKey};
use luge_runtime::{files, LoadError, Module};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The settings a deployment was made with (what `function.json` holds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Deployment {
    pub name: String,
    pub route: String,
    /// The tenant port its route is on; none for an OpenWhisk action
    /// created where the config has no tenant, which is invoked through
    /// the admin listener only.
    pub port: Option<u16>,
    pub timeout_ms: u64,
    pub memory_limit_mib: Option<u64>,
    pub max_body_bytes: u64,
    pub relative_deadline_us: u64,
    pub content_type: String,
    /// Which compiler's code it runs; `auto` for deployments made before
    /// Luge had tiers.
    #[serde(default)]
    pub tier: TierChoice,
    /// When it was deployed, in seconds since the Unix epoch.
    pub deployed_at: u64,
}

impl Deployment {
    /// The route settings of this deployment, whose module is at `path`.
    pub fn route_config(&self, path: PathBuf) -> RouteConfig {
        let mut config = RouteConfig::new(&self.route, path);
        config.timeout = Duration::from_millis(self.timeout_ms);
        config.memory_limit_mib = self.memory_limit_mib;
        config.max_body_bytes = self.max_body_bytes;
        config.relative_deadline = (self.relative_deadline_us > 0)
            .then(|| Duration::from_micros(self.relative_deadline_us));
        config.content_type = self.content_type.clone();
        config.tier = self.tier;
        config
    }
}

/// Why the store could not be opened or a deployment not be kept.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error("deployment {dir}: {reason}")]
    Unloadable { dir: PathBuf, reason: String },
}

/// Why a published deployment does not load.
enum Unloadable {
    /// It is incomplete, changed, or cannot run here: set it aside.
    Quarantine(String),
    /// The machine failed, not the deployment: stop.
    Fatal(String),
}

/// Why a deploy failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The module is at fault: it does not compile, load or link (400).
    #[error(transparent)]
    Module(#[from] FunctionError),
    /// The server could not keep it (500).
    #[error("cannot store the deployment: {0}")]
    Store(#[from] StoreError),
}

impl From<DigestError> for DeployError {
    fn from(error: DigestError) -> Self {
        DeployError::Store(StoreError::Digest(error))
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |error| StoreError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// The directory of deployed functions.
pub struct FunctionStore {
    dir: PathBuf,
    quarantine: PathBuf,
    key: DigestKey,
}

const MODULE_FILE: &str = "module.wasm";
const OBJECT_FILE: &str = "module.so";
const SETTINGS_FILE: &str = "function.json";
const STAGING_SUFFIX: &str = ".tmp";

impl FunctionStore {
    /// The store under `state_dir`, created (private) if missing.
    pub fn open(state_dir: &Path) -> Result<FunctionStore, StoreError> {
        let store = FunctionStore {
            dir: state_dir.join("functions"),
            quarantine: state_dir.join("quarantine"),
            key: DigestKey::open_or_create(state_dir)?,
        };
        for dir in [&store.dir, &store.quarantine] {
            files::create_private_dir(dir).map_err(io_error(dir))?;
        }
        Ok(store)
    }

    /// Builds a deployment of `wasm` until it is ready to serve, then
    /// publishes it (see the module documentation); returns the function
    /// to route. Nothing of a deploy that fails stays behind.
    pub fn deploy(
        &self,
        deployment: &Deployment,
        wasm: &[u8],
        budget: CompileBudget,
    ) -> Result<Function, DeployError> {
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let name = format!("{}.{stamp}", deployment.name);
        let staging = self.dir.join(format!("{name}{STAGING_SUFFIX}"));
        let published = self.dir.join(name);
        let built = self
            .build(&staging, &published, deployment, wasm, budget)
            .and_then(|function| Ok((function, self.publish(&staging, &published)?)));
        let mut function = match built {
            Ok((function, ())) => function,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        // A failure here only leaves older deployments, which the new one
        // shadows at the next start.
        let _ = self.keep_only(&deployment.name, &published);
        crash_point("cleaned");
        function.config.path = published.join(MODULE_FILE);
        Ok(function)
    }

    /// Writes, compiles (within `budget`) and loads in `dir` the
    /// deployment to be published as `published`.
    fn build(
        &self,
        dir: &Path,
        published: &Path,
        deployment: &Deployment,
        wasm: &[u8],
        budget: CompileBudget,
    ) -> Result<Function, DeployError> {
        std::fs::create_dir(dir).map_err(io_error(dir))?;
        let settings = serde_json::to_vec_pretty(deployment).expect("settings serialize");
        for (file, bytes) in [(MODULE_FILE, wasm), (SETTINGS_FILE, &settings[..])] {
            let path = dir.join(file);
            files::write_atomically(&path, bytes, 0o600).map_err(io_error(&path))?;
            self.key.sign(&path, &label(published, file), bytes)?;
        }
        crash_point("staged");
        self.compile(deployment, dir, published, wasm, budget)?;
        crash_point("compiled");
        let function = self
            .load(deployment, dir, published)
            .map_err(|e| FunctionError::File(CacheError::Load(e)))??;
        crash_point("loaded");
        let source = function.wants_source().then(|| Arc::from(wasm));
        Ok(function.with_source(source))
    }

    /// Compiles `wasm` into the signed object of the deployment in `dir`
    /// (to be published as `published`).
    fn compile(
        &self,
        deployment: &Deployment,
        dir: &Path,
        published: &Path,
        wasm: &[u8],
        budget: CompileBudget,
    ) -> Result<(), FunctionError> {
        let opts = Function::compile_options(&deployment.route_config(PathBuf::new()));
        let object = dir.join(OBJECT_FILE);
        let label = label(published, OBJECT_FILE);
        compile_signed(wasm, &opts, budget, &object, &self.key, &label)
            .map(drop)
            .map_err(|error| FunctionError::Compile {
                name: deployment.name.clone(),
                error,
            })
    }

    /// The function of the deployment in `dir` (published as `published`),
    /// from its signed object. Only the loader's own failures are errors:
    /// a module whose imports do not resolve is `Ok(Err(..))`.
    fn load(
        &self,
        deployment: &Deployment,
        dir: &Path,
        published: &Path,
    ) -> Result<Result<Function, FunctionError>, LoadError> {
        let label = label(published, OBJECT_FILE);
        let module = Module::load_signed(dir.join(OBJECT_FILE), &self.key, &label)?;
        let config = deployment.route_config(dir.join(MODULE_FILE));
        Ok(Function::new(&deployment.name, config, module))
    }

    /// Moves the complete deployment `staging` to its published name. A
    /// rename that cannot be made durable is taken back, so that a deploy
    /// answered with an error does not come back at the next start.
    fn publish(&self, staging: &Path, published: &Path) -> Result<(), StoreError> {
        std::fs::rename(staging, published).map_err(io_error(published))?;
        crash_point("renamed");
        if let Err(e) = files::sync_dir(&self.dir) {
            let _ = discard(published);
            return Err(io_error(&self.dir)(e));
        }
        crash_point("published");
        Ok(())
    }

    /// Removes every deployment of `name` but the one in `kept`.
    fn keep_only(&self, name: &str, kept: &Path) -> Result<(), StoreError> {
        for (dir, _) in self.versions(name)? {
            if dir != kept {
                discard(&dir)?;
            }
        }
        Ok(())
    }

    /// Removes every deployment of `name`; returns whether there was one.
    pub fn remove(&self, name: &str) -> Result<bool, StoreError> {
        let versions = self.versions(name)?;
        for (dir, _) in &versions {
            discard(dir)?;
        }
        files::sync_dir(&self.dir).map_err(io_error(&self.dir))?;
        Ok(!versions.is_empty())
    }

    /// Every deployed function, loaded (see the module documentation),
    /// after clearing what interrupted deploys left. Deployments that do
    /// not load are quarantined, each with a line on stderr; a failure of
    /// the machine rather than of a deployment (the dynamic loader cannot
    /// load anything, a file cannot be read) is an error, so that a
    /// passing problem cannot empty the state directory.
    pub fn restore(&self) -> Result<Vec<(Deployment, Function)>, StoreError> {
        let mut by_name: BTreeMap<String, Vec<(PathBuf, u128)>> = BTreeMap::new();
        for (dir, name, stamp) in self.entries()? {
            by_name.entry(name).or_default().push((dir, stamp));
        }
        let mut restored = Vec::new();
        for (name, mut versions) in by_name {
            versions.sort_by_key(|&(_, stamp)| std::cmp::Reverse(stamp));
            for (dir, _) in versions {
                match self.restore_one(&dir) {
                    Ok(found) => {
                        restored.push(found);
                        break;
                    }
                    Err(Unloadable::Quarantine(reason)) => self.set_aside(&name, &dir, &reason),
                    Err(Unloadable::Fatal(reason)) => {
                        return Err(StoreError::Unloadable { dir, reason });
                    }
                }
            }
        }
        Ok(restored)
    }

    /// The deployment published in `dir`, loaded. Everything in it must
    /// carry its digest; an object of another Luge version or another
    /// machine is compiled again from the (signed) module.
    fn restore_one(&self, dir: &Path) -> Result<(Deployment, Function), Unloadable> {
        let quarantine = Unloadable::Quarantine;
        let legacy = !self.signed_anything(dir);
        let settings = self.read_signed(dir, SETTINGS_FILE, legacy)?;
        let deployment: Deployment = serde_json::from_slice(&settings)
            .map_err(|e| quarantine(format!("{SETTINGS_FILE}: {e}")))?;
        if legacy {
            self.adopt(&deployment, dir, &settings)?;
        }
        if !dir.join(OBJECT_FILE).exists() {
            return Err(quarantine(format!("{OBJECT_FILE} is missing")));
        }
        // The module, once read (for a compile, or kept for later builds).
        let mut wasm = None;
        let function = match self.load(&deployment, dir, dir) {
            Err(LoadError::Open { path, message }) => {
                return Err(Unloadable::Fatal(format!("{}: {message}", path.display())))
            }
            Err(LoadError::Read { path, message }) => {
                return Err(Unloadable::Fatal(format!("{}: {message}", path.display())))
            }
            Err(LoadError::Digest(e)) => return Err(quarantine(e.to_string())),
            // Built by another version of Luge, or for another CPU.
            Err(stale) => {
                let module = wasm.insert(self.read_signed(dir, MODULE_FILE, false)?);
                self.compile(&deployment, dir, dir, module, CompileBudget::default())
                    .map_err(|e| quarantine(format!("{stale}; compiling it again: {e}")))?;
                self.load(&deployment, dir, dir)
                    .map_err(|e| quarantine(e.to_string()))?
            }
            Ok(function) => function,
        };
        let mut function = function.map_err(|e| quarantine(e.to_string()))?;
        function.config.path = dir.join(MODULE_FILE);
        if function.wants_source() {
            let wasm = match wasm {
                Some(wasm) => wasm,
                None => self.read_signed(dir, MODULE_FILE, false)?,
            };
            function = function.with_source(Some(Arc::from(wasm)));
        }
        Ok((deployment, function))
    }

    /// Whether any file of the deployment in `dir` has a digest: those
    /// made before Luge signed deployments have none.
    fn signed_anything(&self, dir: &Path) -> bool {
        [MODULE_FILE, SETTINGS_FILE, OBJECT_FILE]
            .iter()
            .any(|file| digest_path(&dir.join(file)).exists())
    }

    /// The contents of `file` in the deployment `dir`, checked against its
    /// digest unless the deployment is `legacy`.
    fn read_signed(&self, dir: &Path, file: &str, legacy: bool) -> Result<Vec<u8>, Unloadable> {
        let path = dir.join(file);
        let bytes = files::read_no_follow(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Unloadable::Quarantine(format!("{file} is missing")),
            // A symbolic link put in its place.
            _ if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
                Unloadable::Quarantine(format!("{file}: {e}"))
            }
            _ => Unloadable::Fatal(format!("{}: {e}", path.display())),
        })?;
        if !legacy {
            self.key
                .verify(&path, &label(dir, file), &bytes)
                .map_err(|e| Unloadable::Quarantine(e.to_string()))?;
        }
        Ok(bytes)
    }

    /// Takes in a deployment made before Luge signed deployments (and kept
    /// their compiled object): compiles its module, and signs it and its
    /// settings. Only code Luge compiles itself is ever signed this way.
    fn adopt(
        &self,
        deployment: &Deployment,
        dir: &Path,
        settings: &[u8],
    ) -> Result<(), Unloadable> {
        let quarantine = Unloadable::Quarantine;
        let wasm = self.read_signed(dir, MODULE_FILE, true)?;
        // Acknowledged before, by a server that compiled it: no budget.
        self.compile(deployment, dir, dir, &wasm, CompileBudget::default())
            .map_err(|e| quarantine(e.to_string()))?;
        for (file, bytes) in [(MODULE_FILE, &wasm[..]), (SETTINGS_FILE, settings)] {
            self.key
                .sign(&dir.join(file), &label(dir, file), bytes)
                .map_err(|e| quarantine(e.to_string()))?;
        }
        Ok(())
    }

    /// Moves the deployment in `dir`, which did not load, to the
    /// quarantine directory, saying so.
    fn set_aside(&self, name: &str, dir: &Path, reason: &str) {
        let target = self.quarantine.join(dir.file_name().unwrap_or_default());
        match std::fs::rename(dir, &target) {
            Ok(()) => eprintln!(
                "luge: deployed function {name} does not load ({reason}); moved to {}",
                target.display()
            ),
            Err(e) => eprintln!(
                "luge: deployed function {name} does not load ({reason}), and cannot be moved to {}: {e}; skipping it",
                target.display()
            ),
        }
    }

    /// Published deployment directories with their names and stamps;
    /// removes what interrupted deploys and removals left.
    fn entries(&self) -> Result<Vec<(PathBuf, String, u128)>, StoreError> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io_error(&self.dir))? {
            let path = entry.map_err(io_error(&self.dir))?.path();
            let file_name = path.file_name().unwrap_or_default().to_string_lossy();
            if file_name.ends_with(STAGING_SUFFIX) {
                let _ = std::fs::remove_dir_all(&path);
                continue;
            }
            if let Some((name, stamp)) = parse_dir_name(&file_name) {
                found.push((path, name, stamp));
            }
        }
        Ok(found)
    }

    /// The deployment directories of `name` with their stamps.
    fn versions(&self, name: &str) -> Result<Vec<(PathBuf, u128)>, StoreError> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io_error(&self.dir))? {
            let path = entry.map_err(io_error(&self.dir))?.path();
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

/// What `file` of the deployment published as `dir` is signed for: that
/// file of that deployment (`NAME.STAMP`), so that no other file passes
/// for it.
fn label(dir: &Path, file: &str) -> String {
    let name = dir.file_name().unwrap_or_default();
    format!("deployment/{}/{file}", name.to_string_lossy())
}

/// Deletes the deployment directory `dir`, renaming it first so that a
/// crash midway leaves a name the next start clears, never a partial
/// deployment that would load.
fn discard(dir: &Path) -> Result<(), StoreError> {
    let mut doomed = dir.as_os_str().to_owned();
    doomed.push(format!(".removed{STAGING_SUFFIX}"));
    std::fs::rename(dir, &doomed).map_err(io_error(dir))?;
    std::fs::remove_dir_all(&doomed).map_err(io_error(Path::new(&doomed)))
}

/// `NAME.<stamp>` → (NAME, stamp).
fn parse_dir_name(file_name: &str) -> Option<(String, u128)> {
    let (name, stamp) = file_name.rsplit_once('.')?;
    Some((name.to_owned(), stamp.parse().ok()?))
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

/// Where the crash-safety test kills the server in the middle of a deploy
/// (`LUGE_TEST_CRASH_AT=STEP`, in builds with the `test-hooks` feature).
#[cfg(feature = "test-hooks")]
fn crash_point(step: &str) {
    if std::env::var("LUGE_TEST_CRASH_AT").is_ok_and(|s| s == step) {
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    }
}

#[cfg(not(feature = "test-hooks"))]
fn crash_point(_step: &str) {}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"(module (func (export "_start")))"#;
    const UNLINKABLE: &str = r#"(module (import "env" "nope" (func)) (func (export "_start")))"#;
    const NO_LIMIT: CompileBudget = CompileBudget {
        time: None,
        code_bytes: None,
    };

    fn deployment(name: &str) -> Deployment {
        Deployment {
            name: name.to_owned(),
            route: format!("/{name}"),
            port: Some(8080),
            timeout_ms: 1000,
            memory_limit_mib: None,
            max_body_bytes: 1024,
            relative_deadline_us: 0,
            content_type: "text/plain".to_owned(),
            tier: TierChoice::Auto,
            deployed_at: 0,
        }
    }

    fn wasm(text: &str) -> Vec<u8> {
        wat::parse_str(text).unwrap()
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn restored_names(store: &FunctionStore) -> Vec<String> {
        let restored = store.restore().unwrap();
        restored.into_iter().map(|(d, _)| d.name).collect()
    }

    #[test]
    fn a_deploy_publishes_a_complete_signed_directory_and_replaces_the_last() {
        let state = tempfile::tempdir().unwrap();
        let store = FunctionStore::open(state.path()).unwrap();
        let first = store
            .deploy(&deployment("a"), &wasm(GOOD), NO_LIMIT)
            .unwrap();
        let second = store
            .deploy(&deployment("a"), &wasm(GOOD), NO_LIMIT)
            .unwrap();
        assert!(!first.config.path.exists(), "the older deployment is gone");
        let dir = second.config.path.parent().unwrap();
        assert_eq!(
            listing(dir),
            [
                "function.json",
                "function.json.hmac",
                "module.so",
                "module.so.hmac",
                "module.wasm",
                "module.wasm.hmac"
            ]
        );
        assert_eq!(listing(&state.path().join("functions")).len(), 1);
        let restored = store.restore().unwrap();
        assert_eq!(restored.len(), 1);
        assert_eq!(restored[0].1.config.path, second.config.path);
    }

    #[test]
    fn a_failed_deploy_leaves_nothing_and_the_last_one_stays() {
        let state = tempfile::tempdir().unwrap();
        let store = FunctionStore::open(state.path()).unwrap();
        let good = store
            .deploy(&deployment("a"), &wasm(GOOD), NO_LIMIT)
            .unwrap();
        let err = store
            .deploy(&deployment("a"), &wasm(UNLINKABLE), NO_LIMIT)
            .map(drop)
            .unwrap_err();
        assert!(matches!(err, DeployError::Module(_)), "{err}");
        let err = store
            .deploy(&deployment("a"), b"\0asm junk", NO_LIMIT)
            .map(drop)
            .unwrap_err();
        assert!(matches!(err, DeployError::Module(_)), "{err}");
        let functions = state.path().join("functions");
        assert_eq!(listing(&functions).len(), 1);
        assert!(good.config.path.exists());
        assert_eq!(restored_names(&store), ["a"]);
    }

    #[test]
    fn a_deploy_past_its_compile_budget_is_refused_saying_so() {
        let state = tempfile::tempdir().unwrap();
        let store = FunctionStore::open(state.path()).unwrap();
        let budget = CompileBudget {
            time: None,
            code_bytes: Some(1),
        };
        let err = store
            .deploy(&deployment("a"), &wasm(GOOD), budget)
            .map(drop)
            .unwrap_err();
        assert!(matches!(err, DeployError::Module(_)), "{err}");
        assert!(err.to_string().contains("compile budget exceeded"), "{err}");
        assert!(listing(&state.path().join("functions")).is_empty());
    }

    #[test]
    fn a_deployment_that_does_not_load_is_quarantined_and_the_rest_start() {
        let state = tempfile::tempdir().unwrap();
        let store = FunctionStore::open(state.path()).unwrap();
        let a = store
            .deploy(&deployment("a"), &wasm(GOOD), NO_LIMIT)
            .unwrap();
        let b = store
            .deploy(&deployment("b"), &wasm(GOOD), NO_LIMIT)
            .unwrap();
        // Another deployment's object, signed digest and all, put in its
        // place (here the same code: only the label tells them apart).
        for file in [OBJECT_FILE, "module.so.hmac"] {
            let from = b.config.path.with_file_name(file);
            std::fs::copy(from, a.config.path.with_file_name(file)).unwrap();
        }
        // Settings changed after the deploy (a bigger memory limit, say).
        let c = store
            .deploy(&deployment("c"), &wasm(GOOD), NO_LIMIT)
            .unwrap();
        let settings = c.config.path.with_file_name(SETTINGS_FILE);
        let mut changed = deployment("c");
        changed.memory_limit_mib = Some(4096);
        std::fs::write(&settings, serde_json::to_vec(&changed).unwrap()).unwrap();
        // A deploy that crashed before publishing.
        std::fs::create_dir(state.path().join("functions/d.99.tmp")).unwrap();
        assert_eq!(restored_names(&store), ["b"]);
        let quarantined = listing(&state.path().join("quarantine"));
        assert_eq!(quarantined.len(), 2);
        assert!(quarantined[0].starts_with("a."), "{quarantined:?}");
        assert!(quarantined[1].starts_with("c."), "{quarantined:?}");
        assert!(!state.path().join("functions/d.99.tmp").exists());
    }

    /// A pipe put in place of one of a deployment's files sets that
    /// deployment aside at once: opening it for reading would wait for a
    /// writer, and the server would never start.
    #[test]
    fn a_pipe_in_a_deployment_is_quarantined_without_waiting() {
        let state = tempfile::tempdir().unwrap();
        let store = FunctionStore::open(state.path()).unwrap();
        let a = store
            .deploy(&deployment("a"), &wasm(GOOD), NO_LIMIT)
            .unwrap();
        store
            .deploy(&deployment("b"), &wasm(GOOD), NO_LIMIT)
            .unwrap();
        let digest = a.config.path.with_file_name("module.so.hmac");
        std::fs::remove_file(&digest).unwrap();
        let mode = rustix::fs::Mode::from_raw_mode(0o600);
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &digest,
            rustix::fs::FileType::Fifo,
            mode,
            0,
        )
        .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(restored_names(&store)));
        let restored = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("restoring waited on the pipe");
        assert_eq!(restored, ["b"]);
        let quarantined = listing(&state.path().join("quarantine"));
        assert_eq!(quarantined.len(), 1);
        assert!(quarantined[0].starts_with("a."), "{quarantined:?}");
    }

    #[test]
    fn an_object_built_for_another_machine_is_compiled_again() {
        let state = tempfile::tempdir().unwrap();
        let store = FunctionStore::open(state.path()).unwrap();
        let a = store
            .deploy(&deployment("a"), &wasm(GOOD), NO_LIMIT)
            .unwrap();
        let dir = a.config.path.parent().unwrap();
        // What Luge on the other architecture would have built, signed.
        let other = match awsm_compiler::Arch::host() {
            awsm_compiler::Arch::X86_64 => awsm_compiler::Arch::Aarch64,
            awsm_compiler::Arch::Aarch64 => awsm_compiler::Arch::X86_64,
        };
        let opts = awsm_compiler::CompileOptions::for_arch(other);
        let object = dir.join(OBJECT_FILE);
        let label = label(dir, OBJECT_FILE);
        compile_signed(&wasm(GOOD), &opts, NO_LIMIT, &object, &store.key, &label).unwrap();
        assert_eq!(restored_names(&store), ["a"]);
        assert!(listing(&state.path().join("quarantine")).is_empty());
        let arch = luge_runtime::read_descriptor(&object).unwrap().arch;
        assert_eq!(arch, awsm_compiler::Arch::host());
    }

    #[test]
    fn an_older_deployment_serves_when_the_newest_does_not_load() {
        let state = tempfile::tempdir().unwrap();
        let store = FunctionStore::open(state.path()).unwrap();
        let old = store
            .deploy(&deployment("a"), &wasm(GOOD), NO_LIMIT)
            .unwrap();
        let old_dir = old.config.path.parent().unwrap();
        // A copy of it as a newer deployment, whose settings are garbage (as a
        // crash between publishing and cleaning up leaves two versions).
        let newer = old_dir.with_extension(u128::MAX.to_string());
        std::fs::create_dir(&newer).unwrap();
        std::fs::write(newer.join(SETTINGS_FILE), b"{").unwrap();
        let restored = store.restore().unwrap();
        assert_eq!(restored.len(), 1);
        assert_eq!(restored[0].1.config.path, old.config.path);
        assert_eq!(listing(&state.path().join("quarantine")).len(), 1);
    }

    #[test]
    fn a_deployment_from_before_compiled_objects_were_kept_is_compiled_once() {
        let state = tempfile::tempdir().unwrap();
        let store = FunctionStore::open(state.path()).unwrap();
        let legacy = state.path().join("functions/a.1");
        std::fs::create_dir(&legacy).unwrap();
        std::fs::write(legacy.join(MODULE_FILE), wasm(GOOD)).unwrap();
        let settings = serde_json::to_vec(&deployment("a")).unwrap();
        std::fs::write(legacy.join(SETTINGS_FILE), settings).unwrap();
        assert_eq!(restored_names(&store), ["a"]);
        assert!(legacy.join(OBJECT_FILE).exists());
        assert_eq!(restored_names(&store), ["a"]);
    }

    #[test]
    fn the_state_directory_is_private() {
        use std::os::unix::fs::MetadataExt;
        let root = tempfile::tempdir().unwrap();
        let state = root.path().join("state");
        FunctionStore::open(&state).unwrap();
        for dir in ["", "functions", "quarantine"] {
            let mode = std::fs::metadata(state.join(dir)).unwrap().mode();
            assert_eq!(mode & 0o777, 0o700, "{dir}");
        }
    }

    #[test]
    fn names_are_safe_as_paths_and_routes() {
        assert!(valid_name("hello-2_x"));
        for bad in ["", "a/b", "..", "a.b", "sp ace", &"x".repeat(65)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
