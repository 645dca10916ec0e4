//! The reports: a CSV with every run, a Markdown table of medians and
//! slowdowns with their geometric means, and the slowdown chart.

use crate::bench::KernelResults;
use crate::chart;
use crate::kernels::Dataset;
use crate::runtimes::Runtime;
use crate::stats;
use anyhow::{Context, Result};
use luge_report::csv::quote;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Everything a report shows.
pub struct Report<'a> {
    pub dataset: Dataset,
    pub reps: usize,
    /// The runtimes measured, native first.
    pub runtimes: &'a [Runtime],
    pub results: &'a [KernelResults],
}

/// A time with three decimals in a unit that keeps it readable, from the
/// microseconds of MINI kernels to the minutes of EXTRALARGE ones.
pub fn format_time(seconds: f64) -> String {
    if seconds >= 0.1 {
        format!("{seconds:.3} s")
    } else if seconds >= 1e-4 {
        format!("{:.3} ms", seconds * 1e3)
    } else {
        format!("{:.3} µs", seconds * 1e6)
    }
}

pub fn format_slowdown(slowdown: f64) -> String {
    format!("{slowdown:.2}x")
}

impl Report<'_> {
    /// The geometric mean of `runtime`'s slowdowns over the kernels where
    /// both it and native succeeded, and how many kernels that is.
    pub fn geomean(&self, runtime: Runtime) -> (Option<f64>, usize) {
        let slowdowns: Vec<f64> = self
            .results
            .iter()
            .filter_map(|r| r.slowdown(runtime))
            .collect();
        (stats::geomean(slowdowns.iter().copied()), slowdowns.len())
    }

    /// One row per kernel and runtime: `kernel,runtime,median_s,slowdown,
    /// status,run_1..run_N` (median and slowdown empty when unknown).
    pub fn csv(&self) -> String {
        let mut out = String::from("kernel,runtime,median_s,slowdown,status");
        for rep in 1..=self.reps {
            write!(out, ",run_{rep}").unwrap();
        }
        out.push('\n');
        for result in self.results {
            for m in &result.measurements {
                let median = m.median().map_or(String::new(), |t| format!("{t:.9}"));
                let slowdown = result
                    .slowdown(m.runtime)
                    .map_or(String::new(), |s| format!("{s:.4}"));
                let (status, runs) = match &m.outcome {
                    Ok(runs) => ("ok".to_string(), runs.as_slice()),
                    Err(reason) => (format!("fail: {reason}"), &[][..]),
                };
                let fields = [
                    quote(&result.kernel).into_owned(),
                    m.runtime.to_string(),
                    median,
                    slowdown,
                    quote(&status).into_owned(),
                ];
                out.push_str(&fields.join(","));
                for run in runs {
                    write!(out, ",{run:.9}").unwrap();
                }
                out.push('\n');
            }
        }
        out
    }

    /// The table: a row per kernel, a column per runtime with `time
    /// (slowdown)` or `fail: reason`, and a geometric-mean row.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "# PolyBench/C, {} dataset\n\n\
             Median kernel time of {} run{} (the harness's own timer, kernel only) and \
             slowdown against native code (clang-16 -O2). The last row is the geometric \
             mean of the slowdowns over the kernels where both runs succeeded.\n\n",
            self.dataset,
            self.reps,
            if self.reps == 1 { "" } else { "s" },
        );
        let names: Vec<_> = self.runtimes.iter().map(|r| r.name()).collect();
        writeln!(out, "| kernel | {} |", names.join(" | ")).unwrap();
        writeln!(out, "|:---|{}", "---:|".repeat(names.len())).unwrap();
        for result in self.results {
            let cells: Vec<_> = self.runtimes.iter().map(|&r| cell(result, r)).collect();
            writeln!(out, "| {} | {} |", result.kernel, cells.join(" | ")).unwrap();
        }
        let means: Vec<_> = self
            .runtimes
            .iter()
            .map(|&r| self.geomean_cell(r))
            .collect();
        writeln!(out, "| **geomean** | {} |", means.join(" | ")).unwrap();
        out
    }

    fn geomean_cell(&self, runtime: Runtime) -> String {
        match self.geomean(runtime) {
            (None, _) => "n/a".into(),
            (Some(mean), n) if n == self.results.len() => format_slowdown(mean),
            (Some(mean), n) => format!("{} ({n} of {})", format_slowdown(mean), self.results.len()),
        }
    }

    /// Writes `results.csv`, `results.md` and `slowdown.svg` into `dir`;
    /// returns their paths.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let title = format!("PolyBench/C {}: slowdown against native", self.dataset);
        let files = [
            ("results.csv", self.csv()),
            ("results.md", self.markdown()),
            (
                "slowdown.svg",
                chart::svg(self.results, self.runtimes, &title)?,
            ),
        ];
        files
            .into_iter()
            .map(|(name, text)| {
                let path = dir.join(name);
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
                Ok(path)
            })
            .collect()
    }
}

