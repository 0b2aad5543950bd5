//! A bot started as a long-lived child process speaking JSON lines on stdin/stdout.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use perf_core::{
    BotResponse, BotTarget, ErrorKind, Query, Redactor, TargetError, TargetInfo, TokenSource,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot, watch, Mutex, Notify};
use tokio::time::Instant;

use crate::spec::CommandTargetConfig;
use crate::TargetsError;

mod process;
mod protocol;
mod stats;
mod stderr;

use process::*;
pub(crate) use process::{
    bot_command, describe_exit, restart_backoff, running_pid, signal_group, spawn_bot, GroupSignal,
};
use protocol::*;
pub use stats::CommandStats;
use stats::Counters;
pub use stderr::MAX_STDERR_LOG_BYTES;
pub(crate) use stderr::{copy_stderr, log_tail};

/// The longest wait before a restart, however many crashes came before.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long `shutdown` waits for a killed process to be reaped, besides its grace periods.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// Finished ids remembered, so that a query sent again with the same id (a retry) gets a
/// fresh wire id and a late delta of the earlier attempt cannot land on it.
const FINISHED_IDS: usize = 4096;

/// A query in flight: where its reply goes, and its deltas so far.
#[derive(Debug)]
struct Waiter {
    tx: oneshot::Sender<Reply>,
    deltas: Deltas,
}

#[derive(Debug, Default)]
struct Pending {
    waiting: HashMap<String, Waiter>,
    /// The last [`FINISHED_IDS`] ids answered, oldest first.
    finished: VecDeque<String>,
    finished_set: HashSet<String>,
    /// Set once the process's stdout is gone: nothing can be answered any more.
    closed: Option<String>,
}

/// One running bot process.
#[derive(Debug)]
struct Proc {
    generation: u64,
    pid: Option<u32>,
    /// Lines for the bot's stdin; a writer task owns the pipe, so a query whose future is
    /// dropped mid-write (the runner's timeout) never leaves half a line behind. `None`
    /// once stdin is closed at shutdown.
    stdin: StdMutex<Option<mpsc::UnboundedSender<Vec<u8>>>>,
    pending: StdMutex<Pending>,
    /// Set by shutdown, so the exit is not counted as a crash.
    stopping: AtomicBool,
    kill: Notify,
    exited: watch::Receiver<bool>,
    /// Set by [`CommandTarget::inspect`]: keep the start of each line read in `captured`.
    capturing: AtomicBool,
    captured: StdMutex<Vec<Vec<u8>>>,
}

impl Pending {
    fn finish(&mut self, id: &str) -> Option<Waiter> {
        let waiter = self.waiting.remove(id)?;
        if self.finished_set.insert(id.to_owned()) {
            self.finished.push_back(id.to_owned());
            if self.finished.len() > FINISHED_IDS {
                if let Some(old) = self.finished.pop_front() {
                    self.finished_set.remove(&old);
                }
            }
        }
        Some(waiter)
    }
}

impl Proc {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn alive(&self) -> bool {
        !*self.exited.borrow() && self.pending().closed.is_none()
    }

    /// Fails every query in flight; later registrations fail at once.
    fn close(&self, reason: &str, counters: &Counters, crashed: bool) {
        let waiting = {
            let mut p = self.pending();
            p.closed = Some(reason.to_owned());
            std::mem::take(&mut p.waiting)
        };
        if crashed {
            // Counted here, before any query learns of the crash, so a caller that saw a
            // `Crashed` error also sees the crash in the counters.
            counters.crashes.fetch_add(1, Ordering::Relaxed);
            counters
                .crashed_queries
                .fetch_add(waiting.len() as u64, Ordering::Relaxed);
        }
        for (_, w) in waiting {
            let _ = w.tx.send(Err(TargetError::new(ErrorKind::Crashed, reason)));
        }
    }
}

/// Removes a query from the pending map when its `execute` future ends or is dropped (the
/// runner drops it on timeout).
struct PendingGuard {
    proc: Arc<Proc>,
    id: String,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.proc.pending().waiting.remove(&self.id);
    }
}

#[derive(Debug, Default)]
struct Slot {
    current: Option<Arc<Proc>>,
    generation: u64,
    last_exit: Option<Instant>,
    shut_down: bool,
}

