//! Questions files: a user's own questions for their own bot (issue #22), in JSON lines,
//! CSV or the scenario-file format, replacing the generated standard queries.
//!
//! The format is picked by the file's extension: `.jsonl` (one JSON object per line),
//! `.csv` (a header row naming the columns) or `.json` (a scenario file, `docs/scenarios.md`).
//! Every question has a `text` and may have an `id`, a `category`, an `expected_agent` and
//! expectations (`answer_contains`, `answer_regex`, `answer_json`); a question without
//! expectations is judged on being answered, not empty, in time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use perf_core::{AnswerPattern, ContentProfile, Expectation, Query, Scenario};
use serde::Deserialize;

use crate::{ScenarioFile, SynthError, STANDARD_SCENARIO};

/// The most questions one file may hold: they are read up front, so the cap bounds the
/// memory a run takes before its first query (a file of ten million lines stops here).
pub const MAX_QUESTIONS: usize = 100_000;

/// The largest questions file read, bytes (64 MiB).
pub const MAX_QUESTIONS_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The category of questions that name none.
pub const DEFAULT_QUESTION_CATEGORY: &str = "questions";

/// Characters an `id` or `category` may have at most (they are keys in reports).
const MAX_NAME_CHARS: usize = 200;

/// The columns (CSV) and keys (JSON lines) a question may have.
const KEYS: &[&str] = &[
    "text",
    "id",
    "category",
    "expected_agent",
    "answer_contains",
    "answer_regex",
    "answer_json",
    "answer_json_value",
];

/// A file's format, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    JsonLines,
    Csv,
    Scenario,
}

/// The questions of a questions file, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionSet {
    path: PathBuf,
    source: Source,
}

#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// JSON lines and CSV: the queries, made when the file was read.
    Made(Vec<Query>),
    /// A scenario file: its queries are made with the run's content (placeholders).
    Scenario(Box<ScenarioFile>),
}

/// `answer_contains`: one text or a list of texts, each of which must be in the answer.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// `answer_json`: a pointer, or `{"pointer": ..., "value": ...}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum JsonSpec {
    Pointer(String),
    Full(JsonFull),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonFull {
    pointer: String,
    #[serde(default)]
    value: Option<serde_json::Value>,
}

/// One line of a JSON-lines file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineSpec {
    text: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    expected_agent: Option<String>,
    #[serde(default)]
    answer_contains: Option<OneOrMany>,
    #[serde(default)]
    answer_regex: Option<String>,
    #[serde(default)]
    answer_json: Option<JsonSpec>,
}

/// A question as read, before it becomes a query.
struct Raw {
    text: String,
    id: Option<String>,
    category: Option<String>,
    expected_agent: Option<String>,
    contains: Vec<String>,
    regex: Option<String>,
    json: Option<(String, Option<serde_json::Value>)>,
}

/// An error at a place in the file: line, column (when known), field (when known).
struct At {
    line: usize,
    column: Option<usize>,
    field: Option<String>,
    message: String,
}

impl At {
    fn new(line: usize, field: &str, message: impl Into<String>) -> Self {
        Self {
            line,
            column: None,
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }
}

impl QuestionSet {
    /// Reads and checks a questions file (at most [`MAX_QUESTIONS_FILE_BYTES`] bytes and
    /// [`MAX_QUESTIONS`] questions); the format is picked by the extension.
    pub fn load(path: &Path) -> Result<Self, SynthError> {
        let format = format_of(path)?;
        if format == Format::Scenario {
            let file = ScenarioFile::load(path)?;
            return Self::from_scenario(path, file);
        }
        let text = crate::read_text_limited(path, MAX_QUESTIONS_FILE_BYTES).map_err(|e| {
            whole_file(
                path,
                format!("{e}; give a questions file (.jsonl, .csv or .json)"),
            )
        })?;
        Self::parse_as(&text, path, format)
    }

    /// Parses questions-file text; `path` names the file in errors and its extension
    /// picks the format.
    pub fn parse(text: &str, path: &Path) -> Result<Self, SynthError> {
        let format = format_of(path)?;
        if format == Format::Scenario {
            let file = ScenarioFile::parse(text, path)?;
            return Self::from_scenario(path, file);
        }
        Self::parse_as(text, path, format)
    }

