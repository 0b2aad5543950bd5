use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use perf_core::Outcome;
use perf_runner::{RunEvent, SampleEvent};
use perf_suite::SuiteEvent;

pub(crate) type HttpClient =
    Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>;

pub(crate) fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// GETs `path` and reads the whole body.
pub(crate) async fn get(
    addr: SocketAddr,
    path: &str,
) -> (hyper::StatusCode, hyper::HeaderMap, String) {
    let uri: hyper::Uri = format!("http://{addr}{path}").parse().unwrap();
    let response = client().get(uri).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

pub(crate) fn sample(agent: Option<&str>, outcome: Outcome, latency_ms: u64) -> SuiteEvent {
    SuiteEvent::Runner(RunEvent::Sample(SampleEvent {
        outcome,
        attempts: 1,
        scheduled_at_us: 0,
        latency_us: latency_ms * 1_000,
        service_us: latency_ms * 1_000,
        agent: agent.map(Arc::from),
        scenario: Some(Arc::from("standard")),
        ttft_us: None,
    }))
}

/// One sample line of the text format: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    pub(crate) name: String,
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) value: f64,
}

impl Line {
    pub(crate) fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses the exposition format strictly: every line is a comment (`# HELP`/`# TYPE`) or
/// `name{labels} value`; label values unescaped. Panics naming the bad line.
pub(crate) fn parse_metrics(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        assert!(
            !line.is_empty() && !line.starts_with('#'),
            "stray line {line:?}"
        );
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("no value: {line:?}"));
        let name = &line[..name_end];
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad name {name:?}"
        );
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(r) = rest.strip_prefix('{') {
            let mut chars = r.char_indices().peekable();
            let end;
            loop {
                // key
                let (start, c) = chars
                    .next()
                    .unwrap_or_else(|| panic!("unterminated {line:?}"));
                if c == '}' {
                    end = Some(start + 1);
                    break;
                }
                let mut key = String::from(c);
                for (_, c) in chars.by_ref() {
                    if c == '=' {
                        break;
                    }
                    key.push(c);
                }
                assert_eq!(chars.next().map(|x| x.1), Some('"'), "{line:?}");
                let mut value = String::new();
                loop {
                    match chars.next().map(|x| x.1) {
                        Some('\\') => match chars.next().map(|x| x.1) {
                            Some('\\') => value.push('\\'),
                            Some('"') => value.push('"'),
                            Some('n') => value.push('\n'),
                            other => panic!("bad escape {other:?} in {line:?}"),
                        },
                        Some('"') => break,
                        Some('\n') | None => panic!("unterminated value in {line:?}"),
                        Some(c) => value.push(c),
                    }
                }
                labels.push((key, value));
                match chars.next() {
                    Some((_, ',')) => {}
                    Some((i, '}')) => {
                        end = Some(i + 1);
                        break;
                    }
                    other => panic!("bad separator {other:?} in {line:?}"),
                }
            }
            rest = &r[end.unwrap()..];
        }
        let value = rest
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("no space before the value: {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value {v:?} in {line:?}")),
        };
        out.push(Line {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    out
}
