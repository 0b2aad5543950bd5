//! The server over real HTTP on loopback.

use std::time::Duration;

use http_body_util::BodyExt;
use perf_core::Outcome;
use perf_live::{LiveOptions, LiveServer};

use crate::support::{client, get, parse_metrics, sample};

const HOSTILE: &str = "evil\"agent\\with\nnewline</script><img src=x onerror=alert(1)>";

fn fast() -> LiveOptions {
    LiveOptions {
        interval: Duration::from_millis(50),
        ..LiveOptions::default()
    }
}

/// Waits (on the real clock, bounded) until a snapshot has counted `done` queries.
async fn until_done(live: &perf_live::LiveHandle, done: u64) {
    let mut rx = live.subscribe();
    tokio::time::timeout(Duration::from_secs(10), async {
        while rx.borrow_and_update().snapshot.done < done {
            rx.changed().await.unwrap();
        }
    })
    .await
    .expect("the snapshot caught up");
}

#[tokio::test]
async fn metrics_parse_line_by_line_with_cumulative_buckets_and_escaped_labels() {
    let (live, tx) = LiveServer::bind("127.0.0.1:0".parse().unwrap(), fast())
        .await
        .unwrap();
    tx.send(perf_suite::SuiteEvent::RunStarted {
        run_id: "run\"1".to_owned(),
    })
    .unwrap();
    for ms in [3, 30, 300, 3_000] {
        tx.send(sample(Some("search"), Outcome::Ok, ms)).unwrap();
    }
    tx.send(sample(Some(HOSTILE), Outcome::Ok, 40)).unwrap();
    tx.send(sample(Some(HOSTILE), Outcome::Timeout, 40))
        .unwrap();
    until_done(&live, 6).await;

    let (status, headers, text) = get(live.local_addr(), "/metrics").await;
    assert_eq!(status, 200);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let lines = parse_metrics(&text);

    // Counters end in _total and hold the counts; the hostile name round-trips.
    let queries: Vec<_> = lines
        .iter()
        .filter(|l| l.name == "chatbot_perf_queries_total")
        .collect();
    let total: f64 = queries.iter().map(|l| l.value).sum();
    assert_eq!(total, 6.0);
    let hostile_ok = queries
        .iter()
        .find(|l| l.label("agent") == Some(HOSTILE) && l.label("outcome") == Some("ok"))
        .expect("the hostile agent's counter, unescaped back to the original");
    assert_eq!(hostile_ok.value, 1.0);
    assert_eq!(hostile_ok.label("scenario"), Some("standard"));
    // No raw newline inside a sample line: one sample per line.
    assert_eq!(
        text.lines().filter(|l| l.contains("onerror")).count(),
        2 + 17, // two counters, and the histogram's 15 buckets, sum and count
    );

    // Histograms: cumulative buckets ending in +Inf equal to _count.
    for agent in ["search", HOSTILE] {
        let buckets: Vec<_> = lines
            .iter()
            .filter(|l| {
                l.name == "chatbot_perf_latency_seconds_bucket" && l.label("agent") == Some(agent)
            })
            .collect();
        assert_eq!(buckets.len(), perf_live::BUCKETS_S.len() + 1);
        assert!(
            buckets.windows(2).all(|w| w[0].value <= w[1].value),
            "cumulative"
        );
        let last = buckets.last().unwrap();
        assert_eq!(last.label("le"), Some("+Inf"));
        let count = lines
            .iter()
            .find(|l| {
                l.name == "chatbot_perf_latency_seconds_count" && l.label("agent") == Some(agent)
            })
            .unwrap();
        assert_eq!(last.value, count.value);
    }
    let search_count = lines
        .iter()
        .find(|l| {
            l.name == "chatbot_perf_latency_seconds_count" && l.label("agent") == Some("search")
        })
        .unwrap();
    assert_eq!(search_count.value, 4.0);
    let search_sum = lines
        .iter()
        .find(|l| {
            l.name == "chatbot_perf_latency_seconds_sum" && l.label("agent") == Some("search")
        })
        .unwrap();
    assert!(
        (search_sum.value - 3.333).abs() < 1e-9,
        "{}",
        search_sum.value
    );
    let le_100ms = lines
        .iter()
        .find(|l| {
            l.name == "chatbot_perf_latency_seconds_bucket"
                && l.label("agent") == Some("search")
                && l.label("le") == Some("0.1")
        })
        .unwrap();
    assert_eq!(le_100ms.value, 2.0, "3 ms and 30 ms");

    let info = lines
        .iter()
        .find(|l| l.name == "chatbot_perf_run_info")
        .unwrap();
    assert_eq!(info.label("run_id"), Some("run\"1"));
    assert_eq!(info.value, 1.0);
    for gauge in [
        "chatbot_perf_in_flight",
        "chatbot_perf_achieved_queries_per_second",
    ] {
        assert!(lines.iter().any(|l| l.name == gauge), "{gauge}");
    }
    // Every TYPE names a family whose samples follow.
    for l in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let kind = l.rsplit(' ').next().unwrap();
        assert!(["counter", "gauge", "histogram"].contains(&kind), "{l}");
    }
    live.shutdown().await;
}

