//! A fake Discord on loopback that an unmodified Discord bot logs into: REST v10 and the
//! gateway, with the guild of the message database, Discord's rate limits and errors.
//!
//! A test starts one with [`FakeDiscord::start`], gives the bot
//! [`api_base`](FakeDiscord::api_base), [`gateway_url`](FakeDiscord::gateway_url) and
//! [`token`](FakeDiscord::token) (as `DISCORD_API_BASE`, `DISCORD_GATEWAY_URL` and
//! `DISCORD_TOKEN`: docs/discord.md), waits for [`ready`](FakeDiscord::ready), then sends
//! messages as members with [`send`](FakeDiscord::send) and reads what the bot did about
//! each from its [`Conversation`]: typing, messages, edits, refusals. The counters
//! ([`DiscordStats`]) say what else the bot did: 429s and early retries, late heartbeats
//! (a blocked event loop), unknown routes.
//!
//! Everything is loopback-only and bounded: bodies, frames, remembered messages, replay
//! buffers, counters.

mod gateway;
mod guild;
mod ratelimit;
mod rest;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{any, get};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use gateway::MESSAGE_CONTENT_INTENT;
pub use guild::{BotUser, Channel, Guild, Member, MAX_GUILD_CHANNELS, MAX_GUILD_MEMBERS};
pub use ratelimit::{route_limit, Limit, RouteLimits, GLOBAL_PER_SECOND};
pub use rest::MAX_BODY_BYTES;
pub use state::{
    quantile, Activity, DiscordStats, GatewayState, SendError, Sent, MAX_LATENESS_READINGS,
};

/// How a fake Discord behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeDiscordConfig {
    /// The token the bot must log in with.
    pub token: String,
    /// The bot's user name.
    pub bot_name: String,
    /// The heartbeat interval given in HELLO. Discord gives about 41 s; a test gives one
    /// second so that a blocked event loop shows within a short run.
    pub heartbeat_interval: Duration,
    /// Discord's rate limits (on by default).
    pub rate_limits: bool,
}

impl Default for FakeDiscordConfig {
    fn default() -> Self {
        Self {
            token: "perf.fake-discord.token".to_owned(),
            bot_name: "perf-bot".to_owned(),
            heartbeat_interval: Duration::from_secs(1),
            rate_limits: true,
        }
    }
}

/// A running fake Discord.
#[derive(Debug)]
pub struct FakeDiscord {
    addr: SocketAddr,
    shared: Arc<state::Shared>,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Why a fake Discord could not start or the bot did not connect.
#[derive(Debug, thiserror::Error)]
pub enum FakeDiscordError {
    /// The loopback port could not be bound.
    #[error("cannot listen on loopback: {0}")]
    Bind(std::io::Error),
    /// The bot logged in with another token.
    #[error(
        "the bot identified with a wrong token (closed with 4004): is DISCORD_TOKEN passed to it?"
    )]
    BadToken,
    /// The bot did not identify in time.
    #[error("the bot did not connect to the gateway within {0:?}")]
    NotReady(Duration),
}

