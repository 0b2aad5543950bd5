use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use perf_core::record::{GroupStats, GroupSummary, ResourcePeaks, RunResult};
use perf_core::LatencyHistogram;
use serde::{Deserialize, Serialize};

use crate::BaselineError;

/// Version of the baseline file format. Bumped on any incompatible change; files with a
/// larger version are refused with a clear error.
pub const BASELINE_FORMAT_VERSION: u32 = 1;

/// Where and with what a run was measured. Two baselines from different environments can
/// still be compared, but the comparison lists the differences.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentFingerprint {
    /// Operating system, e.g. `linux` plus its version when known.
    pub os: String,
    /// CPU architecture, e.g. `x86_64`.
    pub arch: String,
    /// CPU model name, when known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cpu_model: String,
    /// Logical cores available to the harness.
    pub cores: usize,
    /// Version of the harness that measured.
    pub harness_version: String,
    /// The target: `name version (transport)`.
    pub target: String,
    /// The target's identity, `name (transport)` ([`target_key`]); empty in files written
    /// before it was stored, where [`EnvironmentFingerprint::target_identity`] derives it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target_key: String,
    /// Git commit of the code under test, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
}

impl EnvironmentFingerprint {
    /// Fingerprints this machine for `target`. The git commit comes from `GITHUB_SHA` or
    /// `CI_COMMIT_SHA` when set, else from `git rev-parse HEAD` in the current directory;
    /// it is `None` when neither works.
    pub fn detect(target: &perf_core::TargetInfo, harness_version: &str) -> Self {
        use sysinfo::{CpuRefreshKind, RefreshKind, System};
        let sys =
            System::new_with_specifics(RefreshKind::nothing().with_cpu(CpuRefreshKind::nothing()));
        let cpu_model = sys
            .cpus()
            .first()
            .map(|c| c.brand().trim().to_owned())
            .unwrap_or_default();
        let os = match System::long_os_version() {
            Some(v) => format!("{} ({v})", std::env::consts::OS),
            None => std::env::consts::OS.to_owned(),
        };
        Self {
            os,
            arch: std::env::consts::ARCH.to_owned(),
            cpu_model,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            harness_version: harness_version.to_owned(),
            target: describe_target(target),
            target_key: target_key(target),
            git_commit: detect_git_commit(),
        }
    }

    /// The fields that differ from `other`, one line each. The git commit and the target's
    /// version are not environment: they are what a comparison is meant to measure.
    pub fn differences(&self, other: &EnvironmentFingerprint) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |field: &str, base: &str, current: &str| {
            if base != current {
                out.push(format!("{field}: baseline `{base}`, this run `{current}`"));
            }
        };
        check("os", &self.os, &other.os);
        check("arch", &self.arch, &other.arch);
        check("cpu_model", &self.cpu_model, &other.cpu_model);
        check("cores", &self.cores.to_string(), &other.cores.to_string());
        check(
            "harness_version",
            &self.harness_version,
            &other.harness_version,
        );
        check("target", &self.target_identity(), &other.target_identity());
        out
    }
}

impl EnvironmentFingerprint {
    /// The target as a comparison must match it: `name (transport)`, without the version
    /// (a new version of the same bot is what a comparison measures). Empty when the
    /// baseline recorded no target.
    pub fn target_identity(&self) -> String {
        if self.target_key.is_empty() {
            legacy_target_key(&self.target)
        } else {
            self.target_key.clone()
        }
    }
}

/// The identity of a bot under test: `name (transport)`, without the version. Baselines
/// and the run history keep bots apart by it.
pub fn target_key(t: &perf_core::TargetInfo) -> String {
    format!("{} ({})", t.name, t.transport)
}

/// [`target_key`] from a stored `name version (transport)` of a file or row written before
/// keys were stored: the word before `(transport)` is taken for the version when it starts
/// with a digit.
pub(crate) fn legacy_target_key(described: &str) -> String {
    let Some(open) = described.rfind(" (") else {
        return described.to_owned();
    };
    let (head, transport) = described.split_at(open);
    match head.rsplit_once(' ') {
        Some((name, version)) if version.starts_with(|c: char| c.is_ascii_digit()) => {
            format!("{name}{transport}")
        }
        _ => described.to_owned(),
    }
}

