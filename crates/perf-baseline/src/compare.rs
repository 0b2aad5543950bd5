use std::collections::BTreeMap;

use perf_core::record::{Comparison, MetricVerdict, RunResult, Verdict};
use perf_core::LatencyHistogram;

use crate::stats::{self, Weighted};
use crate::{
    Baseline, BaselineError, BaselineGroup, CompareOptions, EnvironmentFingerprint, ReadingStats,
    Thresholds,
};

/// Fewer monitor readings than this on either side and a resource metric is not tested.
const MIN_READINGS: u64 = 5;
/// Fewer samples beyond a percentile than this and the percentile is not tested.
const MIN_TAIL_SAMPLES: f64 = 5.0;
/// Bucket resolution of the histograms (3 significant digits), as a log-scale floor for
/// standard errors.
const BUCKET_RESOLUTION: f64 = 1e-3;

/// Compares `run` with `baseline`: one verdict per metric and key, the environment
/// differences, and the overall verdict.
///
/// Latency verdicts use a weighted Mann–Whitney test and the Hodges–Lehmann shift on the
/// histograms (stratified by agent for the `overall` key), the mean's ratio, and the
/// P95/P99 ratios; when the baseline streamed, time to first token (`ttft_*`),
/// inter-token latency (`itl_*`) and time per output token (`tpot_*`) are judged the same
/// way; success rate uses Fisher's exact test; memory and CPU use the monitor
/// readings. Every verdict holds its change against its threshold from `thresholds`; the
/// rule is described in `docs/regression-detection.md`.
///
/// `overall` is a regression when any verdict is one; otherwise inconclusive when any
/// *primary* verdict (the `overall` key's latency and TTFT medians, success rate, memory
/// and CPU) is;
/// otherwise pass. Per-key and tail verdicts are screening verdicts (their reason starts
/// with `screening:`): they can fail a run but, being under-powered at CI budgets, they do
/// not make it inconclusive.
pub fn compare(
    baseline: &Baseline,
    run: &RunResult,
    environment: &EnvironmentFingerprint,
    thresholds: &Thresholds,
    options: &CompareOptions,
) -> Result<Comparison, BaselineError> {
    thresholds.validate()?;
    options.validate()?;
    let current = Baseline::from_run(&baseline.name, run, environment.clone());
    Ok(compare_baselines(baseline, &current, thresholds, options))
}

/// Compares two baselines (`current` made from the run being judged); `compare` without
/// the validation. Used directly for `baseline show --against`-like tools and tests.
pub fn compare_baselines(
    baseline: &Baseline,
    current: &Baseline,
    thresholds: &Thresholds,
    options: &CompareOptions,
) -> Comparison {
    let mut pending = Vec::new();
    overall_metrics(baseline, current, thresholds, options, &mut pending);
    let families: [Family<'_>; 3] = [
        (
            "agent",
            options.agents,
            &baseline.per_agent,
            &current.per_agent,
        ),
        (
            "category",
            options.categories,
            &baseline.per_category,
            &current.per_category,
        ),
        (
            "scenario",
            options.scenarios,
            &baseline.per_scenario,
            &current.per_scenario,
        ),
    ];
    for (prefix, enabled, base, cur) in families {
        if !enabled {
            continue;
        }
        for (name, bg) in base {
            let key = format!("{prefix}:{name}");
            sub_key_metrics(&key, bg, cur.get(name), thresholds, options, &mut pending);
        }
    }
    // Holm over the screening family keeps its family-wise false-alarm rate at alpha.
    let screening: Vec<usize> = pending
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.primary && p.stat.as_ref().is_ok_and(|s| s.p.is_some()))
        .map(|(i, _)| i)
        .collect();
    let raw: Vec<f64> = screening
        .iter()
        .filter_map(|&i| pending[i].stat.as_ref().ok().and_then(|s| s.p))
        .collect();
    for (&i, adj) in screening.iter().zip(stats::holm(&raw)) {
        if let Ok(s) = pending[i].stat.as_mut() {
            s.p = Some(adj);
        }
    }
    let verdicts: Vec<MetricVerdict> = pending.iter().map(|p| p.decide(options)).collect();
    let overall = if verdicts.iter().any(|v| v.verdict == Verdict::Regression) {
        Verdict::Regression
    } else if verdicts
        .iter()
        .zip(&pending)
        .any(|(v, p)| p.primary && v.verdict == Verdict::Inconclusive)
    {
        Verdict::Inconclusive
    } else {
        Verdict::Pass
    };
    let mut environment_differences = baseline.environment.differences(&current.environment);
    if baseline.config_digest != current.config_digest {
        environment_differences.push(format!(
            "config: baseline digest {}, this run {} (different settings)",
            baseline.config_digest, current.config_digest
        ));
    }
    Comparison {
        baseline: baseline.name.clone(),
        baseline_created_at: baseline.created_at.clone(),
        environment_differences,
        verdicts,
        overall,
    }
}

