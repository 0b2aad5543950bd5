use perf_core::record::{Comparison, RunResult, Verdict};

use crate::{
    compare, BaselineError, BaselineStore, CompareOptions, EnvironmentFingerprint, Thresholds,
    WriteMode,
};

/// The command that creates a baseline, for messages.
pub fn create_command(name: &str) -> String {
    format!("cargo run --release --bin orchestrator -- baseline create {name}")
}

/// What to do when the named baseline does not exist.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingBaseline {
    /// Pass, with a message naming the command that creates it.
    #[default]
    Lenient,
    /// Fail the run.
    Strict,
}

/// When the baseline is written from the current run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdatePolicy {
    /// Never write (a missing baseline stays missing).
    #[default]
    Never,
    /// `auto_update_baselines`: create a missing baseline, and replace an existing one
    /// when this run shows no regression (a regressed run never becomes the reference).
    Auto,
    /// Create or replace it whatever the verdict (an explicit `--update-baseline`).
    Always,
}

/// Everything phase 5 needs besides the run: the original suite's `performance_baselines`
/// section plus the thresholds and decision options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BaselinePolicy {
    /// `baseline_name`.
    pub name: String,
    /// Thresholds; `baseline_threshold` sets [`Thresholds::latency`].
    pub thresholds: Thresholds,
    /// Decision options.
    pub options: CompareOptions,
    /// Missing-baseline behaviour.
    pub missing: MissingBaseline,
    /// `auto_update_baselines` and explicit update flags.
    pub update: UpdatePolicy,
    /// The command that creates this baseline, for messages; `None` names
    /// [`create_command`] (a gate baseline is made by `ci-gate --update-baseline` instead).
    pub create_command: Option<String>,
    /// Compare with a baseline recorded from another target (`--allow-other-target`);
    /// otherwise that is [`BaselineError::OtherTarget`] (see [`refuse_other_target`]).
    pub allow_other_target: bool,
}

impl BaselinePolicy {
    fn create_hint(&self) -> String {
        self.create_command
            .clone()
            .unwrap_or_else(|| create_command(&self.name))
    }
}

/// What phase 5 did to the baseline file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineAction {
    /// Compared only.
    Compared,
    /// No baseline existed and none was made.
    Missing,
    /// No baseline existed; this run became it.
    Created,
    /// Compared, then replaced by this run.
    Updated,
}

/// The result of phase 5.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineOutcome {
    /// The comparison, when a baseline existed (store it in `RunResult::comparison`).
    pub comparison: Option<Comparison>,
    /// What happened to the baseline file.
    pub action: BaselineAction,
    /// `false` when the run must fail: a regression, or a missing baseline under
    /// [`MissingBaseline::Strict`].
    pub passed: bool,
    /// One line for the phase's detail.
    pub message: String,
}

