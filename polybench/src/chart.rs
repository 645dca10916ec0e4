//! The slowdown chart: hand-written SVG (no plotting dependency). A group
//! of bars per kernel, one bar per non-native runtime, the geometric means
//! as the last group, and a legend. The scale is logarithmic (powers of
//! two), as befits ratios: one runtime at 30x on one kernel does not
//! flatten everything else, and 2x slower and 2x faster look alike. Bars
//! start at native's level, 1.

use crate::bench::KernelResults;
use crate::runtimes::Runtime;
use crate::stats;
use std::fmt::Write;

const BAR: f64 = 10.0;
const GROUP_GAP: f64 = 14.0;
const LEFT: f64 = 70.0;
/// Room for the label of native's line.
const RIGHT: f64 = 60.0;
const TOP: f64 = 78.0;
const PLOT_HEIGHT: f64 = 320.0;
/// Room for the kernel names, written at 45 degrees.
const BOTTOM: f64 = 110.0;
const MIN_WIDTH: f64 = 640.0;
const LEGEND_STEP: f64 = 130.0;

/// A color per runtime, distinguishable and printable.
fn color(runtime: Runtime) -> &'static str {
    match runtime {
        Runtime::Native => "#555555",
        Runtime::LugeGuard => "#1f77b4",
        Runtime::LugeSoftware => "#ff7f0e",
        Runtime::LugeChecks => "#2ca02c",
        Runtime::Wasmtime => "#d62728",
        Runtime::Node => "#9467bd",
        Runtime::LugeGuardSimd => "#17becf",
        Runtime::LugeSoftwareSimd => "#bcbd22",
        Runtime::WasmtimeSimd => "#e377c2",
        Runtime::NodeSimd => "#8c564b",
    }
}

/// A bar's value, or why there is none.
type Value = Result<f64, String>;

/// One group of bars: a kernel, or the geometric means.
struct Group {
    label: String,
    values: Vec<Value>,
}

fn groups(results: &[KernelResults], runtimes: &[Runtime]) -> Vec<Group> {
    let mut groups: Vec<Group> = results
        .iter()
        .map(|r| Group {
            label: r.kernel.clone(),
            values: runtimes.iter().map(|&rt| kernel_value(r, rt)).collect(),
        })
        .collect();
    let means = runtimes
        .iter()
        .map(|&rt| {
            drawable(
                stats::geomean(results.iter().filter_map(|r| r.slowdown(rt))),
                "no kernel succeeded",
            )
        })
        .collect();
    groups.push(Group {
        label: "geomean".into(),
        values: means,
    });
    groups
}

fn kernel_value(result: &KernelResults, runtime: Runtime) -> Value {
    match result.get(runtime).map(|m| &m.outcome) {
        Some(Err(reason)) => Err(format!("fail: {reason}")),
        _ => drawable(result.slowdown(runtime), "no time to compare"),
    }
}

/// `slowdown` if a log scale can show it: a time of zero (a clock too
/// coarse for a tiny kernel) cannot be.
fn drawable(slowdown: Option<f64>, otherwise: &str) -> Value {
    slowdown
        .filter(|s| *s > 0.0 && s.is_finite())
        .ok_or_else(|| otherwise.to_string())
}

/// The axis range: the powers of two around every value and 1 (native),
/// as exponents; at least one power of two above 1.
pub fn axis<'a>(values: impl IntoIterator<Item = &'a f64>) -> (i32, i32) {
    let (lo, hi) = values
        .into_iter()
        .fold((1.0, 2.0), |(lo, hi): (f64, f64), &v| {
            (lo.min(v), hi.max(v))
        });
    (lo.log2().floor() as i32, hi.log2().ceil() as i32)
}

/// The chart of `results` for the non-native ones of `runtimes`.
pub fn svg(results: &[KernelResults], runtimes: &[Runtime], title: &str) -> String {
    let runtimes: Vec<Runtime> = runtimes
        .iter()
        .copied()
        .filter(|&r| r != Runtime::Native)
        .collect();
    let groups = groups(results, &runtimes);
    let (lo, hi) = axis(
        groups
            .iter()
            .flat_map(|g| g.values.iter().filter_map(|v| v.as_ref().ok())),
    );
    let group_width = runtimes.len().max(1) as f64 * BAR + GROUP_GAP;
    let plot_width = groups.len() as f64 * group_width;
    let width = (LEFT + plot_width + RIGHT).max(MIN_WIDTH);
    let height = TOP + PLOT_HEIGHT + BOTTOM;
    let y = |value: f64| TOP + PLOT_HEIGHT * (f64::from(hi) - value.log2()) / f64::from(hi - lo);

    let mut out = String::new();
    writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    )
    .unwrap();
    writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#).unwrap();
    writeln!(
        out,
        r#"<text x="{}" y="22" font-size="16" font-weight="bold" text-anchor="middle">{}</text>"#,
        width / 2.0,
        escape(title)
    )
    .unwrap();
    legend(&mut out, &runtimes);
    y_axis(&mut out, (lo, hi), LEFT + plot_width, &y);
    for (index, group) in groups.iter().enumerate() {
        let x0 = LEFT + index as f64 * group_width + GROUP_GAP / 2.0;
        bars(&mut out, group, &runtimes, x0, &y);
        let label_x = x0 + (group_width - GROUP_GAP) / 2.0;
        let label_y = TOP + PLOT_HEIGHT + 14.0;
        writeln!(
            out,
            r#"<text x="{label_x}" y="{label_y}" text-anchor="end" transform="rotate(-45 {label_x} {label_y})"{}>{}</text>"#,
            if group.label == "geomean" { r#" font-weight="bold""# } else { "" },
            escape(&group.label)
        )
        .unwrap();
    }
    // Native's level, drawn over the bars.
    writeln!(
        out,
        r##"<line x1="{LEFT}" y1="{y1}" x2="{x2}" y2="{y1}" stroke="#222" stroke-width="1.5" stroke-dasharray="6 4"/><text x="{lx}" y="{ly}">native</text>"##,
        y1 = y(1.0),
        x2 = LEFT + plot_width,
        lx = LEFT + plot_width + 4.0,
        ly = y(1.0) + 4.0
    )
    .unwrap();
    out.push_str("</svg>\n");
    out
}

