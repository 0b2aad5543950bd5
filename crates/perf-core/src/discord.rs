//! What a Discord target measures beside each answer's latency: typing, messages and edits
//! per answer, Discord's rate limits, refusals and the bot's event loop.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::LatencyHistogram;

/// 429s on one route (`POST /channels/{id}/messages`, …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteRateLimits {
    /// How many requests Discord answered with 429.
    pub rate_limited: u64,
    /// Seconds the bot waited after its 429s before it sent on the route again.
    pub waited_s: f64,
    /// Requests sent again before the `retry_after` of a 429 (Discord bans such bots).
    pub early_retries: u64,
}

/// A Discord bot's run as the fake Discord saw it: `report.json`'s `discord`, and its
/// section in every report. Counts add up over shards ([`merge`](Self::merge)).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DiscordSummary {
    /// Queries that got at least one message.
    pub answers: u64,
    /// Time from the query to the bot's first "typing…", per answer that showed it.
    pub typing: LatencyHistogram,
    /// Messages the bot posted (in the answers and outside them).
    pub messages: u64,
    /// Edits of its messages.
    pub edits: u64,
    /// Messages Discord refused for being over 2,000 characters (50035).
    pub too_long: u64,
    /// Replies posted in another channel than the question's.
    pub wrong_channel: u64,
    /// 429s per route.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rate_limits: BTreeMap<String, RouteRateLimits>,
    /// Requests to routes the fake Discord does not know, per route.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown_routes: BTreeMap<String, u64>,
    /// Heartbeats the bot sent.
    pub heartbeats: u64,
    /// The latest a heartbeat came after it was due, in ms: how long the event loop was
    /// blocked at worst.
    pub loop_blocked_max_ms: f64,
    /// The 99th percentile of that lateness, in ms.
    pub loop_blocked_p99_ms: f64,
    /// Gateway sessions the bot resumed after a dropped connection.
    pub resumes: u64,
    /// Times the bot's process exited during the run (it was started again).
    #[serde(default)]
    pub crashes: u64,
}

impl DiscordSummary {
    /// Every 429 the bot got.
    pub fn rate_limited(&self) -> u64 {
        self.rate_limits.values().map(|r| r.rate_limited).sum()
    }

    /// Every request sent again too early.
    pub fn early_retries(&self) -> u64 {
        self.rate_limits.values().map(|r| r.early_retries).sum()
    }

    /// Messages per answer (0 without answers).
    pub fn messages_per_answer(&self) -> f64 {
        per(self.messages, self.answers)
    }

    /// Edits per answer (0 without answers).
    pub fn edits_per_answer(&self) -> f64 {
        per(self.edits, self.answers)
    }

    /// Adds another shard's summary: counts add, histograms merge, the worst blocking is
    /// kept (the p99 of the parts is the larger one, an upper bound).
    pub fn merge(&mut self, other: &DiscordSummary) {
        self.answers += other.answers;
        self.typing.merge(&other.typing);
        self.messages += other.messages;
        self.edits += other.edits;
        self.too_long += other.too_long;
        self.wrong_channel += other.wrong_channel;
        for (route, r) in &other.rate_limits {
            let mine = self.rate_limits.entry(route.clone()).or_default();
            mine.rate_limited += r.rate_limited;
            mine.waited_s += r.waited_s;
            mine.early_retries += r.early_retries;
        }
        for (route, n) in &other.unknown_routes {
            *self.unknown_routes.entry(route.clone()).or_default() += n;
        }
        self.heartbeats += other.heartbeats;
        self.loop_blocked_max_ms = self.loop_blocked_max_ms.max(other.loop_blocked_max_ms);
        self.loop_blocked_p99_ms = self.loop_blocked_p99_ms.max(other.loop_blocked_p99_ms);
        self.resumes += other.resumes;
        self.crashes += other.crashes;
    }
}

fn per(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 / of as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn shards_add_up_and_keep_the_worst_blocking() {
        let mut a = DiscordSummary {
            answers: 4,
            messages: 4,
            edits: 8,
            loop_blocked_max_ms: 30.0,
            ..DiscordSummary::default()
        };
        a.typing.record(Duration::from_millis(20));
        a.rate_limits.insert(
            "POST /channels/{id}/messages".into(),
            RouteRateLimits {
                rate_limited: 1,
                waited_s: 2.5,
                early_retries: 0,
            },
        );
        let mut b = a.clone();
        b.loop_blocked_max_ms = 400.0;
        b.rate_limits
            .get_mut("POST /channels/{id}/messages")
            .unwrap()
            .early_retries = 2;
        a.merge(&b);
        assert_eq!((a.answers, a.messages, a.edits), (8, 8, 16));
        assert_eq!(a.typing.count(), 2);
        assert_eq!((a.rate_limited(), a.early_retries()), (2, 2));
        assert!((a.rate_limits["POST /channels/{id}/messages"].waited_s - 5.0).abs() < 1e-9);
        assert_eq!(a.loop_blocked_max_ms, 400.0);
        assert_eq!((a.messages_per_answer(), a.edits_per_answer()), (1.0, 2.0));
        assert_eq!(DiscordSummary::default().edits_per_answer(), 0.0);
    }

    #[test]
    fn the_summary_round_trips_through_json() {
        let mut a = DiscordSummary {
            answers: 1,
            ..DiscordSummary::default()
        };
        a.typing.record(Duration::from_millis(7));
        let text = serde_json::to_string(&a).unwrap();
        let back: DiscordSummary = serde_json::from_str(&text).unwrap();
        assert_eq!(back, a);
    }
}
