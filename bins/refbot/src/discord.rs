//! `refbot discord`: the reference bot as a Discord bot. It reads `DISCORD_TOKEN`,
//! `DISCORD_API_BASE` and `DISCORD_GATEWAY_URL` (docs/discord.md), logs in over REST,
//! identifies on the gateway, heartbeats, and answers every message that mentions it:
//! typing first, then a reply to the message (split at 2,000 characters, as Discord
//! requires).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{bail, Context as _};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use perf_core::{BotTarget, Query};
use perf_refbot::RefBot;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

type Http = Client<HttpConnector, Full<Bytes>>;

/// Discord's limit of one message, in characters.
const MAX_MESSAGE_CHARS: usize = 2_000;

/// `refbot discord`: the bot as a Discord bot.
#[derive(Debug, clap::Args)]
pub(crate) struct DiscordArgs {
    #[command(flatten)]
    bot: super::BotArgs,
    /// Reply with the question itself, at once, without typing or the database: the
    /// fastest Discord bot, for benchmarks of the harness (docs/performance.md).
    #[arg(long)]
    echo: bool,
    /// Exit with status 3 on the Nth question, before answering it: a bot that crashes,
    /// for tests of the restart.
    #[arg(long, value_name = "N")]
    exit_after: Option<u64>,
}

struct Rest {
    http: Http,
    base: String,
    token: String,
    /// Until when each route (by path) is rate limited, shared by every handler: a 429
    /// or a bucket with nothing remaining holds every request of the route, as Discord
    /// libraries do.
    blocked: Mutex<HashMap<String, tokio::time::Instant>>,
}

impl Rest {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        for _ in 0..5 {
            let until = self
                .blocked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(path)
                .copied();
            if let Some(until) = until {
                tokio::time::sleep_until(until).await;
            }
            let req = hyper::Request::builder()
                .method(method)
                .uri(format!("{}{path}", self.base))
                .header("authorization", format!("Bot {}", self.token))
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(
                    body.as_ref().map(Value::to_string).unwrap_or_default(),
                )))?;
            let res = self
                .http
                .request(req)
                .await
                .context("calling the Discord API")?;
            let status = res.status().as_u16();
            let header = |name: &str| {
                res.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<f64>().ok())
            };
            let (remaining, reset_after) = (
                header("x-ratelimit-remaining"),
                header("x-ratelimit-reset-after"),
            );
            let bytes = res.into_body().collect().await?.to_bytes();
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let hold = if status == 429 {
                v["retry_after"].as_f64().or(Some(1.0))
            } else if remaining == Some(0.0) {
                reset_after
            } else {
                None
            };
            if let Some(wait) = hold {
                let until =
                    tokio::time::Instant::now() + Duration::from_secs_f64(wait.clamp(0.0, 60.0));
                let mut blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
                let at = blocked.entry(path.to_owned()).or_insert(until);
                *at = (*at).max(until);
            }
            if status == 429 {
                continue;
            }
            return Ok((status, v));
        }
        bail!("{method} {path}: still rate limited after 5 tries")
    }
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| {
        format!("{name} is not set: `refbot discord` is started by the discord target, which sets DISCORD_TOKEN, DISCORD_API_BASE and DISCORD_GATEWAY_URL (docs/discord.md)")
    })
}

