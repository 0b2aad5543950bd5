use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

use crate::record::{
    CheckResult, Comparison, GoodputTally, MergeInfo, ResourcePeaks, ResourceSample, ShardInfo,
    Timeline, TrendSeries,
};
use crate::{
    ContentProfile, LatencyHistogram, LatencySummary, Outcome, Sample, TargetInfo,
    MAX_TRACKED_NAMES, OTHER,
};

/// Version of the [`RunResult`] JSON format. Bumped on any incompatible change: 2 stores
/// histograms as base64 of their HdrHistogram V2 encoding (1 wrote bucket lists, which
/// are still read).
pub const RUN_RESULT_FORMAT_VERSION: u32 = 2;

/// Failing samples kept as examples per (outcome, category) pair.
const EXAMPLES_PER_KEY: usize = 3;
/// Failing samples kept as examples in all.
const MAX_EXAMPLES: usize = 200;

/// Counts and latency distributions for one group of samples (all of a run, one agent,
/// one category or one scenario). Merges exactly.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupStats {
    /// Samples recorded, dropped ones included.
    pub count: u64,
    /// Samples whose outcome is `ok`.
    pub successes: u64,
    /// Samples per outcome label (`ok`, `timeout`, `error:status`, ...).
    pub outcomes: BTreeMap<String, u64>,
    /// Latency from the intended start (every sent query, failed ones included).
    #[serde(serialize_with = "LatencyHistogram::serialize_v2")]
    pub latency: LatencyHistogram,
    /// Service time from the actual start.
    #[serde(serialize_with = "LatencyHistogram::serialize_v2")]
    pub service: LatencyHistogram,
    /// Queries answered per agent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub agent_usage: BTreeMap<String, u64>,
    /// Routing checks.
    pub routing: RoutingStats,
    /// Retried queries whose first attempt failed.
    #[serde(default)]
    pub first_attempt_failures: u64,
    /// Time to first token of streamed answers (from the actual start).
    #[serde(
        default,
        skip_serializing_if = "LatencyHistogram::is_empty",
        serialize_with = "LatencyHistogram::serialize_v2"
    )]
    pub ttft: LatencyHistogram,
    /// Inter-token latency: each streamed answer's mean gap between pieces.
    #[serde(
        default,
        skip_serializing_if = "LatencyHistogram::is_empty",
        serialize_with = "LatencyHistogram::serialize_v2"
    )]
    pub itl: LatencyHistogram,
    /// Time per output token after the first, per answer.
    #[serde(
        default,
        skip_serializing_if = "LatencyHistogram::is_empty",
        serialize_with = "LatencyHistogram::serialize_v2"
    )]
    pub tpot: LatencyHistogram,
    /// Output tokens of every answered query that had a token count.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub output_tokens: u64,
    /// Answered queries that had a token count.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub token_counted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How many answered queries went to the agent they were meant for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingStats {
    /// Answered queries that named an expected agent.
    pub checked: u64,
    /// Of those, answered by that agent.
    pub correct: u64,
}

impl RoutingStats {
    /// `correct / checked`, or `None` when nothing was checked.
    pub fn accuracy(&self) -> Option<f64> {
        (self.checked > 0).then(|| self.correct as f64 / self.checked as f64)
    }
}

impl GroupStats {
    /// Folds one sample in.
    pub fn record(&mut self, s: &Sample) {
        self.count += 1;
        if s.outcome.is_success() {
            self.successes += 1;
        }
        *self.outcomes.entry(s.outcome.label()).or_default() += 1;
        if s.outcome != Outcome::Dropped {
            self.latency.record_micros(s.latency_us);
            self.service.record_micros(s.service_us);
        }
        if let Some(agent) = &s.agent {
            *self.agent_usage.entry(agent.clone()).or_default() += 1;
        }
        if let Some(ok) = s.routed_correctly() {
            self.routing.checked += 1;
            self.routing.correct += u64::from(ok);
        }
        if s.first_attempt.is_some_and(|o| !o.is_success()) {
            self.first_attempt_failures += 1;
        }
        if let Some(t) = s.ttft_us {
            self.ttft.record_micros(t);
        }
        if let Some(t) = s.itl_us {
            self.itl.record_micros(t);
        }
        if let Some(t) = s.tpot_us {
            self.tpot.record_micros(t);
        }
        if let Some(n) = s.output_tokens {
            self.output_tokens = self.output_tokens.saturating_add(n);
            self.token_counted += 1;
        }
    }