/// A bot started as a long-lived child process speaking JSON lines.
///
/// Each query is one line on the bot's stdin,
/// `{"id": "...", "query": "...", "user_id": "..." | null, "channel": "..." | null}`, and
/// the bot answers with one line on stdout,
/// `{"id": "...", "answer": "...", "agent": "..." | null, "error": "..." | null}`, in any
/// order; many queries are in flight at once. The bot's stderr is appended to a log file in
/// the run directory.
///
/// A bot may stream: before its answer line it writes `{"id": "...", "delta": "text"}`
/// lines, and the target times the first and last delta from when it sent the request
/// (`time_to_first_token`, `time_to_last_token`), counts them (`stream_chunks`), and takes
/// the token count from the answer line's `tokens` (or `usage.completion_tokens`) when
/// present, else the delta count. The answer line's `answer` wins over the joined deltas;
/// without it the deltas are the answer. Deltas for an id not in flight are counted in
/// [`CommandStats::stray_deltas`] and ignored. See `docs/targets.md`.
///
/// If the process dies, the queries in flight fail with [`ErrorKind::Crashed`], and the
/// next query restarts it after a backoff (doubling from `restart_backoff_ms`, at most 5 s),
/// up to `max_restarts` times; after that queries fail at once with `Crashed`.
/// [`CommandTarget::stats`] counts crashes, restarts and ignored lines.
pub struct CommandTarget {
    config: CommandTargetConfig,
    stderr_path: PathBuf,
    slot: Mutex<Slot>,
    fast: StdMutex<Option<Arc<Proc>>>,
    pid: AtomicU32,
    counters: Arc<Counters>,
    wire_ids: AtomicU64,
    /// Secret `env` values, removed from stderr and from everything the bot sends.
    redactor: Redactor,
    /// Bytes written to the stderr log so far, against [`MAX_STDERR_LOG_BYTES`].
    stderr_written: Arc<AtomicU64>,
}