#[tokio::test]
async fn the_page_has_a_strict_csp_and_loads_nothing_from_the_network() {
    let (live, _tx) = LiveServer::bind("127.0.0.1:0".parse().unwrap(), fast())
        .await
        .unwrap();
    let (status, headers, body) = get(live.local_addr(), "/").await;
    assert_eq!(status, 200);
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    // The SVG namespace is a name, not a fetch; no other URL appears.
    let stripped = body.replace("http://www.w3.org/2000/svg", "");
    assert!(!stripped.contains("http://") && !stripped.contains("https://"));
    assert!(!body.contains("src=\""), "no external script or image");
    assert_eq!(body.matches("<script>").count(), 1, "one inline script");
    assert!(!body.contains("innerHTML"));
    live.shutdown().await;
}

#[tokio::test]
async fn events_stream_json_lines_and_the_sse_stream_sends_the_same_snapshots() {
    let (live, tx) = LiveServer::bind("127.0.0.1:0".parse().unwrap(), fast())
        .await
        .unwrap();
    let uri: hyper::Uri = format!("http://{}/events", live.local_addr())
        .parse()
        .unwrap();
    let response = client().get(uri).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let mut body = response.into_body();
    tx.send(sample(Some(HOSTILE), Outcome::Ok, 10)).unwrap();

    // Read lines until one counts the sample; every line is a whole JSON object.
    let mut buf = Vec::new();
    let mut seqs = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let frame = body.frame().await.unwrap().unwrap();
            if let Some(data) = frame.data_ref() {
                buf.extend_from_slice(data);
            }
            while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
                assert_eq!(v["format_version"], 1);
                seqs.push(v["seq"].as_u64().unwrap());
                if v["done"] == 1 {
                    return v;
                }
            }
        }
    })
    .await
    .expect("a line counting the sample");
    assert_eq!(found["agents"][0]["name"], HOSTILE);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    // The SSE stream: `data:` lines carrying the same JSON.
    let uri: hyper::Uri = format!("http://{}/stream", live.local_addr())
        .parse()
        .unwrap();
    let response = client().get(uri).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let text = tokio::time::timeout(Duration::from_secs(10), async {
        let mut text = String::new();
        while !text.contains("\n\n") {
            let frame = body.frame().await.unwrap().unwrap();
            if let Some(d) = frame.data_ref() {
                text.push_str(std::str::from_utf8(d).unwrap());
            }
        }
        text
    })
    .await
    .unwrap();
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("a data line");
    let v: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(v["done"], 1);
    live.shutdown().await;
}

/// Characters the text format has no escape for, and line separators other readers split
/// on (issue #28, item 8).
const BREAKERS: [char; 7] = [
    '\r', '\0', '\u{1b}', '\u{85}', '\u{2028}', '\u{2029}', '\u{b}',
];

#[tokio::test]
async fn control_characters_and_line_separators_reach_no_output_raw() {
    let (live, tx) = LiveServer::bind("127.0.0.1:0".parse().unwrap(), fast())
        .await
        .unwrap();
    tx.send(perf_suite::SuiteEvent::RunStarted {
        run_id: "run\r\u{1b}[2J".to_owned(),
    })
    .unwrap();
    let agents: Vec<String> = BREAKERS.iter().map(|c| format!("ag{c}ent")).collect();
    for agent in &agents {
        tx.send(sample(Some(agent), Outcome::Ok, 20)).unwrap();
    }
    until_done(&live, agents.len() as u64).await;

    let (status, _, text) = get(live.local_addr(), "/metrics").await;
    assert_eq!(status, 200);
    for c in BREAKERS {
        assert!(!text.contains(c), "{c:?} raw in /metrics");
    }
    let lines = parse_metrics(&text);
    // Agents that differ only in a replaced character are one series, never duplicates.
    let mut series: Vec<_> = lines.iter().map(|l| (&l.name, &l.labels)).collect();
    let all = series.len();
    series.sort();
    series.dedup();
    assert_eq!(series.len(), all, "duplicate series");
    let counted: Vec<_> = lines
        .iter()
        .filter(|l| l.name == "chatbot_perf_queries_total")
        .collect();
    assert_eq!(counted.len(), 1, "{counted:?}");
    assert_eq!(counted[0].label("agent"), Some("ag\u{FFFD}ent"));
    assert_eq!(counted[0].value, agents.len() as f64);

    // The JSON lines and the SSE stream: no raw separator either, and whole JSON.
    for (path, prefix) in [("/events", ""), ("/stream", "data: ")] {
        let uri: hyper::Uri = format!("http://{}{path}", live.local_addr())
            .parse()
            .unwrap();
        let mut body = client().get(uri).await.unwrap().into_body();
        let mut bytes = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), async {
            while !bytes.windows(2).any(|w| w == b"}\n") {
                let frame = body.frame().await.unwrap().unwrap();
                if let Some(d) = frame.data_ref() {
                    bytes.extend_from_slice(d);
                }
            }
        })
        .await
        .unwrap();
        let text = String::from_utf8(bytes).unwrap();
        for c in BREAKERS {
            assert!(!text.contains(c), "{c:?} raw in {path}");
        }
        let line = text
            .split('\n')
            .find_map(|l| l.strip_prefix(prefix).filter(|l| l.starts_with('{')))
            .unwrap_or_else(|| panic!("a snapshot line in {path}: {text:?}"));
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            v["run_id"], "run\r\u{1b}[2J",
            "{path} keeps the value, escaped"
        );
    }
    live.shutdown().await;
}
