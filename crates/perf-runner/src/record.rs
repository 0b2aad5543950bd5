//! Streaming aggregation of samples.
//!
//! The hot path avoids building a [`Sample`] for the common case (answered, first try, no
//! raw-sample file): workers keep a small batch of `Copy` records and fold it into the
//! shared [`Aggregator`] under one lock per batch. Everything else (failures, retries,
//! drops) goes through [`RunResult::record`], which also keeps failure examples. Both paths
//! produce exactly what recording every sample with `RunResult::record` would.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use perf_core::record::{GoodputTally, GroupStats, RunResult};
use perf_core::{
    bounded, LatencyHistogram, Outcome, Query, Redactor, Sample, TargetInfo, MAX_AGENT_CHARS,
    MAX_ERROR_CHARS, MAX_EXCERPT_CHARS,
};
use tokio::sync::mpsc::UnboundedSender;

use crate::exec::Finished;
use crate::{RunEvent, SampleEvent};

/// Fast records a worker buffers before taking the lock.
const BATCH: usize = 256;
/// Raw-sample bytes a worker buffers before writing them.
const JSONL_BUFFER: usize = 64 * 1024;
/// Distinct agent names a worker interns; beyond that, samples take the slow path.
const MAX_LOCAL_AGENTS: usize = 64;
const NO_AGENT: u32 = u32::MAX;

/// Locks a mutex, recovering the data if a holder panicked (the data is plain counters).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the aggregation keys of a query are: its scenario, category and expected agent.
#[derive(Debug, Clone, PartialEq, Eq)]
struct QueryClass {
    scenario: String,
    category: String,
    expected_agent: Option<String>,
    /// The scenario again, shared by every [`SampleEvent`] of this class.
    scenario_label: Arc<str>,
}

/// The distinct classes of a plan's queries, and each query's class.
#[derive(Debug)]
pub(crate) struct PlanIndex {
    class_of: Vec<u32>,
    classes: Vec<QueryClass>,
}

impl PlanIndex {
    pub(crate) fn new(queries: &[Query]) -> Self {
        let mut classes: Vec<QueryClass> = Vec::new();
        let mut lookup = std::collections::HashMap::new();
        let class_of = queries
            .iter()
            .map(|q| {
                let key = (
                    q.scenario.as_str(),
                    q.category.as_str(),
                    q.expected_agent.as_deref(),
                );
                *lookup.entry(key).or_insert_with(|| {
                    classes.push(QueryClass {
                        scenario: q.scenario.clone(),
                        category: q.category.clone(),
                        expected_agent: q.expected_agent.clone(),
                        scenario_label: Arc::from(q.scenario.as_str()),
                    });
                    (classes.len() - 1) as u32
                })
            })
            .collect();
        Self { class_of, classes }
    }
}

/// An answered, first-try sample, reduced to what aggregation needs.
#[derive(Debug, Clone, Copy)]
struct FastRecord {
    class: u32,
    agent: u32,
    timing: Timing,
}

/// The times of one query, microseconds, already offset to the run's clock.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Timing {
    pub(crate) scheduled_at_us: u64,
    pub(crate) start_lag_us: u64,
    pub(crate) latency_us: u64,
    pub(crate) service_us: u64,
}

#[derive(Debug, Default)]
struct Cell {
    count: u64,
    latency: LatencyHistogram,
    service: LatencyHistogram,
}

/// The plan's aggregate: a [`RunResult`] for the slow path, timeline and schedule, plus
/// per-(class, agent) cells for fast records.
#[derive(Debug)]
pub(crate) struct Aggregator {
    index: Arc<PlanIndex>,
    agents: Vec<String>,
    cells: Vec<Vec<(u32, Cell)>>,
    result: RunResult,
    scratch: Sample,
}

impl Aggregator {
    /// `goodput`: the caller's goodput tally, whose thresholds this plan judges by.
    pub(crate) fn new(index: Arc<PlanIndex>, goodput: Option<&GoodputTally>) -> Self {
        let cells = (0..index.classes.len()).map(|_| Vec::new()).collect();
        let mut result = RunResult::new("plan", "", TargetInfo::default());
        result.goodput = goodput.map(GoodputTally::empty_like);
        Self {
            index,
            agents: Vec::new(),
            cells,
            result,
            scratch: blank_sample(),
        }
    }

    fn intern(&mut self, agent: &str) -> u32 {
        match self.agents.iter().position(|a| a == agent) {
            Some(i) => i as u32,
            None => {
                self.agents.push(agent.to_owned());
                (self.agents.len() - 1) as u32
            }
        }
    }

