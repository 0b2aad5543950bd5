//! A Discord bot, reached the way its users reach it: the target starts a fake Discord
//! (`perf-discord`), starts the bot with `DISCORD_TOKEN`, `DISCORD_API_BASE` and
//! `DISCORD_GATEWAY_URL` in its environment, waits for it to log in, and sends each query
//! as a message from the query's user in the query's channel (docs/discord.md).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use perf_core::{BotResponse, BotTarget, ErrorKind, Query, Redactor, TargetError, TargetInfo};
use perf_discord::{DiscordStats, FakeDiscord, FakeDiscordConfig, Guild};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use tokio::process::Child;
use tokio::sync::{oneshot, watch};

use crate::command::{
    bot_command, copy_stderr, log_tail, restart_backoff, signal_group, spawn_bot, GroupSignal,
};
use crate::spec::{deserialize_argv, CommandTargetConfig};
use crate::TargetsError;

/// The environment variables a bot is given: the contract of the discord target.
pub const ENV_TOKEN: &str = "DISCORD_TOKEN";
/// The REST base, `http://127.0.0.1:PORT/api/v10`.
pub const ENV_API_BASE: &str = "DISCORD_API_BASE";
/// The gateway, `ws://127.0.0.1:PORT/gateway`.
pub const ENV_GATEWAY_URL: &str = "DISCORD_GATEWAY_URL";

/// How a query triggers the bot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Trigger {
    /// The message mentions the bot (`<@id> question`), the usual way.
    #[default]
    Mention,
    /// The message starts with a command prefix (`!ask question`).
    Prefix(String),
}

impl Trigger {
    fn parse(s: &str) -> Result<Self, String> {
        match s {
            "mention" => Ok(Self::Mention),
            _ => match s.strip_prefix("prefix:") {
                Some(p) if !p.trim().is_empty() => Ok(Self::Prefix(p.trim().to_owned())),
                _ => Err(format!(
                    "`{s}` is not a trigger: give \"mention\" or \"prefix:<prefix>\", such as \"prefix:!ask\""
                )),
            },
        }
    }

    fn as_string(&self) -> String {
        match self {
            Self::Mention => "mention".to_owned(),
            Self::Prefix(p) => format!("prefix:{p}"),
        }
    }
}

impl Serialize for Trigger {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_string())
    }
}

impl<'de> Deserialize<'de> for Trigger {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Trigger::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Whether the fake Discord applies Discord's rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateLimits {
    /// As Discord: per route and channel, 50 requests/s global (the default).
    #[default]
    Discord,
    /// None (for throughput benchmarks of the bot alone).
    Off,
}

/// A discord target's settings: the `target` section with `"type": "discord"`, or
/// `--target discord:<command line>`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordTargetConfig {
    /// How a query triggers the bot: `"mention"` (default) or `"prefix:!ask"`.
    #[serde(default)]
    pub trigger: Trigger,
    /// An answer is final when no message, edit or typing has come for this long after
    /// its first message (default 1500 ms). Not charged to the bot.
    #[serde(default = "default_quiet_ms")]
    pub quiet_ms: u64,
    /// `"discord"` (default) or `"off"`.
    #[serde(default)]
    pub rate_limits: RateLimits,
    /// The heartbeat interval given to the bot (default 1000 ms, so a blocked event loop
    /// shows within a short run; Discord gives about 41 s).
    #[serde(default = "default_heartbeat_ms")]
    pub heartbeat_ms: u64,
    /// The event-loop check fails when a heartbeat came later than this (default 250 ms):
    /// every channel waited that long for the bot.
    #[serde(default = "default_max_block_ms")]
    pub max_loop_block_ms: u64,
    /// How long the bot may take to log in and identify (default 60,000 ms).
    #[serde(default = "default_connect_ms")]
    pub connect_timeout_ms: u64,
    /// How often a bot whose process exited is started again (default 5); its questions
    /// in flight count as crashed. The first restart waits 100 ms, each next one twice as
    /// long, up to 5 s.
    #[serde(default = "default_max_restarts")]
    pub max_restarts: u32,
    /// The bot's program and arguments (a list, or one string split like a shell would).
    #[serde(deserialize_with = "deserialize_argv")]
    pub command: Vec<String>,
    /// Its name in reports (default: the command line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Variables added to the bot's environment, beside the three of the contract.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Names of variables whose values are secret, as for a command target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_env: Vec<String>,
    /// Where the bot runs (default: the harness's directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    /// Where the bot's stderr goes, relative to the run directory (default
    /// `bot-stderr.log`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr_log: Option<PathBuf>,
    /// The server the bot is tested on; the suite makes it from the message database.
    #[serde(skip)]
    pub guild: Option<Guild>,
}

