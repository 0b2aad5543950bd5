//! Discord's rate limits as Discord applies them: a bucket per route and major parameter
//! (the channel), a global limit of 50 requests per second, and 429s a bot library can
//! obey (`retry_after` in a JSON body, `Via`, the `X-RateLimit-*` headers).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tokio::time::Instant;

/// Discord's global limit: requests per second per bot.
pub const GLOBAL_PER_SECOND: u32 = 50;

/// A route's bucket: `limit` requests per `per`, per major parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Requests allowed in one window.
    pub limit: u32,
    /// The window.
    pub per: Duration,
}

/// The limits of a route (a name such as `POST /channels/{id}/messages`), as Discord
/// applies them to a bot: messages about 5 per 5 s per channel, edits and typing alike,
/// reactions one per 250 ms; routes without a documented bucket get 50 per second.
pub fn route_limit(route: &str) -> Limit {
    let (limit, per_ms) = match route {
        "POST /channels/{id}/messages"
        | "PATCH /channels/{id}/messages/{id}"
        | "POST /channels/{id}/typing" => (5, 5_000),
        "DELETE /channels/{id}/messages/{id}" => (5, 1_000),
        "PUT /channels/{id}/messages/{id}/reactions/{emoji}/@me"
        | "DELETE /channels/{id}/messages/{id}/reactions/{emoji}/@me" => (1, 250),
        _ => (50, 1_000),
    };
    Limit {
        limit,
        per: Duration::from_millis(per_ms),
    }
}

#[derive(Debug)]
struct Window {
    start: Instant,
    count: u32,
    /// Until when the last 429 told the bot to wait.
    told_until: Option<Instant>,
    /// When that 429 was sent.
    told_at: Option<Instant>,
}

impl Window {
    fn new(now: Instant) -> Self {
        Self {
            start: now,
            count: 0,
            told_until: None,
            told_at: None,
        }
    }

    fn roll(&mut self, now: Instant, per: Duration) {
        if now.saturating_duration_since(self.start) >= per {
            self.start = now;
            self.count = 0;
        }
    }
}

/// 429s on one route: the record type of `report.json`, filled in here.
pub use perf_core::record::RouteRateLimits as RouteLimits;

/// The headers of an answer within the limits.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Allowed {
    pub limit: u32,
    pub remaining: u32,
    pub reset_after: Duration,
    pub bucket: String,
}

/// A request over the limits.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Limited {
    pub retry_after: Duration,
    pub global: bool,
    pub bucket: String,
    pub limit: u32,
}

/// The buckets of one fake Discord.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    enabled: bool,
    buckets: HashMap<(&'static str, u64), Window>,
    global: Window,
    pub(crate) routes: BTreeMap<&'static str, RouteLimits>,
    pub(crate) global_limited: u64,
}

