//! One way in for the flags: every binary fills an [`Overrides`] from its flags and applies
//! it once over the file's configuration (ripgrep's low-level arguments become high-level
//! ones in one place). Values are checked once, by [`Config::validate`], and an error about
//! a key that a flag set names the flag the user typed (`--max-concurrent`), not the key.

use std::path::PathBuf;

use crate::{Config, ConfigError, Grounding, ShardRequest, SuiteError};

/// Pacing as a flag asks for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// `--rate-limit R`: R query starts per second.
    PerSecond(f64),
    /// `--no-rate-limit`: unpaced.
    Unpaced,
}

/// What the flags change in a configuration. Every field left at its default leaves the
/// file's value alone.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Overrides {
    /// `--query-count` (`query_count`).
    pub query_count: Option<usize>,
    /// `--max-concurrent` (`parallel_execution.max_concurrent`).
    pub max_concurrent: Option<usize>,
    /// `--rate-limit` / `--no-rate-limit` (`parallel_execution.rate_limit_per_second`).
    pub pacing: Option<Pacing>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--query-timeout` (`query_timeout`), seconds.
    pub query_timeout: Option<f64>,
    /// `--database` (`database_path`).
    pub database: Option<PathBuf>,
    /// `--out` (`output_dir`).
    pub out: Option<PathBuf>,
    /// `--target`.
    pub target: Option<String>,
    /// `--scale` (`synthetic_testing.scale`).
    pub scale: Option<f64>,
    /// `--scenarios`, added to `synthetic_testing.scenario_paths`.
    pub scenario_paths: Vec<PathBuf>,
    /// `--history-url`.
    pub history_url: Option<String>,
    /// `--questions`.
    pub questions: Option<PathBuf>,
    /// `--grounding`.
    pub grounding: Option<Grounding>,
    /// `--allow-other-target`.
    pub allow_other_target: bool,
    /// `--parallel` / `--no-parallel`.
    pub parallel: Option<bool>,
    /// `--baselines` / `--no-baselines`.
    pub baselines: Option<bool>,
    /// `--regression` / `--no-regression`.
    pub regression: Option<bool>,
    /// `--synthetic` / `--no-synthetic`.
    pub synthetic: Option<bool>,
    /// `--shard`, `--shard-total`, `--start-at`, with the engines' variables: applied only
    /// when set (a run, not a merge or a listing).
    pub shard: Option<ShardRequest>,
}

/// The flag that sets each key, for the error's name.
const FLAG_OF: &[(&str, &str)] = &[
    ("query_count", "--query-count"),
    ("parallel_execution.max_concurrent", "--max-concurrent"),
    ("parallel_execution.rate_limit_per_second", "--rate-limit"),
    ("query_timeout", "--query-timeout"),
    ("synthetic_testing.scale", "--scale"),
];

impl Overrides {
    /// Applies the flags over `config`, then validates the whole configuration once. An
    /// error about a key a flag set names the flag; one about a key the file set names the
    /// key.
    pub fn apply(&self, config: &mut Config) -> Result<(), SuiteError> {
        self.apply_with(config, |_| Ok(()))
    }

    /// [`apply`](Self::apply) with a binary's own shaping (the gate's
    /// [`GateRequest::shape_in_place`](crate::GateRequest::shape_in_place)) between the
    /// flags and the one validation.
    pub fn apply_with(
        &self,
        config: &mut Config,
        shape: impl FnOnce(&mut Config) -> Result<(), SuiteError>,
    ) -> Result<(), SuiteError> {
        let c = config;
        let mut set: Vec<&str> = Vec::new();
        if let Some(n) = self.query_count {
            c.query_count = n;
            set.push("query_count");
        }
        if let Some(n) = self.max_concurrent {
            c.parallel_execution.max_concurrent = n;
            set.push("parallel_execution.max_concurrent");
        }
        match self.pacing {
            Some(Pacing::PerSecond(r)) => {
                c.parallel_execution.rate_limit_per_second = Some(r);
                set.push("parallel_execution.rate_limit_per_second");
            }
            Some(Pacing::Unpaced) => c.parallel_execution.rate_limit_per_second = None,
            None => {}
        }
        if let Some(s) = self.seed {
            c.seed = s;
        }
        if let Some(t) = self.query_timeout {
            c.query_timeout = t;
            set.push("query_timeout");
        }
        if let Some(p) = &self.database {
            c.database_path = p.clone();
        }
        if let Some(p) = &self.out {
            c.output_dir = p.clone();
        }
        if let Some(t) = &self.target {
            c.set_target_flag(t)?;
        }
        if let Some(s) = self.scale {
            c.synthetic_testing.scale = Some(s);
            set.push("synthetic_testing.scale");
        }
        c.synthetic_testing
            .scenario_paths
            .extend(self.scenario_paths.iter().cloned());
        if let Some(url) = &self.history_url {
            c.set_history_url_flag(url)?;
        }
        if let Some(q) = &self.questions {
            c.questions = Some(q.clone());
        }
        if let Some(g) = self.grounding {
            c.grounding = g;
        }
        if self.allow_other_target {
            c.performance_baselines.allow_other_target = true;
        }
        for (on, enabled) in [
            (self.parallel, &mut c.parallel_execution.enabled),
            (self.baselines, &mut c.performance_baselines.enabled),
            (self.regression, &mut c.regression_testing.enabled),
            (self.synthetic, &mut c.synthetic_testing.enabled),
        ] {
            if let Some(on) = on {
                *enabled = on;
            }
        }
        shape(c)?;
        c.validate().map_err(|e| named_by_flag(e, &set))?;
        if let Some(shard) = &self.shard {
            shard.apply(c)?;
        }
        Ok(())
    }
}

/// `e` under the flag's name when a flag set its key (the key in brackets, so the file's
/// name is still there to find).
fn named_by_flag(e: ConfigError, set: &[&str]) -> ConfigError {
    if !set.contains(&e.key.as_str()) {
        return e;
    }
    let flag = FLAG_OF
        .iter()
        .find(|(k, _)| *k == e.key)
        .map_or(e.key.as_str(), |(_, f)| f);
    ConfigError::new(format!("{flag} ({})", e.key), e.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_flag_value_is_named_by_the_flag_and_a_bad_file_value_by_its_key() {
        let mut c = Config::default();
        let o = Overrides {
            max_concurrent: Some(0),
            ..Overrides::default()
        };
        let e = o.apply(&mut c).unwrap_err().to_string();
        assert!(
            e.contains("--max-concurrent (parallel_execution.max_concurrent)"),
            "{e}"
        );
        let mut c = Config::default();
        let e = Overrides {
            query_timeout: Some(f64::NAN),
            ..Overrides::default()
        }
        .apply(&mut c)
        .unwrap_err()
        .to_string();
        assert!(e.contains("--query-timeout (query_timeout)"), "{e}");
        // The file's own bad value keeps its key.
        let mut c = Config {
            query_timeout: -1.0,
            ..Config::default()
        };
        let e = Overrides::default().apply(&mut c).unwrap_err().to_string();
        assert!(
            e.contains("query_timeout") && !e.contains("--query-timeout"),
            "{e}"
        );
    }

    #[test]
    fn flags_win_over_the_file_and_unset_flags_leave_it_alone() {
        let mut c = Config {
            seed: 7,
            ..Config::default()
        };
        c.parallel_execution.rate_limit_per_second = Some(3.0);
        let o = Overrides {
            query_count: Some(9),
            pacing: Some(Pacing::Unpaced),
            synthetic: Some(false),
            grounding: Some(Grounding::Off),
            ..Overrides::default()
        };
        o.apply(&mut c).unwrap();
        assert_eq!(c.query_count, 9);
        assert_eq!(c.parallel_execution.rate_limit_per_second, None);
        assert!(!c.synthetic_testing.enabled);
        assert!(c.performance_baselines.enabled, "untouched");
        assert_eq!(c.grounding, Grounding::Off);
        assert_eq!(c.seed, 7, "untouched");
    }
}
