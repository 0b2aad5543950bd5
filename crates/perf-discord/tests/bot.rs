//! The fake Discord against a small Rust bot of the test's own (a gateway client and REST
//! calls, knowing nothing of our target) with known delays, on a paused clock: the
//! figures the fake reads must be the delays the bot was given.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use perf_discord::{FakeDiscord, FakeDiscordConfig, Guild};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

type Http = Client<HttpConnector, Full<Bytes>>;

/// How the test bot behaves.
#[derive(Clone, Default)]
struct Plan {
    token: String,
    /// After the query: typing at this time (none when 0).
    typing_ms: u64,
    /// The first message at this time.
    first_ms: u64,
    /// Then an edit every `edit_ms`, `edits` times.
    edit_ms: u64,
    edits: u32,
    /// Posts the reply in this channel instead of the query's.
    reply_in: Option<u64>,
    /// Replies with this many characters.
    long: Option<usize>,
    /// Extra delay before each heartbeat, in ms (a blocked event loop).
    heartbeat_late_ms: Vec<u64>,
}

async fn rest(
    http: &Http,
    base: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let req = hyper::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("authorization", format!("Bot {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            body.map(|b| b.to_string()).unwrap_or_default(),
        )))
        .expect("a request");
    let res = http.request(req).await.expect("the fake Discord answers");
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.expect("a body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Starts the test bot: logs in over REST, identifies on the gateway, heartbeats, and
/// answers every message that mentions it by the plan.
async fn start_bot(fake: &FakeDiscord, plan: Plan) {
    let http: Http = Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let base = fake.api_base();
    let (status, me) = rest(&http, &base, &plan.token, "GET", "/users/@me", None).await;
    if status != 200 {
        return;
    }
    let me_id = me["id"].as_str().expect("an id").to_owned();
    let (ws, _) = tokio_tungstenite::connect_async_with_config(
        format!("{}?v=10&encoding=json", fake.gateway_url()),
        None,
        true,
    )
    .await
    .expect("the gateway accepts");
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if sink.send(Message::Text(frame.into())).await.is_err() {
                break;
            }
        }
    });
    let hello: Value = match stream.next().await {
        Some(Ok(Message::Text(t))) => serde_json::from_str(&t).expect("json"),
        other => panic!("no HELLO: {other:?}"),
    };
    assert_eq!(hello["op"], 10);
    let interval = hello["d"]["heartbeat_interval"]
        .as_u64()
        .expect("an interval");
    let _ = tx.send(
        json!({"op": 2, "d": {"token": plan.token, "intents": (1 << 15) | (1 << 9) | 1, "properties": {"os": "linux", "browser": "test", "device": "test"}}})
            .to_string(),
    );
    let beats = tx.clone();
    let late = plan.heartbeat_late_ms.clone();
    tokio::spawn(async move {
        for i in 0.. {
            let extra = late.get(i).copied().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(interval + extra)).await;
            if beats.send(json!({"op": 1, "d": null}).to_string()).is_err() {
                break;
            }
        }
    });
    let plan = Arc::new(plan);
    tokio::spawn(async move {
        while let Some(Ok(frame)) = stream.next().await {
            let Message::Text(t) = frame else { continue };
            let v: Value = serde_json::from_str(&t).expect("json");
            if v["t"] != "MESSAGE_CREATE" || v["d"]["author"]["bot"] == true {
                continue;
            }
            let content = v["d"]["content"].as_str().unwrap_or("").to_owned();
            if !content.contains(&format!("<@{me_id}>")) {
                continue;
            }
            let (http, base, plan) = (http.clone(), base.clone(), Arc::clone(&plan));
            let d = v["d"].clone();
            tokio::spawn(async move { answer(&http, &base, &plan, &d, &content).await });
        }
    });
}

