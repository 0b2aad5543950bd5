//! Prediction: the Universal Scalability Law fitted to throughput against concurrency,
//! and forecasts of when a trend series crosses its objective.
//!
//! The USL, X(N) = λN / (1 + σ(N−1) + κN(N−1)), is fitted by Levenberg–Marquardt least
//! squares (σ, κ kept ≥ 0), started from the linearised form N/X = (1 + σ(N−1) +
//! κN(N−1))/λ. Standard errors come from the covariance s²(JᵀJ)⁻¹ at the optimum, with
//! Student-t 95% intervals on n − 3 degrees of freedom.

use perf_core::record::{
    Estimate, Forecast, Holdout, SlotsFit, TrendForecast, TrendSeries, UslFit, UslPoint,
};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Fewest points a USL fit accepts (three coefficients and one degree of freedom).
pub const MIN_USL_POINTS: usize = 4;
/// Fewest runs a trend forecast accepts.
pub const MIN_FORECAST_RUNS: usize = 5;

/// Fits the USL to `points`; `Err` says why no fit was made (too few points, bad values,
/// no convergence). With [`MIN_USL_POINTS`] + 1 points or more, the point of highest
/// concurrency is also held out: the fit without it predicts it ([`UslFit::holdout`]).
pub fn fit_usl(points: &[UslPoint]) -> Result<UslFit, String> {
    let mut pts: Vec<UslPoint> = points.to_vec();
    pts.sort_by(|a, b| a.concurrency.total_cmp(&b.concurrency));
    let mut fit = fit_core(&pts)?;
    fit.holdout = holdout(&pts, |rest| fit_core(rest).map(|f| move |n| f.predict(n)));
    Ok(fit)
}

/// With more than [`MIN_USL_POINTS`] points (sorted by concurrency), how a model fitted
/// without the highest predicts it; `fit` returns the model's prediction function.
fn holdout<P: Fn(f64) -> f64>(
    pts: &[UslPoint],
    fit: impl Fn(&[UslPoint]) -> Result<P, String>,
) -> Option<Holdout> {
    if pts.len() <= MIN_USL_POINTS {
        return None;
    }
    let (last, rest) = pts.split_last()?;
    let predicted = fit(rest).ok()?(last.concurrency);
    Some(Holdout {
        concurrency: last.concurrency,
        measured: last.throughput,
        predicted,
        relative_error: (predicted - last.throughput).abs() / last.throughput,
    })
}

/// Fits the slots model X(N) = min(λN, C) to `points` (at least three distinct levels,
/// one of them on the ceiling); `Err` says why not. Least squares over every split of the
/// levels into a rising part (λ through the origin) and a flat part (C, their mean); the
/// intervals use the residual spread of the whole fit on n − 2 degrees of freedom. With
/// more than [`MIN_USL_POINTS`] points, the highest concurrency is held out as for the USL.
pub fn fit_slots(points: &[UslPoint]) -> Result<SlotsFit, String> {
    let mut pts: Vec<UslPoint> = points.to_vec();
    pts.sort_by(|a, b| a.concurrency.total_cmp(&b.concurrency));
    let mut fit = slots_core(&pts)?;
    fit.holdout = holdout(&pts, |rest| slots_core(rest).map(|f| move |n| f.predict(n)));
    Ok(fit)
}