    fn record_fast(&mut self, batch: &[FastRecord], local_agents: &[String]) {
        let map: Vec<u32> = local_agents.iter().map(|a| self.intern(a)).collect();
        for r in batch {
            let agent = map.get(r.agent as usize).copied().unwrap_or(NO_AGENT);
            let Some(cells) = self.cells.get_mut(r.class as usize) else {
                continue;
            };
            let cell = match cells.iter().position(|(a, _)| *a == agent) {
                Some(i) => &mut cells[i].1,
                None => {
                    cells.push((agent, Cell::default()));
                    let last = cells.len() - 1;
                    &mut cells[last].1
                }
            };
            cell.count += 1;
            cell.latency.record_micros(r.timing.latency_us);
            cell.service.record_micros(r.timing.service_us);
            // Timeline and schedule read only the outcome and the times.
            self.scratch.outcome = Outcome::Ok;
            self.scratch.scheduled_at_us = r.timing.scheduled_at_us;
            self.scratch.start_lag_us = r.timing.start_lag_us;
            self.scratch.latency_us = r.timing.latency_us;
            self.result.timeline.record(&self.scratch);
            self.result.schedule.record(&self.scratch);
            if let Some(g) = &mut self.result.goodput {
                // The keys and the routing rule of `RunResult::record`, for an answered
                // first-try sample (no streamed figures: those take the full path).
                let Some(class) = self.index.classes.get(r.class as usize) else {
                    continue;
                };
                let name = self.agents.get(agent as usize).map(String::as_str);
                let routed = match (&class.expected_agent, name) {
                    (Some(e), Some(a)) => Some(e == a),
                    (Some(_), None) => Some(false),
                    _ => None,
                };
                let judged = g.judge(Outcome::Ok, routed, r.timing.latency_us, None);
                let key = name
                    .or(class.expected_agent.as_deref())
                    .unwrap_or("unrouted");
                g.record_parts(key, judged);
            }
        }
    }

    pub(crate) fn record_full(&mut self, s: &Sample) {
        self.result.record(s);
    }

    /// Folds the fast cells into the result, exactly as `RunResult::record` would have.
    pub(crate) fn finish(mut self) -> RunResult {
        let cells = std::mem::take(&mut self.cells);
        for (class, cells) in self.index.classes.iter().zip(cells) {
            for (agent, cell) in cells {
                let agent = self.agents.get(agent as usize).map(String::as_str);
                let n = cell.count;
                let mut g = GroupStats {
                    count: n,
                    successes: n,
                    latency: cell.latency,
                    service: cell.service,
                    ..GroupStats::default()
                };
                g.outcomes.insert(Outcome::Ok.label(), n);
                if let Some(a) = agent {
                    g.agent_usage.insert(a.to_owned(), n);
                }
                if let Some(expected) = &class.expected_agent {
                    g.routing.checked = n;
                    if agent == Some(expected.as_str()) {
                        g.routing.correct = n;
                    }
                }
                self.result.record_group(
                    agent,
                    class.expected_agent.as_deref(),
                    &class.category,
                    &class.scenario,
                    &g,
                );
            }
        }
        self.result
    }
}

fn blank_sample() -> Sample {
    Sample::new(String::new(), String::new(), String::new(), Outcome::Ok, 0)
}

/// The raw-sample file.
#[derive(Debug)]
pub(crate) struct SamplesWriter {
    path: PathBuf,
    out: BufWriter<File>,
    error: Option<std::io::Error>,
}

impl SamplesWriter {
    pub(crate) fn open(path: PathBuf, append: bool) -> Result<Self, std::io::Error> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(&path)?;
        Ok(Self {
            path,
            out: BufWriter::with_capacity(JSONL_BUFFER, file),
            error: None,
        })
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(bytes) {
                self.error = Some(e);
            }
        }
    }

    /// Flushes and returns the first error met, with the path.
    pub(crate) fn finish(mut self) -> Result<(), (PathBuf, std::io::Error)> {
        if self.error.is_none() {
            if let Err(e) = self.out.flush() {
                self.error = Some(e);
            }
        }
        match self.error {
            Some(e) => Err((self.path, e)),
            None => Ok(()),
        }
    }
}

