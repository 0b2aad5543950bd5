use std::path::PathBuf;

/// Errors of test-data generation and analysis.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SynthError {
    /// The database could not be opened or created.
    #[error("cannot open message database {path}: {source}; check the path and its permissions")]
    Open {
        /// The database file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// The file is not a message database of the expected schema.
    #[error("{path} is not a message database: {reason}; point `database_path` at a database written by this tool or `orchestrator import`, or delete the file to have a fresh one generated")]
    Schema {
        /// The database file.
        path: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
    /// The database path is a directory or a device, not a file.
    #[error("{path} is {what}, so it cannot be a message database: point `database_path` (or --database) at a SQLite file, or at a path where one can be generated")]
    NotADatabaseFile {
        /// The path given.
        path: PathBuf,
        /// What it is.
        what: &'static str,
    },
    /// A query failed.
    #[error("database error on {path}: {source}")]
    Sql {
        /// The database file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// A file-system operation failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A scenario file is malformed; the message names the file, line, column and field.
    #[error("{path}{}: {}{message}", location(*line, *column), field.as_deref().map(|f| format!("`{f}`: ")).unwrap_or_default())]
    ScenarioFile {
        /// The scenario file.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// The field, as a dotted path (`queries[2].expected_agent`), when known.
        field: Option<String>,
        /// What is wrong and what to do.
        message: String,
    },
    /// A questions file (`questions`, `--questions`) is malformed; the message names the
    /// file, line, column or field, and what to do.
    #[error("{path}{}: {}{message}", location(*line, *column), field.as_deref().map(|f| format!("`{f}`: ")).unwrap_or_default())]
    QuestionsFile {
        /// The questions file.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// The key or column, when known.
        field: Option<String>,
        /// What is wrong and what to do.
        message: String,
    },
    /// A scenario cannot be added to the registry.
    #[error("scenario from {source_name}: {reason}")]
    Scenario {
        /// Where the scenario came from (`code`, `builtin` or a file path).
        source_name: String,
        /// Why.
        reason: String,
    },
    /// An invalid setting (a scale factor, a load profile).
    #[error(transparent)]
    Config(#[from] perf_core::ConfigError),
    /// A Discord export is malformed; nothing of it was imported.
    #[error("{path}{}: {reason}; nothing from this file was imported", location(*line, *column))]
    Import {
        /// The export file.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// What is wrong.
        reason: String,
    },
}

/// `:line:column`, `:line` or nothing.
fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}
