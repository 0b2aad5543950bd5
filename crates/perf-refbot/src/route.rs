//! Routing a query to an agent, and reading the parameters the agent needs.

use std::collections::HashMap;

use perf_core::agents;

use crate::text::{alnum_tokens, name_tokens};

/// Substrings that send a query to `digest_generation` (checked first).
const DIGEST_KEYWORDS: &[&str] = &["summar", "digest", "highlight", "recap", "tl;dr"];
/// Substrings that send a query to `server_analysis` (checked after user names).
const SERVER_KEYWORDS: &[&str] = &[
    "most active",
    "how many",
    "overview",
    "statistic",
    "stats",
    "busiest",
    "server activity",
];
/// Names with characters that [`name_tokens`] splits are searched as substrings, in at
/// most this many leading bytes of the query.
const SUBSTRING_SCAN_BYTES: usize = 4096;
/// Longest digest window.
const MAX_WINDOW_DAYS: i64 = 3_650;
/// Digest window when the query names none.
const DEFAULT_WINDOW_DAYS: i64 = 7;

/// A user or channel the bot knows from the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Named {
    pub(crate) id: i64,
    pub(crate) name: String,
}

/// Users and channels by lower-case name, loaded when the bot opens.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    users: HashMap<String, Named>,
    /// Users whose names [`name_tokens`] cannot produce (spaces, symbols).
    odd_users: Vec<(String, Named)>,
    user_names: HashMap<i64, String>,
    channels: HashMap<String, Named>,
}

impl Directory {
    pub(crate) fn new(users: Vec<Named>, channels: Vec<Named>) -> Self {
        let mut d = Directory::default();
        for u in users {
            d.user_names.insert(u.id, u.name.clone());
            let key = u.name.trim().to_lowercase();
            if key.is_empty() {
                continue;
            }
            let tokens: Vec<String> = name_tokens(&key).collect();
            if tokens.len() == 1 && tokens[0] == key {
                d.users.entry(key).or_insert(u);
            } else {
                d.odd_users.push((key, u));
            }
        }
        // Longest first, so "ann lee" wins over "ann".
        d.odd_users
            .sort_by_key(|(key, _)| std::cmp::Reverse(key.len()));
        for c in channels {
            let key = c.name.trim().trim_start_matches('#').to_lowercase();
            if !key.is_empty() {
                d.channels.entry(key).or_insert(c);
            }
        }
        d
    }

    pub(crate) fn user_name(&self, id: i64) -> Option<String> {
        self.user_names.get(&id).cloned()
    }

    /// The first known user named in `text` as a whole word, case-insensitively.
    fn find_user(&self, text: &str) -> Option<&Named> {
        if let Some(u) = name_tokens(text).find_map(|t| self.users.get(&t)) {
            return Some(u);
        }
        if self.odd_users.is_empty() {
            return None;
        }
        let mut end = text.len().min(SUBSTRING_SCAN_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let head = text[..end].to_lowercase();
        self.odd_users
            .iter()
            .find(|(key, _)| contains_word(&head, key))
            .map(|(_, u)| u)
    }

    /// The first known channel named in `text` (with or without `#`).
    fn find_channel(&self, text: &str) -> Option<&Named> {
        name_tokens(text).find_map(|t| self.channels.get(t.trim_start_matches('#')))
    }

    /// The known channel called `name` (with or without `#`, any case).
    pub(crate) fn channel(&self, name: &str) -> Option<&Named> {
        let key = name.trim().trim_start_matches('#').to_lowercase();
        self.channels.get(&key)
    }
}

/// Whether `needle` occurs in `haystack` with no letter, digit or `_` on either side.
fn contains_word(haystack: &str, needle: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    haystack.match_indices(needle).any(|(i, m)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + m.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// A digest window, relative to the latest message in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) secs: i64,
}

impl Window {
    /// "the last 7 days", "the last 12 hours".
    pub(crate) fn label(self) -> String {
        if self.secs % 86_400 == 0 {
            let days = self.secs / 86_400;
            if days == 1 {
                "the last day".to_owned()
            } else {
                format!("the last {days} days")
            }
        } else {
            let hours = (self.secs / 3_600).max(1);
            if hours == 1 {
                "the last hour".to_owned()
            } else {
                format!("the last {hours} hours")
            }
        }
    }
}

/// Where a query goes, with what the agent needs from the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Digest {
        channel: Option<Named>,
        window: Window,
    },
    User(Named),
    Server,
    Search,
}

impl Route {
    pub(crate) fn agent(&self) -> &'static str {
        match self {
            Route::Digest { .. } => agents::DIGEST_GENERATION,
            Route::User(_) => agents::USER_ANALYSIS,
            Route::Server => agents::SERVER_ANALYSIS,
            Route::Search => agents::SEMANTIC_SEARCH,
        }
    }
}