/// What all workers of a plan share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) index: Arc<PlanIndex>,
    pub(crate) agg: Mutex<Aggregator>,
    pub(crate) writer: Option<Mutex<Option<SamplesWriter>>>,
    pub(crate) events: Option<UnboundedSender<RunEvent>>,
    pub(crate) sample_events: bool,
    /// The plan's [`crate::Plan::sample_sink`].
    pub(crate) sample_sink: Option<UnboundedSender<Sample>>,
    /// The target's secrets, removed from everything the bot sent (see [`sanitize`]).
    pub(crate) redactor: Redactor,
}

impl Shared {
    pub(crate) fn event(&self, e: RunEvent) {
        if let Some(tx) = &self.events {
            // A dropped receiver only means nobody is watching.
            let _ = tx.send(e);
        }
    }
}

/// A worker's recording state: a batch of fast records and a raw-sample buffer.
#[derive(Debug)]
pub(crate) struct Recorder {
    shared: Arc<Shared>,
    batch: Vec<FastRecord>,
    batch_limit: usize,
    agents: Vec<String>,
    /// Agent names already shared with [`SampleEvent`]s (at most `MAX_LOCAL_AGENTS`).
    agent_labels: Vec<Arc<str>>,
    jsonl: Vec<u8>,
}

impl Recorder {
    /// A recorder that batches (for long-lived workers).
    pub(crate) fn batching(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            batch: Vec::with_capacity(BATCH),
            batch_limit: BATCH,
            agents: Vec::new(),
            agent_labels: Vec::new(),
            jsonl: Vec::new(),
        }
    }

    /// A recorder that folds each sample at once (for one-query tasks).
    pub(crate) fn immediate(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            batch: Vec::new(),
            batch_limit: 1,
            agents: Vec::new(),
            agent_labels: Vec::new(),
            jsonl: Vec::new(),
        }
    }

    fn local_agent(&mut self, agent: &str) -> Option<u32> {
        if let Some(i) = self.agents.iter().position(|a| a == agent) {
            return Some(i as u32);
        }
        if self.agents.len() >= MAX_LOCAL_AGENTS {
            return None;
        }
        self.agents.push(agent.to_owned());
        Some((self.agents.len() - 1) as u32)
    }

    /// The shared name of `agent`, allocated once per worker for the first agents seen.
    fn agent_label(&mut self, agent: &str) -> Arc<str> {
        if let Some(a) = self.agent_labels.iter().find(|a| &***a == agent) {
            return Arc::clone(a);
        }
        let label: Arc<str> = Arc::from(agent);
        if self.agent_labels.len() < MAX_LOCAL_AGENTS {
            self.agent_labels.push(Arc::clone(&label));
        }
        label
    }

    fn scenario_label(&self, qi: usize) -> Option<Arc<str>> {
        let index = &self.shared.index;
        let class = index.class_of.get(qi)?;
        index
            .classes
            .get(*class as usize)
            .map(|c| Arc::clone(&c.scenario_label))
    }

    /// Records one finished query: `qi` is its index in the plan.
    pub(crate) fn record(&mut self, qi: usize, query: &Query, timing: Timing, f: Finished) {
        let f = sanitize(f, &self.shared.redactor);
        if self.shared.sample_events {
            let response = f.response.as_ref();
            let agent = response
                .and_then(|r| r.primary_agent())
                .map(|a| self.agent_label(a));
            let ttft_us = response
                .and_then(|r| r.time_to_first_token)
                .map(|t| u64::try_from(t.as_micros()).unwrap_or(u64::MAX));
            self.shared.event(RunEvent::Sample(SampleEvent {
                outcome: f.outcome,
                attempts: f.attempts,
                scheduled_at_us: timing.scheduled_at_us,
                latency_us: timing.latency_us,
                service_us: timing.service_us,
                agent,
                scenario: self.scenario_label(qi),
                ttft_us,
            }));
        }
        let class = self.shared.index.class_of.get(qi).copied();
        // A sink whose receiver is gone (a watch that has decided) wants no more samples.
        let writing = self.shared.writer.is_some()
            || self
                .shared
                .sample_sink
                .as_ref()
                .is_some_and(|tx| !tx.is_closed());
        // Streamed answers carry figures of their own: they take the full path.
        let streamed = f
            .response
            .as_ref()
            .is_some_and(|r| r.time_to_first_token.is_some() || r.completion_tokens.is_some());
        if f.outcome == Outcome::Ok && f.attempts == 1 && !writing && !streamed {
            let agent = match f.response.as_ref().and_then(|r| r.primary_agent()) {
                None => Some(NO_AGENT),
                Some(a) => self.local_agent(a),
            };
            if let (Some(class), Some(agent)) = (class, agent) {
                self.batch.push(FastRecord {
                    class,
                    agent,
                    timing,
                });
                if self.batch.len() >= self.batch_limit {
                    self.flush_batch();
                }
                return;
            }
        }
        let sample = build_sample(query, timing, f);
        lock(&self.shared.agg).record_full(&sample);
        if writing {
            self.write_sample(&sample);
        }
    }

    /// Sends `s` to the plan's sample sink, when it has one.
    fn sink(&self, s: &Sample) {
        if let Some(tx) = &self.shared.sample_sink {
            // A dropped receiver only means nobody wants the samples any more.
            let _ = tx.send(s.clone());
        }
    }

    /// Records an arrival dropped at the in-flight cap.
    pub(crate) fn record_dropped(&mut self, query: &Query, scheduled_at_us: u64) {
        if self.shared.sample_events {
            self.shared.event(RunEvent::Sample(SampleEvent {
                outcome: Outcome::Dropped,
                attempts: 0,
                scheduled_at_us,
                latency_us: 0,
                service_us: 0,
                agent: None,
                scenario: Some(Arc::from(query.scenario.as_str())),
                ttft_us: None,
            }));
        }
        let mut s = blank_sample();
        s.query_id = query.id.clone();
        s.scenario = query.scenario.clone();
        s.category = query.category.clone();
        s.expected_agent = query.expected_agent.clone();
        s.outcome = Outcome::Dropped;
        s.attempts = 0;
        s.scheduled_at_us = scheduled_at_us;
        s.error = Some("dropped: queries in flight were at max_in_flight".to_owned());
        lock(&self.shared.agg).record_full(&s);
        self.write_sample(&s);
    }

    /// Writes `s` to the raw-sample file and the sample sink, those the plan has.
    fn write_sample(&mut self, s: &Sample) {
        self.sink(s);
        if self.shared.writer.is_none() {
            return;
        }
        // Serializing plain data to memory cannot fail; if it ever did, the line is skipped.
        if serde_json::to_writer(&mut self.jsonl, s).is_ok() {
            self.jsonl.push(b'\n');
        }
        if self.jsonl.len() >= JSONL_BUFFER || self.batch_limit == 1 {
            self.flush_jsonl();
        }
    }

    fn flush_batch(&mut self) {
        if !self.batch.is_empty() {
            lock(&self.shared.agg).record_fast(&self.batch, &self.agents);
            self.batch.clear();
        }
    }

    fn flush_jsonl(&mut self) {
        if let Some(w) = &self.shared.writer {
            if !self.jsonl.is_empty() {
                if let Some(w) = lock(w).as_mut() {
                    w.write(&self.jsonl);
                }
                self.jsonl.clear();
            }
        }
    }

    /// Folds everything buffered into the shared state.
    pub(crate) fn flush(&mut self) {
        self.flush_batch();
        self.flush_jsonl();
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // Also on early exits (hard stop), so nothing recorded is lost.
        self.flush();
    }
}

