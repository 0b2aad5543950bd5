//! The REST API (v10): the calls a bot library makes at login and when it answers, with
//! Discord's errors and rate-limit headers; anything else answers 404 as Discord does and
//! is counted.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::ratelimit::{Allowed, Limited};
use crate::state::Shared;

/// The largest request body read (Discord's own limit for a bot without boosts is
/// 25 MiB of attachments; a JSON message is a few KB).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

fn json_response(status: u16, v: &Value) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        serde_json::to_string(v).unwrap_or_default(),
    )
        .into_response();
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn not_found(code: u32, what: &str) -> Response {
    json_response(
        404,
        &json!({"code": code, "message": format!("Unknown {what}")}),
    )
}

fn header(r: &mut Response, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().insert(name, v);
    }
}

fn with_limits(mut r: Response, a: &Allowed) -> Response {
    let reset = SystemTime::now()
        .checked_add(a.reset_after)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .unwrap_or(Duration::ZERO);
    header(&mut r, "x-ratelimit-limit", a.limit.to_string());
    header(&mut r, "x-ratelimit-remaining", a.remaining.to_string());
    header(
        &mut r,
        "x-ratelimit-reset",
        format!("{:.3}", reset.as_secs_f64()),
    );
    header(
        &mut r,
        "x-ratelimit-reset-after",
        format!("{:.3}", a.reset_after.as_secs_f64()),
    );
    header(&mut r, "x-ratelimit-bucket", a.bucket.clone());
    r
}

/// A 429 as Discord sends it: a JSON body with `retry_after` and `global`, the `Via`
/// header (without it discord.py takes the 429 for a Cloudflare ban), and the headers.
fn too_many(l: &Limited) -> Response {
    let retry = l.retry_after.as_secs_f64();
    let mut r = json_response(
        429,
        &json!({"message": "You are being rate limited.", "retry_after": retry, "global": l.global, "code": 0}),
    );
    header(&mut r, "via", "1.1 google".to_owned());
    header(&mut r, "retry-after", format!("{}", retry.ceil() as u64));
    header(&mut r, "x-ratelimit-limit", l.limit.to_string());
    header(&mut r, "x-ratelimit-remaining", "0".to_owned());
    header(&mut r, "x-ratelimit-reset-after", format!("{retry:.3}"));
    header(&mut r, "x-ratelimit-bucket", l.bucket.clone());
    header(
        &mut r,
        "x-ratelimit-scope",
        if l.global { "global" } else { "user" }.to_owned(),
    );
    if l.global {
        header(&mut r, "x-ratelimit-global", "true".to_owned());
    }
    r
}

/// The route name a path belongs to (ids as `{id}`), for buckets and counters.
fn template(method: &Method, segments: &[&str]) -> String {
    let parts: Vec<String> = segments
        .iter()
        .map(|s| {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                "{id}".to_owned()
            } else if s.chars().count() > 32 {
                // A token, a hash or a flood: never kept as it came.
                "{long}".to_owned()
            } else {
                (*s).to_owned()
            }
        })
        .collect();
    format!("{method} /{}", parts.join("/"))
}

fn snowflake(s: &str) -> Option<u64> {
    s.parse().ok()
}

/// Every request under `/api/...`.
pub(crate) async fn api(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let path = uri.path();
    let rest = path
        .strip_prefix("/api/v10/")
        .or_else(|| path.strip_prefix("/api/v9/"))
        .or_else(|| path.strip_prefix("/api/"))
        .unwrap_or("");
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    // Interaction callbacks and webhooks authenticate by their token in the path.
    let token_in_path = matches!(segments.first(), Some(&"interactions") | Some(&"webhooks"));
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bot {}", shared.config.token));
    let is_gateway = matches!(segments.as_slice(), ["gateway"] | ["gateway", "bot"]);
    if !authorized && !token_in_path && !is_gateway {
        shared.lock().stats.unauthorized += 1;
        return json_response(401, &json!({"message": "401: Unauthorized", "code": 0}));
    }
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            shared.lock().stats.bad_bodies += 1;
            return json_response(
                413,
                &json!({"code": 40005, "message": "Request entity too large"}),
            );
        }
    };
    let body: Option<Value> = if bytes.is_empty() {
        None
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(v) => Some(v),
            Err(_) => {
                shared.lock().stats.bad_bodies += 1;
                return json_response(
                    400,
                    &json!({"code": 50109, "message": "The request body contains invalid JSON."}),
                );
            }
        }
    };
    route(&shared, &method, &segments, body.as_ref())
}