    fn parse_as(text: &str, path: &Path, format: Format) -> Result<Self, SynthError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // Scenario files are read by `ScenarioFile` before this point.
        let raws = if format == Format::Csv {
            parse_csv(text)
        } else {
            parse_json_lines(text)
        }
        .map_err(|at| located(path, at))?;
        if raws.is_empty() {
            return Err(whole_file(
                path,
                "the file has no questions: write one question per line (docs/limits.md lists the limits)".to_owned(),
            ));
        }
        let mut queries = Vec::with_capacity(raws.len());
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (n, (line, raw)) in raws.into_iter().enumerate() {
            let q = make_query(n, raw).map_err(|mut at| {
                at.line = line;
                located(path, at)
            })?;
            if let Some(first) = seen.insert(q.id.clone(), line) {
                return Err(located(
                    path,
                    At::new(
                        line,
                        "id",
                        format!(
                            "duplicate id {:?}: line {first} has it too; give every question its own id (or none)",
                            q.id
                        ),
                    ),
                ));
            }
            queries.push(q);
        }
        Ok(Self {
            path: path.to_owned(),
            source: Source::Made(queries),
        })
    }

    fn from_scenario(path: &Path, file: ScenarioFile) -> Result<Self, SynthError> {
        // The count with repeats, without making the queries (placeholders need the run's
        // content); ids are checked on queries made from an empty profile, which give the
        // same ids.
        let probe = file.queries(&ContentProfile::default(), 0);
        if probe.len() > MAX_QUESTIONS {
            return Err(whole_file(
                path,
                format!(
                    "the file makes {} questions (repeats counted), more than the {MAX_QUESTIONS} allowed; split it or lower the repeats",
                    probe.len()
                ),
            ));
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, q) in probe.iter().enumerate() {
            if let Some(first) = seen.insert(q.id.as_str(), i) {
                return Err(whole_file(
                    path,
                    format!(
                        "duplicate id {:?}: questions {} and {} (counting from 1, repeats included) have it; give every entry its own id",
                        q.id,
                        first + 1,
                        i + 1
                    ),
                ));
            }
        }
        Ok(Self {
            path: path.to_owned(),
            source: Source::Scenario(Box::new(file)),
        })
    }

    /// The file the questions came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The questions as queries of the standard scenario (phase 2), with `content` and
    /// `seed` filling a scenario file's placeholders.
    pub fn queries(&self, content: &ContentProfile, seed: u64) -> Vec<Query> {
        match &self.source {
            Source::Made(q) => q.clone(),
            Source::Scenario(f) => f
                .queries(content, seed)
                .into_iter()
                .map(|mut q| {
                    q.scenario = STANDARD_SCENARIO.to_owned();
                    if q.expectations.is_empty() {
                        q.expectations.push(Expectation::AnswerNotEmpty);
                    }
                    q
                })
                .collect(),
        }
    }

    /// The first question, for a one-query check of the target.
    pub fn first(&self) -> Option<Query> {
        match &self.source {
            Source::Made(q) => q.first().cloned(),
            Source::Scenario(_) => self
                .queries(&ContentProfile::default(), 0)
                .into_iter()
                .next(),
        }
    }

    /// The categories of the questions, each once, in the order they first appear: the
    /// critical paths of a run on these questions.
    pub fn categories(&self, content: &ContentProfile, seed: u64) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for q in self.queries(content, seed) {
            if !out.contains(&q.category) {
                out.push(q.category);
            }
        }
        out
    }
}

fn format_of(path: &Path) -> Result<Format, SynthError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("jsonl") => Ok(Format::JsonLines),
        Some("csv") => Ok(Format::Csv),
        Some("json") => Ok(Format::Scenario),
        other => Err(whole_file(
            path,
            format!(
                "{} is not a questions format: name the file .jsonl (one JSON object per line), .csv (a header row, then one question per row) or .json (a scenario file)",
                other.map_or_else(|| "no extension".to_owned(), |e| format!("extension .{e}"))
            ),
        )),
    }
}

