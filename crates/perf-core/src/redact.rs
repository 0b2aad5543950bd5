//! Secrets and bounds for text a bot controls.
//!
//! Everything a bot sends (answers, agent names, error bodies, stderr) can carry a
//! credential it was given (an echoed `authorization` header, a URL it was called with) and
//! can be of any length. The runner passes every such string through a [`Redactor`] first
//! and cuts it to its documented limit after ([`bounded`]): redacting first means a secret
//! that crosses a cut is still removed whole. The limits are listed in `docs/limits.md`.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// The text every secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Words that make a header or environment variable name secret (matched anywhere in the
/// lower-cased name): `authorization`, `x-api-key`, `cookie`, `x-auth-token`,
/// `OPENAI_API_KEY`, `DB_PASSWORD`, `SESSION_ID`...
const SECRET_NAME_WORDS: &[&str] = &[
    "auth",
    "cookie",
    "token",
    "secret",
    "key",
    "passw",
    "session",
    "credential",
    "signature",
];

/// Whether a header or environment variable called `name` holds a secret by its name alone
/// (any of `auth`, `cookie`, `token`, `secret`, `key`, `passw`, `session`, `credential`,
/// `signature` in it, case-insensitively). HTTP targets add the headers listed in
/// `secret_headers`; the history location redacts query parameters by it too.
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_NAME_WORDS.iter().any(|w| lower.contains(w))
}

/// Secrets shorter than this many characters are not searched for in bot text (a query
/// value `1` would otherwise blank every digit of every answer); they are still hidden in
/// target descriptions.
pub const MIN_SECRET_CHARS: usize = 4;

/// Characters of an agent name kept (the rest is cut, with `…`).
pub const MAX_AGENT_CHARS: usize = 100;

/// Characters of an error message kept on a sample.
pub const MAX_ERROR_CHARS: usize = 1_000;

/// Characters of a failed answer kept on a sample (`answer_excerpt`).
pub const MAX_EXCERPT_CHARS: usize = 300;

/// Distinct agent names, and distinct categories, tracked per run; samples of any further
/// name are counted under [`OTHER`].
pub const MAX_TRACKED_NAMES: usize = 100;

/// The group that names past [`MAX_TRACKED_NAMES`] are folded into.
pub const OTHER: &str = "other";

/// Removes configured secrets from text.
///
/// Built once per target from every credential it was configured with (see
/// `BotTarget::redactor`); cheap to clone. `Debug` shows how many secrets it holds, never
/// them.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Longest first, so a header value `Bearer abc…` goes before its token `abc…`.
    secrets: Arc<[String]>,
}

impl Redactor {
    /// A redactor removing each of `secrets`; empty ones and ones shorter than
    /// [`MIN_SECRET_CHARS`] characters are ignored, duplicates kept once.
    pub fn new<S: Into<String>>(secrets: impl IntoIterator<Item = S>) -> Self {
        let mut v: Vec<String> = secrets
            .into_iter()
            .map(Into::into)
            .filter(|s| s.chars().count() >= MIN_SECRET_CHARS)
            .collect();
        v.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        v.dedup();
        Self { secrets: v.into() }
    }

    /// This redactor's secrets and `other`'s.
    pub fn union(&self, other: &Redactor) -> Self {
        Self::new(self.secrets.iter().chain(other.secrets.iter()).cloned())
    }

    /// Whether there is nothing to remove.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The longest secret's length in bytes (0 when empty): a reader that must cut a stream
    /// reads this much past its cut, so a secret crossing the cut is still found whole.
    pub fn longest_bytes(&self) -> usize {
        self.secrets.first().map_or(0, String::len)
    }

    /// `text` with every secret replaced by [`REDACTED`]; borrowed when nothing matched.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for s in self.secrets.iter() {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), REDACTED));
            }
        }
        out
    }

    /// [`redact`](Self::redact) for an owned string.
    pub fn redact_owned(&self, text: String) -> String {
        match self.redact(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(s) => s,
        }
    }

    /// Whether `text` holds a secret.
    pub fn finds_secret(&self, text: &str) -> bool {
        self.secrets.iter().any(|s| text.contains(s.as_str()))
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

/// At most `max_chars` characters of `text`, cut on a character boundary, with `…` when
/// cut.
pub fn cut(text: &str, max_chars: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => {
            let mut s = String::with_capacity(at + 3);
            s.push_str(&text[..at]);
            s.push('…');
            Cow::Owned(s)
        }
        None => Cow::Borrowed(text),
    }
}

/// `text` redacted, then cut to `max_chars` characters: the one way bot text is stored.
pub fn bounded(redactor: &Redactor, text: &str, max_chars: usize) -> String {
    match redactor.redact(text) {
        Cow::Borrowed(t) => cut(t, max_chars).into_owned(),
        Cow::Owned(t) => cut(&t, max_chars).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_longest_first_and_ignores_short_values() {
        let r = Redactor::new(["tok-123456", "Bearer tok-123456", "1", ""]);
        assert_eq!(
            r.redact("h: Bearer tok-123456; t=tok-123456; page 1"),
            "h: [redacted]; t=[redacted]; page 1"
        );
        assert!(matches!(r.redact("clean"), Cow::Borrowed(_)));
        assert_eq!(format!("{r:?}"), "Redactor(2 secrets)");
        assert_eq!(r.longest_bytes(), "Bearer tok-123456".len());
    }

    #[test]
    fn a_secret_across_the_cut_is_removed_whole() {
        let secret = "s3cr3t-abcdefgh";
        let r = Redactor::new([secret]);
        let text = format!("{}{secret}", "x".repeat(10));
        // Cutting first would keep `s3cr3t-abc`; redacting first keeps nothing of it.
        let kept = bounded(&r, &text, 20);
        assert!(!kept.contains("s3cr3t"), "{kept}");
        assert_eq!(kept, format!("{}[redacted]", "x".repeat(10)));
        assert_eq!(cut("ééééé", 3), "ééé…");
        assert_eq!(cut("abc", 3), "abc");
    }

    #[test]
    fn union_keeps_both() {
        let a = Redactor::new(["aaaa-1"]);
        let b = Redactor::new(["bbbb-2"]);
        let u = a.union(&b);
        assert_eq!(u.redact("aaaa-1 bbbb-2"), "[redacted] [redacted]");
        assert!(Redactor::default().is_empty());
    }
}
