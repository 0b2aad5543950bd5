//! The aggregator: folds suite events into counters and histograms, and once per interval
//! turns them into a [`LiveSnapshot`] (the page's JSON and the `/metrics` text).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use perf_core::event::{PhaseEvent, RunEvent, SampleEvent, SuiteEvent};
use perf_core::record::{CheckResult, ResourceSample};
use perf_core::{LatencyHistogram, Outcome};
use serde::Serialize;

/// The Prometheus text of a state: a child of the state it renders.
pub(crate) mod metrics;

/// Distinct agent (or scenario) label values kept; later ones are folded into [`OTHER`].
pub const MAX_LABEL_VALUES: usize = 64;
/// The label value of agents (or scenarios) beyond [`MAX_LABEL_VALUES`].
pub const OTHER: &str = "other";
/// The label value of a query answered by no named agent (an error, a drop).
pub const NO_AGENT: &str = "none";
/// Characters of a bot-chosen label value kept.
const MAX_LABEL_CHARS: usize = 100;
/// Points of the latency-over-time series kept (ten minutes at one a second).
const MAX_POINTS: usize = 600;
/// Notes kept for the page.
const MAX_NOTES: usize = 50;
/// Checks kept for the page and `/metrics`.
const MAX_CHECKS: usize = 200;
/// The version of the snapshot JSON.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;

/// How a run ended, for the page's final banner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// Everything passed (deploy, for the gate).
    Pass,
    /// Nothing failed, but the result needs a look.
    Warn,
    /// A check failed (blocked, for the gate).
    Fail,
    /// The run was cut short.
    Interrupted,
    /// The run could not run (bad configuration, unreachable target).
    CouldNotRun,
}

/// The end of a run, given to [`crate::LiveHandle::finish`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveFinal {
    /// The verdict.
    pub verdict: Verdict,
    /// Why the verdict is not a pass, one line each.
    pub reasons: Vec<String>,
    /// Where the reports were written.
    pub reports: Option<PathBuf>,
    /// A Discord bot's figures (typing, messages, edits, 429s, the event loop), shown on
    /// `/metrics` once the run is over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discord: Option<perf_core::record::DiscordSummary>,
}

/// The phase running now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseNow {
    /// Phase number (1–6).
    pub number: u8,
    /// Phase name.
    pub name: String,
    /// The runner's stage within it (a load stage, the grace period), when it named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
}

/// A finished phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseDone {
    /// Phase number.
    pub number: u8,
    /// Phase name.
    pub name: String,
    /// `completed`, `skipped`, `failed` or `interrupted`.
    pub status: String,
    /// Seconds it took.
    pub seconds: f64,
}

/// One point of the latency-over-time series: the queries finished in one interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyPoint {
    /// Seconds since the live server started, at the end of the interval.
    pub t_s: f64,
    /// Queries finished per second in the interval.
    pub rate: f64,
    /// Median latency, milliseconds (absent when nothing finished).
    pub p50_ms: Option<f64>,
    /// 95th percentile, milliseconds.
    pub p95_ms: Option<f64>,
    /// 99th percentile, milliseconds.
    pub p99_ms: Option<f64>,
}

/// Latency percentiles of one group over the whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupLatency {
    /// The group's name (an agent; untrusted text from the bot).
    pub name: String,
    /// Queries counted.
    pub count: u64,
    /// Median, milliseconds.
    pub p50_ms: f64,
    /// 95th percentile, milliseconds.
    pub p95_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
}