fn whole_file(path: &Path, message: String) -> SynthError {
    SynthError::QuestionsFile {
        path: path.to_owned(),
        line: None,
        column: None,
        field: None,
        message,
    }
}

fn located(path: &Path, at: At) -> SynthError {
    SynthError::QuestionsFile {
        path: path.to_owned(),
        line: Some(at.line),
        column: at.column,
        field: at.field,
        message: at.message,
    }
}

fn too_many(line: usize) -> At {
    At {
        line,
        column: None,
        field: None,
        message: format!(
            "more than {MAX_QUESTIONS} questions: the limit is {MAX_QUESTIONS} per file (docs/limits.md); split the file"
        ),
    }
}

/// Appends "did you mean `x`?" to an unknown-key message when a known key is close.
fn suggest(unknown: &str) -> String {
    match perf_core::closest_match(unknown, KEYS.iter().copied()) {
        Some(k) => format!("; did you mean `{k}`?"),
        None => format!("; the keys are {}", KEYS.join(", ")),
    }
}

fn parse_json_lines(text: &str) -> Result<Vec<(usize, Raw)>, At> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        if out.len() == MAX_QUESTIONS {
            return Err(too_many(n));
        }
        let spec: LineSpec = serde_json::from_str(line).map_err(|e| {
            let msg = e.to_string();
            let msg = msg
                .rsplit_once(" at line ")
                .map_or(msg.as_str(), |(m, _)| m)
                .to_owned();
            let msg = match msg
                .strip_prefix("unknown field `")
                .and_then(|r| r.split_once('`'))
            {
                Some((unknown, _)) => {
                    let hint = suggest(unknown);
                    format!("unknown key `{unknown}`{hint}")
                }
                None if msg.starts_with("data did not match any variant") => {
                    "a value has the wrong type: `answer_contains` is a string or a list of strings, `answer_json` a pointer or {\"pointer\": ..., \"value\": ...}".to_owned()
                }
                None => msg,
            };
            At {
                line: n,
                column: (e.column() > 0).then_some(e.column()),
                field: None,
                message: format!("{msg} (each line is one JSON object with a \"text\")"),
            }
        })?;
        out.push((
            n,
            Raw {
                text: spec.text,
                id: spec.id,
                category: spec.category,
                expected_agent: spec.expected_agent,
                contains: match spec.answer_contains {
                    None => Vec::new(),
                    Some(OneOrMany::One(s)) => vec![s],
                    Some(OneOrMany::Many(v)) => v,
                },
                regex: spec.answer_regex,
                json: spec.answer_json.map(|j| match j {
                    JsonSpec::Pointer(p) => (p, None),
                    JsonSpec::Full(f) => (f.pointer, f.value),
                }),
            },
        ));
    }
    Ok(out)
}

