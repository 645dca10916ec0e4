//! Hand-written SVG charts for the experiments (no plotting dependency):
//! lines over a numeric x axis (latency over concurrency, memory over
//! time) and grouped bars (a statistic per function and pattern). Axes
//! are linear from zero, or logarithmic for values spanning decades.

use std::fmt::Write;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 460.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 50.0;
/// Room for the x labels (slanted in bar charts) and the axis title.
const BOTTOM: f64 = 100.0;

const COLORS: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];

/// A named line of (x, y) points.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// What a chart says about its axes.
#[derive(Debug, Clone)]
pub struct Labels {
    pub title: String,
    pub x: String,
    pub y: String,
}

/// A y axis: linear from zero, or logarithmic (base 10) over the data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    Linear,
    Log,
}

/// Maps values to the plot's vertical pixels.
struct YAxis {
    scale: Scale,
    lo: f64,
    hi: f64,
}

impl YAxis {
    fn over(values: impl Iterator<Item = f64>, scale: Scale) -> YAxis {
        let positive: Vec<f64> = values.filter(|v| v.is_finite() && *v > 0.0).collect();
        let max = positive.iter().copied().fold(0.0, f64::max);
        match scale {
            Scale::Linear => YAxis {
                scale,
                lo: 0.0,
                hi: nice_ceiling(max),
            },
            Scale::Log => {
                let min = positive.iter().copied().fold(f64::INFINITY, f64::min);
                let lo = if min.is_finite() {
                    min.log10().floor()
                } else {
                    0.0
                };
                let hi = if max > 0.0 { max.log10().ceil() } else { 1.0 };
                YAxis {
                    scale,
                    lo,
                    hi: if hi > lo { hi } else { lo + 1.0 },
                }
            }
        }
    }

    /// The pixel row of `v`.
    fn pixel(&self, v: f64) -> f64 {
        let t = match self.scale {
            Scale::Linear => v / self.hi,
            Scale::Log => (v.max(10f64.powf(self.lo)).log10() - self.lo) / (self.hi - self.lo),
        };
        TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - t.clamp(0.0, 1.0))
    }

    /// Tick values with their labels.
    fn ticks(&self) -> Vec<f64> {
        match self.scale {
            Scale::Linear => (0..=5).map(|i| self.hi * i as f64 / 5.0).collect(),
            Scale::Log => (self.lo as i32..=self.hi as i32)
                .map(|e| 10f64.powi(e))
                .collect(),
        }
    }
}

/// The smallest 1, 2 or 5 times a power of ten at or above `v` (and 1 for
/// nothing to show).
pub fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|&c| c >= v * (1.0 - 1e-12))
        .unwrap_or(10.0 * magnitude)
}