/// A target described as fingerprints record it: `name version (transport)`.
pub fn describe_target(t: &perf_core::TargetInfo) -> String {
    match &t.version {
        Some(v) => format!("{} {v} ({})", t.name, t.transport),
        None => format!("{} ({})", t.name, t.transport),
    }
}

fn detect_git_commit() -> Option<String> {
    for var in ["GITHUB_SHA", "CI_COMMIT_SHA"] {
        if let Ok(v) = std::env::var(var) {
            if !v.trim().is_empty() {
                return Some(v.trim().to_owned());
            }
        }
    }
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let s = String::from_utf8(out.stdout).ok()?;
    let s = s.trim();
    (out.status.success() && !s.is_empty()).then(|| s.to_owned())
}

/// The stored figures of one key (the whole run, one agent, one category or one scenario).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineGroup {
    /// Counts, success rate, latency summary (mean, P50, P95, P99, ...), routing.
    pub summary: GroupSummary,
    /// The full latency distribution, so later runs can be tested against it.
    pub latency: LatencyHistogram,
    /// Answered queries per agent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub agent_usage: BTreeMap<String, u64>,
    /// The full time-to-first-token distribution of streamed answers; empty (and left out
    /// of the file) when nothing streamed or the baseline predates streaming figures.
    #[serde(default, skip_serializing_if = "LatencyHistogram::is_empty")]
    pub ttft: LatencyHistogram,
    /// The full inter-token latency distribution (each streamed answer's mean gap).
    #[serde(default, skip_serializing_if = "LatencyHistogram::is_empty")]
    pub itl: LatencyHistogram,
    /// The full time-per-output-token distribution.
    #[serde(default, skip_serializing_if = "LatencyHistogram::is_empty")]
    pub tpot: LatencyHistogram,
}

impl BaselineGroup {
    /// The figures of a group of a run that lasted `wall_time_s`.
    pub fn from_stats(g: &GroupStats, wall_time_s: f64) -> Self {
        Self {
            summary: g.summary(wall_time_s),
            latency: g.latency.clone(),
            agent_usage: g.agent_usage.clone(),
            ttft: g.ttft.clone(),
            itl: g.itl.clone(),
            tpot: g.tpot.clone(),
        }
    }
}

/// Mean, spread and peak of one resource over a run's monitor readings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadingStats {
    /// Readings.
    pub count: u64,
    /// Mean of the readings.
    pub mean: f64,
    /// Sample standard deviation of the readings.
    pub stdev: f64,
    /// Largest reading.
    pub max: f64,
}

impl ReadingStats {
    fn from_values(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let (mean, var) = crate::stats::mean_variance(values);
        Some(Self {
            count: values.len() as u64,
            mean,
            stdev: var.sqrt(),
            max: values.iter().copied().fold(f64::MIN, f64::max),
        })
    }
}

/// Memory and CPU over a run: of the target process when it was monitored, else of the
/// system. Peaks are what the original suite compares; the readings let us test them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceStats {
    /// `target` or `system`.
    pub source: String,
    /// Memory in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<ReadingStats>,
    /// CPU in percent (of one core for the target, of all cores for the system).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<ReadingStats>,
}

impl ResourceStats {
    /// From a run's readings, falling back to its peaks when it kept no readings.
    pub fn from_run(run: &RunResult) -> Self {
        let target_mem: Vec<f64> = run
            .resources
            .iter()
            .filter_map(|r| r.target_memory_mb)
            .collect();
        let target_cpu: Vec<f64> = run
            .resources
            .iter()
            .filter_map(|r| r.target_cpu_percent.map(f64::from))
            .collect();
        if !target_mem.is_empty() || !target_cpu.is_empty() {
            return Self {
                source: "target".into(),
                memory_mb: ReadingStats::from_values(&target_mem),
                cpu_percent: ReadingStats::from_values(&target_cpu),
            };
        }
        if !run.resources.is_empty() {
            let mem: Vec<f64> = run.resources.iter().map(|r| r.system_memory_mb).collect();
            let cpu: Vec<f64> = run
                .resources
                .iter()
                .map(|r| f64::from(r.system_cpu_percent))
                .collect();
            return Self {
                source: "system".into(),
                memory_mb: ReadingStats::from_values(&mem),
                cpu_percent: ReadingStats::from_values(&cpu),
            };
        }
        let p = &run.resource_peaks;
        let single = |v: f64| {
            (v > 0.0).then_some(ReadingStats {
                count: 1,
                mean: v,
                stdev: 0.0,
                max: v,
            })
        };
        match (p.max_target_memory_mb, p.max_target_cpu_percent) {
            (None, None) if p.samples == 0 => Self::default(),
            (None, None) => Self {
                source: "system".into(),
                memory_mb: single(p.max_system_memory_mb),
                cpu_percent: single(f64::from(p.max_system_cpu_percent)),
            },
            (mem, cpu) => Self {
                source: "target".into(),
                memory_mb: mem.and_then(single),
                cpu_percent: cpu.map(f64::from).and_then(single),
            },
        }
    }
}

