use std::path::PathBuf;

/// Everything that can go wrong with baselines, thresholds and the run history.
///
/// Every variant that concerns a file names it, so the message tells the user which file
/// to fix or remove.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaselineError {
    /// A baseline name that cannot be used as a file name.
    #[error("invalid baseline name `{name}`: use letters, digits, `-`, `_` and `.` (not first), at most 100 characters")]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// No baseline file with that name.
    #[error("no baseline named `{name}` at {}: create it with `cargo run --release --bin orchestrator -- baseline create {name}`", path.display())]
    NotFound {
        /// The baseline name.
        name: String,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The baseline exists and replacing it was not asked for.
    #[error("baseline `{name}` already exists at {}: pass the replace flag (or set `auto_update_baselines`) to overwrite it", path.display())]
    AlreadyExists {
        /// The baseline name.
        name: String,
        /// The existing file.
        path: PathBuf,
    },
    /// The baseline was recorded from another bot than the one under test.
    #[error("baseline `{name}` ({}) was recorded from `{baseline_target}`, but this run is of `{run_target}`: a comparison of two different bots measures nothing. Make a baseline of this bot (`ci-gate --baseline NAME --update-baseline`, or `orchestrator baseline create NAME`), name another baseline, keep the bot's identity stable with the target's `name` key, or pass --allow-other-target (`performance_baselines.allow_other_target`) to compare anyway", path.display())]
    OtherTarget {
        /// The baseline name.
        name: String,
        /// The baseline file.
        path: PathBuf,
        /// The target the baseline was recorded from, `name (transport)`.
        baseline_target: String,
        /// The target of this run, `name (transport)`.
        run_target: String,
    },
    /// The file is not a valid baseline (truncated, edited by hand, another format).
    #[error("baseline file {} is corrupted or not a baseline: {message}; restore it from version control or create it again", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// The file was written by a newer version of the harness.
    #[error("baseline file {} has format_version {found}, but this harness reads up to {supported}: upgrade the harness or create the baseline again", path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Version found in the file.
        found: u64,
        /// Newest version this build reads.
        supported: u32,
    },
    /// Reading or writing a file failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done (`reading`, `writing`, ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
    /// A threshold or comparison option out of range.
    #[error("invalid value for `{key}`: {message}")]
    InvalidConfig {
        /// The option, as a dotted path.
        key: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The run was cut short (Ctrl-C, SIGTERM, a budget, an error mid-run): its figures
    /// cover part of the plan, so it never becomes a baseline.
    #[error("run {run_id} was interrupted or stopped early, so it cannot become baseline `{name}`: its figures cover only part of the plan; make the baseline from a run that completed")]
    IncompleteRun {
        /// The baseline name.
        name: String,
        /// The run refused.
        run_id: String,
    },
    /// The run history database failed.
    #[error("run history {location}: {message}")]
    History {
        /// The database: a file path, or a PostgreSQL URL without user name or password.
        location: String,
        /// What failed.
        message: String,
    },
}

impl BaselineError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidConfig {
            key: key.into(),
            message: message.into(),
        }
    }
}
