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
}