/// A group family: prefix, enabled, baseline groups, current groups.
type Family<'a> = (
    &'a str,
    bool,
    &'a BTreeMap<String, BaselineGroup>,
    &'a BTreeMap<String, BaselineGroup>,
);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Scale {
    /// Relative metrics, tested as log ratios.
    Log,
    /// Success rate, tested as a difference in points.
    Points,
}

/// An estimated change in "worse is positive" units: a log ratio or a drop in points.
#[derive(Debug, Clone, Copy)]
struct Stat {
    u: f64,
    /// Standard error, run noise included.
    se: Option<f64>,
    /// Two-sided p-value (Holm-adjusted for screening verdicts).
    p: Option<f64>,
    interval: Option<(f64, f64)>,
}

#[derive(Debug)]
struct Pending {
    key: String,
    metric: &'static str,
    baseline: f64,
    current: f64,
    threshold: f64,
    scale: Scale,
    primary: bool,
    stat: Result<Stat, String>,
    detail: String,
}

impl Pending {
    fn to_reported(&self, u: f64) -> f64 {
        match self.scale {
            Scale::Log => u.exp() - 1.0,
            Scale::Points => -u,
        }
    }

    fn fmt_change(&self, x: f64) -> String {
        match self.scale {
            Scale::Log => format!("{:+.1}%", 100.0 * x),
            Scale::Points => format!("{:+.1} pts", 100.0 * x),
        }
    }

    fn fmt_threshold(&self) -> String {
        match self.scale {
            Scale::Log => format!("{:.0}%", 100.0 * self.threshold),
            Scale::Points => format!("{:.1} pts", 100.0 * self.threshold),
        }
    }