fn slots_core(pts: &[UslPoint]) -> Result<SlotsFit, String> {
    if pts.len() < 3
        || pts.iter().any(|p| {
            !(p.concurrency.is_finite()
                && p.concurrency > 0.0
                && p.throughput.is_finite()
                && p.throughput > 0.0)
        })
    {
        return Err("the slots model needs three points or more with positive values".to_owned());
    }
    let predict = |l: f64, c: f64, n: f64| (l * n).min(c);
    let mut best: Option<(f64, f64, f64, usize)> = None;
    for k in 1..pts.len() {
        let (rise, flat) = pts.split_at(k);
        let nx: f64 = rise.iter().map(|p| p.concurrency * p.throughput).sum();
        let nn: f64 = rise.iter().map(|p| p.concurrency * p.concurrency).sum();
        let l = nx / nn;
        let c = flat.iter().map(|p| p.throughput).sum::<f64>() / flat.len() as f64;
        let sse: f64 = pts
            .iter()
            .map(|p| (p.throughput - predict(l, c, p.concurrency)).powi(2))
            .sum();
        if best.is_none_or(|b| sse < b.2) {
            best = Some((l, c, sse, k));
        }
    }
    let (l, c, sse, k) = best.ok_or("no split of the points")?;
    if c / l <= pts[0].concurrency {
        return Err("no rise is seen: every level is on the ceiling".to_owned());
    }
    let n = pts.len();
    let dof = (n - 2) as f64;
    let s = (sse / dof).sqrt();
    let t = StudentsT::new(0.0, 1.0, dof)
        .map(|d| d.inverse_cdf(0.975))
        .unwrap_or(1.96);
    let nn: f64 = pts[..k].iter().map(|p| p.concurrency * p.concurrency).sum();
    let est = |value: f64, se: f64| Estimate {
        value,
        std_error: se,
        low: value - t * se,
        high: value + t * se,
    };
    let mean = pts.iter().map(|p| p.throughput).sum::<f64>() / n as f64;
    let sst: f64 = pts.iter().map(|p| (p.throughput - mean).powi(2)).sum();
    Ok(SlotsFit {
        lambda: est(l, s / nn.sqrt()),
        ceiling: est(c, s / ((n - k) as f64).sqrt()),
        slots: c / l,
        r_squared: if sst > 0.0 { 1.0 - sse / sst } else { 1.0 },
        holdout: None,
        plateau_points: pts
            .iter()
            .filter(|p| p.concurrency >= SlotsFit::PAST_KNEE * c / l)
            .count(),
    })
}

fn fit_core(pts: &[UslPoint]) -> Result<UslFit, String> {
    if pts.len() < MIN_USL_POINTS {
        return Err(format!(
            "a USL fit needs {MIN_USL_POINTS} concurrency levels or more, got {}",
            pts.len()
        ));
    }
    if pts
        .iter()
        .any(|p| !(p.concurrency.is_finite() && p.concurrency > 0.0))
        || pts
            .iter()
            .any(|p| !(p.throughput.is_finite() && p.throughput > 0.0))
    {
        return Err("every point needs a positive concurrency and throughput".to_owned());
    }
    let mut distinct: Vec<f64> = pts.iter().map(|p| p.concurrency).collect();
    distinct.dedup();
    if distinct.len() < 3 {
        return Err("a USL fit needs three distinct concurrency levels or more".to_owned());
    }
    let mut theta = initial_guess(pts);
    let ssr = |t: &[f64; 3]| -> f64 {
        pts.iter()
            .map(|p| {
                (p.throughput - perf_core::record::usl(t[0], t[1], t[2], p.concurrency)).powi(2)
            })
            .sum()
    };
    let mut mu = 1e-3;
    let mut current = ssr(&theta);
    for _ in 0..500 {
        let (jtj, jtr) = normal_equations(pts, &theta);
        let mut improved = false;
        for _ in 0..30 {
            let mut a = jtj;
            for (i, row) in a.iter_mut().enumerate() {
                row[i] += mu * jtj[i][i].max(1e-12);
            }
            let Some(step) = solve3(a, jtr) else {
                mu *= 10.0;
                continue;
            };
            let cand = [
                (theta[0] + step[0]).max(1e-12),
                (theta[1] + step[1]).max(0.0),
                (theta[2] + step[2]).max(0.0),
            ];
            let s = ssr(&cand);
            if s.is_finite() && s <= current {
                let gain = current - s;
                theta = cand;
                current = s;
                mu = (mu / 10.0).max(1e-12);
                improved = gain > 1e-15 * (1.0 + current);
                break;
            }
            mu *= 10.0;
        }
        if !improved {
            break;
        }
    }
    if !theta.iter().all(|v| v.is_finite()) {
        return Err("the USL fit did not converge".to_owned());
    }
    let n = pts.len();
    let dof = (n - 3) as f64;
    let s2 = current / dof;
    let (jtj, _) = normal_equations(pts, &theta);
    let cov = invert3(jtj);
    let t = StudentsT::new(0.0, 1.0, dof)
        .map(|d| d.inverse_cdf(0.975))
        .unwrap_or(1.96);
    let est = |i: usize| {
        let se = cov.map_or(f64::INFINITY, |c| (c[i][i] * s2).max(0.0).sqrt());
        Estimate {
            value: theta[i],
            std_error: se,
            low: theta[i] - t * se,
            high: theta[i] + t * se,
        }
    };
    let mean = pts.iter().map(|p| p.throughput).sum::<f64>() / n as f64;
    let sst: f64 = pts.iter().map(|p| (p.throughput - mean).powi(2)).sum();
    let (lambda, sigma, kappa) = (theta[0], theta[1], theta[2]);
    let (peak_concurrency, peak_throughput) = if kappa > 1e-12 && sigma < 1.0 {
        let nstar = ((1.0 - sigma) / kappa).sqrt();
        (
            Some(nstar),
            Some(perf_core::record::usl(lambda, sigma, kappa, nstar)),
        )
    } else if sigma > 1e-12 {
        (None, Some(lambda / sigma))
    } else {
        (None, None)
    };
    Ok(UslFit {
        lambda: est(0),
        sigma: est(1),
        kappa: est(2),
        peak_concurrency,
        peak_throughput,
        r_squared: if sst > 0.0 { 1.0 - current / sst } else { 1.0 },
        points: pts.to_vec(),
        holdout: None,
    })
}