impl fmt::Debug for CommandTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandTarget")
            .field("name", &self.name())
            .field("stderr_path", &self.stderr_path)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl CommandTarget {
    /// A target for `config`; its stderr log goes under `run_dir` (created if missing).
    /// The process starts on [`BotTarget::initialize`] or the first query.
    pub fn new(config: CommandTargetConfig, run_dir: &Path) -> Result<Self, TargetsError> {
        if config.command.first().is_none_or(String::is_empty) {
            return Err(TargetsError::config(
                "target.command",
                "must name a program",
            ));
        }
        crate::spec::check_own_timeout(config.timeout_ms)?;
        if config.max_line_bytes == 0 {
            return Err(TargetsError::config(
                "target.max_line_bytes",
                "must be positive",
            ));
        }
        if let Some(log) = &config.stderr_log {
            let inside = !log.as_os_str().is_empty()
                && log.components().all(|c| {
                    matches!(
                        c,
                        std::path::Component::Normal(_) | std::path::Component::CurDir
                    )
                });
            if !inside {
                return Err(TargetsError::config(
                    "target.stderr_log",
                    format!(
                        "`{}` must be a relative path inside the run directory, without `..` \
                         (for example `bot-stderr.log` or `logs/bot.log`)",
                        log.display()
                    ),
                ));
            }
        }
        std::fs::create_dir_all(run_dir).map_err(|source| TargetsError::Io {
            path: run_dir.to_owned(),
            source,
        })?;
        let stderr_path = run_dir.join(
            config
                .stderr_log
                .clone()
                .unwrap_or_else(|| PathBuf::from("bot-stderr.log")),
        );
        if let Some(parent) = stderr_path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| TargetsError::Io {
                path: parent.to_owned(),
                source,
            })?;
        }
        Ok(Self {
            redactor: config.redactor(),
            config,
            stderr_path,
            slot: Mutex::new(Slot::default()),
            fast: StdMutex::new(None),
            pid: AtomicU32::new(0),
            counters: Arc::new(Counters::default()),
            wire_ids: AtomicU64::new(0),
            stderr_written: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The file the bot's stderr is appended to.
    pub fn stderr_path(&self) -> &Path {
        &self.stderr_path
    }

    /// How the last process that died while in use ended (`exit code 3`, `killed by
    /// signal 9`); `None` while none has.
    pub fn last_exit(&self) -> Option<String> {
        self.counters
            .last_exit
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How often the process died while in use.
    pub fn crash_count(&self) -> u64 {
        self.counters.crashes.load(Ordering::Relaxed)
    }

    /// All counters.
    pub fn stats(&self) -> CommandStats {
        let c = &self.counters;
        CommandStats {
            starts: c.starts.load(Ordering::Relaxed),
            crashes: c.crashes.load(Ordering::Relaxed),
            crashed_queries: c.crashed_queries.load(Ordering::Relaxed),
            invalid_lines: c.invalid_lines.load(Ordering::Relaxed),
            unknown_ids: c.unknown_ids.load(Ordering::Relaxed),
            stray_deltas: c.stray_deltas.load(Ordering::Relaxed),
        }
    }

    fn name(&self) -> String {
        let name = self
            .config
            .name
            .clone()
            .unwrap_or_else(|| self.config.command.join(" "));
        self.redactor.redact_owned(name)
    }

    fn backoff(&self, crashes: u64) -> Duration {
        restart_backoff(
            Duration::from_millis(self.config.restart_backoff_ms),
            crashes,
        )
    }

    /// The running process, starting or restarting it when needed.
    async fn running(&self) -> Result<Arc<Proc>, TargetError> {
        if let Some(p) = self
            .fast
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            if p.alive() {
                return Ok(Arc::clone(p));
            }
        }
        let mut slot = self.slot.lock().await;
        if slot.shut_down {
            return Err(TargetError::connect("the command target was shut down"));
        }
        if let Some(p) = &slot.current {
            if p.alive() {
                return Ok(Arc::clone(p));
            }
            // The process is gone; remember when, for the backoff.
            if slot.last_exit.is_none() {
                slot.last_exit = Some(Instant::now());
            }
        }
        if slot.generation > 0 {
            let crashes = self.crash_count();
            let restarts = slot.generation - 1;
            if restarts >= u64::from(self.config.max_restarts) {
                return Err(TargetError::new(
                    ErrorKind::Crashed,
                    format!(
                        "the bot process died {crashes} time(s); restart limit ({}) reached",
                        self.config.max_restarts
                    ),
                ));
            }
            if let Some(exit) = slot.last_exit {
                tokio::time::sleep_until(exit + self.backoff(crashes.max(1))).await;
            }
        }
        let proc = self.spawn(slot.generation + 1)?;
        slot.generation += 1;
        slot.current = Some(Arc::clone(&proc));
        slot.last_exit = None;
        *self.fast.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&proc));
        Ok(proc)
    }

    fn spawn(&self, generation: u64) -> Result<Arc<Proc>, TargetError> {
        let argv = &self.config.command;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr_path)
            .map_err(|e| {
                TargetError::connect(format!(
                    "cannot open the stderr log {}: {e}",
                    self.stderr_path.display()
                ))
            })?;
        // A marker between runs of the process; the log is for people, a failed write is not
        // worth failing the query for.
        let _ = writeln!(
            log,
            "--- perf-targets: starting bot process (start #{generation}) ---"
        );
        let mut cmd = bot_command(argv, &self.config.env, self.config.cwd.as_deref());
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn_bot(&mut cmd, &argv[0])?;
        self.counters.starts.fetch_add(1, Ordering::Relaxed);
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(TargetError::connect(
                "the child process has no stdin/stdout/stderr pipes",
            ));
        };
        let stderr_task = tokio::spawn(copy_stderr(
            stderr,
            log,
            self.redactor.clone(),
            Arc::clone(&self.stderr_written),
        ));
        let pid = child.id();
        self.pid.store(pid.unwrap_or(0), Ordering::Relaxed);
        let (exited_tx, exited_rx) = watch::channel(false);
        let (lines_tx, lines_rx) = mpsc::unbounded_channel();
        tokio::spawn(write_lines(stdin, lines_rx));
        let proc = Arc::new(Proc {
            generation,
            pid,
            stdin: StdMutex::new(Some(lines_tx)),
            pending: StdMutex::new(Pending::default()),
            stopping: AtomicBool::new(false),
            kill: Notify::new(),
            exited: exited_rx,
            capturing: AtomicBool::new(false),
            captured: StdMutex::new(Vec::new()),
        });
        tokio::spawn(supervise(
            Arc::clone(&proc),
            Io {
                child,
                stdout,
                stderr_task,
            },
            Arc::clone(&self.counters),
            self.config.max_line_bytes,
            Duration::from_millis(self.config.shutdown_grace_ms),
            exited_tx,
        ));
        Ok(proc)
    }

    fn wire_id(
        &self,
        query: &Query,
        proc: &Proc,
    ) -> Result<(String, oneshot::Receiver<Reply>), TargetError> {
        let (tx, rx) = oneshot::channel();
        let mut p = proc.pending();
        if let Some(reason) = &p.closed {
            return Err(TargetError::new(ErrorKind::Crashed, reason.clone()));
        }
        let id = if p.waiting.contains_key(&query.id) || p.finished_set.contains(&query.id) {
            format!(
                "{}#{}",
                query.id,
                self.wire_ids.fetch_add(1, Ordering::Relaxed)
            )
        } else {
            query.id.clone()
        };
        p.waiting.insert(
            id.clone(),
            Waiter {
                tx,
                deltas: Deltas::default(),
            },
        );
        Ok((id, rx))
    }
}