    fn decide(&self, o: &CompareOptions) -> MetricVerdict {
        let (thr_u, floor_u) = match self.scale {
            Scale::Log => (
                self.threshold.ln_1p(),
                (o.effect_floor * self.threshold).ln_1p(),
            ),
            Scale::Points => (self.threshold, o.effect_floor * self.threshold),
        };
        let prefix = if self.primary { "" } else { "screening: " };
        let mut v = MetricVerdict {
            key: self.key.clone(),
            metric: self.metric.to_owned(),
            baseline: self.baseline,
            current: self.current,
            relative_change: 0.0,
            interval: None,
            p_value: None,
            min_detectable_change: None,
            threshold: self.threshold,
            verdict: Verdict::Inconclusive,
            reason: String::new(),
            primary: self.primary,
        };
        let s = match &self.stat {
            Ok(s) => *s,
            Err(why) => {
                v.reason = format!("{prefix}cannot tell: {why}");
                return v;
            }
        };
        v.relative_change = self.to_reported(s.u);
        v.p_value = s.p;
        v.interval = s.interval.map(|(lo, hi)| {
            let (a, b) = (self.to_reported(lo), self.to_reported(hi));
            (a.min(b), a.max(b))
        });
        let z_a = stats::normal_quantile(1.0 - o.alpha / 2.0);
        let z_pow = stats::normal_quantile(o.power);
        let mdc_u = s.se.map(|se| floor_u.max(z_a * se) + z_pow * se);
        v.min_detectable_change = mdc_u.map(|m| match self.scale {
            Scale::Log => m.exp_m1(),
            Scale::Points => m,
        });
        let change = self.fmt_change(v.relative_change);
        let interval = v
            .interval
            .map(|(lo, hi)| format!(" (CI {}..{})", self.fmt_change(lo), self.fmt_change(hi)))
            .unwrap_or_default();
        let p_text = s.p.map(|p| format!(", p={p:.2e}")).unwrap_or_default();
        let thr = self.fmt_threshold();
        let significant = s.p.is_some_and(|p| p < o.alpha);
        let hi_u = s.interval.map_or(f64::INFINITY, |(_, hi)| hi);
        let (verdict, why) = if significant && s.u >= floor_u {
            (
                Verdict::Regression,
                format!(
                    "worse beyond {:.0}% of the {thr} threshold and significant",
                    100.0 * o.effect_floor
                ),
            )
        } else if significant && s.u <= -floor_u {
            (
                Verdict::Improvement,
                "better beyond the threshold and significant".to_owned(),
            )
        } else if s.p.is_none() && s.u >= thr_u {
            (
                Verdict::Inconclusive,
                format!("worse by more than {thr} but not testable{}", self.detail),
            )
        } else if s.p.is_none() {
            (
                Verdict::Pass,
                format!("within {thr}; untested{}", self.detail),
            )
        } else if mdc_u.is_none_or(|m| m > thr_u) {
            let m = v
                .min_detectable_change
                .map_or("unknown".to_owned(), |m| self.fmt_change(m));
            (
                Verdict::Inconclusive,
                format!(
                    "too few samples to detect a {thr} change (smallest detectable {m}){}",
                    self.detail
                ),
            )
        } else if s.u >= floor_u {
            (
                Verdict::Inconclusive,
                format!("worse, near the {thr} threshold, but not significant"),
            )
        } else if significant && s.u > 0.0 && hi_u >= thr_u {
            (
                Verdict::Inconclusive,
                format!("significantly worse and the interval reaches the {thr} threshold"),
            )
        } else {
            let m = v.min_detectable_change.map_or(String::new(), |m| {
                format!(" (could detect {})", self.fmt_change(m))
            });
            (Verdict::Pass, format!("no change of {thr} or more{m}"))
        };
        v.verdict = verdict;
        v.reason = format!("{prefix}{change}{interval}{p_text}: {why}");
        v
    }
}

fn overall_metrics(
    base: &Baseline,
    cur: &Baseline,
    t: &Thresholds,
    o: &CompareOptions,
    out: &mut Vec<Pending>,
) {
    let key = "overall";
    let (a, b) = (&base.overall, &cur.overall);
    let (strata, use_strata) = agent_strata(base, cur, |g| &g.latency);
    out.push(Pending {
        key: key.into(),
        metric: "latency_median",
        baseline: a.summary.latency.p50_ms,
        current: b.summary.latency.p50_ms,
        threshold: t.for_metric(key, "latency_median"),
        scale: Scale::Log,
        primary: true,
        stat: if use_strata {
            location_stratified(&strata, o)
        } else {
            location(&a.latency, &b.latency, o)
        },
        detail: String::new(),
    });
    let a_strata: Vec<&LatencyHistogram> = base.per_agent.values().map(|g| &g.latency).collect();
    let b_strata: Vec<&LatencyHistogram> = cur.per_agent.values().map(|g| &g.latency).collect();
    out.push(Pending {
        key: key.into(),
        metric: "latency_mean",
        baseline: a.summary.latency.mean_ms,
        current: b.summary.latency.mean_ms,
        threshold: t.for_metric(key, "latency_mean"),
        scale: Scale::Log,
        // The mean follows the tail; the rank test above is the efficient evidence of a
        // slowdown, so the mean screens (see docs/regression-detection.md).
        primary: false,
        stat: mean_ratio(
            &a.latency,
            &b.latency,
            use_strata.then_some((&a_strata[..], &b_strata[..])),
            o,
        ),
        detail: String::new(),
    });
    out.push(success_rate(key, a, b, t, o, true));
    for (metric, q) in [("latency_p95", 0.95), ("latency_p99", 0.99)] {
        out.push(Pending {
            key: key.into(),
            metric,
            baseline: a.latency.percentile_micros(q * 100.0) as f64 / 1000.0,
            current: b.latency.percentile_micros(q * 100.0) as f64 / 1000.0,
            threshold: t.for_metric(key, metric),
            scale: Scale::Log,
            primary: false,
            stat: quantile_ratio(&a.latency, &b.latency, q, o),
            detail: String::new(),
        });
    }
    streaming_metrics(base, cur, t, o, out);
    for (metric, pick, threshold) in [
        (
            "max_memory",
            (|r: &crate::ResourceStats| r.memory_mb)
                as fn(&crate::ResourceStats) -> Option<ReadingStats>,
            t.memory,
        ),
        ("max_cpu", |r: &crate::ResourceStats| r.cpu_percent, t.cpu),
    ] {
        // Nothing to compare when this run was not monitored (monitoring disabled).
        let (Some(ra), Some(rb)) = (pick(&base.resources), pick(&cur.resources)) else {
            continue;
        };
        let detail = if base.resources.source != cur.resources.source {
            format!(
                " ({} figures against {} figures)",
                cur.resources.source, base.resources.source
            )
        } else {
            String::new()
        };
        out.push(Pending {
            key: key.into(),
            metric,
            baseline: ra.max,
            current: rb.max,
            threshold,
            scale: Scale::Log,
            primary: true,
            stat: resource(&ra, &rb, o),
            detail,
        });
    }
}

