use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// How load is applied to a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum LoadProfile {
    /// A fixed number of virtual users, each sending its next query when the last one
    /// answered.
    Closed(ClosedLoop),
    /// Arrivals on a schedule, independent of how fast the target answers.
    Open(OpenLoop),
}

/// Closed-loop settings: the original suite's `parallel_execution`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosedLoop {
    /// Virtual users, i.e. queries in flight at most.
    pub users: usize,
    /// Pause between a user's answer and its next query.
    #[serde(default, with = "duration_secs")]
    pub think_time: Duration,
    /// A ceiling on query starts per second, run-wide (starts at least `1 / rate` apart;
    /// not a target arrival rate, and not a concurrency cap); `None` for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_second: Option<f64>,
    /// Stop after this long, when set; otherwise when the queries run out.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_duration_secs"
    )]
    pub duration: Option<Duration>,
}

/// One stage of an open-loop schedule: the arrival rate moves linearly from `start_rate`
/// to `end_rate` over `duration` (equal rates give a constant stage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// Stage length.
    #[serde(with = "duration_secs")]
    pub duration: Duration,
    /// Arrivals per second at the start of the stage.
    pub start_rate: f64,
    /// Arrivals per second at the end of the stage.
    pub end_rate: f64,
}

impl Stage {
    /// A constant rate.
    pub fn constant(rate: f64, duration: Duration) -> Self {
        Self {
            duration,
            start_rate: rate,
            end_rate: rate,
        }
    }

    /// A linear ramp.
    pub fn ramp(from: f64, to: f64, duration: Duration) -> Self {
        Self {
            duration,
            start_rate: from,
            end_rate: to,
        }
    }

    /// Expected number of arrivals in this stage.
    pub fn expected_arrivals(&self) -> f64 {
        (self.start_rate + self.end_rate) / 2.0 * self.duration.as_secs_f64()
    }
}

/// How gaps between arrivals are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// Evenly spaced arrivals.
    #[default]
    Constant,
    /// Exponential gaps (a Poisson process), like independent users.
    Poisson,
}

/// Open-loop settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenLoop {
    /// The schedule, stage after stage.
    pub stages: Vec<Stage>,
    /// Gap distribution.
    #[serde(default)]
    pub arrival: Arrival,
    /// Queries in flight at most; an arrival beyond it is dropped and counted.
    pub max_in_flight: usize,
}

impl LoadProfile {
    /// The original suite's parallel execution: `users` at once, starts paced at `rate`.
    pub fn closed(users: usize, rate_limit_per_second: Option<f64>) -> Self {
        LoadProfile::Closed(ClosedLoop {
            users,
            think_time: Duration::ZERO,
            rate_limit_per_second,
            duration: None,
        })
    }

    /// A constant arrival rate.
    pub fn constant(rate: f64, duration: Duration, max_in_flight: usize) -> Self {
        Self::open(vec![Stage::constant(rate, duration)], max_in_flight)
    }

    /// A linear ramp from `from` to `to`.
    pub fn ramp(from: f64, to: f64, duration: Duration, max_in_flight: usize) -> Self {
        Self::open(vec![Stage::ramp(from, to, duration)], max_in_flight)
    }

    /// `base` rate, a burst at `peak` for `spike_len` in the middle, then `base` again.
    pub fn spike(
        base: f64,
        peak: f64,
        duration: Duration,
        spike_len: Duration,
        max_in_flight: usize,
    ) -> Self {
        let spike_len = spike_len.min(duration);
        let side = (duration - spike_len) / 2;
        Self::open(
            vec![
                Stage::constant(base, side),
                Stage::constant(peak, spike_len),
                Stage::constant(base, duration - spike_len - side),
            ],
            max_in_flight,
        )
    }

    /// `steps` equal stages whose rate climbs from `from` to `to`.
    pub fn step(
        from: f64,
        to: f64,
        steps: usize,
        duration: Duration,
        max_in_flight: usize,
    ) -> Self {
        let steps = steps.max(1);
        let each = duration / steps as u32;
        let stages = (0..steps)
            .map(|i| {
                let frac = if steps == 1 {
                    1.0
                } else {
                    i as f64 / (steps - 1) as f64
                };
                Stage::constant(from + (to - from) * frac, each)
            })
            .collect();
        Self::open(stages, max_in_flight)
    }

    fn open(stages: Vec<Stage>, max_in_flight: usize) -> Self {
        LoadProfile::Open(OpenLoop {
            stages,
            arrival: Arrival::Constant,
            max_in_flight,
        })
    }

    /// The same profile with every duration multiplied by `factor` (rates unchanged), so
    /// CI can run a 60-second profile in seconds.
    pub fn scaled(&self, factor: f64) -> Self {
        let f = factor.max(0.0);
        match self {
            LoadProfile::Closed(c) => LoadProfile::Closed(ClosedLoop {
                duration: c.duration.map(|d| d.mul_f64(f)),
                ..c.clone()
            }),
            LoadProfile::Open(o) => LoadProfile::Open(OpenLoop {
                stages: o
                    .stages
                    .iter()
                    .map(|s| Stage {
                        duration: s.duration.mul_f64(f),
                        ..s.clone()
                    })
                    .collect(),
                ..o.clone()
            }),
        }
    }

