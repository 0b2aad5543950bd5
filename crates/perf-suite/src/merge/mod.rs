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

mod read;

pub use read::*;

/// The name of the check a merge adds: failed when a shard is missing.
pub const SHARDS_CHECK: &str = "all shards merged";

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
    if let Err(e) = request.refuse_conflicts(config, true) {
        return crate::GateOutcome::without_run(GateDecision::CouldNotRun, e.to_string());
    }
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