/// Refuses the policy's baseline when it was recorded from another target than `target`
/// ([`BaselineError::OtherTarget`]), unless the policy allows it or replaces the baseline
/// whatever it holds ([`UpdatePolicy::Always`]). A missing baseline, or one that recorded
/// no target, is not refused. Run it before any load is sent, so a misdirected gate stops
/// at once; [`check_against_baseline`] applies it again.
pub fn refuse_other_target(
    store: &BaselineStore,
    policy: &BaselinePolicy,
    target: &perf_core::TargetInfo,
) -> Result<(), BaselineError> {
    if policy.allow_other_target || policy.update == UpdatePolicy::Always {
        return Ok(());
    }
    match store.load(&policy.name) {
        Ok(baseline) => same_target(store, &policy.name, &baseline, &crate::target_key(target)),
        Err(BaselineError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// `run_target` is the run's [`crate::target_key`].
fn same_target(
    store: &BaselineStore,
    name: &str,
    baseline: &crate::Baseline,
    run_target: &str,
) -> Result<(), BaselineError> {
    let theirs = baseline.environment.target_identity();
    let ours = run_target.to_owned();
    if theirs.is_empty() || theirs == ours {
        return Ok(());
    }
    Err(BaselineError::OtherTarget {
        name: name.to_owned(),
        path: store.path_of(name)?,
        baseline_target: theirs,
        run_target: ours,
    })
}

/// Phase 5: compares `run` with the policy's baseline in `store`, creating or updating
/// it as the policy says.
///
/// A missing baseline is never an error: it passes (lenient, with the command that
/// creates it in the message) or fails (strict). A corrupted or newer-format baseline file
/// is an error naming the file; so is a failed write.
pub fn check_against_baseline(
    store: &BaselineStore,
    run: &RunResult,
    environment: &EnvironmentFingerprint,
    policy: &BaselinePolicy,
) -> Result<BaselineOutcome, BaselineError> {
    let name = policy.name.as_str();
    let baseline = match store.load(name) {
        Ok(b) => Some(b),
        Err(BaselineError::NotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    let Some(baseline) = baseline else {
        if policy.update != UpdatePolicy::Never && run.interrupted {
            let strict = policy.missing == MissingBaseline::Strict;
            return Ok(BaselineOutcome {
                comparison: None,
                action: BaselineAction::Missing,
                passed: !strict,
                message: format!(
                    "no baseline `{name}` yet, and this run was interrupted, so it was not made the baseline; create it from a complete run with `{}`",
                    policy.create_hint()
                ),
            });
        }
        if policy.update != UpdatePolicy::Never {
            let path = store.path_of(name)?;
            store.create_from_run(name, run, environment.clone(), WriteMode::CreateNew)?;
            return Ok(BaselineOutcome {
                comparison: None,
                action: BaselineAction::Created,
                passed: true,
                message: format!(
                    "no baseline `{name}` yet: created {} from this run",
                    path.display()
                ),
            });
        }
        let strict = policy.missing == MissingBaseline::Strict;
        return Ok(BaselineOutcome {
            comparison: None,
            action: BaselineAction::Missing,
            passed: !strict,
            message: format!(
                "no baseline `{name}` in {}{}: create it with `{}`",
                store.dir().display(),
                if strict { " (strict: failing)" } else { "" },
                policy.create_hint()
            ),
        });
    };
    if !policy.allow_other_target && policy.update != UpdatePolicy::Always {
        same_target(store, name, &baseline, &environment.target_identity())?;
    }
    let comparison = compare(
        &baseline,
        run,
        environment,
        &policy.thresholds,
        &policy.options,
    )?;
    let regressed = comparison.overall == Verdict::Regression;
    let replace = match policy.update {
        UpdatePolicy::Never => false,
        _ if run.interrupted => false,
        UpdatePolicy::Auto => !regressed,
        UpdatePolicy::Always => true,
    };
    if replace {
        store.create_from_run(name, run, environment.clone(), WriteMode::Replace)?;
    }
    let counts = |v: Verdict| {
        comparison
            .verdicts
            .iter()
            .filter(|m| m.verdict == v)
            .count()
    };
    let mut message = format!(
        "baseline `{name}`: {} ({} regression, {} inconclusive, {} improvement of {} verdicts)",
        comparison.overall,
        counts(Verdict::Regression),
        counts(Verdict::Inconclusive),
        counts(Verdict::Improvement),
        comparison.verdicts.len()
    );
    if !comparison.environment_differences.is_empty() {
        message.push_str(&format!(
            "; environment differs: {}",
            comparison.environment_differences.join("; ")
        ));
    }
    if replace {
        message.push_str("; baseline updated from this run");
    } else if policy.update != UpdatePolicy::Never && run.interrupted {
        message.push_str("; baseline kept (an interrupted run does not replace it)");
    } else if policy.update == UpdatePolicy::Auto {
        message.push_str("; baseline kept (a regressed run does not replace it)");
    }
    Ok(BaselineOutcome {
        comparison: Some(comparison),
        action: if replace {
            BaselineAction::Updated
        } else {
            BaselineAction::Compared
        },
        passed: !regressed,
        message,
    })
}