/// Runs `refbot discord` until the gateway closes.
pub(crate) async fn main(args: DiscordArgs) -> anyhow::Result<()> {
    let (token, base, gateway) = (
        env("DISCORD_TOKEN")?,
        env("DISCORD_API_BASE")?,
        env("DISCORD_GATEWAY_URL")?,
    );
    let bot = Arc::new(args.bot.open().await?);
    bot.initialize()
        .await
        .map_err(|e| anyhow::anyhow!("refbot failed to start: {e}"))?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let rest = Arc::new(Rest {
        http: Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector),
        base: base.trim_end_matches('/').to_owned(),
        token: token.clone(),
        blocked: Mutex::new(HashMap::new()),
    });
    let (status, me) = rest.call("GET", "/users/@me", None).await?;
    if status != 200 {
        bail!("login failed: GET /users/@me answered {status}: {me}");
    }
    let me_id = me["id"].as_str().context("no id in /users/@me")?.to_owned();
    let url = format!("{}?v=10&encoding=json", gateway.trim_end_matches('/'));
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .context("connecting to the gateway")?;
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if sink.send(Message::Text(frame.into())).await.is_err() {
                break;
            }
        }
    });
    let channels: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let seq: Arc<Mutex<Option<u64>>> = Arc::default();
    let mut questions = 0u64;
    while let Some(frame) = stream.next().await {
        let text = match frame.context("reading the gateway")? {
            Message::Text(t) => t.to_string(),
            Message::Close(c) => bail!("the gateway closed: {c:?}"),
            _ => continue,
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if let Some(s) = v["s"].as_u64() {
            *seq.lock().unwrap_or_else(PoisonError::into_inner) = Some(s);
        }
        match (v["op"].as_u64(), v["t"].as_str()) {
            (Some(10), _) => {
                let interval = v["d"]["heartbeat_interval"]
                    .as_u64()
                    .unwrap_or(41_250)
                    .max(100);
                let (beats, seq) = (tx.clone(), Arc::clone(&seq));
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(Duration::from_millis(interval)).await;
                        let s = *seq.lock().unwrap_or_else(PoisonError::into_inner);
                        if beats.send(json!({"op": 1, "d": s}).to_string()).is_err() {
                            break;
                        }
                    }
                });
                let identify = json!({"op": 2, "d": {
                    "token": token,
                    // Guilds, guild messages, message content.
                    "intents": 1 | (1 << 9) | (1 << 15),
                    "properties": {"os": std::env::consts::OS, "browser": "refbot", "device": "refbot"}
                }});
                let _ = tx.send(identify.to_string());
            }
            (Some(0), Some("GUILD_CREATE")) => {
                let mut map = channels.lock().unwrap_or_else(PoisonError::into_inner);
                for c in v["d"]["channels"].as_array().into_iter().flatten() {
                    if let (Some(id), Some(name)) = (c["id"].as_str(), c["name"].as_str()) {
                        map.insert(id.to_owned(), name.to_owned());
                    }
                }
            }
            (Some(0), Some("MESSAGE_CREATE")) => {
                let d = &v["d"];
                let mention = format!("<@{me_id}>");
                let content = d["content"].as_str().unwrap_or("");
                if d["author"]["bot"] == true || !content.contains(&mention) {
                    continue;
                }
                questions += 1;
                if args.exit_after.is_some_and(|n| questions >= n) {
                    eprintln!("refbot discord: exiting on question {questions} (--exit-after)");
                    std::process::exit(3);
                }
                let question = content.replace(&mention, "").trim().to_owned();
                let channel_id = d["channel_id"].as_str().unwrap_or("").to_owned();
                let channel = channels
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&channel_id)
                    .cloned();
                let mut q = Query::new(d["id"].as_str().unwrap_or("message"), question, "discord");
                q.user_id = d["author"]["username"].as_str().map(str::to_owned);
                q.channel = channel;
                let message_id = d["id"].as_str().unwrap_or("").to_owned();
                let (bot, rest) = (Arc::clone(&bot), Arc::clone(&rest));
                let bot = (!args.echo).then_some(bot);
                tokio::spawn(async move {
                    if let Err(e) =
                        answer(bot.as_deref(), &rest, &channel_id, &message_id, &q).await
                    {
                        eprintln!("refbot discord: {e:#}");
                    }
                });
            }
            (Some(7), _) | (Some(9), _) => bail!(
                "the gateway asked to reconnect (op {}); refbot discord does not resume",
                v["op"]
            ),
            _ => {}
        }
    }
    bot.shutdown().await.ok();
    Ok(())
}

/// Answers one message: typing, the bot's answer, the reply in pieces of at most 2,000
/// characters (the first one a reply to the message). Without a bot (`--echo`), the
/// question itself at once.
async fn answer(
    bot: Option<&RefBot>,
    rest: &Rest,
    channel: &str,
    message_id: &str,
    q: &Query,
) -> anyhow::Result<()> {
    let text = match bot {
        None => q.text.clone(),
        Some(bot) => {
            rest.call("POST", &format!("/channels/{channel}/typing"), None)
                .await?;
            match bot.execute(q).await {
                Ok(r) => r.answer,
                Err(e) => format!("Sorry, I could not answer that: {e}"),
            }
        }
    };
    let text = if text.trim().is_empty() {
        "(no answer)".to_owned()
    } else {
        text
    };
    let chars: Vec<char> = text.chars().collect();
    for (i, piece) in chars.chunks(MAX_MESSAGE_CHARS).enumerate() {
        let content: String = piece.iter().collect();
        let body = if i == 0 {
            json!({"content": content, "message_reference": {"message_id": message_id}})
        } else {
            json!({"content": content})
        };
        let (status, v) = rest
            .call("POST", &format!("/channels/{channel}/messages"), Some(body))
            .await?;
        if status != 200 {
            bail!("sending the reply: {status} {v}");
        }
    }
    Ok(())
}
