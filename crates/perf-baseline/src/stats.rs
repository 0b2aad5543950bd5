//! The statistics behind the verdicts: a weighted (tied) Mann–Whitney U test and
//! Hodges–Lehmann shift with its Moses interval over histogram buckets, Fisher's exact
//! test and Newcombe's interval for two proportions, Holm's correction, and a few
//! normal-distribution helpers.
//!
//! Latencies arrive as histogram buckets `(value, count)`, so every rank statistic here is
//! computed over weighted distinct values in O(buckets), never by expanding samples.

use perf_core::LatencyHistogram;
use statrs::distribution::{ContinuousCDF, Normal};
use statrs::function::factorial::ln_binomial;

/// The standard normal CDF.
pub(crate) fn normal_cdf(x: f64) -> f64 {
    standard_normal().cdf(x)
}

/// The standard normal quantile; `p` is clamped into (0, 1).
pub(crate) fn normal_quantile(p: f64) -> f64 {
    standard_normal().inverse_cdf(p.clamp(1e-15, 1.0 - 1e-15))
}

fn standard_normal() -> Normal {
    // Mean 0, sd 1 are valid parameters, so construction cannot fail; the fallback is
    // never taken but keeps the function total.
    Normal::new(0.0, 1.0).unwrap_or_else(|_| Normal::standard())
}

/// Two-sided p-value of a standard normal statistic.
pub(crate) fn two_sided_p(z: f64) -> f64 {
    (2.0 * normal_cdf(-z.abs())).min(1.0)
}

/// Sorted distinct values with their (weighted) counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Weighted {
    values: Vec<f64>,
    counts: Vec<f64>,
    total: f64,
}

impl Weighted {
    /// From `(value, count)` pairs in any order; non-positive counts and non-finite values
    /// are skipped, equal values merged.
    pub(crate) fn new(mut pairs: Vec<(f64, f64)>) -> Self {
        pairs.retain(|(v, c)| v.is_finite() && *c > 0.0 && c.is_finite());
        pairs.sort_by(|x, y| x.0.total_cmp(&y.0));
        let mut w = Weighted::default();
        for (v, c) in pairs {
            if w.values.last() == Some(&v) {
                if let Some(last) = w.counts.last_mut() {
                    *last += c;
                }
            } else {
                w.values.push(v);
                w.counts.push(c);
            }
            w.total += c;
        }
        w
    }

    /// The natural logarithms of a latency histogram's bucket values (µs), so that shifts
    /// are ratios.
    pub(crate) fn log_latency(h: &LatencyHistogram) -> Self {
        Self::new(
            h.buckets()
                .into_iter()
                .map(|(v, c)| ((v.max(1) as f64).ln(), c as f64))
                .collect(),
        )
    }

    /// Total weight.
    pub(crate) fn total(&self) -> f64 {
        self.total
    }

    fn is_empty(&self) -> bool {
        self.total <= 0.0
    }
}

/// The Mann–Whitney U test of `b` against `a`, ties included.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MannWhitney {
    /// U of `b`: pairs with `b > a`, plus half the ties.
    pub(crate) u: f64,
    /// Expected U under no difference (`n m / 2`).
    pub(crate) mean: f64,
    /// Variance of U under no difference, tie-corrected.
    pub(crate) variance: f64,
    /// Signed normal statistic with continuity correction (positive: `b` larger).
    pub(crate) z: f64,
    /// Two-sided p-value (normal approximation with continuity correction, as scipy's
    /// `mannwhitneyu(method="asymptotic")`).
    pub(crate) p_value: f64,
}

