//! What the fake Discord knows: the gateway session, the messages of the test, which
//! query each of the bot's messages answers, and the counters for the report.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::guild::{member_json, user_json, BotUser, Guild};
use crate::ratelimit::{RateLimiter, RouteLimits};
use crate::FakeDiscordConfig;

/// What the bot did about one query, as the fake Discord saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum Activity {
    /// `POST /channels/{id}/typing` in the query's channel.
    Typing {
        /// When.
        at: Instant,
    },
    /// A message of the bot that answers the query (it references it, or it is the bot's
    /// next message in the channel).
    Message {
        /// The message's id.
        id: u64,
        /// When.
        at: Instant,
        /// Its content.
        content: String,
    },
    /// An edit of one of those messages.
    Edit {
        /// The message's id.
        id: u64,
        /// When.
        at: Instant,
        /// The new content.
        content: String,
    },
    /// One of those messages deleted.
    Deleted {
        /// The message's id.
        id: u64,
        /// When.
        at: Instant,
    },
    /// A reply Discord refused (over 2,000 characters: 50035; empty: 50006).
    Rejected {
        /// When.
        at: Instant,
        /// Discord's JSON error code.
        code: u32,
        /// Why, in words.
        reason: String,
    },
    /// A reply to the query posted in another channel.
    WrongChannel {
        /// When.
        at: Instant,
        /// The channel it went to.
        channel_id: u64,
    },
}

/// Counters of one fake Discord, for the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DiscordStats {
    /// Gateway connections the bot opened.
    pub connections: u64,
    /// IDENTIFYs with a wrong token (closed with 4004).
    pub bad_tokens: u64,
    /// Sessions resumed (op 6).
    pub resumes: u64,
    /// Whether the bot's IDENTIFY left out the message-content intent (it then sees
    /// empty messages unless it is mentioned).
    pub missing_message_content_intent: bool,
    /// Heartbeats received.
    pub heartbeats: u64,
    /// How late each heartbeat came after the interval asked for, in ms: the time the
    /// bot's event loop could not send it (at most [`MAX_LATENESS_READINGS`] kept).
    pub heartbeat_lateness_ms: Vec<f64>,
    /// The heartbeat interval the bot was given, in ms.
    pub heartbeat_interval_ms: u64,
    /// Messages sent by the bot.
    pub messages: u64,
    /// Edits by the bot.
    pub edits: u64,
    /// Typing indicators by the bot.
    pub typing: u64,
    /// Replies refused for their length (over 2,000 characters, code 50035).
    pub too_long: u64,
    /// Replies refused as empty (code 50006).
    pub empty: u64,
    /// Replies to a query posted in another channel than the query's.
    pub wrong_channel: u64,
    /// Messages of the bot that answered no query in flight.
    pub unattributed: u64,
    /// Requests to routes the fake Discord does not serve, by `METHOD /path` (ids
    /// replaced by `{id}`), at most 100 distinct.
    pub unknown_routes: BTreeMap<String, u64>,
    /// Requests with a missing or wrong `Authorization` header (401).
    pub unauthorized: u64,
    /// Bodies that were not JSON, or too large.
    pub bad_bodies: u64,
    /// Rate limits per route.
    pub rate_limits: BTreeMap<String, RouteLimits>,
    /// 429s of the global limit.
    pub global_rate_limited: u64,
    /// Slash-command interaction callbacks and follow-ups.
    pub interactions: u64,
}

/// Heartbeat lateness readings kept (one per heartbeat; at one a second, over a day).
pub const MAX_LATENESS_READINGS: usize = 100_000;
/// Distinct unknown routes counted.
const MAX_UNKNOWN_ROUTES: usize = 100;
/// Messages remembered (the bot may edit or reply to any of them); older ones are
/// forgotten, and an edit of one is answered 404 Unknown Message, as Discord answers a
/// deleted one. 50,000 is ten seconds of 5,000 questions and answers a second, minutes of
/// an LLM bot streaming its edits, and bounds the fake at a few tens of MB.
const MAX_MESSAGES: usize = 50_000;
/// Dispatches kept for a RESUME.
const MAX_REPLAY: usize = 10_000;