/// A named baseline: the figures of one run that later runs are compared with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// [`BASELINE_FORMAT_VERSION`].
    pub format_version: u32,
    /// The baseline's name (its file is `baselines/<name>.json`).
    pub name: String,
    /// When the baseline was made, RFC 3339 UTC.
    pub created_at: String,
    /// The run it was made from.
    pub run_id: String,
    /// When that run started.
    pub run_started_at: String,
    /// Where it was measured.
    pub environment: EnvironmentFingerprint,
    /// Digest of the effective configuration of that run (`fnv1a64:<hex>`).
    pub config_digest: String,
    /// All queries.
    pub overall: BaselineGroup,
    /// Per agent.
    #[serde(default)]
    pub per_agent: BTreeMap<String, BaselineGroup>,
    /// Per query category.
    #[serde(default)]
    pub per_category: BTreeMap<String, BaselineGroup>,
    /// Per scenario.
    #[serde(default)]
    pub per_scenario: BTreeMap<String, BaselineGroup>,
    /// Peak resource use.
    #[serde(default)]
    pub resource_peaks: ResourcePeaks,
    /// Memory and CPU readings summarized.
    #[serde(default)]
    pub resources: ResourceStats,
    /// Share of answered queries per agent.
    #[serde(default)]
    pub agent_distribution: BTreeMap<String, f64>,
    /// The run was cut short; such a baseline is only ever compared with, never saved
    /// (left out of files, where it is always false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// The capacity a gate's search found for this baseline (`ci-gate --capacity
    /// --update-baseline`); absent in baselines made without one, and in files written
    /// before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<BaselineCapacity>,
}

/// A capacity stored with a baseline: the search's answer and the objectives it was
/// searched against, so a later search is compared only under the same objectives.
/// Compared by `perf_suite::capacity_baseline_check` (`docs/capacity.md`, "Gate").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineCapacity {
    /// The capacity, queries per second: the highest rate that met every objective, or
    /// the service rate when saturation limited it.
    pub rate: f64,
    /// Lower end of the interval the capacity lies in (absent in baselines written before
    /// it was stored: then `rate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    /// Upper end (`None` when no rate tried failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
    /// The objectives the search used (the configuration's, with the search's defaults).
    pub slos: perf_core::record::Slos,
    /// The capacity run that found it.
    pub run_id: String,
}

impl BaselineCapacity {
    /// What to store from a capacity search: its capacity when it found one (`None` for
    /// "no rate meets the SLOs", "indeterminate" and "not measured": nothing to compare
    /// with later).
    pub fn of(report: &perf_core::record::CapacityReport) -> Option<Self> {
        match report.answer {
            perf_core::record::CapacityAnswer::Found { rate, low, high } => Some(Self {
                rate,
                low: Some(low),
                high,
                slos: report.slos,
                run_id: report.run_id.clone(),
            }),
            _ => None,
        }
    }

    /// Lower end of the interval.
    pub fn low(&self) -> f64 {
        self.low.unwrap_or(self.rate)
    }

    /// "1.860/s (between 1.860 and 1.960/s)", or "at least 1.860/s" when no rate failed.
    pub fn describe(&self) -> String {
        describe_capacity(self.rate, self.low(), self.high)
    }
}

