//! The slowdown chart, drawn by `luge_report`: a group of bars per kernel,
//! one bar per non-native runtime, the geometric means as the last group.
//! The scale is logarithmic (powers of two), as befits ratios: one runtime
//! at 30x on one kernel does not flatten everything else, and 2x slower
//! and 2x faster look alike. Bars start at native's line, 1; a run that
//! failed, or had no time to compare, is a cross on that line.

use crate::bench::KernelResults;
use crate::runtimes::Runtime;
use crate::stats;
use luge_report::chart::{BarChart, Bars, ChartError, Labels, Reference, Rgb, Scale};

/// A color per runtime, the same in every chart whichever runtimes it
/// shows, so that charts of different runs compare at a glance.
fn color(runtime: Runtime) -> Rgb {
    match runtime {
        // Native has no bars, only its line: gray keeps the match whole.
        Runtime::Native => Rgb(0x55, 0x55, 0x55),
        Runtime::LugeGuard => Rgb(0x1f, 0x77, 0xb4),
        Runtime::LugeSoftware => Rgb(0xff, 0x7f, 0x0e),
        Runtime::LugeChecks => Rgb(0x2c, 0xa0, 0x2c),
        Runtime::LugeOptGuard => Rgb(0x08, 0x30, 0x6b),
        Runtime::LugeOptSoftware => Rgb(0xa6, 0x4b, 0x00),
        // Lighter shades of the modes they leave the Spectre guards out of.
        Runtime::LugeGuardNoSpectre => Rgb(0xae, 0xc7, 0xe8),
        Runtime::LugeSoftwareNoSpectre => Rgb(0xff, 0xbb, 0x78),
        Runtime::Wasmtime => Rgb(0xd6, 0x27, 0x28),
        Runtime::Node => Rgb(0x94, 0x67, 0xbd),
        Runtime::LugeGuardSimd => Rgb(0x17, 0xbe, 0xcf),
        Runtime::LugeSoftwareSimd => Rgb(0xbc, 0xbd, 0x22),
        Runtime::LugeOptGuardSimd => Rgb(0x0b, 0x6e, 0x7a),
        Runtime::WasmtimeSimd => Rgb(0xe3, 0x77, 0xc2),
        Runtime::NodeSimd => Rgb(0x8c, 0x56, 0x4b),
    }
}

/// The chart of `results` for the non-native ones of `runtimes`, as SVG.
pub fn svg(
    results: &[KernelResults],
    runtimes: &[Runtime],
    title: &str,
) -> Result<String, ChartError> {
    chart(results, runtimes, title).svg()
}

fn chart(results: &[KernelResults], runtimes: &[Runtime], title: &str) -> BarChart {
    let mut groups: Vec<String> = results.iter().map(|r| r.kernel.clone()).collect();
    groups.push("geomean".into());
    let bars = runtimes
        .iter()
        .filter(|&&r| r != Runtime::Native)
        .map(|&runtime| Bars {
            name: runtime.to_string(),
            color: Some(color(runtime)),
            values: slowdowns(results, runtime),
        })
        .collect();
    BarChart {
        labels: Labels {
            title: title.into(),
            x: "kernel".into(),
            y: "slowdown against native (×, log scale)".into(),
        },
        scale: Scale::Log2,
        groups,
        bars,
        reference: Some(Reference {
            value: 1.0,
            label: "native".into(),
        }),
    }
}

/// `runtime`'s slowdown on each kernel, then their geometric mean over
/// the kernels where it and native succeeded.
fn slowdowns(results: &[KernelResults], runtime: Runtime) -> Vec<Option<f64>> {
    let each = results.iter().map(|r| r.slowdown(runtime));
    let mean = stats::geomean(results.iter().filter_map(|r| r.slowdown(runtime)));
    each.chain([mean]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::Measurement;

    fn kernel(name: &str, native: f64, others: &[(Runtime, Result<f64, &str>)]) -> KernelResults {
        let mut measurements = vec![Measurement {
            runtime: Runtime::Native,
            outcome: Ok(vec![native]),
        }];
        for (runtime, outcome) in others {
            measurements.push(Measurement {
                runtime: *runtime,
                outcome: outcome.map(|t| vec![t]).map_err(str::to_string),
            });
        }
        KernelResults {
            kernel: name.into(),
            measurements,
        }
    }

    #[test]
    fn a_group_per_kernel_then_the_means_and_a_bar_per_non_native_runtime() {
        use Runtime::*;
        let results = [
            kernel("gemm", 1.0, &[(LugeGuard, Ok(1.5)), (Node, Ok(3.0))]),
            kernel(
                "a<b",
                2.0,
                &[(LugeGuard, Ok(2.0)), (Node, Err("timed out"))],
            ),
        ];
        let chart = chart(&results, &[Native, LugeGuard, Node], "PolyBench/C MINI");
        assert_eq!(chart.groups, ["gemm", "a<b", "geomean"]);
        let names: Vec<_> = chart.bars.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["luge-guard", "node"], "native has only its line");
        let [guard, node] = &chart.bars[..] else {
            unreachable!()
        };
        let geomean = |bars: &Bars| bars.values[2].unwrap();
        assert_eq!(guard.values[..2], [Some(1.5), Some(1.0)]);
        assert!((geomean(guard) - 1.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(
            node.values[..2],
            [Some(3.0), None],
            "the failed run has no bar"
        );
        assert!(
            (geomean(node) - 3.0).abs() < 1e-12,
            "over the kernel that ran"
        );
        assert_eq!(node.color, Some(color(Node)));
        assert_eq!(chart.reference.as_ref().map(|r| r.value), Some(1.0));
    }

    #[test]
    fn the_chart_is_drawn() {
        let results = [kernel("gemm", 1.0, &[(Runtime::Wasmtime, Ok(1.5))])];
        let svg = svg(&results, &[Runtime::Native, Runtime::Wasmtime], "t").unwrap();
        assert!(svg.starts_with("<svg"));
        for text in ["gemm", "geomean", "wasmtime", "native"] {
            assert!(svg.contains(text), "{text}");
        }
    }
}