/// The state of the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayState {
    /// No bot has identified yet.
    Waiting,
    /// The bot identified and READY was sent.
    Ready,
    /// The bot identified with a wrong token.
    BadToken,
}

#[derive(Debug)]
pub(crate) struct Session {
    pub id: String,
    pub seq: u64,
    pub tx: Option<mpsc::UnboundedSender<String>>,
    replay: VecDeque<(u64, String)>,
}

#[derive(Debug)]
struct Watcher {
    channel_id: u64,
    tx: mpsc::UnboundedSender<Activity>,
}

#[derive(Debug)]
struct Stored {
    channel_id: u64,
    author: Value,
    content: String,
    /// The query this message answers, when it is the bot's.
    answers: Option<u64>,
    reference: Option<u64>,
}

impl Stored {
    /// A message that answers nothing and refers to nothing.
    fn new(channel_id: u64, author: Value, content: &str) -> Self {
        Stored {
            channel_id,
            author,
            content: content.to_owned(),
            answers: None,
            reference: None,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub session: Option<Session>,
    next_id: u64,
    messages: HashMap<u64, Stored>,
    order: VecDeque<u64>,
    watchers: HashMap<u64, Watcher>,
    /// Queries waiting for an answer per channel, oldest first.
    waiting: HashMap<u64, VecDeque<u64>>,
    pub limits: RateLimiter,
    pub stats: DiscordStats,
    last_heartbeat: Option<Instant>,
}

/// Everything the server's tasks share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: FakeDiscordConfig,
    pub guild: Guild,
    pub bot: BotUser,
    /// `ws://127.0.0.1:PORT/gateway`.
    pub gateway_url: String,
    pub inner: Mutex<Inner>,
    pub state: watch::Sender<GatewayState>,
}

/// A message sent as a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// The message's id.
    pub message_id: u64,
    /// When it was dispatched.
    pub at: Instant,
}

/// Why a query could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The bot never identified.
    #[error("the bot has not connected to the gateway")]
    NotConnected,
}