/// What the page shows and `/stream` and `/events` send: the state at the end of an
/// interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveSnapshot {
    /// [`SNAPSHOT_FORMAT_VERSION`].
    pub format_version: u32,
    /// Snapshots published before this one.
    pub seq: u64,
    /// Seconds since the live server started.
    pub elapsed_s: f64,
    /// The run id, once the suite named it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The phase running now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<PhaseNow>,
    /// Phases finished so far.
    pub phases: Vec<PhaseDone>,
    /// Queries finished (or dropped) so far.
    pub done: u64,
    /// Queries the plans started so far will send, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planned: Option<u64>,
    /// Mean queries in flight over the last interval (service time of the queries finished
    /// in it divided by its length).
    pub in_flight: f64,
    /// Queries finished per second over the last interval.
    pub rate: f64,
    /// Queries by outcome label (`ok`, `timeout`, `error:<kind>`, ...).
    pub outcomes: BTreeMap<String, u64>,
    /// Latency percentiles per interval.
    pub latency: Vec<LatencyPoint>,
    /// Latency per answering agent over the run.
    pub agents: Vec<GroupLatency>,
    /// Time to first token of streamed answers, per agent, over the run.
    pub ttft: Vec<GroupLatency>,
    /// The last resource reading.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceSample>,
    /// Checks decided so far.
    pub checks: Vec<CheckResult>,
    /// The rule shared by every check of a group (`perf_core::record::CheckGroup::rule`), by
    /// group, for the groups among `checks`: the page states it once under the table.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rules: BTreeMap<String, String>,
    /// Remarks of the suite.
    pub notes: Vec<String>,
    /// The end of the run, once known.
    #[serde(rename = "final", skip_serializing_if = "Option::is_none")]
    pub finished: Option<LiveFinal>,
}

/// A published snapshot with its two renderings, computed once per interval so a client
/// costs the run nothing but a copy.
#[derive(Debug)]
pub struct Published {
    /// The snapshot.
    pub snapshot: LiveSnapshot,
    /// The snapshot as one line of JSON (no trailing newline).
    pub json: String,
    /// `/metrics` in the Prometheus text format.
    pub metrics: String,
}

/// Interns bot-chosen label values, at most [`MAX_LABEL_VALUES`] of them.
#[derive(Debug, Default)]
pub(crate) struct Labels {
    names: Vec<Arc<str>>,
    index: HashMap<Arc<str>, u32>,
    other: Option<u32>,
}

impl Labels {
    fn id(&mut self, value: &str) -> u32 {
        // Values that differ only in characters no reader can show are one series: the
        // index holds what is shown, so two never print the same.
        let value = metrics::printable(value);
        if let Some(&i) = self.index.get(value.as_ref()) {
            return i;
        }
        if self.index.len() >= MAX_LABEL_VALUES {
            // A bot may name an agent `other` itself: one series, never two with one name.
            if let Some(o) = self.other.or_else(|| self.index.get(OTHER).copied()) {
                return o;
            }
            let o = self.push(Arc::from(OTHER));
            self.other = Some(o);
            return o;
        }
        let key: Arc<str> = Arc::from(value.as_ref());
        let next = self.names.len();
        let name = match truncate(&key, MAX_LABEL_CHARS) {
            // Two long names may share a prefix: the suffix keeps their series apart (and,
            // longer than any kept whole name, never equals one).
            cut if cut.len() < key.len() => Arc::from(format!("{cut}…#{next}")),
            _ => key.clone(),
        };
        let i = self.push(name);
        self.index.insert(key, i);
        i
    }

    fn push(&mut self, name: Arc<str>) -> u32 {
        self.names.push(name);
        (self.names.len() - 1) as u32
    }

    pub(crate) fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or(OTHER, |n| n)
    }
}

