//! Target selection: config sections, `--target` flag values, and opening a target.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use perf_core::{BotTarget, Redactor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::discord::{DiscordTarget, DiscordTargetConfig};
use crate::secret::{is_secret_name, redacted_url, url_secrets, Secret, REDACTED};
use crate::{CommandTarget, HttpTarget, TargetsError};

/// Which bot to test: the `target` section of a config, or the `--target` flag.
///
/// In a config file it is an object with a `type` key:
/// `{"type": "http", "url": "http://127.0.0.1:8080/query"}`,
/// `{"type": "command", "command": "python3 bot.py --stdio"}` or `{"type": "refbot"}`.
// One spec exists per run; boxing the large variant would only make matching on it clumsier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TargetSpec {
    /// The in-process reference bot (`perf-refbot`); the caller opens it.
    Refbot,
    /// A bot behind an HTTP endpoint.
    Http(HttpTargetConfig),
    /// A bot started as a child process speaking JSON lines on stdin/stdout.
    Command(CommandTargetConfig),
    /// A Discord bot started as a child process and reached through a fake Discord.
    Discord(DiscordTargetConfig),
}

impl TargetSpec {
    /// Parses a `--target` value:
    ///
    /// - `refbot`: the in-process reference bot;
    /// - `http://...` or `https://...`: a JSON endpoint with the default body and pointers;
    /// - `openai+http://...` or `openai+https://...`: an OpenAI-compatible chat-completions
    ///   endpoint, streamed;
    /// - `cmd:<command line>`: a JSON-lines child process; the command line is split like a
    ///   shell would (single and double quotes, backslash escapes), but no shell runs it;
    /// - `discord:<command line>`: a Discord bot, split the same way, logged into a fake
    ///   Discord (docs/discord.md).
    pub fn parse_flag(value: &str) -> Result<Self, TargetsError> {
        // The value is quoted in the error: a URL in it is shown redacted.
        let shown = match value.find("://") {
            Some(_) => {
                let (prefix, url) = match value.trim().strip_prefix("openai+") {
                    Some(rest) => ("openai+", rest),
                    None => ("", value.trim()),
                };
                format!("{prefix}{}", redacted_url(url))
            }
            None => value.to_owned(),
        };
        let invalid = |message: &str| TargetsError::InvalidSpec {
            value: shown.clone(),
            message: message.to_owned(),
        };
        let trimmed = value.trim();
        if trimmed == "refbot" {
            return Ok(Self::Refbot);
        }
        if let Some(rest) = trimmed.strip_prefix("cmd:") {
            let argv = split_command_line(rest).map_err(|m| invalid(&m))?;
            if argv.is_empty() {
                return Err(invalid(
                    "`cmd:` needs a command, for example `cmd:python3 bot.py`",
                ));
            }
            return Ok(Self::Command(CommandTargetConfig::new(argv)));
        }
        if let Some(rest) = trimmed.strip_prefix("discord:") {
            let argv = split_command_line(rest).map_err(|m| invalid(&m))?;
            if argv.is_empty() {
                return Err(invalid(
                    "`discord:` needs the bot's command, for example `discord:python3 -m chatbot_perf.discord bot.py`",
                ));
            }
            return Ok(Self::Discord(DiscordTargetConfig::new(argv)));
        }
        if let Some(url) = trimmed.strip_prefix("openai+") {
            check_url(url).map_err(|m| invalid(&m))?;
            let mut config = HttpTargetConfig::new(url);
            config.api = Api::Openai;
            config.stream = true;
            return Ok(Self::Http(config));
        }
        if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
            check_url(trimmed).map_err(|m| invalid(&m))?;
            return Ok(Self::Http(HttpTargetConfig::new(trimmed)));
        }
        Err(invalid(
            "expected `refbot`, an http:// or https:// URL, `openai+<URL>`, `cmd:<command line>` or `discord:<command line>`",
        ))
    }

    /// Every secret of this target: see [`HttpTargetConfig::redactor`] and
    /// [`CommandTargetConfig::redactor`]; empty for the reference bot.
    pub fn redactor(&self) -> Redactor {
        match self {
            TargetSpec::Refbot => Redactor::default(),
            TargetSpec::Http(c) => c.redactor(),
            TargetSpec::Command(c) => c.redactor(),
            TargetSpec::Discord(c) => c.redactor(),
        }
    }

    /// A copy with every secret value replaced by [`REDACTED`]: the view that reports
    /// (`report.json`'s `config`) and messages are built from.
    pub fn redacted(&self) -> TargetSpec {
        match self {
            TargetSpec::Refbot => TargetSpec::Refbot,
            TargetSpec::Http(c) => TargetSpec::Http(c.redacted()),
            TargetSpec::Command(c) => TargetSpec::Command(c.redacted()),
            TargetSpec::Discord(c) => TargetSpec::Discord(c.redacted()),
        }
    }

    /// A one-line description for messages, built from [`redacted`](Self::redacted):
    /// `refbot`, `http <URL>` or `command <command line>`.
    pub fn describe(&self) -> String {
        match self.redacted() {
            TargetSpec::Refbot => "refbot".to_owned(),
            TargetSpec::Http(c) => format!("http {}", c.url),
            TargetSpec::Command(c) => format!("command `{}`", c.command.join(" ")),
            TargetSpec::Discord(c) => format!("discord bot `{}`", c.command.join(" ")),
        }
    }

    /// The target's own limit on one query (`target.timeout_ms`), when one is set.
    /// `query_timeout` is every query's deadline; this one only ever shortens it.
    pub fn own_timeout(&self) -> Option<Duration> {
        match self {
            TargetSpec::Refbot => None,
            TargetSpec::Http(c) => c.timeout_ms.map(Duration::from_millis),
            TargetSpec::Command(c) => c.timeout_ms.map(Duration::from_millis),
            TargetSpec::Discord(_) => None,
        }
    }

    /// A note for a run whose target cuts queries off sooner than `query_timeout`, naming
    /// both settings and which one wins; `None` when `query_timeout` is the deadline.
    pub fn timeout_note(&self, query_timeout: Duration) -> Option<String> {
        let own = self.own_timeout()?;
        (own < query_timeout).then(|| {
            format!(
                "target.timeout_ms ({} ms) is shorter than query_timeout ({} s), so each query was cut off at {} ms; leave target.timeout_ms out to make query_timeout the only deadline",
                own.as_millis(),
                query_timeout.as_secs_f64(),
                own.as_millis()
            )
        })
    }
}