impl Shared {
    pub(crate) fn new(config: FakeDiscordConfig, guild: Guild, gateway_url: String) -> Self {
        let now = Instant::now();
        let bot = BotUser {
            id: 900_000_000_000_000_777,
            name: config.bot_name.clone(),
        };
        let heartbeat_interval_ms = config.heartbeat_interval.as_millis() as u64;
        let limits = RateLimiter::new(config.rate_limits, now);
        Self {
            config,
            guild,
            bot,
            gateway_url,
            inner: Mutex::new(Inner {
                session: None,
                next_id: 910_000_000_000_000_000,
                messages: HashMap::new(),
                order: VecDeque::new(),
                watchers: HashMap::new(),
                waiting: HashMap::new(),
                limits,
                stats: DiscordStats {
                    heartbeat_interval_ms,
                    ..DiscordStats::default()
                },
                last_heartbeat: None,
            }),
            state: watch::channel(GatewayState::Waiting).0,
        }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of the counters, rate limits included.
    pub(crate) fn stats(&self) -> DiscordStats {
        let inner = self.lock();
        let mut s = inner.stats.clone();
        s.rate_limits = inner
            .limits
            .routes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        s.global_rate_limited = inner.limits.global_limited;
        s
    }

    /// Sends a dispatch (op 0) on the current session, or keeps it for a RESUME.
    pub(crate) fn dispatch(inner: &mut Inner, t: &str, d: Value) -> Result<(), SendError> {
        let Some(session) = inner.session.as_mut() else {
            return Err(SendError::NotConnected);
        };
        session.seq += 1;
        // `serde_json::to_string` rather than `Display`: no formatter between the
        // serializer and the buffer.
        let frame = serde_json::to_string(&json!({"op": 0, "t": t, "s": session.seq, "d": d}))
            .unwrap_or_default();
        if session.replay.len() >= MAX_REPLAY {
            session.replay.pop_front();
        }
        session.replay.push_back((session.seq, frame.clone()));
        if let Some(tx) = &session.tx {
            if tx.send(frame).is_err() {
                session.tx = None;
            }
        }
        Ok(())
    }

    /// Opens a new session on `tx` (after an IDENTIFY) and sends READY and GUILD_CREATE.
    pub(crate) fn identify(&self, tx: mpsc::UnboundedSender<String>, resume_url: &str) {
        let mut inner = self.lock();
        let n = inner.stats.connections;
        let id = format!("perf-session-{n}");
        inner.session = Some(Session {
            id: id.clone(),
            seq: 0,
            tx: Some(tx),
            replay: VecDeque::new(),
        });
        let ready = json!({
            "v": 10,
            "user": self.bot.json(),
            "guilds": [{"id": self.guild.id.to_string(), "unavailable": true}],
            "session_id": id,
            "resume_gateway_url": resume_url,
            "session_type": "normal",
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "application": {"id": self.bot.id.to_string(), "flags": 0},
            "_trace": ["perf-discord"]
        });
        let _ = Self::dispatch(&mut inner, "READY", ready);
        let guild = self.guild.guild_create_json(&self.bot);
        let _ = Self::dispatch(&mut inner, "GUILD_CREATE", guild);
        drop(inner);
        self.state.send_replace(GatewayState::Ready);
    }

    /// Resumes session `id` on `tx` after `seq`: replays what the bot missed, then
    /// RESUMED. False when there is no such session (the bot gets op 9).
    pub(crate) fn resume(&self, id: &str, seq: u64, tx: mpsc::UnboundedSender<String>) -> bool {
        let mut inner = self.lock();
        let Some(session) = inner.session.as_mut().filter(|s| s.id == id) else {
            return false;
        };
        for (s, frame) in &session.replay {
            if *s > seq {
                let _ = tx.send(frame.clone());
            }
        }
        session.tx = Some(tx);
        inner.stats.resumes += 1;
        let _ = Self::dispatch(&mut inner, "RESUMED", json!({"_trace": ["perf-discord"]}));
        true
    }

    /// The connection on `tx` is gone; the session stays resumable.
    pub(crate) fn disconnected(&self, tx: &mpsc::UnboundedSender<String>) {
        let mut inner = self.lock();
        if let Some(s) = inner.session.as_mut() {
            if s.tx.as_ref().is_some_and(|t| t.same_channel(tx)) {
                s.tx = None;
            }
        }
    }

    /// A heartbeat at `now`: counted, and its lateness recorded.
    pub(crate) fn heartbeat(&self, now: Instant) {
        let mut inner = self.lock();
        inner.stats.heartbeats += 1;
        if let Some(last) = inner.last_heartbeat {
            let late = now
                .saturating_duration_since(last)
                .saturating_sub(self.config.heartbeat_interval);
            if inner.stats.heartbeat_lateness_ms.len() < MAX_LATENESS_READINGS {
                inner
                    .stats
                    .heartbeat_lateness_ms
                    .push(late.as_secs_f64() * 1e3);
            }
        }
        inner.last_heartbeat = Some(now);
    }

    /// Forgets the heartbeat before (a new connection starts its own rhythm).
    pub(crate) fn reset_heartbeat(&self) {
        self.lock().last_heartbeat = None;
    }

    fn new_id(inner: &mut Inner) -> u64 {
        inner.next_id += 1;
        inner.next_id
    }

    fn remember(inner: &mut Inner, id: u64, m: Stored) {
        if inner.order.len() >= MAX_MESSAGES {
            if let Some(old) = inner.order.pop_front() {
                inner.messages.remove(&old);
            }
        }
        inner.order.push_back(id);
        inner.messages.insert(id, m);
    }

    /// Sends `content` from `member` in `channel_id` as a MESSAGE_CREATE; its activity
    /// goes to `tx`. `mentions_bot` puts the bot in `mentions`.
    pub(crate) fn send_query(
        &self,
        channel_id: u64,
        member: (u64, &str),
        content: &str,
        mentions_bot: bool,
        tx: mpsc::UnboundedSender<Activity>,
    ) -> Result<Sent, SendError> {
        let mut inner = self.lock();
        if inner.session.is_none() {
            return Err(SendError::NotConnected);
        }
        let id = Self::new_id(&mut inner);
        let author = user_json(member.0, member.1, false);
        // Without the message-content intent a bot sees the content only of messages that
        // mention it.
        let visible = if inner.stats.missing_message_content_intent && !mentions_bot {
            ""
        } else {
            content
        };
        let d = self.message_json(id, channel_id, &author, visible, None, mentions_bot, true);
        Self::remember(&mut inner, id, Stored::new(channel_id, author, content));
        inner.watchers.insert(id, Watcher { channel_id, tx });
        inner.waiting.entry(channel_id).or_default().push_back(id);
        Self::dispatch(&mut inner, "MESSAGE_CREATE", d)?;
        Ok(Sent {
            message_id: id,
            at: Instant::now(),
        })
    }

    /// When the bot may next post or edit in `channel_id`, if its message or edit bucket
    /// there is used up now.
    pub(crate) fn channel_blocked_until(&self, channel_id: u64) -> Option<Instant> {
        let now = Instant::now();
        let inner = self.lock();
        [
            "POST /channels/{id}/messages",
            "PATCH /channels/{id}/messages/{id}",
        ]
        .iter()
        .filter_map(|r| inner.limits.exhausted_until(r, channel_id, now))
        .max()
    }

    /// The query `message_id` is done: its watcher goes.
    pub(crate) fn forget_query(&self, message_id: u64) {
        let mut inner = self.lock();
        if let Some(w) = inner.watchers.remove(&message_id) {
            if let Some(q) = inner.waiting.get_mut(&w.channel_id) {
                q.retain(|id| *id != message_id);
                if q.is_empty() {
                    inner.waiting.remove(&w.channel_id);
                }
            }
        }
    }

    fn notify(inner: &Inner, query: u64, a: Activity) {
        if let Some(w) = inner.watchers.get(&query) {
            let _ = w.tx.send(a);
        }
    }

    /// The query a new message of the bot in `channel_id` answers: the one it
    /// references, or else the oldest waiting in the channel.
    fn answered_query(inner: &Inner, channel_id: u64, reference: Option<u64>) -> Option<u64> {
        match reference.filter(|r| inner.watchers.contains_key(r)) {
            Some(r) => Some(r),
            None => inner
                .waiting
                .get(&channel_id)
                .and_then(|q| q.front().copied()),
        }
    }

    /// A message of the bot: stored, attributed, and the bot gets it back as Discord
    /// would return it. `Err` is Discord's refusal (status, JSON body).
    pub(crate) fn bot_message(
        &self,
        channel_id: u64,
        content: &str,
        reference: Option<u64>,
        has_other_content: bool,
    ) -> Result<Value, (u16, Value)> {
        let now = Instant::now();
        let mut inner = self.lock();
        let chars = content.chars().count();
        let refusal = if chars > 2_000 {
            inner.stats.too_long += 1;
            Some((
                50_035,
                format!("{chars} characters: Discord allows 2,000 in a message"),
                json!({
                    "code": 50035,
                    "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]}},
                    "message": "Invalid Form Body"
                }),
            ))
        } else if content.trim().is_empty() && !has_other_content {
            inner.stats.empty += 1;
            Some((
                50_006,
                "an empty message".to_owned(),
                json!({"code": 50006, "message": "Cannot send an empty message"}),
            ))
        } else {
            None
        };
        // The query the message is about; a reply to a query of another channel is an
        // error of the bot's.
        let referenced_elsewhere = reference.and_then(|r| {
            inner
                .watchers
                .get(&r)
                .filter(|w| w.channel_id != channel_id)
                .map(|_| r)
        });
        if let Some(q) = referenced_elsewhere {
            inner.stats.wrong_channel += 1;
            Self::notify(
                &inner,
                q,
                Activity::WrongChannel {
                    at: now,
                    channel_id,
                },
            );
        }
        let query = if referenced_elsewhere.is_some() {
            None
        } else {
            Self::answered_query(&inner, channel_id, reference)
        };
        if let Some((code, reason, body)) = refusal {
            if let Some(q) = query {
                Self::notify(
                    &inner,
                    q,
                    Activity::Rejected {
                        at: now,
                        code,
                        reason,
                    },
                );
            }
            return Err((400, body));
        }
        let id = Self::new_id(&mut inner);
        inner.stats.messages += 1;
        match query {
            Some(q) => {
                // The oldest waiting query has its answer: the next message without a
                // reference goes to the next one.
                if let Some(w) = inner.watchers.get(&q).map(|w| w.channel_id) {
                    if let Some(queue) = inner.waiting.get_mut(&w) {
                        queue.retain(|x| *x != q);
                    }
                }
                Self::notify(
                    &inner,
                    q,
                    Activity::Message {
                        id,
                        at: now,
                        content: content.to_owned(),
                    },
                );
            }
            None if referenced_elsewhere.is_none() => inner.stats.unattributed += 1,
            None => {}
        }
        let author = self.bot.json();
        let referenced = reference.and_then(|r| {
            inner.messages.get(&r).map(|m| {
                self.message_json(r, m.channel_id, &m.author, &m.content, None, false, false)
            })
        });
        let mut v = self.message_json(id, channel_id, &author, content, reference, false, false);
        if let Some(r) = referenced {
            v["referenced_message"] = r;
        }
        let stored = Stored {
            answers: query,
            reference,
            ..Stored::new(channel_id, author, content)
        };
        Self::remember(&mut inner, id, stored);
        Ok(v)
    }

    /// An edit of message `id` in `channel_id`.
    pub(crate) fn bot_edit(
        &self,
        channel_id: u64,
        id: u64,
        content: Option<&str>,
    ) -> Result<Value, (u16, Value)> {
        let now = Instant::now();
        let mut inner = self.lock();
        let bot_id = self.bot.id.to_string();
        let Some(m) = inner
            .messages
            .get_mut(&id)
            .filter(|m| m.channel_id == channel_id)
        else {
            return Err(unknown_message());
        };
        if m.author["id"] != bot_id.as_str() {
            return Err((
                403,
                json!({"code": 50005, "message": "Cannot edit a message authored by another user"}),
            ));
        }
        if let Some(c) = content {
            let chars = c.chars().count();
            if chars > 2_000 {
                let q = m.answers;
                inner.stats.too_long += 1;
                if let Some(q) = q {
                    Self::notify(
                        &inner,
                        q,
                        Activity::Rejected {
                            at: now,
                            code: 50_035,
                            reason: format!(
                                "an edit of {chars} characters: Discord allows 2,000 in a message"
                            ),
                        },
                    );
                }
                return Err((
                    400,
                    json!({"code": 50035, "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]}}, "message": "Invalid Form Body"}),
                ));
            }
            m.content = c.to_owned();
        }
        let (answers, author, content, reference) =
            (m.answers, m.author.clone(), m.content.clone(), m.reference);
        inner.stats.edits += 1;
        if let Some(q) = answers {
            Self::notify(
                &inner,
                q,
                Activity::Edit {
                    id,
                    at: now,
                    content: content.clone(),
                },
            );
        }
        let mut v = self.message_json(id, channel_id, &author, &content, reference, false, false);
        v["edited_timestamp"] = json!("2024-01-01T00:00:01.000000+00:00");
        Ok(v)
    }

    /// A deletion of message `id`.
    pub(crate) fn bot_delete(&self, channel_id: u64, id: u64) -> Result<(), (u16, Value)> {
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.messages.get(&id) {
            Some(m) if m.channel_id == channel_id => {
                if let Some(q) = m.answers {
                    Self::notify(&inner, q, Activity::Deleted { id, at: now });
                }
                inner.messages.remove(&id);
                Ok(())
            }
            _ => Err(unknown_message()),
        }
    }

    /// A typing indicator in `channel_id`: every query waiting there sees it.
    pub(crate) fn bot_typing(&self, channel_id: u64) {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.stats.typing += 1;
        let mut to: Vec<u64> = inner
            .waiting
            .get(&channel_id)
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default();
        // Queries already answered in the channel keep seeing typing too (a bot typing
        // between its edits).
        to.extend(
            inner
                .watchers
                .iter()
                .filter(|(_, w)| w.channel_id == channel_id)
                .map(|(id, _)| *id),
        );
        to.sort_unstable();
        to.dedup();
        for q in to {
            Self::notify(&inner, q, Activity::Typing { at: now });
        }
    }

    /// A request to a route not served.
    pub(crate) fn unknown_route(&self, route: String) {
        let mut inner = self.lock();
        let n = inner.stats.unknown_routes.len();
        if let Some(c) = inner.stats.unknown_routes.get_mut(&route) {
            *c += 1;
        } else if n < MAX_UNKNOWN_ROUTES {
            inner.stats.unknown_routes.insert(route, 1);
        }
    }

    /// A message object as Discord sends it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn message_json(
        &self,
        id: u64,
        channel_id: u64,
        author: &Value,
        content: &str,
        reference: Option<u64>,
        mentions_bot: bool,
        from_gateway: bool,
    ) -> Value {
        let mut v = json!({
            "id": id.to_string(),
            "channel_id": channel_id.to_string(),
            "guild_id": self.guild.id.to_string(),
            "author": author,
            "content": content,
            "timestamp": "2024-01-01T00:00:00.000000+00:00",
            "edited_timestamp": null,
            "tts": false,
            "mention_everyone": false,
            "mentions": if mentions_bot { vec![self.bot.json()] } else { Vec::new() },
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": false,
            "type": if reference.is_some() { 19 } else { 0 },
            "flags": 0
        });
        if from_gateway {
            v["member"] = member_json(author);
            if let Some(o) = v["member"].as_object_mut() {
                o.remove("user");
            }
        }
        if let Some(r) = reference {
            v["message_reference"] = json!({
                "type": 0,
                "message_id": r.to_string(),
                "channel_id": channel_id.to_string(),
                "guild_id": self.guild.id.to_string()
            });
        }
        v
    }
}

fn unknown_message() -> (u16, Value) {
    (404, json!({"code": 10008, "message": "Unknown Message"}))
}

/// The `p`-quantile of `values` (nearest rank), or 0.
pub fn quantile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

impl DiscordStats {
    /// The longest the bot's event loop was seen blocked (from late heartbeats).
    pub fn loop_blocked_max(&self) -> Duration {
        Duration::from_secs_f64(
            self.heartbeat_lateness_ms
                .iter()
                .copied()
                .fold(0.0, f64::max)
                / 1e3,
        )
    }

    /// The 99th percentile of the heartbeats' lateness.
    pub fn loop_blocked_p99(&self) -> Duration {
        Duration::from_secs_f64(quantile(&self.heartbeat_lateness_ms, 0.99) / 1e3)
    }

    /// 429s the bot got, over every route.
    pub fn rate_limited(&self) -> u64 {
        self.rate_limits.values().map(|r| r.rate_limited).sum()
    }

    /// Requests sent again before `retry_after`, over every route.
    pub fn early_retries(&self) -> u64 {
        self.rate_limits.values().map(|r| r.early_retries).sum()
    }
}
