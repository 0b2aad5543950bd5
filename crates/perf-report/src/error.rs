use std::path::PathBuf;

/// Why a report could not be written or a run could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A file or directory operation failed.
    #[error("{action} `{}`: {source}", path.display())]
    Io {
        /// What was being done (`writing`, `reading`, `removing`, ...).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A `report.json` could not be parsed or a result could not be serialized.
    #[error("report JSON `{}`: {source}", path.display())]
    Json {
        /// The file involved (empty when serializing in memory).
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// The run id cannot be used as a directory name.
    #[error(
        "run id `{0}` cannot name a report directory: use letters, digits, `-`, `_` and `.` \
         (not only dots), at most 128 characters"
    )]
    InvalidRunId(String),
    /// No run with this id exists under the reports directory.
    #[error("no run `{id}` under `{}` (list runs to see the ids)", root.display())]
    RunNotFound {
        /// The id asked for.
        id: String,
        /// The reports directory.
        root: PathBuf,
    },
}

impl ReportError {
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
}