/// The streaming figures of one answer, microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StreamFigures {
    pub(crate) ttft_us: Option<u64>,
    pub(crate) itl_us: Option<u64>,
    pub(crate) tpot_us: Option<u64>,
    pub(crate) output_tokens: Option<u64>,
}

impl StreamFigures {
    /// Derives the figures from what the target measured; `service_us` stands in for the
    /// last token when the target did not say when that came.
    pub(crate) fn of(r: &perf_core::BotResponse, service_us: u64) -> Self {
        let us = |d: std::time::Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let ttft_us = r.time_to_first_token.map(us);
        let last_us = r.time_to_last_token.map(us);
        // The decode phase: first token to last token.
        let decode_us = match (ttft_us, last_us) {
            (Some(f), Some(l)) => Some(l.saturating_sub(f)),
            (Some(f), None) => Some(service_us.saturating_sub(f)),
            _ => None,
        };
        let itl_us = match (decode_us, r.stream_chunks) {
            (Some(d), Some(n)) if n >= 2 => Some(d / (n - 1)),
            _ => None,
        };
        let tpot_us = match (decode_us, r.completion_tokens) {
            (Some(d), Some(n)) if n >= 2 => Some(d / (n - 1)),
            _ => None,
        };
        Self {
            ttft_us,
            itl_us,
            tpot_us,
            output_tokens: r.completion_tokens,
        }
    }
}