fn default_quiet_ms() -> u64 {
    1_500
}
fn default_heartbeat_ms() -> u64 {
    1_000
}
fn default_max_block_ms() -> u64 {
    250
}
fn default_connect_ms() -> u64 {
    60_000
}
fn default_max_restarts() -> u32 {
    5
}

impl DiscordTargetConfig {
    /// Defaults for `argv`.
    pub fn new(argv: Vec<String>) -> Self {
        Self {
            trigger: Trigger::Mention,
            quiet_ms: default_quiet_ms(),
            rate_limits: RateLimits::Discord,
            heartbeat_ms: default_heartbeat_ms(),
            max_loop_block_ms: default_max_block_ms(),
            connect_timeout_ms: default_connect_ms(),
            max_restarts: default_max_restarts(),
            command: argv,
            name: None,
            env: BTreeMap::new(),
            secret_env: Vec::new(),
            cwd: None,
            stderr_log: None,
            guild: None,
        }
    }

    /// The process part, for its secrets.
    fn process(&self) -> CommandTargetConfig {
        let mut c = CommandTargetConfig::new(self.command.clone());
        c.env.clone_from(&self.env);
        c.secret_env.clone_from(&self.secret_env);
        c.name.clone_from(&self.name);
        c
    }

    /// The secrets of the bot's environment and command line (the token of the fake
    /// Discord is added by the target).
    pub fn redactor(&self) -> Redactor {
        self.process().redactor()
    }