/// λ from the lowest concurrency (X(N)/N), σ and κ from a least-squares fit of the
/// linearised form λN/X − 1 = σ(N−1) + κN(N−1).
fn initial_guess(pts: &[UslPoint]) -> [f64; 3] {
    let first = pts[0];
    let lambda = first.throughput / first.concurrency;
    let (mut a11, mut a12, mut a22, mut b1, mut b2) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for p in pts {
        let y = lambda * p.concurrency / p.throughput - 1.0;
        let u = p.concurrency - 1.0;
        let v = p.concurrency * (p.concurrency - 1.0);
        a11 += u * u;
        a12 += u * v;
        a22 += v * v;
        b1 += u * y;
        b2 += v * y;
    }
    let det = a11 * a22 - a12 * a12;
    let (sigma, kappa) = if det.abs() > 1e-12 {
        ((b1 * a22 - b2 * a12) / det, (a11 * b2 - a12 * b1) / det)
    } else {
        (0.1, 0.0)
    };
    [lambda, sigma.clamp(0.0, 1.0), kappa.max(0.0)]
}

/// JᵀJ and Jᵀr for the residuals r = X − f(N; θ).
fn normal_equations(pts: &[UslPoint], t: &[f64; 3]) -> ([[f64; 3]; 3], [f64; 3]) {
    let mut jtj = [[0.0; 3]; 3];
    let mut jtr = [0.0; 3];
    for p in pts {
        let n = p.concurrency;
        let d = 1.0 + t[1] * (n - 1.0) + t[2] * n * (n - 1.0);
        let f = t[0] * n / d;
        let j = [n / d, -f * (n - 1.0) / d, -f * n * (n - 1.0) / d];
        let r = p.throughput - f;
        for a in 0..3 {
            jtr[a] += j[a] * r;
            for b in 0..3 {
                jtj[a][b] += j[a] * j[b];
            }
        }
    }
    (jtj, jtr)
}

fn det3(m: &[[f64; 3]; 3]) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