/// Buckets kept at most: a bot sending to ever new channels cannot grow the map without
/// bound (the oldest windows are long over by then).
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    pub(crate) fn new(enabled: bool, now: Instant) -> Self {
        Self {
            enabled,
            buckets: HashMap::new(),
            global: Window::new(now),
            routes: BTreeMap::new(),
            global_limited: 0,
        }
    }

    /// Takes one request of `route` with major parameter `major` at `now`.
    pub(crate) fn take(
        &mut self,
        route: &'static str,
        major: u64,
        now: Instant,
    ) -> Result<Allowed, Limited> {
        let limit = route_limit(route);
        let bucket = format!("{:016x}", fnv(route));
        if !self.enabled {
            return Ok(Allowed {
                limit: limit.limit,
                remaining: limit.limit,
                reset_after: limit.per,
                bucket,
            });
        }
        if self.buckets.len() >= MAX_BUCKETS {
            self.buckets
                .retain(|_, w| now.saturating_duration_since(w.start) < Duration::from_secs(60));
        }
        let stats = self.routes.entry(route).or_default();
        let w = self
            .buckets
            .entry((route, major))
            .or_insert_with(|| Window::new(now));
        // The wait after the last 429, once the bot sends again.
        if let (Some(until), Some(at)) = (w.told_until, w.told_at) {
            if now < until {
                stats.early_retries += 1;
            } else {
                stats.waited_s += now.saturating_duration_since(at).as_secs_f64();
                w.told_until = None;
                w.told_at = None;
            }
        }
        w.roll(now, limit.per);
        self.global.roll(now, Duration::from_secs(1));
        if self.global.count >= GLOBAL_PER_SECOND {
            let retry_after =
                (self.global.start + Duration::from_secs(1)).saturating_duration_since(now);
            stats.rate_limited += 1;
            self.global_limited += 1;
            w.told_until.get_or_insert(now + retry_after);
            w.told_at.get_or_insert(now);
            return Err(Limited {
                retry_after,
                global: true,
                bucket,
                limit: GLOBAL_PER_SECOND,
            });
        }
        if w.count >= limit.limit {
            let retry_after = (w.start + limit.per).saturating_duration_since(now);
            stats.rate_limited += 1;
            w.told_until = Some(now + retry_after);
            w.told_at.get_or_insert(now);
            return Err(Limited {
                retry_after,
                global: false,
                bucket,
                limit: limit.limit,
            });
        }
        w.count += 1;
        self.global.count += 1;
        Ok(Allowed {
            limit: limit.limit,
            remaining: limit.limit - w.count,
            reset_after: (w.start + limit.per).saturating_duration_since(now),
            bucket,
        })
    }
}

impl RateLimiter {
    /// When the bucket of `route` and `major` opens again, if it is used up now: a bot
    /// that obeys the limits is waiting for it, so its answer may not be final yet.
    pub(crate) fn exhausted_until(
        &self,
        route: &'static str,
        major: u64,
        now: Instant,
    ) -> Option<Instant> {
        if !self.enabled {
            return None;
        }
        let limit = route_limit(route);
        let w = self.buckets.get(&(route, major))?;
        let end = w.start + limit.per;
        (w.count >= limit.limit && end > now).then_some(end)
    }
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const POST: &str = "POST /channels/{id}/messages";

    #[tokio::test(start_paused = true)]
    async fn five_messages_per_five_seconds_per_channel_then_429() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(true, t0);
        for i in 0..5 {
            let a = r.take(POST, 1, t0).expect("within the limit");
            assert_eq!(a.remaining, 4 - i);
        }
        let l = r.take(POST, 1, t0 + Duration::from_secs(1)).unwrap_err();
        assert_eq!(l.retry_after, Duration::from_secs(4));
        assert!(!l.global);
        // Another channel has its own bucket.
        assert!(r.take(POST, 2, t0 + Duration::from_secs(1)).is_ok());
        // Sent again before retry_after: counted.
        assert!(r.take(POST, 1, t0 + Duration::from_secs(2)).is_err());
        assert_eq!(r.routes[POST].early_retries, 1);
        // After the window: allowed, and the wait is recorded from the first 429.
        assert!(r.take(POST, 1, t0 + Duration::from_secs(5)).is_ok());
        assert_eq!(r.routes[POST].rate_limited, 2);
        assert!((r.routes[POST].waited_s - 4.0).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn the_global_limit_is_fifty_per_second() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(true, t0);
        for ch in 0..50 {
            assert!(r.take("GET /channels/{id}", ch, t0).is_ok());
        }
        let l = r.take("GET /channels/{id}", 99, t0).unwrap_err();
        assert!(l.global);
        assert_eq!(r.global_limited, 1);
        assert!(r
            .take("GET /channels/{id}", 99, t0 + Duration::from_secs(1))
            .is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn off_means_off() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(false, t0);
        for _ in 0..1000 {
            assert!(r.take(POST, 1, t0).is_ok());
        }
        assert!(r.routes.is_empty());
    }
}