    /// A copy with secrets removed.
    pub fn redacted(&self) -> Self {
        let p = self.process().redacted();
        Self {
            command: p.command,
            env: p.env,
            name: p.name,
            ..self.clone()
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), String> {
        if self.command.is_empty() {
            return Err("`command` is empty: give the bot's command line, such as \"python3 -m chatbot_perf.discord bot.py\"".to_owned());
        }
        if !(50..=600_000).contains(&self.quiet_ms) {
            return Err(format!(
                "quiet_ms {} is out of range: give 50 to 600000",
                self.quiet_ms
            ));
        }
        if !(100..=120_000).contains(&self.heartbeat_ms) {
            return Err(format!(
                "heartbeat_ms {} is out of range: give 100 to 120000",
                self.heartbeat_ms
            ));
        }
        if !(100..=3_600_000).contains(&self.connect_timeout_ms) {
            return Err(format!(
                "connect_timeout_ms {} is out of range: give 100 to 3600000",
                self.connect_timeout_ms
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for DiscordTargetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.redacted();
        f.debug_struct("DiscordTargetConfig")
            .field("command", &r.command)
            .field("env", &r.env)
            .field("trigger", &r.trigger)
            .field("quiet_ms", &r.quiet_ms)
            .field("rate_limits", &r.rate_limits)
            .finish_non_exhaustive()
    }
}

/// The discord target.
pub struct DiscordTarget {
    config: DiscordTargetConfig,
    guild: Guild,
    stderr_path: PathBuf,
    token: String,
    redactor: Redactor,
    fake: Mutex<Option<Arc<FakeDiscord>>>,
    /// The bot process now: how to stop it, and its end.
    process: tokio::sync::Mutex<Option<BotProcess>>,
    /// Whether the process now has ended, and how (its exit, described).
    exited: Mutex<Option<watch::Receiver<Option<String>>>>,
    /// Held while a crashed bot is started again.
    restarting: tokio::sync::Mutex<()>,
    crashes: Arc<AtomicU64>,
    restarts: AtomicU32,
    crashed_queries: AtomicU64,
    pid: Arc<AtomicU32>,
    stderr_written: Arc<AtomicU64>,
    /// Answers and their typing times, for [`summary`](DiscordTarget::summary).
    answered: Mutex<Answered>,
}

/// A started bot process, watched by a task that owns it.
struct BotProcess {
    stop: oneshot::Sender<()>,
    watcher: tokio::task::JoinHandle<()>,
}

/// What the target saw of its answers.
#[derive(Default)]
struct Answered {
    answers: u64,
    typing: perf_core::LatencyHistogram,
}

impl fmt::Debug for DiscordTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordTarget")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl DiscordTarget {
    /// A target for `config`; the bot's stderr goes under `run_dir`. Nothing starts until
    /// [`initialize`](BotTarget::initialize).
    pub fn new(config: DiscordTargetConfig, run_dir: &Path) -> Result<Self, TargetsError> {
        config
            .validate()
            .map_err(|message| TargetsError::InvalidSpec {
                value: "discord target".to_owned(),
                message,
            })?;
        let guild = config
            .guild
            .clone()
            .unwrap_or_else(|| Guild::new("perf test server", Vec::new(), Vec::new()));
        let stderr_path = run_dir.join(
            config
                .stderr_log
                .clone()
                .unwrap_or_else(|| PathBuf::from("bot-stderr.log")),
        );
        // A token per target: what the bot echoes of it is redacted everywhere.
        let token = format!(
            "perf-discord.{:x}.{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        let redactor = config
            .redactor()
            .union(&Redactor::new(std::iter::once(token.clone())));
        Ok(Self {
            config,
            guild,
            stderr_path,
            token,
            redactor,
            fake: Mutex::new(None),
            process: tokio::sync::Mutex::new(None),
            exited: Mutex::new(None),
            restarting: tokio::sync::Mutex::new(()),
            crashes: Arc::new(AtomicU64::new(0)),
            restarts: AtomicU32::new(0),
            crashed_queries: AtomicU64::new(0),
            pid: Arc::new(AtomicU32::new(0)),
            stderr_written: Arc::new(AtomicU64::new(0)),
            answered: Mutex::new(Answered::default()),
        })
    }

    fn name(&self) -> String {
        let name = self
            .config
            .name
            .clone()
            .unwrap_or_else(|| format!("discord:{}", self.config.command.join(" ")));
        self.redactor.redact_owned(name)
    }

    fn running(&self) -> Option<Arc<FakeDiscord>> {
        self.fake
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// What the fake Discord counted so far (429s, late heartbeats, refusals); `None`
    /// before the bot was started.
    pub fn stats(&self) -> Option<DiscordStats> {
        self.running().map(|f| f.stats())
    }

    /// The checks of how the bot lives with Discord (group `discord`); none before the bot
    /// was started.
    pub fn checks(&self) -> Vec<perf_core::record::CheckResult> {
        self.stats()
            .map(|s| stats_checks(&s, Duration::from_millis(self.config.max_loop_block_ms)))
            .unwrap_or_default()
    }

    /// The run as the fake Discord saw it, for `RunResult.discord`: typing per answer,
    /// messages and edits, 429s, refusals, the event loop; `None` before the bot was
    /// started.
    pub fn summary(&self) -> Option<perf_core::record::DiscordSummary> {
        let s = self.stats()?;
        let answered = self.answered.lock().unwrap_or_else(PoisonError::into_inner);
        Some(perf_core::record::DiscordSummary {
            answers: answered.answers,
            typing: answered.typing.clone(),
            messages: s.messages,
            edits: s.edits,
            too_long: s.too_long,
            wrong_channel: s.wrong_channel,
            rate_limits: s
                .rate_limits
                .iter()
                .filter(|(_, r)| r.rate_limited + r.early_retries > 0)
                .map(|(k, r)| (k.clone(), r.clone()))
                .collect(),
            unknown_routes: s
                .unknown_routes
                .iter()
                .map(|(k, n)| (self.redactor.redact_owned(k.clone()), *n))
                .collect(),
            heartbeats: s.heartbeats,
            loop_blocked_max_ms: s.loop_blocked_max().as_secs_f64() * 1e3,
            loop_blocked_p99_ms: s.loop_blocked_p99().as_secs_f64() * 1e3,
            resumes: s.resumes,
            crashes: self.crashes.load(Ordering::Relaxed),
        })
    }

    /// Lines for the run's notes: what the bot did with Discord besides answering.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = self.stats().map(|s| stats_notes(&s)).unwrap_or_default();
        let crashes = self.crashes.load(Ordering::Relaxed);
        if crashes > 0 {
            notes.push(format!(
                "the bot process exited {crashes} time(s) during the run ({} question(s) in flight counted as crashed) and was restarted {} time(s); its stderr is in {}",
                self.crashed_queries.load(Ordering::Relaxed),
                self.restarts.load(Ordering::Relaxed),
                self.stderr_path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            ));
        }
        notes
    }

    async fn start(&self) -> Result<(), TargetError> {
        let fake = FakeDiscord::start(
            self.guild.clone(),
            FakeDiscordConfig {
                token: self.token.clone(),
                bot_name: "perf-bot".to_owned(),
                heartbeat_interval: Duration::from_millis(self.config.heartbeat_ms),
                rate_limits: self.config.rate_limits == RateLimits::Discord,
            },
        )
        .await
        .map_err(|e| TargetError::connect(e.to_string()))?;
        let fake = Arc::new(fake);
        *self.fake.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&fake));
        self.launch(&fake).await
    }

    /// Starts the bot process and waits until it has identified on the gateway.
    async fn launch(&self, fake: &FakeDiscord) -> Result<(), TargetError> {
        if let Some(dir) = self.stderr_path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr_path)
            .map_err(|e| {
                TargetError::connect(format!(
                    "cannot open the stderr log {}: {e}",
                    self.stderr_path.display()
                ))
            })?;
        let argv = &self.config.command;
        let mut cmd = bot_command(argv, &self.config.env, self.config.cwd.as_deref());
        cmd.env(ENV_TOKEN, &self.token)
            .env(ENV_API_BASE, fake.api_base())
            .env(ENV_GATEWAY_URL, fake.gateway_url())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = spawn_bot(&mut cmd, &argv[0])?;
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(copy_stderr(
                stderr,
                log,
                self.redactor.clone(),
                Arc::clone(&self.stderr_written),
            ));
        }
        self.pid.store(child.id().unwrap_or(0), Ordering::Relaxed);
        let (exit_tx, exit_rx) = watch::channel(None);
        let (stop, stopped) = oneshot::channel();
        let watcher = tokio::spawn(watch_bot(
            child,
            stopped,
            exit_tx,
            Arc::clone(&self.pid),
            Arc::clone(&self.crashes),
        ));
        *self.exited.lock().unwrap_or_else(PoisonError::into_inner) = Some(exit_rx.clone());
        if let Some(old) = self
            .process
            .lock()
            .await
            .replace(BotProcess { stop, watcher })
        {
            old.watcher.abort();
        }
        let connect = Duration::from_millis(self.config.connect_timeout_ms);
        let ready = tokio::select! {
            r = fake.ready(connect) => r.map_err(|e| e.to_string()),
            why = exit_of(exit_rx) => Err(format!("the bot exited ({why}) before it connected to the gateway")),
        };
        if let Err(why) = ready {
            let s = fake.stats();
            let hint = if s.unauthorized > 0 || s.bad_tokens > 0 {
                format!(" (it used a wrong token: does it read {ENV_TOKEN}?)")
            } else if s.connections == 0 {
                format!(" (it never opened the gateway: does it read {ENV_API_BASE} and {ENV_GATEWAY_URL}? For discord.py, run it with `python3 -m chatbot_perf.discord bot.py`)")
            } else {
                String::new()
            };
            return Err(TargetError::connect(self.redactor.redact_owned(format!(
                "{why}{hint}; its last stderr: {}",
                log_tail(&self.stderr_path)
            ))));
        }
        Ok(())
    }

