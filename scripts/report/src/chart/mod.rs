//! SVG charts drawn with plotters: lines over a numeric x axis
//! ([`LineChart`]) and grouped bars ([`BarChart`]). Both share one frame,
//! drawn here: a title, a y axis with a grid, axis titles, and a legend to
//! the right of the plot where it covers no data.

mod axis;
mod bar;
mod line;
#[cfg(test)]
mod svg_test;

pub use axis::Scale;
pub use bar::{BarChart, Bars, Reference};
pub use line::{LineChart, Series};
/// A series' color. Re-exported so that callers need no plotters
/// dependency of their own.
pub use plotters::style::RGBColor as Rgb;

use axis::{tick_label, Axis};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use thiserror::Error;

/// What a chart says about itself and its axes.
#[derive(Debug, Clone)]
pub struct Labels {
    pub title: String,
    pub x: String,
    pub y: String,
}

/// Why a chart could not be drawn: plotters' error. The SVG goes to a
/// string, not a file, so only a layout plotters cannot fit fails.
#[derive(Debug, Error)]
#[error("drawing the chart: {0}")]
pub struct ChartError(#[from] DrawingAreaErrorKind<std::io::Error>);

/// Colors for series without one of their own: the Category10 palette,
/// ten colors told apart at a glance.
const PALETTE: [Rgb; 10] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
];

fn palette(index: usize) -> Rgb {
    PALETTE[index % PALETTE.len()]
}

const FONT: &str = "sans-serif";
/// The legend's column, right of the plot.
const LEGEND_WIDTH: u32 = 170;
const LEGEND_ROW: i32 = 18;
/// Room left of the plot for the tick labels and the y axis title.
const Y_LABEL_AREA: u32 = 70;
const MARGIN: u32 = 12;
/// Pixels above the x axis: the title, the plot and the margins.
const ABOVE_X_AXIS: u32 = 410;
/// Room below the plot for numbered x ticks and the axis title.
const X_TICKS_AREA: u32 = 50;
/// Room below the upright x names for the axis title.
const X_TITLE_AREA: u32 = 34;
/// An estimate of the width of a character of the x names, to leave them
/// room: plotters cannot measure text without fonts.
const CHAR_WIDTH: u32 = 7;

/// The font at `pixels` high: the SVG backend writes the size asked for
/// divided by 1.24, so ask 1.24 times the size wanted.
fn font(pixels: f64) -> FontDesc<'static> {
    (FONT, pixels * 1.24).into_font()
}

/// The plot that a chart draws its data into: plot space on both axes
/// (see [`axis`]).
type Plot<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Axis, Axis>>;

/// Everything around a chart's data.
struct Frame<'a> {
    labels: &'a Labels,
    width: u32,
    x: Axis,
    /// Names written upright below the middle of each unit of x (a bar
    /// chart's groups, many and long: plotters' own tick labels can only
    /// be centered, so upright ones would cross the axis); none when the x
    /// ticks are numbered instead.
    x_names: &'a [String],
    y: Axis,
    scale: Scale,
    legend: Vec<(&'a str, Rgb)>,
    /// Nothing to plot: the frame says "no data" in the plot, rather than
    /// failing an experiment whose every call failed.
    empty: bool,
}

impl Frame<'_> {
    /// The SVG of the frame with `data` drawn into its plot.
    fn render(
        &self,
        data: impl FnOnce(&mut Plot<'_, '_>) -> Result<(), ChartError>,
    ) -> Result<String, ChartError> {
        let mut svg = String::new();
        {
            let size = (self.width, ABOVE_X_AXIS + self.x_label_area());
            let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
            root.fill(&WHITE)?;
            let (main, side) = root.split_horizontally(self.width - LEGEND_WIDTH);
            let mut plot = self.plot(&main)?;
            self.mesh(&mut plot)?;
            self.names(&plot, &root)?;
            data(&mut plot)?;
            if self.empty {
                self.no_data(&plot)?;
            }
            self.legend(&side)?;
            root.present()?;
        }
        Ok(svg)
    }

    fn x_label_area(&self) -> u32 {
        match self.x_names.iter().map(|n| n.chars().count()).max() {
            None => X_TICKS_AREA,
            Some(longest) => X_TITLE_AREA + CHAR_WIDTH * longest as u32,
        }
    }

    fn plot<'a, 'b>(
        &self,
        area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    ) -> Result<Plot<'a, 'b>, ChartError> {
        Ok(ChartBuilder::on(area)
            .caption(&self.labels.title, font(16.0))
            .margin(MARGIN)
            .x_label_area_size(self.x_label_area())
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(self.x.clone(), self.y.clone())?)
    }

    /// The axes, their titles and numbered ticks, and a horizontal grid
    /// line per y tick.
    fn mesh(&self, plot: &mut Plot<'_, '_>) -> Result<(), ChartError> {
        let y_text = |y: &f64| tick_label(self.scale.value(*y));
        plot.configure_mesh()
            .disable_x_mesh()
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .label_style(font(12.0))
            .x_label_formatter(&|x| tick_label(*x))
            .y_label_formatter(&y_text)
            .axis_desc_style(font(13.0))
            .x_desc(&self.labels.x)
            .y_desc(&self.labels.y)
            .draw()?;
        Ok(())
    }

    /// The x names, upright, ending just below the axis.
    fn names(
        &self,
        plot: &Plot<'_, '_>,
        root: &DrawingArea<SVGBackend<'_>, Shift>,
    ) -> Result<(), ChartError> {
        let style = font(12.0)
            .transform(FontTransform::Rotate270)
            .color(&BLACK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        for (unit, name) in self.x_names.iter().enumerate() {
            let (x, y) = plot.backend_coord(&(unit as f64 + 0.5, self.y.range.start));
            root.draw(&Text::new(name.as_str(), (x, y + 6), style.clone()))?;
        }
        Ok(())
    }

    fn no_data(&self, plot: &Plot<'_, '_>) -> Result<(), ChartError> {
        let middle = |r: &std::ops::Range<f64>| (r.start + r.end) / 2.0;
        let style = font(16.0)
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Center));
        plot.plotting_area().draw(&Text::new(
            "no data",
            (middle(&self.x.range), middle(&self.y.range)),
            style,
        ))?;
        Ok(())
    }

    /// A square of each series' color and its name, a row each.
    fn legend(&self, area: &DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), ChartError> {
        let top = (MARGIN + 40) as i32;
        for (row, (name, color)) in (0..).zip(&self.legend) {
            let y = top + LEGEND_ROW * row;
            area.draw(&Rectangle::new([(8, y), (20, y + 12)], color.filled()))?;
            let style = font(12.0)
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center));
            area.draw(&Text::new(*name, (26, y + 6), style))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_palette_repeats_past_its_end() {
        assert_eq!(palette(0), palette(PALETTE.len()));
        assert_ne!(palette(0), palette(1));
    }
}
