//! Distributed runs, the shard side: which shard this process is (a flag, or the index an
//! engine sets: Kubernetes' `JOB_COMPLETION_INDEX`, GitLab's `CI_NODE_INDEX`), the shared
//! start instant, the configuration digest shards are matched by, and the metadata a
//! shard's result carries. The merge is in `merge.rs`.

use chrono::{DateTime, Utc};
use perf_core::record::{ShardInfo, SHARD_FORMAT_VERSION};
use perf_core::{ConfigError, Shard};

use crate::Config;

/// The furthest ahead `--start-at` may be.
pub const MAX_START_AHEAD: chrono::Duration = chrono::Duration::hours(24);

/// Where this process learns which shard it is, as the binaries' flags give it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardRequest {
    /// `--shard I/N` (1-based).
    pub shard: Option<String>,
    /// `--shard-total N`: the total for an engine's index variable that carries none
    /// (`JOB_COMPLETION_INDEX`); the configuration's `shards` otherwise.
    pub total: Option<u32>,
    /// `--start-at TIME` (see [`parse_start_at`]).
    pub start_at: Option<String>,
}

impl ShardRequest {
    /// Sets `config.shard` (see [`ShardRequest::resolve`], with the process's environment)
    /// and `config.start_at` (checked against the clock now).
    pub fn apply(&self, config: &mut Config) -> Result<(), ConfigError> {
        config.shard = self.resolve(config.shards, |k| std::env::var(k).ok())?;
        if let Some(t) = &self.start_at {
            config.start_at = Some(parse_start_at(t, Utc::now())?);
        }
        Ok(())
    }