    /// The end of the bot process now, watched.
    fn exit_watch(&self) -> Option<watch::Receiver<Option<String>>> {
        self.exited
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Starts a bot whose process ended again, once for all the queries that find it
    /// ended, until `max_restarts` is used up.
    async fn restart(&self, fake: &FakeDiscord) -> Result<(), TargetError> {
        let _one = self.restarting.lock().await;
        let ended = self
            .exit_watch()
            .and_then(|rx| rx.borrow().clone())
            .unwrap_or_default();
        if ended.is_empty() {
            return Ok(()); // restarted by another query meanwhile
        }
        let n = self.restarts.load(Ordering::Relaxed);
        if n >= self.config.max_restarts {
            return Err(TargetError::new(
                ErrorKind::Crashed,
                self.redactor.redact_owned(format!(
                    "the bot process exited ({ended}) and was restarted {n} time(s), its max_restarts; its last stderr: {}",
                    log_tail(&self.stderr_path)
                )),
            ));
        }
        self.restarts.fetch_add(1, Ordering::Relaxed);
        // 100 ms before the first restart, doubled each time, at most 5 s.
        tokio::time::sleep(restart_backoff(
            Duration::from_millis(100),
            u64::from(n) + 1,
        ))
        .await;
        fake.bot_gone();
        self.launch(fake).await
    }
}

/// Owns the bot process until it exits (a crash: counted, and its exit described in
/// `exit`) or `stop` comes (its group is stopped: TERM, then KILL after 2 s).
async fn watch_bot(
    mut child: Child,
    stop: oneshot::Receiver<()>,
    exit: watch::Sender<Option<String>>,
    pid: Arc<AtomicU32>,
    crashes: Arc<AtomicU64>,
) {
    let ended = tokio::select! {
        status = child.wait() => Some(status),
        _ = stop => None,
    };
    let group = crate::command::running_pid(&pid);
    let why = match ended {
        Some(status) => {
            crashes.fetch_add(1, Ordering::Relaxed);
            // What it forked dies with it.
            signal_group(group, GroupSignal::Kill);
            match status {
                Ok(s) => crate::command::describe_exit(s),
                Err(e) => format!("cannot watch the bot process: {e}"),
            }
        }
        None => {
            signal_group(group, GroupSignal::Term);
            if tokio::time::timeout(Duration::from_secs(2), child.wait())
                .await
                .is_err()
            {
                signal_group(group, GroupSignal::Kill);
                let _ = child.kill().await;
            }
            "stopped by the harness".to_owned()
        }
    };
    let _ = exit.send(Some(why));
}

/// How the process behind `rx` ended, once it has.
async fn exit_of(mut rx: watch::Receiver<Option<String>>) -> String {
    let _ = rx.wait_for(Option::is_some).await;
    let why = rx.borrow().clone();
    why.unwrap_or_default()
}

impl DiscordTarget {
    /// Starts the bot if needed, sends `query` once and reports what came back (for
    /// `orchestrator check-target`).
    pub async fn inspect(&self, query: &Query, timeout: Duration) -> crate::Inspection {
        let mut i = crate::Inspection {
            request_line: format!("MESSAGE_CREATE to {}", self.name()),
            ..crate::Inspection::default()
        };
        if let Err(e) = self.initialize().await {
            i.answer = Err(e.to_string());
            return i;
        }
        i.request_body = query.text.clone();
        match tokio::time::timeout(timeout, self.execute(query)).await {
            Ok(Ok(r)) => {
                i.response_body = self.redactor.redact_owned(r.answer.clone());
                i.streamed = r.stream_chunks.is_some_and(|c| c > 1);
                i.answer = Ok(i.response_body.clone());
            }
            Ok(Err(e)) => i.answer = Err(self.redactor.redact_owned(e.to_string())),
            Err(_) => i.answer = Err(format!("no answer within {} ms", timeout.as_millis())),
        }
        i
    }
}

/// The checks of group `discord` for these counters; `max_block` is the longest an event
/// loop may be blocked.
pub fn stats_checks(s: &DiscordStats, max_block: Duration) -> Vec<perf_core::record::CheckResult> {
    use perf_core::record::{CheckGroup, CheckResult};
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut checks = Vec::new();
    let loop_check = if s.heartbeat_lateness_ms.is_empty() {
        CheckResult::not_measured(
            CheckGroup::Discord,
            "event loop",
            format!(
                "fewer than two heartbeats came (one every {} ms): run longer, or lower heartbeat_ms",
                s.heartbeat_interval_ms
            ),
        )
    } else {
        let (max, p99) = (s.loop_blocked_max(), s.loop_blocked_p99());
        let late = s
            .heartbeat_lateness_ms
            .iter()
            .filter(|l| **l > ms(max_block))
            .count();
        if max > max_block {
            CheckResult::judged(
                CheckGroup::Discord,
                "event loop",
                false,
                format!(
                    "event loop blocked for {:.0} ms (p99 {:.0} ms; {late} of {} heartbeats later than {:.0} ms): a synchronous call in a handler? Every channel waits while it runs",
                    ms(max), ms(p99), s.heartbeat_lateness_ms.len(), ms(max_block)
                ),
            )
        } else {
            CheckResult::judged(
                CheckGroup::Discord,
                "event loop",
                true,
                format!(
                    "heartbeats on time: blocked at most {:.0} ms (p99 {:.0} ms, limit {:.0} ms)",
                    ms(max),
                    ms(p99),
                    ms(max_block)
                ),
            )
        }
    };
    checks.push(loop_check);
    checks.push(if s.early_retries() > 0 {
        CheckResult::judged(
            CheckGroup::Discord,
            "rate limits",
            false,
            format!(
                "the bot sent {} request(s) again before the retry_after of a 429 ({} 429s in all): Discord bans bots that ignore rate limits",
                s.early_retries(),
                s.rate_limited()
            ),
        )
    } else {
        CheckResult::judged(
            CheckGroup::Discord,
            "rate limits",
            true,
            format!("{} 429s, each waited out", s.rate_limited()),
        )
    });
    checks.push(CheckResult::judged(
        CheckGroup::Discord,
        "message length",
        s.too_long == 0,
        if s.too_long == 0 {
            "no message over 2,000 characters".to_owned()
        } else {
            format!("{} message(s) over 2,000 characters refused by Discord (50035): split long answers", s.too_long)
        },
    ));
    checks.push(CheckResult::judged(
        CheckGroup::Discord,
        "reply channel",
        s.wrong_channel == 0,
        if s.wrong_channel == 0 {
            "every reply in the question's channel".to_owned()
        } else {
            format!(
                "{} reply(ies) in another channel than the question's",
                s.wrong_channel
            )
        },
    ));
    checks
}

/// Notes for a run: 429s, early retries, refusals, blocking, unknown routes.
pub fn stats_notes(s: &DiscordStats) -> Vec<String> {
    let mut notes = Vec::new();
    if s.missing_message_content_intent {
        notes.push("the bot identified without the message-content intent: it sees an empty content in messages that do not mention it".to_owned());
    }
    if s.rate_limited() > 0 {
        let per_route: Vec<String> = s
            .rate_limits
            .iter()
            .filter(|(_, r)| r.rate_limited > 0)
            .map(|(k, r)| format!("{k}: {} (waited {:.1} s)", r.rate_limited, r.waited_s))
            .collect();
        notes.push(format!(
            "Discord rate-limited the bot {} time(s) (429): {}",
            s.rate_limited(),
            per_route.join("; ")
        ));
    }
    if s.early_retries() > 0 {
        notes.push(format!(
            "the bot sent {} request(s) again before the retry_after of a 429: Discord bans bots that keep doing this",
            s.early_retries()
        ));
    }
    if s.too_long > 0 {
        notes.push(format!(
            "Discord refused {} message(s) over 2,000 characters (50035): split long answers",
            s.too_long
        ));
    }
    if s.wrong_channel > 0 {
        notes.push(format!(
            "the bot replied {} time(s) in another channel than the question's",
            s.wrong_channel
        ));
    }
    if !s.unknown_routes.is_empty() {
        let routes: Vec<String> = s
            .unknown_routes
            .iter()
            .map(|(k, v)| format!("{k} ×{v}"))
            .collect();
        notes.push(format!(
            "the bot called routes the fake Discord does not serve (answered 404): {}",
            routes.join(", ")
        ));
    }
    if s.heartbeats > 1 {
        notes.push(format!(
            "event loop: {} heartbeats, blocked up to {:.0} ms (p99 {:.0} ms) by their lateness",
            s.heartbeats,
            s.loop_blocked_max().as_secs_f64() * 1e3,
            s.loop_blocked_p99().as_secs_f64() * 1e3
        ));
    }
    notes
}

#[async_trait]
impl BotTarget for DiscordTarget {
    async fn initialize(&self) -> Result<(), TargetError> {
        if self.running().is_some() {
            return Ok(());
        }
        self.start().await
    }