async fn answer(http: &Http, base: &str, plan: &Plan, d: &Value, content: &str) {
    let channel = d["channel_id"].as_str().expect("a channel").to_owned();
    let id = d["id"].as_str().expect("an id").to_owned();
    let t = &plan.token;
    let mut now = 0;
    if plan.typing_ms > 0 {
        tokio::time::sleep(Duration::from_millis(plan.typing_ms)).await;
        now = plan.typing_ms;
        rest(
            http,
            base,
            t,
            "POST",
            &format!("/channels/{channel}/typing"),
            None,
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(plan.first_ms - now)).await;
    let to = plan.reply_in.map_or(channel.clone(), |c| c.to_string());
    let text = match plan.long {
        Some(n) => "x".repeat(n),
        None => format!("part 0 of {content}"),
    };
    let (status, msg) = rest(
        http,
        base,
        t,
        "POST",
        &format!("/channels/{to}/messages"),
        Some(json!({"content": text, "message_reference": {"message_id": id}})),
    )
    .await;
    if status != 200 {
        return;
    }
    let mid = msg["id"].as_str().expect("an id").to_owned();
    for e in 1..=plan.edits {
        tokio::time::sleep(Duration::from_millis(plan.edit_ms)).await;
        rest(
            http,
            base,
            t,
            "PATCH",
            &format!("/channels/{to}/messages/{mid}"),
            Some(json!({"content": format!("part {e} of {content}")})),
        )
        .await;
    }
}

/// On a paused clock the runtime skips to the next timer whenever it has nothing to run,
/// also while a frame is on its way through a loopback socket. A timer every millisecond
/// keeps each such skip to a millisecond (the timer wheel's resolution), so the figures
/// stay within the 2 ms the issue asks for.
fn tick_every_millisecond() {
    tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
}

async fn fake(rate_limits: bool) -> FakeDiscord {
    tick_every_millisecond();
    let guild = Guild::new(
        "test server",
        vec!["dev-help".into(), "general".into()],
        vec!["ana".into()],
    );
    FakeDiscord::start(
        guild,
        FakeDiscordConfig {
            rate_limits,
            ..FakeDiscordConfig::default()
        },
    )
    .await
    .expect("the fake Discord starts")
}

/// A fake Discord with its rate limits and a bot following `plan` (with the fake's token)
/// that has connected and received READY.
async fn connected(plan: Plan) -> FakeDiscord {
    let fake = fake(true).await;
    let token = fake.token().to_owned();
    start_bot(&fake, Plan { token, ..plan }).await;
    fake.ready(Duration::from_secs(5)).await.expect("ready");
    fake
}

fn close(a: Option<Duration>, ms: u64) -> bool {
    a.is_some_and(|d| {
        d.as_secs_f64() * 1e3 - ms as f64 <= 2.0 && ms as f64 - d.as_secs_f64() * 1e3 <= 2.0
    })
}

#[tokio::test(start_paused = true)]
async fn typing_first_message_and_final_edit_are_the_bots_own_delays() {
    let fake = connected(Plan {
        typing_ms: 20,
        first_ms: 80,
        edit_ms: 30,
        edits: 2,
        ..Plan::default()
    })
    .await;
    let channel = fake.guild().channels[0].id;
    let member = fake.guild().members[0].clone();
    let text = format!("<@{}> who was most active?", fake.bot_user().id);
    let mut c = fake.send(channel, &member, &text, true).expect("sent");
    let a = c.answer(Duration::from_millis(500)).await;
    assert!(close(a.typing, 20), "typing {:?}", a.typing);
    assert!(
        close(a.first_message, 80),
        "first message {:?}",
        a.first_message
    );
    assert!(close(a.last_content, 140), "final {:?}", a.last_content);
    assert_eq!((a.messages, a.edits), (1, 2));
    assert_eq!(a.content, format!("part 2 of {text}"));
    assert!(a.rejected.is_empty() && a.wrong_channel.is_none());
    let s = fake.stats();
    assert_eq!((s.messages, s.edits, s.typing), (1, 2, 1));
    assert_eq!(s.rate_limited(), 0);
}

#[tokio::test(start_paused = true)]
async fn late_heartbeats_are_reported_as_that_much_blocking() {
    let fake = connected(Plan {
        first_ms: 10,
        heartbeat_late_ms: vec![0, 0, 300, 0, 120, 0],
        ..Plan::default()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let s = fake.stats();
    assert!(s.heartbeats >= 6, "{} heartbeats", s.heartbeats);
    let max = s.loop_blocked_max().as_secs_f64() * 1e3;
    assert!((max - 300.0).abs() <= 2.0, "max blocked {max} ms");
    let on_time = s
        .heartbeat_lateness_ms
        .iter()
        .filter(|l| **l <= 2.0)
        .count();
    assert!(on_time >= 3, "{:?}", s.heartbeat_lateness_ms);
}

#[tokio::test(start_paused = true)]
async fn a_bot_that_ignores_429s_is_counted_and_an_early_retry_flagged() {
    let fake = fake(true).await;
    let http: Http = Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let (base, token) = (fake.api_base(), fake.token().to_owned());
    let channel = fake.guild().channels[0].id;
    let mut statuses = Vec::new();
    let mut limited = None;
    for i in 0..8 {
        let (status, body) = rest(
            &http,
            &base,
            &token,
            "POST",
            &format!("/channels/{channel}/messages"),
            Some(json!({"content": format!("flood {i}")})),
        )
        .await;
        statuses.push(status);
        if status == 429 {
            limited.get_or_insert(body);
        }
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    let body = limited.expect("a 429");
    assert!(
        body["retry_after"]
            .as_f64()
            .is_some_and(|r| r > 0.0 && r <= 5.0),
        "{body}"
    );
    assert_eq!(body["global"], false);
    let s = fake.stats();
    assert_eq!(s.rate_limited(), 3);
    assert_eq!(
        s.early_retries(),
        2,
        "the 2nd and 3rd 429 came before retry_after"
    );
    // A bot that waits retry_after is not flagged again.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (status, _) = rest(
        &http,
        &base,
        &token,
        "POST",
        &format!("/channels/{channel}/messages"),
        Some(json!({"content": "after the wait"})),
    )
    .await;
    assert_eq!(status, 200);
    let s = fake.stats();
    assert_eq!(s.early_retries(), 2);
    assert!(s.rate_limits["POST /channels/{id}/messages"].waited_s >= 4.9);
}

#[tokio::test(start_paused = true)]
async fn discord_refusals_wrong_channels_tokens_and_routes() {
    // A wrong token: closed with 4004, and `ready` says so.
    let f = fake(true).await;
    start_bot(
        &f,
        Plan {
            token: "wrong".into(),
            ..Plan::default()
        },
    )
    .await;
    assert_eq!(
        f.stats().unauthorized,
        1,
        "GET /users/@me with a wrong token is a 401"
    );

    // Over 2,000 characters: refused with 50035, and the query's answer says why.
    let f = connected(Plan {
        first_ms: 5,
        long: Some(2_001),
        ..Plan::default()
    })
    .await;
    let (ch, m) = (f.guild().channels[0].id, f.guild().members[0].clone());
    let mut c = f
        .send(ch, &m, &format!("<@{}> long", f.bot_user().id), true)
        .expect("sent");
    let next = c.next().await;
    assert!(
        matches!(
            next,
            Some(perf_discord::Activity::Rejected { code: 50_035, .. })
        ),
        "{next:?}"
    );
    assert_eq!(f.stats().too_long, 1);

    // A reply in another channel than the query's.
    let f = fake(true).await;
    let token = f.token().to_owned();
    let other = f.guild().channels[1].id;
    start_bot(
        &f,
        Plan {
            token,
            first_ms: 5,
            reply_in: Some(other),
            ..Plan::default()
        },
    )
    .await;
    f.ready(Duration::from_secs(5)).await.expect("ready");
    let (ch, m) = (f.guild().channels[0].id, f.guild().members[0].clone());
    let mut c = f
        .send(ch, &m, &format!("<@{}> where", f.bot_user().id), true)
        .expect("sent");
    let next = c.next().await;
    assert!(
        matches!(next, Some(perf_discord::Activity::WrongChannel { channel_id, .. }) if channel_id == other),
        "{next:?}"
    );
    assert_eq!(f.stats().wrong_channel, 1);

    // Unknown routes: Discord's 404, counted by template; bad JSON: 50109.
    let http: Http = Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let (status, body) = rest(
        &http,
        &f.api_base(),
        f.token(),
        "GET",
        "/channels/123/pins",
        None,
    )
    .await;
    assert_eq!((status, body["code"].as_u64()), (404, Some(0)));
    assert_eq!(
        f.stats().unknown_routes.get("GET /channels/{id}/pins"),
        Some(&1)
    );
    let req = hyper::Request::builder()
        .method("POST")
        .uri(format!("{}/channels/{ch}/messages", f.api_base()))
        .header("authorization", format!("Bot {}", f.token()))
        .body(Full::new(Bytes::from_static(b"{not json")))
        .expect("a request");
    let res = http.request(req).await.expect("an answer");
    assert_eq!(res.status().as_u16(), 400);
    assert_eq!(f.stats().bad_bodies, 1);

    // A 100 MB body: refused with 413 after MAX_BODY_BYTES, never read whole.
    let huge = Bytes::from(vec![b'x'; 100 * 1024 * 1024]);
    let req = hyper::Request::builder()
        .method("POST")
        .uri(format!("{}/channels/{ch}/messages", f.api_base()))
        .header("authorization", format!("Bot {}", f.token()))
        .body(Full::new(huge))
        .expect("a request");
    // The fake may close the connection before the whole body is sent: then there is
    // no answer to read, and the refusal is in the counts alone.
    if let Ok(res) = http.request(req).await {
        assert_eq!(res.status().as_u16(), 413);
    }
    assert_eq!(f.stats().bad_bodies, 2);
}

#[tokio::test(start_paused = true)]
async fn an_identify_with_a_wrong_token_is_closed_with_4004() {
    let f = fake(true).await;
    let (ws, _) = tokio_tungstenite::connect_async(f.gateway_url())
        .await
        .expect("connects");
    let (mut sink, mut stream) = ws.split();
    let _hello = stream.next().await;
    sink.send(Message::Text(
        json!({"op": 2, "d": {"token": "nope", "intents": 0}})
            .to_string()
            .into(),
    ))
    .await
    .expect("sent");
    let mut code = None;
    while let Some(Ok(m)) = stream.next().await {
        if let Message::Close(Some(frame)) = m {
            code = Some(u16::from(frame.code));
            break;
        }
    }
    assert_eq!(code, Some(4004));
    assert!(matches!(
        f.ready(Duration::from_secs(1)).await,
        Err(perf_discord::FakeDiscordError::BadToken)
    ));
    assert_eq!(f.stats().bad_tokens, 1);
}

/// Reads gateway frames until one of type `t`, answering nothing; `None` when the
/// connection ends first.
async fn frame_of<S>(stream: &mut S, t: &str) -> Option<Value>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    while let Some(Ok(frame)) = stream.next().await {
        let Message::Text(text) = frame else { continue };
        let v: Value = serde_json::from_str(&text).expect("json");
        if v["t"] == t {
            return Some(v);
        }
    }
    None
}

#[tokio::test(start_paused = true)]
async fn a_bot_that_loses_its_connection_resumes_and_gets_what_it_missed() {
    let fake = fake(false).await;
    let token = fake.token().to_owned();
    let connect = |url: String| async move {
        let (ws, _) = tokio_tungstenite::connect_async_with_config(
            format!("{url}?v=10&encoding=json"),
            None,
            true,
        )
        .await
        .expect("the gateway accepts");
        ws.split()
    };
    // Identify, read READY (its session and resume URL) and the guild, then drop the
    // connection without a close frame, as a network failure does.
    let (mut sink, mut stream) = connect(fake.gateway_url()).await;
    sink.send(Message::Text(
        json!({"op": 2, "d": {"token": token, "intents": (1 << 15) | (1 << 9) | 1, "properties": {}}})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let ready = frame_of(&mut stream, "READY").await.expect("READY");
    let session = ready["d"]["session_id"].as_str().unwrap().to_owned();
    let resume_url = ready["d"]["resume_gateway_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let seq = frame_of(&mut stream, "GUILD_CREATE")
        .await
        .expect("GUILD_CREATE")["s"]
        .as_u64()
        .unwrap();
    fake.ready(Duration::from_secs(5)).await.expect("ready");
    drop((sink, stream));
    tokio::time::sleep(Duration::from_millis(50)).await;

    // A question while the bot is away: kept for its RESUME.
    let (ch, m) = (fake.guild().channels[0].id, fake.guild().members[0].clone());
    let text = format!("<@{}> still there?", fake.bot_user().id);
    let mut c = fake.send(ch, &m, &text, true).expect("a session to resume");

    let (mut sink, mut stream) = connect(resume_url).await;
    sink.send(Message::Text(
        json!({"op": 6, "d": {"token": token, "session_id": session, "seq": seq}})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let missed = frame_of(&mut stream, "MESSAGE_CREATE")
        .await
        .expect("the missed message");
    assert_eq!(missed["d"]["content"], text.as_str());
    assert!(missed["s"].as_u64().unwrap() > seq);
    frame_of(&mut stream, "RESUMED").await.expect("RESUMED");
    let http: Http = Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let (status, _) = rest(
        &http,
        &fake.api_base(),
        &token,
        "POST",
        &format!("/channels/{ch}/messages"),
        Some(json!({"content": "yes", "message_reference": {"message_id": missed["d"]["id"]}})),
    )
    .await;
    assert_eq!(status, 200);
    let a = c.answer(Duration::from_millis(200)).await;
    assert_eq!((a.content.as_str(), a.messages), ("yes", 1));
    assert_eq!(fake.stats().resumes, 1);

    // A RESUME of a session that is not there: op 9, the bot must identify anew.
    let (mut sink, mut stream) = connect(fake.gateway_url()).await;
    sink.send(Message::Text(
        json!({"op": 6, "d": {"token": token, "session_id": "nope", "seq": 1}})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let mut invalid = None;
    while let Some(Ok(Message::Text(t))) = stream.next().await {
        let v: Value = serde_json::from_str(&t).unwrap();
        if v["op"] == 9 {
            invalid = Some(v);
            break;
        }
    }
    assert_eq!(invalid.expect("op 9")["d"], false);
}