/// The deadline of one query given the caller's `timeout` and a target's own limit (the
/// shorter wins), with the setting that set it, for error messages.
pub(crate) fn effective_timeout(
    timeout: Duration,
    own: Option<Duration>,
) -> (Duration, &'static str) {
    match own {
        Some(own) if own < timeout => (own, "target.timeout_ms"),
        _ => (timeout, "query_timeout"),
    }
}

/// `target.timeout_ms`, when set, must be positive.
pub(crate) fn check_own_timeout(timeout_ms: Option<u64>) -> Result<(), TargetsError> {
    if timeout_ms == Some(0) {
        return Err(TargetsError::config(
            "target.timeout_ms",
            "must be positive; leave it out to let query_timeout bound each query",
        ));
    }
    Ok(())
}

fn check_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not a valid URL: {e}"))?;
    match parsed.scheme() {
        "http" | "https" => Ok(()),
        other => Err(format!(
            "unsupported URL scheme `{other}`; use http or https"
        )),
    }
}

/// The body format of an HTTP target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Api {
    /// Any JSON API: the body template and pointers say where things are.
    #[default]
    Json,
    /// OpenAI-compatible chat completions (`/v1/chat/completions`).
    Openai,
}

/// The HTTP version an HTTP target speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpVersion {
    /// HTTP/1.1 for `http://`; HTTP/2 or HTTP/1.1 by ALPN for `https://`.
    #[default]
    Auto,
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 only (prior knowledge on `http://`, as h2c).
    Http2,
}

