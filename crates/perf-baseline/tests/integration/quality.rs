//! The quality targets of the verdicts, on A/A and A/B pairs drawn from the reference
//! bot's latency model (per-agent log-normal, sigma 0.25, medians 40/60/50/120 ms) with a
//! 200-query budget and 2% run-to-run noise. Deterministic: fixed seeds.

use perf_baseline::sim::SimulatedRun;
use perf_baseline::{compare_baselines, Baseline, CompareOptions, Thresholds};
use perf_core::record::Verdict;
use perf_core::SplitMix64;

struct Rates {
    regression: f64,
    inconclusive: f64,
}

/// The verdict of pair `i`: its own random stream, so the result does not depend on how
/// pairs are spread over threads.
fn pair_verdict(factor: f64, seed: u64, i: usize) -> Verdict {
    let mut rng = SplitMix64::derive(seed, &format!("pair{i}"));
    let model = SimulatedRun::default();
    let a = model.draw(&format!("a{i}"), &mut rng);
    let b = SimulatedRun {
        latency_factor: factor,
        ..model
    }
    .draw(&format!("b{i}"), &mut rng);
    compare_baselines(
        &Baseline::from_run("q", &a, super::env()),
        &Baseline::from_run("q", &b, super::env()),
        &Thresholds::default(),
        &CompareOptions::default(),
    )
    .overall
}

fn rates(factor: f64, pairs: usize, seed: u64) -> Rates {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let verdicts: Vec<Verdict> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    (t..pairs)
                        .step_by(threads)
                        .map(|i| pair_verdict(factor, seed, i))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let share = |v: Verdict| verdicts.iter().filter(|&&x| x == v).count() as f64 / pairs as f64;
    Rates {
        regression: share(Verdict::Regression),
        inconclusive: share(Verdict::Inconclusive),
    }
}

#[test]
fn aa_runs_rarely_alarm_and_are_rarely_inconclusive() {
    let r = rates(1.0, 800, 1);
    assert!(
        r.regression <= 0.01,
        "false alarms {:.2}%",
        100.0 * r.regression
    );
    assert!(
        r.inconclusive <= 0.10,
        "inconclusive {:.2}%",
        100.0 * r.inconclusive
    );
}

#[test]
fn a_25_percent_slowdown_is_caught() {
    let r = rates(1.25, 300, 2);
    assert!(
        r.regression >= 0.95,
        "detected {:.2}%",
        100.0 * r.regression
    );
}

#[test]
fn a_15_percent_slowdown_is_caught_mostly() {
    let r = rates(1.15, 300, 3);
    assert!(
        r.regression >= 0.80,
        "detected {:.2}%",
        100.0 * r.regression
    );
}