/// "1.860/s (between 1.800 and 1.960/s)", or "at least 1.860/s (no rate tried failed)".
pub fn describe_capacity(rate: f64, low: f64, high: Option<f64>) -> String {
    match high {
        Some(h) => format!("{rate:.3}/s (between {low:.3} and {h:.3}/s)"),
        None => format!("at least {rate:.3}/s (no rate tried failed)"),
    }
}

impl Baseline {
    /// A baseline named `name` from `run`, measured in `environment`.
    pub fn from_run(name: &str, run: &RunResult, environment: EnvironmentFingerprint) -> Self {
        let w = run.wall_time_s;
        let groups = |m: &BTreeMap<String, GroupStats>| {
            m.iter()
                .map(|(k, g)| (k.clone(), BaselineGroup::from_stats(g, w)))
                .collect()
        };
        Self {
            format_version: BASELINE_FORMAT_VERSION,
            name: name.to_owned(),
            created_at: crate::time::now_rfc3339(),
            run_id: run.run_id.clone(),
            run_started_at: run.started_at.clone(),
            environment,
            config_digest: config_digest(&run.config),
            overall: BaselineGroup::from_stats(&run.overall, w),
            per_agent: groups(&run.per_agent),
            per_category: groups(&run.per_category),
            per_scenario: groups(&run.per_scenario),
            resource_peaks: run.resource_peaks.clone(),
            resources: ResourceStats::from_run(run),
            agent_distribution: agent_distribution(&run.overall.agent_usage),
            interrupted: run.interrupted,
            capacity: None,
        }
    }
}

/// Share of answered queries per agent (as `RunResult::summary` computes it, without
/// summarizing every group again).
fn agent_distribution(usage: &BTreeMap<String, u64>) -> BTreeMap<String, f64> {
    let answered: u64 = usage.values().sum();
    usage
        .iter()
        .map(|(k, v)| (k.clone(), *v as f64 / answered.max(1) as f64))
        .collect()
}

/// Keys that only say where files live: the same settings run from another checkout or a
/// temporary directory are still the same settings, so the digest leaves them out.
const LOCATION_KEYS: &[&str] = &[
    "database_path",
    "output_dir",
    "history_path",
    "history_url",
    "history_url_env",
    "baselines_dir",
    // How a run treats its baseline, not what it measures: the run that records a
    // baseline (`--update-baseline`) and the gates that compare with it
    // (`--strict-baseline`) have the same settings.
    "baseline_name",
    "missing_baseline",
    "auto_update_baselines",
    "allow_other_target",
];

/// A stable digest of a configuration value: FNV-1a (64 bit) over its canonical JSON
/// (object keys sorted; `database_path`, `output_dir`, `history_path`, `history_url`,
/// `history_url_env`, `baselines_dir` and the baseline-handling keys `baseline_name`,
/// `missing_baseline`, `auto_update_baselines` and `allow_other_target` left out at any
/// depth), as
/// `fnv1a64:<16 hex digits>`. It tells whether two runs used the same settings; it is not a
/// security hash.
pub fn config_digest(config: &serde_json::Value) -> String {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                map.retain(|k, _| !LOCATION_KEYS.contains(&k.as_str()));
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut config = config.clone();
    strip(&mut config);
    // serde_json's default map is ordered by key, so `to_string` is canonical.
    let text = config.to_string();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("fnv1a64:{h:016x}")
}

/// Whether an existing baseline may be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Fail with [`BaselineError::AlreadyExists`] when the file exists.
    CreateNew,
    /// Replace an existing file (atomically).
    Replace,
}

/// One line of `baseline list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineEntry {
    /// Baseline name.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// When it was made (empty when the file could not be read).
    pub created_at: String,
    /// The run it came from.
    pub run_id: String,
    /// Queries in that run.
    pub queries: u64,
    /// Success rate of that run.
    pub success_rate: f64,
    /// P95 latency of that run, ms.
    pub latency_p95_ms: f64,
    /// Why the file could not be read, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The `baselines/` directory: named baseline files, written atomically.
#[derive(Debug, Clone)]
pub struct BaselineStore {
    dir: PathBuf,
}

impl BaselineStore {
    /// The store in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of baseline `name`, after checking the name is safe as a file name.
    pub fn path_of(&self, name: &str) -> Result<PathBuf, BaselineError> {
        validate_name(name)?;
        Ok(self.dir.join(format!("{name}.json")))
    }

