//! Scenario files: custom scenarios in JSON, without code (format in `docs/scenarios.md`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use perf_core::{
    Arrival, ClosedLoop, ContentProfile, Expectation, LoadProfile, OpenLoop, Query, Scenario,
    ScenarioInfo, SplitMix64, Stage, StressLevel,
};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::stress::ScenarioKind;
use crate::SynthError;

/// The scenario-file format version this crate reads.
pub const SCENARIO_FILE_FORMAT_VERSION: u32 = 1;

/// Most times one query entry may be repeated.
const MAX_REPEAT: u32 = 10_000;
/// Most queries one scenario file may make, repeats counted.
pub const MAX_FILE_QUERIES: u64 = 1_000_000;
/// Most bytes the queries of one scenario file may take once made, repeats counted (each
/// query's entry as written, its id and the file's default expectations): a 10 MB file of
/// 100 KB texts repeated 10,000 times would otherwise ask for 100 GB.
pub const MAX_FILE_QUERY_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc<'a> {
    format_version: u32,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default = "custom_kind")]
    kind: ScenarioKind,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    expected_challenges: Vec<String>,
    #[serde(default = "low")]
    stress_level: StressLevel,
    #[serde(default, borrow)]
    load: Option<&'a RawValue>,
    #[serde(default)]
    expectations: Vec<Expectation>,
    #[serde(borrow)]
    queries: Vec<&'a RawValue>,
}

fn custom_kind() -> ScenarioKind {
    ScenarioKind::Custom
}

fn low() -> StressLevel {
    StressLevel::Low
}

/// One entry of `queries`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuerySpec {
    #[serde(default)]
    id: Option<String>,
    text: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    expected_agent: Option<String>,
    #[serde(default)]
    expectations: Vec<Expectation>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default = "one")]
    repeat: u32,
}

fn one() -> u32 {
    1
}