/// `json` with U+0085, U+2028 and U+2029 written as `\u` escapes: JSON allows them raw in
/// strings, but readers that split lines on them (Python's `str.splitlines`, some log
/// shippers) would cut an `/events` line or an SSE `data:` line in two. serde_json already
/// escapes every other control character, and these can only occur inside strings.
fn line_safe_json(json: String) -> String {
    if !json.contains(['\u{85}', '\u{2028}', '\u{2029}']) {
        return json;
    }
    json.replace('\u{85}', "\\u0085")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// Cuts `s` to at most `max` characters, on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// A Prometheus histogram: fixed buckets, a sum and a count.
#[derive(Debug, Clone, Default)]
pub(crate) struct Buckets {
    /// Observations at most [`metrics::BUCKETS_S`]`[i]`, not cumulated.
    pub(crate) counts: [u64; metrics::BUCKETS_S.len()],
    pub(crate) sum_us: u128,
    pub(crate) count: u64,
}

impl Buckets {
    fn observe(&mut self, us: u64) {
        let s = us as f64 / 1e6;
        if let Some(i) = metrics::BUCKETS_S.iter().position(|&b| s <= b) {
            self.counts[i] += 1;
        }
        self.sum_us += u128::from(us);
        self.count += 1;
    }
}

/// Everything kept per agent.
#[derive(Debug, Default)]
pub(crate) struct AgentStats {
    pub(crate) latency: Buckets,
    pub(crate) ttft: Buckets,
    latency_hist: LatencyHistogram,
    ttft_hist: LatencyHistogram,
}

/// Folds [`SuiteEvent`]s; [`LiveState::publish`] makes a snapshot of them.
///
/// Folding a sample costs a few counter updates and two histogram records; everything
/// else (percentiles, JSON, metrics text) happens once per interval in `publish`.
#[derive(Debug, Default)]
pub struct LiveState {
    pub(crate) agents: Labels,
    pub(crate) scenarios: Labels,
    /// Queries by (outcome, agent id, scenario id).
    pub(crate) queries: HashMap<(Outcome, u32, u32), u64>,
    pub(crate) per_agent: Vec<AgentStats>,
    run_id: Option<String>,
    phase: Option<PhaseNow>,
    phases: Vec<PhaseDone>,
    done: u64,
    planned: Option<u64>,
    interval_latency: LatencyHistogram,
    interval_done: u64,
    interval_service_us: u128,
    series: VecDeque<LatencyPoint>,
    pub(crate) resources: Option<ResourceSample>,
    pub(crate) checks: Vec<CheckResult>,
    notes: Vec<String>,
    finished: Option<LiveFinal>,
    seq: u64,
    pub(crate) last_rate: f64,
    pub(crate) last_in_flight: f64,
}

impl LiveState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one event.
    pub fn fold(&mut self, event: &SuiteEvent) {
        match event {
            SuiteEvent::RunStarted { run_id } => self.run_id = Some(run_id.clone()),
            SuiteEvent::Phase(PhaseEvent::Started { number, name }) => {
                self.phase = Some(PhaseNow {
                    number: *number,
                    name: (*name).to_owned(),
                    stage: None,
                });
            }
            SuiteEvent::Phase(PhaseEvent::Finished(t)) => {
                if self.phase.as_ref().is_some_and(|p| p.number == t.number) {
                    self.phase = None;
                }
                self.phases.push(PhaseDone {
                    number: t.number,
                    name: t.name.clone(),
                    status: t.status.as_str().to_owned(),
                    seconds: t.seconds,
                });
            }
            SuiteEvent::Note(n) if self.notes.len() < MAX_NOTES => self.notes.push(n.clone()),
            SuiteEvent::Check(c) if self.checks.len() < MAX_CHECKS => {
                self.checks.push(c.clone());
            }
            SuiteEvent::Runner(e) => self.fold_run(e),
            _ => {}
        }
    }

    fn fold_run(&mut self, event: &RunEvent) {
        match event {
            // Plans run one after another: the total grows as each starts.
            RunEvent::Started { planned: Some(n) } => {
                self.planned = Some(self.done.max(self.planned.unwrap_or(0)) + n);
            }
            RunEvent::Sample(s) => self.fold_sample(s),
            RunEvent::Phase(stage) => {
                if let Some(p) = &mut self.phase {
                    p.stage = Some(truncate(stage, MAX_LABEL_CHARS).to_owned());
                }
            }
            RunEvent::Resource(r) => self.resources = Some(r.clone()),
            _ => {}
        }
    }

    fn fold_sample(&mut self, s: &SampleEvent) {
        let agent = self.agents.id(s.agent.as_deref().unwrap_or(NO_AGENT));
        let scenario = self.scenarios.id(s.scenario.as_deref().unwrap_or(NO_AGENT));
        *self
            .queries
            .entry((s.outcome, agent, scenario))
            .or_insert(0) += 1;
        self.done += 1;
        self.interval_done += 1;
        if s.outcome == Outcome::Dropped {
            return;
        }
        self.interval_service_us += u128::from(s.service_us);
        self.interval_latency.record_micros(s.latency_us);
        let i = agent as usize;
        if self.per_agent.len() <= i {
            self.per_agent.resize_with(i + 1, AgentStats::default);
        }
        let a = &mut self.per_agent[i];
        a.latency.observe(s.latency_us);
        a.latency_hist.record_micros(s.latency_us);
        if let Some(t) = s.ttft_us {
            a.ttft.observe(t);
            a.ttft_hist.record_micros(t);
        }
    }

    /// Records how the run ended.
    pub fn finish(&mut self, end: LiveFinal) {
        self.phase = None;
        self.finished = Some(end);
    }

    /// Ends an interval of length `interval` at `elapsed` since the start: makes the
    /// snapshot and its renderings, and starts the next interval.
    pub fn publish(&mut self, elapsed: Duration, interval: Duration) -> Published {
        let secs = interval.as_secs_f64().max(1e-3);
        self.last_rate = self.interval_done as f64 / secs;
        self.last_in_flight = self.interval_service_us as f64 / 1e6 / secs;
        let h = &self.interval_latency;
        let ms = |p: f64| (!h.is_empty()).then(|| h.percentile_micros(p) as f64 / 1e3);
        let point = LatencyPoint {
            t_s: elapsed.as_secs_f64(),
            rate: self.last_rate,
            p50_ms: ms(50.0),
            p95_ms: ms(95.0),
            p99_ms: ms(99.0),
        };
        if self.series.len() >= MAX_POINTS {
            self.series.pop_front();
        }
        self.series.push_back(point);
        self.interval_latency = LatencyHistogram::new();
        self.interval_done = 0;
        self.interval_service_us = 0;

        let mut outcomes = BTreeMap::new();
        for ((outcome, _, _), n) in &self.queries {
            *outcomes.entry(outcome.label()).or_insert(0) += n;
        }
        let group = |name: &str, h: &LatencyHistogram| GroupLatency {
            name: name.to_owned(),
            count: h.count(),
            p50_ms: h.percentile_micros(50.0) as f64 / 1e3,
            p95_ms: h.percentile_micros(95.0) as f64 / 1e3,
            p99_ms: h.percentile_micros(99.0) as f64 / 1e3,
        };
        let mut agents = Vec::new();
        let mut ttft = Vec::new();
        for (i, a) in self.per_agent.iter().enumerate() {
            let name = self.agents.name(i as u32);
            if !a.latency_hist.is_empty() {
                agents.push(group(name, &a.latency_hist));
            }
            if !a.ttft_hist.is_empty() {
                ttft.push(group(name, &a.ttft_hist));
            }
        }
        let snapshot = LiveSnapshot {
            format_version: SNAPSHOT_FORMAT_VERSION,
            seq: self.seq,
            elapsed_s: elapsed.as_secs_f64(),
            run_id: self.run_id.clone(),
            phase: self.phase.clone(),
            phases: self.phases.clone(),
            done: self.done,
            planned: self.planned,
            in_flight: self.last_in_flight,
            rate: self.last_rate,
            outcomes,
            latency: self.series.iter().copied().collect(),
            agents,
            ttft,
            resources: self.resources.clone(),
            checks: self.checks.clone(),
            rules: self
                .checks
                .iter()
                .filter_map(|c| Some((c.group.as_str().to_owned(), c.group.rule()?.to_owned())))
                .collect(),
            notes: self.notes.clone(),
            finished: self.finished.clone(),
        };
        self.seq += 1;
        // Plain data always serializes; an empty object would only blank the page.
        let json = serde_json::to_string(&snapshot).unwrap_or_else(|_| "{}".to_owned());
        let json = line_safe_json(json);
        let metrics = metrics::render(self, &snapshot);
        Published {
            snapshot,
            json,
            metrics,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(agent: &str, outcome: Outcome, latency_us: u64) -> SuiteEvent {
        SuiteEvent::Runner(RunEvent::Sample(SampleEvent {
            outcome,
            attempts: 1,
            scheduled_at_us: 0,
            latency_us,
            service_us: latency_us,
            agent: Some(Arc::from(agent)),
            scenario: Some(Arc::from("standard")),
            ttft_us: None,
        }))
    }

    #[test]
    fn agents_beyond_the_cap_fold_into_other() {
        let mut s = LiveState::new();
        for i in 0..100 {
            s.fold(&sample(&format!("agent-{i}"), Outcome::Ok, 1_000));
        }
        assert_eq!(s.agents.names.len(), MAX_LABEL_VALUES + 1);
        let p = s.publish(Duration::from_secs(1), Duration::from_secs(1));
        let other = p.snapshot.agents.iter().find(|a| a.name == OTHER).unwrap();
        assert_eq!(other.count, 100 - MAX_LABEL_VALUES as u64);
        assert_eq!(p.snapshot.done, 100);
    }

    #[test]
    fn long_label_values_are_cut_on_a_character_boundary_and_stay_distinct() {
        let mut s = LiveState::new();
        let long = "é".repeat(500);
        s.fold(&sample(&long, Outcome::Ok, 1_000));
        s.fold(&sample(&format!("{long}x"), Outcome::Ok, 1_000));
        let p = s.publish(Duration::from_secs(1), Duration::from_secs(1));
        let names: Vec<&str> = p.snapshot.agents.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names.len(), 2);
        assert_ne!(names[0], names[1]);
        assert!(names[0].starts_with(&"é".repeat(MAX_LABEL_CHARS)));
        assert!(
            names[0].chars().count() < MAX_LABEL_CHARS + 5,
            "{}",
            names[0]
        );
    }

    #[test]
    fn an_agent_named_other_shares_the_overflow_series() {
        let mut s = LiveState::new();
        s.fold(&sample(OTHER, Outcome::Ok, 1_000));
        for i in 0..100 {
            s.fold(&sample(&format!("agent-{i}"), Outcome::Ok, 1_000));
        }
        let p = s.publish(Duration::from_secs(1), Duration::from_secs(1));
        let others: Vec<_> = p
            .snapshot
            .agents
            .iter()
            .filter(|a| a.name == OTHER)
            .collect();
        assert_eq!(others.len(), 1, "one series named other");
        assert_eq!(others[0].count, 1 + 100 - (MAX_LABEL_VALUES as u64 - 1));
        assert_eq!(p.metrics.matches("agent=\"other\",le=\"+Inf\"").count(), 1);
    }

    #[test]
    fn each_interval_starts_a_new_point_and_rate() {
        let mut s = LiveState::new();
        for _ in 0..10 {
            s.fold(&sample("a", Outcome::Ok, 20_000));
        }
        let first = s
            .publish(Duration::from_secs(1), Duration::from_secs(1))
            .snapshot;
        assert_eq!(first.rate, 10.0);
        // Ten queries of 20 ms finished in one second: 0.2 in flight on average.
        assert!((first.in_flight - 0.2).abs() < 1e-9, "{}", first.in_flight);
        let second = s
            .publish(Duration::from_secs(2), Duration::from_secs(1))
            .snapshot;
        assert_eq!(second.rate, 0.0);
        assert_eq!(second.latency.len(), 2);
        assert_eq!(second.latency[1].p50_ms, None);
        assert_eq!(second.seq, first.seq + 1);
        assert_eq!(second.done, 10);
    }
}