/// The histogram of one figure of a group.
type Pick = fn(&BaselineGroup) -> &LatencyHistogram;

/// The per-agent strata of one figure (agents in both runs) and whether to use them: at
/// least two agents that hold 90% of the figure's samples on both sides.
fn agent_strata<'a>(
    base: &'a Baseline,
    cur: &'a Baseline,
    pick: Pick,
) -> (Vec<(&'a LatencyHistogram, &'a LatencyHistogram)>, bool) {
    let strata: Vec<(&LatencyHistogram, &LatencyHistogram)> = base
        .per_agent
        .iter()
        .filter_map(|(k, g)| cur.per_agent.get(k).map(|c| (pick(g), pick(c))))
        .collect();
    let covered = |side: fn(&(&LatencyHistogram, &LatencyHistogram)) -> u64, total: u64| {
        strata.iter().map(side).sum::<u64>() as f64 >= 0.9 * total as f64
    };
    let use_strata = strata.len() >= 2
        && covered(|s| s.0.count(), pick(&base.overall).count())
        && covered(|s| s.1.count(), pick(&cur.overall).count());
    (strata, use_strata)
}

/// A streaming figure compared like latency: its median (rank test and Hodges–Lehmann
/// shift, stratified by agent), optionally its mean, and tail percentiles.
struct StreamFigure {
    pick: Pick,
    /// What it is, for reasons.
    what: &'static str,
    median: &'static str,
    mean: Option<&'static str>,
    tails: &'static [(&'static str, f64)],
    /// Whether the median is a primary verdict (it can make the comparison inconclusive).
    primary: bool,
}