fn default_in_flight() -> usize {
    32
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StageSpec {
    duration: f64,
    start_rate: f64,
    end_rate: f64,
}

/// The `load` object: the perf-core constructors by name.
#[derive(Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
enum LoadSpec {
    Closed {
        users: usize,
        #[serde(default)]
        think_time: f64,
        #[serde(default)]
        rate_limit_per_second: Option<f64>,
        #[serde(default)]
        duration: Option<f64>,
    },
    Constant {
        rate: f64,
        duration: f64,
        #[serde(default = "default_in_flight")]
        max_in_flight: usize,
        #[serde(default)]
        arrival: Arrival,
    },
    Ramp {
        from: f64,
        to: f64,
        duration: f64,
        #[serde(default = "default_in_flight")]
        max_in_flight: usize,
        #[serde(default)]
        arrival: Arrival,
    },
    Spike {
        base: f64,
        peak: f64,
        duration: f64,
        spike_duration: f64,
        #[serde(default = "default_in_flight")]
        max_in_flight: usize,
        #[serde(default)]
        arrival: Arrival,
    },
    Step {
        from: f64,
        to: f64,
        steps: usize,
        duration: f64,
        #[serde(default = "default_in_flight")]
        max_in_flight: usize,
        #[serde(default)]
        arrival: Arrival,
    },
    Stages {
        stages: Vec<StageSpec>,
        #[serde(default = "default_in_flight")]
        max_in_flight: usize,
        #[serde(default)]
        arrival: Arrival,
    },
}

fn with_arrival(p: LoadProfile, arrival: Arrival) -> LoadProfile {
    match p {
        LoadProfile::Open(o) => LoadProfile::Open(OpenLoop { arrival, ..o }),
        closed => closed,
    }
}

/// Longest duration a scenario file may ask for (a week), so scaling stays in range.
const MAX_SECONDS: f64 = 604_800.0;
/// Largest rate, user count, in-flight cap or step count a scenario file may ask for.
const MAX_COUNT: f64 = 100_000.0;

impl LoadSpec {
    /// Keeps numbers in a range the runner and `LoadProfile` handle (rates finite, counts
    /// that fit, at least one step).
    fn check_limits(&self) -> Result<(), (String, String)> {
        let check = |field: &str, v: f64, min: f64| {
            if v.is_finite() && v >= min && v <= MAX_COUNT {
                Ok(())
            } else {
                Err((
                    field.to_owned(),
                    format!("{v} is out of range; use {min} to {MAX_COUNT}"),
                ))
            }
        };
        match self {
            LoadSpec::Closed {
                users,
                rate_limit_per_second,
                ..
            } => {
                check("users", *users as f64, 1.0)?;
                if let Some(r) = rate_limit_per_second {
                    check("rate_limit_per_second", *r, f64::MIN_POSITIVE)?;
                }
            }
            LoadSpec::Constant {
                rate,
                max_in_flight,
                ..
            } => {
                check("rate", *rate, f64::MIN_POSITIVE)?;
                check("max_in_flight", *max_in_flight as f64, 1.0)?;
            }
            LoadSpec::Ramp {
                from,
                to,
                max_in_flight,
                ..
            } => {
                check("from", *from, 0.0)?;
                check("to", *to, 0.0)?;
                check("max_in_flight", *max_in_flight as f64, 1.0)?;
            }
            LoadSpec::Spike {
                base,
                peak,
                max_in_flight,
                ..
            } => {
                check("base", *base, 0.0)?;
                check("peak", *peak, f64::MIN_POSITIVE)?;
                check("max_in_flight", *max_in_flight as f64, 1.0)?;
            }
            LoadSpec::Step {
                from,
                to,
                steps,
                max_in_flight,
                ..
            } => {
                check("from", *from, 0.0)?;
                check("to", *to, 0.0)?;
                check("steps", *steps as f64, 1.0)?;
                check("max_in_flight", *max_in_flight as f64, 1.0)?;
            }
            LoadSpec::Stages {
                stages,
                max_in_flight,
                ..
            } => {
                for (i, s) in stages.iter().enumerate() {
                    check(&format!("stages[{i}].start_rate"), s.start_rate, 0.0)?;
                    check(&format!("stages[{i}].end_rate"), s.end_rate, 0.0)?;
                }
                check("max_in_flight", *max_in_flight as f64, 1.0)?;
            }
        }
        Ok(())
    }

    fn build(self) -> Result<LoadProfile, (String, String)> {
        let d = |field: &str, secs: f64| {
            Duration::try_from_secs_f64(secs)
                .ok()
                .filter(|d| !d.is_zero() || field == "think_time")
                .filter(|d| d.as_secs_f64() <= MAX_SECONDS)
                .ok_or_else(|| {
                    (
                        field.to_owned(),
                        format!(
                            "{secs} is not a number of seconds above 0 and at most {MAX_SECONDS}"
                        ),
                    )
                })
        };
        self.check_limits()?;
        Ok(match self {
            LoadSpec::Closed {
                users,
                think_time,
                rate_limit_per_second,
                duration,
            } => LoadProfile::Closed(ClosedLoop {
                users,
                think_time: d("think_time", think_time)?,
                rate_limit_per_second,
                duration: duration.map(|s| d("duration", s)).transpose()?,
            }),
            LoadSpec::Constant {
                rate,
                duration,
                max_in_flight,
                arrival,
            } => with_arrival(
                LoadProfile::constant(rate, d("duration", duration)?, max_in_flight),
                arrival,
            ),
            LoadSpec::Ramp {
                from,
                to,
                duration,
                max_in_flight,
                arrival,
            } => with_arrival(
                LoadProfile::ramp(from, to, d("duration", duration)?, max_in_flight),
                arrival,
            ),
            LoadSpec::Spike {
                base,
                peak,
                duration,
                spike_duration,
                max_in_flight,
                arrival,
            } => with_arrival(
                LoadProfile::spike(
                    base,
                    peak,
                    d("duration", duration)?,
                    d("spike_duration", spike_duration)?,
                    max_in_flight,
                ),
                arrival,
            ),
            LoadSpec::Step {
                from,
                to,
                steps,
                duration,
                max_in_flight,
                arrival,
            } => with_arrival(
                LoadProfile::step(from, to, steps, d("duration", duration)?, max_in_flight),
                arrival,
            ),
            LoadSpec::Stages {
                stages,
                max_in_flight,
                arrival,
            } => {
                let mut out = Vec::with_capacity(stages.len());
                for (i, s) in stages.into_iter().enumerate() {
                    out.push(Stage {
                        duration: d(&format!("stages[{i}].duration"), s.duration)?,
                        start_rate: s.start_rate,
                        end_rate: s.end_rate,
                    });
                }
                LoadProfile::Open(OpenLoop {
                    stages: out,
                    arrival,
                    max_in_flight,
                })
            }
        })
    }
}

/// A scenario read from a JSON scenario file. Query texts and expectation strings may use
/// placeholders filled from the message database: `{top_channel}`, `{top_user}`,
/// `{top_term}`, `{total_messages}`, and `{channel}`, `{user}`, `{term}` (drawn with the
/// run's seed from the ten busiest channels and users and the ten most frequent terms).
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioFile {
    path: PathBuf,
    info: ScenarioInfo,
    kind: ScenarioKind,
    load: LoadProfile,
    queries: Vec<QuerySpec>,
    defaults: Vec<Expectation>,
}

/// Byte offset of `inner` inside `outer` (a sub-slice of it).
fn offset_in(outer: &str, inner: &str) -> usize {
    (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
}

/// Appends "did you mean `x`?" to serde's unknown-field message when a known field is close.
fn with_suggestion(message: String) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message;
    };
    let Some((unknown, expected)) = rest.split_once('`') else {
        return message;
    };
    match perf_core::closest_match(unknown, expected.split('`').skip(1).step_by(2)) {
        Some(k) => format!("{message}; did you mean `{k}`?"),
        None => message,
    }
}