    /// Adds `other` to `self`, exactly (counts saturate rather than overflow: a damaged
    /// shard file cannot make a merge panic).
    pub fn merge(&mut self, other: &GroupStats) {
        fn add(a: &mut u64, b: u64) {
            *a = a.saturating_add(b);
        }
        add(&mut self.count, other.count);
        add(&mut self.successes, other.successes);
        for (k, v) in &other.outcomes {
            add(self.outcomes.entry(k.clone()).or_default(), *v);
        }
        self.latency.merge(&other.latency);
        self.service.merge(&other.service);
        for (k, v) in &other.agent_usage {
            add(self.agent_usage.entry(k.clone()).or_default(), *v);
        }
        add(&mut self.routing.checked, other.routing.checked);
        add(&mut self.routing.correct, other.routing.correct);
        add(
            &mut self.first_attempt_failures,
            other.first_attempt_failures,
        );
        self.ttft.merge(&other.ttft);
        self.itl.merge(&other.itl);
        self.tpot.merge(&other.tpot);
        add(&mut self.output_tokens, other.output_tokens);
        add(&mut self.token_counted, other.token_counted);
    }

    /// Samples whose outcome is not `ok`.
    pub fn failures(&self) -> u64 {
        self.count.saturating_sub(self.successes)
    }

    /// Samples with the given outcome label.
    pub fn outcome_count(&self, label: &str) -> u64 {
        self.outcomes.get(label).copied().unwrap_or(0)
    }

    /// `successes / count`, 0 when empty.
    pub fn success_rate(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.successes as f64 / self.count as f64
        }
    }

    /// The figures shown in summaries; `wall_time_s` gives throughput.
    pub fn summary(&self, wall_time_s: f64) -> GroupSummary {
        let sent = self.count.saturating_sub(self.outcome_count("dropped"));
        GroupSummary {
            count: self.count,
            successes: self.successes,
            failures: self.failures(),
            success_rate: self.success_rate(),
            throughput_per_s: if wall_time_s > 0.0 {
                sent as f64 / wall_time_s
            } else {
                0.0
            },
            latency: self.latency.summary(),
            service: self.service.summary(),
            routing_accuracy: self.routing.accuracy(),
            outcomes: self.outcomes.clone(),
            ttft: (!self.ttft.is_empty()).then(|| self.ttft.summary()),
            itl: (!self.itl.is_empty()).then(|| self.itl.summary()),
            tpot: (!self.tpot.is_empty()).then(|| self.tpot.summary()),
            output_tokens_per_s: (self.token_counted > 0 && wall_time_s > 0.0)
                .then(|| self.output_tokens as f64 / wall_time_s),
        }
    }

    /// Whether any answer in the group was streamed (has a time to first token).
    pub fn is_streaming(&self) -> bool {
        !self.ttft.is_empty()
    }
}

/// The summary figures of a [`GroupStats`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// Samples.
    pub count: u64,
    /// Successful samples.
    pub successes: u64,
    /// Failed samples.
    pub failures: u64,
    /// `successes / count`.
    pub success_rate: f64,
    /// Queries sent per second of wall time.
    pub throughput_per_s: f64,
    /// Latency from the intended start.
    pub latency: LatencySummary,
    /// Service time from the actual start.
    pub service: LatencySummary,
    /// Share of answered queries routed to their expected agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_accuracy: Option<f64>,
    /// Samples per outcome label.
    pub outcomes: BTreeMap<String, u64>,
    /// Time to first token, when answers were streamed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft: Option<LatencySummary>,
    /// Inter-token latency (each streamed answer's mean gap), when answers were streamed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl: Option<LatencySummary>,
    /// Time per output token after the first, when token counts and streams were known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot: Option<LatencySummary>,
    /// Output tokens per second of wall time (all answers' tokens together), when token
    /// counts were known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens_per_s: Option<f64>,
}