fn invert3(m: [[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let d = det3(&m);
    if !(d.is_finite() && d.abs() > f64::MIN_POSITIVE) {
        return None;
    }
    let mut inv = [[0.0; 3]; 3];
    for (i, row) in inv.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            // Cofactor of (j, i): the adjugate is the transposed cofactor matrix.
            let (r1, r2) = ((j + 1) % 3, (j + 2) % 3);
            let (c1, c2) = ((i + 1) % 3, (i + 2) % 3);
            *cell = (m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1]) / d;
        }
    }
    Some(inv)
}

fn solve3(a: [[f64; 3]; 3], b: [f64; 3]) -> Option<[f64; 3]> {
    let inv = invert3(a)?;
    let mut x = [0.0; 3];
    for (i, xi) in x.iter_mut().enumerate() {
        *xi = (0..3).map(|j| inv[i][j] * b[j]).sum();
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// An objective a trend series is forecast against (`docs/capacity.md`, "Forecasts").
#[derive(Debug, Clone, PartialEq)]
pub struct TrendObjective {
    /// The trend series' metric (`latency_p95`, `success_rate`, ...).
    pub metric: String,
    /// Where the objective comes from (`slos.latency_p95_ms`, ...).
    pub key: String,
    /// Its value, in the series' unit.
    pub value: f64,
    /// `true` for upper bounds (latencies), `false` for floors (shares).
    pub higher_is_worse: bool,
}

/// Forecasts each objective's series with [`forecast_crossing`]; an objective whose
/// series has no recorded values (a TTFT objective on a bot that never streamed) gets a
/// refusal saying so. Series without an objective get no forecast.
pub fn forecast_trends(
    trends: &[TrendSeries],
    objectives: &[TrendObjective],
) -> Vec<TrendForecast> {
    objectives
        .iter()
        .map(|o| {
            let forecast = match trends.iter().find(|t| t.metric == o.metric) {
                Some(series) => forecast_crossing(series, o.value, o.higher_is_worse),
                None => Forecast::Refused {
                    metric: o.metric.clone(),
                    reason: "the run history holds no values of it".to_owned(),
                },
            };
            TrendForecast {
                objective_key: o.key.clone(),
                objective_value: o.value,
                forecast,
            }
        })
        .collect()
}

/// Forecasts when `series` crosses `objective`, an upper bound when `higher_is_worse`
/// (latency) and a lower bound otherwise (throughput, success rate), from a least-squares
/// line over its runs (oldest first). Refuses with a reason when the history is shorter
/// than [`MIN_FORECAST_RUNS`], when the slope is not distinguishable from flat (|t| < 2),
/// or when the series moves away from the objective.
pub fn forecast_crossing(series: &TrendSeries, objective: f64, higher_is_worse: bool) -> Forecast {
    let metric = series.metric.clone();
    let refuse = |reason: String| Forecast::Refused {
        metric: metric.clone(),
        reason,
    };
    let ys: Vec<f64> = series.points.iter().map(|p| p.2).collect();
    let n = ys.len();
    if n < MIN_FORECAST_RUNS {
        return refuse(format!(
            "history too short: {n} runs, a forecast needs {MIN_FORECAST_RUNS}"
        ));
    }
    if !ys.iter().all(|y| y.is_finite()) || !objective.is_finite() {
        return refuse("the series or the objective is not a finite number".to_owned());
    }
    // Work on "badness": higher is always worse, the objective an upper bound.
    let sign = if higher_is_worse { 1.0 } else { -1.0 };
    let ys: Vec<f64> = ys.iter().map(|y| sign * y).collect();
    let bound = sign * objective;
    let nf = n as f64;
    let xbar = (nf - 1.0) / 2.0;
    let ybar = ys.iter().sum::<f64>() / nf;
    let sxx: f64 = (0..n).map(|i| (i as f64 - xbar).powi(2)).sum();
    let sxy: f64 = ys
        .iter()
        .enumerate()
        .map(|(i, y)| (i as f64 - xbar) * (y - ybar))
        .sum();
    let slope = sxy / sxx;
    let intercept = ybar - slope * xbar;
    let ssr: f64 = ys
        .iter()
        .enumerate()
        .map(|(i, y)| (y - intercept - slope * i as f64).powi(2))
        .sum();
    let se = (ssr / (nf - 2.0) / sxx).sqrt();
    let now = intercept + slope * (nf - 1.0);
    let shown = |v: f64| sign * v;
    if now >= bound {
        return Forecast::Crossing {
            metric: metric.clone(),
            objective,
            runs: 0.0,
            runs_low: 0.0,
            runs_high: Some(0.0),
            message: format!(
                "{metric} is already past its objective {objective} (trend value {:.3})",
                shown(now)
            ),
        };
    }
    let t_stat = if se > 0.0 {
        slope / se
    } else if slope == 0.0 {
        // A constant series: flat, not "moving away".
        0.0
    } else {
        f64::INFINITY * slope.signum()
    };
    if t_stat.abs() < 2.0 {
        return refuse(format!(
            "{metric} is flat: its slope ({:.4} per run) is within noise (|t| = {:.1} < 2)",
            shown(slope),
            t_stat.abs()
        ));
    }
    if slope <= 0.0 {
        return refuse(format!(
            "{metric} is not moving towards its objective (slope {:.4} per run)",
            shown(slope)
        ));
    }
    let t = StudentsT::new(0.0, 1.0, nf - 2.0)
        .map(|d| d.inverse_cdf(0.975))
        .unwrap_or(1.96);
    let gap = bound - now;
    let runs = gap / slope;
    let steep = slope + t * se;
    let shallow = slope - t * se;
    let runs_low = gap / steep;
    let runs_high = (shallow > 0.0).then(|| gap / shallow);
    let message = match runs_high {
        Some(h) => format!(
            "at the current slope, {metric} passes {objective} in about {:.0} runs ({:.0}–{:.0})",
            runs.round(),
            runs_low.floor(),
            h.ceil()
        ),
        None => format!(
            "at the current slope, {metric} passes {objective} in about {:.0} runs (at least {:.0}; a flatter slope is plausible, so maybe never)",
            runs.round(),
            runs_low.floor()
        ),
    };
    Forecast::Crossing {
        metric,
        objective,
        runs,
        runs_low,
        runs_high,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perf_core::record::usl;
    use perf_core::SplitMix64;

    fn synthetic(lambda: f64, sigma: f64, kappa: f64, noise: f64, seed: u64) -> Vec<UslPoint> {
        let mut rng = SplitMix64::new(seed);
        [1.0, 2.0, 4.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0]
            .into_iter()
            .map(|n| UslPoint {
                concurrency: n,
                throughput: usl(lambda, sigma, kappa, n) * (1.0 + noise * rng.normal()),
            })
            .collect()
    }

    #[test]
    fn exact_data_gives_back_the_coefficients() {
        let fit = fit_usl(&synthetic(10.0, 0.05, 0.002, 0.0, 1)).expect("fits");
        assert!((fit.lambda.value - 10.0).abs() < 1e-6, "{fit:?}");
        assert!((fit.sigma.value - 0.05).abs() < 1e-6, "{fit:?}");
        assert!((fit.kappa.value - 0.002).abs() < 1e-7, "{fit:?}");
        let nstar = ((1.0 - 0.05f64) / 0.002).sqrt();
        let peak = fit.peak_concurrency.expect("κ > 0 has a peak");
        assert!((peak - nstar).abs() < 1e-3, "{peak} vs {nstar}");
        let h = fit.holdout.expect("ten points give a held-out check");
        assert_eq!(h.concurrency, 64.0);
        assert!(h.relative_error < 1e-6, "{h:?}");
        assert!(fit.r_squared > 0.999_999);
    }

    #[test]
    fn noisy_data_gives_intervals_that_cover_the_truth() {
        // 2% noise; over twenty seeds the 95% intervals should cover the truth nearly
        // always (not exactly always: they are 95% intervals).
        let mut covered = [0; 3];
        for seed in 0..20 {
            let fit = fit_usl(&synthetic(10.0, 0.05, 0.002, 0.02, seed)).expect("fits");
            covered[0] += u32::from(fit.lambda.covers(10.0));
            covered[1] += u32::from(fit.sigma.covers(0.05));
            covered[2] += u32::from(fit.kappa.covers(0.002));
            assert!(
                fit.sigma.std_error > 0.0 && fit.sigma.std_error < 0.05,
                "{fit:?}"
            );
            let h = fit.holdout.expect("held out");
            assert!(h.relative_error < 0.1, "held-out prediction off: {h:?}");
        }
        for c in covered {
            assert!(
                c >= 16,
                "intervals covered the truth {c} times in 20: {covered:?}"
            );
        }
    }

    #[test]
    fn a_plateau_without_coherency_has_no_peak() {
        let fit = fit_usl(&synthetic(5.0, 0.1, 0.0, 0.0, 1)).expect("fits");
        assert_eq!(fit.peak_concurrency, None);
        let asymptote = fit.peak_throughput.expect("λ/σ");
        assert!((asymptote - 50.0).abs() < 0.01, "{asymptote}");
    }

    #[test]
    fn too_few_or_bad_points_are_refused() {
        let pts = synthetic(10.0, 0.05, 0.002, 0.0, 1);
        let e = fit_usl(&pts[..3]).unwrap_err();
        assert!(e.contains("4 concurrency levels"), "{e}");
        let mut bad = pts.clone();
        bad[2].throughput = 0.0;
        assert!(fit_usl(&bad).unwrap_err().contains("positive"));
        let same: Vec<UslPoint> = (0..5)
            .map(|_| UslPoint {
                concurrency: 4.0,
                throughput: 3.0,
            })
            .collect();
        assert!(fit_usl(&same).unwrap_err().contains("distinct"));
    }

    fn series(values: &[f64]) -> TrendSeries {
        TrendSeries {
            metric: "p95_ms".to_owned(),
            points: values
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("r{i}"), String::new(), *v))
                .collect(),
            change_point: None,
            slope_per_run: 0.0,
        }
    }

    #[test]
    fn a_steady_climb_is_forecast_with_an_interval() {
        // p95 grows 100 ms per run with small noise, now about 1400 ms: 2000 ms is ~6
        // runs away.
        let noise = [5.0, -4.0, 3.0, -6.0, 2.0, 4.0, -3.0, 1.0];
        let values: Vec<f64> = (0..8)
            .map(|i| 700.0 + 100.0 * i as f64 + noise[i])
            .collect();
        match forecast_crossing(&series(&values), 2000.0, true) {
            Forecast::Crossing {
                runs,
                runs_low,
                runs_high,
                message,
                ..
            } => {
                assert!((runs - 6.0).abs() < 0.5, "{runs}");
                assert!(runs_low <= runs && runs_high.is_some_and(|h| h >= runs));
                assert!(message.contains("in about 6 runs"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // A falling throughput against its floor is the same question upside down.
        let tput: Vec<f64> = values.iter().map(|v| 3000.0 - v).collect();
        assert!(matches!(
            forecast_crossing(&series(&tput), 1000.0, false),
            Forecast::Crossing { runs, .. } if (runs - 6.0).abs() < 0.5
        ));
    }

    #[test]
    fn short_flat_or_improving_histories_are_refused() {
        let reason = |values: &[f64]| match forecast_crossing(&series(values), 2000.0, true) {
            Forecast::Refused { reason, .. } => reason,
            other => panic!("{other:?}"),
        };
        assert!(reason(&[100.0, 200.0, 300.0]).contains("too short"));
        assert!(reason(&[500.0, 520.0, 490.0, 510.0, 495.0, 505.0]).contains("flat"));
        assert!(reason(&[900.0, 800.0, 700.0, 600.0, 500.0]).contains("not moving towards"));
        // Already past the objective: a crossing in 0 runs, not a refusal.
        assert!(matches!(
            forecast_crossing(&series(&[2100.0, 2200.0, 2300.0, 2400.0, 2500.0]), 2000.0, true),
            Forecast::Crossing { runs, .. } if runs == 0.0
        ));
    }

    #[test]
    fn the_slots_model_recovers_a_ceiling_and_predicts_past_it() {
        let pts: Vec<UslPoint> = [1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 16.0]
            .into_iter()
            .map(|n: f64| UslPoint {
                concurrency: n,
                throughput: (0.5 * n).min(2.0),
            })
            .collect();
        let fit = fit_slots(&pts).expect("a fit");
        assert!((fit.lambda.value - 0.5).abs() < 1e-12, "{fit:?}");
        assert!((fit.ceiling.value - 2.0).abs() < 1e-12, "{fit:?}");
        assert!((fit.slots - 4.0).abs() < 1e-9, "{fit:?}");
        // 6, 8 and 16 lie past the knee: the data show the four slots.
        assert_eq!(fit.plateau_points, 3);
        assert!(fit.shows_slots());
        // A bot without a slot limit: throughput still rises at the last level (a little
        // below the line there, as a busy harness makes it). Whatever knee the model puts
        // there, the data do not show it.
        let unlimited: Vec<UslPoint> = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
            .into_iter()
            .map(|n: f64| UslPoint {
                concurrency: n,
                throughput: if n < 64.0 { 10.0 * n } else { 10.0 * n * 0.97 },
            })
            .collect();
        if let Ok(f) = fit_slots(&unlimited) {
            assert!(!f.shows_slots(), "{f:?}");
        }
        let h = fit.holdout.expect("seven points give a held-out check");
        assert!(h.relative_error < 1e-12, "{h:?}");
        // The USL on the same points rounds the corner off: it cannot hold out as well.
        let usl = fit_usl(&pts).expect("a USL fit");
        assert!(usl.holdout.expect("held out").relative_error > 1e-3);
        // Every level on the ceiling: no rise, no slots to name.
        let flat: Vec<UslPoint> = [4.0, 8.0, 16.0]
            .into_iter()
            .map(|n| UslPoint {
                concurrency: n,
                throughput: 2.0,
            })
            .collect();
        assert!(fit_slots(&flat).unwrap_err().contains("no rise"));
        assert!(fit_slots(&pts[..2]).is_err());
    }

    #[test]
    fn a_constant_series_is_flat_and_every_objective_gets_an_answer() {
        let constant = forecast_crossing(&series(&[1.0; 6]), 0.9, false);
        assert!(
            matches!(&constant, Forecast::Refused { reason, .. } if reason.contains("flat")),
            "{constant:?}"
        );
        let climbing: Vec<f64> = (0..8).map(|i| 700.0 + 100.0 * i as f64).collect();
        let objectives = [
            TrendObjective {
                metric: "p95_ms".into(),
                key: "slos.latency_p95_ms".into(),
                value: 2000.0,
                higher_is_worse: true,
            },
            TrendObjective {
                metric: "ttft_p95".into(),
                key: "slos.ttft_p95_ms".into(),
                value: 800.0,
                higher_is_worse: true,
            },
        ];
        let f = forecast_trends(&[series(&climbing)], &objectives);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].objective_key, "slos.latency_p95_ms");
        assert!(
            matches!(&f[0].forecast, Forecast::Crossing { runs, .. } if (runs - 6.0).abs() < 1e-9),
            "{f:?}"
        );
        assert!(
            f[0].sentence().contains("passes 2000 in about 6 runs"),
            "{}",
            f[0].sentence()
        );
        assert!(
            f[1].sentence()
                .contains("ttft_p95: no forecast against slos.ttft_p95_ms 800")
                && f[1].sentence().contains("holds no values"),
            "{}",
            f[1].sentence()
        );
        let json = serde_json::to_value(&f[0]).unwrap();
        assert_eq!(json["kind"], "crossing");
        assert_eq!(json["objective_key"], "slos.latency_p95_ms");
        let back: TrendForecast = serde_json::from_value(json).unwrap();
        assert_eq!(back, f[0]);
    }
}