fn parse_csv(text: &str) -> Result<Vec<(usize, Raw)>, At> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let csv_err = |e: csv::Error, fallback_line: usize| {
        let line = e
            .position()
            .map_or(fallback_line, |p| usize::try_from(p.line()).unwrap_or(0));
        let message = match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => format!(
                "this row has {len} fields and the header {expected_len}: quote a field holding a comma (\"a, b\")"
            ),
            csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_owned(),
            _ => e.to_string(),
        };
        At {
            line,
            column: None,
            field: None,
            message,
        }
    };
    let headers = reader.headers().map_err(|e| csv_err(e, 1))?.clone();
    let mut columns: Vec<&str> = Vec::with_capacity(headers.len());
    for h in headers.iter() {
        let h = h.trim();
        if !KEYS.contains(&h) {
            let what = if h.is_empty() {
                "an empty column name".to_owned()
            } else {
                format!("unknown column `{h}`")
            };
            return Err(At::new(
                1,
                h,
                format!("{what}{}; the first row names the columns", suggest(h)),
            ));
        }
        if columns.contains(&h) {
            return Err(At::new(1, h, "the column is named twice"));
        }
        columns.push(h);
    }
    if !columns.contains(&"text") {
        return Err(At {
            line: 1,
            column: None,
            field: None,
            message: format!(
                "no `text` column: the first row must name the columns, `text` among them (found: {})",
                columns.join(", ")
            ),
        });
    }
    let mut out = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line_before = usize::try_from(reader.position().line()).unwrap_or(0);
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_err(e, line_before)),
        }
        let line = record
            .position()
            .map_or(line_before, |p| usize::try_from(p.line()).unwrap_or(0));
        // A row of empty cells (a blank line at the end, say) is no question.
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if out.len() == MAX_QUESTIONS {
            return Err(too_many(line));
        }
        let mut raw = Raw {
            text: String::new(),
            id: None,
            category: None,
            expected_agent: None,
            contains: Vec::new(),
            regex: None,
            json: None,
        };
        let mut json_value: Option<&str> = None;
        let mut has_text = false;
        for (name, cell) in columns.iter().zip(record.iter()) {
            if cell.is_empty() {
                continue;
            }
            let v = Some(cell.to_owned());
            match *name {
                "text" => {
                    raw.text = cell.to_owned();
                    has_text = true;
                }
                "id" => raw.id = v,
                "category" => raw.category = v,
                "expected_agent" => raw.expected_agent = v,
                "answer_contains" => raw.contains.push(cell.to_owned()),
                "answer_regex" => raw.regex = v,
                "answer_json" => raw.json = Some((cell.to_owned(), None)),
                _ => json_value = Some(cell),
            }
        }
        if !has_text {
            return Err(At::new(
                line,
                "text",
                "is empty: every row needs the question's text",
            ));
        }
        if let Some(v) = json_value {
            let Some((_, value)) = raw.json.as_mut() else {
                return Err(At::new(
                    line,
                    "answer_json_value",
                    "is set but `answer_json` (the pointer) is empty: give both",
                ));
            };
            // JSON when it parses (`42`, `true`, `"x"`), else the text itself.
            *value = Some(
                serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_owned())),
            );
        }
        out.push((line, raw));
    }
    Ok(out)
}