/// An HTTP target's settings: the `target` section with `"type": "http"`.
///
/// `Debug` shows header names but not their values, in case a header carries a credential
/// (use `auth_token_env` for those).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTargetConfig {
    /// The endpoint, for example `http://127.0.0.1:8080/query`.
    pub url: String,
    /// A name for reports; defaults to the URL without credentials and query string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The HTTP method (default `POST`).
    #[serde(default = "default_method")]
    pub method: String,
    /// Extra request headers. Values of headers whose name looks secret (see
    /// [`is_secret_name`](crate::is_secret_name)) or that are listed in `secret_headers` are
    /// removed from everything the bot sends back and never shown.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// More header names whose values are secret, besides those secret by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_headers: Vec<String>,
    /// The JSON body template; string leaves that are exactly `{{query}}`, `{{id}}`,
    /// `{{user_id}}` or `{{channel}}` are replaced. Defaults depend on `api` (see docs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// Body format: `json` (default) or `openai`.
    #[serde(default)]
    pub api: Api,
    /// Whether the answer is streamed as server-sent events.
    #[serde(default)]
    pub stream: bool,
    /// The model name put into the default OpenAI body (default `default`).
    #[serde(default = "default_model")]
    pub model: String,
    /// The environment variable holding the auth token (never the token itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_token_env: Option<String>,
    /// The header the token goes into (default `authorization`).
    #[serde(default = "default_auth_header")]
    pub auth_header: String,
    /// The scheme before the token (default `Bearer`; empty for the bare token).
    #[serde(default = "default_auth_scheme")]
    pub auth_scheme: String,
    /// JSON pointer to the answer text; default `/answer` (`json`) or
    /// `/choices/0/message/content` (`openai`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_pointer: Option<String>,
    /// JSON pointers tried in order for the agent(s); a string or an array of strings.
    #[serde(default = "default_agent_pointers")]
    pub agent_pointers: Vec<String>,
    /// JSON pointer to a bot-reported error (a non-null string there fails the query).
    #[serde(default = "default_error_pointer")]
    pub error_pointer: String,
    /// JSON pointer to the text delta in each streamed event; default
    /// `/choices/0/delta/content` (`openai`); for `json` streams without it the event data
    /// itself is the delta.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_pointer: Option<String>,
    /// HTTP version: `auto` (default), `http1` or `http2`.
    #[serde(default)]
    pub http_version: HttpVersion,
    /// The target's own limit on one request, body included, in ms. Unset by default:
    /// the run's `query_timeout` is every query's deadline. When set, the shorter of the
    /// two cuts a query off, and a run says so in its notes (docs/targets.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Time to establish a connection (default 5000 ms).
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Largest response body read, in bytes (default 10 MiB); larger ones are errors.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: u64,
    /// Idle connections kept per host (default 1024).
    #[serde(default = "default_pool")]
    pub pool_max_idle_per_host: usize,
    /// A file holding the process id of a bot served from this machine, so its CPU and
    /// memory are monitored like a child process's (read whenever the id is asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_file: Option<PathBuf>,
    /// A PEM file of root certificates to trust besides Mozilla's, for a bot whose
    /// certificate comes from a private CA (read when the target is built).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ca_file: Option<PathBuf>,
}

impl fmt::Debug for HttpTargetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: BTreeMap<&str, &str> = self
            .headers
            .keys()
            .map(|k| (k.as_str(), crate::REDACTED))
            .collect();
        f.debug_struct("HttpTargetConfig")
            .field("url", &redacted_url(&self.url))
            .field("name", &self.name)
            .field("method", &self.method)
            .field("headers", &headers)
            .field("secret_headers", &self.secret_headers)
            .field("body", &self.body)
            .field("api", &self.api)
            .field("stream", &self.stream)
            .field("model", &self.model)
            .field("auth_token_env", &self.auth_token_env)
            .field("auth_header", &self.auth_header)
            .field("auth_scheme", &self.auth_scheme)
            .field("answer_pointer", &self.answer_pointer)
            .field("agent_pointers", &self.agent_pointers)
            .field("error_pointer", &self.error_pointer)
            .field("delta_pointer", &self.delta_pointer)
            .field("http_version", &self.http_version)
            .field("timeout_ms", &self.timeout_ms)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .field("pid_file", &self.pid_file)
            .field("tls_ca_file", &self.tls_ca_file)
            .finish()
    }
}

impl HttpTargetConfig {
    /// Defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            name: None,
            method: default_method(),
            headers: BTreeMap::new(),
            secret_headers: Vec::new(),
            body: None,
            api: Api::Json,
            stream: false,
            model: default_model(),
            auth_token_env: None,
            auth_header: default_auth_header(),
            auth_scheme: default_auth_scheme(),
            answer_pointer: None,
            agent_pointers: default_agent_pointers(),
            error_pointer: default_error_pointer(),
            delta_pointer: None,
            http_version: HttpVersion::Auto,
            timeout_ms: None,
            connect_timeout_ms: default_connect_timeout_ms(),
            max_response_bytes: default_max_response_bytes(),
            pool_max_idle_per_host: default_pool(),
            pid_file: None,
            tls_ca_file: None,
        }
    }
}