const STREAM_FIGURES: [StreamFigure; 3] = [
    StreamFigure {
        pick: |g| &g.ttft,
        what: "time to first token",
        median: "ttft_median",
        mean: Some("ttft_mean"),
        tails: &[("ttft_p95", 0.95), ("ttft_p99", 0.99)],
        // What a user of a streaming bot waits for: as primary as the latency median.
        primary: true,
    },
    StreamFigure {
        pick: |g| &g.itl,
        what: "inter-token latency",
        median: "itl_median",
        mean: None,
        tails: &[("itl_p95", 0.95)],
        primary: false,
    },
    StreamFigure {
        pick: |g| &g.tpot,
        what: "time per output token",
        median: "tpot_median",
        mean: None,
        tails: &[("tpot_p95", 0.95)],
        primary: false,
    },
];

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Verdicts of the `overall` key's streaming figures, for each figure the baseline has (a
/// baseline that streamed nothing, or predates streaming figures, adds none). A figure
/// the baseline has and this run lacks is one verdict that cannot tell.
fn streaming_metrics(
    base: &Baseline,
    cur: &Baseline,
    t: &Thresholds,
    o: &CompareOptions,
    out: &mut Vec<Pending>,
) {
    let key = "overall";
    for f in &STREAM_FIGURES {
        let (a, b) = ((f.pick)(&base.overall), (f.pick)(&cur.overall));
        if a.is_empty() {
            continue;
        }
        if b.is_empty() {
            out.push(Pending {
                key: key.into(),
                metric: f.median,
                baseline: ms(a.percentile_micros(50.0)),
                current: 0.0,
                threshold: t.for_metric(key, f.median),
                scale: Scale::Log,
                primary: f.primary,
                stat: Err(format!(
                    "the baseline has a {} but this run measured none (nothing streamed)",
                    f.what
                )),
                detail: String::new(),
            });
            continue;
        }
        let (strata, use_strata) = agent_strata(base, cur, f.pick);
        out.push(Pending {
            key: key.into(),
            metric: f.median,
            baseline: ms(a.percentile_micros(50.0)),
            current: ms(b.percentile_micros(50.0)),
            threshold: t.for_metric(key, f.median),
            scale: Scale::Log,
            primary: f.primary,
            stat: if use_strata {
                location_stratified(&strata, o)
            } else {
                location(a, b, o)
            },
            detail: sizes(a.count(), b.count()),
        });
        if let Some(metric) = f.mean {
            let a_strata: Vec<&LatencyHistogram> = base.per_agent.values().map(f.pick).collect();
            let b_strata: Vec<&LatencyHistogram> = cur.per_agent.values().map(f.pick).collect();
            out.push(Pending {
                key: key.into(),
                metric,
                baseline: a.mean_micros() / 1000.0,
                current: b.mean_micros() / 1000.0,
                threshold: t.for_metric(key, metric),
                scale: Scale::Log,
                primary: false,
                stat: mean_ratio(
                    a,
                    b,
                    use_strata.then_some((&a_strata[..], &b_strata[..])),
                    o,
                ),
                detail: String::new(),
            });
        }
        for &(metric, q) in f.tails {
            out.push(Pending {
                key: key.into(),
                metric,
                baseline: ms(a.percentile_micros(q * 100.0)),
                current: ms(b.percentile_micros(q * 100.0)),
                threshold: t.for_metric(key, metric),
                scale: Scale::Log,
                primary: false,
                stat: quantile_ratio(a, b, q, o),
                detail: String::new(),
            });
        }
    }
}

fn sub_key_metrics(
    key: &str,
    a: &BaselineGroup,
    b: Option<&BaselineGroup>,
    t: &Thresholds,
    o: &CompareOptions,
    out: &mut Vec<Pending>,
) {
    let Some(b) = b else {
        out.push(Pending {
            key: key.into(),
            metric: "latency_median",
            baseline: a.summary.latency.p50_ms,
            current: 0.0,
            threshold: t.for_metric(key, "latency_median"),
            scale: Scale::Log,
            primary: false,
            stat: Err("no queries for this key in this run".into()),
            detail: String::new(),
        });
        return;
    };
    out.push(Pending {
        key: key.into(),
        metric: "latency_median",
        baseline: a.summary.latency.p50_ms,
        current: b.summary.latency.p50_ms,
        threshold: t.for_metric(key, "latency_median"),
        scale: Scale::Log,
        primary: false,
        stat: location(&a.latency, &b.latency, o),
        detail: sizes(a.latency.count(), b.latency.count()),
    });
    out.push(Pending {
        key: key.into(),
        metric: "latency_mean",
        baseline: a.summary.latency.mean_ms,
        current: b.summary.latency.mean_ms,
        threshold: t.for_metric(key, "latency_mean"),
        scale: Scale::Log,
        primary: false,
        stat: mean_ratio(&a.latency, &b.latency, None, o),
        detail: sizes(a.latency.count(), b.latency.count()),
    });
    out.push(success_rate(key, a, b, t, o, false));
    // Time to first token per key, when the baseline's key streamed.
    if !a.ttft.is_empty() {
        out.push(Pending {
            key: key.into(),
            metric: "ttft_median",
            baseline: ms(a.ttft.percentile_micros(50.0)),
            current: ms(b.ttft.percentile_micros(50.0)),
            threshold: t.for_metric(key, "ttft_median"),
            scale: Scale::Log,
            primary: false,
            stat: if b.ttft.is_empty() {
                Err("the baseline has a time to first token but this run measured none (nothing streamed)".into())
            } else {
                location(&a.ttft, &b.ttft, o)
            },
            detail: sizes(a.ttft.count(), b.ttft.count()),
        });
    }
}

