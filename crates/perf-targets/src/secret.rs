//! Credentials: a token that never shows up in output, and the rules for what else in a
//! target's configuration is secret (see `docs/limits.md`, "Bot-controlled strings and
//! secrets").

use std::fmt;

pub use perf_core::{is_secret_name, REDACTED};

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

/// The secrets a URL carries: its user name and password and every query value, each as
/// written and percent-decoded.
pub(crate) fn url_secrets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(url) = url::Url::parse(text) else {
        return out;
    };
    let mut push = |raw: &str| {
        if raw.is_empty() {
            return;
        }
        out.push(raw.to_owned());
        // `form_urlencoded` decodes `%xx` (and `+`, kept both ways).
        for (_, decoded) in url::form_urlencoded::parse(format!("x={raw}").as_bytes()) {
            out.push(decoded.into_owned());
        }
        if raw.contains('+') {
            for (_, decoded) in
                url::form_urlencoded::parse(format!("x={}", raw.replace('+', "%2B")).as_bytes())
            {
                out.push(decoded.into_owned());
            }
        }
    };
    push(url.username());
    if let Some(p) = url.password() {
        push(p);
    }
    if let Some(q) = url.query() {
        for pair in q.split('&') {
            if let Some((_, v)) = pair.split_once('=') {
                push(v);
            }
        }
    }
    out
}

/// `text` as shown in reports, logs and errors: user name and password replaced by
/// [`REDACTED`], every query value replaced by [`REDACTED`] (names kept), fragment dropped.
/// Text that is not a URL is replaced whole.
pub fn redacted_url(text: &str) -> String {
    let Ok(url) = url::Url::parse(text) else {
        return format!("{REDACTED} (not a valid URL)");
    };
    let mut out = format!("{}://", url.scheme());
    if !url.username().is_empty() || url.password().is_some() {
        out.push_str(REDACTED);
        out.push('@');
    }
    if let Some(host) = url.host_str() {
        out.push_str(host);
    }
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    out.push_str(url.path());
    if let Some(q) = url.query() {
        out.push('?');
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) => format!("{k}={REDACTED}"),
                None => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
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

    #[test]
    fn secret_names() {
        for name in [
            "Authorization",
            "x-api-key",
            "Cookie",
            "X-Auth-Token",
            "OPENAI_API_KEY",
            "db_password",
            "client-secret",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["content-type", "accept", "x-request-id", "PATH", "LANG"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn urls_lose_credentials_and_query_values() {
        let u = "https://us%40er:p%2Fw@example.invalid:8443/v1/q?api_key=a%2Bb+c&flag&n=1#frag";
        assert_eq!(
            redacted_url(u),
            "https://[redacted]@example.invalid:8443/v1/q?api_key=[redacted]&flag&n=[redacted]"
        );
        let s = url_secrets(u);
        for want in [
            "us%40er", "us@er", "p%2Fw", "p/w", "a%2Bb+c", "a+b c", "a+b+c", "1",
        ] {
            assert!(s.iter().any(|x| x == want), "{want} not in {s:?}");
        }
        assert_eq!(redacted_url("nope"), "[redacted] (not a valid URL)");
    }
}
