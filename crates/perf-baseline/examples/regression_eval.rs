//! Evaluates the regression verdicts on simulated A/A and A/B pairs of runs drawn from the
//! reference bot's latency model.
//!
//! `cargo run --release -p perf-baseline --example regression_eval -- [pairs] [queries] [run_noise]`

use perf_baseline::sim::SimulatedRun;
use perf_baseline::{
    compare_baselines, Baseline, CompareOptions, EnvironmentFingerprint, Thresholds,
};
use perf_core::{SplitMix64, Verdict};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pairs: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let queries: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let noise: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(0.02);
    let floor: f64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(0.7);
    let agents_on = args.get(4).is_none_or(|a| a != "noagents");
    let opts = CompareOptions {
        effect_floor: floor,
        agents: agents_on,
        ..CompareOptions::default()
    };
    let thresholds = Thresholds::default();
    println!(
        "pairs={pairs} queries={queries} run_noise={noise} effect_floor={floor} agents={agents_on}"
    );
    println!("factor | gate: regr incl pass impr | overall median: regr incl pass | median mean p95 sr regr | agent keys regr incl");
    for factor in [1.0, 1.10, 1.15, 1.25] {
        let mut rng = SplitMix64::new(20_260_101 + (factor * 100.0) as u64);
        let mut gate = [0usize; 4];
        let mut med = [0usize; 4];
        let mut per_metric = std::collections::BTreeMap::<String, usize>::new();
        let mut agent_regr = 0;
        let mut agent_incl = 0;
        for i in 0..pairs {
            let base_run = SimulatedRun {
                queries,
                run_noise: noise,
                ..Default::default()
            }
            .draw(&format!("a{i}"), &mut rng);
            let cur_run = SimulatedRun {
                queries,
                run_noise: noise,
                latency_factor: factor,
                ..Default::default()
            }
            .draw(&format!("b{i}"), &mut rng);
            let env = EnvironmentFingerprint::default();
            let base = Baseline::from_run("sim", &base_run, env.clone());
            let cur = Baseline::from_run("sim", &cur_run, env);
            let c = compare_baselines(&base, &cur, &thresholds, &opts);
            gate[idx(c.overall)] += 1;
            for v in &c.verdicts {
                if v.key == "overall" && v.metric == "latency_median" {
                    med[idx(v.verdict)] += 1;
                }
                if v.key == "overall" && v.verdict == Verdict::Regression {
                    *per_metric.entry(v.metric.clone()).or_default() += 1;
                }
                if v.key.starts_with("agent:") {
                    if v.verdict == Verdict::Regression {
                        agent_regr += 1;
                    }
                    if v.verdict == Verdict::Inconclusive {
                        agent_incl += 1;
                    }
                }
            }
        }
        let pct = |x: usize| 100.0 * x as f64 / pairs as f64;
        println!(
            "{factor:.2} | {:.1}% {:.1}% {:.1}% {:.1}% | {:.1}% {:.1}% {:.1}% | {:?} | {:.1}% {:.1}%",
            pct(gate[1]), pct(gate[3]), pct(gate[0]), pct(gate[2]),
            pct(med[1]), pct(med[3]), pct(med[0]),
            per_metric,
            pct(agent_regr), pct(agent_incl)
        );
    }
}

fn idx(v: Verdict) -> usize {
    match v {
        Verdict::Pass => 0,
        Verdict::Regression => 1,
        Verdict::Improvement => 2,
        _ => 3,
    }
}