    /// Total scheduled duration, when the profile has one.
    pub fn duration(&self) -> Option<Duration> {
        match self {
            LoadProfile::Closed(c) => c.duration,
            LoadProfile::Open(o) => Some(o.stages.iter().map(|s| s.duration).sum()),
        }
    }

    /// Checks for zero or negative rates, users and durations; the error names the key
    /// under `prefix`.
    pub fn validate(&self, prefix: &str) -> Result<(), ConfigError> {
        let key = |k: &str| {
            if prefix.is_empty() {
                k.to_owned()
            } else {
                format!("{prefix}.{k}")
            }
        };
        match self {
            LoadProfile::Closed(c) => {
                if c.users == 0 {
                    return Err(ConfigError::new(key("users"), "must be at least 1"));
                }
                if let Some(r) = c.rate_limit_per_second {
                    if !(r.is_finite() && r > 0.0) {
                        return Err(ConfigError::new(
                            key("rate_limit_per_second"),
                            format!("{r} is not a positive rate; omit it for no rate limit"),
                        ));
                    }
                }
                if c.duration == Some(Duration::ZERO) {
                    return Err(ConfigError::new(key("duration"), "must be positive"));
                }
            }
            LoadProfile::Open(o) => {
                if o.max_in_flight == 0 {
                    return Err(ConfigError::new(key("max_in_flight"), "must be at least 1"));
                }
                if o.stages.is_empty() {
                    return Err(ConfigError::new(key("stages"), "needs at least one stage"));
                }
                for (i, s) in o.stages.iter().enumerate() {
                    let ok = |r: f64| r.is_finite() && r >= 0.0;
                    if !ok(s.start_rate) || !ok(s.end_rate) || s.start_rate + s.end_rate <= 0.0 {
                        return Err(ConfigError::new(
                            key(&format!("stages[{i}]")),
                            "rates must be non-negative and not both zero",
                        ));
                    }
                    if s.duration.is_zero() {
                        return Err(ConfigError::new(
                            key(&format!("stages[{i}].duration")),
                            "must be positive",
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Durations as fractional seconds in JSON, like the original suite's config.
mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(|_| {
            serde::de::Error::custom(format!("{secs} is not a valid duration in seconds"))
        })
    }
}

mod opt_duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        match Option::<f64>::deserialize(d)? {
            None => Ok(None),
            Some(secs) => Duration::try_from_secs_f64(secs).map(Some).map_err(|_| {
                serde::de::Error::custom(format!("{secs} is not a valid duration in seconds"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spike_and_step_build_the_expected_stages() {
        let LoadProfile::Open(o) = LoadProfile::spike(
            2.0,
            20.0,
            Duration::from_secs(10),
            Duration::from_secs(2),
            50,
        ) else {
            panic!("spike is open loop")
        };
        let rates: Vec<f64> = o.stages.iter().map(|s| s.start_rate).collect();
        assert_eq!(rates, vec![2.0, 20.0, 2.0]);
        let total: Duration = o.stages.iter().map(|s| s.duration).sum();
        assert_eq!(total, Duration::from_secs(10));

        let LoadProfile::Open(o) = LoadProfile::step(1.0, 4.0, 4, Duration::from_secs(8), 10)
        else {
            panic!("step is open loop")
        };
        let rates: Vec<f64> = o.stages.iter().map(|s| s.start_rate).collect();
        assert_eq!(rates, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn scaling_shortens_durations_only() {
        let p = LoadProfile::constant(20.0, Duration::from_secs(60), 100).scaled(0.1);
        assert_eq!(p.duration(), Some(Duration::from_secs(6)));
        let LoadProfile::Open(o) = p else {
            panic!("constant is open loop")
        };
        assert_eq!(o.stages[0].start_rate, 20.0);
    }

    #[test]
    fn validation_names_the_key() {
        let e = LoadProfile::closed(0, None)
            .validate("parallel_execution")
            .unwrap_err();
        assert_eq!(e.key, "parallel_execution.users");
        let e = LoadProfile::closed(2, Some(-1.0)).validate("").unwrap_err();
        assert_eq!(e.key, "rate_limit_per_second");
        let e = LoadProfile::constant(0.0, Duration::from_secs(1), 5)
            .validate("stress")
            .unwrap_err();
        assert_eq!(e.key, "stress.stages[0]");
        assert!(LoadProfile::constant(5.0, Duration::from_secs(1), 5)
            .validate("")
            .is_ok());
    }

    #[test]
    fn profiles_round_trip_through_json() {
        let p = LoadProfile::ramp(1.0, 10.0, Duration::from_millis(1500), 8);
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains("\"mode\":\"open\""));
        let back: LoadProfile = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }
}