/// Routes `text`: digest keywords, then a known user name, then server keywords, else
/// search.
pub(crate) fn route(text: &str, directory: &Directory) -> Route {
    let lower = text.to_lowercase();
    if DIGEST_KEYWORDS.iter().any(|k| lower.contains(k)) {
        return Route::Digest {
            channel: directory.find_channel(text).cloned(),
            window: parse_window(text),
        };
    }
    if let Some(user) = directory.find_user(text) {
        return Route::User(user.clone());
    }
    if SERVER_KEYWORDS.iter().any(|k| lower.contains(k)) {
        return Route::Server;
    }
    Route::Search
}

/// Reads "last 30 days", "past 12 hours", "2 weeks", "this week", "today", "month".
fn parse_window(text: &str) -> Window {
    const DAY: i64 = 86_400;
    let tokens = alnum_tokens(text, 64);
    let unit_secs = |t: &str| -> Option<i64> {
        match t {
            "hour" | "hours" => Some(3_600),
            "day" | "days" => Some(DAY),
            "week" | "weeks" => Some(7 * DAY),
            "month" | "months" => Some(30 * DAY),
            "year" | "years" => Some(365 * DAY),
            _ => None,
        }
    };
    // alnum_tokens drops duplicates, which is fine for the first "N unit" pair.
    for pair in tokens.windows(2) {
        if let (Ok(n), Some(unit)) = (pair[0].parse::<i64>(), unit_secs(&pair[1])) {
            if n > 0 {
                let secs = n.saturating_mul(unit).min(MAX_WINDOW_DAYS * DAY);
                return Window { secs };
            }
        }
    }
    let secs = tokens
        .iter()
        .find_map(|t| match t.as_str() {
            "today" | "yesterday" | "day" => Some(DAY),
            "hour" => Some(3_600),
            "week" => Some(7 * DAY),
            "month" => Some(30 * DAY),
            "year" => Some(365 * DAY),
            _ => None,
        })
        .unwrap_or(DEFAULT_WINDOW_DAYS * DAY);
    Window { secs }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> Directory {
        let n = |id, name: &str| Named {
            id,
            name: name.to_owned(),
        };
        Directory::new(
            vec![
                n(1, "alice"),
                n(2, "alice.codes"),
                n(3, "Bob_dev"),
                n(4, "ann lee"),
                n(5, ""),
            ],
            vec![n(1, "general"), n(2, "off-topic")],
        )
    }

    fn check(text: &str, expected: &str) {
        assert_eq!(route(text, &dir()).agent(), expected, "{text:?}");
    }

    #[test]
    fn routes_in_the_documented_order() {
        check(
            "Summarize #general from the last 7 days",
            agents::DIGEST_GENERATION,
        );
        check("tl;dr of alice please", agents::DIGEST_GENERATION);
        check("How active is ALICE in this server?", agents::USER_ANALYSIS);
        check("How many messages did bob_dev send?", agents::USER_ANALYSIS);
        check("what about Ann Lee?", agents::USER_ANALYSIS);
        check("How many messages have been sent?", agents::SERVER_ANALYSIS);
        check(
            "Who are the most active users in the server?",
            agents::SERVER_ANALYSIS,
        );
        check("Search for messages about rust", agents::SEMANTIC_SEARCH);
        check("malice aforethought", agents::SEMANTIC_SEARCH);
        check("", agents::SEMANTIC_SEARCH);
    }

    #[test]
    fn the_longest_name_token_wins() {
        let d = dir();
        assert_eq!(
            route("Analyze the activity of user alice.codes.", &d),
            Route::User(Named {
                id: 2,
                name: "alice.codes".into()
            })
        );
        assert_eq!(
            route("what does alice say?", &d).agent(),
            agents::USER_ANALYSIS
        );
        assert!(matches!(route("what does alice say?", &d), Route::User(u) if u.id == 1));
    }

    #[test]
    fn digests_read_channel_and_window() {
        let d = dir();
        let digest = |t: &str| match route(t, &d) {
            Route::Digest { channel, window } => (channel.map(|c| c.name), window.secs / 3_600),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            digest("Summarize #general from the last 7 days"),
            (Some("general".into()), 7 * 24)
        );
        assert_eq!(
            digest("Give me a digest of what happened in #off-topic this week"),
            (Some("off-topic".into()), 7 * 24)
        );
        assert_eq!(
            digest("What were the highlights in #general over the past 30 days?"),
            (Some("general".into()), 30 * 24)
        );
        assert_eq!(digest("recap of today"), (None, 24));
        assert_eq!(digest("recap the last 12 hours"), (None, 12));
        assert_eq!(digest("recap this month"), (None, 30 * 24));
        assert_eq!(digest("recap 99999999999 years"), (None, 3_650 * 24));
        assert_eq!(digest("summary"), (None, 7 * 24));
        assert_eq!(Window { secs: 7 * 86_400 }.label(), "the last 7 days");
        assert_eq!(Window { secs: 12 * 3_600 }.label(), "the last 12 hours");
    }
}
