use std::path::PathBuf;

/// Why the suite could not run. Every variant but [`Interrupted`](SuiteError::Interrupted)
/// means "could not run" (exit code 2 in the binaries), as opposed to a run whose checks
/// failed; [`exit_code`](SuiteError::exit_code) says which.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SuiteError {
    /// The configuration file is unreadable or invalid.
    #[error("config {path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// A configuration value (from a file or a flag) is invalid.
    #[error("{0}")]
    Invalid(#[from] perf_core::ConfigError),
    /// The message database could not be opened, generated or read.
    #[error(transparent)]
    Data(#[from] perf_synth::SynthError),
    /// The target could not be set up.
    #[error("target {target} cannot be used: {message}")]
    Target {
        /// The target's description.
        target: String,
        /// What went wrong.
        message: String,
    },
    /// The runner refused the plan.
    #[error(transparent)]
    Runner(#[from] perf_runner::RunnerError),
    /// A baseline file is damaged, from a newer version, or cannot be written.
    #[error(transparent)]
    Baseline(#[from] perf_baseline::BaselineError),
    /// `missing_baseline` is strict and the baseline does not exist: found before the
    /// first query.
    #[error("baseline `{name}` does not exist ({}) and missing_baseline is strict: create it first with `{}`, or make the check lenient", path.display(), perf_baseline::create_command(name))]
    StrictBaselineMissing {
        /// The baseline name.
        name: String,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The run history database cannot be opened (damaged, not SQLite, unwritable).
    #[error("{message}; fix or remove {}, or set `record_history` to false", path.display())]
    History {
        /// The database file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The shared history (`history_url`, `history_url_env`, `--history-url`) cannot be
    /// opened: found before the first query.
    #[error("{message}; check `history_url`, `history_url_env` or --history-url, or set `record_history` to false")]
    SharedHistory {
        /// What failed, naming the location without credentials.
        message: String,
    },
    /// A report could not be written.
    #[error(transparent)]
    Report(#[from] perf_report::ReportError),
    /// A shard result cannot be merged: damaged, from a newer version, from another test,
    /// or given twice.
    #[error("shard result {file}{}: {message}", if field.is_empty() { String::new() } else { format!(", field `{field}`") })]
    Shard {
        /// The file (or directory) at fault.
        file: PathBuf,
        /// The field at fault; empty for the whole file.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// Stopped by a cancellation (Ctrl-C, SIGTERM, the gate's budget) before there was a
    /// result: while the bot started or answered the first-query check (no query of the
    /// run was sent), or a merge between two shard files. Nothing was recorded.
    #[error("interrupted during {during}: nothing was recorded")]
    Interrupted {
        /// What was being waited for.
        during: String,
    },
    /// A result file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl SuiteError {
    /// [`Interrupted`](SuiteError::Interrupted) for a merge stopped between two shard
    /// files.
    pub(crate) fn merge_interrupted() -> Self {
        SuiteError::Interrupted {
            during: "the merge, before it finished".to_owned(),
        }
    }

    /// The binaries' exit code for this error: 130 ([`INTERRUPTED`](crate::exit_codes::INTERRUPTED))
    /// for [`Interrupted`](SuiteError::Interrupted), 2
    /// ([`COULD_NOT_RUN`](crate::exit_codes::COULD_NOT_RUN)) for every other.
    pub fn exit_code(&self) -> i32 {
        match self {
            SuiteError::Interrupted { .. } => crate::exit_codes::INTERRUPTED,
            _ => crate::exit_codes::COULD_NOT_RUN,
        }
    }
}
