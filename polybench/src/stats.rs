//! The two summaries the reports use.

/// The median of `values` (the mean of the middle two for an even count);
/// `None` when empty. The median rather than the mean, so that one run
/// disturbed by the machine does not move the result.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The geometric mean of `values` (all positive); `None` when empty. The
/// right mean for ratios such as slowdowns: a kernel twice as slow and one
/// twice as fast average to 1.
pub fn geomean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, count) = values
        .into_iter()
        .fold((0.0, 0u32), |(sum, count), v| (sum + v.ln(), count + 1));
    (count > 0).then(|| (sum / f64::from(count)).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, 100.0, 1.1, 0.9, 1.2]), Some(1.1));
    }

    #[test]
    fn geomean_of_ratios() {
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-12;
        assert!(close(geomean([2.0, 0.5]), 1.0));
        assert!(close(geomean([1.0, 4.0, 16.0]), 4.0));
        assert!(close(geomean([3.0]), 3.0));
        assert_eq!(geomean([]), None);
    }
}