/// `s` redacted and cut to `max_chars`, allocating only when something changes.
fn bound_in_place(r: &Redactor, s: &mut String, max_chars: usize) {
    // Byte length bounds character count: short clean text needs no work.
    if s.len() > max_chars || r.finds_secret(s) {
        *s = bounded(r, s, max_chars);
    }
}

/// The one place where what a bot sent enters the recording: every secret of the target is
/// removed and every string cut to its limit (`docs/limits.md`), in that order, before
/// anything is aggregated, written to `samples.jsonl`, sent as an event or kept as an
/// example. Only the first agent and, for failed queries, an excerpt of the answer are kept.
pub(crate) fn sanitize(mut f: Finished, r: &Redactor) -> Finished {
    if let Some(e) = f.error.as_mut() {
        bound_in_place(r, e, MAX_ERROR_CHARS);
    }
    if let Some(resp) = f.response.as_mut() {
        resp.agents.truncate(1);
        for a in &mut resp.agents {
            bound_in_place(r, a, MAX_AGENT_CHARS);
        }
        if f.outcome.is_success() {
            // Never stored: dropped here rather than redacted.
            resp.answer.clear();
        } else {
            bound_in_place(r, &mut resp.answer, MAX_EXCERPT_CHARS);
        }
        resp.metadata = serde_json::Value::Null;
    }
    for x in &mut f.failures {
        bound_in_place(r, &mut x.detail, MAX_ERROR_CHARS);
    }
    f
}

