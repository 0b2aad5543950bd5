//! Text helpers: tokens, sanitizing database text for answers, dates, sentences.

use std::collections::HashSet;

/// Longest token kept from user text, in characters.
pub(crate) const MAX_TOKEN_CHARS: usize = 48;

/// English function words and chat filler that say nothing about a topic. The bot keeps its
/// own list rather than sharing the generator's: a bot under test must not share the
/// tokenizer of the code that writes its expected answers.
const COMMON_STOP_WORDS: &[&str] = &[
    "the", "and", "for", "that", "this", "with", "you", "have", "has", "are", "was", "but", "not",
    "all", "any", "can", "just", "about", "what", "your", "our", "some", "new", "think", "does",
    "anyone", "know", "tried", "really", "thanks", "will", "lol", "from", "they", "them", "would",
    "could", "should", "been", "were", "there", "their", "into", "how", "who", "why", "when",
    "which", "one", "get", "got", "say",
];

/// Words of a request that say what to do rather than what to look for; dropped from
/// search topics and from term statistics besides [`COMMON_STOP_WORDS`].
const QUERY_STOP_WORDS: &[&str] = &[
    "where",
    "said",
    "says",
    "people",
    "search",
    "find",
    "look",
    "show",
    "tell",
    "messages",
    "message",
    "discussions",
    "discussion",
    "mentioning",
    "mention",
    "mentions",
    "talk",
    "talking",
    "talked",
    "please",
    "me",
    "my",
    "is",
    "a",
    "an",
    "of",
    "in",
    "on",
    "to",
    "it",
    "or",
    "at",
    "by",
    "be",
    "do",
    "did",
    "i",
    "we",
    "us",
    "ok",
];

/// Whether `word` (lower case) is a stop word.
pub(crate) fn is_stop_word(word: &str) -> bool {
    COMMON_STOP_WORDS.contains(&word) || QUERY_STOP_WORDS.contains(&word)
}

/// Lower-case alphanumeric tokens of `text`, each cut to [`MAX_TOKEN_CHARS`], without
/// duplicates, at most `max` of them. Markup, quotes, control characters and every other
/// symbol are separators, so nothing but letters and digits survives.
pub(crate) fn alnum_tokens(text: &str, max: usize) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for raw in text.split(|c: char| !c.is_alphanumeric()) {
        if out.len() >= max {
            break;
        }
        if raw.is_empty() {
            continue;
        }
        let token: String = raw
            .chars()
            .flat_map(char::to_lowercase)
            .filter(|c| c.is_alphanumeric())
            .take(MAX_TOKEN_CHARS)
            .collect();
        if !token.is_empty() && seen.insert(token.clone()) {
            out.push(token);
        }
    }
    out
}

/// Tokens that may be user or channel names: runs of letters, digits, `_`, `.` and `-`,
/// trimmed of `.` and `-` at the ends, lower case.
pub(crate) fn name_tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '-')))
        .map(|t| t.trim_matches(|c| c == '.' || c == '-'))
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
}

/// Content terms for statistics: alphanumeric words of three or more characters that are
/// not stop words or numbers, skipping links, mentions and code.
pub(crate) fn content_terms(content: &str) -> impl Iterator<Item = String> + '_ {
    content
        .split_whitespace()
        .filter(|w| !w.contains("://") && !w.starts_with("<@") && !w.contains('`'))
        .flat_map(|w| w.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| w.chars().count() >= 3 && !w.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_lowercase)
        .filter(|w| !is_stop_word(w))
}

/// Makes text from the database safe to put in an answer: control and bidi-override
/// characters dropped, markup brackets escaped, whitespace collapsed, at most `max_chars`
/// characters (an ellipsis marks a cut).
pub(crate) fn clean(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    let mut chars = 0usize;
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if c.is_control() || is_bidi_control(c) {
            continue;
        }
        if chars >= max_chars {
            out.push('…');
            return out;
        }
        if pending_space {
            out.push(' ');
            chars += 1;
            pending_space = false;
        }
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
        chars += 1;
    }
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Replaces Discord mentions `<@123>` with `@name` using `lookup`; unknown ids become
/// `@someone`.
pub(crate) fn resolve_mentions(text: &str, lookup: impl Fn(i64) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && after.as_bytes().get(digits) == Some(&b'>') {
            let name = after[..digits]
                .parse::<i64>()
                .ok()
                .and_then(&lookup)
                .unwrap_or_else(|| "someone".to_owned());
            out.push('@');
            out.push_str(&name);
            rest = &after[digits + 1..];
        } else {
            out.push_str("<@");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Sentences of a message for extractive digests: code blocks, inline code and links
/// removed, split at `.`, `!`, `?` and line breaks, each with at least three words.
pub(crate) fn sentences(content: &str) -> Vec<String> {
    let mut prose = String::with_capacity(content.len());
    for (i, part) in content.split("```").enumerate() {
        if i % 2 == 0 {
            for (j, piece) in part.split('`').enumerate() {
                if j % 2 == 0 {
                    prose.push_str(piece);
                    prose.push(' ');
                }
            }
        }
    }
    // Links go before splitting: their dots are not sentence ends. Line breaks become
    // sentence ends first, since splitting on whitespace would lose them.
    let prose: String = prose
        .replace('\n', " . ")
        .split_whitespace()
        .filter(|w| !w.contains("://"))
        .collect::<Vec<_>>()
        .join(" ");
    prose
        .split(['.', '!', '?'])
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| s.split_whitespace().count() >= 3)
        .collect()
}

/// `YYYY-MM-DD` of a Unix timestamp (UTC); a timestamp chrono cannot represent (hundreds of
/// thousands of years away) is shown as `?`.
pub(crate) fn date(unix_secs: i64) -> String {
    chrono::DateTime::from_timestamp(unix_secs, 0)
        .map_or_else(|| "?".to_owned(), |d| d.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_only_letters_and_digits() {
        assert_eq!(
            alnum_tokens("\"a\" OR NEAR( <script>alert(1)</script> a", 10),
            vec!["a", "or", "near", "script", "alert", "1"]
        );
        assert_eq!(alnum_tokens("x\0y\u{202E}z", 2), vec!["x", "y"]);
        let long = "é".repeat(1000);
        assert_eq!(alnum_tokens(&long, 5)[0].chars().count(), MAX_TOKEN_CHARS);
        assert!(alnum_tokens(" \t\n ", 5).is_empty());
    }

    #[test]
    fn name_tokens_keep_dotted_and_underscored_names() {
        let t: Vec<String> =
            name_tokens("Is Alice.Codes, or alice_dev... in #off-topic?").collect();
        assert_eq!(
            t,
            vec!["is", "alice.codes", "or", "alice_dev", "in", "off-topic"]
        );
    }

    #[test]
    fn clean_escapes_markup_and_drops_controls() {
        assert_eq!(clean("a <b>\u{202E}\0 \n  c", 100), "a &lt;b&gt; c");
        assert_eq!(clean("abcdef", 3), "abc…");
    }

    #[test]
    fn mentions_and_sentences() {
        let r = resolve_mentions("<@2> hi <@x> <@99>", |id| (id == 2).then(|| "bob".into()));
        assert_eq!(r, "@bob hi <@x> @someone");
        let s = sentences("first one is here. ok\n```rust\nfn main() {}\n``` then a `code` word https://x.y/z end");
        assert_eq!(s, vec!["first one is here", "then a word end"]);
    }

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_719_705_600), "2024-06-30");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(-86_400), "1969-12-31");
        assert_eq!(date(i64::MAX), "?", "out of range, not a panic");
    }
}