fn sizes(n: u64, m: u64) -> String {
    format!(", n={n}/{m}")
}

fn success_rate(
    key: &str,
    a: &BaselineGroup,
    b: &BaselineGroup,
    t: &Thresholds,
    o: &CompareOptions,
    primary: bool,
) -> Pending {
    let (xa, na) = (a.summary.successes, a.summary.count);
    let (xb, nb) = (b.summary.successes, b.summary.count);
    let stat = if na == 0 || nb == 0 {
        Err("no queries on one side".to_owned())
    } else {
        let pa = xa as f64 / na as f64;
        let pb = xb as f64 / nb as f64;
        let z = stats::normal_quantile(1.0 - o.alpha / 2.0);
        let (lo, hi) = stats::newcombe_difference(xa, na, xb, nb, z);
        // Agresti-style pooled rate keeps the error honest at 100% success.
        let pooled = (xa + xb + 2) as f64 / (na + nb + 4) as f64;
        let se = (pooled * (1.0 - pooled) * (1.0 / na as f64 + 1.0 / nb as f64)).sqrt();
        Ok(Stat {
            u: pa - pb,
            se: Some(se),
            p: Some(stats::fisher_exact(xa, na, xb, nb)),
            interval: Some((-hi, -lo)),
        })
    };
    Pending {
        key: key.into(),
        metric: "success_rate",
        baseline: a.summary.success_rate,
        current: b.summary.success_rate,
        threshold: t.for_metric(key, "success_rate"),
        scale: Scale::Points,
        primary,
        stat,
        detail: sizes(na, nb),
    }
}

/// One stratum's rank statistics.
struct Part {
    shift: f64,
    se: f64,
    interval: Option<(f64, f64)>,
    z: f64,
    u_dev: f64,
    var_u: f64,
    n: f64,
}

fn part(a: &LatencyHistogram, b: &LatencyHistogram, alpha: f64) -> Option<Part> {
    let (wa, wb) = (Weighted::log_latency(a), Weighted::log_latency(b));
    if wa.total() < 2.0 || wb.total() < 2.0 {
        return None;
    }
    let mw = stats::mann_whitney(&wa, &wb)?;
    let hl = stats::hodges_lehmann(&wa, &wb, alpha)?;
    let z = stats::normal_quantile(1.0 - alpha / 2.0);
    let se = match hl.interval {
        Some((lo, hi)) if hi > lo => (hi - lo) / (2.0 * z),
        _ => {
            // Normal theory for the Hodges–Lehmann shift: sd * sqrt(pi/3 * (1/n + 1/m)).
            let sd = pooled_log_sd(a, b);
            sd * (std::f64::consts::PI / 3.0 * (1.0 / wa.total() + 1.0 / wb.total())).sqrt()
        }
    }
    .max(BUCKET_RESOLUTION);
    Some(Part {
        shift: hl.shift,
        se,
        interval: hl.interval,
        z: mw.z,
        u_dev: mw.u - mw.mean,
        var_u: mw.variance,
        n: wa.total() + wb.total(),
    })
}

fn pooled_log_sd(a: &LatencyHistogram, b: &LatencyHistogram) -> f64 {
    let logs: Vec<(f64, u64)> = a
        .buckets()
        .into_iter()
        .chain(b.buckets())
        .map(|(v, c)| ((v.max(1) as f64).ln(), c))
        .collect();
    let n: u64 = logs.iter().map(|(_, c)| c).sum();
    if n < 2 {
        return 0.0;
    }
    let mean = logs.iter().map(|(v, c)| v * *c as f64).sum::<f64>() / n as f64;
    let ss = logs
        .iter()
        .map(|(v, c)| (v - mean).powi(2) * *c as f64)
        .sum::<f64>();
    (ss / (n as f64 - 1.0)).sqrt()
}

