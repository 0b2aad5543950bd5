use serde::{Deserialize, Serialize};

use crate::record::ResourcePeaks;
use crate::ConfigError;

/// Version of the shard metadata ([`ShardInfo`]) a result carries; a merge refuses a
/// newer one.
pub const SHARD_FORMAT_VERSION: u32 = 1;

/// The most shards a test may be split into.
pub const MAX_SHARDS: u32 = 10_000;

/// Which slice of a distributed test this process runs: shard `number` of `total`,
/// numbered from 1 (like `--shard 2/4`, Playwright's and Jest's `--shard`, and GitLab's
/// `CI_NODE_INDEX`; a Kubernetes `JOB_COMPLETION_INDEX` of 0 is shard 1).
///
/// Work is dealt round-robin: item `k` (an open-loop arrival, a closed-loop user, a query
/// or a chain of queries) belongs to the shard whose [`Shard::slot`] is `k % total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    number: u32,
    total: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Self::WHOLE
    }
}

impl Shard {
    /// The whole test on one machine: shard 1 of 1.
    pub const WHOLE: Shard = Shard {
        number: 1,
        total: 1,
    };

    /// Shard `number` (1-based) of `total`; the error names `key`.
    pub fn new(number: u32, total: u32, key: &str) -> Result<Self, ConfigError> {
        if total == 0 {
            return Err(ConfigError::new(
                key,
                "the number of shards is 0: give at least 1",
            ));
        }
        if total > MAX_SHARDS {
            return Err(ConfigError::new(
                key,
                format!("{total} shards is more than the {MAX_SHARDS} supported"),
            ));
        }
        if number == 0 || number > total {
            return Err(ConfigError::new(
                key,
                format!(
                    "shard {number} is out of range: shards are numbered 1 to {total} (a 0-based index such as JOB_COMPLETION_INDEX is read with its own variable)"
                ),
            ));
        }
        Ok(Self { number, total })
    }

    /// Shard `index` (0-based, as Kubernetes' `JOB_COMPLETION_INDEX`) of `total`.
    pub fn from_zero_based(index: u32, total: u32, key: &str) -> Result<Self, ConfigError> {
        if total != 0 && index >= total {
            return Err(ConfigError::new(
                key,
                format!("index {index} is out of range: 0-based indexes go from 0 to {} for {total} shards", total - 1),
            ));
        }
        Self::new(index.saturating_add(1), total, key)
    }

    /// Parses `I/N` (1-based, e.g. `2/4`); the error names `key`.
    pub fn parse(text: &str, key: &str) -> Result<Self, ConfigError> {
        let bad = || {
            ConfigError::new(
                key,
                format!("`{text}` is not a shard: write I/N, e.g. 1/4 for the first of four"),
            )
        };
        let (i, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let i: u32 = i.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        Self::new(i, n, key)
    }

    /// 1-based number.
    pub fn number(self) -> u32 {
        self.number
    }

    /// Number of shards.
    pub fn total(self) -> u32 {
        self.total
    }

    /// 0-based position: item `k` belongs to this shard when `k % total == slot`.
    pub fn slot(self) -> u64 {
        u64::from(self.number - 1)
    }

    /// `true` for a test that is not split.
    pub fn is_whole(self) -> bool {
        self.total == 1
    }

    /// Whether item `k` (0-based, in the test's one-machine order) is this shard's.
    pub fn owns(self, k: u64) -> bool {
        k % u64::from(self.total) == self.slot()
    }

    /// How many of `n` items dealt round-robin are this shard's.
    pub fn share_of(self, n: u64) -> u64 {
        let total = u64::from(self.total);
        n / total + u64::from(n % total > self.slot())
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.number, self.total)
    }
}

/// What a shard's result says about the shard, so a merge can check that shards belong
/// together and show how each ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// [`SHARD_FORMAT_VERSION`].
    pub format_version: u32,
    /// 1-based shard number.
    pub number: u32,
    /// Number of shards in the test.
    pub total: u32,
    /// The seed every shard must share.
    pub seed: u64,
    /// Stable hash of the normalized configuration (paths of this machine left out).
    pub config_digest: String,
    /// The shared start instant (`--start-at`), RFC 3339, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    /// When this shard's execution actually began, RFC 3339 with microseconds, by its
    /// own clock.
    pub execution_started_at: String,
    /// How late the start was after `start_at`, by this machine's clock, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_lateness_ms: Option<f64>,
    /// Host name of the machine.
    pub host: String,
}

/// One shard as a merged result shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardSummary {
    /// 1-based shard number.
    pub number: u32,
    /// Host name.
    pub host: String,
    /// The report directory it came from.
    pub source: String,
    /// When its execution began, RFC 3339.
    pub execution_started_at: String,
    /// Its start after the earliest shard's, milliseconds.
    pub start_offset_ms: f64,
    /// Its start after `start_at`, milliseconds, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_lateness_ms: Option<f64>,
    /// Samples it recorded.
    pub count: u64,
    /// Queries it sent per second of its wall time.
    pub sent_per_s: f64,
    /// Its execution wall time, seconds.
    pub wall_time_s: f64,
    /// Its resource peaks.
    pub resource_peaks: ResourcePeaks,
    /// Started more than [`MergeInfo::LAG_LIMIT_MS`] after the shared instant.
    pub lagged: bool,
    /// Its harness saturated a core of its machine.
    pub saturated: bool,
}

/// How a merged result was put together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeInfo {
    /// Shards the test was split into.
    pub total: u32,
    /// The shards merged, by number.
    pub shards: Vec<ShardSummary>,
    /// Shard numbers with no result: the merge is incomplete when any is missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<u32>,
    /// The shared seed.
    pub seed: u64,
    /// The shared configuration digest.
    pub config_digest: String,
}

impl MergeInfo {
    /// A shard that started more than this many milliseconds after the shared instant
    /// (or after the earliest shard, without one) lagged.
    pub const LAG_LIMIT_MS: f64 = 50.0;

    /// `true` when every shard's result was merged.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_with_the_key() {
        let s = Shard::parse("2/4", "--shard").unwrap();
        assert_eq!((s.number(), s.total(), s.slot()), (2, 4, 1));
        assert_eq!(s.to_string(), "2/4");
        for bad in ["0/4", "5/4", "1/0", "x/2", "3", "1/20000"] {
            let e = Shard::parse(bad, "--shard").unwrap_err();
            assert_eq!(e.key, "--shard", "{bad}");
        }
        assert_eq!(
            Shard::from_zero_based(3, 4, "JOB_COMPLETION_INDEX")
                .unwrap()
                .number(),
            4
        );
        let e = Shard::from_zero_based(4, 4, "JOB_COMPLETION_INDEX").unwrap_err();
        assert!(e.message.contains("0 to 3"), "{}", e.message);
    }

    #[test]
    fn shares_add_up_and_every_item_has_one_owner() {
        for total in 1..=7u32 {
            let shards: Vec<Shard> = (1..=total)
                .map(|i| Shard::new(i, total, "s").unwrap())
                .collect();
            for n in 0..30u64 {
                let sum: u64 = shards.iter().map(|s| s.share_of(n)).sum();
                assert_eq!(sum, n);
                for k in 0..n {
                    assert_eq!(shards.iter().filter(|s| s.owns(k)).count(), 1);
                }
                for s in &shards {
                    assert_eq!(s.share_of(n), (0..n).filter(|&k| s.owns(k)).count() as u64);
                }
            }
        }
    }
}