impl HttpTargetConfig {
    /// Whether header `name`'s value is secret: by its name, or listed in
    /// `secret_headers` (both case-insensitively).
    pub fn is_secret_header(&self, name: &str) -> bool {
        is_secret_name(name)
            || self
                .secret_headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name))
    }

    /// Every secret of this target: the auth token read from `auth_token_env` (alone and
    /// with its scheme, when the variable is set), the URL's user name, password and query
    /// values (as written and decoded), and the values of secret headers.
    pub fn redactor(&self) -> Redactor {
        let mut secrets = url_secrets(&self.url);
        for (k, v) in &self.headers {
            if self.is_secret_header(k) {
                secrets.push(v.clone());
            }
        }
        if let Some(token) = self.auth_token_env.as_deref().and_then(Secret::from_env) {
            secrets.push(token.expose().to_owned());
            secrets.push(format!("{} {}", self.auth_scheme, token.expose()));
        }
        Redactor::new(secrets)
    }

    /// A copy with the URL redacted ([`redacted_url`](crate::redacted_url)) and secret
    /// header values replaced by [`REDACTED`].
    pub fn redacted(&self) -> HttpTargetConfig {
        let mut c = self.clone();
        c.url = redacted_url(&self.url);
        for (k, v) in &mut c.headers {
            if self.is_secret_header(k) {
                *v = REDACTED.to_owned();
            }
        }
        c
    }
}

fn default_method() -> String {
    "POST".to_owned()
}
fn default_model() -> String {
    "default".to_owned()
}
fn default_auth_header() -> String {
    "authorization".to_owned()
}
fn default_auth_scheme() -> String {
    "Bearer".to_owned()
}
fn default_agent_pointers() -> Vec<String> {
    vec!["/metadata/agents_used".to_owned(), "/agent".to_owned()]
}
fn default_error_pointer() -> String {
    "/error".to_owned()
}
fn default_connect_timeout_ms() -> u64 {
    5_000
}
fn default_max_response_bytes() -> u64 {
    10 * 1024 * 1024
}
fn default_pool() -> usize {
    1024
}

/// Inherited environment values shorter than this are not treated as secrets of a command
/// target (see [`CommandTargetConfig::redactor`]).
pub const MIN_INHERITED_SECRET_CHARS: usize = 8;

/// Words that make an *inherited* environment variable's value a secret of a command
/// target: stricter than [`is_secret_name`](crate::is_secret_name), whose `session` and
/// `cookie` match desktop variables such as `XDG_SESSION_CLASS=user`.
fn is_inherited_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["KEY", "TOKEN", "SECRET", "PASSW", "CREDENTIAL", "AUTH"]
        .iter()
        .any(|w| upper.contains(w))
}

/// A command target's settings: the `target` section with `"type": "command"`.
///
/// `Debug` hides the values of environment variables whose name looks secret.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandTargetConfig {
    /// The program and its arguments: a list, or one string split like a shell would
    /// (quotes and backslashes; no shell runs it).
    #[serde(deserialize_with = "deserialize_argv")]
    pub command: Vec<String>,
    /// A name for reports; defaults to the command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Extra environment variables for the bot.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// More environment variable names whose values are secret, besides those secret by
    /// name ([`is_secret_name`](crate::is_secret_name)): in `env` or inherited from the
    /// harness's environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_env: Vec<String>,
    /// The bot's working directory (default: the harness's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    /// The target's own limit on the wait for one answer line, in ms. Unset by default:
    /// the run's `query_timeout` is every query's deadline. When set, the shorter of the
    /// two cuts a query off, and a run says so in its notes (docs/targets.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// How often a crashed bot is restarted before queries fail at once (default 5).
    #[serde(default = "default_max_restarts")]
    pub max_restarts: u32,
    /// Wait before the first restart; doubles with every crash up to 5 s (default 100 ms).
    #[serde(default = "default_backoff_ms")]
    pub restart_backoff_ms: u64,
    /// After closing the bot's stdin at shutdown, how long to wait before killing it
    /// (default 2000 ms).
    #[serde(default = "default_grace_ms")]
    pub shutdown_grace_ms: u64,
    /// Longest accepted stdout line in bytes (default 10 MiB); longer ones are skipped.
    #[serde(default = "default_max_line")]
    pub max_line_bytes: usize,
    /// Where the bot's stderr goes, relative to the run directory
    /// (default `bot-stderr.log`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr_log: Option<PathBuf>,
    /// How long `initialize` watches the new process; one that exits within it fails the
    /// start with its stderr (default 200 ms; 0 skips the check).
    #[serde(default = "default_startup_check_ms")]
    pub startup_check_ms: u64,
}

