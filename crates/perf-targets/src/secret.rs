//! A credential that never shows up in output.

use std::fmt;

/// The text every secret is replaced with in messages and `Debug` output.
pub const REDACTED: &str = "[redacted]";

/// A credential read from the environment.
///
/// `Debug` prints [`REDACTED`]; there is no `Display` and no `Serialize`, so the value cannot
/// reach a log, report or baseline by accident. [`Secret::scrub`] removes it from text that
/// came from elsewhere (a server that echoes headers into an error body, for instance).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Reads the environment variable `var`; `None` when it is unset, empty or not UTF-8.
    pub fn from_env(var: &str) -> Option<Self> {
        std::env::var(var).ok().filter(|v| !v.is_empty()).map(Self)
    }

    /// The value, for putting into a request header. Do not format it anywhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the secret replaced by [`REDACTED`].
    pub fn scrub(&self, text: String) -> String {
        if self.0.is_empty() || !text.contains(&self.0) {
            text
        } else {
            text.replace(&self.0, REDACTED)
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_scrub_hide_the_value() {
        let s = Secret::new("hunter2-token");
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(
            s.scrub("echo: Bearer hunter2-token!".to_owned()),
            "echo: Bearer [redacted]!"
        );
        assert_eq!(s.scrub("nothing here".to_owned()), "nothing here");
    }
}