/// The p-value of a location shift `u` (standard error `se` within the runs, `se_tot` with
/// run noise) whose rank test gave `z`.
///
/// Run noise is added by scaling the rank statistic as if it were `u / se`, which it is
/// while the samples overlap. When they do not (every answer of one run slower than every
/// answer of the other, as with a bot whose answer times barely vary), a rank statistic
/// saturates at about `√(3n)` however large the shift, and the scaled value would call a
/// 48% shift with a noise-wide interval of ±11% "not significant". So the shift is also
/// tested against the total error directly, and the larger p-value of the two is kept: a
/// change must be significant within the runs (ranks, robust to outliers) and beyond the
/// noise between runs.
fn noisy_p(z: f64, u: f64, se: f64, se_tot: f64) -> f64 {
    if se_tot.is_nan() || se_tot <= 0.0 {
        return stats::two_sided_p(z);
    }
    if se > 0.0 && (z * se).abs() >= u.abs() {
        // Overlapping samples: the usual scaling, z ≈ u / se.
        stats::two_sided_p(z * se / se_tot)
    } else {
        // Both are valid p-values under the noise model, so their maximum is too.
        stats::two_sided_p(z).max(stats::two_sided_p(u / se_tot))
    }
}

fn with_noise(se: f64, o: &CompareOptions) -> f64 {
    (se * se + 2.0 * o.run_noise * o.run_noise).sqrt()
}

fn location(
    a: &LatencyHistogram,
    b: &LatencyHistogram,
    o: &CompareOptions,
) -> Result<Stat, String> {
    let p = part(a, b, o.alpha).ok_or_else(|| too_few(a, b))?;
    let se_tot = with_noise(p.se, o);
    let f = se_tot / p.se;
    let z_a = stats::normal_quantile(1.0 - o.alpha / 2.0);
    let interval = match p.interval {
        Some((lo, hi)) => (p.shift - (p.shift - lo) * f, p.shift + (hi - p.shift) * f),
        None => (p.shift - z_a * se_tot, p.shift + z_a * se_tot),
    };
    Ok(Stat {
        u: p.shift,
        se: Some(se_tot),
        p: Some(noisy_p(p.z, p.shift, p.se, se_tot)),
        interval: Some(interval),
    })
}

fn too_few(a: &LatencyHistogram, b: &LatencyHistogram) -> String {
    format!("too few latency samples (n={}/{})", a.count(), b.count())
}

/// Van Elteren's stratified rank test with an inverse-variance pooled shift: the agent mix
/// is held fixed, so the spread between agents' latencies does not count as noise.
fn location_stratified(
    strata: &[(&LatencyHistogram, &LatencyHistogram)],
    o: &CompareOptions,
) -> Result<Stat, String> {
    let parts: Vec<Part> = strata
        .iter()
        .filter_map(|(a, b)| part(a, b, o.alpha))
        .collect();
    if parts.is_empty() {
        return Err("too few latency samples in every agent".into());
    }
    let wsum: f64 = parts.iter().map(|p| 1.0 / (p.se * p.se)).sum();
    let u = parts.iter().map(|p| p.shift / (p.se * p.se)).sum::<f64>() / wsum;
    let se = (1.0 / wsum).sqrt();
    let num: f64 = parts.iter().map(|p| p.u_dev / (p.n + 1.0)).sum();
    let den: f64 = parts
        .iter()
        .map(|p| p.var_u / ((p.n + 1.0) * (p.n + 1.0)))
        .sum::<f64>()
        .sqrt();
    let z = if den > 0.0 { num / den } else { 0.0 };
    let se_tot = with_noise(se, o);
    let z_a = stats::normal_quantile(1.0 - o.alpha / 2.0);
    Ok(Stat {
        u,
        se: Some(se_tot),
        p: Some(noisy_p(z, u, se, se_tot)),
        interval: Some((u - z_a * se_tot, u + z_a * se_tot)),
    })
}

