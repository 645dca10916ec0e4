//! Every saved regression case (`regressions/*.wat`, minimized divergences
//! of past campaigns) runs under every Luge configuration at every CPU level
//! this machine runs, and must agree with the reference engines.

use luge_fuzz::case;
use luge_fuzz::engines::luge::{runnable_cpu_levels, Configuration};
use luge_fuzz::regression;
use std::path::Path;

#[test]
fn saved_divergences_stay_fixed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let paths = regression::all(&dir).unwrap();
    assert!(
        !paths.is_empty(),
        "no regression cases in {}",
        dir.display()
    );
    let scratch = tempfile::tempdir().unwrap();
    let configs: Vec<Configuration> = runnable_cpu_levels()
        .into_iter()
        .flat_map(Configuration::all_at)
        .collect();
    let mut failures = Vec::new();
    for path in &paths {
        let case = regression::load(path).unwrap();
        let report = case::run(case.seed, &case.wasm, &configs, scratch.path());
        assert!(report.calls > 0, "{}: calls nothing", path.display());
        assert!(
            report.skipped.is_none(),
            "{}: {:?}",
            path.display(),
            report.skipped
        );
        failures.extend(
            report
                .findings
                .iter()
                .map(|f| format!("{}: {f}", path.display())),
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
