//! Summary statistics of latency samples: exact percentiles (the samples
//! are kept, runs are bounded), mean, standard deviation and coefficient of
//! variation.

use std::time::Duration;

/// The nearest-rank percentile `p` (0-100) of `sorted`, which must be in
/// ascending order; `None` when there are no samples.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let p = p.clamp(0.0, 100.0);
    // Nearest rank: the smallest value with at least p% of the samples at
    // or below it.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Mean, population standard deviation and coefficient of variation
/// (stddev / mean) of `values`; all zero for no values, CV zero for a zero
/// mean.
pub fn mean_stddev_cv(values: &[f64]) -> (f64, f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let stddev = var.sqrt();
    let cv = if mean == 0.0 { 0.0 } else { stddev / mean };
    (mean, stddev, cv)
}

/// The summary of a set of latencies, in milliseconds (the spread, where
/// an experiment reports it, comes from [`mean_stddev_cv`]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    pub count: usize,
    pub min: f64,
    pub mean: f64,
    pub max: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
}

impl Summary {
    /// Summarizes `samples` (any order).
    pub fn of(samples: &[Duration]) -> Summary {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        Summary::of_millis(&mut ms)
    }

    /// Summarizes values already in milliseconds; sorts them in place.
    pub fn of_millis(ms: &mut [f64]) -> Summary {
        ms.sort_by(f64::total_cmp);
        let (mean, _, _) = mean_stddev_cv(ms);
        let pct = |p| percentile(ms, p).unwrap_or(0.0);
        Summary {
            count: ms.len(),
            min: pct(0.0),
            mean,
            max: pct(100.0),
            p50: pct(50.0),
            p90: pct(90.0),
            p99: pct(99.0),
            p999: pct(99.9),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 99.9), Some(100));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile::<u32>(&[], 50.0), None);
        // Four samples: p25 is the first, p26 the second.
        assert_eq!(percentile(&[10, 20, 30, 40], 25.0), Some(10));
        assert_eq!(percentile(&[10, 20, 30, 40], 26.0), Some(20));
    }

    #[test]
    fn mean_stddev_and_cv() {
        let (mean, sd, cv) = mean_stddev_cv(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(mean, 5.0);
        assert_eq!(sd, 2.0);
        assert_eq!(cv, 0.4);
        assert_eq!(mean_stddev_cv(&[]), (0.0, 0.0, 0.0));
        assert_eq!(mean_stddev_cv(&[0.0, 0.0]), (0.0, 0.0, 0.0));
    }

    #[test]
    fn summary_of_durations() {
        let samples: Vec<Duration> = [3, 1, 2]
            .iter()
            .map(|&ms| Duration::from_millis(ms))
            .collect();
        let s = Summary::of(&samples);
        assert_eq!(s.count, 3);
        assert_eq!((s.min, s.p50, s.max), (1.0, 2.0, 3.0));
        assert!((s.mean - 2.0).abs() < 1e-9);
        assert_eq!(Summary::of(&[]), Summary::default());
    }
}