impl FakeDiscord {
    /// Starts a fake Discord for `guild` on `127.0.0.1` (a free port).
    pub async fn start(guild: Guild, config: FakeDiscordConfig) -> Result<Self, FakeDiscordError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(FakeDiscordError::Bind)?;
        let addr = listener.local_addr().map_err(FakeDiscordError::Bind)?;
        let shared = Arc::new(state::Shared::new(
            config,
            guild,
            format!("ws://{addr}/gateway"),
        ));
        let app = axum::Router::new()
            .route("/gateway", get(gateway::upgrade))
            .route("/gateway/", get(gateway::upgrade))
            .route("/api/{*rest}", any(rest::api))
            .with_state(Arc::clone(&shared));
        let stop = CancellationToken::new();
        let until = stop.clone();
        // Frames and answers are small writes: without TCP_NODELAY the second of two
        // waits for the peer's delayed ACK (40 ms on Linux), which would be charged to the bot.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { until.cancelled().await })
                .await;
        });
        Ok(Self {
            addr,
            shared,
            stop,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT/api/v10`: the bot's `DISCORD_API_BASE`.
    pub fn api_base(&self) -> String {
        format!("http://{}/api/v10", self.addr)
    }

    /// `ws://127.0.0.1:PORT/gateway`: the bot's `DISCORD_GATEWAY_URL`.
    pub fn gateway_url(&self) -> String {
        self.shared.gateway_url.clone()
    }

    /// The token the bot must use: its `DISCORD_TOKEN`.
    pub fn token(&self) -> &str {
        &self.shared.config.token
    }

    /// The bot's own user.
    pub fn bot_user(&self) -> &BotUser {
        &self.shared.bot
    }

    /// The guild.
    pub fn guild(&self) -> &Guild {
        &self.shared.guild
    }

    /// The gateway's state now.
    pub fn state(&self) -> GatewayState {
        *self.shared.state.borrow()
    }

    /// Forgets the bot's session after its process ended: messages are refused
    /// ([`SendError::NotConnected`]) and [`ready`](Self::ready) waits for the next
    /// IDENTIFY, of the restarted bot.
    pub fn bot_gone(&self) {
        self.shared.lock().session = None;
        self.shared.state.send_replace(GatewayState::Waiting);
    }

    /// Waits until the bot has identified and READY was sent, up to `timeout`.
    pub async fn ready(&self, timeout: Duration) -> Result<(), FakeDiscordError> {
        let mut rx = self.shared.state.subscribe();
        let state = tokio::time::timeout(timeout, async {
            rx.wait_for(|s| *s != GatewayState::Waiting)
                .await
                .map(|s| *s)
        })
        .await;
        match state {
            Ok(Ok(GatewayState::Ready)) => Ok(()),
            Ok(Ok(_)) => Err(FakeDiscordError::BadToken),
            _ => Err(FakeDiscordError::NotReady(timeout)),
        }
    }

    /// Sends `content` from `member` in channel `channel_id` (a MESSAGE_CREATE);
    /// `mentions_bot` lists the bot in the message's mentions (write `<@id>` in the
    /// content too, as a client does).
    pub fn send(
        &self,
        channel_id: u64,
        member: &Member,
        content: &str,
        mentions_bot: bool,
    ) -> Result<Conversation, SendError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let sent = self.shared.send_query(
            channel_id,
            (member.id, &member.name),
            content,
            mentions_bot,
            tx,
        )?;
        Ok(Conversation {
            sent,
            channel_id,
            rx,
            shared: Arc::clone(&self.shared),
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> DiscordStats {
        self.shared.stats()
    }

    /// Stops the server without waiting for it.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Stops the server.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// What the bot does about one message sent with [`FakeDiscord::send`]; dropping it stops
/// the watch.
#[derive(Debug)]
pub struct Conversation {
    sent: Sent,
    channel_id: u64,
    rx: mpsc::UnboundedReceiver<Activity>,
    shared: Arc<state::Shared>,
}

impl Conversation {
    /// The message sent and when.
    pub fn sent(&self) -> Sent {
        self.sent
    }

    /// The next thing the bot did about the message.
    pub async fn next(&mut self) -> Option<Activity> {
        self.rx.recv().await
    }

    /// Waits for the bot's answer: its messages about the query, final once no message,
    /// edit or typing has come for `quiet` after the first message, and the bot's message
    /// and edit buckets in the channel are not used up (a bot that obeys the rate limits
    /// is then still waiting to send its next edit). The wait before the first message is
    /// the caller's deadline. The quiet period is not part of the figures: they end at
    /// the last message or edit.
    pub async fn answer(&mut self, quiet: Duration) -> Answer {
        let t0 = self.sent.at;
        let mut a = Answer::default();
        let mut parts: Vec<(u64, String)> = Vec::new();
        loop {
            let next = if a.first_message.is_some() {
                match tokio::time::timeout(quiet, self.rx.recv()).await {
                    Ok(n) => n,
                    Err(_) => match self.shared.channel_blocked_until(self.channel_id) {
                        Some(until) => {
                            match tokio::time::timeout_at(until + quiet, self.rx.recv()).await {
                                Ok(n) => n,
                                Err(_) => break,
                            }
                        }
                        None => break,
                    },
                }
            } else {
                self.rx.recv().await
            };
            let Some(activity) = next else { break };
            match activity {
                Activity::Typing { at } => {
                    a.typing.get_or_insert(at.saturating_duration_since(t0));
                }
                Activity::Message { id, at, content } => {
                    let d = at.saturating_duration_since(t0);
                    a.first_message.get_or_insert(d);
                    a.last_content = Some(d);
                    a.messages += 1;
                    parts.push((id, content));
                }
                Activity::Edit { id, at, content } => {
                    a.last_content = Some(at.saturating_duration_since(t0));
                    a.edits += 1;
                    if let Some(p) = parts.iter_mut().find(|p| p.0 == id) {
                        p.1 = content;
                    }
                }
                Activity::Deleted { id, at } => {
                    a.last_content = Some(at.saturating_duration_since(t0));
                    parts.retain(|p| p.0 != id);
                }
                Activity::Rejected { code, reason, .. } => {
                    a.rejected.push(format!("{reason} (Discord error {code})"));
                }
                Activity::WrongChannel { channel_id, .. } => {
                    a.wrong_channel = Some(channel_id);
                }
            }
        }
        a.content = parts
            .into_iter()
            .map(|p| p.1)
            .collect::<Vec<_>>()
            .join("\n");
        a
    }
}

impl Drop for Conversation {
    fn drop(&mut self) {
        self.shared.forget_query(self.sent.message_id);
    }
}

/// A bot's answer to one message, timed from the moment the message was dispatched.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    /// The final content of the bot's messages about the query, in order, joined by
    /// newlines (a long answer split in several messages reads whole).
    pub content: String,
    /// Time to the first typing indicator.
    pub typing: Option<Duration>,
    /// Time to the first message: a Discord bot's time to first token.
    pub first_message: Option<Duration>,
    /// Time to the final content (the last message, edit or deletion): the latency.
    pub last_content: Option<Duration>,
    /// Messages the answer took.
    pub messages: u64,
    /// Edits of those messages.
    pub edits: u64,
    /// Replies Discord refused, in words.
    pub rejected: Vec<String>,
    /// A reply to the query that went to this other channel.
    pub wrong_channel: Option<u64>,
}