    /// Whether baseline `name` exists.
    pub fn exists(&self, name: &str) -> Result<bool, BaselineError> {
        Ok(self.path_of(name)?.is_file())
    }

    /// Makes baseline `name` from `run` and saves it; returns what was saved. An
    /// interrupted run is refused with [`BaselineError::IncompleteRun`] (see [`Self::save`]).
    pub fn create_from_run(
        &self,
        name: &str,
        run: &RunResult,
        environment: EnvironmentFingerprint,
        mode: WriteMode,
    ) -> Result<Baseline, BaselineError> {
        let baseline = Baseline::from_run(name, run, environment);
        self.save(&baseline, mode)?;
        Ok(baseline)
    }

    /// Saves `baseline` as `<dir>/<name>.json`: written to a temporary file in the same
    /// directory, flushed to disk, then renamed over the old file, so a crash leaves
    /// either the old baseline or the new one, never a torn file.
    ///
    /// A baseline made from an interrupted run ([`Baseline::interrupted`]) is refused with
    /// [`BaselineError::IncompleteRun`] before anything is written: every path that writes
    /// a baseline comes through here, so a partial run never becomes the reference.
    pub fn save(&self, baseline: &Baseline, mode: WriteMode) -> Result<PathBuf, BaselineError> {
        let path = self.path_of(&baseline.name)?;
        if baseline.interrupted {
            return Err(BaselineError::IncompleteRun {
                name: baseline.name.clone(),
                run_id: baseline.run_id.clone(),
            });
        }
        let mut json = serde_json::to_vec_pretty(baseline).map_err(|e| BaselineError::Corrupt {
            path: path.clone(),
            message: format!("cannot serialize: {e}"),
        })?;
        json.push(b'\n');
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| BaselineError::io("creating directory", &self.dir, e))?;
        write_atomic(&path, &json, mode, &baseline.name, |_| Ok(()))?;
        Ok(path)
    }

    /// Loads baseline `name`; a missing file is [`BaselineError::NotFound`], a damaged
    /// one [`BaselineError::Corrupt`], a newer format [`BaselineError::UnsupportedVersion`].
    pub fn load(&self, name: &str) -> Result<Baseline, BaselineError> {
        let path = self.path_of(name)?;
        let bytes = match read_limited(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BaselineError::NotFound {
                    name: name.to_owned(),
                    path,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                return Err(BaselineError::Corrupt {
                    path,
                    message: e.to_string(),
                })
            }
            Err(e) => return Err(BaselineError::io("reading", &path, e)),
        };
        parse_baseline(&path, &bytes)
    }

    /// Every `*.json` file in the directory, sorted by name; unreadable files are listed
    /// with their problem rather than failing the listing. A missing directory lists
    /// nothing.
    pub fn list(&self) -> Result<Vec<BaselineEntry>, BaselineError> {
        let read = match std::fs::read_dir(&self.dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(BaselineError::io("listing", &self.dir, e)),
        };
        let mut out = Vec::new();
        for entry in read {
            let entry = entry.map_err(|e| BaselineError::io("listing", &self.dir, e))?;
            let path = entry.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            if validate_name(name).is_err() || !path.is_file() {
                continue;
            }
            let mut e = BaselineEntry {
                name: name.to_owned(),
                path: path.clone(),
                created_at: String::new(),
                run_id: String::new(),
                queries: 0,
                success_rate: 0.0,
                latency_p95_ms: 0.0,
                problem: None,
            };
            match read_limited(&path)
                .map_err(|err| BaselineError::io("reading", &path, err))
                .and_then(|b| parse_baseline(&path, &b))
            {
                Ok(b) => {
                    e.created_at = b.created_at;
                    e.run_id = b.run_id;
                    e.queries = b.overall.summary.count;
                    e.success_rate = b.overall.summary.success_rate;
                    e.latency_p95_ms = b.overall.summary.latency.p95_ms;
                }
                Err(err) => e.problem = Some(err.to_string()),
            }
            out.push(e);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

fn validate_name(name: &str) -> Result<(), BaselineError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(BaselineError::InvalidName {
            name: name.to_owned(),
        })
    }
}

