//! Evaluates the regression verdicts on simulated A/A and A/B pairs of runs drawn from the
//! reference bot's latency model, next to the original suite's naive gate (mean or P95
//! more than 15% above the baseline's).
//!
//! ```text
//! cargo run --release -p perf-baseline --example regression_eval -- [pairs] [queries] [run_noise] [effect_floor] [assumed_run_noise]
//! ```
//! Prints, per injected slowdown factor, the share of pairs whose overall verdict is a
//! regression / inconclusive, the same for the `overall` median verdict alone, the naive
//! gates' alarm rates, the share of per-agent latency verdicts that are inconclusive, and
//! the time one comparison takes.

use std::time::{Duration, Instant};

use perf_baseline::sim::SimulatedRun;
use perf_baseline::{
    compare_baselines, Baseline, CompareOptions, EnvironmentFingerprint, Thresholds,
};
use perf_core::record::Verdict;
use perf_core::SplitMix64;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: f64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let pairs = arg(0, 2000.0) as usize;
    let queries = arg(1, 200.0) as usize;
    let noise = arg(2, 0.02);
    let options = CompareOptions {
        effect_floor: arg(3, CompareOptions::default().effect_floor),
        run_noise: arg(4, CompareOptions::default().run_noise),
        ..CompareOptions::default()
    };
    let thresholds = Thresholds::default();
    println!(
        "pairs={pairs} queries={queries} simulated run_noise={noise} assumed run_noise={} effect_floor={} alpha={}",
        options.run_noise, options.effect_floor, options.alpha
    );
    println!("| slowdown | gate regression | gate inconclusive | median regression | naive mean>15% | naive p95>15% | agent latency verdicts inconclusive |");
    println!("|---|---|---|---|---|---|---|");
    let mut compare_time = Duration::ZERO;
    let mut comparisons = 0u32;
    for factor in [1.0, 1.10, 1.15, 1.25] {
        let (mut gate_regr, mut gate_incl, mut med_regr, mut naive_mean, mut naive_p95) =
            (0, 0, 0, 0, 0);
        let (mut agent_incl, mut agent_total) = (0, 0);
        for i in 0..pairs {
            let mut rng = SplitMix64::derive((factor * 1000.0) as u64, &format!("pair{i}"));
            let model = SimulatedRun {
                queries,
                run_noise: noise,
                ..SimulatedRun::default()
            };
            let a = model.draw("a", &mut rng);
            let b = SimulatedRun {
                latency_factor: factor,
                ..model
            }
            .draw("b", &mut rng);
            let env = EnvironmentFingerprint::default();
            let (base, cur) = (
                Baseline::from_run("sim", &a, env.clone()),
                Baseline::from_run("sim", &b, env),
            );
            let t = Instant::now();
            let c = compare_baselines(&base, &cur, &thresholds, &options);
            compare_time += t.elapsed();
            comparisons += 1;
            gate_regr += usize::from(c.overall == Verdict::Regression);
            gate_incl += usize::from(c.overall == Verdict::Inconclusive);
            for v in &c.verdicts {
                if v.key == "overall"
                    && v.metric == "latency_median"
                    && v.verdict == Verdict::Regression
                {
                    med_regr += 1;
                }
                if v.key.starts_with("agent:") && v.metric.starts_with("latency") {
                    agent_total += 1;
                    agent_incl += usize::from(v.verdict == Verdict::Inconclusive);
                }
            }
            let (la, lb) = (base.overall.summary.latency, cur.overall.summary.latency);
            naive_mean += usize::from(lb.mean_ms > 1.15 * la.mean_ms);
            naive_p95 += usize::from(lb.p95_ms > 1.15 * la.p95_ms);
        }
        let pct = |x: usize, n: usize| format!("{:.1}%", 100.0 * x as f64 / n.max(1) as f64);
        println!(
            "| {:+.0}% | {} | {} | {} | {} | {} | {} |",
            100.0 * (factor - 1.0),
            pct(gate_regr, pairs),
            pct(gate_incl, pairs),
            pct(med_regr, pairs),
            pct(naive_mean, pairs),
            pct(naive_p95, pairs),
            pct(agent_incl, agent_total),
        );
    }
    println!(
        "one comparison: {:.2} ms (mean over {comparisons})",
        compare_time.as_secs_f64() * 1000.0 / f64::from(comparisons.max(1))
    );
}