/// How well the runner kept its schedule: late starts and drops are reported, not hidden.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScheduleStats {
    /// Queries whose actual start lagged the intended one by more than
    /// [`ScheduleStats::LATE_THRESHOLD_US`].
    pub late_starts: u64,
    /// Arrivals dropped at the in-flight cap or cancelled before starting.
    pub dropped: u64,
    /// Start lag of the sent queries (actual minus intended start).
    #[serde(serialize_with = "LatencyHistogram::serialize_v2")]
    pub start_lag: LatencyHistogram,
}

impl ScheduleStats {
    /// A start more than this many microseconds after its intended time is late.
    pub const LATE_THRESHOLD_US: u64 = 2_000;

    /// Folds one sample in.
    pub fn record(&mut self, s: &Sample) {
        if s.outcome == Outcome::Dropped {
            self.dropped += 1;
            return;
        }
        self.start_lag.record_micros(s.start_lag_us);
        if s.start_lag_us > Self::LATE_THRESHOLD_US {
            self.late_starts += 1;
        }
    }

    /// Adds another shard's figures.
    pub fn merge(&mut self, other: &ScheduleStats) {
        self.late_starts = self.late_starts.saturating_add(other.late_starts);
        self.dropped = self.dropped.saturating_add(other.dropped);
        self.start_lag.merge(&other.start_lag);
    }
}

/// How a phase ended; serialized as `completed`, `skipped`, `failed` or `interrupted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseStatus {
    /// It ran to its end.
    Completed,
    /// It was turned off in the configuration.
    Skipped,
    /// It ran, and what it checked failed.
    Failed,
    /// It was stopped by a cancellation (Ctrl-C, SIGTERM, a budget).
    Interrupted,
}

