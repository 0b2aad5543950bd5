//! [`Config::validate`]: values that parse but make no sense, each named by its key.

use super::*;

impl Config {
    /// Checks values that parse but make no sense; the error names the key.
    pub fn validate(&self) -> Result<(), perf_core::ConfigError> {
        use perf_core::ConfigError as E;
        let positive = |key: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(E::new(key, format!("{v} must be a positive number")))
            }
        };
        perf_baseline_validate(self)?;
        self.slos.validate("slos.")?;
        crate::grounding::validate_agents(&self.agents, &self.regression_testing.critical_paths)?;
        for (key, v, max) in [
            ("query_count", self.query_count, MAX_QUERY_COUNT),
            (
                "parallel_execution.max_concurrent",
                self.parallel_execution.max_concurrent,
                MAX_CONCURRENT,
            ),
        ] {
            if v == 0 || v > max {
                return Err(E::new(
                    key,
                    format!("{v} is out of range: give a whole number from 1 to {max}"),
                ));
            }
        }
        if let Some(r) = self.parallel_execution.rate_limit_per_second {
            positive("parallel_execution.rate_limit_per_second", r)?;
            if !(MIN_RATE_PER_SECOND..=MAX_RATE_PER_SECOND).contains(&r) {
                return Err(E::new(
                    "parallel_execution.rate_limit_per_second",
                    format!(
                        "{r} is out of range: give {MIN_RATE_PER_SECOND} to {MAX_RATE_PER_SECOND} query starts per second, or null for no pacing"
                    ),
                ));
            }
            let paced_s = self.query_count as f64 / r;
            if paced_s > MAX_PACED_RUN_S {
                return Err(E::new(
                    "parallel_execution.rate_limit_per_second",
                    format!(
                        "{} queries at {r} per second take {paced_s:.0} s, more than the {MAX_PACED_RUN_S} s (a day) allowed: raise the rate or lower query_count",
                        self.query_count
                    ),
                ));
            }
        }
        positive(
            "performance_baselines.baseline_threshold",
            self.performance_baselines.baseline_threshold,
        )?;
        positive(
            "resource_monitoring.monitoring_interval",
            self.resource_monitoring.monitoring_interval,
        )?;
        positive("query_timeout", self.query_timeout)?;
        if !(self.grace_period.is_finite() && self.grace_period >= 0.0) {
            return Err(E::new("grace_period", "must be zero or positive"));
        }
        // Seconds that must become durations: bounded, so no conversion can overflow.
        for (key, value, max) in [
            ("query_timeout", self.query_timeout, MAX_QUERY_TIMEOUT_S),
            ("grace_period", self.grace_period, MAX_GRACE_PERIOD_S),
            (
                "resource_monitoring.monitoring_interval",
                self.resource_monitoring.monitoring_interval,
                MAX_MONITORING_INTERVAL_S,
            ),
        ] {
            if value > max {
                return Err(E::new(
                    key,
                    format!("{value} seconds is more than the {max} allowed"),
                ));
            }
        }
        // Positive but too small to be a duration (1e-300 s rounds to zero nanoseconds):
        // said as what it is, not as "must be positive".
        for (key, value, min) in [
            ("query_timeout", self.query_timeout, MIN_QUERY_TIMEOUT_S),
            (
                "resource_monitoring.monitoring_interval",
                self.resource_monitoring.monitoring_interval,
                MIN_MONITORING_INTERVAL_S,
            ),
        ] {
            if value < min {
                return Err(E::new(
                    key,
                    format!("{value} seconds is less than the {min} allowed"),
                ));
            }
        }

        positive(
            "resource_limits.max_memory_mb",
            self.resource_limits.max_memory_mb,
        )?;
        positive(
            "resource_limits.max_cpu_percent",
            self.resource_limits.max_cpu_percent,
        )?;
        if let Some(s) = self.synthetic_testing.scale {
            perf_synth::validate_scale(s)
                .map_err(|e| E::new("synthetic_testing.scale", e.message))?;
        }
        if !(0.0..=1.0).contains(&self.synthetic_testing.robustness_threshold) {
            return Err(E::new(
                "synthetic_testing.robustness_threshold",
                "must be between 0 and 1",
            ));
        }
        // The store's own rule (no `..`, no separators, at most 100 characters), so a bad
        // name is found before the run, not when the baseline is read after it.
        perf_baseline::BaselineStore::new(&self.performance_baselines.baselines_dir)
            .path_of(&self.performance_baselines.baseline_name)
            .map_err(|e| E::new("performance_baselines.baseline_name", e.to_string()))?;
        for (i, name) in self.regression_testing.critical_paths.iter().enumerate() {
            if name.trim().is_empty() {
                return Err(E::new(
                    format!("regression_testing.critical_paths[{i}]"),
                    "is empty: give an agent name such as `semantic_search`, or remove the entry",
                ));
            }
        }
        for (key, v) in [
            ("refbot.error_rate", self.refbot.error_rate),
            ("refbot.hang_rate", self.refbot.hang_rate),
            ("refbot.wrong_rate", self.refbot.wrong_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(E::new(
                    key,
                    format!("{v} must be a share between 0 and 1 (0.2 = one query in five)"),
                ));
            }
        }
        for (key, v) in [
            ("refbot.latency_scale", self.refbot.latency_scale),
            ("refbot.latency_factor", self.refbot.latency_factor),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(E::new(key, format!("{v} must be zero or positive")));
            }
        }
        if let Some(llm) = &self.refbot.llm {
            llm.validate().map_err(|e| match e {
                perf_refbot::RefBotError::Config { key, message } => {
                    E::new(format!("refbot.{key}"), message)
                }
                other => E::new("refbot.llm", other.to_string()),
            })?;
        }
        Ok(())
    }
}