/// Mann–Whitney U over weighted values; `None` when either side is empty.
pub(crate) fn mann_whitney(a: &Weighted, b: &Weighted) -> Option<MannWhitney> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (n, m) = (a.total, b.total);
    let big_n = n + m;
    let (mut i, mut j) = (0, 0);
    let mut a_below = 0.0;
    let mut u = 0.0;
    let mut ties = 0.0;
    while i < a.values.len() || j < b.values.len() {
        let va = a.values.get(i).copied().unwrap_or(f64::INFINITY);
        let vb = b.values.get(j).copied().unwrap_or(f64::INFINITY);
        let v = va.min(vb);
        let ca = if va == v { a.counts[i] } else { 0.0 };
        let cb = if vb == v { b.counts[j] } else { 0.0 };
        u += cb * (a_below + 0.5 * ca);
        let t = ca + cb;
        ties += t * t * t - t;
        a_below += ca;
        if va == v {
            i += 1;
        }
        if vb == v {
            j += 1;
        }
    }
    let mean = n * m / 2.0;
    let variance = if big_n > 1.0 {
        n * m / 12.0 * ((big_n + 1.0) - ties / (big_n * (big_n - 1.0)))
    } else {
        0.0
    };
    let diff = u - mean;
    let (z, p_value) = if variance > 0.0 {
        let sd = variance.sqrt();
        let corrected = (diff.abs() - 0.5).max(0.0);
        let z = corrected / sd * diff.signum();
        (z, two_sided_p(z))
    } else {
        (0.0, 1.0)
    };
    Some(MannWhitney {
        u,
        mean,
        variance,
        z,
        p_value,
    })
}

/// Weighted count of pairs with `b - a <= delta`.
fn pairs_at_most(a: &Weighted, b: &Weighted, delta: f64) -> f64 {
    let mut i = 0;
    let mut a_below = 0.0;
    let mut total = 0.0;
    for (bv, bc) in b.values.iter().zip(&b.counts) {
        let t = bv - delta;
        while i < a.values.len() && a.values[i] < t {
            a_below += a.counts[i];
            i += 1;
        }
        total += bc * (a.total - a_below);
    }
    total
}

/// The smallest `delta` such that at least `target` (weighted) pairwise differences
/// `b - a` are `<= delta`: an order statistic of the two-sample differences,
/// found by bisection in O(buckets) per step.
fn difference_order_statistic(a: &Weighted, b: &Weighted, target: f64) -> f64 {
    let (Some(a_min), Some(a_max), Some(b_min), Some(b_max)) = (
        a.values.first(),
        a.values.last(),
        b.values.first(),
        b.values.last(),
    ) else {
        return 0.0;
    };
    let mut lo = b_min - a_max;
    let mut hi = b_max - a_min;
    if pairs_at_most(a, b, lo) >= target {
        return lo;
    }
    for _ in 0..64 {
        let mid = 0.5 * (lo + hi);
        if pairs_at_most(a, b, mid) >= target {
            hi = mid;
        } else {
            lo = mid;
        }
        // Far below the histograms' 1e-3 relative resolution.
        if hi - lo <= 1e-7 {
            break;
        }
    }
    hi
}

/// The Hodges–Lehmann shift of `b` against `a` with its distribution-free (Moses)
/// confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct HodgesLehmann {
    /// Median of all pairwise differences `b - a`.
    pub(crate) shift: f64,
    /// Interval bounds, `None` when the samples are too small for the confidence level.
    pub(crate) interval: Option<(f64, f64)>,
}

/// Hodges–Lehmann shift and its Moses interval at two-sided level `1 - alpha`.
pub(crate) fn hodges_lehmann(a: &Weighted, b: &Weighted, alpha: f64) -> Option<HodgesLehmann> {
    let mw = mann_whitney(a, b)?;
    let pairs = a.total * b.total;
    let shift = difference_order_statistic(a, b, 0.5 * pairs);
    let z = normal_quantile(1.0 - alpha / 2.0);
    let k = (pairs / 2.0 - z * mw.variance.sqrt()).floor();
    let interval = (k >= 1.0).then(|| {
        (
            difference_order_statistic(a, b, k),
            difference_order_statistic(a, b, pairs - k + 1.0),
        )
    });
    Some(HodgesLehmann { shift, interval })
}

/// Group size beyond which [`fisher_exact`] uses the normal approximation.
const FISHER_EXACT_LIMIT: u64 = 200_000;