impl PhaseStatus {
    /// The stable name: `completed`, `skipped`, `failed` or `interrupted`.
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseStatus::Completed => "completed",
            PhaseStatus::Skipped => "skipped",
            PhaseStatus::Failed => "failed",
            PhaseStatus::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Display for PhaseStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The timing of one orchestrator phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseTiming {
    /// Phase number as in the original suite (1 content analysis ... 6 regression testing).
    pub number: u8,
    /// Phase name.
    pub name: String,
    /// Seconds taken.
    pub seconds: f64,
    /// How the phase ended.
    pub status: PhaseStatus,
    /// One line on what happened.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// Everything one run measured. Built incrementally from samples (memory does not grow
/// with the number of queries), merged exactly across shards, and serialized as the
/// machine-readable result file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// [`RUN_RESULT_FORMAT_VERSION`].
    pub format_version: u32,
    /// Identifier of the run (also its report directory name).
    pub run_id: String,
    /// Start time, RFC 3339.
    pub started_at: String,
    /// Wall time of the execution phase, seconds.
    pub wall_time_s: f64,
    /// `true` when the run was cut short (cancellation, budget); the figures cover what ran.
    pub interrupted: bool,
    /// The target under test.
    pub target: TargetInfo,
    /// Phase timings, in order.
    #[serde(default)]
    pub phases: Vec<PhaseTiming>,
    /// All samples.
    pub overall: GroupStats,
    /// Per agent that answered (the expected agent for queries nothing answered).
    pub per_agent: BTreeMap<String, GroupStats>,
    /// Per query category.
    pub per_category: BTreeMap<String, GroupStats>,
    /// Per scenario.
    pub per_scenario: BTreeMap<String, GroupStats>,
    /// A few failing samples per outcome and category, for error analysis.
    #[serde(default)]
    pub failure_examples: Vec<Sample>,
    /// Latency, throughput and errors over time.
    #[serde(default)]
    pub timeline: Timeline,
    /// How well the schedule was kept.
    #[serde(default)]
    pub schedule: ScheduleStats,
    /// Peak resource use.
    #[serde(default)]
    pub resource_peaks: ResourcePeaks,
    /// Resource monitor readings, one per `monitoring_interval`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceSample>,
    /// The database content the queries were drawn from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentProfile>,
    /// Comparison with a baseline, when one was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    /// Named checks: critical paths, gate checks, robustness classes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckResult>,
    /// Trends over the run history.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trends: Vec<TrendSeries>,
    /// Where each trend series with an objective is heading: when, at its current slope,
    /// it crosses the objective, or why that cannot be said (`docs/capacity.md`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forecasts: Vec<crate::record::TrendForecast>,
    /// Where the run was recorded and the trends read from: a file path, or a database URL
    /// without user name or password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<String>,
    /// Settings of the run (the effective configuration), for reports.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub config: serde_json::Value,
    /// Remarks a reader must know to trust the figures (reduced scale, saturated harness).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Goodput counters (see [`crate::record::Slos`] for the rule); `None` when the run was not
    /// set up to count them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput: Option<GoodputTally>,
    /// Agent names and categories past [`MAX_TRACKED_NAMES`], counted under [`OTHER`].
    #[serde(default, skip_serializing_if = "FoldedNames::is_empty")]
    pub folded: FoldedNames,
    /// The shard of a distributed test this result covers, when it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// How the shards of a distributed test were merged into this result, when they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeInfo>,
    /// What the fake Discord saw of a Discord bot: typing, messages and edits, 429s, the
    /// event loop. Only for a discord target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discord: Option<crate::discord::DiscordSummary>,
}

/// Distinct names counted more than this are not told apart any more: the count stops.
const MAX_FOLDED_COUNTED: usize = 100_000;

/// How many distinct agent names and categories were folded into [`OTHER`] because a run
/// already tracked [`MAX_TRACKED_NAMES`] of them (a bot that names a new agent in every
/// answer would otherwise grow every report and the history without bound).
///
/// Counts are exact up to 100,000 distinct names each and stop there. Two results compare
/// equal when their counts do.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FoldedNames {
    /// Distinct agent names folded.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub agents: u64,
    /// Distinct categories folded.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub categories: u64,
    /// Hashes of the folded names, to count each once (not stored).
    #[serde(skip)]
    agent_seen: BTreeSet<u64>,
    #[serde(skip)]
    category_seen: BTreeSet<u64>,
}

impl PartialEq for FoldedNames {
    fn eq(&self, other: &Self) -> bool {
        self.agents == other.agents && self.categories == other.categories
    }
}

impl FoldedNames {
    /// Whether nothing was folded.
    pub fn is_empty(&self) -> bool {
        self.agents == 0 && self.categories == 0
    }

    fn note(seen: &mut BTreeSet<u64>, count: &mut u64, name: &str) {
        if seen.len() >= MAX_FOLDED_COUNTED {
            return;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        name.hash(&mut h);
        if seen.insert(h.finish()) {
            *count = (*count).max(seen.len() as u64);
        }
    }

    fn merge(&mut self, other: &FoldedNames) {
        for (seen, count, theirs, their_count) in [
            (
                &mut self.agent_seen,
                &mut self.agents,
                &other.agent_seen,
                other.agents,
            ),
            (
                &mut self.category_seen,
                &mut self.categories,
                &other.category_seen,
                other.categories,
            ),
        ] {
            for h in theirs {
                if seen.len() >= MAX_FOLDED_COUNTED {
                    break;
                }
                seen.insert(*h);
            }
            *count = (*count).max(their_count).max(seen.len() as u64);
        }
    }
}

impl RunResult {
    /// An empty result.
    pub fn new(
        run_id: impl Into<String>,
        started_at: impl Into<String>,
        target: TargetInfo,
    ) -> Self {
        Self {
            format_version: RUN_RESULT_FORMAT_VERSION,
            run_id: run_id.into(),
            started_at: started_at.into(),
            wall_time_s: 0.0,
            interrupted: false,
            target,
            phases: Vec::new(),
            overall: GroupStats::default(),
            per_agent: BTreeMap::new(),
            per_category: BTreeMap::new(),
            per_scenario: BTreeMap::new(),
            failure_examples: Vec::new(),
            timeline: Timeline::default(),
            schedule: ScheduleStats::default(),
            resource_peaks: ResourcePeaks::default(),
            resources: Vec::new(),
            content: None,
            comparison: None,
            checks: Vec::new(),
            trends: Vec::new(),
            forecasts: Vec::new(),
            history: None,
            config: serde_json::Value::Null,
            notes: Vec::new(),
            folded: FoldedNames::default(),
            goodput: None,
            shard: None,
            merge: None,
            discord: None,
        }
    }

