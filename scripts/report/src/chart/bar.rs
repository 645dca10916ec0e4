//! Grouped bars: a group per kernel (or function and pattern), a bar per
//! runtime (or server) in each.

use super::axis::Axis;
use super::{font, palette, ChartError, Frame, Labels, Plot, Rgb, Scale};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Width of a bar in pixels, at least (the chart widens with its bars).
const BAR_WIDTH: f64 = 10.0;
/// The share of a group's width its bars take; the rest parts the groups.
const BAR_SHARE: f64 = 0.8;
const MIN_WIDTH: u32 = 760;

/// One series of bars: its value in each group, in the groups' order.
#[derive(Debug, Clone)]
pub struct Bars {
    pub name: String,
    /// A color of its own, to keep a series' color across charts that
    /// show different series; else the next palette color.
    pub color: Option<Rgb>,
    /// `None` where there is no value (a failed run). The y scale may not
    /// show a value either (a NaN, zero on a log scale): both are marked
    /// by a × on the baseline.
    pub values: Vec<Option<f64>>,
}

/// A dashed line across the plot at `value`, with a label at its right:
/// native's level of 1 in a chart of slowdowns.
#[derive(Debug, Clone)]
pub struct Reference {
    pub value: f64,
    pub label: String,
}

/// Groups of bars side by side, each group named below the x axis, bars
/// rising from the axis' bottom, or from the reference line when there is
/// one (up for a slowdown, down for a speedup). Without a value to show,
/// the chart is its frame and legend with "no data" in the plot.
#[derive(Debug, Clone)]
pub struct BarChart {
    pub labels: Labels,
    pub scale: Scale,
    pub groups: Vec<String>,
    pub bars: Vec<Bars>,
    pub reference: Option<Reference>,
}

impl BarChart {
    /// The chart as an SVG document.
    pub fn svg(&self) -> Result<String, ChartError> {
        let values: Vec<Vec<Option<f64>>> = self.bars.iter().map(|b| self.visible(b)).collect();
        let shown = || values.iter().flatten().flatten().copied();
        let reference = self
            .reference
            .as_ref()
            .and_then(|r| self.scale.project(r.value));
        let y = self.scale.y_axis(shown().chain(reference));
        let base = reference.unwrap_or(y.range.start);
        let frame = Frame {
            labels: &self.labels,
            width: self.width(),
            x: Axis::new(0.0..self.groups.len().max(1) as f64, Vec::new()),
            x_names: &self.groups,
            y,
            scale: self.scale,
            legend: self.legend(),
            empty: shown().next().is_none(),
        };
        frame.render(|plot| {
            self.draw_bars(plot, &values, base)?;
            match (&self.reference, reference) {
                (Some(r), Some(at)) => draw_reference(plot, &r.label, at),
                _ => Ok(()),
            }
        })
    }

    /// `bars`' values in plot space, `None` where the scale cannot show
    /// one.
    fn visible(&self, bars: &Bars) -> Vec<Option<f64>> {
        let value = |g| bars.values.get(g).copied().flatten();
        (0..self.groups.len())
            .map(|g| value(g).and_then(|v| self.scale.project(v)))
            .collect()
    }

    /// Wide enough for every bar, and never narrower than a line chart.
    fn width(&self) -> u32 {
        let group = self.bars.len() as f64 * BAR_WIDTH / BAR_SHARE;
        let plot = (self.groups.len() as f64 * group).ceil() as u32;
        (plot + super::Y_LABEL_AREA + super::LEGEND_WIDTH + 2 * super::MARGIN).max(MIN_WIDTH)
    }

    fn color(&self, series: usize) -> Rgb {
        self.bars[series].color.unwrap_or(palette(series))
    }

    fn legend(&self) -> Vec<(&str, Rgb)> {
        (self.bars.iter().enumerate())
            .map(|(s, b)| (b.name.as_str(), self.color(s)))
            .collect()
    }

