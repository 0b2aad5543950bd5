//! The search itself, generic over "probe this rate": an exponential climb, then bisection
//! on the geometric mean, with a retry at twice the length when a probe is too close to
//! call. Pure apart from awaiting the probes, so it is tested on the paused clock with
//! synthetic targets.

use std::future::Future;

use perf_core::record::{CapacityAnswer, ProbeReport, ProbeVerdict, ServiceRate};

/// How the search moves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchSettings {
    /// The first rate probed, queries per second.
    pub start_rate: f64,
    /// Factor between climbing (and descending) probes.
    pub growth: f64,
    /// Stop when the lowest failing rate is within `1 + precision` of the highest passing.
    pub precision: f64,
    /// Most probes in all.
    pub max_probes: usize,
    /// Highest rate the climb tries.
    pub max_rate: f64,
    /// Descents below `start_rate` before "no rate meets the SLOs" (by `growth` each).
    pub max_descents: u32,
    /// The bot's service rate, when an overload probe measured it: the search then probes
    /// no higher than `(1 − precision)` of it, and when every objective holds there the
    /// capacity is the service rate (saturation is what limits it).
    pub ceiling: Option<ServiceRate>,
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            start_rate: 1.0,
            growth: 1.5,
            precision: 0.08,
            max_probes: 16,
            max_rate: 1e6,
            max_descents: 4,
            ceiling: None,
        }
    }
}

/// One probe to run: a rate, how much longer than usual (1, or 2 for a retry of a probe
/// too close to call) and what it is for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeSpec {
    /// Arrival rate, queries per second.
    pub rate: f64,
    /// Multiplies the probe's planned length.
    pub length_factor: f64,
    /// What the probe is for.
    pub mode: ProbeMode,
}

/// What a probe is for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProbeMode {
    /// Judged on every objective and on whether its latency keeps growing (saturation).
    Judge,
    /// Judged on the objectives only: the bot's service rate was measured and this rate
    /// is below it, so a queue that grows for a while is a Poisson burst, not saturation.
    BelowServiceRate,
    /// Arrivals above the service rate for `duration`, then cut: measures the service
    /// rate from the answers completed while the queue could not empty.
    Overload {
        /// How long arrivals are sent.
        duration: std::time::Duration,
    },
}

/// What running a probe gave.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeAttempt {
    /// It ran.
    Done(Box<ProbeReport>),
    /// It does not fit in what is left of the budget.
    OutOfBudget,
    /// The search was cancelled.
    Cancelled,
    /// The probe could not run at all (the message says why).
    Failed(String),
}

/// The search's result: the answer, why it stopped, and every probe.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOutcome {
    /// The answer.
    pub answer: CapacityAnswer,
    /// Why the search stopped.
    pub stop_reason: String,
    /// Every probe, in order.
    pub probes: Vec<ProbeReport>,
}

/// Why a search stopped with the service rate `c` as the capacity, every objective having
/// held at `confirmed`/s.
pub(super) fn saturation_reason(c: &ServiceRate, confirmed: f64) -> String {
    format!(
        "saturation limits the capacity: overloaded, the bot completed {:.3} answers/s ({} in {:.0} s; 95% interval {:.3}–{:.3}/s), and every objective held at {confirmed:.3}/s just below that",
        c.per_s, c.completions, c.window_s, c.low_per_s, c.high_per_s
    )
}