impl CommandTargetConfig {
    /// Defaults for `argv`.
    pub fn new(argv: Vec<String>) -> Self {
        Self {
            command: argv,
            name: None,
            env: BTreeMap::new(),
            secret_env: Vec::new(),
            cwd: None,
            timeout_ms: None,
            max_restarts: default_max_restarts(),
            restart_backoff_ms: default_backoff_ms(),
            shutdown_grace_ms: default_grace_ms(),
            max_line_bytes: default_max_line(),
            stderr_log: None,
            startup_check_ms: default_startup_check_ms(),
        }
    }
}

impl CommandTargetConfig {
    /// Whether environment variable `name`'s value is secret: by its name, or listed in
    /// `secret_env` (case-sensitively, as environment names are).
    pub fn is_secret_env(&self, name: &str) -> bool {
        is_secret_name(name) || self.secret_env.iter().any(|n| n == name)
    }

    /// Every secret of this target, which the bot can echo in its answers, agent names,
    /// errors and stderr:
    /// - the values of `env` entries that are secret ([`is_secret_env`](Self::is_secret_env));
    /// - the values the bot inherits from the harness's own environment under a name listed
    ///   in `secret_env`, or containing `KEY`, `TOKEN`, `SECRET`, `PASSW`, `CREDENTIAL`
    ///   or `AUTH` (an `OPENAI_API_KEY` exported in the shell), when at least
    ///   [`MIN_INHERITED_SECRET_CHARS`] long: shorter inherited values are too likely to be
    ///   ordinary words.
    pub fn redactor(&self) -> Redactor {
        let configured = self
            .env
            .iter()
            .filter(|(k, _)| self.is_secret_env(k))
            .map(|(_, v)| v.clone());
        let inherited = std::env::vars_os().filter_map(|(k, v)| {
            let (k, v) = (k.into_string().ok()?, v.into_string().ok()?);
            let secret = self.secret_env.contains(&k) || is_inherited_secret_name(&k);
            (secret
                && !self.env.contains_key(&k)
                && v.chars().count() >= MIN_INHERITED_SECRET_CHARS)
                .then_some(v)
        });
        Redactor::new(configured.chain(inherited))
    }

    /// A copy with secret `env` values replaced by [`REDACTED`] and secrets removed from
    /// the command line.
    pub fn redacted(&self) -> CommandTargetConfig {
        let r = self.redactor();
        let mut c = self.clone();
        for (k, v) in &mut c.env {
            if self.is_secret_env(k) {
                *v = REDACTED.to_owned();
            }
        }
        for a in &mut c.command {
            *a = r.redact_owned(std::mem::take(a));
        }
        if let Some(n) = c.name.take() {
            c.name = Some(r.redact_owned(n));
        }
        c
    }
}

impl fmt::Debug for CommandTargetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.redacted();
        f.debug_struct("CommandTargetConfig")
            .field("command", &c.command)
            .field("name", &c.name)
            .field("env", &c.env)
            .field("secret_env", &c.secret_env)
            .field("cwd", &c.cwd)
            .field("timeout_ms", &c.timeout_ms)
            .field("max_restarts", &c.max_restarts)
            .field("restart_backoff_ms", &c.restart_backoff_ms)
            .field("shutdown_grace_ms", &c.shutdown_grace_ms)
            .field("max_line_bytes", &c.max_line_bytes)
            .field("stderr_log", &c.stderr_log)
            .field("startup_check_ms", &c.startup_check_ms)
            .finish()
    }
}

fn default_max_restarts() -> u32 {
    5
}
fn default_backoff_ms() -> u64 {
    100
}
fn default_grace_ms() -> u64 {
    2_000
}
fn default_startup_check_ms() -> u64 {
    200
}
fn default_max_line() -> usize {
    10 * 1024 * 1024
}

pub(crate) fn deserialize_argv<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Argv {
        Line(String),
        List(Vec<String>),
    }
    let argv = match Argv::deserialize(d)? {
        Argv::Line(line) => split_command_line(&line).map_err(serde::de::Error::custom)?,
        Argv::List(list) => list,
    };
    if argv.is_empty() || argv[0].is_empty() {
        return Err(serde::de::Error::custom("`command` must name a program"));
    }
    Ok(argv)
}

/// Splits a command line into arguments like a POSIX shell, without expansions:
/// whitespace separates, `'...'` is literal, `"..."` allows `\"` and `\\`, and a backslash
/// outside quotes escapes the next character.
pub fn split_command_line(line: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => current.push(x),
                        None => return Err("unclosed single quote".to_owned()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x @ ('"' | '\\' | '$' | '`')) => current.push(x),
                            Some(x) => {
                                current.push('\\');
                                current.push(x);
                            }
                            None => return Err("unclosed double quote".to_owned()),
                        },
                        Some(x) => current.push(x),
                        None => return Err("unclosed double quote".to_owned()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(x) => current.push(x),
                    None => return Err("trailing backslash".to_owned()),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    args.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        args.push(current);
    }
    Ok(args)
}