    /// The shard: `--shard` first, then `JOB_COMPLETION_INDEX` (0-based, total from
    /// `--shard-total` or `shards`, one of which must be given), then
    /// `CI_NODE_INDEX`/`CI_NODE_TOTAL` (1-based, both set; `CI_NODE_TOTAL=1` alone, as
    /// GitLab sets it on every job that is not parallel, is the whole test), else the
    /// whole test. `env` reads a variable (`std::env::var` in the binaries). The error
    /// names the flag, key or variable.
    pub fn resolve(
        &self,
        config_shards: u32,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Shard, ConfigError> {
        if let Some(text) = &self.shard {
            let s = Shard::parse(text, "--shard")?;
            if let Some(t) = self.total.filter(|&t| t != s.total()) {
                return Err(ConfigError::new(
                    "--shard-total",
                    format!("{t} disagrees with --shard {text}: give one of them"),
                ));
            }
            return Ok(s);
        }
        let total = self.total.unwrap_or(config_shards);
        let number = |var: &str, text: String| {
            text.trim().parse::<u32>().map_err(|_| {
                ConfigError::new(
                    var,
                    format!("`{text}` is not a shard index: expected a whole number"),
                )
            })
        };
        if let Some(text) = env("JOB_COMPLETION_INDEX") {
            let index = number("JOB_COMPLETION_INDEX", text)?;
            // Kubernetes sets the index and nothing else: without a total from the flag or
            // the config, index 0 would silently run the whole test on every pod (and any
            // other index would be refused), so every index asks for the total.
            if self.total.is_none() && config_shards <= 1 {
                return Err(ConfigError::new(
                    "JOB_COMPLETION_INDEX",
                    format!(
                        "index {index} but no number of shards: give --shard-total N or the config key `shards` (the Job's completions)"
                    ),
                ));
            }
            return Shard::from_zero_based(index, total, "JOB_COMPLETION_INDEX");
        }
        match (env("CI_NODE_INDEX"), env("CI_NODE_TOTAL")) {
            (Some(text), Some(t)) => {
                let index = number("CI_NODE_INDEX", text)?;
                let total = number("CI_NODE_TOTAL", t)?;
                return Shard::new(index, total, "CI_NODE_INDEX");
            }
            (Some(text), None) => {
                return Err(ConfigError::new(
                    "CI_NODE_INDEX",
                    format!(
                        "`{text}` is set but CI_NODE_TOTAL is not: set both (GitLab's `parallel:` does), or give --shard I/N"
                    ),
                ));
            }
            // GitLab sets CI_NODE_TOTAL=1 on every job that is not parallel: that is the
            // whole test. A larger total without an index cannot say which shard this is.
            (None, Some(t)) => {
                let n = number("CI_NODE_TOTAL", t)?;
                if n > 1 {
                    return Err(ConfigError::new(
                        "CI_NODE_TOTAL",
                        format!(
                            "{n} shards but CI_NODE_INDEX is not set: set CI_NODE_INDEX to this job's shard (1 to {n}), or give --shard I/{n}"
                        ),
                    ));
                }
            }
            (None, None) => {}
        }
        if total > 1 {
            return Err(ConfigError::new(
                "shards",
                format!(
                    "the test is split into {total} shards but this process was not told which one it is: give --shard I/{total}, or run it where JOB_COMPLETION_INDEX or CI_NODE_INDEX is set"
                ),
            ));
        }
        Ok(Shard::WHOLE)
    }
}

/// Parses `--start-at`: RFC 3339 (`2026-11-26T17:00:00Z`) or Unix seconds. The instant
/// must be after `now` and at most [`MAX_START_AHEAD`] later.
pub fn parse_start_at(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ConfigError> {
    let key = "--start-at";
    let t = text.trim();
    let at = if let Ok(secs) = t.parse::<f64>() {
        if !secs.is_finite() || secs < 0.0 {
            return Err(ConfigError::new(key, format!("`{text}` is not a time")));
        }
        DateTime::<Utc>::from_timestamp(secs.trunc() as i64, (secs.fract() * 1e9) as u32)
            .ok_or_else(|| ConfigError::new(key, format!("`{text}` is out of range")))?
    } else {
        DateTime::parse_from_rfc3339(t)
            .map_err(|e| {
                ConfigError::new(
                    key,
                    format!("`{text}` is not a time ({e}): give RFC 3339 such as 2026-11-26T17:00:00Z, or Unix seconds"),
                )
            })?
            .with_timezone(&Utc)
    };
    if at <= now {
        return Err(ConfigError::new(
            key,
            format!(
                "{} is in the past (now is {}): give a start a little ahead, e.g. `date -u -d '+2 min' +%s`",
                at.to_rfc3339(),
                now.to_rfc3339()
            ),
        ));
    }
    if at - now > MAX_START_AHEAD {
        return Err(ConfigError::new(
            key,
            format!(
                "{} is more than 24 hours ahead: a typo in the date? give a start within the day",
                at.to_rfc3339()
            ),
        ));
    }
    Ok(at)
}

/// A stable hash of the configuration shards must share: the JSON of `config` with keys
/// sorted and this machine's paths (`output_dir`, `database_path`, `history_path`) and
/// `record_history` left out, hashed with 64-bit FNV-1a. Shown as `fnv1a64:<16 hex>`.
pub fn config_digest(config: &Config) -> String {
    value_digest(&serde_json::to_value(config).unwrap_or_default())
}

/// [`config_digest`] of a configuration as JSON (the `config` a result carries), the same
/// keys left out.
pub(crate) fn value_digest(v: &serde_json::Value) -> String {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        for k in [
            "output_dir",
            "database_path",
            "history_path",
            "record_history",
        ] {
            o.remove(k);
        }
    }
    let mut text = String::new();
    canonical(&v, &mut text);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("fnv1a64:{h:016x}")
}

/// JSON with object keys sorted, whatever serde_json's map order.
fn canonical(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&o[k], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// This machine's host name (`HOSTNAME`, else the kernel's), `unknown` when neither.
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Waits for `config.start_at` when set, then returns the shard metadata of this run
/// (`None` for a whole test without a start instant): the instant execution began and,
/// with `start_at`, how late that was by this machine's clock. A start instant already
/// passed (the earlier phases took longer) does not wait and shows as lateness.
pub(crate) async fn wait_for_start(config: &Config) -> Option<ShardInfo> {
    if let Some(at) = config.start_at {
        let ahead = (at - Utc::now()).to_std().unwrap_or_default();
        if !ahead.is_zero() {
            // tokio's timer has 1 ms steps and wakes after them: it sleeps to 3 ms before
            // the instant. The rest is one blocking sleep on the kernel's high-resolution
            // timer (tens of µs late; it blocks this thread for at most 3 ms, before any
            // query is sent), then a spin over what is left of it. Spinning the whole last
            // stretch, as before, made shard processes sharing a machine's cores take the
            // cores from each other right at the start (8.2 ms spread with 4 shards on 2
            // cores, docs/performance.md).
            let coarse = ahead.saturating_sub(std::time::Duration::from_millis(3));
            tokio::time::sleep(coarse).await;
            let rest = (at - Utc::now()).to_std().unwrap_or_default();
            let slack = std::time::Duration::from_micros(100);
            if rest > slack {
                std::thread::sleep(rest - slack);
            }
            while Utc::now() < at {
                std::hint::spin_loop();
            }
        }
    }
    let began = Utc::now();
    if config.shard.is_whole() && config.start_at.is_none() {
        return None;
    }
    Some(ShardInfo {
        format_version: SHARD_FORMAT_VERSION,
        number: config.shard.number(),
        total: config.shard.total(),
        seed: config.seed,
        config_digest: config_digest(config),
        start_at: config
            .start_at
            .map(|a| a.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        execution_started_at: began.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        start_lateness_ms: config
            .start_at
            .map(|a| (began - a).num_microseconds().unwrap_or(0) as f64 / 1e3),
        host: host_name(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_flag_then_the_engines_variables_pick_the_shard() {
        let flag = ShardRequest {
            shard: Some("2/4".into()),
            ..ShardRequest::default()
        };
        assert_eq!(flag.resolve(1, env(&[])).unwrap().to_string(), "2/4");
        let k8s = ShardRequest {
            total: Some(4),
            ..ShardRequest::default()
        };
        let s = k8s
            .resolve(1, env(&[("JOB_COMPLETION_INDEX", "0")]))
            .unwrap();
        assert_eq!(s.to_string(), "1/4");
        // The total can come from the config's `shards`.
        let s = ShardRequest::default()
            .resolve(4, env(&[("JOB_COMPLETION_INDEX", "3")]))
            .unwrap();
        assert_eq!(s.to_string(), "4/4");
        let s = ShardRequest::default()
            .resolve(1, env(&[("CI_NODE_INDEX", "3"), ("CI_NODE_TOTAL", "3")]))
            .unwrap();
        assert_eq!(s.to_string(), "3/3");
        assert_eq!(
            ShardRequest::default().resolve(1, env(&[])).unwrap(),
            Shard::WHOLE
        );
    }

    #[test]
    fn bad_indexes_name_their_source() {
        let check = |req: ShardRequest, shards: u32, vars: &[(&str, &str)], key: &str| {
            let e = req.resolve(shards, env(vars)).unwrap_err();
            assert_eq!(e.key, key, "{}", e.message);
        };
        let flag = |s: &str| ShardRequest {
            shard: Some(s.into()),
            ..ShardRequest::default()
        };
        check(flag("5/4"), 1, &[], "--shard");
        check(flag("1/0"), 1, &[], "--shard");
        check(
            ShardRequest {
                shard: Some("1/4".into()),
                total: Some(3),
                start_at: None,
            },
            1,
            &[],
            "--shard-total",
        );
        check(
            ShardRequest::default(),
            4,
            &[("JOB_COMPLETION_INDEX", "4")],
            "JOB_COMPLETION_INDEX",
        );
        check(
            ShardRequest::default(),
            1,
            &[("JOB_COMPLETION_INDEX", "2")],
            "JOB_COMPLETION_INDEX",
        );
        check(
            ShardRequest::default(),
            1,
            &[("CI_NODE_INDEX", "0"), ("CI_NODE_TOTAL", "2")],
            "CI_NODE_INDEX",
        );
        check(ShardRequest::default(), 3, &[], "shards");
    }

    /// Issue #28 item 8: an engine's variable that cannot name a shard alone is a usage
    /// error naming the variable and what to set, never a silent whole-test run.
    #[test]
    fn an_index_or_a_total_alone_is_a_usage_error_naming_what_to_set() {
        let check = |vars: &[(&str, &str)], key: &str, words: &[&str]| {
            let e = ShardRequest::default().resolve(1, env(vars)).unwrap_err();
            assert_eq!(e.key, key, "{}", e.message);
            for w in words {
                assert!(e.message.contains(w), "{w}: {}", e.message);
            }
        };
        // Index 0 used to run the whole test as a plain run.
        check(
            &[("JOB_COMPLETION_INDEX", "0")],
            "JOB_COMPLETION_INDEX",
            &["--shard-total", "`shards`"],
        );
        check(
            &[("CI_NODE_INDEX", "1")],
            "CI_NODE_INDEX",
            &["CI_NODE_TOTAL", "set both"],
        );
        check(
            &[("CI_NODE_TOTAL", "3")],
            "CI_NODE_TOTAL",
            &["CI_NODE_INDEX", "1 to 3"],
        );
        // An explicit total of one is a deliberate whole test, and so is GitLab's
        // CI_NODE_TOTAL=1 on a job that is not parallel.
        let one = ShardRequest {
            total: Some(1),
            ..ShardRequest::default()
        };
        assert_eq!(
            one.resolve(1, env(&[("JOB_COMPLETION_INDEX", "0")]))
                .unwrap(),
            Shard::WHOLE
        );
        assert_eq!(
            ShardRequest::default()
                .resolve(1, env(&[("CI_NODE_TOTAL", "1")]))
                .unwrap(),
            Shard::WHOLE
        );
    }

    #[test]
    fn start_times_in_the_past_or_days_ahead_are_refused() {
        let now = DateTime::parse_from_rfc3339("2026-11-26T17:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = parse_start_at("2026-11-26T17:01:00Z", now).unwrap();
        assert_eq!((at - now).num_seconds(), 60);
        let unix = parse_start_at(&(now.timestamp() + 30).to_string(), now).unwrap();
        assert_eq!((unix - now).num_seconds(), 30);
        for bad in [
            "2026-11-26T16:59:00Z",
            "2026-11-28T17:00:00Z",
            "tomorrow",
            "-5",
        ] {
            let e = parse_start_at(bad, now).unwrap_err();
            assert_eq!(e.key, "--start-at");
        }
        assert!(parse_start_at("2026-11-26T16:59:00Z", now)
            .unwrap_err()
            .message
            .contains("past"));
    }

    #[test]
    fn the_digest_ignores_this_machines_paths_but_not_the_test() {
        let a = Config::default();
        let mut b = a.clone();
        b.output_dir = "/elsewhere".into();
        b.database_path = "/tmp/db.sqlite".into();
        assert_eq!(config_digest(&a), config_digest(&b));
        b.query_count += 1;
        assert_ne!(config_digest(&a), config_digest(&b));
        let mut c = a.clone();
        c.seed = 7;
        assert_ne!(config_digest(&a), config_digest(&c));
        assert!(config_digest(&a).starts_with("fnv1a64:"));
    }
}