/// Runs the search with `probe`.
pub async fn search<F, Fut>(settings: SearchSettings, mut probe: F) -> SearchOutcome
where
    F: FnMut(ProbeSpec) -> Fut,
    Fut: Future<Output = ProbeAttempt>,
{
    let mut probes: Vec<ProbeReport> = Vec::new();
    let mut low: Option<f64> = None;
    let mut high: Option<f64> = None;
    // With a measured service rate, the highest rate worth probing: just below it.
    let confirm = settings
        .ceiling
        .map(|c| c.per_s * (1.0 - settings.precision));
    // Start there: the question left is whether every objective holds just below it.
    let mut rate = confirm.unwrap_or(settings.start_rate);
    let mut length_factor = 1.0;
    let mut descents = 0u32;
    let bracket = |low: Option<f64>, high: Option<f64>| CapacityAnswer::Indeterminate { low, high };
    loop {
        if probes.len() >= settings.max_probes {
            let answer = match (low, high) {
                (Some(l), h) if h.is_none() => CapacityAnswer::Found {
                    rate: l,
                    low: l,
                    high: None,
                },
                _ => bracket(low, high),
            };
            return SearchOutcome {
                answer,
                stop_reason: format!(
                    "the probe limit ({}) was reached before the bracket closed",
                    settings.max_probes
                ),
                probes,
            };
        }
        let mode = match confirm {
            Some(q) if rate <= q * (1.0 + 1e-9) => ProbeMode::BelowServiceRate,
            _ => ProbeMode::Judge,
        };
        let attempt = probe(ProbeSpec {
            rate,
            length_factor,
            mode,
        })
        .await;
        let report = match attempt {
            ProbeAttempt::Done(r) => *r,
            other => {
                let why = match other {
                    ProbeAttempt::OutOfBudget if probes.is_empty() => {
                        "the budget is too short for one probe; give a longer --max-time".to_owned()
                    }
                    ProbeAttempt::OutOfBudget => match (low, high) {
                        (None, Some(h)) => format!(
                            "the budget ran out before the next probe ({rate:.3}/s) could run; every rate tried failed, the lowest {h:.3}/s: give a longer --max-time to look lower"
                        ),
                        _ => format!(
                            "the budget ran out before the next probe ({rate:.3}/s) could run"
                        ),
                    },
                    ProbeAttempt::Cancelled => "the search was cancelled".to_owned(),
                    ProbeAttempt::Failed(m) => format!("a probe could not run: {m}"),
                    ProbeAttempt::Done(_) => unreachable!("handled above"),
                };
                let answer = match (probes.is_empty(), low, high) {
                    (true, _, _) => CapacityAnswer::NotMeasured,
                    // Every rate tried failed, and the search had gone down far enough
                    // that this is the answer, not a guess below them.
                    (false, None, Some(h)) if descents >= settings.max_descents.min(2) => {
                        CapacityAnswer::NoRateMeets { lowest_rate: h }
                    }
                    // Every rate tried failed, but too few were tried to say none does.
                    (false, None, Some(h)) => CapacityAnswer::Indeterminate {
                        low: None,
                        high: Some(h),
                    },
                    // A bracket: the capacity lies in it, with a wider interval than asked.
                    (false, Some(l), Some(h)) if h > l => CapacityAnswer::Found {
                        rate: l,
                        low: l,
                        high: Some(h),
                    },
                    (false, l, h) => bracket(l, h),
                };
                return SearchOutcome {
                    answer,
                    stop_reason: why,
                    probes,
                };
            }
        };
        let verdict = report.verdict;
        probes.push(report);
        match verdict {
            ProbeVerdict::Pass => {
                low = Some(low.map_or(rate, |l| l.max(rate)));
                length_factor = 1.0;
                if let (Some(c), Some(q)) = (settings.ceiling, confirm) {
                    if rate >= q * (1.0 - 1e-9) {
                        return SearchOutcome {
                            answer: c.as_capacity(),
                            stop_reason: saturation_reason(&c, rate),
                            probes,
                        };
                    }
                }
            }
            ProbeVerdict::Fail => {
                high = Some(high.map_or(rate, |h| h.min(rate)));
                length_factor = 1.0;
            }
            ProbeVerdict::Indeterminate => {
                if length_factor < 2.0 {
                    // Once more at the same rate with twice the queries: a tighter interval.
                    length_factor = 2.0;
                    continue;
                }
                return SearchOutcome {
                    answer: bracket(low, high),
                    stop_reason: format!(
                        "indeterminate: at {rate:.3}/s an objective's interval straddles its target even with twice the queries, so noise prevents a decision"
                    ),
                    probes,
                };
            }
        }
        match (low, high) {
            (_, None) => {
                rate *= settings.growth;
                if let Some(q) = confirm {
                    rate = rate.min(q);
                }
                if rate > settings.max_rate {
                    let l = low.unwrap_or(settings.start_rate);
                    return SearchOutcome {
                        answer: CapacityAnswer::Found {
                            rate: l,
                            low: l,
                            high: None,
                        },
                        stop_reason: format!(
                            "every rate up to {l:.3}/s met the SLOs; the capacity is at least that"
                        ),
                        probes,
                    };
                }
            }
            (None, Some(h)) => {
                if descents >= settings.max_descents {
                    return SearchOutcome {
                        answer: CapacityAnswer::NoRateMeets { lowest_rate: h },
                        stop_reason: format!(
                            "no rate meets the SLOs: the lowest rate tried ({h:.3}/s) failed"
                        ),
                        probes,
                    };
                }
                descents += 1;
                rate = h / settings.growth;
            }
            (Some(l), Some(h)) => {
                if h <= l * (1.0 + settings.precision) {
                    return SearchOutcome {
                        answer: CapacityAnswer::Found {
                            rate: l,
                            low: l,
                            high: Some(h),
                        },
                        stop_reason: format!(
                            "the bracket closed: {l:.3}/s passed and {h:.3}/s failed (within {:.0}%)",
                            settings.precision * 100.0
                        ),
                        probes,
                    };
                }
                if h <= l {
                    // A higher rate passed than one that failed: noise at the edge.
                    return SearchOutcome {
                        answer: bracket(Some(l), Some(h)),
                        stop_reason: format!(
                            "indeterminate: {l:.3}/s passed but the lower {h:.3}/s failed, so noise prevents a decision"
                        ),
                        probes,
                    };
                }
                rate = (l * h).sqrt();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perf_core::record::Limit;

    fn report(rate: f64, verdict: ProbeVerdict) -> ProbeAttempt {
        ProbeAttempt::Done(Box::new(ProbeReport {
            count: 100,
            throughput_per_s: rate,
            goodput_per_s: rate,
            mean_concurrency: 1.0,
            failed: if verdict == ProbeVerdict::Fail {
                vec![Limit::Saturated]
            } else {
                Vec::new()
            },
            ..ProbeReport::new(rate, 10.0, verdict)
        }))
    }

    /// Probes that pass up to `cap` and fail above it.
    fn edge(cap: f64) -> impl Fn(ProbeSpec) -> ProbeAttempt {
        move |s| {
            report(
                s.rate,
                if s.rate <= cap {
                    ProbeVerdict::Pass
                } else {
                    ProbeVerdict::Fail
                },
            )
        }
    }

    async fn run(settings: SearchSettings, f: impl Fn(ProbeSpec) -> ProbeAttempt) -> SearchOutcome {
        search(settings, |spec| {
            let a = f(spec);
            async move { a }
        })
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn an_abrupt_edge_is_bracketed_within_the_precision() {
        let cap = 13.7;
        let out = run(SearchSettings::default(), edge(cap)).await;
        match out.answer {
            CapacityAnswer::Found {
                rate,
                high: Some(h),
                ..
            } => {
                assert!(rate <= cap && cap < h, "{rate}..{h}");
                assert!(h / rate <= 1.08 + 1e-9, "{rate}..{h}");
            }
            other => panic!("{other:?}"),
        }
        // Seven climbing probes from 1/s by 1.5, then a few bisections.
        assert!(out.probes.len() <= 12, "{}", out.probes.len());
    }

    #[tokio::test(start_paused = true)]
    async fn a_target_that_never_meets_the_slos_gets_no_made_up_capacity() {
        let out = run(SearchSettings::default(), |s| {
            report(s.rate, ProbeVerdict::Fail)
        })
        .await;
        match out.answer {
            CapacityAnswer::NoRateMeets { lowest_rate } => {
                assert!(
                    (lowest_rate - 1.5f64.powi(-4)).abs() < 1e-12,
                    "{lowest_rate}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(
            out.stop_reason.contains("no rate meets"),
            "{}",
            out.stop_reason
        );
        assert_eq!(out.probes.len(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn a_noisy_plateau_is_indeterminate_with_the_reason() {
        // Clear passes up to 4/s, then a band where every probe is too close to call.
        let out = run(SearchSettings::default(), |s| {
            report(
                s.rate,
                if s.rate <= 4.0 {
                    ProbeVerdict::Pass
                } else if s.rate < 50.0 {
                    ProbeVerdict::Indeterminate
                } else {
                    ProbeVerdict::Fail
                },
            )
        })
        .await;
        assert_eq!(
            out.answer,
            CapacityAnswer::Indeterminate {
                low: Some(3.375),
                high: None
            }
        );
        assert!(out.stop_reason.contains("noise"), "{}", out.stop_reason);
        // The undecided rate was tried twice, the second time twice as long.
        let last = &out.probes[out.probes.len() - 2..];
        assert_eq!(last[0].rate, last[1].rate);
    }

    #[tokio::test(start_paused = true)]
    async fn budget_and_cancellation_stop_with_a_reason() {
        let out = run(SearchSettings::default(), |_| ProbeAttempt::OutOfBudget).await;
        assert_eq!(out.answer, CapacityAnswer::NotMeasured);
        assert!(
            out.stop_reason.contains("too short for one probe"),
            "{}",
            out.stop_reason
        );
        let out = run(SearchSettings::default(), |s| {
            if s.rate < 3.0 {
                report(s.rate, ProbeVerdict::Pass)
            } else {
                ProbeAttempt::Cancelled
            }
        })
        .await;
        assert_eq!(
            out.answer,
            CapacityAnswer::Indeterminate {
                low: Some(2.25),
                high: None
            }
        );
        assert!(out.stop_reason.contains("cancelled"));
        // One failing rate and no budget for a lower one: not "no rate meets".
        let out = run(SearchSettings::default(), |s| {
            if s.rate == 1.0 {
                report(s.rate, ProbeVerdict::Fail)
            } else {
                ProbeAttempt::OutOfBudget
            }
        })
        .await;
        assert_eq!(
            out.answer,
            CapacityAnswer::Indeterminate {
                low: None,
                high: Some(1.0)
            }
        );
        assert!(
            out.stop_reason.contains("give a longer --max-time"),
            "{}",
            out.stop_reason
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_measured_service_rate_caps_the_search_and_becomes_the_capacity() {
        let ceiling = ServiceRate::from_count(100, 50.0).expect("a count");
        let settings = SearchSettings {
            start_rate: 0.5,
            ceiling: Some(ceiling),
            ..SearchSettings::default()
        };
        // Every objective holds below the service rate: the capacity is the service rate,
        // with its interval, after one probe just below it, judged without the latency
        // growth test.
        let modes = std::sync::Mutex::new(Vec::new());
        let out = run(settings, |s| {
            modes.lock().unwrap().push((s.rate, s.mode));
            report(s.rate, ProbeVerdict::Pass)
        })
        .await;
        assert_eq!(
            out.answer,
            CapacityAnswer::Found {
                rate: 2.0,
                low: ceiling.low_per_s,
                high: Some(ceiling.high_per_s)
            }
        );
        assert!(
            out.stop_reason.contains("saturation limits"),
            "{}",
            out.stop_reason
        );
        let modes = modes.into_inner().unwrap();
        assert_eq!(modes.len(), 1);
        assert!((modes[0].0 - 2.0 * 0.92).abs() < 1e-9, "{modes:?}");
        assert_eq!(modes[0].1, ProbeMode::BelowServiceRate);

        // An objective that fails below the service rate: bisection below it, and the
        // capacity is the highest passing rate.
        let out = run(settings, edge(1.2)).await;
        match out.answer {
            CapacityAnswer::Found {
                rate,
                high: Some(h),
                ..
            } => assert!(
                rate <= 1.2 && 1.2 < h && h / rate <= 1.08 + 1e-9,
                "{rate}..{h}"
            ),
            other => panic!("{other:?}"),
        }
    }
}
