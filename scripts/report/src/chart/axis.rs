//! Axis ranges and ticks. A log scale is drawn as a linear axis of
//! exponents ("plot space") with its ticks labelled by the powers they
//! stand for: the charts then place every element (bars, lines, reference
//! line) through one linear mapping, and the ticks sit exactly on the
//! powers of the base. An [`Axis`] is also the coordinate plotters draws
//! on, so that the ticks are the charts' own.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use std::ops::Range;

/// How values map to a chart's y axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// From zero up to a round number above the largest value.
    Linear,
    /// Powers of two, for ratios: 2x slower and 2x faster are as far from
    /// 1, and one value at 30x does not flatten the others.
    Log2,
    /// Powers of ten, for values spanning decades (latency tails).
    Log10,
}

impl Scale {
    fn base(self) -> Option<f64> {
        match self {
            Scale::Linear => None,
            Scale::Log2 => Some(2.0),
            Scale::Log10 => Some(10.0),
        }
    }

    /// Where `value` goes in plot space; `None` if the scale cannot show
    /// it (not finite, or not positive on a log scale).
    pub(crate) fn project(self, value: f64) -> Option<f64> {
        match self.base() {
            _ if !value.is_finite() => None,
            None => Some(value),
            Some(_) if value <= 0.0 => None,
            Some(base) => Some(value.log(base)),
        }
    }

    /// The value a plot-space coordinate stands for, to label ticks.
    pub(crate) fn value(self, projected: f64) -> f64 {
        self.base().map_or(projected, |base| base.powf(projected))
    }

    /// The y axis over `projected` values (in plot space): from zero
    /// (linear) or the power of the base at or below the smallest value
    /// (log) to a round number or power at or above the largest.
    pub(crate) fn y_axis(self, projected: impl IntoIterator<Item = f64>) -> Axis {
        let (lo, hi) = projected
            .into_iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p), hi.max(p))
            });
        match self.base() {
            None => linear_axis(hi),
            Some(_) => exponent_axis(lo, hi),
        }
    }
}

/// From zero to a round number at or above `hi`, in five steps; `0..1`
/// for nothing to show.
fn linear_axis(hi: f64) -> Axis {
    let top = nice_ceiling(hi);
    Axis::new(
        0.0..top,
        (0..=5).map(|i| top * f64::from(i) / 5.0).collect(),
    )
}

/// From the whole exponent at or below `lo` to the one at or above `hi`,
/// a tick on each, at least one step; `0..1` for nothing to show.
fn exponent_axis(lo: f64, hi: f64) -> Axis {
    let (lo, hi) = if lo.is_finite() {
        (lo.floor(), hi.ceil())
    } else {
        (0.0, 1.0)
    };
    let hi = if hi > lo { hi } else { lo + 1.0 };
    Axis::new(lo..hi, (lo as i32..=hi as i32).map(f64::from).collect())
}

/// An axis in plot space: its range and where it is labelled.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Axis {
    pub range: Range<f64>,
    pub ticks: Vec<f64>,
}

impl Axis {
    pub fn new(range: Range<f64>, ticks: Vec<f64>) -> Axis {
        Axis { range, ticks }
    }

    /// A linear x axis from the smallest to the largest of `xs`, labelled
    /// at six even steps, or only at whole numbers when every x is one
    /// (clients, concurrency levels). One x alone (a single level) is
    /// centered on a span of 2; without any, the axis is `0..1`.
    pub fn spanning(xs: impl Iterator<Item = f64> + Clone) -> Axis {
        let finite = xs.filter(|x| x.is_finite());
        let integral = finite.clone().all(|x| x.fract() == 0.0);
        let lo = finite.clone().fold(f64::INFINITY, f64::min);
        let hi = finite.fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else if hi == lo {
            (lo - 1.0, hi + 1.0)
        } else {
            (0.0, 1.0)
        };
        Axis::new(lo..hi, x_ticks(lo, hi, integral))
    }
}