    async fn execute(&self, query: &Query) -> Result<BotResponse, TargetError> {
        let Some(fake) = self.running() else {
            return Err(TargetError::connect("the bot was not started"));
        };
        if self.exit_watch().is_some_and(|rx| rx.borrow().is_some()) {
            self.restart(&fake).await?;
        }
        let exited = self
            .exit_watch()
            .ok_or_else(|| TargetError::connect("the bot was not started"))?;
        let channel = self
            .guild
            .channel_for(query.channel.as_deref(), &query.id)
            .clone();
        let member = self.guild.member_for(query.user_id.as_deref()).clone();
        let (content, mention) = match &self.config.trigger {
            Trigger::Mention => (format!("<@{}> {}", fake.bot_user().id, query.text), true),
            Trigger::Prefix(p) => (format!("{p} {}", query.text), false),
        };
        let mut conversation = fake
            .send(channel.id, &member, &content, mention)
            .map_err(|e| TargetError::connect(e.to_string()))?;
        let a = tokio::select! {
            a = conversation.answer(Duration::from_millis(self.config.quiet_ms)) => a,
            why = exit_of(exited) => {
                self.crashed_queries.fetch_add(1, Ordering::Relaxed);
                return Err(TargetError::new(
                    ErrorKind::Crashed,
                    self.redactor.redact_owned(format!(
                        "the bot process exited ({why}) while the question was in flight; its last stderr: {}",
                        log_tail(&self.stderr_path)
                    )),
                ));
            }
        };
        if let Some(other) = a.wrong_channel {
            let name = self
                .guild
                .channel(other)
                .map_or_else(|| other.to_string(), |c| c.name.clone());
            return Err(TargetError::new(
                ErrorKind::Bot,
                format!(
                    "the bot replied in #{name} to a question asked in #{}",
                    channel.name
                ),
            ));
        }
        if a.messages == 0 {
            let why = if a.rejected.is_empty() {
                "the bot sent no message".to_owned()
            } else {
                format!("Discord refused the bot's reply: {}", a.rejected.join("; "))
            };
            return Err(TargetError::new(ErrorKind::Status, why));
        }
        {
            let mut answered = self.answered.lock().unwrap_or_else(PoisonError::into_inner);
            answered.answers += 1;
            if let Some(t) = a.typing {
                answered.typing.record(t);
            }
        }
        let mut r = BotResponse::new(a.content.clone(), String::new());
        r.agents.clear();
        r.time_to_first_token = a.first_message;
        r.time_to_last_token = a.last_content;
        r.stream_chunks = Some(a.messages + a.edits);
        r.settle = a
            .last_content
            .map(|last| conversation.sent().at.elapsed().saturating_sub(last));
        r.metadata = json!({
            "discord": {
                "typing_ms": a.typing.map(|d| d.as_secs_f64() * 1e3),
                "first_message_ms": a.first_message.map(|d| d.as_secs_f64() * 1e3),
                "final_ms": a.last_content.map(|d| d.as_secs_f64() * 1e3),
                "messages": a.messages,
                "edits": a.edits,
                "rejected": a.rejected,
            }
        });
        Ok(r)
    }

    async fn shutdown(&self) -> Result<(), TargetError> {
        if let Some(p) = self.process.lock().await.take() {
            let _ = p.stop.send(());
            let _ = p.watcher.await;
        }
        self.pid.store(0, Ordering::Relaxed);
        if let Some(f) = self.running() {
            f.stop();
        }
        Ok(())
    }

    fn describe(&self) -> TargetInfo {
        TargetInfo::new(self.name(), perf_core::Transport::Discord)
    }

    fn process_id(&self) -> Option<u32> {
        crate::command::running_pid(&self.pid)
    }

    fn redactor(&self) -> Redactor {
        self.redactor.clone()
    }
}
