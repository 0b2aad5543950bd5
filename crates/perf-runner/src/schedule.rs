use std::time::Duration;

use perf_core::{Arrival, OpenLoop, SplitMix64, Stage};

/// One open-loop arrival: when it is due, counted from the start of the plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduledArrival {
    /// Offset of the intended start from the plan's start.
    pub offset: Duration,
    /// Index of the stage the arrival belongs to.
    pub stage: usize,
}

/// The intended start times of an open-loop profile, generated lazily (memory does not
/// grow with the number of arrivals).
///
/// Arrivals are placed by inverting the expected-arrivals curve: with rate `r(t)` and
/// `Λ(t) = ∫ r`, arrival `k` of a constant-gap schedule is due at `Λ⁻¹(k)`, and a Poisson
/// schedule uses `Λ⁻¹` of a sum of unit exponential draws (a non-homogeneous Poisson
/// process). A linear ramp's `Λ` is quadratic, so each time is exact, and fractional
/// arrivals carry over from one stage to the next instead of being rounded per stage.
#[derive(Debug, Clone)]
pub struct ArrivalSchedule {
    stages: Vec<Stage>,
    arrival: Arrival,
    rng: SplitMix64,
    stage: usize,
    stage_start: Duration,
    stage_u0: f64,
    next_u: f64,
}

impl ArrivalSchedule {
    /// The schedule of `profile`; `seed` drives Poisson gaps.
    pub fn new(profile: &OpenLoop, seed: u64) -> Self {
        let mut rng = SplitMix64::derive(seed, "arrivals");
        let next_u = match profile.arrival {
            Arrival::Constant => 0.0,
            Arrival::Poisson => rng.exponential(1.0),
        };
        Self {
            stages: profile.stages.clone(),
            arrival: profile.arrival,
            rng,
            stage: 0,
            stage_start: Duration::ZERO,
            stage_u0: 0.0,
            next_u,
        }
    }

    /// Offset within `stage` at which `u` expected arrivals have happened.
    fn invert(stage: &Stage, u: f64) -> f64 {
        let len = stage.duration.as_secs_f64();
        let a = (stage.end_rate - stage.start_rate) / (2.0 * len);
        let b = stage.start_rate;
        // 2u / (b + sqrt(b² + 4au)) is the root of a·t² + b·t = u, stable for a = 0 and b = 0.
        let denom = b + (b * b + 4.0 * a * u).max(0.0).sqrt();
        if denom <= 0.0 {
            return 0.0;
        }
        (2.0 * u / denom).clamp(0.0, len)
    }
}

impl Iterator for ArrivalSchedule {
    type Item = ScheduledArrival;

    fn next(&mut self) -> Option<ScheduledArrival> {
        loop {
            let stage = self.stages.get(self.stage)?;
            let total = stage.expected_arrivals();
            let local = self.next_u - self.stage_u0;
            if local < total {
                let t = Self::invert(stage, local);
                let offset = self
                    .stage_start
                    .saturating_add(Duration::try_from_secs_f64(t).unwrap_or(Duration::MAX));
                self.next_u += match self.arrival {
                    Arrival::Constant => 1.0,
                    Arrival::Poisson => self.rng.exponential(1.0),
                };
                return Some(ScheduledArrival {
                    offset,
                    stage: self.stage,
                });
            }
            self.stage_u0 += total;
            self.stage_start = self.stage_start.saturating_add(stage.duration);
            self.stage += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perf_core::LoadProfile;

    fn open(p: LoadProfile) -> OpenLoop {
        match p {
            LoadProfile::Open(o) => o,
            LoadProfile::Closed(_) => unreachable!("open-loop profile expected"),
        }
    }

    #[test]
    fn constant_rate_is_evenly_spaced() {
        let o = open(LoadProfile::constant(10.0, Duration::from_secs(2), 5));
        let times: Vec<Duration> = ArrivalSchedule::new(&o, 1).map(|a| a.offset).collect();
        assert_eq!(times.len(), 20);
        assert_eq!(times[0], Duration::ZERO);
        assert_eq!(times[1], Duration::from_millis(100));
        assert_eq!(times[19], Duration::from_millis(1900));
    }

    #[test]
    fn ramp_gaps_shrink_and_count_matches() {
        let o = open(LoadProfile::ramp(0.0, 20.0, Duration::from_secs(10), 5));
        let times: Vec<f64> = ArrivalSchedule::new(&o, 1)
            .map(|a| a.offset.as_secs_f64())
            .collect();
        assert_eq!(times.len(), 100);
        // Λ(t) = t², so arrival k is at √k.
        assert!((times[25] - 5.0).abs() < 1e-9);
        assert!((times[81] - 9.0).abs() < 1e-9);
        let first_gap = times[2] - times[1];
        let last_gap = times[99] - times[98];
        assert!(first_gap > 5.0 * last_gap);
    }

    #[test]
    fn stages_carry_fractions_and_report_their_index() {
        let o = open(LoadProfile::spike(
            2.5,
            40.0,
            Duration::from_secs(4),
            Duration::from_secs(1),
            5,
        ));
        let arrivals: Vec<ScheduledArrival> = ArrivalSchedule::new(&o, 1).collect();
        // 2.5×1.5 + 40×1 + 2.5×1.5 = 47.5 expected: 48 with arrival 0 at t = 0.
        assert_eq!(arrivals.len(), 48);
        let in_spike = arrivals.iter().filter(|a| a.stage == 1).count();
        assert_eq!(in_spike, 40);
        assert!(arrivals.windows(2).all(|w| w[0].offset <= w[1].offset));
    }

    #[test]
    fn poisson_is_seeded_and_near_the_rate() {
        let mut o = open(LoadProfile::constant(100.0, Duration::from_secs(100), 5));
        o.arrival = Arrival::Poisson;
        let a: Vec<Duration> = ArrivalSchedule::new(&o, 7).map(|a| a.offset).collect();
        let b: Vec<Duration> = ArrivalSchedule::new(&o, 7).map(|a| a.offset).collect();
        let c: Vec<Duration> = ArrivalSchedule::new(&o, 8).map(|a| a.offset).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        // 10,000 expected; a Poisson count has standard deviation 100.
        assert!((9_600..=10_400).contains(&a.len()), "{}", a.len());
        let gaps: Vec<f64> = a.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        // Exponential gaps: standard deviation equals the mean.
        assert!((var.sqrt() / mean - 1.0).abs() < 0.1);
    }
}