impl ScenarioFile {
    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> Result<Self, SynthError> {
        let text = crate::read_text_limited(path, crate::MAX_SCENARIO_FILE_BYTES).map_err(|e| {
            SynthError::ScenarioFile {
                path: path.to_owned(),
                line: None,
                column: None,
                field: None,
                message: e.to_string(),
            }
        })?;
        Self::parse(&text, path)
    }

    /// Parses and checks scenario-file text; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, SynthError> {
        let err = |offset: Option<usize>, field: Option<String>, message: String| {
            let (line, column) = offset.map(|o| perf_core::line_col(text, o)).unzip();
            SynthError::ScenarioFile {
                path: path.to_owned(),
                line,
                column,
                field,
                message,
            }
        };
        // serde's line and column are relative to the text parsed; `base` is where that
        // text starts in the file.
        let serde_err = |base: usize, field: Option<String>, e: serde_json::Error| {
            let (bl, bc) = perf_core::line_col(text, base);
            // Line 0: serde buffered the value (tagged enums) and knows no position; the
            // start of the value is the best we have.
            let (line, column) = match e.line() {
                0 => (bl, bc),
                1 => (bl, bc + e.column().saturating_sub(1)),
                l => (bl + l - 1, e.column()),
            };
            let msg = e.to_string();
            // Drop serde's own " at line L column C": ours is in front.
            let msg = msg
                .rsplit_once(" at line ")
                .map_or(msg.as_str(), |(m, _)| m)
                .to_owned();
            SynthError::ScenarioFile {
                path: path.to_owned(),
                line: Some(line),
                column: Some(column),
                field,
                message: with_suggestion(msg),
            }
        };
        let doc: FileDoc<'_> = serde_json::from_str(text).map_err(|e| serde_err(0, None, e))?;
        if doc.format_version != SCENARIO_FILE_FORMAT_VERSION {
            return Err(err(
                text.find("\"format_version\""),
                Some("format_version".to_owned()),
                format!(
                    "version {} is not supported; this tool reads version {SCENARIO_FILE_FORMAT_VERSION}",
                    doc.format_version
                ),
            ));
        }
        if doc.name.trim().is_empty()
            || !doc
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(err(
                text.find("\"name\""),
                Some("name".to_owned()),
                format!(
                    "{:?} is not a scenario name; use letters, digits, `_` and `-` (it is a key in results and baselines)",
                    doc.name
                ),
            ));
        }
        let load = match doc.load {
            None => LoadProfile::closed(1, None),
            Some(raw) => {
                let base = offset_in(text, raw.get());
                let spec: LoadSpec = serde_json::from_str(raw.get())
                    .map_err(|e| serde_err(base, Some("load".to_owned()), e))?;
                let p = spec
                    .build()
                    .map_err(|(f, m)| err(Some(base), Some(format!("load.{f}")), m))?;
                p.validate("load")
                    .map_err(|e| err(Some(base), Some(e.key.clone()), e.message.clone()))?;
                p
            }
        };
        if doc.queries.is_empty() {
            return Err(err(
                text.find("\"queries\""),
                Some("queries".to_owned()),
                "a scenario needs at least one query".to_owned(),
            ));
        }
        let mut queries = Vec::with_capacity(doc.queries.len());
        let mut total: u64 = 0;
        // What the queries take once made: each is its entry (text, expectations, tags)
        // plus the file's default expectations and its id, once per repeat.
        let per_query_extra =
            serde_json::to_string(&doc.expectations).map_or(0, |t| t.len() as u64) + 64;
        let mut total_bytes: u64 = 0;
        for (i, raw) in doc.queries.iter().enumerate() {
            let base = offset_in(text, raw.get());
            let field = format!("queries[{i}]");
            let q: QuerySpec = serde_json::from_str(raw.get())
                .map_err(|e| serde_err(base, Some(field.clone()), e))?;
            if q.repeat == 0 || q.repeat > MAX_REPEAT {
                return Err(err(
                    Some(base),
                    Some(format!("{field}.repeat")),
                    format!("{} is out of range; use 1 to {MAX_REPEAT}", q.repeat),
                ));
            }
            total += u64::from(q.repeat);
            total_bytes = total_bytes.saturating_add(
                u64::from(q.repeat).saturating_mul(raw.get().len() as u64 + per_query_extra),
            );
            if total_bytes > MAX_FILE_QUERY_BYTES {
                return Err(err(
                    Some(base),
                    Some(format!("{field}.repeat")),
                    format!(
                        "the file's queries with their repeats pass {} MiB of text here; the queries are made up front, so use shorter texts, fewer entries or smaller repeats",
                        MAX_FILE_QUERY_BYTES >> 20
                    ),
                ));
            }
            if total > MAX_FILE_QUERIES {
                return Err(err(
                    Some(base),
                    Some(format!("{field}.repeat")),
                    format!(
                        "the file's queries with their repeats pass {MAX_FILE_QUERIES} here; the queries are made up front, so use fewer entries or smaller repeats"
                    ),
                ));
            }
            if q.expected_agent
                .as_deref()
                .is_some_and(|a| a.trim().is_empty())
            {
                return Err(err(
                    Some(base),
                    Some(format!("{field}.expected_agent")),
                    "is empty; omit it when no agent is expected".to_owned(),
                ));
            }
            queries.push(q);
        }
        Ok(Self {
            path: path.to_owned(),
            info: ScenarioInfo {
                name: doc.name,
                description: doc.description,
                tags: doc.tags,
                expected_challenges: doc.expected_challenges,
                stress_level: doc.stress_level,
            },
            kind: doc.kind,
            load,
            queries,
            defaults: doc.expectations,
        })
    }

    /// The scenario's name.
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// The kind the file declares (`custom` unless it says `stress` or `load`).
    pub fn kind(&self) -> ScenarioKind {
        self.kind
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Values for the placeholders of one run.
struct Placeholders {
    pairs: Vec<(&'static str, String)>,
}

impl Placeholders {
    fn new(c: &ContentProfile, rng: &mut SplitMix64) -> Self {
        let top = |v: Option<&str>, fallback: &str| v.unwrap_or(fallback).to_owned();
        let channels: Vec<&str> = c
            .channels
            .iter()
            .take(10)
            .map(|x| x.name.as_str())
            .collect();
        let users: Vec<&str> = c.users.iter().take(10).map(|x| x.name.as_str()).collect();
        let terms: Vec<&str> = c
            .top_terms
            .iter()
            .take(10)
            .map(|x| x.term.as_str())
            .collect();
        Self {
            pairs: vec![
                ("{top_channel}", top(channels.first().copied(), "general")),
                ("{top_user}", top(users.first().copied(), "alice")),
                ("{top_term}", top(terms.first().copied(), "project")),
                ("{total_messages}", c.total_messages.to_string()),
                ("{channel}", top(rng.pick(&channels).copied(), "general")),
                ("{user}", top(rng.pick(&users).copied(), "alice")),
                ("{term}", top(rng.pick(&terms).copied(), "project")),
            ],
        }
    }

    fn fill(&self, s: &str) -> String {
        if !s.contains('{') {
            return s.to_owned();
        }
        self.pairs
            .iter()
            .fold(s.to_owned(), |acc, (k, v)| acc.replace(k, v))
    }

    fn fill_expectation(&self, e: &Expectation) -> Expectation {
        match e {
            Expectation::AnswerContains { text } => Expectation::AnswerContains {
                text: self.fill(text),
            },
            Expectation::AnswerContainsAny { any_of } => Expectation::AnswerContainsAny {
                any_of: any_of.iter().map(|t| self.fill(t)).collect(),
            },
            Expectation::NoUnescapedEcho { payload } => Expectation::NoUnescapedEcho {
                payload: self.fill(payload),
            },
            Expectation::NoSecretDisclosure { markers } => Expectation::NoSecretDisclosure {
                markers: markers.iter().map(|t| self.fill(t)).collect(),
            },
            other => other.clone(),
        }
    }
}

impl Scenario for ScenarioFile {
    fn info(&self) -> ScenarioInfo {
        self.info.clone()
    }

    fn queries(&self, content: &ContentProfile, seed: u64) -> Vec<Query> {
        let name = &self.info.name;
        let mut rng = SplitMix64::derive(seed, name);
        let mut out = Vec::new();
        for (i, spec) in self.queries.iter().enumerate() {
            for r in 0..spec.repeat {
                // Placeholders are drawn afresh for every query, so repeats vary.
                let ph = Placeholders::new(content, &mut rng);
                let id = match (&spec.id, spec.repeat) {
                    (Some(id), 1) => id.clone(),
                    (Some(id), _) => format!("{id}-{r:04}"),
                    (None, 1) => format!("{name}-{i:04}"),
                    (None, _) => format!("{name}-{i:04}-{r:04}"),
                };
                let mut q = Query::new(
                    id,
                    ph.fill(&spec.text),
                    spec.category.clone().unwrap_or_else(|| name.clone()),
                )
                .with_scenario(name.clone());
                q.expected_agent = spec.expected_agent.clone();
                q.tags = spec.tags.clone();
                q.user_id = spec.user_id.as_deref().map(|u| ph.fill(u));
                q.channel = spec.channel.as_deref().map(|c| ph.fill(c));
                q.expectations = self
                    .defaults
                    .iter()
                    .chain(&spec.expectations)
                    .map(|e| ph.fill_expectation(e))
                    .collect();
                out.push(q);
            }
        }
        out
    }

    fn load_profile(&self) -> LoadProfile {
        self.load.clone()
    }
}

/// The `*.json` files directly in `dir`, sorted by name.
pub(crate) fn scenario_files_in(dir: &Path) -> Result<Vec<PathBuf>, SynthError> {
    let read_err = |source| SynthError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let p = entry.map_err(read_err)?.path();
        if p.is_file() && p.extension().is_some_and(|e| e == "json") {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ScenarioFile, String> {
        ScenarioFile::parse(text, Path::new("s.json")).map_err(|e| e.to_string())
    }

    #[test]
    fn the_queries_of_a_file_are_bounded_with_repeats_counted() {
        let entry = r#"{"text": "hi", "repeat": 10000}"#;
        let entries = vec![entry; 101].join(",");
        let e = parse(&format!(
            r#"{{"format_version": 1, "name": "big", "queries": [{entries}]}}"#
        ))
        .unwrap_err();
        assert!(
            e.contains("queries[100].repeat") && e.contains("1000000"),
            "{e}"
        );
        let entries = vec![entry; 100].join(",");
        parse(&format!(
            r#"{{"format_version": 1, "name": "big", "queries": [{entries}]}}"#
        ))
        .unwrap();
    }

    /// Issue #28: a 10 MB file of 100 KB texts repeated 10,000 times would make 100 GB of
    /// queries; it is refused at parse time naming the entry where the bound is passed.
    #[test]
    fn the_bytes_of_a_files_queries_are_bounded_too() {
        let text = "x".repeat(100_000);
        let entry = format!(r#"{{"text": "{text}", "repeat": 10000}}"#);
        let entries = vec![entry; 100].join(",");
        let e = parse(&format!(
            r#"{{"format_version": 1, "name": "big", "queries": [{entries}]}}"#
        ))
        .unwrap_err();
        assert!(
            e.contains("queries[0].repeat") && e.contains("256 MiB"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = parse(
            "{\n  \"format_version\": 1,\n  \"name\": \"x\",\n  \"queries\": [\n    {\"text\": \"hi\"},\n    {\"text\": \"a\", \"expectd_agent\": \"b\"}\n  ]\n}",
        )
        .unwrap_err();
        assert!(e.starts_with("s.json:6:"), "{e}");
        assert!(e.contains("`queries[1]`"), "{e}");
        assert!(e.contains("did you mean `expected_agent`?"), "{e}");

        let e = parse("{\"format_version\": 1, \"name\": \"x\", \"queries\": [], \"extra\": 1}")
            .unwrap_err();
        assert!(e.contains("unknown field `extra`"), "{e}");

        let e = parse(
            "{\"format_version\": 1, \"name\": \"x\",\n\"load\": {\"mode\": \"closed\", \"users\": 0},\n\"queries\": [{\"text\": \"a\"}]}",
        )
        .unwrap_err();
        assert!(e.starts_with("s.json:2:"), "{e}");
        assert!(e.contains("`load.users`"), "{e}");

        let e = parse(
            "{\"format_version\": 1, \"name\": \"x\",\n\"load\": {\"mode\": \"constant\", \"rate\": 2, \"duration\": 5, \"users\": 3},\n\"queries\": [{\"text\": \"a\"}]}",
        )
        .unwrap_err();
        assert!(e.contains("unknown field `users`"), "{e}");
        assert!(e.starts_with("s.json:2:"), "{e}");

        let e = parse("{\"format_version\": 2, \"name\": \"x\", \"queries\": [{\"text\": \"a\"}]}")
            .unwrap_err();
        assert!(e.contains("`format_version`"), "{e}");

        let e = parse("{\"format_version\": 1, \"name\": \"x\", \"queries\": [{\"text\": \"a\", \"repeat\": 0}]}")
            .unwrap_err();
        assert!(e.contains("`queries[0].repeat`"), "{e}");

        for load in [
            r#"{"mode": "step", "from": 1, "to": 2, "steps": 4294967296, "duration": 10}"#,
            r#"{"mode": "constant", "rate": 1e300, "duration": 10}"#,
            r#"{"mode": "constant", "rate": 5, "duration": 1e18}"#,
            r#"{"mode": "closed", "users": 2, "duration": -1}"#,
        ] {
            let e = parse(&format!(
                "{{\"format_version\": 1, \"name\": \"x\", \"load\": {load}, \"queries\": [{{\"text\": \"a\"}}]}}"
            ))
            .unwrap_err();
            assert!(e.contains("`load."), "{e}");
        }

        let e = parse("{\"format_version\": 1, \"name\": \"x\" \"queries\": []}").unwrap_err();
        assert!(e.starts_with("s.json:1:"), "{e}");
    }

    #[test]
    fn placeholders_are_filled_from_the_content() {
        let f = parse(
            r#"{"format_version": 1, "name": "p",
                "expectations": [{"type": "answer_not_empty"}],
                "queries": [{"text": "What does {top_user} say in #{top_channel}?",
                             "expectations": [{"type": "answer_contains", "text": "{top_user}"}],
                             "repeat": 2}]}"#,
        )
        .unwrap();
        let c = ContentProfile {
            users: vec![perf_core::UserStat {
                name: "zoe".into(),
                messages: 3,
            }],
            channels: vec![perf_core::ChannelStat {
                name: "dev".into(),
                messages: 3,
            }],
            ..ContentProfile::default()
        };
        let q = f.queries(&c, 1);
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].text, "What does zoe say in #dev?");
        assert_eq!(q[0].id, "p-0000-0000");
        assert_eq!(q[1].id, "p-0000-0001");
        assert_eq!(
            q[0].expectations,
            vec![
                Expectation::AnswerNotEmpty,
                Expectation::AnswerContains { text: "zoe".into() }
            ]
        );
        assert_eq!(f.load_profile(), LoadProfile::closed(1, None));
    }
}