fn route(shared: &Shared, method: &Method, seg: &[&str], body: Option<&Value>) -> Response {
    let m = method.as_str();
    let limited =
        |name: &'static str, major: u64| shared.lock().limits.take(name, major, Instant::now());
    macro_rules! bucket {
        ($name:expr, $major:expr) => {
            match limited($name, $major) {
                Ok(a) => a,
                Err(l) => return too_many(&l),
            }
        };
    }
    match (m, seg) {
        ("GET", ["users", "@me"]) => {
            let a = bucket!("GET /users/@me", 0);
            with_limits(json_response(200, &shared.bot.json()), &a)
        }
        ("GET", ["oauth2", "applications", "@me"]) => {
            let a = bucket!("GET /oauth2/applications/@me", 0);
            with_limits(json_response(200, &application_json(shared)), &a)
        }
        ("GET", ["gateway"]) => json_response(200, &json!({"url": shared_gateway_base(shared)})),
        ("GET", ["gateway", "bot"]) => json_response(
            200,
            &json!({
                "url": shared_gateway_base(shared),
                "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1}
            }),
        ),
        ("GET", ["channels", id]) => {
            let a = bucket!("GET /channels/{id}", snowflake(id).unwrap_or(0));
            match snowflake(id).and_then(|i| shared.guild.channel(i)) {
                Some(c) => {
                    let pos = shared
                        .guild
                        .channels
                        .iter()
                        .position(|x| x.id == c.id)
                        .unwrap_or(0);
                    with_limits(json_response(200, &shared.guild.channel_json(c, pos)), &a)
                }
                None => not_found(10003, "Channel"),
            }
        }
        ("GET", ["guilds", id]) | ("GET", ["guilds", id, "preview"]) => {
            let a = bucket!("GET /guilds/{id}", 0);
            if snowflake(id) == Some(shared.guild.id) {
                with_limits(json_response(200, &shared.guild.guild_json()), &a)
            } else {
                not_found(10004, "Guild")
            }
        }
        ("GET", ["guilds", id, "channels"]) => {
            if snowflake(id) != Some(shared.guild.id) {
                return not_found(10004, "Guild");
            }
            let list: Vec<Value> = shared
                .guild
                .channels
                .iter()
                .enumerate()
                .map(|(i, c)| shared.guild.channel_json(c, i))
                .collect();
            json_response(200, &Value::Array(list))
        }
        ("POST", ["channels", id, "messages"]) => {
            let Some(channel) = snowflake(id).filter(|i| shared.guild.channel(*i).is_some()) else {
                return not_found(10003, "Channel");
            };
            let a = bucket!("POST /channels/{id}/messages", channel);
            let content = body
                .and_then(|b| b.get("content"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let reference = body
                .and_then(|b| b.get("message_reference"))
                .and_then(|r| r.get("message_id"))
                .and_then(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .or_else(|| v.as_u64().map(|n| n.to_string()))
                })
                .and_then(|s| snowflake(&s));
            let other = body.is_some_and(|b| {
                ["embeds", "sticker_ids", "components", "attachments", "poll"]
                    .iter()
                    .any(|k| {
                        b.get(*k)
                            .and_then(Value::as_array)
                            .is_some_and(|a| !a.is_empty())
                            || (k == &"poll" && b.get(*k).is_some_and(|p| !p.is_null()))
                    })
            });
            match shared.bot_message(channel, content, reference, other) {
                Ok(v) => with_limits(json_response(200, &v), &a),
                Err((status, v)) => with_limits(json_response(status, &v), &a),
            }
        }
        ("PATCH", ["channels", ch, "messages", mid]) => {
            let (Some(channel), Some(mid)) = (snowflake(ch), snowflake(mid)) else {
                return not_found(10008, "Message");
            };
            let a = bucket!("PATCH /channels/{id}/messages/{id}", channel);
            let content = body.and_then(|b| b.get("content")).and_then(Value::as_str);
            match shared.bot_edit(channel, mid, content) {
                Ok(v) => with_limits(json_response(200, &v), &a),
                Err((status, v)) => with_limits(json_response(status, &v), &a),
            }
        }
        ("DELETE", ["channels", ch, "messages", mid]) => {
            let (Some(channel), Some(mid)) = (snowflake(ch), snowflake(mid)) else {
                return not_found(10008, "Message");
            };
            let a = bucket!("DELETE /channels/{id}/messages/{id}", channel);
            match shared.bot_delete(channel, mid) {
                Ok(()) => with_limits(no_content(), &a),
                Err((status, v)) => with_limits(json_response(status, &v), &a),
            }
        }
        ("POST", ["channels", ch, "typing"]) => {
            let Some(channel) = snowflake(ch).filter(|i| shared.guild.channel(*i).is_some()) else {
                return not_found(10003, "Channel");
            };
            let a = bucket!("POST /channels/{id}/typing", channel);
            shared.bot_typing(channel);
            with_limits(no_content(), &a)
        }
        ("PUT", ["channels", ch, "messages", _, "reactions", _, "@me"]) => {
            let a = bucket!(
                "PUT /channels/{id}/messages/{id}/reactions/{emoji}/@me",
                snowflake(ch).unwrap_or(0)
            );
            with_limits(no_content(), &a)
        }
        ("DELETE", ["channels", ch, "messages", _, "reactions", _, "@me"]) => {
            let a = bucket!(
                "DELETE /channels/{id}/messages/{id}/reactions/{emoji}/@me",
                snowflake(ch).unwrap_or(0)
            );
            with_limits(no_content(), &a)
        }
        ("POST", ["interactions", _, _, "callback"]) => {
            shared.lock().stats.interactions += 1;
            no_content()
        }
        ("POST", ["webhooks", _, _]) | ("PATCH", ["webhooks", _, _, "messages", _]) => {
            shared.lock().stats.interactions += 1;
            let content = body
                .and_then(|b| b.get("content"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let channel = shared.guild.channels[0].id;
            let v =
                shared.message_json(0, channel, &shared.bot.json(), content, None, false, false);
            json_response(200, &v)
        }
        _ => {
            shared.unknown_route(template(method, seg));
            json_response(404, &json!({"message": "404: Not Found", "code": 0}))
        }
    }
}

fn shared_gateway_base(shared: &Shared) -> String {
    shared.gateway_url.clone()
}

fn application_json(shared: &Shared) -> Value {
    let id = shared.bot.id.to_string();
    json!({
        "id": id,
        "name": shared.bot.name,
        "icon": null,
        "description": "",
        "summary": "",
        "type": null,
        "hook": true,
        "bot_public": true,
        "bot_require_code_grant": false,
        "verify_key": "0000000000000000000000000000000000000000000000000000000000000000",
        "flags": 0,
        "owner": {"id": shared.guild.members[0].id.to_string(), "username": shared.guild.members[0].name, "discriminator": "0", "global_name": null, "avatar": null, "public_flags": 0, "flags": 0},
        "team": null,
        "bot": shared.bot.json(),
        "redirect_uris": [],
        "interactions_endpoint_url": null,
        "tags": []
    })
}
