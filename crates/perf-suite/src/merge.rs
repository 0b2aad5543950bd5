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
use perf_core::{
    CheckGroup, CheckResult, MergeInfo, PhaseTiming, RunResult, ShardInfo, ShardSummary,
    RUN_RESULT_FORMAT_VERSION, SHARD_FORMAT_VERSION,
};
use serde::Deserialize;
use tokio::sync::mpsc::UnboundedSender;

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

/// The fields read first, to refuse a file before reading its figures.
#[derive(Deserialize)]
struct Header {
    format_version: Option<u32>,
    report_format_version: Option<u32>,
    shard: Option<serde_json::Value>,
    run_id: Option<String>,
}

fn refuse(file: &Path, field: &str, message: impl Into<String>) -> SuiteError {
    SuiteError::Shard {
        file: file.to_owned(),
        field: field.to_owned(),
        message: message.into(),
    }
}

fn read(file: &Path) -> Result<Vec<u8>, SuiteError> {
    std::fs::read(file).map_err(|source| SuiteError::Io {
        path: file.to_owned(),
        source,
    })
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

/// One shard's whole result (its histograms decoded).
fn read_shard(file: &Path) -> Result<RunResult, SuiteError> {
    let bytes = read(file)?;
    serde_json::from_slice(&bytes).map_err(|e| corrupt(file, &e))
}

/// Reads and checks one file's shard metadata.
fn shard_info(file: &Path) -> Result<ShardInfo, SuiteError> {
    let bytes = read(file)?;
    let h: Header = serde_json::from_slice(&bytes).map_err(|e| corrupt(file, &e))?;
    match h.format_version {
        None => return Err(refuse(file, "format_version", "missing: not a run result")),
        Some(v) if v > RUN_RESULT_FORMAT_VERSION => {
            return Err(refuse(
                file,
                "format_version",
                format!("{v} is newer than this tool reads ({RUN_RESULT_FORMAT_VERSION}): merge with the version that ran the shards"),
            ))
        }
        Some(_) => {}
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
    if info.number == 0 || info.number > info.total {
        return Err(refuse(
            file,
            "shard.number",
            format!("shard {} of {} is out of range", info.number, info.total),
        ));
    }
    Ok(info)
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
pub fn merge_shards(files: &[PathBuf], run_id: &str) -> Result<RunResult, SuiteError> {
    let Some(first_file) = files.first() else {
        return Err(SuiteError::Invalid(perf_core::ConfigError::new(
            "merge",
            "no shard results given: name the shards' report directories",
        )));
    };
    // Pass 1: the metadata of every file, checked against the first.
    let mut infos: Vec<(PathBuf, ShardInfo, DateTime<Utc>)> = Vec::new();
    let mut by_number: BTreeMap<u32, PathBuf> = BTreeMap::new();
    for file in files {
        let info = shard_info(file)?;
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
                    // The adder stopped (an error): nothing more to read.
                    if tx.send(read_shard(file)).is_err() {
                        break;
                    }
                }
            });
            parsed.push(rx);
        }
        for (i, (file, info, began)) in infos.iter().enumerate() {
            let mut shard = parsed[i % readers]
                .recv()
                .map_err(|_| refuse(file, "", "the thread reading this file stopped"))??;
            let offset_s = (*began - earliest).num_microseconds().unwrap_or(0) as f64 / 1e6;
            let sent = shard.overall.count - shard.schedule.dropped;
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
        passed: complete,
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
fn sum_peaks(total: &mut perf_core::ResourcePeaks, shard: &perf_core::ResourcePeaks) {
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

/// A run id for a merge of shards, from the time of the merge.
pub fn merge_run_id(total_shards: usize) -> String {
    format!(
        "{}-merged-{total_shards}",
        Utc::now().format("%Y%m%dT%H%M%SZ")
    )
}

/// Merges the shard results under `dirs` (see [`find_shard_reports`] and
/// [`merge_shards`]), runs phases 5 and 6 on the merged result as `config` says, lets
/// `before_reports` add to it (the gate's checks), records it in the history when the
/// configuration says so, and writes the full report set under `config.output_dir`.
pub async fn merge_and_report(
    config: &Config,
    dirs: &[PathBuf],
    events: Option<UnboundedSender<SuiteEvent>>,
    before_reports: impl FnOnce(&mut RunResult) + Send,
) -> Result<SuiteOutcome, SuiteError> {
    config.validate()?;
    let files = find_shard_reports(dirs)?;
    let mut result = merge_shards(&files, &merge_run_id(files.len()))?;
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
    // and makes the merge exit 2 (`SuiteOutcome::problems`).
    if config.record_history {
        if let Err(e) = crate::pipeline::record_history(config, &mut result).await {
            let message = format!("run history not updated: {e}");
            result.notes.push(message.clone());
            problems.push(message);
        }
    }
    before_reports(&mut result);
    let reports = perf_report::write_run_reports(&result, &config.output_dir)?;
    Ok(SuiteOutcome {
        result,
        reports,
        problems,
    })
}

/// The deployment gate on a merged run: [`merge_and_report`] with the gate's checks, then
/// the gate's decision (exit codes as for a single run). A merge with missing shards is
/// blocked: its figures do not cover the configured test. Damaged, mismatched or
/// duplicated shard results are "could not run", with the file and field named.
pub async fn merge_gate(
    config: &Config,
    request: &crate::GateRequest,
    dirs: &[PathBuf],
) -> crate::GateOutcome {
    use crate::{GateDecision, GateOptions};
    let options = GateOptions {
        on_inconclusive: request.on_inconclusive,
        resources: config.resource_limits.clone(),
    };
    let add_gate_checks = move |result: &mut RunResult| {
        let checks = crate::gate_checks(result, &options);
        result.checks.extend(checks);
    };
    let suite = match merge_and_report(config, dirs, None, add_gate_checks).await {
        Ok(s) => s,
        Err(e) => return crate::GateOutcome::without_run(GateDecision::CouldNotRun, e.to_string()),
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