/// Log ratio of means, with the delta-method error (stratified when the agent strata are
/// given: the mean of a fixed mix varies only within agents).
fn mean_ratio(
    a: &LatencyHistogram,
    b: &LatencyHistogram,
    strata: Option<(&[&LatencyHistogram], &[&LatencyHistogram])>,
    o: &CompareOptions,
) -> Result<Stat, String> {
    if a.count() < 2 || b.count() < 2 {
        return Err(too_few(a, b));
    }
    let (ma, mb) = (a.mean_micros(), b.mean_micros());
    if ma <= 0.0 || mb <= 0.0 {
        return Err("zero mean latency".into());
    }
    let var_of_mean = |h: &LatencyHistogram, parts: Option<&[&LatencyHistogram]>| {
        let n = h.count() as f64;
        match parts {
            Some(ps) => {
                ps.iter()
                    .map(|p| p.count() as f64 * p.stdev_micros().powi(2))
                    .sum::<f64>()
                    / (n * n)
            }
            None => h.stdev_micros().powi(2) / n,
        }
    };
    let se = (var_of_mean(a, strata.map(|s| s.0)) / (ma * ma)
        + var_of_mean(b, strata.map(|s| s.1)) / (mb * mb))
        .sqrt()
        .max(BUCKET_RESOLUTION);
    let u = (mb / ma).ln();
    let se_tot = with_noise(se, o);
    let z_a = stats::normal_quantile(1.0 - o.alpha / 2.0);
    Ok(Stat {
        u,
        se: Some(se_tot),
        p: Some(stats::two_sided_p(u / se_tot)),
        interval: Some((u - z_a * se_tot, u + z_a * se_tot)),
    })
}

/// The log of a percentile and its standard error from the distribution-free
/// order-statistic interval.
fn log_quantile(h: &LatencyHistogram, q: f64, z: f64) -> Option<(f64, f64)> {
    let n = h.count() as f64;
    if n * (1.0 - q) < MIN_TAIL_SAMPLES {
        return None;
    }
    let half = z * (n * q * (1.0 - q)).sqrt();
    let pct = |rank: f64| 100.0 * (rank / n).clamp(0.0, 1.0);
    let lo = h.percentile_micros(pct(n * q - half)).max(1) as f64;
    let hi = h.percentile_micros(pct(n * q + half + 1.0)).max(1) as f64;
    let mid = h.percentile_micros(100.0 * q).max(1) as f64;
    Some((
        mid.ln(),
        ((hi.ln() - lo.ln()) / (2.0 * z)).max(BUCKET_RESOLUTION),
    ))
}

fn quantile_ratio(
    a: &LatencyHistogram,
    b: &LatencyHistogram,
    q: f64,
    o: &CompareOptions,
) -> Result<Stat, String> {
    let z_a = stats::normal_quantile(1.0 - o.alpha / 2.0);
    let (Some((la, sa)), Some((lb, sb))) = (log_quantile(a, q, z_a), log_quantile(b, q, z_a))
    else {
        return Err(format!(
            "fewer than {MIN_TAIL_SAMPLES} samples beyond P{} (n={}/{})",
            (q * 100.0).round(),
            a.count(),
            b.count()
        ));
    };
    let u = lb - la;
    let se_tot = with_noise((sa * sa + sb * sb).sqrt(), o);
    Ok(Stat {
        u,
        se: Some(se_tot),
        p: Some(stats::two_sided_p(u / se_tot)),
        interval: Some((u - z_a * se_tot, u + z_a * se_tot)),
    })
}

/// Peak change, tested with the readings' means (Welch, log scale) when both runs have
/// enough readings.
fn resource(a: &ReadingStats, b: &ReadingStats, o: &CompareOptions) -> Result<Stat, String> {
    if a.max <= 0.0 || b.max <= 0.0 {
        return Err("no resource figure on one side".into());
    }
    let u = (b.max / a.max).ln();
    if a.count < MIN_READINGS || b.count < MIN_READINGS || a.mean <= 0.0 || b.mean <= 0.0 {
        return Ok(Stat {
            u,
            se: None,
            p: None,
            interval: None,
        });
    }
    let rel_var = |r: &ReadingStats| (r.stdev / r.mean).powi(2) / r.count as f64;
    let se_tot = with_noise((rel_var(a) + rel_var(b)).sqrt().max(BUCKET_RESOLUTION), o);
    let z_a = stats::normal_quantile(1.0 - o.alpha / 2.0);
    let shift = (b.mean / a.mean).ln();
    Ok(Stat {
        u,
        se: Some(se_tot),
        p: Some(stats::two_sided_p(shift / se_tot)),
        interval: Some((u - z_a * se_tot, u + z_a * se_tot)),
    })
}