/// Checks a name-like value (`id`, `category`, `expected_agent`).
fn check_name(field: &str, v: &str) -> Result<(), At> {
    if v.trim().is_empty() {
        return Err(At::new(
            0,
            field,
            format!("is empty: omit `{field}` or give a value"),
        ));
    }
    if v.chars().count() > MAX_NAME_CHARS {
        return Err(At::new(
            0,
            field,
            format!("is longer than {MAX_NAME_CHARS} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(At::new(0, field, "holds a control character"));
    }
    Ok(())
}

/// The query for the `n`th question (from 0). Errors carry line 0; the caller sets it.
fn make_query(n: usize, raw: Raw) -> Result<Query, At> {
    if raw.text.trim().is_empty() {
        return Err(At::new(0, "text", "is empty: give the question's text"));
    }
    for (field, v) in [
        ("id", &raw.id),
        ("category", &raw.category),
        ("expected_agent", &raw.expected_agent),
    ] {
        if let Some(v) = v {
            check_name(field, v)?;
        }
    }
    let id = raw.id.unwrap_or_else(|| format!("question-{:06}", n + 1));
    let category = raw
        .category
        .unwrap_or_else(|| DEFAULT_QUESTION_CATEGORY.to_owned());
    let mut q = Query::new(id, raw.text, category).with_scenario(STANDARD_SCENARIO);
    q.expected_agent = raw.expected_agent;
    q.tags.push("question".to_owned());
    for text in raw.contains {
        if text.is_empty() {
            return Err(At::new(
                0,
                "answer_contains",
                "holds an empty text, which every answer contains: remove it",
            ));
        }
        q.expectations.push(Expectation::AnswerContains { text });
    }
    if let Some(p) = raw.regex {
        let pattern = AnswerPattern::new(p).map_err(|e| At::new(0, "answer_regex", e))?;
        q.expectations.push(Expectation::AnswerRegex { pattern });
    }
    if let Some((pointer, value)) = raw.json {
        if !(pointer.is_empty() || pointer.starts_with('/')) {
            return Err(At::new(
                0,
                "answer_json",
                format!(
                    "{pointer:?} is not a JSON pointer: start it with `/` (`/status`, `/items/0/name`)"
                ),
            ));
        }
        q.expectations
            .push(Expectation::AnswerJson { pointer, value });
    }
    if q.expectations.is_empty() {
        q.expectations.push(Expectation::AnswerNotEmpty);
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str, text: &str) -> Result<QuestionSet, String> {
        QuestionSet::parse(text, Path::new(name)).map_err(|e| e.to_string())
    }

    fn queries(name: &str, text: &str) -> Vec<Query> {
        parse(name, text)
            .unwrap()
            .queries(&ContentProfile::default(), 1)
    }

    #[test]
    fn json_lines_become_standard_queries_with_their_expectations() {
        let q = queries(
            "q.jsonl",
            concat!(
                r#"{"text": "Where is my order?", "id": "order", "category": "orders", "expected_agent": "OrderBot", "answer_contains": ["order", "ships"]}"#,
                "\n\n",
                r#"{"text": "hello", "answer_regex": "(?i)^hi", "answer_json": {"pointer": "/a", "value": 1}}"#,
                "\n",
                r#"{"text": "status?", "answer_json": "/status"}"#,
                "\n",
                r#"{"text": "anything"}"#,
                "\n"
            ),
        );
        assert_eq!(q.len(), 4);
        assert_eq!(q[0].id, "order");
        assert_eq!(q[0].category, "orders");
        assert_eq!(q[0].scenario, STANDARD_SCENARIO);
        assert_eq!(q[0].expected_agent.as_deref(), Some("OrderBot"));
        assert_eq!(
            q[0].expectations,
            vec![
                Expectation::AnswerContains {
                    text: "order".into()
                },
                Expectation::AnswerContains {
                    text: "ships".into()
                }
            ]
        );
        assert_eq!(q[1].id, "question-000002");
        assert_eq!(q[1].category, DEFAULT_QUESTION_CATEGORY);
        assert_eq!(q[1].expectations[0].name(), "answer_regex");
        assert_eq!(
            q[1].expectations[1],
            Expectation::AnswerJson {
                pointer: "/a".into(),
                value: Some(1.into())
            }
        );
        assert_eq!(
            q[2].expectations,
            vec![Expectation::AnswerJson {
                pointer: "/status".into(),
                value: None
            }]
        );
        // No expectation: answered and not empty.
        assert_eq!(q[3].expectations, vec![Expectation::AnswerNotEmpty]);
    }

    #[test]
    fn csv_rows_use_the_header_and_real_quoting() {
        let text = "text,id,category,expected_agent,answer_contains,answer_regex,answer_json,answer_json_value\n\
                    \"Hello, who are you?\",greet,smalltalk,chit_chat,\"I am\",,,\n\
                    \"Say \"\"hi\"\"\",,smalltalk,,,\\bhi\\b,,\n\
                    Status?,s1,ops,,,,/status,ok\n\
                    Count?,c1,ops,,,,/n,42\n\
                    \n";
        let q = queries("q.csv", text);
        assert_eq!(q.len(), 4);
        assert_eq!(q[0].text, "Hello, who are you?");
        assert_eq!(q[0].expected_agent.as_deref(), Some("chit_chat"));
        assert_eq!(
            q[0].expectations,
            vec![Expectation::AnswerContains {
                text: "I am".into()
            }]
        );
        assert_eq!(q[1].text, "Say \"hi\"");
        assert_eq!(q[1].id, "question-000002");
        assert_eq!(q[1].expectations[0].name(), "answer_regex");
        assert_eq!(
            q[2].expectations,
            vec![Expectation::AnswerJson {
                pointer: "/status".into(),
                value: Some("ok".into())
            }]
        );
        assert_eq!(
            q[3].expectations,
            vec![Expectation::AnswerJson {
                pointer: "/n".into(),
                value: Some(42.into())
            }]
        );
        let set = parse("q.csv", text).unwrap();
        assert_eq!(
            set.categories(&ContentProfile::default(), 0),
            vec!["smalltalk".to_owned(), "ops".to_owned()]
        );
        // Only the text column is needed.
        let q = queries("Q.CSV", "text\nhi\n");
        assert_eq!(q[0].expectations, vec![Expectation::AnswerNotEmpty]);
    }

    #[test]
    fn scenario_files_are_questions_too() {
        let text = r#"{"format_version": 1, "name": "mine", "queries": [
            {"text": "hi", "id": "a"},
            {"text": "about {top_user}", "category": "people", "expectations": [{"type": "answer_regex", "pattern": "\\d+"}]}
        ]}"#;
        let set = parse("s.json", text).unwrap();
        let q = set.queries(&ContentProfile::default(), 3);
        assert_eq!(q.len(), 2);
        assert!(q.iter().all(|q| q.scenario == STANDARD_SCENARIO));
        assert_eq!(q[0].expectations, vec![Expectation::AnswerNotEmpty]);
        assert_eq!(q[1].text, "about alice");
        assert_eq!(set.first().unwrap().id, "a");
        let e = parse(
            "s.json",
            r#"{"format_version": 1, "name": "m", "queries": [{"text": "a", "id": "x"}, {"text": "b", "id": "x"}]}"#,
        )
        .unwrap_err();
        assert!(
            e.contains("duplicate id \"x\"") && e.contains("1 and 2"),
            "{e}"
        );
        // Scenario-file errors keep their file, line and column.
        let e = parse(
            "s.json",
            "{\"format_version\": 1,\n \"name\": \"m\", \"queries\": [{\"txt\": 1}]}",
        )
        .unwrap_err();
        assert!(e.starts_with("s.json:2:"), "{e}");
    }

    /// A table of hostile and broken input: each is an error naming the file, the line
    /// (and column or field where known) and what to do; none panics.
    #[test]
    fn bad_input_is_an_error_naming_file_line_and_field() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("q.jsonl", "", &["q.jsonl", "no questions"]),
            ("q.jsonl", "\n  \n\n", &["no questions"]),
            ("q.csv", "", &["q.csv:1", "no `text` column"]),
            ("q.csv", "text\n", &["no questions"]),
            ("q.txt", "hi", &["q.txt", "extension .txt", ".jsonl"]),
            ("q", "hi", &["no extension"]),
            (
                "q.jsonl",
                "{\"text\": \"a\"}\n{\"text\": \"b\"",
                &["q.jsonl:2:", "EOF"],
            ),
            (
                "q.jsonl",
                "{\"text\": \"a\"}\nnot json",
                &["q.jsonl:2:", "expected"],
            ),
            (
                "q.jsonl",
                "{\"txt\": \"a\"}",
                &["q.jsonl:1:", "unknown key `txt`", "did you mean `text`"],
            ),
            (
                "q.jsonl",
                "{\"id\": \"a\"}",
                &["q.jsonl:1", "missing field `text`"],
            ),
            ("q.jsonl", "{\"text\": 5}", &["q.jsonl:1:", "invalid type"]),
            ("q.jsonl", "[1, 2]", &["q.jsonl:1:", "JSON object"]),
            (
                "q.jsonl",
                "{\"text\": \"a\", \"answer_contains\": 5}",
                &["q.jsonl:1", "string or a list"],
            ),
            (
                "q.jsonl",
                "{\"text\": \"  \"}",
                &["q.jsonl:1", "`text`", "empty"],
            ),
            (
                "q.jsonl",
                "{\"text\": \"a\", \"answer_regex\": \"(\"}",
                &[
                    "q.jsonl:1",
                    "`answer_regex`",
                    "not a valid regular expression",
                ],
            ),
            (
                "q.jsonl",
                "{\"text\": \"a\", \"answer_regex\": \"(a{1000}){1000}\"}",
                &["`answer_regex`", "simpler"],
            ),
            (
                "q.jsonl",
                "{\"text\": \"a\", \"answer_json\": \"status\"}",
                &["`answer_json`", "start it with `/`"],
            ),
            (
                "q.jsonl",
                "{\"text\": \"a\", \"answer_contains\": [\"\"]}",
                &["`answer_contains`", "empty text"],
            ),
            (
                "q.jsonl",
                "{\"text\": \"a\", \"expected_agent\": \"\"}",
                &["`expected_agent`", "empty"],
            ),
            (
                "q.jsonl",
                "{\"text\": \"a\", \"id\": \"a\\u0000b\"}",
                &["`id`", "control character"],
            ),
            (
                "q.jsonl",
                "{\"text\": \"a\", \"id\": \"x\"}\n\n{\"text\": \"b\", \"id\": \"x\"}",
                &["q.jsonl:3", "duplicate id \"x\"", "line 1"],
            ),
            (
                "q.jsonl",
                "{\"text\": \"a\", \"id\": \"question-000002\"}\n{\"text\": \"b\"}",
                &["q.jsonl:2", "duplicate id"],
            ),
            (
                "q.jsonl",
                "\u{feff}{\"text\": \"a\"}\n\u{0}",
                &["q.jsonl:2"],
            ),
            (
                "q.csv",
                "txt\nhi\n",
                &["q.csv:1", "unknown column `txt`", "did you mean `text`"],
            ),
            ("q.csv", "text,text\nhi,ho\n", &["named twice"]),
            ("q.csv", "id\nx\n", &["no `text` column"]),
            (
                "q.csv",
                "text,id\nhi\n",
                &["q.csv:2", "1 fields and the header 2", "quote"],
            ),
            ("q.csv", "text,id\n,x\n", &["q.csv:2", "`text`", "empty"]),
            (
                "q.csv",
                "text,id\na,x\nb,y\nc,x\n",
                &["q.csv:4", "duplicate id \"x\"", "line 2"],
            ),
            (
                "q.csv",
                "text,answer_json_value\na,1\n",
                &["q.csv:2", "`answer_json_value`", "give both"],
            ),
            (
                "q.csv",
                "text,answer_regex\na,\"[\"\n",
                &["q.csv:2", "`answer_regex`"],
            ),
        ];
        for (name, text, wanted) in cases {
            let e = match parse(name, text) {
                Ok(set) => panic!("{name} {text:?} parsed: {set:?}"),
                Err(e) => e,
            };
            for w in *wanted {
                assert!(e.contains(w), "{name} {text:?}: {e:?} lacks {w:?}");
            }
        }
    }

    #[test]
    fn the_number_of_questions_is_capped_and_the_error_names_the_cap() {
        let line = "{\"text\": \"a\"}\n";
        let text = line.repeat(MAX_QUESTIONS + 1);
        let e = parse("q.jsonl", &text).unwrap_err();
        assert!(
            e.contains(&format!("q.jsonl:{}", MAX_QUESTIONS + 1)) && e.contains("100000"),
            "{e}"
        );
        assert_eq!(
            queries("q.jsonl", &line.repeat(MAX_QUESTIONS)).len(),
            MAX_QUESTIONS
        );
        let text = format!("text\n{}", "a\n".repeat(MAX_QUESTIONS + 1));
        let e = parse("q.csv", &text).unwrap_err();
        assert!(e.contains("100000"), "{e}");
    }

    #[test]
    fn files_are_read_with_a_limit() {
        let dir = tempfile::tempdir().unwrap();
        let e = QuestionSet::load(&dir.path().join("none.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("none.jsonl"), "{e}");
        let big = dir.path().join("big.jsonl");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_QUESTIONS_FILE_BYTES + 1).unwrap();
        let e = QuestionSet::load(&big).unwrap_err().to_string();
        assert!(e.contains("big.jsonl") && e.contains("64 MiB"), "{e}");
        let ok = dir.path().join("ok.csv");
        std::fs::write(&ok, "text\nhello\n").unwrap();
        assert_eq!(
            QuestionSet::load(&ok).unwrap().first().unwrap().text,
            "hello"
        );
    }

    proptest::proptest! {
        /// Whatever the lines hold, parsing returns (never panics).
        #[test]
        fn any_text_parses_or_fails_without_panicking(s in ".{0,200}", ext in proptest::sample::select(vec!["jsonl", "csv", "json"])) {
            let _ = QuestionSet::parse(&s, Path::new(&format!("q.{ext}")));
        }
    }
}
