//! Distributed runs, the merge: shard results (`report.json` files) combined exactly into
//! one result, then phases 5 and 6, the history record and the full report set, so one
//! verdict covers every shard.
//!
//! The merge reads the histograms in the report files, never the samples, so its memory
//! does not grow with the number of queries. It reads every file twice: once for the
//! metadata (so a mismatch is refused before any work), once to add the figures, parsed
//! on up to four threads and added in file order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use perf_core::record::{
    CheckGroup, CheckResult, GroupStats, MergeInfo, PhaseTiming, RunResult, ShardInfo,
    ShardSummary, MAX_TIMELINE_BUCKETS, RUN_RESULT_FORMAT_VERSION, SHARD_FORMAT_VERSION,
};
use perf_core::{MAX_SHARDS, MAX_TRACKED_NAMES};
use serde::Deserialize;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::{Config, SuiteError, SuiteEvent, SuiteOutcome};

/// The name of the check a merge adds: failed when a shard is missing.
pub const SHARDS_CHECK: &str = "all shards merged";

/// The report files under `dirs`: a directory holding `report.json` is one shard; any
/// other directory is searched one and two levels down (a reports root, or a directory of
/// downloaded artifacts), symbolic links (`latest`) left out. Sorted, so the order of
/// the arguments does not change the result.
pub fn find_shard_reports(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, SuiteError> {
    let mut found = Vec::new();
    for dir in dirs {
        let direct = dir.join("report.json");
        if direct.is_file() {
            found.push(direct);
            continue;
        }
        let before = found.len();
        search(dir, 2, &mut found)?;
        if found.len() == before {
            return Err(SuiteError::Shard {
                file: dir.clone(),
                field: String::new(),
                message: "no report.json in it or in its subdirectories: give the shards' report directories (reports/<run-id>/)".to_owned(),
            });
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn search(dir: &Path, depth: u32, found: &mut Vec<PathBuf>) -> Result<(), SuiteError> {
    let entries = std::fs::read_dir(dir).map_err(|e| SuiteError::Shard {
        file: dir.to_owned(),
        field: String::new(),
        message: format!("cannot read the directory ({e}): give the shards' report directories"),
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if !is_dir {
            continue;
        }
        let report = path.join("report.json");
        if report.is_file() {
            found.push(report);
        } else if depth > 1 {
            search(&path, depth - 1, found)?;
        }
    }
    Ok(())
}

/// The largest shard `report.json` a merge reads, checked before reading (a run result
/// with V2 histograms is kilobytes to a few megabytes; the biggest part of a long run is
/// its resource readings, about 150 bytes each: a day at one per second is 13 MB).
pub const MAX_SHARD_REPORT_BYTES: u64 = 64 << 20;

/// The most groups a shard's `per_agent`, `per_category` or `per_scenario` may hold: a
/// run keeps [`MAX_TRACKED_NAMES`] names, then `other`, `unrouted` and the agents the
/// configuration expects, so twice that is more than any run writes.
pub const MAX_SHARD_GROUPS: usize = 2 * MAX_TRACKED_NAMES + 2;

/// The memory the histograms of one shard file may take: 512 bytes of counts per byte
/// of the file, at least 32 MiB and at most 128 MiB. An empty histogram takes 16 KiB and
/// one reaching an hour about 200 KiB, however short its encoding; a real shard of 30
/// groups needs about 25 MB, one of 230 groups (a bot naming 100 agents) about 70 MB.
pub fn shard_histogram_budget(file_bytes: u64) -> usize {
    let bytes = usize::try_from(file_bytes).unwrap_or(usize::MAX);
    bytes.saturating_mul(512).clamp(32 << 20, 128 << 20)
}

/// How many entries a JSON map or list holds, without keeping them.
#[derive(Default)]
struct Entries(usize);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map or a list")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Entries, A::Error> {
                let mut n = 0;
                while m
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {
                    n += 1;
                }
                Ok(Entries(n))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> Result<Entries, A::Error> {
                let mut n = 0;
                while s.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Entries(n))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct TimelineShape {
    bucket_s: f64,
    #[serde(default)]
    buckets: Entries,
}

/// The fields read first, to refuse a file before reading its figures: versions, the
/// shard metadata, and how many groups and timeline buckets (histograms) it would make.
#[derive(Deserialize)]
struct Header {
    format_version: Option<u32>,
    report_format_version: Option<u32>,
    shard: Option<serde_json::Value>,
    merge: Option<serde::de::IgnoredAny>,
    run_id: Option<String>,
    #[serde(default)]
    per_agent: Entries,
    #[serde(default)]
    per_category: Entries,
    #[serde(default)]
    per_scenario: Entries,
    timeline: Option<TimelineShape>,
}

fn refuse(file: &Path, field: &str, message: impl Into<String>) -> SuiteError {
    SuiteError::Shard {
        file: file.to_owned(),
        field: field.to_owned(),
        message: message.into(),
    }
}

/// The file's bytes, refused before reading when it is larger than
/// [`MAX_SHARD_REPORT_BYTES`] (and read through a limit, in case it grows meanwhile).
fn read(file: &Path) -> Result<Vec<u8>, SuiteError> {
    use std::io::Read as _;
    let io = |source| SuiteError::Io {
        path: file.to_owned(),
        source,
    };
    let too_big = |size: u64| {
        refuse(
            file,
            "",
            format!(
                "{size} bytes is more than the {MAX_SHARD_REPORT_BYTES} a shard result may have: not a shard's report.json; leave it out"
            ),
        )
    };
    let f = std::fs::File::open(file).map_err(io)?;
    let size = f.metadata().map_err(io)?.len();
    if size > MAX_SHARD_REPORT_BYTES {
        return Err(too_big(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    f.take(MAX_SHARD_REPORT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_SHARD_REPORT_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

fn corrupt(file: &Path, e: &serde_json::Error) -> SuiteError {
    refuse(
        file,
        "",
        format!("not a readable shard result ({e}): run that shard again, or leave its directory out to merge the others as incomplete"),
    )
}

/// The most threads that parse shard files at once.
const MAX_READERS: usize = 4;

/// One shard's whole result (its histograms decoded), as the merge reads it: the file
/// at most [`MAX_SHARD_REPORT_BYTES`], its histograms within
/// [`shard_histogram_budget`], and its figures consistent ([`check_figures`]: successes
/// at most the count, and so on). Call [`read_shard_header`] first: it refuses what
/// would make this allocate much (too many groups or timeline buckets).
pub fn read_shard_report(file: &Path) -> Result<RunResult, SuiteError> {
    let bytes = read(file)?;
    let budget = shard_histogram_budget(bytes.len() as u64);
    let (parsed, _) =
        perf_core::with_histogram_budget(budget, || serde_json::from_slice::<RunResult>(&bytes));
    drop(bytes);
    let result = parsed.map_err(|e| corrupt(file, &e))?;
    check_figures(file, &result)?;
    Ok(result)
}

/// What the first read of a file found.
#[derive(Debug, Clone, PartialEq)]
pub enum ShardHeader {
    /// A shard's result and its metadata.
    Shard(ShardInfo),
    /// A merged result (it has merge information and no shard metadata): stored inside
    /// a shard directory, it is left out of the next merge rather than failing it.
    Merged,
}

/// Reads and checks one file's metadata without its figures: the versions (known ones
/// only), the shard's number and total (at most [`MAX_SHARDS`]), and the shape that
/// decides the memory the full read takes: at most [`MAX_SHARD_GROUPS`] groups per map,
/// at most [`MAX_TIMELINE_BUCKETS`] timeline buckets of a positive, finite width.
pub fn read_shard_header(file: &Path) -> Result<ShardHeader, SuiteError> {
    let bytes = read(file)?;
    let h: Header = serde_json::from_slice(&bytes).map_err(|e| corrupt(file, &e))?;
    match h.format_version {
        None => return Err(refuse(file, "format_version", "missing: not a run result")),
        Some(0) => {
            return Err(refuse(
                file,
                "format_version",
                format!("0 is not a run result format (this tool reads 1 to {RUN_RESULT_FORMAT_VERSION}): the file is damaged or not a report.json; run that shard again"),
            ))
        }
        Some(v) if v > RUN_RESULT_FORMAT_VERSION => {
            return Err(refuse(
                file,
                "format_version",
                format!("{v} is newer than this tool reads ({RUN_RESULT_FORMAT_VERSION}): merge with the version that ran the shards"),
            ))
        }
        Some(_) => {}
    }
    if h.report_format_version == Some(0) {
        return Err(refuse(
            file,
            "report_format_version",
            format!(
                "0 is not a report format (this tool reads 1 to {}): the file is damaged; run that shard again",
                perf_report::REPORT_FORMAT_VERSION
            ),
        ));
    }
    if let Some(v) = h
        .report_format_version
        .filter(|&v| v > perf_report::REPORT_FORMAT_VERSION)
    {
        return Err(refuse(
            file,
            "report_format_version",
            format!(
                "{v} is newer than this tool reads ({}): merge with the version that ran the shards",
                perf_report::REPORT_FORMAT_VERSION
            ),
        ));
    }
    for (field, n) in [
        ("per_agent", h.per_agent.0),
        ("per_category", h.per_category.0),
        ("per_scenario", h.per_scenario.0),
    ] {
        if n > MAX_SHARD_GROUPS {
            return Err(refuse(
                file,
                field,
                format!("{n} groups is more than the {MAX_SHARD_GROUPS} a run writes: the file is damaged or not a shard's result; run that shard again"),
            ));
        }
    }
    if let Some(t) = &h.timeline {
        if !(t.bucket_s.is_finite() && t.bucket_s > 0.0) {
            return Err(refuse(
                file,
                "timeline.bucket_s",
                format!("{} is not a bucket width: widths are positive seconds; the file is damaged, run that shard again", t.bucket_s),
            ));
        }
        if t.buckets.0 > MAX_TIMELINE_BUCKETS {
            return Err(refuse(
                file,
                "timeline.buckets",
                format!(
                    "{} buckets is more than the {MAX_TIMELINE_BUCKETS} a timeline keeps: the file is damaged, run that shard again",
                    t.buckets.0
                ),
            ));
        }
    }
    if h.merge.is_some() && h.shard.is_none() {
        return Ok(ShardHeader::Merged);
    }
    let Some(shard) = h.shard else {
        return Err(refuse(
            file,
            "shard",
            format!(
                "missing: run {} was not a shard of a distributed test (run shards with --shard I/N)",
                h.run_id.unwrap_or_default()
            ),
        ));
    };
    if let Some(v) = shard.get("format_version").and_then(|v| v.as_u64()) {
        if v == 0 {
            return Err(refuse(
                file,
                "shard.format_version",
                format!("0 is not a shard format (this tool reads 1 to {SHARD_FORMAT_VERSION}): the file is damaged; run that shard again"),
            ));
        }
        if v > u64::from(SHARD_FORMAT_VERSION) {
            return Err(refuse(
                file,
                "shard.format_version",
                format!("{v} is newer than this tool reads ({SHARD_FORMAT_VERSION}): merge with the version that ran the shards"),
            ));
        }
    }
    let info: ShardInfo = serde_json::from_value(shard)
        .map_err(|e| refuse(file, "shard", format!("unreadable shard metadata: {e}")))?;
    if info.total == 0 || info.total > MAX_SHARDS {
        return Err(refuse(
            file,
            "shard.total",
            format!(
                "{} shards is not a test this tool runs (1 to {MAX_SHARDS}): the file is damaged, run that shard again",
                info.total
            ),
        ));
    }
    if info.number == 0 || info.number > info.total {
        return Err(refuse(
            file,
            "shard.number",
            format!("shard {} of {} is out of range", info.number, info.total),
        ));
    }
    Ok(ShardHeader::Shard(info))
}

/// Refuses figures no run writes: more successes (or outcomes, latencies, routing
/// checks) than samples, more dropped or late queries than samples, a negative or
/// endless wall time, a timeline bucket with more failures than queries. Such a file
/// would pass the checks with "5000065 % ok" and could become the baseline.
pub fn check_figures(file: &Path, r: &RunResult) -> Result<(), SuiteError> {
    let bad = |field: String, what: String| {
        refuse(
            file,
            &field,
            format!(
                "{what}: no run writes that; the file is damaged or edited, run that shard again"
            ),
        )
    };
    if !(r.wall_time_s.is_finite() && r.wall_time_s >= 0.0) {
        return Err(bad(
            "wall_time_s".to_owned(),
            format!("{} is not a wall time", r.wall_time_s),
        ));
    }
    let group = |name: String, g: &GroupStats| -> Result<(), SuiteError> {
        let at_most = |field: &str, n: u64| -> Result<(), SuiteError> {
            if n > g.count {
                return Err(bad(
                    format!("{name}.{field}"),
                    format!("{n} is more than the group's {} samples", g.count),
                ));
            }
            Ok(())
        };
        at_most("successes", g.successes)?;
        let outcomes = g
            .outcomes
            .values()
            .try_fold(0u64, |a, &n| a.checked_add(n))
            .unwrap_or(u64::MAX);
        if outcomes != g.count {
            return Err(bad(
                format!("{name}.outcomes"),
                format!("{outcomes} outcomes for {} samples", g.count),
            ));
        }
        let usage = g
            .agent_usage
            .values()
            .try_fold(0u64, |a, &n| a.checked_add(n))
            .unwrap_or(u64::MAX);
        at_most("agent_usage", usage)?;
        at_most("latency", g.latency.count())?;
        at_most("service", g.service.count())?;
        at_most("ttft", g.ttft.count())?;
        at_most("itl", g.itl.count())?;
        at_most("tpot", g.tpot.count())?;
        at_most("routing.checked", g.routing.checked)?;
        at_most("first_attempt_failures", g.first_attempt_failures)?;
        at_most("token_counted", g.token_counted)?;
        if g.routing.correct > g.routing.checked {
            return Err(bad(
                format!("{name}.routing.correct"),
                format!(
                    "{} is more than the {} routing checks",
                    g.routing.correct, g.routing.checked
                ),
            ));
        }
        Ok(())
    };
    group("overall".to_owned(), &r.overall)?;
    for (map, groups) in [
        ("per_agent", &r.per_agent),
        ("per_category", &r.per_category),
        ("per_scenario", &r.per_scenario),
    ] {
        for (k, g) in groups {
            group(format!("{map}.{k}"), g)?;
        }
    }
    let total = r.overall.count;
    for (field, n) in [
        ("schedule.dropped", r.schedule.dropped),
        ("schedule.late_starts", r.schedule.late_starts),
        ("schedule.start_lag", r.schedule.start_lag.count()),
    ] {
        if n > total {
            return Err(bad(
                field.to_owned(),
                format!("{n} is more than the run's {total} samples"),
            ));
        }
    }
    for (i, b) in r.timeline.buckets.iter().enumerate() {
        for (field, n) in [
            ("failures", b.failures),
            ("dropped", b.dropped),
            ("latency", b.latency.count()),
        ] {
            if n > b.count {
                return Err(bad(
                    format!("timeline.buckets[{i}].{field}"),
                    format!("{n} is more than the bucket's {} queries", b.count),
                ));
            }
        }
    }
    if let Some(g) = &r.goodput {
        let o = &g.overall;
        for (field, n, of) in [
            ("goodput.overall.good", o.good, o.counted),
            ("goodput.overall.answered", o.answered, o.counted),
            ("goodput.overall.correct", o.correct, o.answered),
            ("goodput.overall.counted", o.counted, total),
        ] {
            if n > of {
                return Err(bad(field.to_owned(), format!("{n} is more than {of}")));
            }
        }
    }
    Ok(())
}

fn parse_time(file: &Path, field: &str, text: &str) -> Result<DateTime<Utc>, SuiteError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            refuse(
                file,
                field,
                format!("`{text}` is not an RFC 3339 time: {e}"),
            )
        })
}

/// Combines the shard results in `files` (see [`find_shard_reports`]) into one result:
/// histograms, counts, outcomes and agent usage added exactly, timelines aligned by each
/// shard's wall-clock start, resource peaks per shard and summed. Refuses files from
/// different tests (configuration digest, seed, number of shards), a shard given twice, a
/// newer format, or a damaged file, naming the file and the field. Missing shards make
/// the merge incomplete: listed in [`MergeInfo::missing`], a note, and a failed check
/// named [`SHARDS_CHECK`].
///
/// A merged result among `files` (a merge stored inside a shard directory) is left out,
/// with a note. Every file is read within the bounds of [`read_shard_header`] and
/// [`read_shard_report`].
pub fn merge_shards(files: &[PathBuf], run_id: &str) -> Result<RunResult, SuiteError> {
    merge_shards_until(files, run_id, &CancellationToken::new())
}

/// [`merge_shards`], stopped with [`SuiteError::Interrupted`] between two files once
/// `cancel` is cancelled (one file's read is bounded by [`MAX_SHARD_REPORT_BYTES`]).
pub fn merge_shards_until(
    files: &[PathBuf],
    run_id: &str,
    cancel: &CancellationToken,
) -> Result<RunResult, SuiteError> {
    let stopped = || {
        if cancel.is_cancelled() {
            Err(SuiteError::merge_interrupted())
        } else {
            Ok(())
        }
    };
    let no_shards = || {
        SuiteError::Invalid(perf_core::ConfigError::new(
            "merge",
            "no shard results given: name the shards' report directories",
        ))
    };
    let Some(first_file) = files.first() else {
        return Err(no_shards());
    };
    // Pass 1: the metadata of every file, checked against the first.
    let mut infos: Vec<(PathBuf, ShardInfo, DateTime<Utc>)> = Vec::new();
    let mut by_number: BTreeMap<u32, PathBuf> = BTreeMap::new();
    let mut skipped: Vec<String> = Vec::new();
    for file in files {
        stopped()?;
        let info = match read_shard_header(file)? {
            ShardHeader::Shard(info) => info,
            ShardHeader::Merged => {
                skipped.push(format!(
                    "{} left out: it is a merged result, not a shard's",
                    file.display()
                ));
                continue;
            }
        };
        let began = parse_time(
            file,
            "shard.execution_started_at",
            &info.execution_started_at,
        )?;
        if let Some((ref_file, r, _)) = infos.first() {
            for (field, same, mine, theirs) in [
                (
                    "shard.config_digest",
                    r.config_digest == info.config_digest,
                    info.config_digest.clone(),
                    r.config_digest.clone(),
                ),
                (
                    "shard.seed",
                    r.seed == info.seed,
                    info.seed.to_string(),
                    r.seed.to_string(),
                ),
                (
                    "shard.total",
                    r.total == info.total,
                    info.total.to_string(),
                    r.total.to_string(),
                ),
            ] {
                if !same {
                    return Err(refuse(
                        file,
                        field,
                        format!(
                            "{mine} differs from {theirs} in {}: these shards come from different tests; merge only the shards of one run",
                            ref_file.display()
                        ),
                    ));
                }
            }
        }
        if let Some(other) = by_number.insert(info.number, file.clone()) {
            return Err(refuse(
                file,
                "shard.number",
                format!(
                    "shard {}/{} is given twice (also {}): leave one of them out",
                    info.number,
                    info.total,
                    other.display()
                ),
            ));
        }
        infos.push((file.clone(), info, began));
    }
    if infos.is_empty() {
        return Err(refuse(
            first_file,
            "shard",
            "every result given is a merged one, none a shard's: give the shards' report directories",
        ));
    }
    let total = infos[0].1.total;
    let missing: Vec<u32> = (1..=total).filter(|n| !by_number.contains_key(n)).collect();
    let earliest = infos
        .iter()
        .map(|(_, _, b)| *b)
        .min()
        .unwrap_or_else(Utc::now);

    // Pass 2: the figures. Parsing a file (decoding its histograms) is most of the time
    // of a merge, so up to `MAX_READERS` threads parse files while this one adds them, in
    // file order (the same result whatever the number of threads). Each reader holds at
    // most one parsed file ahead of the adder, so memory stays flat in the number of
    // shards and of samples.
    let mut merged: Option<RunResult> = None;
    let mut summaries = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut wall_end = 0.0f64;
    let readers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_READERS)
        .min(infos.len());
    std::thread::scope(|scope| -> Result<(), SuiteError> {
        let mut parsed = Vec::new();
        for first in 0..readers {
            let (tx, rx) = std::sync::mpsc::sync_channel(0);
            let mine: Vec<&Path> = infos
                .iter()
                .skip(first)
                .step_by(readers)
                .map(|(f, _, _)| f.as_path())
                .collect();
            scope.spawn(move || {
                for file in mine {
                    if cancel.is_cancelled() {
                        break;
                    }
                    // The adder stopped (an error): nothing more to read.
                    if tx.send(read_shard_report(file)).is_err() {
                        break;
                    }
                }
            });
            parsed.push(rx);
        }
        let mut first_config: Option<(&Path, String)> = None;
        for (i, (file, info, began)) in infos.iter().enumerate() {
            stopped()?;
            let mut shard = match parsed[i % readers].recv() {
                Ok(r) => r?,
                Err(_) => {
                    stopped()?;
                    return Err(refuse(file, "", "the thread reading this file stopped"));
                }
            };
            // Shards of one test share one configuration: the digest says so, and the
            // configuration each carries must agree (an edited file keeps the digest).
            let digest = crate::distributed::value_digest(&shard.config);
            match &first_config {
                None => first_config = Some((file.as_path(), digest)),
                Some((ref_file, d)) if *d != digest => {
                    return Err(refuse(
                        file,
                        "config",
                        format!(
                            "differs from the configuration in {} under the same shard.config_digest: one of the files was edited; merge only unedited shard results",
                            ref_file.display()
                        ),
                    ));
                }
                Some(_) => {}
            }
            let offset_s = (*began - earliest).num_microseconds().unwrap_or(0) as f64 / 1e6;
            let sent = shard.overall.count.saturating_sub(shard.schedule.dropped);
            let lagged = match info.start_lateness_ms {
                Some(l) => l > MergeInfo::LAG_LIMIT_MS,
                None => offset_s * 1e3 > MergeInfo::LAG_LIMIT_MS,
            };
            let saturated = shard.resource_peaks.harness_saturated;
            let label = format!("shard {}/{}", info.number, info.total);
            if lagged {
                notes.push(format!(
                    "{label} on {} started {:.1} ms late: its load came after the others'",
                    info.host,
                    info.start_lateness_ms.unwrap_or(offset_s * 1e3)
                ));
            }
            if saturated {
                notes.push(format!(
                    "{label} on {} saturated a CPU core of its machine (harness peak {:.0} %): its latencies are suspect; use more shards or bigger machines",
                    info.host, shard.resource_peaks.max_harness_cpu_percent
                ));
            }
            for n in &shard.notes {
                notes.push(format!("{label}: {n}"));
            }
            summaries.push(ShardSummary {
                number: info.number,
                host: info.host.clone(),
                source: file.parent().unwrap_or(file).display().to_string(),
                execution_started_at: info.execution_started_at.clone(),
                start_offset_ms: offset_s * 1e3,
                start_lateness_ms: info.start_lateness_ms,
                count: shard.overall.count,
                sent_per_s: if shard.wall_time_s > 0.0 {
                    sent as f64 / shard.wall_time_s
                } else {
                    0.0
                },
                wall_time_s: shard.wall_time_s,
                resource_peaks: shard.resource_peaks.clone(),
                lagged,
                saturated,
            });
            wall_end = wall_end.max(offset_s + shard.wall_time_s);
            // Checks judged on one shard's own samples (edge-case robustness) stay, by shard;
            // the others are decided again on the merged figures.
            let robustness: Vec<CheckResult> = shard
                .checks
                .iter()
                .filter(|c| c.group == CheckGroup::Robustness)
                .map(|c| CheckResult {
                    name: format!("{} ({label})", c.name),
                    ..c.clone()
                })
                .collect();
            let timeline = std::mem::take(&mut shard.timeline);
            if let Some(m) = &merged {
                // Agents and categories fold into `other` past their limit; scenarios
                // come from the configuration, so more of them than one run has is a
                // damaged file, refused before the merged result grows with it.
                let new = shard
                    .per_scenario
                    .keys()
                    .filter(|k| !m.per_scenario.contains_key(*k))
                    .count();
                if m.per_scenario.len() + new > MAX_SHARD_GROUPS {
                    return Err(refuse(
                        file,
                        "per_scenario",
                        format!("its scenarios make more than the {MAX_SHARD_GROUPS} a test has: these shards do not share one configuration; merge only the shards of one run"),
                    ));
                }
            }
            match &mut merged {
                None => {
                    let mut m =
                        RunResult::new(run_id, shard.started_at.clone(), shard.target.clone());
                    m.content = shard.content.take();
                    m.config = std::mem::take(&mut shard.config);
                    m.phases = shard
                        .phases
                        .iter()
                        .filter(|p| p.number <= 4)
                        .map(|p| PhaseTiming {
                            detail: format!("{label}: {}", p.detail),
                            ..p.clone()
                        })
                        .collect();
                    m.merge(&shard);
                    m.timeline.merge_owned_at(timeline, offset_s);
                    m.resource_peaks = shard.resource_peaks.clone();
                    m.checks = robustness;
                    merged = Some(m);
                }
                Some(m) => {
                    m.merge(&shard);
                    m.timeline.merge_owned_at(timeline, offset_s);
                    sum_peaks(&mut m.resource_peaks, &shard.resource_peaks);
                    m.checks.extend(robustness);
                    if shard.started_at < m.started_at {
                        m.started_at = shard.started_at.clone();
                    }
                }
            }
        }
        Ok(())
    })?;
    let Some(mut merged) = merged else {
        return Err(refuse(first_file, "", "nothing to merge"));
    };
    merged.wall_time_s = wall_end;
    summaries.sort_by_key(|s| s.number);
    notes.dedup();
    notes.extend(skipped);
    merged.notes = notes;
    merged.notes.insert(
        0,
        format!(
            "a merge of {} of {} shards (the shards' samples stay in their own directories)",
            summaries.len(),
            total
        ),
    );
    let complete = missing.is_empty();
    if !complete {
        merged.notes.insert(
            0,
            format!(
                "INCOMPLETE: shard{} {} missing; the figures cover only the shards merged",
                if missing.len() == 1 { "" } else { "s" },
                missing
                    .iter()
                    .map(|n| format!("{n}/{total}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    merged.checks.push(CheckResult {
        group: CheckGroup::Distributed,
        name: SHARDS_CHECK.to_owned(),
        status: perf_core::record::CheckStatus::from_passed(complete),
        reason: if complete {
            format!("{total} of {total} shards merged")
        } else {
            format!(
                "{} of {total} shards merged; missing: {}",
                total as usize - missing.len(),
                missing
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
    });
    merged.merge = Some(MergeInfo {
        total,
        shards: summaries,
        missing,
        seed: infos[0].1.seed,
        config_digest: infos[0].1.config_digest.clone(),
    });
    Ok(merged)
}

/// Resource peaks of shards on different machines: memory and harness CPU summed (what
/// all the machines used at their peaks), system CPU and the target's the highest any
/// shard saw, saturation when any shard saturated.
fn sum_peaks(
    total: &mut perf_core::record::ResourcePeaks,
    shard: &perf_core::record::ResourcePeaks,
) {
    total.samples += shard.samples;
    total.max_system_cpu_percent = total
        .max_system_cpu_percent
        .max(shard.max_system_cpu_percent);
    total.max_system_memory_mb += shard.max_system_memory_mb;
    total.max_harness_cpu_percent += shard.max_harness_cpu_percent;
    total.harness_saturated |= shard.harness_saturated;
    if let Some(c) = shard.max_target_cpu_percent {
        total.max_target_cpu_percent = Some(total.max_target_cpu_percent.unwrap_or(0.0).max(c));
    }
    if let Some(m) = shard.max_target_memory_mb {
        total.max_target_memory_mb = Some(total.max_target_memory_mb.unwrap_or(0.0).max(m));
    }
}

/// A run id for a merge of shards: the time of the merge, the number of shards and a
/// random part (seeded from the clock's nanoseconds, the process id and a counter), so
/// two merges in the same second never share a report directory or a history record.
pub fn merge_run_id(total_shards: usize) -> String {
    crate::session::run_id(Utc::now(), "", &format!("merged-{total_shards}-"), 6)
}

/// Merges the shard results under `dirs` (see [`find_shard_reports`] and
/// [`merge_shards`]), runs phases 5 and 6 on the merged result as `config` says, lets
/// `before_reports` add to it (the gate's checks), records it in the history when the
/// configuration says so, and writes the full report set under `config.output_dir`.
///
/// The merge runs on a blocking thread, so the runtime keeps serving signals and timers;
/// cancelling `cancel` (Ctrl-C, SIGTERM, a budget) before the merged result is judged
/// returns [`SuiteError::Interrupted`] at once and writes nothing; during the history
/// record, it leaves the record out (with a note) and marks the result interrupted.
pub async fn merge_and_report(
    config: &Config,
    dirs: &[PathBuf],
    events: Option<UnboundedSender<SuiteEvent>>,
    cancel: CancellationToken,
    before_reports: impl FnOnce(&mut RunResult) + Send,
) -> Result<SuiteOutcome, SuiteError> {
    config.validate()?;
    let files = find_shard_reports(dirs)?;
    let run_id = merge_run_id(files.len());
    let worker_cancel = cancel.clone();
    let worker =
        tokio::task::spawn_blocking(move || merge_shards_until(&files, &run_id, &worker_cancel));
    let mut result = tokio::select! {
        joined = worker => match joined {
            Ok(r) => r?,
            Err(e) => {
                return Err(SuiteError::Io {
                    path: dirs.first().cloned().unwrap_or_default(),
                    source: std::io::Error::other(format!("the merge stopped: {e}")),
                })
            }
        },
        // The worker notices between two files and stops by itself.
        () = cancel.cancelled() => return Err(SuiteError::merge_interrupted()),
    };
    if cancel.is_cancelled() {
        return Err(SuiteError::merge_interrupted());
    }
    if let Some(tx) = &events {
        let _ = tx.send(SuiteEvent::RunStarted {
            run_id: result.run_id.clone(),
        });
    }
    let mut policy = config.performance_baselines.policy();
    if result.merge.as_ref().is_some_and(|m| !m.is_complete()) {
        // Like an interrupted run, a merge missing shards never becomes the baseline.
        policy.update = perf_baseline::UpdatePolicy::Never;
    }
    let mut problems = Vec::new();
    let mut phases = crate::pipeline::Phases {
        events: events.as_ref(),
        timings: std::mem::take(&mut result.phases),
    };
    crate::pipeline::judge(config, &policy, &mut result, &mut phases, &mut problems);
    result.phases = phases.timings;

    // As for a run: a broken baseline or history loses nothing (the reports are written)
    // and makes the merge exit 2 (`SuiteOutcome::exit`); Ctrl-C while the history is
    // written leaves the merge unrecorded.
    crate::session::finish(
        config,
        result,
        problems,
        config.record_history,
        Some(&cancel),
        before_reports,
    )
    .await
}

/// The deployment gate on a merged run: [`merge_and_report`] with the gate's checks, then
/// the gate's decision (exit codes as for a single run). A merge with missing shards is
/// blocked: its figures do not cover the configured test. Damaged, mismatched or
/// duplicated shard results are "could not run", with the file and field named.
///
/// The gate's budget and signals hold as for a run: `cancel` (Ctrl-C, SIGTERM) stops the
/// merge with [`crate::GateDecision::Interrupted`] (exit 130), the budget running out with
/// [`crate::GateDecision::Blocked`] and the plain gate's reason, a backstop timeout two seconds
/// after the budget whatever is in progress; a stopped merge decides nothing and saves no
/// baseline.
pub async fn merge_gate(
    config: &Config,
    request: &crate::GateRequest,
    dirs: &[PathBuf],
    cancel: CancellationToken,
) -> crate::GateOutcome {
    use crate::{GateDecision, GateOptions};
    let budget = crate::gate_run::Budget::start(request.budget, cancel.clone());
    let options = GateOptions {
        on_inconclusive: request.on_inconclusive,
        resources: config.resource_limits.clone(),
        update_baseline: request.update_baseline,
    };
    let add_gate_checks = move |result: &mut RunResult| {
        let checks = crate::gate_checks(result, &options);
        result.checks.extend(checks);
    };
    let stopped = |suite: Option<SuiteOutcome>| {
        let mut out = if budget.ran_out() {
            crate::GateOutcome::without_run(
                GateDecision::Blocked,
                format!(
                    "the {:.0} s budget ran out before the merge could decide; no baseline was saved",
                    request.budget.as_secs_f64()
                ),
            )
        } else {
            crate::GateOutcome::without_run(
                GateDecision::Interrupted,
                "interrupted: the merge was stopped before it decided; no baseline was saved"
                    .to_owned(),
            )
        };
        out.suite = suite;
        out
    };
    let hard_stop = request
        .budget
        .saturating_add(std::time::Duration::from_secs(2));
    let merged = tokio::time::timeout(
        hard_stop,
        merge_and_report(config, dirs, None, cancel.clone(), add_gate_checks),
    )
    .await;
    let suite = match merged {
        Ok(Ok(s)) if !cancel.is_cancelled() => s,
        Ok(Ok(s)) => return stopped(Some(s)),
        Ok(Err(SuiteError::Interrupted { .. })) => return stopped(None),
        Ok(Err(e)) => {
            return crate::GateOutcome::without_run(GateDecision::CouldNotRun, e.to_string())
        }
        Err(_) => {
            return crate::GateOutcome::without_run(
                GateDecision::Blocked,
                format!(
                "the {:.0} s budget ran out before the merge could finish; no report was written",
                request.budget.as_secs_f64()
            ),
            )
        }
    };
    let (mut decision, mut reason) =
        crate::gate_decision(&suite.result, config, false, request.budget);
    if let Some(m) = suite.result.merge.as_ref().filter(|m| !m.is_complete()) {
        if decision == GateDecision::Deploy {
            decision = GateDecision::Blocked;
        }
        reason = format!(
            "blocked: shards {} of {} missing, the merge is incomplete ({reason})",
            m.missing
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            m.total
        );
    }
    let mut baseline_saved = None;
    let complete = suite.result.merge.as_ref().is_none_or(|m| m.is_complete());
    if request.update_baseline && !complete {
        reason.push_str(
            "; the baseline was not saved: a merge missing shards never becomes the baseline",
        );
    }
    if request.update_baseline && complete && decision != GateDecision::CouldNotRun {
        let name = &config.performance_baselines.baseline_name;
        match crate::save_baseline(config, name, &suite.result, true) {
            Ok(path) => baseline_saved = Some(path),
            Err(e) => {
                let mut out =
                    crate::GateOutcome::without_run(GateDecision::CouldNotRun, e.to_string());
                out.suite = Some(suite);
                return out;
            }
        }
    }
    crate::GateOutcome {
        decision,
        reason,
        checks: crate::gate_run::gate_checks_of(&suite.result),
        suite: Some(suite),
        baseline_saved,
    }
}