/// An opened out-of-process target, with access to its transport-specific statistics.
#[derive(Debug, Clone)]
pub enum Target {
    /// An HTTP target.
    Http(Arc<HttpTarget>),
    /// A child-process target.
    Command(Arc<CommandTarget>),
    /// A Discord bot behind a fake Discord.
    Discord(Arc<DiscordTarget>),
}

impl Target {
    /// The target as the runner uses it.
    pub fn bot(&self) -> Arc<dyn BotTarget> {
        match self {
            Target::Http(t) => Arc::clone(t) as Arc<dyn BotTarget>,
            Target::Command(t) => Arc::clone(t) as Arc<dyn BotTarget>,
            Target::Discord(t) => Arc::clone(t) as Arc<dyn BotTarget>,
        }
    }

    /// Lines for `RunResult.notes` after a run: for a command target, crashes, restarts and
    /// ignored stdout lines when there were any; nothing for HTTP.
    pub fn notes(&self) -> Vec<String> {
        match self {
            Target::Http(_) => Vec::new(),
            Target::Command(t) => t.stats().notes(),
            Target::Discord(t) => t.notes(),
        }
    }

    /// Checks the target itself measured (a Discord bot's event loop, rate limits,
    /// message length, reply channel); none for HTTP and command targets.
    pub fn checks(&self) -> Vec<perf_core::record::CheckResult> {
        match self {
            Target::Discord(t) => t.checks(),
            _ => Vec::new(),
        }
    }

    /// What a Discord target measured beside the latency (`RunResult.discord`); `None`
    /// for the other targets.
    pub fn discord_summary(&self) -> Option<perf_core::record::DiscordSummary> {
        match self {
            Target::Discord(t) => t.summary(),
            _ => None,
        }
    }
}

/// Opens the target described by `spec`; `run_dir` receives a command target's stderr log.
///
/// [`TargetSpec::Refbot`] gives [`TargetsError::InProcess`]: the caller opens it from
/// `perf-refbot`, which this crate does not depend on.
pub fn open_target(spec: &TargetSpec, run_dir: &Path) -> Result<Target, TargetsError> {
    match spec {
        TargetSpec::Refbot => Err(TargetsError::InProcess),
        TargetSpec::Http(config) => Ok(Target::Http(Arc::new(HttpTarget::new(config.clone())?))),
        TargetSpec::Command(config) => Ok(Target::Command(Arc::new(CommandTarget::new(
            config.clone(),
            run_dir,
        )?))),
        TargetSpec::Discord(config) => Ok(Target::Discord(Arc::new(DiscordTarget::new(
            config.clone(),
            run_dir,
        )?))),
    }
}