fn perf_baseline_validate(c: &Config) -> Result<(), perf_core::ConfigError> {
    c.performance_baselines
        .policy()
        .thresholds
        .validate()
        .map_err(|e| {
            perf_core::ConfigError::new("performance_baselines.thresholds", e.to_string())
        })?;
    let l = &c.regression_testing.limits;
    if !(0.0..=1.0).contains(&l.min_success_rate) || !(0.0..=1.0).contains(&l.min_routing_accuracy)
    {
        return Err(perf_core::ConfigError::new(
            "regression_testing.limits",
            "min_success_rate and min_routing_accuracy must be between 0 and 1",
        ));
    }
    for (key, v) in [
        ("regression_testing.limits.max_p95_ms", l.max_p95_ms),
        (
            "regression_testing.limits.max_ttft_p95_ms",
            l.max_ttft_p95_ms,
        ),
        ("regression_testing.limits.max_itl_p95_ms", l.max_itl_p95_ms),
    ] {
        if let Some(v) = v {
            if !(v.is_finite() && v > 0.0) {
                return Err(perf_core::ConfigError::new(
                    key,
                    format!("{v} must be a positive number of milliseconds"),
                ));
            }
        }
    }
    if c.history_url.is_some() && c.history_url_env.is_some() {
        return Err(perf_core::ConfigError::new(
            "history_url_env",
            "set either `history_url` or `history_url_env`, not both",
        ));
    }
    if let Some(url) = &c.history_url {
        perf_baseline::HistoryLocation::parse(url, "history_url").map_err(config_error)?;
    }
    if let Some(var) = &c.history_url_env {
        if var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(perf_core::ConfigError::new(
                "history_url_env",
                format!("`{var}` is not an environment variable name: use letters, digits and `_`, e.g. PERF_HISTORY_URL"),
            ));
        }
    }
    if c.shards == 0 || c.shards > perf_core::MAX_SHARDS {
        return Err(perf_core::ConfigError::new(
            "shards",
            format!(
                "{} is not a number of shards: give 1 to {}",
                c.shards,
                perf_core::MAX_SHARDS
            ),
        ));
    }
    if c.trend_runs < 2 {
        return Err(perf_core::ConfigError::new(
            "trend_runs",
            "must be at least 2",
        ));
    }
    Ok(())
}