    fn draw_bars(
        &self,
        plot: &mut Plot<'_, '_>,
        values: &[Vec<Option<f64>>],
        base: f64,
    ) -> Result<(), ChartError> {
        let y = plot.y_range();
        let sliver = (y.end - y.start) / 300.0;
        for (s, series) in values.iter().enumerate() {
            let color = self.color(s);
            for (g, value) in series.iter().enumerate() {
                let (left, right) = self.span(g, s);
                match *value {
                    Some(v) => plot.draw_series([bar((left, right), base, v, sliver, color)])?,
                    None => plot.draw_series([missing((left + right) / 2.0, base, color)])?,
                };
            }
        }
        Ok(())
    }

    /// Where series `s`'s bar in group `g` lies along x: the group's bars
    /// side by side in the middle of its unit, a little apart.
    fn span(&self, g: usize, s: usize) -> (f64, f64) {
        let width = BAR_SHARE / self.bars.len() as f64;
        let left = g as f64 + (1.0 - BAR_SHARE) / 2.0 + s as f64 * width;
        (left, left + width * 0.9)
    }
}

/// A bar from `base` to `value`, at least a `sliver` high, so that a bar
/// at the baseline (a slowdown of 1.00x) is still seen.
fn bar(
    (left, right): (f64, f64),
    base: f64,
    value: f64,
    sliver: f64,
    color: Rgb,
) -> Rectangle<(f64, f64)> {
    let top = if (value - base).abs() < sliver {
        base + sliver
    } else {
        value
    };
    Rectangle::new([(left, base), (right, top)], color.filled())
}

/// The mark of a bar without a value: a × on the baseline.
fn missing(x: f64, base: f64, color: Rgb) -> Text<'static, (f64, f64), &'static str> {
    let style = font(14.0)
        .style(FontStyle::Bold)
        .color(&color)
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    Text::new("×", (x, base), style)
}