    /// Whether `agent` gets a group of its own: it has one already, there is room for one
    /// more, or it is the agent the query was meant for (those come from the
    /// configuration, not from the bot).
    fn keeps_agent(&self, agent: &str, expected: Option<&str>) -> bool {
        self.per_agent.contains_key(agent)
            || self.per_agent.len() < MAX_TRACKED_NAMES
            || expected == Some(agent)
    }

    fn keeps_category(&self, category: &str) -> bool {
        self.per_category.contains_key(category) || self.per_category.len() < MAX_TRACKED_NAMES
    }

    /// The name `agent` is counted under ([`OTHER`] once the run tracks
    /// [`MAX_TRACKED_NAMES`] agents), noting a fold.
    fn agent_key<'a>(&mut self, agent: &'a str, expected: Option<&str>) -> &'a str {
        if self.keeps_agent(agent, expected) {
            agent
        } else {
            let f = &mut self.folded;
            FoldedNames::note(&mut f.agent_seen, &mut f.agents, agent);
            OTHER
        }
    }

    fn category_key<'a>(&mut self, category: &'a str) -> &'a str {
        if self.keeps_category(category) {
            category
        } else {
            let f = &mut self.folded;
            FoldedNames::note(&mut f.category_seen, &mut f.categories, category);
            OTHER
        }
    }

    /// Folds one sample into every group it belongs to. Agent names and categories past
    /// [`MAX_TRACKED_NAMES`] are counted under [`OTHER`] (see [`FoldedNames`]).
    pub fn record(&mut self, s: &Sample) {
        let agent = s
            .agent
            .as_deref()
            .map(|a| self.agent_key(a, s.expected_agent.as_deref()));
        let category = self.category_key(&s.category);
        if agent == s.agent.as_deref() && category == s.category {
            self.record_tracked(s);
        } else {
            let folded = Sample {
                agent: agent.map(str::to_owned),
                category: category.to_owned(),
                ..s.clone()
            };
            self.record_tracked(&folded);
        }
    }

    /// Adds `g`, the stats of answered queries of one (category, scenario, expected agent,
    /// agent) class, to every group, folding names like [`record`](Self::record) does.
    /// Timeline and schedule are the caller's to record.
    pub fn record_group(
        &mut self,
        agent: Option<&str>,
        expected_agent: Option<&str>,
        category: &str,
        scenario: &str,
        g: &GroupStats,
    ) {
        let kept = agent.map(|a| self.agent_key(a, expected_agent));
        let g = match (agent, kept) {
            (Some(a), Some(k)) if a != k => Cow::Owned(rename_agent(g, a, k)),
            _ => Cow::Borrowed(g),
        };
        let category = self.category_key(category);
        self.overall.merge(&g);
        let agent_key = kept.or(expected_agent).unwrap_or("unrouted");
        group(&mut self.per_agent, agent_key).merge(&g);
        group(&mut self.per_category, category).merge(&g);
        group(&mut self.per_scenario, scenario).merge(&g);
    }

    fn record_tracked(&mut self, s: &Sample) {
        self.overall.record(s);
        let agent = s
            .agent
            .as_deref()
            .or(s.expected_agent.as_deref())
            .unwrap_or("unrouted");
        group(&mut self.per_agent, agent).record(s);
        group(&mut self.per_category, &s.category).record(s);
        group(&mut self.per_scenario, &s.scenario).record(s);
        self.timeline.record(s);
        self.schedule.record(s);
        if let Some(g) = &mut self.goodput {
            g.record(s);
        }
        if !s.outcome.is_success() && self.failure_examples.len() < MAX_EXAMPLES {
            let same = self
                .failure_examples
                .iter()
                .filter(|e| e.outcome == s.outcome && e.category == s.category)
                .count();
            if same < EXAMPLES_PER_KEY {
                self.failure_examples.push(s.clone());
            }
        }
    }

    /// Adds another shard's result: histograms and counts merge exactly; wall time is the
    /// longest shard's.
    pub fn merge(&mut self, other: &RunResult) {
        self.folded.merge(&other.folded);
        // Agents first: they decide which names of every group's `agent_usage` are kept.
        for (k, v) in &other.per_agent {
            let key = self.agent_key(k, None);
            group(&mut self.per_agent, key);
            let v = self.fold_usage(v);
            group(&mut self.per_agent, key).merge(&v);
        }
        for (k, v) in &other.per_category {
            let key = self.category_key(k);
            let v = self.fold_usage(v);
            group(&mut self.per_category, key).merge(&v);
        }
        for (k, v) in &other.per_scenario {
            let v = self.fold_usage(v);
            group(&mut self.per_scenario, k).merge(&v);
        }
        let overall = self.fold_usage(&other.overall);
        self.overall.merge(&overall);
        self.timeline.merge(&other.timeline);
        self.schedule.merge(&other.schedule);
        match (&mut self.goodput, &other.goodput) {
            (Some(mine), Some(theirs)) => mine.merge(theirs),
            (None, Some(theirs)) => self.goodput = Some(theirs.clone()),
            _ => {}
        }
        if let Some(theirs) = &other.discord {
            self.discord
                .get_or_insert_with(Default::default)
                .merge(theirs);
        }
        self.wall_time_s = self.wall_time_s.max(other.wall_time_s);
        self.interrupted |= other.interrupted;
        let room = MAX_EXAMPLES.saturating_sub(self.failure_examples.len());
        self.failure_examples
            .extend(other.failure_examples.iter().take(room).cloned());
    }

    /// The headline figures: the original suite's summary plus routing accuracy.
    pub fn summary(&self) -> RunSummary {
        let w = self.wall_time_s;
        let answered: u64 = self.overall.agent_usage.values().sum();
        RunSummary {
            overall: self.overall.summary(w),
            agent_distribution: self
                .overall
                .agent_usage
                .iter()
                .map(|(k, v)| (k.clone(), *v as f64 / answered.max(1) as f64))
                .collect(),
            per_agent: self
                .per_agent
                .iter()
                .map(|(k, g)| (k.clone(), g.summary(w)))
                .collect(),
            per_category: self
                .per_category
                .iter()
                .map(|(k, g)| (k.clone(), g.summary(w)))
                .collect(),
            per_scenario: self
                .per_scenario
                .iter()
                .map(|(k, g)| (k.clone(), g.summary(w)))
                .collect(),
        }
    }
}