/// [`open_target`], returning only the [`BotTarget`].
pub fn target_from_spec(
    spec: &TargetSpec,
    run_dir: &Path,
) -> Result<Arc<dyn BotTarget>, TargetsError> {
    open_target(spec, run_dir).map(|t| t.bot())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #23, item 3: `query_timeout` is the deadline unless the target's own limit is
    /// shorter; the winner is named, and only a shorter own limit earns a note.
    #[test]
    fn the_shorter_deadline_wins_and_is_named() {
        let q = Duration::from_secs(120);
        assert_eq!(effective_timeout(q, None), (q, "query_timeout"));
        assert_eq!(
            effective_timeout(q, Some(Duration::from_secs(30))),
            (Duration::from_secs(30), "target.timeout_ms")
        );
        assert_eq!(
            effective_timeout(q, Some(Duration::from_secs(200))),
            (q, "query_timeout")
        );
        let mut cmd = CommandTargetConfig::new(vec!["bot".to_owned()]);
        assert_eq!(cmd.timeout_ms, None, "no limit of its own by default");
        assert_eq!(TargetSpec::Command(cmd.clone()).timeout_note(q), None);
        cmd.timeout_ms = Some(30_000);
        let note = TargetSpec::Command(cmd.clone()).timeout_note(q).unwrap();
        assert!(
            note.contains("30000 ms") && note.contains("120 s"),
            "{note}"
        );
        cmd.timeout_ms = Some(300_000);
        assert_eq!(TargetSpec::Command(cmd).timeout_note(q), None);
        assert_eq!(TargetSpec::Refbot.timeout_note(q), None);
        let e = check_own_timeout(Some(0)).unwrap_err().to_string();
        assert!(
            e.contains("target.timeout_ms") && e.contains("leave it out"),
            "{e}"
        );
        // Configs that set it keep it; configs that do not, do not grow it when saved.
        let http: HttpTargetConfig =
            serde_json::from_str(r#"{"url": "http://127.0.0.1:1/", "timeout_ms": 30000}"#).unwrap();
        assert_eq!(http.timeout_ms, Some(30_000));
        let saved = serde_json::to_string(&HttpTargetConfig::new("http://127.0.0.1:1/")).unwrap();
        assert!(!saved.contains("\"timeout_ms\""), "{saved}");
    }

    /// Issue #28, item 1: the runner takes its redactor from the opened target
    /// (`BotTarget::redactor`), so every kind of target must hand over every secret its
    /// spec holds. The match is exhaustive: a new kind of target fails to compile here
    /// until it is added.
    #[test]
    fn every_opened_target_redacts_every_secret_of_its_spec() {
        let dir = tempfile::tempdir().unwrap();
        let mut http =
            HttpTargetConfig::new("http://127.0.0.1:9/q?api_key=qk-0123456789&x=plainval");
        http.headers
            .insert("x-api-key".into(), "hk-0123456789".into());
        http.headers
            .insert("x-tenant".into(), "tn-0123456789".into());
        http.secret_headers.push("x-tenant".into());
        let mut cmd = CommandTargetConfig::new(vec!["sh".into(), "-c".into(), "cat".into()]);
        cmd.env
            .insert("OPENAI_API_KEY".into(), "ek-0123456789".into());
        cmd.env.insert("BOT_TENANT".into(), "oe-0123456789".into());
        cmd.env.insert("BOT_LOG_LEVEL".into(), "warning".into());
        cmd.secret_env.push("BOT_TENANT".into());
        let mut discord = DiscordTargetConfig::new(vec!["sh".into(), "-c".into(), "cat".into()]);
        discord
            .env
            .insert("BOT_API_KEY".into(), "dk-0123456789".into());
        discord.env.insert("BOT_LOG_LEVEL".into(), "warning".into());
        for spec in [
            TargetSpec::Refbot,
            TargetSpec::Http(http),
            TargetSpec::Command(cmd),
            TargetSpec::Discord(discord),
        ] {
            let (secrets, plain): (&[&str], &[&str]) = match &spec {
                TargetSpec::Refbot => (&[], &[]),
                TargetSpec::Http(_) => (&["qk-0123456789", "hk-0123456789", "tn-0123456789"], &[]),
                TargetSpec::Command(_) => (&["ek-0123456789", "oe-0123456789"], &["warning"]),
                TargetSpec::Discord(_) => (&["dk-0123456789"], &["warning"]),
            };
            let spec_redactor = spec.redactor();
            let opened = match open_target(&spec, dir.path()) {
                Ok(t) => t.bot().redactor(),
                // The in-process reference bot is opened by perf-suite; it holds no secret.
                Err(TargetsError::InProcess) => Redactor::default(),
                Err(e) => panic!("{e}"),
            };
            for s in secrets {
                assert!(spec_redactor.finds_secret(s), "{spec:?}: {s}");
                assert!(opened.finds_secret(s), "the opened {spec:?} forgets {s}");
                assert_eq!(opened.redact(&format!("echo {s}!")), "echo [redacted]!");
            }
            for p in plain {
                assert!(!opened.finds_secret(p), "{spec:?}: {p} is not secret");
            }
            assert!(format!("{:?}", spec.redacted()).contains("[redacted]") || secrets.is_empty());
        }
    }

    #[test]
    fn parses_flag_values() {
        assert_eq!(
            TargetSpec::parse_flag("refbot").ok(),
            Some(TargetSpec::Refbot)
        );
        match TargetSpec::parse_flag("http://127.0.0.1:8080/query") {
            Ok(TargetSpec::Http(c)) => {
                assert_eq!(c.url, "http://127.0.0.1:8080/query");
                assert_eq!(c.api, Api::Json);
                assert!(!c.stream);
            }
            other => panic!("unexpected {other:?}"),
        }
        match TargetSpec::parse_flag("openai+https://h/v1/chat/completions") {
            Ok(TargetSpec::Http(c)) => {
                assert_eq!(c.api, Api::Openai);
                assert!(c.stream);
                assert_eq!(c.url, "https://h/v1/chat/completions");
            }
            other => panic!("unexpected {other:?}"),
        }
        match TargetSpec::parse_flag(r#"cmd:python3 "my bot.py" --name 'a b' x\ y"#) {
            Ok(TargetSpec::Command(c)) => {
                assert_eq!(c.command, ["python3", "my bot.py", "--name", "a b", "x y"]);
            }
            other => panic!("unexpected {other:?}"),
        }
        for bad in ["", "ftp://x", "cmd:", "cmd:'open", "http://", "refbot2"] {
            assert!(
                matches!(
                    TargetSpec::parse_flag(bad),
                    Err(TargetsError::InvalidSpec { .. })
                ),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn debug_hides_header_values() {
        let mut c = HttpTargetConfig::new("http://127.0.0.1:1/q");
        c.headers
            .insert("x-api-key".to_owned(), "very-secret-value".to_owned());
        let text = format!("{:?}", TargetSpec::Http(c));
        assert!(text.contains("x-api-key"));
        assert!(!text.contains("very-secret-value"));
    }

    /// D9: the URL's password and query values, secret header values and secret env
    /// values reach neither `Debug`, nor the redacted view, nor the description.
    #[test]
    fn redacted_views_hide_every_configured_secret() {
        let mut c =
            HttpTargetConfig::new("http://user:pw-0123456@127.0.0.1:1/q?api_key=qv-0123456");
        c.headers.insert("x-api-key".into(), "hv-0123456".into());
        c.headers.insert("x-custom".into(), "cv-0123456".into());
        c.headers.insert("x-plain".into(), "plain-value".into());
        c.secret_headers.push("X-Custom".into());
        let spec = TargetSpec::Http(c);
        let shown = [
            format!("{spec:?}"),
            format!("{:?}", spec.redacted()),
            serde_json::to_string(&spec.redacted()).unwrap_or_default(),
            spec.describe(),
        ];
        for text in &shown {
            for secret in ["pw-0123456", "qv-0123456", "hv-0123456", "cv-0123456"] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
        }
        assert!(shown[2].contains("plain-value"), "{}", shown[2]);
        assert_eq!(
            spec.describe(),
            "http http://[redacted]@127.0.0.1:1/q?api_key=[redacted]"
        );
        let r = spec.redactor();
        assert_eq!(
            r.redact("pw-0123456 qv-0123456 hv-0123456 cv-0123456 plain-value"),
            "[redacted] [redacted] [redacted] [redacted] plain-value"
        );

        let mut c = CommandTargetConfig::new(vec!["bot".into(), "--key=ev-0123456".into()]);
        c.env.insert("BOT_API_KEY".into(), "ev-0123456".into());
        c.env.insert("LANG".into(), "C.UTF-8".into());
        let spec = TargetSpec::Command(c);
        for text in [format!("{spec:?}"), spec.describe()] {
            assert!(!text.contains("ev-0123456"), "{text}");
        }
        assert!(format!("{spec:?}").contains("C.UTF-8"));
    }

    #[test]
    fn config_sections_are_strict_and_defaulted() {
        let spec: TargetSpec =
            serde_json::from_str(r#"{"type": "http", "url": "http://127.0.0.1:1/q"}"#)
                .unwrap_or(TargetSpec::Refbot);
        let TargetSpec::Http(c) = spec else {
            panic!("expected http")
        };
        assert_eq!(c, HttpTargetConfig::new("http://127.0.0.1:1/q"));
        assert_eq!(c.max_response_bytes, 10 * 1024 * 1024);

        let err = serde_json::from_str::<TargetSpec>(
            r#"{"type": "http", "url": "http://x", "timeout": 3}"#,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("unknown field `timeout`"), "{err}");

        let spec: TargetSpec =
            serde_json::from_str(r#"{"type": "command", "command": "sh -c 'echo hi'"}"#)
                .unwrap_or(TargetSpec::Refbot);
        let TargetSpec::Command(c) = spec else {
            panic!("expected command")
        };
        assert_eq!(c.command, ["sh", "-c", "echo hi"]);
        assert_eq!(c.max_restarts, 5);

        let spec: Result<TargetSpec, _> =
            serde_json::from_str(r#"{"type": "command", "command": []}"#);
        assert!(spec.is_err());
        let spec: Result<TargetSpec, _> =
            serde_json::from_str(r#"{"type": "command", "command": ["a"], "restarts": 1}"#);
        assert!(spec.is_err());
    }
}
