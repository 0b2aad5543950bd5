//! Errors of this crate.

/// A target could not be configured or started.
///
/// Errors of single queries are [`perf_core::TargetError`]s, recorded as samples; this type
/// is for setup: a bad `--target` value, a bad config section, a missing environment variable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TargetsError {
    /// A `--target` value that is neither `refbot`, an `http://`/`https://` URL nor `cmd:...`.
    #[error("invalid target `{value}`: {message}")]
    InvalidSpec {
        /// The value as given.
        value: String,
        /// What is wrong and what to write instead.
        message: String,
    },
    /// A config value that cannot be used.
    #[error("invalid value for `{key}`: {message}")]
    Config {
        /// The key, as a dotted path below `target` (for example `target.url`).
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The environment variable named by `auth_token_env` is not set or not valid UTF-8.
    #[error("environment variable `{var}` (named by `auth_token_env`) is not set or not UTF-8; export it or remove `auth_token_env`")]
    MissingToken {
        /// The variable's name (never its value).
        var: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// The run directory or log file could not be created.
    #[error("cannot create `{path}`: {source}")]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The refbot target is built by the caller (it lives in `perf-refbot`).
    #[error("the `refbot` target is in-process; open it with perf_refbot::RefBot::open")]
    InProcess,
}

impl TargetsError {
    pub(crate) fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Config {
            key: key.into(),
            message: message.into(),
        }
    }
}
