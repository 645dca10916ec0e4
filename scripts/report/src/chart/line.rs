//! Lines of (x, y) points over a linear x axis: latency over concurrency,
//! memory over time, latency over percentile.

use super::axis::Axis;
use super::{palette, ChartError, Frame, Labels, Plot, Scale};
use plotters::prelude::*;

const WIDTH: u32 = 760;

/// A named line of (x, y) points, drawn in the order given.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Lines over an x axis from the smallest to the largest x, each in its
/// palette color with a dot per point. Points the y scale cannot show (a
/// NaN, zero on a log scale) are left out of their line; with none left,
/// the chart is its frame and legend with "no data" in the plot.
#[derive(Debug, Clone)]
pub struct LineChart {
    pub labels: Labels,
    pub scale: Scale,
    pub series: Vec<Series>,
}

impl LineChart {
    /// The chart as an SVG document.
    pub fn svg(&self) -> Result<String, ChartError> {
        let lines: Vec<Vec<(f64, f64)>> = self.series.iter().map(|s| self.visible(s)).collect();
        let points = || lines.iter().flatten();
        let frame = Frame {
            labels: &self.labels,
            width: WIDTH,
            x: Axis::spanning(points().map(|p| p.0)),
            x_names: &[],
            y: self.scale.y_axis(points().map(|p| p.1)),
            scale: self.scale,
            legend: (self.series.iter().enumerate())
                .map(|(i, s)| (s.name.as_str(), palette(i)))
                .collect(),
            empty: points().next().is_none(),
        };
        frame.render(|plot| draw_lines(plot, &lines))
    }

    /// `series`' points in plot space, less those the scale cannot show.
    fn visible(&self, series: &Series) -> Vec<(f64, f64)> {
        series
            .points
            .iter()
            .filter(|p| p.0.is_finite())
            .filter_map(|&(x, y)| Some((x, self.scale.project(y)?)))
            .collect()
    }
}

fn draw_lines(plot: &mut Plot<'_, '_>, lines: &[Vec<(f64, f64)>]) -> Result<(), ChartError> {
    for (i, points) in lines.iter().enumerate() {
        let style = palette(i).stroke_width(2);
        plot.draw_series(LineSeries::new(points.iter().copied(), style).point_size(3))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::svg_test::{count, count_text, hex, texts};
    use super::*;

    fn chart(scale: Scale, series: Vec<Series>) -> LineChart {
        LineChart {
            labels: Labels {
                title: "t <1>".into(),
                x: "concurrent clients".into(),
                y: "mean (ms)".into(),
            },
            scale,
            series,
        }
    }

    fn series(name: &str, points: &[(f64, f64)]) -> Series {
        Series {
            name: name.into(),
            points: points.to_vec(),
        }
    }

    /// The `<circle>`s (a dot per point) and the line of the series in
    /// palette color `index`.
    fn dots_and_lines(svg: &str, index: usize) -> (usize, usize) {
        let stroke = format!(r#"stroke="{}""#, hex(palette(index)));
        (
            count(svg, "circle", &stroke),
            count(svg, "polyline", &stroke),
        )
    }

    #[test]
    fn every_series_and_label_is_written_and_escaped() {
        let svg = chart(
            Scale::Linear,
            vec![
                series("a", &[(1.0, 1.0), (2.0, 4.0)]),
                series("b&c", &[(1.0, 2.0), (2.0, 3.0)]),
            ],
        )
        .svg()
        .unwrap();
        assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
        let texts = texts(&svg);
        for text in ["t <1>", "concurrent clients", "mean (ms)", "a", "b&c"] {
            assert!(texts.iter().any(|t| t == text), "{text} in {texts:?}");
        }
        assert!(svg.contains("t &lt;1&gt;") && svg.contains("b&amp;c"));
        assert_eq!(dots_and_lines(&svg, 0), (2, 1));
        assert_eq!(dots_and_lines(&svg, 1), (2, 1));
    }

    #[test]
    fn the_y_axis_ends_on_a_round_number_and_x_ticks_are_whole() {
        let svg = chart(Scale::Linear, vec![series("a", &[(1.0, 1.0), (3.0, 4.0)])])
            .svg()
            .unwrap();
        for tick in ["0", "1", "2", "3", "4", "5"] {
            assert!(count_text(&svg, tick) >= 1, "y tick {tick}");
        }
        assert_eq!(count_text(&svg, "6"), 0);
        assert_eq!(count_text(&svg, "1.5"), 0, "whole clients only");
    }

    #[test]
    fn a_log_scale_leaves_out_what_it_cannot_show() {
        let points = [(1.0, 0.0), (2.0, 10.0), (3.0, f64::NAN), (4.0, 100.0)];
        let svg = chart(Scale::Log10, vec![series("a", &points)])
            .svg()
            .unwrap();
        assert_eq!(dots_and_lines(&svg, 0), (2, 1));
        assert_eq!(count_text(&svg, "10"), 1);
        assert_eq!(count_text(&svg, "100"), 1);
        assert_eq!(count_text(&svg, "no data"), 0);
    }

    #[test]
    fn a_chart_without_points_is_an_empty_frame_saying_so() {
        let empty = [
            chart(Scale::Linear, Vec::new()),
            chart(
                Scale::Log10,
                vec![series("down", &[]), series("zero", &[(1.0, 0.0)])],
            ),
        ];
        for chart in empty {
            let svg = chart.svg().unwrap();
            assert_eq!(count_text(&svg, "no data"), 1);
            assert_eq!(count_text(&svg, "t <1>"), 1);
            assert_eq!(svg.matches("<circle").count(), 0);
            for s in &chart.series {
                assert_eq!(count_text(&svg, &s.name), 1, "{} in the legend", s.name);
            }
        }
    }
}