fn build_sample(query: &Query, timing: Timing, f: Finished) -> Sample {
    let failed = !f.outcome.is_success();
    let (agent, stream, answer_excerpt) = match f.response {
        Some(r) => {
            let stream = StreamFigures::of(&r, timing.service_us);
            let excerpt = failed.then_some(r.answer);
            (r.agents.into_iter().next(), stream, excerpt)
        }
        None => (None, StreamFigures::default(), None),
    };
    Sample {
        query_id: query.id.clone(),
        scenario: query.scenario.clone(),
        category: query.category.clone(),
        expected_agent: query.expected_agent.clone(),
        agent,
        outcome: f.outcome,
        first_attempt: f.first_attempt,
        attempts: f.attempts,
        scheduled_at_us: timing.scheduled_at_us,
        start_lag_us: timing.start_lag_us,
        latency_us: timing.latency_us,
        service_us: timing.service_us,
        ttft_us: stream.ttft_us,
        itl_us: stream.itl_us,
        tpot_us: stream.tpot_us,
        output_tokens: stream.output_tokens,
        error: f.error,
        failed_expectations: f.failures,
        answer_excerpt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perf_core::{BotResponse, ErrorKind, ExpectationFailure};

    fn finished(outcome: Outcome, agent: Option<&str>, attempts: u32) -> Finished {
        Finished {
            outcome,
            first_attempt: (attempts > 1).then_some(Outcome::Timeout),
            attempts,
            response: agent.map(|a| BotResponse::new("answer text", a)),
            error: (!outcome.is_success()).then(|| "bad".to_owned()),
            failures: if outcome == Outcome::FailedExpectation {
                vec![ExpectationFailure {
                    expectation: "answer_contains".into(),
                    detail: "missing".into(),
                }]
            } else {
                Vec::new()
            },
        }
    }

    /// The fast path and the slow path together give exactly what recording every sample
    /// with `RunResult::record` gives.
    #[test]
    fn fast_path_equals_recording_every_sample() {
        let queries: Vec<Query> = (0..7)
            .map(|i| {
                let q = Query::new(format!("q{i}"), "text", ["cat_a", "cat_b"][i % 2])
                    .with_scenario(["s1", "s2", "s3"][i % 3]);
                if i % 4 == 0 {
                    q
                } else {
                    q.with_expected_agent(["x", "y"][i % 2])
                }
            })
            .collect();
        let index = Arc::new(PlanIndex::new(&queries));
        let tally = perf_core::record::GoodputTally::new(&perf_core::record::Slos {
            latency_p95_ms: Some(50.0),
            ..perf_core::record::Slos::default()
        });
        let shared = Arc::new(Shared {
            index: index.clone(),
            agg: Mutex::new(Aggregator::new(index, Some(&tally))),
            writer: None,
            events: None,
            sample_events: false,
            sample_sink: None,
            redactor: Redactor::default(),
        });
        let mut expected = RunResult::new("plan", "", TargetInfo::default());
        expected.goodput = Some(tally.empty_like());
        let mut rec = Recorder::batching(shared.clone());
        for k in 0..1000usize {
            let qi = k % queries.len();
            let outcome = match k % 11 {
                0 => Outcome::Error(ErrorKind::Bot),
                1 => Outcome::FailedExpectation,
                2 => Outcome::Timeout,
                _ => Outcome::Ok,
            };
            let agent = [None, Some("x"), Some("y"), Some("z")][k % 4];
            let agent = if matches!(outcome, Outcome::Ok | Outcome::FailedExpectation) {
                agent
            } else {
                None
            };
            let attempts = if k % 13 == 0 { 2 } else { 1 };
            let timing = Timing {
                scheduled_at_us: k as u64 * 10_000,
                start_lag_us: (k as u64 * 37) % 5_000,
                latency_us: 1_000 + (k as u64 * 7919) % 100_000,
                service_us: 900 + (k as u64 * 31) % 90_000,
            };
            expected.record(&build_sample(
                &queries[qi],
                timing,
                finished(outcome, agent, attempts),
            ));
            rec.record(qi, &queries[qi], timing, finished(outcome, agent, attempts));
        }
        drop(rec);
        let shared = Arc::into_inner(shared).expect("recorder dropped");
        let got = shared
            .agg
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .finish();
        assert_eq!(got.overall, expected.overall);
        assert_eq!(got.per_agent, expected.per_agent);
        assert_eq!(got.per_category, expected.per_category);
        assert_eq!(got.per_scenario, expected.per_scenario);
        assert_eq!(got.timeline, expected.timeline);
        assert_eq!(got.schedule, expected.schedule);
        assert_eq!(got.failure_examples, expected.failure_examples);
        assert_eq!(got.goodput, expected.goodput);
        let good = got.goodput.as_ref().map_or(0, |g| g.overall.good);
        assert!(good > 100 && good < 900, "some good, some not: {good}");
    }

    /// D1/D5: a secret in the answer, the agent name or the error is gone from the sample,
    /// also where the cut would have kept its first characters, and every string is cut.
    #[test]
    fn sanitize_redacts_before_cutting_every_bot_string() {
        let secret = "tok-0123456789abcdef";
        let r = Redactor::new([secret]);
        let q = Query::new("q", "t", "c");
        let mut f = finished(Outcome::Error(ErrorKind::Status), Some("a"), 1);
        // The secret starts 10 characters before the error's cut.
        f.error = Some(format!(
            "{}{secret}{}",
            "e".repeat(MAX_ERROR_CHARS - 10),
            "z".repeat(5_000_000)
        ));
        if let Some(resp) = f.response.as_mut() {
            resp.answer = format!("{}{secret}", "x".repeat(MAX_EXCERPT_CHARS - 4));
            resp.agents = vec![
                format!("agent {secret} {}", "n".repeat(100_000)),
                "b".into(),
            ];
        }
        let s = build_sample(&q, Timing::default(), sanitize(f, &r));
        let line = serde_json::to_string(&s).unwrap();
        for prefix in [&secret[..8], &secret[..4]] {
            assert!(!line.contains(prefix), "{prefix} in {line}");
        }
        assert!(line.len() < 4 * (MAX_ERROR_CHARS + MAX_AGENT_CHARS + MAX_EXCERPT_CHARS) + 1000);
        let agent = s.agent.unwrap_or_default();
        assert!(agent.starts_with("agent [redacted] n"), "{agent}");
        assert_eq!(agent.chars().count(), MAX_AGENT_CHARS + 1);
        assert_eq!(
            s.error.map(|e| e.chars().count()),
            Some(MAX_ERROR_CHARS + 1)
        );
    }

    #[test]
    fn failed_samples_keep_a_short_excerpt_and_ok_ones_none() {
        let q = Query::new("q", "t", "c");
        let mut f = finished(Outcome::FailedExpectation, Some("a"), 1);
        if let Some(r) = f.response.as_mut() {
            r.answer = "é".repeat(1000);
        }
        let s = build_sample(&q, Timing::default(), sanitize(f, &Redactor::default()));
        assert_eq!(
            s.answer_excerpt.as_deref().map(|e| e.chars().count()),
            Some(301)
        );
        assert_eq!(s.failed_expectations.len(), 1);
        let s = build_sample(&q, Timing::default(), finished(Outcome::Ok, Some("a"), 1));
        assert_eq!(s.answer_excerpt, None);
        assert_eq!(s.agent.as_deref(), Some("a"));
    }
}