async fn write_lines(mut stdin: ChildStdin, mut lines: mpsc::UnboundedReceiver<Vec<u8>>) {
    let mut buf = Vec::new();
    while let Some(line) = lines.recv().await {
        buf.clear();
        buf.extend_from_slice(&line);
        while buf.len() < 64 * 1024 {
            match lines.try_recv() {
                Ok(more) => buf.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        if stdin.write_all(&buf).await.is_err() {
            // The process is gone; the stdout reader notices and fails its queries.
            return;
        }
    }
}

/// A started process and the ends of its pipes that [`supervise`] owns.
#[derive(Debug)]
struct Io {
    child: Child,
    stdout: ChildStdout,
    /// The task copying stderr into the log ([`copy_stderr`]).
    stderr_task: tokio::task::JoinHandle<()>,
}

/// Reads answers until stdout closes (or a kill is asked for), then stops the process and
/// its whole process group: SIGTERM, `grace`, SIGKILL. A process that closed its stdout
/// first gets `grace` to exit on its own before the SIGTERM.
async fn supervise(
    proc: Arc<Proc>,
    io: Io,
    counters: Arc<Counters>,
    max_line: usize,
    grace: Duration,
    exited: watch::Sender<bool>,
) {
    let Io {
        mut child,
        stdout,
        stderr_task,
    } = io;
    let killed = tokio::select! {
        () = read_answers(&proc, stdout, &counters, max_line) => false,
        () = proc.kill.notified() => true,
    };
    let stopping = proc.stopping.load(Ordering::Relaxed);
    let reason = if stopping {
        "the bot process was stopped at shutdown".to_owned()
    } else {
        format!(
            "the bot process (start #{}) died or closed its stdout",
            proc.generation
        )
    };
    proc.close(&reason, &counters, !stopping);
    let group = proc.pid;
    if killed {
        signal_group(group, GroupSignal::Term);
    }
    // Stdout is closed; a process that lingers is useless, so it gets the grace time to exit.
    let status = match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => status,
        Err(_) if killed => {
            signal_group(group, GroupSignal::Kill);
            let _ = child.start_kill();
            child.wait().await
        }
        Err(_) => {
            signal_group(group, GroupSignal::Term);
            match tokio::time::timeout(grace, child.wait()).await {
                Ok(status) => status,
                Err(_) => {
                    signal_group(group, GroupSignal::Kill);
                    let _ = child.start_kill();
                    child.wait().await
                }
            }
        }
    };
    // The workers it forked may outlive it: the rest of the group goes the same way.
    stop_group(group, grace).await;
    // Everything the process wrote is in the log before anyone learns it exited (a start
    // that fails quotes the log's end).
    let _ = tokio::time::timeout(grace.max(Duration::from_millis(100)), stderr_task).await;
    if !stopping {
        if let Ok(status) = &status {
            *counters
                .last_exit
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(describe_exit(*status));
        }
        tracing::warn!(
            generation = proc.generation,
            status = ?status.ok(),
            "bot process exited during the run"
        );
    }
    let _ = exited.send(true);
}

impl CommandTarget {
    /// Sends `query` once and reports the exchange, redacted: the JSON line written to
    /// stdin, the line(s) read back (the first 2 KB of each, the answer line last) and the
    /// answer as the run reads it. Starts the process if needed; `timeout` and the
    /// target's `timeout_ms` bound the wait (the shorter wins).
    pub async fn inspect(&self, query: &Query, timeout: Duration) -> crate::Inspection {
        let redactor = self.redactor();
        let sent = serde_json::to_string(&RequestLine {
            id: &query.id,
            query: &query.text,
            user_id: query.user_id.as_deref(),
            channel: query.channel.as_deref(),
        })
        .unwrap_or_default();
        let mut out = crate::Inspection {
            request_line: format!("stdin of {}", self.name()),
            request_body: redactor.redact_owned(sent),
            answer: Err("no answer".to_owned()),
            ..crate::Inspection::default()
        };
        let proc = match self.running().await {
            Ok(p) => p,
            Err(e) => {
                out.answer = Err(redactor.redact_owned(format!("{}: {}", e.kind, e.message)));
                return out;
            }
        };
        proc.capturing.store(true, Ordering::Relaxed);
        let (limit, setting) = crate::spec::effective_timeout(
            timeout,
            self.config.timeout_ms.map(Duration::from_millis),
        );
        let result = tokio::time::timeout(limit, self.execute(query)).await;
        proc.capturing.store(false, Ordering::Relaxed);
        let lines =
            std::mem::take(&mut *proc.captured.lock().unwrap_or_else(PoisonError::into_inner));
        out.streamed = lines.len() > 1;
        let joined: Vec<String> = lines
            .iter()
            .map(|l| redactor.redact_owned(String::from_utf8_lossy(l).into_owned()))
            .map(|l| {
                let mut end = l.len().min(crate::INSPECT_BODY_BYTES);
                while !l.is_char_boundary(end) {
                    end -= 1;
                }
                l[..end].to_owned()
            })
            .collect();
        out.response_bytes = lines.iter().map(Vec::len).sum();
        out.response_body = joined.join("\n");
        out.answer = match result {
            Ok(Ok(r)) => {
                out.agents = vec![(
                    "agent / agents".to_owned(),
                    (!r.agents.is_empty()).then(|| redactor.redact_owned(r.agents.join(", "))),
                )];
                Ok(redactor.redact_owned(r.answer))
            }
            Ok(Err(e)) => Err(redactor.redact_owned(format!("{}: {}", e.kind, e.message))),
            Err(_) => Err(format!(
                "no answer line within {} ms ({setting})",
                limit.as_millis()
            )),
        };
        if out.answer.is_err() {
            if let Some(doc) = lines
                .last()
                .and_then(|l| serde_json::from_slice::<Value>(l).ok())
            {
                out.suggestion = crate::longest_string(&doc).map(|(p, s)| {
                    (
                        p,
                        redactor.redact_owned(perf_core::cut(&s, 200).into_owned()),
                    )
                });
            }
        }
        out
    }
}

#[async_trait]
impl BotTarget for CommandTarget {
    async fn initialize(&self) -> Result<(), TargetError> {
        let proc = self.running().await?;
        let watch_for = Duration::from_millis(self.config.startup_check_ms);
        if watch_for.is_zero() {
            return Ok(());
        }
        let mut exited = proc.exited.clone();
        let died = tokio::time::timeout(watch_for, exited.wait_for(|e| *e))
            .await
            .is_ok();
        if died {
            return Err(TargetError::connect(format!(
                "the bot process exited right after starting; the end of {}: {}",
                self.stderr_path.display(),
                self.redactor.redact_owned(log_tail(&self.stderr_path))
            )));
        }
        Ok(())
    }

    async fn execute(&self, query: &Query) -> Result<BotResponse, TargetError> {
        let proc = self.running().await?;
        let (id, rx) = self.wire_id(query, &proc)?;
        let _guard = PendingGuard {
            proc: Arc::clone(&proc),
            id: id.clone(),
        };
        let mut line = serde_json::to_vec(&RequestLine {
            id: &id,
            query: &query.text,
            user_id: query.user_id.as_deref(),
            channel: query.channel.as_deref(),
        })
        .map_err(|e| TargetError::new(ErrorKind::Other, format!("cannot encode the query: {e}")))?;
        line.push(b'\n');
        let sent_at = Instant::now();
        let queued = proc
            .stdin
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|tx| tx.send(line).is_ok());
        if !queued {
            return Err(TargetError::new(
                ErrorKind::Crashed,
                "cannot write to the bot process: its stdin is closed",
            ));
        }
        // Without a limit of its own the target waits as long as the caller does: the
        // runner's `query_timeout` is each query's deadline.
        let answered = match self.config.timeout_ms {
            Some(ms) => tokio::time::timeout(Duration::from_millis(ms), rx)
                .await
                .map_err(|_| {
                    TargetError::timeout(format!(
                        "no answer line within {ms} ms (target.timeout_ms)"
                    ))
                })?,
            None => rx.await,
        };
        let (reply, mut deltas) = match answered {
            Ok(reply) => reply?,
            Err(_) => {
                return Err(TargetError::new(
                    ErrorKind::Crashed,
                    "the bot process went away before answering",
                ))
            }
        };
        if let Some(error) = reply.error {
            return Err(TargetError::bot(error));
        }
        let reported = reported_tokens(&reply)?;
        // The answer line's text wins over the deltas; without one, the deltas are the
        // answer (when they all fit).
        let (answer, deltas_match) = match reply.answer {
            Some(answer) => {
                let matches =
                    (deltas.count > 0 && !deltas.truncated).then(|| deltas.text == answer);
                (answer, matches)
            }
            None if deltas.count > 0 && deltas.truncated => {
                return Err(TargetError::invalid_response(format!(
                    "the streamed answer is longer than max_line_bytes ({}) and the answer line has no `answer`",
                    self.config.max_line_bytes
                )))
            }
            None if deltas.count > 0 => (std::mem::take(&mut deltas.text), Some(true)),
            None => {
                return Err(TargetError::invalid_response(
                    "the answer line has neither `answer` nor `error`",
                ))
            }
        };
        let mut agents = reply.agents.unwrap_or_default();
        if agents.is_empty() {
            agents.extend(reply.agent);
        }
        let mut metadata = json!({"process": {
            "start": proc.generation,
            "crashes": self.crash_count(),
        }});
        if let Some(bot) = reply.metadata {
            metadata["bot"] = bot;
        }
        let mut response = BotResponse {
            answer,
            agents,
            completion_tokens: reported,
            token_source: reported.map(|_| TokenSource::Reported),
            ..BotResponse::default()
        };
        if let (Some(first), Some(last)) = (deltas.first, deltas.last) {
            response.time_to_first_token = Some(first.saturating_duration_since(sent_at));
            response.time_to_last_token = Some(last.saturating_duration_since(sent_at));
            response.stream_chunks = Some(deltas.count);
            if reported.is_none() {
                response.completion_tokens = Some(deltas.count);
                response.token_source = Some(TokenSource::CountedChunks);
            }
            metadata["stream"] = json!({
                "deltas": deltas.count,
                "deltas_match_answer": deltas_match,
            });
        }
        response.metadata = metadata;
        Ok(response)
    }

    async fn shutdown(&self) -> Result<(), TargetError> {
        let proc = {
            let mut slot = self.slot.lock().await;
            slot.shut_down = true;
            slot.current.take()
        };
        *self.fast.lock().unwrap_or_else(PoisonError::into_inner) = None;
        let Some(proc) = proc else {
            return Ok(());
        };
        proc.stopping.store(true, Ordering::Relaxed);
        // Descendants that left the bot's process group (`setsid`, `setpgid`) are not
        // reached by the group's signals: found now, while the bot is alive and still
        // their ancestor, and stopped after it.
        let escaped = proc.pid.map(escaped_descendants).unwrap_or_default();
        drop(
            proc.stdin
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let mut exited = proc.exited.clone();
        let grace = Duration::from_millis(self.config.shutdown_grace_ms);
        if tokio::time::timeout(grace, exited.wait_for(|e| *e))
            .await
            .is_err()
        {
            proc.kill.notify_one();
            // SIGTERM and grace for the process, then for what is left of its group.
            let wait = grace.saturating_mul(3).saturating_add(KILL_WAIT);
            if tokio::time::timeout(wait, exited.wait_for(|e| *e))
                .await
                .is_err()
            {
                return Err(TargetError::new(
                    ErrorKind::Other,
                    format!("the bot process {:?} did not exit after kill", proc.pid),
                ));
            }
        }
        stop_processes(&escaped, grace).await;
        self.pid.store(0, Ordering::Relaxed);
        Ok(())
    }

    fn process_id(&self) -> Option<u32> {
        process::running_pid(&self.pid)
    }

    fn describe(&self) -> TargetInfo {
        TargetInfo::new(self.name(), perf_core::Transport::Command)
    }

    fn redactor(&self) -> Redactor {
        self.redactor.clone()
    }
}
