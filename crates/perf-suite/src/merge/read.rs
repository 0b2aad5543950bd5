//! Reading shard results: finding the files, reading each within its bounds, and
//! refusing a damaged, mismatched or duplicated one with its file and field named.

use super::*;

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

pub(super) fn search(dir: &Path, depth: u32, found: &mut Vec<PathBuf>) -> Result<(), SuiteError> {
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
pub(super) struct Entries(usize);

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
pub(super) struct TimelineShape {
    bucket_s: f64,
    #[serde(default)]
    buckets: Entries,
}

/// The fields read first, to refuse a file before reading its figures: versions, the
/// shard metadata, and how many groups and timeline buckets (histograms) it would make.
#[derive(Deserialize)]
pub(super) struct Header {
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

pub(super) fn refuse(file: &Path, field: &str, message: impl Into<String>) -> SuiteError {
    SuiteError::Shard {
        file: file.to_owned(),
        field: field.to_owned(),
        message: message.into(),
    }
}

/// The file's bytes, refused before reading when it is larger than
/// [`MAX_SHARD_REPORT_BYTES`] (and read through a limit, in case it grows meanwhile).
pub(super) fn read(file: &Path) -> Result<Vec<u8>, SuiteError> {
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

pub(super) fn corrupt(file: &Path, e: &serde_json::Error) -> SuiteError {
    refuse(
        file,
        "",
        format!("not a readable shard result ({e}): run that shard again, or leave its directory out to merge the others as incomplete"),
    )
}

/// The most threads that parse shard files at once.
pub(super) const MAX_READERS: usize = 4;

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

pub(super) fn parse_time(
    file: &Path,
    field: &str,
    text: &str,
) -> Result<DateTime<Utc>, SuiteError> {
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
