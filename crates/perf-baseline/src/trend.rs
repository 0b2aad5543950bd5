use perf_core::record::TrendSeries;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::stats;

/// How a lasting shift is told from noise in a metric's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrendOptions {
    /// Fewest runs on each side of a change point.
    pub min_segment: usize,
    /// Smallest shift that counts, relative to the level before it (0.10 = 10%).
    pub min_shift: f64,
    /// Significance of the two-window test, Bonferroni-corrected over the candidate
    /// split points.
    pub alpha: f64,
}

impl Default for TrendOptions {
    fn default() -> Self {
        Self {
            min_segment: 3,
            min_shift: 0.10,
            alpha: 0.01,
        }
    }
}

/// Analyses one metric's history: the least-squares slope per run, and where a lasting
/// shift began.
///
/// The change point is found with a two-window test: every split leaving at least
/// `min_segment` runs on each side is scored with Welch's t between the runs before and
/// after it; the best-scoring split is a change point when its p-value, Bonferroni-
/// corrected over the splits tried, is below `alpha`, the shift is at least `min_shift` of
/// the earlier level, and it lasts (the last `min_segment` runs still sit on the shifted
/// side, beyond half the shift).
pub fn analyze_trend(
    metric: &str,
    points: Vec<(String, String, f64)>,
    options: &TrendOptions,
) -> TrendSeries {
    let values: Vec<f64> = points.iter().map(|p| p.2).collect();
    TrendSeries {
        metric: metric.to_owned(),
        change_point: change_point(&values, options),
        slope_per_run: stats::slope(&values),
        points,
    }
}

/// The index where a lasting shift began, if any.
pub fn change_point(values: &[f64], options: &TrendOptions) -> Option<usize> {
    let m = options.min_segment.max(2);
    let n = values.len();
    if values.iter().any(|v| !v.is_finite()) || n < 2 * m {
        return None;
    }
    let candidates = n - 2 * m + 1;
    let mut best: Option<(usize, f64, f64)> = None; // (index, |t|, p)
    for k in m..=n - m {
        let (before, after) = values.split_at(k);
        let (ma, va) = stats::mean_variance(before);
        let (mb, vb) = stats::mean_variance(after);
        let (na, nb) = (before.len() as f64, after.len() as f64);
        let se2 = va / na + vb / nb;
        let (t, p) = if se2 > 0.0 {
            let t = (mb - ma) / se2.sqrt();
            // Welch–Satterthwaite degrees of freedom.
            let df = se2 * se2
                / ((va / na).powi(2) / (na - 1.0) + (vb / nb).powi(2) / (nb - 1.0))
                    .max(f64::MIN_POSITIVE);
            let p = StudentsT::new(0.0, 1.0, df.max(1.0))
                .map(|d| 2.0 * d.cdf(-t.abs()))
                .unwrap_or(1.0);
            (t.abs(), p)
        } else if mb != ma {
            (f64::INFINITY, 0.0)
        } else {
            (0.0, 1.0)
        };
        if best.is_none_or(|(_, bt, _)| t > bt) {
            best = Some((k, t, p));
        }
    }
    let (k, _, p) = best?;
    if p * candidates as f64 >= options.alpha {
        return None;
    }
    let (before, after) = values.split_at(k);
    let (ma, _) = stats::mean_variance(before);
    let (mb, _) = stats::mean_variance(after);
    let shift = mb - ma;
    let level = ma.abs().max(f64::MIN_POSITIVE);
    if shift.abs() < options.min_shift * level {
        return None;
    }
    let (tail, _) = stats::mean_variance(&values[n - m..]);
    let lasting = (tail - ma) * shift.signum() >= 0.5 * shift.abs();
    lasting.then_some(k)
}

/// Estimates the run-to-run noise ([`crate::CompareOptions::run_noise`]) from a history
/// of one latency metric (e.g. the `overall` median of repeated runs of the same code):
/// the robust standard deviation (MAD of successive differences of the logs, divided by
/// sqrt 2) of the log values. Successive differences ignore level shifts between
/// releases; the result includes each run's own sampling error, so it errs on the large
/// (safe) side. `None` with fewer than 5 positive values.
pub fn estimate_run_noise(values: &[f64]) -> Option<f64> {
    let logs: Vec<f64> = values
        .iter()
        .filter(|v| **v > 0.0)
        .map(|v| v.ln())
        .collect();
    if logs.len() < 5 {
        return None;
    }
    let mut diffs: Vec<f64> = logs.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    diffs.sort_by(f64::total_cmp);
    let mid = diffs.len() / 2;
    let median = if diffs.len() % 2 == 0 {
        0.5 * (diffs[mid - 1] + diffs[mid])
    } else {
        diffs[mid]
    };
    // 1.4826 turns a MAD into a normal standard deviation.
    Some(1.4826 * median / std::f64::consts::SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use perf_core::SplitMix64;

    fn noisy(level: f64, n: usize, rng: &mut SplitMix64) -> Vec<f64> {
        (0..n)
            .map(|_| level * (1.0 + 0.03 * rng.normal()))
            .collect()
    }

    #[test]
    fn run_noise_estimate_recovers_the_simulated_noise() {
        let mut rng = SplitMix64::new(9);
        let mut v: Vec<f64> = (0..200)
            .map(|_| 50.0 * (0.03 * rng.normal()).exp())
            .collect();
        // A release that made everything 40% slower does not count as noise.
        for x in v.iter_mut().skip(100) {
            *x *= 1.4;
        }
        let est = estimate_run_noise(&v).unwrap();
        assert!((est - 0.03).abs() < 0.006, "estimate {est}");
        assert_eq!(estimate_run_noise(&[1.0, 2.0]), None);
    }

    #[test]
    fn finds_the_start_of_a_step() {
        let mut rng = SplitMix64::new(11);
        let mut v = noisy(100.0, 12, &mut rng);
        v.extend(noisy(125.0, 8, &mut rng));
        assert_eq!(change_point(&v, &TrendOptions::default()), Some(12));
        let points = v
            .iter()
            .enumerate()
            .map(|(i, x)| (format!("r{i}"), format!("t{i}"), *x))
            .collect();
        let t = analyze_trend("latency_p95", points, &TrendOptions::default());
        assert_eq!(t.change_point, Some(12));
        assert!(t.slope_per_run > 0.5, "slope {}", t.slope_per_run);
    }

    #[test]
    fn flat_noise_has_no_change_point() {
        let mut found = 0;
        for seed in 0..200 {
            let v = noisy(100.0, 20, &mut SplitMix64::new(seed));
            found += usize::from(change_point(&v, &TrendOptions::default()).is_some());
        }
        assert!(found <= 2, "{found} false change points in 200 flat series");
    }

    #[test]
    fn a_small_or_passing_blip_is_not_a_lasting_shift() {
        let mut rng = SplitMix64::new(5);
        // A 4% step: real but below the 10% floor.
        let mut v = noisy(100.0, 10, &mut rng);
        v.extend(noisy(104.0, 10, &mut rng));
        assert_eq!(change_point(&v, &TrendOptions::default()), None);
        // A spike that went away again.
        let mut v = vec![100.0; 8];
        v.extend([160.0, 170.0, 165.0]);
        v.extend(vec![100.0; 3]);
        assert_eq!(change_point(&v, &TrendOptions::default()), None);
        assert_eq!(change_point(&[1.0, 2.0], &TrendOptions::default()), None);
        assert_eq!(
            change_point(&[f64::NAN; 10], &TrendOptions::default()),
            None
        );
    }
}
