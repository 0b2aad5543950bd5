//! The latency model of the reference bot, simulated without running it: used by the
//! evaluation of the verdicts (tests and the `regression_eval` example).

use perf_core::record::RunResult;
use perf_core::{agents, Outcome, Sample, SplitMix64, TargetInfo};

/// Median latency per agent at latency factor 1, in milliseconds (the reference bot's).
pub const AGENT_MEDIANS_MS: [(&str, f64); 4] = [
    (agents::SERVER_ANALYSIS, 40.0),
    (agents::SEMANTIC_SEARCH, 60.0),
    (agents::USER_ANALYSIS, 50.0),
    (agents::DIGEST_GENERATION, 120.0),
];

/// How one simulated run is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimulatedRun {
    /// Queries in the run, spread over the four agents in turn (the same mix every run),
    /// all in category `standard`.
    pub queries: usize,
    /// Log-normal sigma of one query's latency around its agent's median.
    pub sigma: f64,
    /// Log-scale standard deviation of a whole run's multiplicative noise (shared machine).
    pub run_noise: f64,
    /// Multiplies every latency: 1.15 is an injected 15% slowdown.
    pub latency_factor: f64,
    /// Share of queries that fail.
    pub error_rate: f64,
    /// One agent slowed (or sped up) by a factor of its own.
    pub agent_factor: Option<(&'static str, f64)>,
    /// Median time to first token in milliseconds when answers stream (every agent alike,
    /// with the same sigma and run noise); streamed answers also have 20 ms between
    /// pieces, 15 ms per output token and 100 tokens, each with the same noise. `None`
    /// draws no streaming figures (and the same latencies as before they existed).
    pub ttft_ms: Option<f64>,
}

impl Default for SimulatedRun {
    fn default() -> Self {
        Self {
            queries: 200,
            sigma: 0.25,
            run_noise: 0.02,
            latency_factor: 1.0,
            error_rate: 0.0,
            agent_factor: None,
            ttft_ms: None,
        }
    }
}

impl SimulatedRun {
    /// Draws one run from `rng`.
    pub fn draw(&self, run_id: &str, rng: &mut SplitMix64) -> RunResult {
        let mut run = RunResult::new(run_id, "2026-01-01T00:00:00Z", TargetInfo::default());
        let run_factor = (self.run_noise * rng.normal()).exp() * self.latency_factor;
        for i in 0..self.queries {
            let (agent, median_ms) = AGENT_MEDIANS_MS[i % AGENT_MEDIANS_MS.len()];
            let own = match self.agent_factor {
                Some((a, f)) if a == agent => f,
                _ => 1.0,
            };
            let ms = median_ms * (self.sigma * rng.normal()).exp() * run_factor * own;
            let latency_us = (ms * 1000.0).round().max(1.0) as u64;
            let failed = rng.chance(self.error_rate);
            let outcome = if failed {
                Outcome::Error(perf_core::ErrorKind::Bot)
            } else {
                Outcome::Ok
            };
            let sample = Sample {
                expected_agent: Some(agent.into()),
                agent: Some(agent.into()),
                // One category: per-agent groups already split the queries by agent, and
                // fewer groups keep the many simulated runs of the evaluation cheap.
                ..Sample::new(format!("q{i}"), "standard", "standard", outcome, latency_us)
            };
            let sample = match self.ttft_ms {
                // Drawn only for streaming runs, so other runs keep their random sequence.
                Some(ttft_ms) if !failed => {
                    let mut us = |median_ms: f64| {
                        let ms = median_ms * (self.sigma * rng.normal()).exp() * run_factor;
                        Some((ms * 1000.0).round().max(1.0) as u64)
                    };
                    Sample {
                        ttft_us: us(ttft_ms),
                        itl_us: us(20.0),
                        tpot_us: us(15.0),
                        output_tokens: Some(100),
                        ..sample
                    }
                }
                _ => sample,
            };
            run.record(&sample);
        }
        run.wall_time_s = 10.0;
        run
    }
}
