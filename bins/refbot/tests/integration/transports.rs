//! `refbot serve` and `refbot stdio` end to end: the real binary, driven through the
//! perf-targets HTTP and command targets, answers like the in-process bot.

use std::process::Stdio;
use std::sync::Arc;

use perf_core::{BotTarget, Query};
use perf_targets::{
    open_target, CommandTarget, CommandTargetConfig, HttpTarget, HttpTargetConfig, Target,
    TargetSpec,
};
use tokio::process::Command;

use crate::llm::start_server;
use crate::{fixture, open, test_config, REFBOT};

const QUERIES: [&str; 5] = [
    "who is the most active user?",
    "what are people saying about rust?",
    "digest of #general this week",
    "how many messages are there per channel?",
    "'; DROP TABLE messages; -- \"quoted\" \u{1F600}",
];

#[tokio::test]
async fn serve_answers_like_the_in_process_bot() {
    let fx = fixture(500).await;
    let local = open(test_config(&fx.path)).await;
    let (mut child, base) = start_server(&fx.path, &["--latency-scale", "0"]).await;

    let json = Arc::new(
        HttpTarget::new(HttpTargetConfig::new(format!("{base}/query"))).expect("http target"),
    );
    let TargetSpec::Http(streamed) =
        TargetSpec::parse_flag(&format!("openai+{base}/v1/chat/completions")).expect("flag")
    else {
        panic!("expected an http spec")
    };
    let streamed = HttpTarget::new(streamed).expect("openai target");

    for (i, text) in QUERIES.iter().enumerate() {
        let q = Query::new(format!("q{i}"), *text, "e2e");
        let expected = local.execute(&q).await.expect("in-process answer");
        let over_http = json.execute(&q).await.expect("http answer");
        assert_eq!(over_http.answer, expected.answer, "{text}");
        assert_eq!(over_http.agents, expected.agents, "{text}");

        let s = streamed.execute(&q).await.expect("streamed answer");
        assert_eq!(s.answer, expected.answer, "{text}");
        assert_eq!(s.agents, expected.agents, "{text}");
        assert!(s.time_to_first_token.is_some());
        assert_eq!(
            s.completion_tokens,
            Some(expected.answer.split_whitespace().count() as u64)
        );
        assert!(s.metadata["stream"]["ttfb_us"].is_u64());
    }

    // Many in flight at once over the pool.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let t = Arc::clone(&json);
        tasks.push(tokio::spawn(async move {
            t.execute(&Query::new(
                format!("c{i}"),
                QUERIES[i % QUERIES.len()],
                "e2e",
            ))
            .await
        }));
    }
    for task in tasks {
        assert!(!task.await.expect("join").expect("answer").answer.is_empty());
    }

    // HTTP/2 without TLS (prior knowledge) answers the same.
    let mut h2 = HttpTargetConfig::new(format!("{base}/query"));
    h2.http_version = perf_targets::HttpVersion::Http2;
    let h2 = HttpTarget::new(h2).expect("h2 target");
    let q = Query::new("h2", QUERIES[0], "e2e");
    assert_eq!(
        h2.execute(&q).await.expect("h2 answer").answer,
        local.execute(&q).await.expect("in-process answer").answer
    );

    let mut health = HttpTargetConfig::new(format!("{base}/health"));
    health.method = "GET".to_owned();
    health.answer_pointer = Some("/status".to_owned());
    let health = HttpTarget::new(health).expect("health target");
    assert_eq!(
        health
            .execute(&Query::new("h", "", "e2e"))
            .await
            .expect("health")
            .answer,
        "ok"
    );
    child.kill().await.expect("stop refbot serve");
}

#[tokio::test]
async fn stdio_answers_like_the_in_process_bot() {
    let fx = fixture(500).await;
    let local = open(test_config(&fx.path)).await;
    let run_dir = tempfile::tempdir().expect("tempdir");
    let db = fx.path.to_string_lossy().into_owned();
    let config = CommandTargetConfig::new(
        [REFBOT, "stdio", "--latency-scale", "0", "--database", &db]
            .map(str::to_owned)
            .to_vec(),
    );
    let target = Arc::new(CommandTarget::new(config, run_dir.path()).expect("command target"));
    target.initialize().await.expect("start refbot stdio");
    assert!(target.process_id().is_some());

    let mut tasks = Vec::new();
    for i in 0..40 {
        let t = Arc::clone(&target);
        let q = Query::new(format!("s{i}"), QUERIES[i % QUERIES.len()], "e2e");
        tasks.push(tokio::spawn(async move { (t.execute(&q).await, q) }));
    }
    for task in tasks {
        let (answer, q) = task.await.expect("join");
        let answer = answer.expect("stdio answer");
        let expected = local.execute(&q).await.expect("in-process answer");
        assert_eq!(answer.answer, expected.answer);
        assert_eq!(answer.agents, expected.agents);
    }
    target.shutdown().await.expect("shutdown");
    assert_eq!(target.crash_count(), 0);
    assert_eq!(target.stats().starts, 1);
}

#[tokio::test]
async fn stdio_opens_from_a_cmd_flag() {
    let fx = fixture(200).await;
    let run_dir = tempfile::tempdir().expect("tempdir");
    let flag = format!(
        "cmd:'{REFBOT}' stdio --latency-scale 0 --database '{}'",
        fx.path.display()
    );
    let target = open_target(
        &TargetSpec::parse_flag(&flag).expect("flag"),
        run_dir.path(),
    )
    .expect("open");
    assert!(matches!(target, Target::Command(_)));
    let bot = target.bot();
    let r = bot
        .execute(&Query::new("x", "who is the most active user?", "e2e"))
        .await
        .expect("answer");
    assert!(!r.answer.is_empty());
    bot.shutdown().await.expect("shutdown");
    assert!(target.notes().is_empty());
}

#[tokio::test]
async fn stdio_skips_bad_lines_and_goes_on() {
    use tokio::io::AsyncWriteExt;
    let fx = fixture(200).await;
    let mut child = Command::new(REFBOT)
        .args(["stdio", "--latency-scale", "0", "--database"])
        .arg(&fx.path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn refbot stdio");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut input = b"not json\n{\"id\": \"bad\", \"query\": 7}\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', (1 << 20) + 10));
    input.extend_from_slice(
        b"\n\n{\"id\": \"good\", \"query\": \"who is the most active user?\"}\n",
    );
    stdin.write_all(&input).await.expect("write requests");
    drop(stdin);
    let out = child.wait_with_output().await.expect("refbot stdio exits");
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is JSON"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let by_id = |id: &str| {
        lines
            .iter()
            .find(|l| l["id"] == id)
            .cloned()
            .unwrap_or_default()
    };
    assert!(by_id("bad")["error"].is_string());
    assert!(by_id("good")["answer"].is_string());
    assert!(by_id("good")["error"].is_null());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("longer than"), "{stderr}");
}