/// The largest baseline file read, bytes (64 MiB; the committed one of a full run is
/// about 100 KB): a larger file is refused as damaged before it is read.
pub const MAX_BASELINE_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The file's bytes, when it is at most [`MAX_BASELINE_FILE_BYTES`] long: the size is
/// checked before reading (a 1 GB sparse file is not read) and the read is capped, for a
/// file that grows meanwhile. A larger file is `FileTooLarge`.
fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let too_large = || {
        std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!(
                "larger than the {MAX_BASELINE_FILE_BYTES} bytes a baseline may have; it is not one of ours"
            ),
        )
    };
    let file = std::fs::File::open(path)?;
    if file.metadata()?.len() > MAX_BASELINE_FILE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(MAX_BASELINE_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_BASELINE_FILE_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Parses baseline file bytes: what [`BaselineStore::load`] does after reading. Public for
/// harnesses that keep baselines elsewhere and for the property tests; `path` names the
/// source in errors. Never panics on any input; the histograms it reads take at most 512
/// bytes per byte of the file, between 32 and 128 MiB (`perf_core::with_histogram_budget`).
pub fn parse_baseline(path: &Path, bytes: &[u8]) -> Result<Baseline, BaselineError> {
    let corrupt = |message: String| BaselineError::Corrupt {
        path: path.to_owned(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| corrupt(format!("invalid JSON: {e}")))?;
    let version = value
        .get("format_version")
        .ok_or_else(|| corrupt("no `format_version` field".into()))?
        .as_u64()
        .ok_or_else(|| corrupt("`format_version` is not a whole number".into()))?;
    if version > u64::from(BASELINE_FORMAT_VERSION) {
        return Err(BaselineError::UnsupportedVersion {
            path: path.to_owned(),
            found: version,
            supported: BASELINE_FORMAT_VERSION,
        });
    }
    // Each histogram may span up to an hour of microseconds (about 200 KiB) for a few
    // bytes of JSON: their memory is bounded per file, like a shard report's.
    let budget = bytes.len().saturating_mul(512).clamp(32 << 20, 128 << 20);
    let (parsed, _) =
        perf_core::with_histogram_budget(budget, || serde_json::from_value::<Baseline>(value));
    parsed.map_err(|e| corrupt(e.to_string()))
}

/// Writes `bytes` to `path` through a temporary file, fsync and rename. `before_commit`
/// runs after the data is durable in the temporary file and before it replaces `path`
/// (tests use it to simulate a crash at the worst moment).
pub(crate) fn write_atomic(
    path: &Path,
    bytes: &[u8],
    mode: WriteMode,
    name: &str,
    before_commit: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), BaselineError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("baseline");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(".{file_name}.tmp-{}-{nanos}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| BaselineError::io("creating", &tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| BaselineError::io("writing", &tmp, e))?;
        f.sync_all()
            .map_err(|e| BaselineError::io("flushing", &tmp, e))?;
        drop(f);
        before_commit(&tmp).map_err(|e| BaselineError::io("writing", &tmp, e))?;
        match mode {
            WriteMode::Replace => {
                std::fs::rename(&tmp, path).map_err(|e| BaselineError::io("replacing", path, e))
            }
            // A hard link fails if the target exists, so creating is atomic too.
            WriteMode::CreateNew => match std::fs::hard_link(&tmp, path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Err(BaselineError::AlreadyExists {
                        name: name.to_owned(),
                        path: path.to_owned(),
                    })
                }
                Err(_) if path.exists() => Err(BaselineError::AlreadyExists {
                    name: name.to_owned(),
                    path: path.to_owned(),
                }),
                // File systems without hard links: check-then-rename.
                Err(_) => {
                    std::fs::rename(&tmp, path).map_err(|e| BaselineError::io("creating", path, e))
                }
            },
        }
    })();
    // Gone already after a rename; removing the leftover otherwise.
    let _ = std::fs::remove_file(&tmp);
    if result.is_ok() {
        // Makes the rename itself durable; not possible on every platform.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for bad in ["", "../x", "a/b", ".hidden", "a b", "é"] {
            assert!(validate_name(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["production_baseline", "v1.2-rc", "x"] {
            validate_name(good).unwrap();
        }
    }

    #[test]
    fn digest_ignores_key_order_and_sees_values() {
        let a: serde_json::Value = serde_json::from_str(r#"{"a": 1, "b": [1, 2]}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"b": [1, 2], "a": 1}"#).unwrap();
        let c: serde_json::Value = serde_json::from_str(r#"{"b": [1, 2], "a": 2}"#).unwrap();
        assert_eq!(config_digest(&a), config_digest(&b));
        assert_ne!(config_digest(&a), config_digest(&c));
        assert!(config_digest(&a).starts_with("fnv1a64:"));
        let mut moved = a.clone();
        moved["output_dir"] = serde_json::json!("/tmp/elsewhere/reports");
        moved["database_path"] = serde_json::json!("/tmp/elsewhere/db.sqlite");
        assert_eq!(
            config_digest(&a),
            config_digest(&moved),
            "locations are not settings"
        );
        // The run that records a baseline and the gate that is strict about it measure
        // with the same settings.
        let mut gate = a.clone();
        gate["performance_baselines"] = serde_json::json!({
            "missing_baseline": "strict", "auto_update_baselines": true,
            "allow_other_target": true, "baseline_name": "my_bot"});
        let mut recorder = a.clone();
        recorder["performance_baselines"] = serde_json::json!({});
        assert_eq!(config_digest(&gate), config_digest(&recorder));
    }

    #[test]
    fn a_crash_before_the_rename_leaves_the_old_file_intact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.json");
        std::fs::write(&path, b"old").unwrap();
        let err = write_atomic(&path, b"new", WriteMode::Replace, "b", |tmp| {
            // The new content is complete and durable in the temporary file...
            assert_eq!(std::fs::read(tmp).unwrap(), b"new");
            // ...when the process "dies".
            Err(std::io::Error::other("simulated crash"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("simulated crash"));
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        // The temporary file is cleaned up.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn create_new_refuses_to_replace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.json");
        write_atomic(&path, b"one", WriteMode::CreateNew, "b", |_| Ok(())).unwrap();
        let err = write_atomic(&path, b"two", WriteMode::CreateNew, "b", |_| Ok(())).unwrap_err();
        assert!(matches!(err, BaselineError::AlreadyExists { .. }));
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        write_atomic(&path, b"three", WriteMode::Replace, "b", |_| Ok(())).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"three");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn environment_differences_ignore_commit_and_target_version() {
        let a = EnvironmentFingerprint {
            os: "linux".into(),
            arch: "x86_64".into(),
            cpu_model: "A".into(),
            cores: 2,
            harness_version: "0.1.0".into(),
            target: "refbot 0.1.0 (in_process)".into(),
            target_key: "refbot (in_process)".into(),
            git_commit: Some("abc".into()),
        };
        let mut b = a.clone();
        b.git_commit = Some("def".into());
        b.target = "refbot 0.2.0 (in_process)".into();
        assert!(a.differences(&b).is_empty());
        b.cores = 8;
        b.target = "otherbot (http)".into();
        b.target_key = "otherbot (http)".into();
        let d = a.differences(&b);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].contains("cores"));
    }

    #[test]
    fn old_files_and_rows_get_their_target_key_from_the_described_target() {
        for (described, key) in [
            ("refbot 0.1.0 (in_process)", "refbot (in_process)"),
            ("127.0.0.1:8090/chat (http)", "127.0.0.1:8090/chat (http)"),
            // A command's name has spaces: only a version-like last word is dropped.
            (
                "python3 examples/bots/support_bot.py --stdio (command)",
                "python3 examples/bots/support_bot.py --stdio (command)",
            ),
            ("my bot 2.3 (http)", "my bot (http)"),
            ("", ""),
        ] {
            assert_eq!(legacy_target_key(described), key, "{described}");
        }
        let old = EnvironmentFingerprint {
            target: "refbot 0.1.0 (in_process)".into(),
            ..EnvironmentFingerprint::default()
        };
        assert_eq!(old.target_identity(), "refbot (in_process)");
        let t = perf_core::TargetInfo {
            name: "python3 bot.py 2".into(),
            version: None,
            transport: perf_core::Transport::Command,
        };
        assert_eq!(target_key(&t), "python3 bot.py 2 (command)");
    }
}