impl RunResult {
    /// `g` with every agent this result does not track counted under [`OTHER`].
    fn fold_usage<'a>(&self, g: &'a GroupStats) -> Cow<'a, GroupStats> {
        if g.agent_usage.keys().all(|k| self.per_agent.contains_key(k)) {
            return Cow::Borrowed(g);
        }
        let mut g = g.clone();
        let usage = std::mem::take(&mut g.agent_usage);
        for (k, n) in usage {
            let key = if self.per_agent.contains_key(&k) {
                k
            } else {
                OTHER.to_owned()
            };
            *g.agent_usage.entry(key).or_default() += n;
        }
        Cow::Owned(g)
    }
}

/// `g` with its usage of agent `from` counted under `to`.
fn rename_agent(g: &GroupStats, from: &str, to: &str) -> GroupStats {
    let mut g = g.clone();
    if let Some(n) = g.agent_usage.remove(from) {
        *g.agent_usage.entry(to.to_owned()).or_default() += n;
    }
    g
}

fn group<'a>(map: &'a mut BTreeMap<String, GroupStats>, key: &str) -> &'a mut GroupStats {
    // Avoids allocating the key on the hot path once the group exists.
    if !map.contains_key(key) {
        map.insert(key.to_owned(), GroupStats::default());
    }
    map.get_mut(key)
        .unwrap_or_else(|| unreachable!("inserted above"))
}