fn cell(result: &KernelResults, runtime: Runtime) -> String {
    let Some(measurement) = result.get(runtime) else {
        return "-".into();
    };
    match (&measurement.outcome, measurement.median()) {
        (Err(reason), _) => format!("fail: {}", reason.replace('|', "\\|")),
        (Ok(_), None) => "-".into(),
        (Ok(_), Some(median)) => format!(
            "{} ({})",
            format_time(median),
            result
                .slowdown(runtime)
                .map_or("n/a".into(), format_slowdown)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::Measurement;

    fn measurement(runtime: Runtime, outcome: Result<&[f64], &str>) -> Measurement {
        Measurement {
            runtime,
            outcome: outcome.map(<[f64]>::to_vec).map_err(str::to_string),
        }
    }

    fn sample() -> Vec<KernelResults> {
        vec![
            KernelResults {
                kernel: "gemm".into(),
                measurements: vec![
                    measurement(Runtime::Native, Ok(&[0.2, 0.25, 0.3])),
                    measurement(Runtime::LugeGuard, Ok(&[0.5, 0.4, 0.6])),
                ],
            },
            KernelResults {
                kernel: "lu".into(),
                measurements: vec![
                    measurement(Runtime::Native, Ok(&[0.001, 0.001, 0.001])),
                    measurement(
                        Runtime::LugeGuard,
                        Err("trap: out of bounds, \"badly\" | x"),
                    ),
                ],
            },
        ]
    }

    fn report(results: &[KernelResults]) -> Report<'_> {
        Report {
            dataset: Dataset::Large,
            reps: 3,
            runtimes: &[Runtime::Native, Runtime::LugeGuard],
            results,
        }
    }

    #[test]
    fn times_pick_a_readable_unit() {
        assert_eq!(format_time(0.438), "0.438 s");
        assert_eq!(format_time(75.5), "75.500 s");
        assert_eq!(format_time(0.0123), "12.300 ms");
        assert_eq!(format_time(0.000_045_6), "45.600 µs");
        assert_eq!(format_slowdown(1.8949), "1.89x");
    }

    #[test]
    fn csv_has_every_run_and_quotes_reasons() {
        let results = sample();
        let csv = report(&results).csv();
        let lines: Vec<_> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "kernel,runtime,median_s,slowdown,status,run_1,run_2,run_3"
        );
        assert_eq!(
            lines[1],
            "gemm,native,0.250000000,1.0000,ok,0.200000000,0.250000000,0.300000000"
        );
        assert_eq!(
            lines[2],
            "gemm,luge-guard,0.500000000,2.0000,ok,0.500000000,0.400000000,0.600000000"
        );
        assert_eq!(
            lines[4],
            r#"lu,luge-guard,,,"fail: trap: out of bounds, ""badly"" | x""#
        );
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn markdown_has_a_row_per_kernel_and_the_geomean() {
        let results = sample();
        let md = report(&results).markdown();
        let rows: Vec<_> = md.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(rows[0], "| kernel | native | luge-guard |");
        assert_eq!(rows[1], "|:---|---:|---:|");
        assert_eq!(rows[2], "| gemm | 0.250 s (1.00x) | 0.500 s (2.00x) |");
        assert_eq!(
            rows[3],
            r#"| lu | 1.000 ms (1.00x) | fail: trap: out of bounds, "badly" \| x |"#
        );
        assert_eq!(rows[4], "| **geomean** | 1.00x | 2.00x (1 of 2) |");
        assert!(md.starts_with("# PolyBench/C, LARGE dataset\n"));
        assert!(md.contains("Median kernel time of 3 runs"));
    }

    #[test]
    fn geomean_spans_the_kernels_that_succeeded() {
        let mut results = sample();
        results[1].measurements[1] = measurement(Runtime::LugeGuard, Ok(&[0.008]));
        let r = report(&results);
        let (mean, n) = r.geomean(Runtime::LugeGuard);
        assert!((mean.unwrap() - 4.0).abs() < 1e-9, "{mean:?}");
        assert_eq!(n, 2);
        assert_eq!(r.geomean(Runtime::Node), (None, 0));
    }

    #[test]
    fn write_creates_the_three_files() {
        let dir = tempfile::tempdir().unwrap();
        let results = sample();
        let files = report(&results).write(&dir.path().join("out")).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["results.csv", "results.md", "slowdown.svg"]);
        assert!(std::fs::read_to_string(&files[2])
            .unwrap()
            .starts_with("<svg"));
    }
}