fn draw_reference(plot: &mut Plot<'_, '_>, label: &str, at: f64) -> Result<(), ChartError> {
    let x = plot.x_range();
    let line = BLACK.mix(0.85).stroke_width(2);
    plot.draw_series(DashedLineSeries::new(
        [(x.start, at), (x.end, at)],
        6,
        4,
        line,
    ))?;
    let style = font(12.0)
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let text = Text::new(label.to_owned(), (4, 0), style);
    plot.draw_series([EmptyElement::at((x.end, at)) + text])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::svg_test::{count, count_text, hex, rects, size, texts};
    use super::*;

    const GUARD: Rgb = RGBColor(0x12, 0x34, 0x56);

    fn bars(name: &str, color: Option<Rgb>, values: &[Option<f64>]) -> Bars {
        Bars {
            name: name.into(),
            color,
            values: values.to_vec(),
        }
    }

    /// Slowdowns against native, as the PolyBench runner draws them.
    fn slowdowns(groups: &[&str], bars: Vec<Bars>) -> BarChart {
        BarChart {
            labels: Labels {
                title: "PolyBench/C MINI".into(),
                x: "kernel".into(),
                y: "slowdown".into(),
            },
            scale: Scale::Log2,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            bars,
            reference: Some(Reference {
                value: 1.0,
                label: "native".into(),
            }),
        }
    }

    #[test]
    fn chart_has_bars_crosses_legend_names_and_reference() {
        let chart = slowdowns(
            &["gemm", "a<b", "geomean"],
            vec![
                bars(
                    "luge-guard",
                    Some(GUARD),
                    &[Some(1.5), Some(1.0), Some(1.22)],
                ),
                bars("node", None, &[Some(3.0), None, Some(3.0)]),
            ],
        );
        let svg = chart.svg().unwrap();
        assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
        // A legend square and a bar per value: node failed on a<b.
        assert_eq!(rects(&svg, &hex(GUARD)).len(), 1 + 3);
        assert_eq!(rects(&svg, &hex(palette(1))).len(), 1 + 2);
        assert_eq!(count_text(&svg, "×"), 1);
        for text in [
            "PolyBench/C MINI",
            "kernel",
            "slowdown",
            "luge-guard",
            "node",
        ] {
            assert_eq!(count_text(&svg, text), 1, "{text}");
        }
        // Native has no bars, only its line.
        assert_eq!(count_text(&svg, "native"), 1);
        for group in ["gemm", "a<b", "geomean"] {
            assert_eq!(count_text(&svg, group), 1, "{group}");
        }
        assert!(svg.contains("a&lt;b"));
        // Group names are upright.
        assert_eq!(count(&svg, "text", "rotate(270"), 3 + 1);
        // Ticks at powers of two up to the largest bar (3x).
        let texts = texts(&svg);
        assert!(["1", "2", "4"]
            .iter()
            .all(|t| texts.contains(&t.to_string())));
        assert!(!texts.contains(&"8".to_string()) && !texts.contains(&"0.5".to_string()));
    }

    #[test]
    fn bars_grow_both_ways_from_the_reference() {
        let chart = slowdowns(
            &["slower", "faster", "even"],
            vec![bars(
                "luge-guard",
                Some(GUARD),
                &[Some(2.0), Some(0.5), Some(1.0)],
            )],
        );
        let svg = chart.svg().unwrap();
        let found = rects(&svg, &hex(GUARD));
        let [slower, faster, even, _legend] = found.as_slice() else {
            panic!("{found:?}");
        };
        let native = slower[1] + slower[3];
        assert_eq!(faster[1], native, "a speedup hangs from native's line");
        // Within a pixel's rounding.
        assert!(
            (slower[3] - faster[3]).abs() <= 1.0,
            "2x and 0.5x are as far from 1"
        );
        assert!(even[3] >= 1.0, "a bar at 1x is still seen");
        assert!((even[1] - native).abs() <= 1.0);
    }

    #[test]
    fn values_the_scale_cannot_show_are_crosses() {
        let values = [None, Some(0.0), Some(-1.0), Some(f64::NAN), Some(8.0)];
        let chart = slowdowns(&["a", "b", "c", "d", "e"], vec![bars("x", None, &values)]);
        let svg = chart.svg().unwrap();
        assert_eq!(count_text(&svg, "×"), 4);
        assert_eq!(rects(&svg, &hex(palette(0))).len(), 1 + 1);
    }

    #[test]
    fn without_reference_bars_rise_from_the_axis() {
        let chart = BarChart {
            reference: None,
            scale: Scale::Log10,
            ..slowdowns(
                &["a", "b"],
                vec![bars("x", None, &[Some(10.0), Some(1000.0)])],
            )
        };
        let svg = chart.svg().unwrap();
        let found = rects(&svg, &hex(palette(0)));
        let [low, high, _legend] = found.as_slice() else {
            panic!("{found:?}");
        };
        assert_eq!(low[1] + low[3], high[1] + high[3], "one baseline");
        assert!(low[3] >= 1.0 && high[3] > low[3]);
        assert_eq!(count_text(&svg, "native"), 0);
    }

    #[test]
    fn a_chart_without_values_is_an_empty_frame_saying_so() {
        let failed = slowdowns(&["gemm"], vec![bars("node", None, &[None])]);
        let nothing = slowdowns(&[], Vec::new());
        for chart in [failed, nothing] {
            let svg = chart.svg().unwrap();
            assert_eq!(count_text(&svg, "no data"), 1);
            assert_eq!(count_text(&svg, "PolyBench/C MINI"), 1);
        }
    }

    #[test]
    fn the_chart_widens_with_its_bars() {
        let few = slowdowns(&["a"], vec![bars("x", None, &[Some(2.0)])]);
        assert_eq!(size(&few.svg().unwrap()).0, f64::from(MIN_WIDTH));
        let groups: Vec<String> = (0..31).map(|g| format!("kernel-{g}")).collect();
        let runtimes = (0..9).map(|r| bars(&format!("r{r}"), None, &[Some(2.0); 31]));
        let many = BarChart {
            groups,
            ..slowdowns(&[], runtimes.collect())
        };
        let svg = many.svg().unwrap();
        assert!(size(&svg).0 > 31.0 * 9.0 * BAR_WIDTH, "{:?}", size(&svg));
        assert!(rects(&svg, &hex(palette(8)))
            .iter()
            .all(|r| r[2] >= BAR_WIDTH * 0.9 - 1.0));
    }
}