fn tick_label(v: f64) -> String {
    if v == 0.0 || v.abs() >= 1.0 {
        format!("{}", (v * 100.0).round() / 100.0)
    } else {
        format!("{v:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The frame shared by both kinds: title, y grid and labels, axis titles,
/// legend.
fn frame(svg: &mut String, labels: &Labels, y: &YAxis, legend: &[&str]) {
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>
"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        escape(&labels.title)
    );
    for tick in y.ticks() {
        let py = y.pixel(tick);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{py:.1}" y2="{py:.1}" stroke="#dddddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            py + 4.0,
            tick_label(tick)
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>
<text transform="translate(18,{}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 14.0,
        escape(&labels.x),
        (TOP + HEIGHT - BOTTOM) / 2.0,
        escape(&labels.y)
    );
    for (i, name) in legend.iter().enumerate() {
        let ly = TOP + 18.0 * i as f64;
        let _ = writeln!(
            svg,
            r#"<rect x="{}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{}" y="{:.1}">{}</text>"#,
            WIDTH - RIGHT + 12.0,
            ly,
            COLORS[i % COLORS.len()],
            WIDTH - RIGHT + 30.0,
            ly + 10.0,
            escape(name)
        );
    }
}

/// Where the x axis is labelled: six even steps, or for whole-number data
/// (clients, concurrency levels) whole numbers only.
fn x_ticks(lo: f64, hi: f64, integral: bool) -> Vec<f64> {
    if !integral {
        return (0..=5).map(|i| lo + (hi - lo) * i as f64 / 5.0).collect();
    }
    let step = ((hi - lo) / 5.0).ceil().max(1.0);
    let mut ticks = Vec::new();
    let mut x = lo;
    while x <= hi {
        ticks.push(x);
        x += step;
    }
    ticks
}

/// Lines of `series` over a linear x axis from the smallest to the largest
/// x.
pub fn line_chart(labels: &Labels, series: &[Series], scale: Scale) -> String {
    let all = || series.iter().flat_map(|s| s.points.iter());
    let y = YAxis::over(all().map(|p| p.1), scale);
    let x_lo = all().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let x_hi = all().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let (x_lo, x_hi) = if x_lo.is_finite() && x_hi > x_lo {
        (x_lo, x_hi)
    } else {
        (0.0, 1.0)
    };
    let px = |x: f64| LEFT + (WIDTH - LEFT - RIGHT) * (x - x_lo) / (x_hi - x_lo);
    let mut svg = String::new();
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    frame(&mut svg, labels, &y, &names);
    let integral = all().all(|p| p.0.fract() == 0.0);
    for x in x_ticks(x_lo, x_hi, integral) {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            px(x),
            HEIGHT - BOTTOM + 16.0,
            tick_label(x)
        );
    }
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<String> = s
            .points
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|&(x, v)| format!("{:.1},{:.1}", px(x), y.pixel(v)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        for p in &points {
            let (cx, cy) = p.split_once(',').expect("formatted as x,y");
            let _ = writeln!(
                svg,
                r#"<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>"#
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// Grouped bars: for each group (x label), one bar per series name;
/// `values[g][s]` is group g's value for series s.
pub fn bar_chart(
    labels: &Labels,
    groups: &[String],
    series: &[String],
    values: &[Vec<f64>],
    scale: Scale,
) -> String {
    let y = YAxis::over(values.iter().flatten().copied(), scale);
    let mut svg = String::new();
    let names: Vec<&str> = series.iter().map(String::as_str).collect();
    frame(&mut svg, labels, &y, &names);
    let plot_width = WIDTH - LEFT - RIGHT;
    let group_width = plot_width / groups.len().max(1) as f64;
    let bar = (group_width * 0.8) / series.len().max(1) as f64;
    let base = y.pixel(if scale == Scale::Log {
        10f64.powf(y.lo)
    } else {
        0.0
    });
    for (g, name) in groups.iter().enumerate() {
        let gx = LEFT + group_width * g as f64 + group_width * 0.1;
        let _ = writeln!(
            svg,
            r#"<text transform="translate({:.1},{}) rotate(-30)" text-anchor="end">{}</text>"#,
            gx + group_width * 0.4,
            HEIGHT - BOTTOM + 14.0,
            escape(name)
        );
        for (s, v) in values.get(g).into_iter().flatten().enumerate() {
            if !v.is_finite() {
                continue;
            }
            let top = y.pixel(*v);
            let _ = writeln!(
                svg,
                r#"<rect x="{:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{} {}: {}</title></rect>"#,
                gx + bar * s as f64,
                bar.max(1.0) - 1.0,
                (base - top).max(0.0),
                COLORS[s % COLORS.len()],
                escape(name),
                escape(&series[s]),
                tick_label(*v)
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Labels {
        Labels {
            title: "t <1>".into(),
            x: "x".into(),
            y: "y".into(),
        }
    }

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(3.0), 5.0);
        assert_eq!(nice_ceiling(10.0), 10.0);
        assert_eq!(nice_ceiling(11.0), 20.0);
        assert!((nice_ceiling(0.07) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn whole_number_axes_get_whole_ticks() {
        assert_eq!(x_ticks(2.0, 15.0, true), [2.0, 5.0, 8.0, 11.0, 14.0]);
        assert_eq!(x_ticks(1.0, 3.0, true), [1.0, 2.0, 3.0]);
        assert_eq!(x_ticks(0.0, 1.0, false).len(), 6);
    }

    #[test]
    fn line_chart_has_a_polyline_per_series_and_escapes_text() {
        let series = vec![
            Series {
                name: "a".into(),
                points: vec![(1.0, 1.0), (2.0, 4.0)],
            },
            Series {
                name: "b&c".into(),
                points: vec![(1.0, 2.0), (2.0, 3.0)],
            },
        ];
        let svg = line_chart(&labels(), &series, Scale::Linear);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.contains("t &lt;1&gt;") && svg.contains("b&amp;c"));
        // The highest point (4 of a 5 scale) is below the top.
        assert!(svg.contains(&format!("{:.1}", TOP + (HEIGHT - TOP - BOTTOM) * 0.2)));
    }

    #[test]
    fn bar_chart_draws_each_finite_value() {
        let svg = bar_chart(
            &labels(),
            &["g1".into(), "g2".into()],
            &["s1".into(), "s2".into()],
            &[vec![1.0, 10.0], vec![100.0, f64::NAN]],
            Scale::Log,
        );
        assert_eq!(svg.matches("<rect x=").count(), 3 + 2); // bars + legend
        assert!(svg.contains(">100<"));
    }
}
