//! The gateway: HELLO, heartbeats and their ACKs, IDENTIFY (4004 for a wrong token),
//! READY and GUILD_CREATE, RESUME, and the dispatches the tests send. Frames go out as
//! uncompressed text, which every library accepts whatever `compress` it asked for
//! (discord.py inflates only binary frames).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::state::Shared;

/// The largest frame accepted from a bot (IDENTIFY with a large presence is a few KB).
const MAX_FRAME_BYTES: usize = 1024 * 1024;
/// How long a new connection may take to IDENTIFY or RESUME.
const IDENTIFY_WAIT: Duration = Duration::from_secs(60);
/// The message-content intent (privileged).
pub const MESSAGE_CONTENT_INTENT: u64 = 1 << 15;

pub(crate) async fn upgrade(State(shared): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| session(shared, socket))
}

async fn session(shared: Arc<Shared>, socket: WebSocket) {
    shared.lock().stats.connections += 1;
    shared.reset_heartbeat();
    let (mut sink, mut stream) = socket.split();
    // Everything the connection sends goes through one channel to one writer task: the
    // reader never waits on a write, and frames leave in the order they were made.
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    let writer = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            let closing = matches!(m, Message::Close(_));
            if sink.send(m).await.is_err() || closing {
                break;
            }
        }
    });
    let (frames, mut text_rx) = mpsc::unbounded_channel::<String>();
    let forward = {
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(t) = text_rx.recv().await {
                if tx.send(Message::Text(t.into())).is_err() {
                    break;
                }
            }
        })
    };
    let hello = json!({
        "op": 10,
        "d": {"heartbeat_interval": shared.config.heartbeat_interval.as_millis() as u64, "_trace": ["perf-discord"]},
        "s": null,
        "t": null
    });
    let _ = tx.send(Message::Text(hello.to_string().into()));
    let identify_by = Instant::now() + IDENTIFY_WAIT;
    let mut identified = false;
    loop {
        let frame = tokio::select! {
            _ = tokio::time::sleep_until(identify_by), if !identified => {
                let _ = tx.send(close(4003, "Not authenticated."));
                break;
            }
            frame = stream.next() => frame,
        };
        let Some(Ok(frame)) = frame else { break };
        let text = match frame {
            Message::Text(t) => t.to_string(),
            Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
            Message::Close(_) => break,
            _ => continue,
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            let _ = tx.send(close(4002, "Error while decoding payload."));
            break;
        };
        match v.get("op").and_then(Value::as_u64) {
            Some(1) => {
                shared.heartbeat(Instant::now());
                let ack = json!({"op": 11, "d": null, "s": null, "t": null});
                let _ = frames.send(ack.to_string());
            }
            Some(2) => {
                let d = &v["d"];
                if d.get("token").and_then(Value::as_str).map(strip_bot)
                    != Some(shared.config.token.as_str())
                {
                    shared.lock().stats.bad_tokens += 1;
                    shared.state.send_replace(crate::GatewayState::BadToken);
                    let _ = tx.send(close(4004, "Authentication failed."));
                    break;
                }
                let intents = d.get("intents").and_then(Value::as_u64).unwrap_or(0);
                shared.lock().stats.missing_message_content_intent =
                    intents & MESSAGE_CONTENT_INTENT == 0;
                identified = true;
                shared.identify(frames.clone(), &shared.gateway_url);
            }
            Some(6) => {
                let d = &v["d"];
                let token_ok = d.get("token").and_then(Value::as_str).map(strip_bot)
                    == Some(shared.config.token.as_str());
                let id = d.get("session_id").and_then(Value::as_str).unwrap_or("");
                let seq = d.get("seq").and_then(Value::as_u64).unwrap_or(0);
                if token_ok && shared.resume(id, seq, frames.clone()) {
                    identified = true;
                } else {
                    let invalid = json!({"op": 9, "d": false, "s": null, "t": null});
                    let _ = frames.send(invalid.to_string());
                }
            }
            // Presence, voice state, request guild members: accepted, not acted on.
            _ => {}
        }
    }
    shared.disconnected(&frames);
    drop(frames);
    drop(tx);
    let _ = forward.await;
    let _ = writer.await;
}

fn strip_bot(t: &str) -> &str {
    t.strip_prefix("Bot ").unwrap_or(t)
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}
