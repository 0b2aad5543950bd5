use std::path::PathBuf;

use perf_core::ConfigError;

/// Why a plan could not be run.
///
/// Failures of the bot under test are never errors here: they are recorded as samples.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError {
    /// The plan or the runner configuration has an invalid value; the error names the key.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The raw-samples file could not be created or written.
    #[error("cannot write samples to {}: {source}", path.display())]
    Samples {
        /// The `samples_path` that failed.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}