/// The summary of a run, per group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// All samples.
    pub overall: GroupSummary,
    /// Share of answered queries per agent.
    pub agent_distribution: BTreeMap<String, f64>,
    /// Per agent.
    pub per_agent: BTreeMap<String, GroupSummary>,
    /// Per category.
    pub per_category: BTreeMap<String, GroupSummary>,
    /// Per scenario.
    pub per_scenario: BTreeMap<String, GroupSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn sample(id: u32, agent: &str, expected: &str, outcome: Outcome, latency_us: u64) -> Sample {
        Sample {
            expected_agent: Some(expected.into()),
            agent: (!agent.is_empty()).then(|| agent.to_owned()),
            ..Sample::new(format!("q{id}"), "standard", expected, outcome, latency_us)
        }
    }

    /// Issue #28 item 2: counts from a damaged shard file (near `u64::MAX`, successes
    /// above the count) saturate instead of overflowing, in a merge and in a summary.
    #[test]
    fn hostile_counts_saturate_instead_of_panicking() {
        let mut a = RunResult::new("a", "t", TargetInfo::default());
        a.overall.count = u64::MAX - 1;
        a.overall.successes = u64::MAX;
        a.overall.outcomes.insert("dropped".into(), u64::MAX);
        a.schedule.dropped = u64::MAX;
        let b = a.clone();
        a.merge(&b);
        assert_eq!(a.overall.count, u64::MAX);
        assert_eq!(a.schedule.dropped, u64::MAX);
        assert_eq!(a.overall.failures(), 0);
        assert_eq!(a.summary().overall.throughput_per_s, 0.0);
    }

    #[test]
    fn a_run_result_stores_every_histogram_in_the_v2_form_and_reads_format_1() {
        let mut r = RunResult::new("r1", "2026-01-01T00:00:00Z", TargetInfo::default());
        for i in 0..50u32 {
            let mut s = sample(i, "a", "a", Outcome::Ok, 1000 + u64::from(i) * 37);
            s.ttft_us = Some(300 + u64::from(i));
            s.start_lag_us = u64::from(i);
            r.record(&s);
        }
        let v = serde_json::to_value(&r).unwrap();
        for path in [
            "/overall/latency",
            "/overall/service",
            "/overall/ttft",
            "/per_agent/a/latency",
            "/schedule/start_lag",
            "/timeline/buckets/0/latency",
        ] {
            let h = v.pointer(path).unwrap_or_else(|| panic!("{path} missing"));
            assert!(h.is_string(), "{path}: {h}");
        }
        let back: RunResult = serde_json::from_value(v).unwrap();
        assert_eq!(back.overall, r.overall);
        assert_eq!(back.schedule, r.schedule);
        // A format-1 file (bucket lists) reads to the same figures.
        let mut old = serde_json::to_value(&r).unwrap();
        let lists = serde_json::to_value(&r.overall.latency).unwrap();
        assert!(lists.is_array());
        old["overall"]["latency"] = lists;
        old["format_version"] = 1.into();
        let back: RunResult = serde_json::from_value(old).unwrap();
        assert_eq!(back.overall.latency, r.overall.latency);
    }

    #[test]
    fn summary_counts_routing_and_failures() {
        let mut r = RunResult::new("r1", "2026-01-01T00:00:00Z", TargetInfo::default());
        r.record(&sample(1, "a", "a", Outcome::Ok, 1000));
        r.record(&sample(2, "b", "a", Outcome::Ok, 3000));
        r.record(&sample(3, "", "b", Outcome::Error(ErrorKind::Bot), 500));
        r.record(&sample(4, "", "b", Outcome::Dropped, 0));
        r.wall_time_s = 2.0;
        let s = r.summary();
        assert_eq!(s.overall.count, 4);
        assert_eq!(s.overall.successes, 2);
        assert_eq!(
            s.overall.latency.count, 3,
            "dropped samples have no latency"
        );
        assert_eq!(s.overall.throughput_per_s, 1.5);
        assert_eq!(s.overall.routing_accuracy, Some(0.5));
        assert_eq!(s.agent_distribution["a"], 0.5);
        assert_eq!(
            s.per_agent["b"].count, 3,
            "unanswered queries count under their expected agent"
        );
        assert_eq!(s.overall.outcomes["error:bot"], 1);
        assert_eq!(r.failure_examples.len(), 2);
    }

    #[test]
    fn merging_shards_equals_one_run() {
        let samples: Vec<Sample> = (0..300)
            .map(|i| {
                let outcome = if i % 7 == 0 {
                    Outcome::Timeout
                } else {
                    Outcome::Ok
                };
                sample(
                    i,
                    ["a", "b", "c"][i as usize % 3],
                    "a",
                    outcome,
                    1000 + u64::from(i) * 13,
                )
            })
            .collect();
        let mut whole = RunResult::new("r", "t", TargetInfo::default());
        let mut left = whole.clone();
        let mut right = whole.clone();
        for (i, s) in samples.iter().enumerate() {
            whole.record(s);
            if i % 2 == 0 {
                left.record(s)
            } else {
                right.record(s)
            }
        }
        left.merge(&right);
        assert_eq!(left.overall, whole.overall);
        assert_eq!(left.per_agent, whole.per_agent);
        assert_eq!(left.per_category, whole.per_category);
    }

    /// A bot naming a new agent in every answer: past the cap, names are counted under
    /// `other` and the fold is counted, in one run and across merged shards alike.
    #[test]
    fn agent_names_past_the_cap_fold_into_other() {
        let mut whole = RunResult::new("r", "t", TargetInfo::default());
        let mut left = whole.clone();
        let mut right = whole.clone();
        for i in 0..(MAX_TRACKED_NAMES as u32 + 50) {
            let s = sample(i, &format!("agent-{i}"), "a", Outcome::Ok, 1000);
            whole.record(&s);
            if i % 2 == 0 {
                left.record(&s);
            } else {
                right.record(&s);
            }
        }
        // The expected agent keeps its own group even past the cap.
        whole.record(&sample(9999, "a", "a", Outcome::Ok, 1000));
        assert_eq!(whole.per_agent.len(), MAX_TRACKED_NAMES + 2);
        assert_eq!(whole.per_agent[OTHER].count, 50);
        assert_eq!(whole.per_agent["a"].routing.correct, 1);
        assert_eq!(whole.folded.agents, 50);
        assert_eq!(whole.overall.agent_usage.len(), MAX_TRACKED_NAMES + 2);
        assert_eq!(whole.overall.agent_usage[OTHER], 50);
        left.merge(&right);
        assert_eq!(left.per_agent.len(), MAX_TRACKED_NAMES + 1);
        assert_eq!(left.per_agent[OTHER].count, 50);
        assert_eq!(left.overall.count, MAX_TRACKED_NAMES as u64 + 50);
        assert_eq!(left.overall.agent_usage.len(), MAX_TRACKED_NAMES + 1);
        assert_eq!(left.folded.agents, 50);
        let json = serde_json::to_value(&whole).unwrap();
        assert_eq!(json["folded"]["agents"], 50);
    }

    #[test]
    fn categories_past_the_cap_fold_into_other() {
        let mut r = RunResult::new("r", "t", TargetInfo::default());
        for i in 0..(MAX_TRACKED_NAMES as u32 + 10) {
            r.record(&sample(i, "", &format!("c{i}"), Outcome::Timeout, 10));
        }
        assert_eq!(r.per_category.len(), MAX_TRACKED_NAMES + 1);
        assert_eq!(r.per_category[OTHER].count, 10);
        assert_eq!(r.folded.categories, 10);
    }

    #[test]
    fn result_round_trips_through_json() {
        let mut r = RunResult::new("r1", "t", TargetInfo::default());
        r.record(&sample(1, "a", "a", Outcome::FailedExpectation, 1234));
        let json = serde_json::to_string(&r).unwrap();
        let back: RunResult = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }
}