fn legend(out: &mut String, runtimes: &[Runtime]) {
    for (i, &runtime) in runtimes.iter().enumerate() {
        let x = LEFT + i as f64 * LEGEND_STEP;
        writeln!(
            out,
            r#"<rect x="{x}" y="40" width="12" height="12" fill="{}"/><text x="{}" y="50">{runtime}</text>"#,
            color(runtime),
            x + 17.0
        )
        .unwrap();
    }
}

fn y_axis(out: &mut String, (lo, hi): (i32, i32), right: f64, y: &dyn Fn(f64) -> f64) {
    for exponent in lo..=hi {
        let value = 2f64.powi(exponent);
        let ty = y(value);
        writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{ty}" x2="{right}" y2="{ty}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{}</text>"##,
            LEFT - 6.0,
            ty + 4.0,
            value
        )
        .unwrap();
    }
    let mid = TOP + PLOT_HEIGHT / 2.0;
    writeln!(
        out,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{b}" stroke="#222"/><line x1="{LEFT}" y1="{b}" x2="{right}" y2="{b}" stroke="#222"/><text x="20" y="{mid}" text-anchor="middle" transform="rotate(-90 20 {mid})">slowdown against native (×, log scale)</text>"##,
        b = TOP + PLOT_HEIGHT
    )
    .unwrap();
}

fn bars(out: &mut String, group: &Group, runtimes: &[Runtime], x0: f64, y: &dyn Fn(f64) -> f64) {
    let base = y(1.0);
    for (i, (&runtime, value)) in runtimes.iter().zip(&group.values).enumerate() {
        let x = x0 + i as f64 * BAR;
        match value {
            // Up from native's level for a slowdown, down for a speedup; a
            // sliver at least, so that a bar at 1.00x is still seen.
            Ok(v) => writeln!(
                out,
                r#"<rect x="{x}" y="{}" width="{w}" height="{}" fill="{}"><title>{} {runtime}: {v:.2}x</title></rect>"#,
                base.min(y(*v)),
                (base - y(*v)).abs().max(1.0),
                color(runtime),
                escape(&group.label),
                w = BAR - 1.0,
            ),
            // A cross on the axis where a failed run's bar would be.
            Err(reason) => writeln!(
                out,
                r#"<text x="{}" y="{}" text-anchor="middle" fill="{}" font-weight="bold">×<title>{} {runtime}: {}</title></text>"#,
                x + BAR / 2.0,
                base - 3.0,
                color(runtime),
                escape(&group.label),
                escape(reason)
            ),
        }
        .unwrap();
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
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
    fn axis_spans_powers_of_two_around_the_values_and_1() {
        assert_eq!(axis(&[1.89, 1.2]), (0, 1));
        assert_eq!(axis(&[]), (0, 1));
        assert_eq!(axis(&[0.4, 30.0]), (-2, 5));
        assert_eq!(axis(&[4.0]), (0, 2));
    }

    #[test]
    fn chart_has_bars_crosses_legend_and_native_line() {
        use Runtime::*;
        let results = [
            kernel("gemm", 1.0, &[(LugeGuard, Ok(1.5)), (Node, Ok(3.0))]),
            kernel(
                "a<b",
                2.0,
                &[(LugeGuard, Ok(2.0)), (Node, Err("timed out"))],
            ),
        ];
        let svg = svg(&results, &[Native, LugeGuard, Node], "PolyBench/C MINI");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        // Two legend squares; bars: two for gemm, one for a<b (node
        // failed), two geometric means.
        assert_eq!(svg.matches("<rect x=").count(), 2 + 2 + 1 + 2, "{svg}");
        assert!(svg.contains("<title>gemm node: 3.00x</title>"));
        assert!(svg.contains("<title>a&lt;b node: fail: timed out</title>"));
        assert!(svg.contains("<title>geomean luge-guard: 1.22x</title>"));
        let legend = |name| format!(r#"y="50">{name}</text>"#);
        assert!(svg.contains(&legend("luge-guard")) && svg.contains(&legend("node")));
        assert!(
            !svg.contains(&legend("native")),
            "native has no bars, only its line"
        );
        assert!(svg.contains(">native</text>"));
        assert!(svg.contains(">geomean</text>"));
        // Ticks at powers of two up to the largest bar (3x).
        assert!(
            svg.contains(">1</text>") && svg.contains(">2</text>") && svg.contains(">4</text>")
        );
        assert!(!svg.contains(">8</text>"));
    }
}