/// Plotters draws on an axis as on a linear one whose only key points are
/// its ticks, with no light grid lines between them. `DefaultFormatting`
/// is what lets the mesh take the charts' own tick formatters.
impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        RangedCoordf64::from(self.range()).map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// The smallest 1, 2 or 5 times a power of ten at or above `v`, so that
/// a linear axis ends on a round number (and 1 for nothing to show).
fn nice_ceiling(v: f64) -> f64 {
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

fn x_ticks(lo: f64, hi: f64, integral: bool) -> Vec<f64> {
    if !integral {
        return (0..=5)
            .map(|i| lo + (hi - lo) * f64::from(i) / 5.0)
            .collect();
    }
    let step = ((hi - lo) / 5.0).ceil().max(1.0);
    std::iter::successors(Some(lo), |x| Some(x + step))
        .take_while(|&x| x <= hi)
        .collect()
}

/// A tick's text: at most two decimals from 1 up (no `1000.0000001` from
/// a power of ten), three significant digits below, trailing zeros
/// dropped.
pub(crate) fn tick_label(v: f64) -> String {
    if v == 0.0 || v.abs() >= 1.0 {
        return format!("{}", (v * 100.0).round() / 100.0);
    }
    let decimals = (2.0 - v.abs().log10().floor()) as usize;
    format!("{v:.decimals$}")
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(scale: Scale, values: &[f64]) -> Axis {
        scale.y_axis(values.iter().filter_map(|&v| scale.project(v)))
    }

    /// The log2 axis as powers: (lowest exponent, highest exponent).
    fn log2_exponents(values: &[f64]) -> (i32, i32) {
        let axis = axis(Scale::Log2, values);
        (axis.range.start as i32, axis.range.end as i32)
    }

    #[test]
    fn log_axes_span_the_powers_around_the_values() {
        // The slowdown chart adds native's 1 to its values.
        assert_eq!(log2_exponents(&[1.0, 1.89, 1.2]), (0, 1));
        assert_eq!(log2_exponents(&[1.0]), (0, 1));
        assert_eq!(log2_exponents(&[]), (0, 1));
        assert_eq!(log2_exponents(&[1.0, 0.4, 30.0]), (-2, 5));
        assert_eq!(log2_exponents(&[1.0, 4.0]), (0, 2));
        let axis = axis(Scale::Log10, &[0.05, 2000.0, f64::NAN, 0.0, -3.0]);
        assert_eq!(axis.range, -2.0..4.0);
        assert_eq!(axis.ticks, [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn linear_axes_end_on_a_round_number() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(3.0), 5.0);
        assert_eq!(nice_ceiling(10.0), 10.0);
        assert_eq!(nice_ceiling(11.0), 20.0);
        assert!((nice_ceiling(0.07) - 0.1).abs() < 1e-12);
        let axis = axis(Scale::Linear, &[4.0, 1.0, f64::INFINITY]);
        assert_eq!(axis.range, 0.0..5.0);
        assert_eq!(axis.ticks, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    }

    #[test]
    fn projection_drops_what_the_scale_cannot_show() {
        assert_eq!(Scale::Log2.project(8.0), Some(3.0));
        assert_eq!(Scale::Log10.project(0.0), None);
        assert_eq!(Scale::Linear.project(-2.0), Some(-2.0));
        assert_eq!(Scale::Linear.project(f64::NAN), None);
        assert_eq!(Scale::Log2.value(-1.0), 0.5);
    }

    #[test]
    fn whole_number_axes_get_whole_ticks() {
        assert_eq!(x_ticks(2.0, 15.0, true), [2.0, 5.0, 8.0, 11.0, 14.0]);
        assert_eq!(x_ticks(1.0, 3.0, true), [1.0, 2.0, 3.0]);
        assert_eq!(x_ticks(0.0, 1.0, false).len(), 6);
        let axis = Axis::spanning([3.0, 1.0, 2.0].into_iter());
        assert_eq!((axis.range, axis.ticks), (1.0..3.0, vec![1.0, 2.0, 3.0]));
        assert_eq!(Axis::spanning(std::iter::empty()).range, 0.0..1.0);
        let alone = Axis::spanning([4.0, 4.0, f64::NAN].into_iter());
        assert_eq!((alone.range, alone.ticks), (3.0..5.0, vec![3.0, 4.0, 5.0]));
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick_label(1000.0000001), "1000");
        assert_eq!(tick_label(2.5), "2.5");
        assert_eq!(tick_label(0.25), "0.25");
        assert_eq!(tick_label(0.01), "0.01");
        assert_eq!(tick_label(0.0001), "0.0001");
        assert_eq!(tick_label(0.0625), "0.0625");
        assert_eq!(tick_label(0.0), "0");
    }
}
