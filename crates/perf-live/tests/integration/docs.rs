//! The dashboard, the scrape config and docs/live.md name only metrics that exist, and
//! document every one.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use perf_core::record::{CheckResult, ResourceSample};
use perf_core::Outcome;
use perf_live::LiveState;
use perf_runner::{RunEvent, SampleEvent};
use perf_suite::SuiteEvent;

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `chatbot_perf_…` family in `text`, with the histogram suffixes removed.
fn families(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("chatbot_perf_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        out.insert(family.to_owned());
        rest = &tail[end..];
    }
    out
}

fn every_metric() -> BTreeSet<String> {
    let mut s = LiveState::new();
    s.fold(&SuiteEvent::Runner(RunEvent::Sample(SampleEvent {
        outcome: Outcome::Ok,
        attempts: 1,
        scheduled_at_us: 0,
        latency_us: 1_000,
        service_us: 1_000,
        agent: Some(Arc::from("a")),
        scenario: Some(Arc::from("s")),
        ttft_us: Some(500),
    })));
    s.fold(&SuiteEvent::Runner(RunEvent::Resource(ResourceSample {
        target_cpu_percent: Some(10.0),
        target_memory_mb: Some(10.0),
        ..ResourceSample::default()
    })));
    s.fold(&SuiteEvent::Check(CheckResult {
        group: perf_core::record::CheckGroup::Gate,
        name: "n".to_owned(),
        status: perf_core::record::CheckStatus::from_passed(true),
        reason: String::new(),
    }));
    let text = s
        .publish(Duration::from_secs(1), Duration::from_secs(1))
        .metrics;
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect()
}

#[test]
fn the_dashboard_and_the_docs_name_exactly_the_metrics_served() {
    let served = every_metric();
    assert_eq!(served.len(), 10, "{served:?}");
    let dashboard =
        std::fs::read_to_string(root().join("examples/grafana/dashboard.json")).unwrap();
    let _: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    let used = families(&dashboard);
    assert!(
        used.is_subset(&served),
        "unknown: {:?}",
        used.difference(&served)
    );
    let docs = std::fs::read_to_string(root().join("docs/live.md")).unwrap();
    assert_eq!(
        families(&docs),
        served,
        "docs/live.md documents every metric, no other"
    );
    let scrape = std::fs::read_to_string(root().join("examples/grafana/prometheus.yml")).unwrap();
    assert!(scrape.contains("metrics_path: /metrics"));
}