/// Fisher's exact test on successes `x1` of `n1` against `x2` of `n2`: the two-sided
/// p-value (sum of the tables no more likely than the observed one, as scipy's
/// `fisher_exact`).
pub(crate) fn fisher_exact(x1: u64, n1: u64, x2: u64, n2: u64) -> f64 {
    let (x1, x2) = (x1.min(n1), x2.min(n2));
    let total = n1 + n2;
    let k = x1 + x2;
    if n1 == 0 || n2 == 0 || k == 0 || k == total {
        return 1.0;
    }
    if n1.min(n2) > FISHER_EXACT_LIMIT {
        // The exact sum would take long; at these sizes the pooled two-proportion z test
        // agrees with it closely.
        let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
        let pooled = k as f64 / total as f64;
        let se = (pooled * (1.0 - pooled) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
        return if se > 0.0 {
            two_sided_p((p2 - p1) / se)
        } else {
            1.0
        };
    }
    let ln_pmf =
        |x: u64| ln_binomial(k, x) + ln_binomial(total - k, n1 - x) - ln_binomial(total, n1);
    let lo = k.saturating_sub(n2);
    let hi = k.min(n1);
    let observed = ln_pmf(x1);
    // scipy's relative tolerance for "as likely as observed".
    let cutoff = observed + (1.0f64 + 1e-7).ln();
    let mut p = 0.0;
    for x in lo..=hi {
        let l = ln_pmf(x);
        if l <= cutoff {
            p += l.exp();
        }
    }
    p.min(1.0)
}

/// Wilson score interval of a proportion at normal quantile `z`.
pub(crate) fn wilson(x: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = n as f64;
    let p = x as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Newcombe's hybrid score interval (his method 10) for `p2 - p1`.
pub(crate) fn newcombe_difference(x1: u64, n1: u64, x2: u64, n2: u64, z: f64) -> (f64, f64) {
    let p1 = if n1 == 0 { 0.0 } else { x1 as f64 / n1 as f64 };
    let p2 = if n2 == 0 { 0.0 } else { x2 as f64 / n2 as f64 };
    let (l1, u1) = wilson(x1, n1, z);
    let (l2, u2) = wilson(x2, n2, z);
    let d = p2 - p1;
    (
        d - ((p2 - l2).powi(2) + (u1 - p1).powi(2)).sqrt(),
        d + ((u2 - p2).powi(2) + (p1 - l1).powi(2)).sqrt(),
    )
}

/// Holm's step-down adjustment: adjusted p-values in the input order.
pub(crate) fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut adjusted = vec![1.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        let value = ((m - rank) as f64 * p[i]).min(1.0);
        running = running.max(value);
        adjusted[i] = running;
    }
    adjusted
}

/// Ordinary least-squares slope of `values` against their index.
pub(crate) fn slope(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    if values.len() < 2 {
        return 0.0;
    }
    let mean_x = (n - 1.0) / 2.0;
    let mean_y = values.iter().sum::<f64>() / n;
    let mut sxy = 0.0;
    let mut sxx = 0.0;
    for (i, y) in values.iter().enumerate() {
        let dx = i as f64 - mean_x;
        sxy += dx * (y - mean_y);
        sxx += dx * dx;
    }
    if sxx > 0.0 {
        sxy / sxx
    } else {
        0.0
    }
}

/// Mean and sample variance.
pub(crate) fn mean_variance(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(values: &[f64]) -> Weighted {
        Weighted::new(values.iter().map(|&v| (v, 1.0)).collect())
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    // Reference values below were computed with scipy 1.17.1:
    //   mannwhitneyu(y, x, method="asymptotic", use_continuity=True)
    //   fisher_exact([[x1, n1-x1], [x2, n2-x2]])

    #[test]
    fn mann_whitney_matches_scipy_without_ties() {
        let x = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30];
        let y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.15, 1.29];
        let r = mann_whitney(&w(&x), &w(&y)).unwrap();
        // scipy: mannwhitneyu(y, x) -> statistic 23.0, pvalue 0.132919
        assert!(close(r.u, 23.0, 1e-9), "U = {}", r.u);
        assert!(close(r.p_value, 0.132919, 1e-5), "p = {}", r.p_value);
        assert!(r.z < 0.0);
    }

    #[test]
    fn mann_whitney_with_ties_and_weights_equals_expanded_samples() {
        // Weighted buckets must give exactly what the expanded samples give.
        let a = Weighted::new(vec![(1.0, 3.0), (2.0, 2.0), (3.0, 1.0)]);
        let b = Weighted::new(vec![(2.0, 1.0), (3.0, 3.0), (4.0, 2.0)]);
        let ea = w(&[1.0, 1.0, 1.0, 2.0, 2.0, 3.0]);
        let eb = w(&[2.0, 3.0, 3.0, 3.0, 4.0, 4.0]);
        let r = mann_whitney(&a, &b).unwrap();
        let e = mann_whitney(&ea, &eb).unwrap();
        assert_eq!(r, e);
        // scipy: mannwhitneyu(b, a) -> statistic 32.5, pvalue 0.020331
        assert!(close(r.u, 32.5, 1e-9), "U = {}", r.u);
        assert!(close(r.p_value, 0.020331, 1e-5), "p = {}", r.p_value);
    }

    #[test]
    fn hodges_lehmann_finds_a_known_shift_and_covers_it() {
        let a: Vec<f64> = (0..40).map(|i| i as f64).collect();
        let b: Vec<f64> = (0..40).map(|i| i as f64 + 5.0).collect();
        let hl = hodges_lehmann(&w(&a), &w(&b), 0.05).unwrap();
        assert!(close(hl.shift, 5.0, 1e-6), "shift {}", hl.shift);
        let (lo, hi) = hl.interval.unwrap();
        assert!(
            lo < 5.0 && hi > 5.0 && lo > -10.0 && hi < 20.0,
            "({lo}, {hi})"
        );
    }

    #[test]
    fn hodges_lehmann_interval_is_none_for_tiny_samples() {
        let hl = hodges_lehmann(&w(&[1.0, 2.0]), &w(&[3.0]), 0.05).unwrap();
        assert!(hl.interval.is_none());
        assert!(close(hl.shift, 1.0, 1e-9) || close(hl.shift, 2.0, 1e-9));
        assert!(mann_whitney(&Weighted::default(), &w(&[1.0])).is_none());
    }

    #[test]
    fn fisher_exact_matches_scipy() {
        // fisher_exact([[8, 2], [1, 5]]) -> p = 0.034965...
        assert!(close(fisher_exact(8, 10, 1, 6), 0.034965, 1e-5));
        // fisher_exact([[200, 0], [190, 10]]) -> p = 0.0017405...
        assert!(close(fisher_exact(200, 200, 190, 200), 0.0017405, 1e-6));
        assert_eq!(fisher_exact(10, 10, 10, 10), 1.0);
        // Huge groups take the normal approximation: 99% vs 98.97% of a million each,
        // z = -2.116, p = 0.0343 (scipy.stats.norm).
        let p = fisher_exact(990_000, 1_000_000, 989_700, 1_000_000);
        assert!(close(p, 0.03431, 2e-4), "p = {p}");
        assert_eq!(fisher_exact(0, 0, 3, 5), 1.0);
    }

    #[test]
    fn newcombe_interval_matches_the_published_example() {
        // Newcombe (1998), example (e): 56/70 vs 48/80, method 10 gives
        // 0.0524 to 0.3339 for p1 - p2.
        let z = normal_quantile(0.975);
        let (lo, hi) = newcombe_difference(48, 80, 56, 70, z);
        assert!(close(lo, 0.0524, 5e-4), "lo {lo}");
        assert!(close(hi, 0.3339, 5e-4), "hi {hi}");
    }

    #[test]
    fn holm_adjusts_in_input_order() {
        let adj = holm(&[0.01, 0.04, 0.03, 0.005]);
        assert!(close(adj[3], 0.02, 1e-12));
        assert!(close(adj[0], 0.03, 1e-12));
        assert!(close(adj[2], 0.06, 1e-12));
        assert!(close(adj[1], 0.06, 1e-12));
    }

    #[test]
    fn slope_and_moments() {
        assert!(close(slope(&[1.0, 3.0, 5.0, 7.0]), 2.0, 1e-12));
        assert_eq!(slope(&[4.0]), 0.0);
        let (m, v) = mean_variance(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert!(close(m, 5.0, 1e-12));
        assert!(close(v, 32.0 / 7.0, 1e-12));
        assert!(close(normal_quantile(0.975), 1.959964, 1e-6));
    }
}
