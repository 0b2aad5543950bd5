use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use perf_core::record::{ResourceSample, RunResult, ScheduleStats};
use perf_core::{BotTarget, LoadProfile, OpenLoop, Query, TargetError};
use tokio::runtime::RuntimeFlavor;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::exec::run_query;
use crate::monitor::monitor_thread;
use crate::record::{lock, Aggregator, PlanIndex, Recorder, SamplesWriter, Shared, Timing};
use crate::{Plan, RunEvent, RunnerConfig, RunnerError};

/// What one plan did, beside the samples folded into the [`RunResult`].
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct PlanStats {
    /// Queries sent (every query that started, whatever its outcome).
    pub sent: u64,
    /// Of those, answered with every expectation met.
    pub succeeded: u64,
    /// Open-loop arrivals dropped at the in-flight cap.
    pub dropped: u64,
    /// Queries that started more than `ScheduleStats::LATE_THRESHOLD_US` after their
    /// intended time.
    pub late: u64,
    /// Queries still in flight when the grace period after a cancellation ran out; they are
    /// not in the result.
    pub abandoned: u64,
    /// Wall time of the plan, seconds.
    pub wall_time_s: f64,
    /// `true` when the plan was cancelled before its end.
    pub interrupted: bool,
    /// A closed loop's rate ceiling (`rate_limit_per_second`), when it had one.
    pub ceiling_per_s: Option<f64>,
    /// Queries sent per second of the plan's wall time.
    pub achieved_per_s: f64,
}

/// Runs plans against a target: closed or open loop, with timeouts, retries, expectation
/// checks, cancellation and resource monitoring. See the crate documentation.
pub struct Runner {
    target: Arc<dyn BotTarget>,
    config: RunnerConfig,
    events: Option<UnboundedSender<RunEvent>>,
    cancel: CancellationToken,
    end_grace: CancellationToken,
    samples_started: AtomicBool,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("target", &self.target.describe())
            .field("config", &self.config)
            .field("events", &self.events.is_some())
            .field("cancelled", &self.cancel.is_cancelled())
            .finish()
    }
}

/// What every task of a plan shares.
struct Ctx {
    target: Arc<dyn BotTarget>,
    queries: Vec<Query>,
    t0: Instant,
    offset_us: u64,
    timeout: Duration,
    retry: crate::RetryPolicy,
    cancel: CancellationToken,
    hard_stop: CancellationToken,
    shared: Arc<Shared>,
    abandoned: AtomicU64,
}

impl Ctx {
    fn timing(&self, intended: Instant, start: Instant, end: Instant) -> Timing {
        let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Timing {
            scheduled_at_us: self.offset_us + us(intended.saturating_duration_since(self.t0)),
            start_lag_us: us(start.saturating_duration_since(intended)),
            latency_us: us(end.saturating_duration_since(intended)),
            service_us: us(end.saturating_duration_since(start)),
        }
    }
}

impl Runner {
    /// A runner for `target`.
    pub fn new(target: Arc<dyn BotTarget>, config: RunnerConfig) -> Self {
        Self {
            target,
            config,
            events: None,
            cancel: CancellationToken::new(),
            end_grace: CancellationToken::new(),
            samples_started: AtomicBool::new(false),
        }
    }

    /// Sends progress events to `tx`.
    pub fn with_events(mut self, tx: UnboundedSender<RunEvent>) -> Self {
        self.events = Some(tx);
        self
    }

    /// Stops runs when `token` is cancelled (the binaries wire Ctrl-C and SIGTERM to it).
    pub fn with_cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// Ends the grace period after a cancellation as soon as `token` is cancelled (a second
    /// Ctrl-C): queries still in flight are abandoned at once and the run returns what
    /// finished.
    pub fn with_end_grace(mut self, token: CancellationToken) -> Self {
        self.end_grace = token;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &RunnerConfig {
        &self.config
    }

    /// Calls the target's `initialize` (once per run, before the first plan; `run` does not).
    pub async fn initialize(&self) -> Result<(), TargetError> {
        self.target.initialize().await
    }

    /// Calls the target's `shutdown` (once per run, after the last plan, also after an
    /// interruption; `run` does not).
    pub async fn shutdown(&self) -> Result<(), TargetError> {
        self.target.shutdown().await
    }

    fn event(&self, e: RunEvent) {
        if let Some(tx) = &self.events {
            let _ = tx.send(e);
        }
    }

    /// Runs one plan, folding samples into `result` (which may already hold other plans'
    /// samples: the orchestrator runs several scenarios into one RunResult). Adds this
    /// plan's wall time to `result.wall_time_s`, sets `result.interrupted` on cancellation.
    ///
    /// Sample times are counted from the start of the run, taken as the wall time already
    /// in `result`, so consecutive plans follow each other on the timeline.
    pub async fn run(&self, plan: &Plan, result: &mut RunResult) -> Result<PlanStats, RunnerError> {
        plan.validate()?;
        self.config.validate()?;

        let writer = match &self.config.samples_path {
            Some(path) => {
                let append = self.samples_started.swap(true, Ordering::AcqRel);
                let w = SamplesWriter::open(path.clone(), append).map_err(|source| {
                    RunnerError::Samples {
                        path: path.clone(),
                        source,
                    }
                })?;
                Some(Mutex::new(Some(w)))
            }
            None => None,
        };
        let index = Arc::new(PlanIndex::new(&plan.queries));
        let shared = Arc::new(Shared {
            index: index.clone(),
            agg: Mutex::new(Aggregator::new(index, result.goodput.as_ref())),
            writer,
            events: self.events.clone(),
            sample_events: self.config.sample_events,
            sample_sink: plan.sample_sink.clone(),
            redactor: self.target.redactor(),
        });
        let offset_s = result.wall_time_s.max(0.0);
        self.event(RunEvent::Started {
            planned: plan.planned_queries(),
        });

        let monitor = self.config.monitor.map(|m| {
            let (stop, rx) = std::sync::mpsc::channel::<()>();
            let events = self.events.clone();
            // Asked at every reading: a target that restarts its process gets a new pid.
            let target = self.target.clone();
            let handle = std::thread::Builder::new()
                .name("perf-runner-monitor".into())
                .spawn(move || {
                    let pid = move || target.process_id();
                    monitor_thread(m.interval, pid, offset_s, rx, |s| {
                        if let Some(tx) = &events {
                            let _ = tx.send(RunEvent::Resource(s.clone()));
                        }
                    })
                });
            (stop, handle)
        });

        let t0 = Instant::now();
        let ctx = Arc::new(Ctx {
            target: self.target.clone(),
            queries: plan.queries.clone(),
            t0,
            offset_us: (offset_s * 1e6) as u64,
            timeout: self.config.query_timeout,
            retry: self.config.retry,
            cancel: self.cancel.clone(),
            hard_stop: CancellationToken::new(),
            shared: shared.clone(),
            abandoned: AtomicU64::new(0),
        });
        let tracker = TaskTracker::new();
        match &plan.load {
            LoadProfile::Closed(c) => {
                // A shard with no user (fewer users than shards) sends none of this plan.
                if let Some(share) = crate::shard_closed(c, self.config.shard) {
                    self.closed_loop(&ctx, &tracker, &share, plan.max_queries, plan.chain)
                }
            }
            LoadProfile::Open(o) => {
                let cap = plan.max_queries.unwrap_or(u64::MAX);
                let seed = self.config.seed;
                let shard = self.config.shard;
                let handle = tokio::runtime::Handle::current();
                if handle.runtime_flavor() == RuntimeFlavor::CurrentThread {
                    open_schedule(
                        ctx.clone(),
                        tracker.clone(),
                        o.clone(),
                        cap,
                        (seed, shard),
                        Waits::Tokio,
                    )
                    .await;
                } else {
                    // On a multi-thread runtime the schedule runs on a thread of its own:
                    // a worker woken by tokio's timer for every arrival wakes a second
                    // worker too, which costs more CPU than the query itself.
                    let schedule = open_schedule(
                        ctx.clone(),
                        tracker.clone(),
                        o.clone(),
                        cap,
                        (seed, shard),
                        Waits::Thread,
                    );
                    if tokio::task::spawn_blocking(move || handle.block_on(schedule))
                        .await
                        .is_err()
                    {
                        // The blocking pool refused or the schedule panicked: stop sending;
                        // what was recorded stays.
                        tracing::warn!("the open-loop schedule thread ended abnormally");
                    }
                }
            }
        }
        tracker.close();
        tokio::select! {
            biased;
            _ = tracker.wait() => {}
            _ = self.cancel.cancelled() => {
                if !tracker.is_empty() {
                    self.event(RunEvent::Phase("grace period".to_owned()));
                }
                let grace_over = tokio::select! {
                    r = tokio::time::timeout(self.config.grace_period, tracker.wait()) => r.is_err(),
                    _ = self.end_grace.cancelled() => true,
                };
                if grace_over {
                    ctx.hard_stop.cancel();
                    tracker.wait().await;
                }
            }
        }
        let wall = t0.elapsed().as_secs_f64();
        let interrupted = self.cancel.is_cancelled();
        let abandoned = ctx.abandoned.load(Ordering::Relaxed);
        drop(ctx);

        let readings = match monitor {
            Some((stop, Ok(handle))) => {
                let _ = stop.send(());
                tokio::task::spawn_blocking(move || handle.join().unwrap_or_default())
                    .await
                    .unwrap_or_default()
            }
            // The thread could not be started: the run goes on without readings.
            Some((_, Err(_))) | None => Vec::new(),
        };

        // Every task has finished and flushed; take the state out of the shared cell.
        let samples_result = match &shared.writer {
            Some(w) => match lock(w).take() {
                Some(w) => w.finish(),
                None => Ok(()),
            },
            None => Ok(()),
        };
        let agg = std::mem::replace(
            &mut *lock(&shared.agg),
            Aggregator::new(shared.index.clone(), None),
        );
        let mut plan_result = agg.finish();
        plan_result.interrupted = interrupted;

        let sent = plan_result.overall.count - plan_result.schedule.dropped;
        let achieved_per_s = if wall > 0.0 { sent as f64 / wall } else { 0.0 };
        // A shard's notes and ceiling are about its own slice of the plan.
        let load = shard_load(&plan.load, self.config.shard);
        let ceiling_per_s = match &load {
            LoadProfile::Closed(c) => c.rate_limit_per_second,
            LoadProfile::Open(_) => None,
        };
        let stats = PlanStats {
            sent,
            ceiling_per_s,
            achieved_per_s,
            succeeded: plan_result.overall.successes,
            dropped: plan_result.schedule.dropped,
            late: plan_result.schedule.late_starts,
            abandoned,
            wall_time_s: wall,
            interrupted,
        };
        let before = result.wall_time_s;
        move_into_empty(result, &mut plan_result);
        result.merge(&plan_result);
        result.wall_time_s = before + wall;
        fold_readings(result, readings);
        if let Some(note) = ceiling_note(&load, sent, achieved_per_s) {
            result.notes.push(note);
        }
        if let Some(note) = open_note(&load, &stats, wall) {
            result.notes.push(note);
        }
        if abandoned > 0 {
            result.notes.push(format!(
                "{abandoned} queries were still in flight when the grace period after the cancellation ran out; they are not counted"
            ));
        }
        self.event(RunEvent::Finished { interrupted });
        match samples_result {
            Ok(()) => Ok(stats),
            Err((path, source)) => Err(RunnerError::Samples { path, source }),
        }
    }

    fn closed_loop(
        &self,
        ctx: &Arc<Ctx>,
        tracker: &TaskTracker,
        share: &crate::ClosedShare,
        max_queries: Option<u64>,
        chain: usize,
    ) {
        let c = &share.load;
        let len = ctx.queries.len() as u64;
        let total = match (c.duration, max_queries) {
            (None, Some(m)) => m.min(len),
            (None, None) => len,
            (Some(_), Some(m)) => m,
            (Some(_), None) => u64::MAX,
        };
        let params = ClosedParams {
            total,
            chain: chain.max(1) as u64,
            think: c.think_time,
            deadline: c.duration.map(|d| later(ctx.t0, d)),
        };
        let ceiling = c.rate_limit_per_second.map(|r| {
            Arc::new(Ceiling {
                // Validated finite and positive; a rate too small for a Duration waits
                // "forever" (the deadline or the query count ends the loop).
                gap: Duration::try_from_secs_f64(1.0 / r)
                    .unwrap_or(Duration::from_secs(30 * 365 * 86_400)),
                next: Mutex::new(ctx.t0),
            })
        });
        self.event(RunEvent::Phase(format!(
            "closed loop: {} users{}",
            c.users,
            c.rate_limit_per_second
                .map(|r| format!(", {r}/s"))
                .unwrap_or_default()
        )));
        let next = Arc::new(AtomicU64::new(0));
        // This shard's chains: every `active`-th from its slot.
        let chains = total
            .div_ceil(params.chain)
            .saturating_sub(share.slot)
            .div_ceil(share.active);
        let users = usize::try_from(chains).map_or(c.users, |t| c.users.min(t));
        let deal = Deal {
            active: share.active,
            slot: share.slot,
        };
        for _ in 0..users {
            tracker.spawn(closed_worker(
                ctx.clone(),
                params,
                ceiling.clone(),
                next.clone(),
                deal,
            ));
        }
    }
}

/// How the open-loop scheduler waits for an arrival's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waits {
    /// On tokio's timer (1 ms resolution; follows a paused clock in tests).
    Tokio,
    /// By sleeping its own thread (finer resolution, and no runtime worker is woken
    /// per arrival).
    Thread,
}

/// Parks this thread until `deadline` or a cancellation (which unparks it, see
/// [`unpark_on_cancel`]); returns `true` when cancelled.
fn sleep_thread_until(deadline: Instant, cancel: &CancellationToken) -> bool {
    let deadline = deadline.into_std();
    loop {
        if cancel.is_cancelled() {
            return true;
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            return false;
        }
        // Wakes early on an unpark (a cancellation, or a stale or spurious one): the loop
        // looks again.
        std::thread::park_timeout(deadline - now);
    }
}

/// Unparks the calling thread when `cancel` fires, until the returned guard is dropped.
/// Without it a parked schedule thread would have to wake now and then to look, which at
/// low rates costs more CPU than the arrivals themselves.
fn unpark_on_cancel(cancel: &CancellationToken) -> AbortOnDrop {
    let thread = std::thread::current();
    let cancel = cancel.clone();
    AbortOnDrop(tokio::spawn(async move {
        cancel.cancelled().await;
        thread.unpark();
    }))
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs an open loop's arrival schedule: each arrival is sent at its intended time, or
/// recorded as dropped when `max_in_flight` queries are in flight.
async fn open_schedule(
    ctx: Arc<Ctx>,
    tracker: TaskTracker,
    o: OpenLoop,
    cap: u64,
    (seed, shard): (u64, perf_core::Shard),
    waits: Waits,
) {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut dropped = Recorder::immediate(ctx.shared.clone());
    let mut stage = usize::MAX;
    let mut inline = true;
    let mut slow_polls = 0u32;
    let len = ctx.queries.len();
    let max_in_flight = crate::shard_max_in_flight(o.max_in_flight, shard);
    // Arrival k of the one-machine schedule, when it is this shard's; `k` also picks the
    // query, so the shards together send what one machine would.
    let mut schedule = crate::shard_arrivals(&o, seed, shard)
        .take_while(|(k, _)| *k < cap)
        .peekable();
    let mut next_timer: Option<(Instant, Pin<Box<Sleep>>)> = None;
    let mut last_wake = ctx.t0;
    let _unpark = (waits == Waits::Thread).then(|| unpark_on_cancel(&ctx.cancel));
    while let Some((k, arrival)) = schedule.next() {
        if ctx.cancel.is_cancelled() {
            break;
        }
        if arrival.stage != stage {
            stage = arrival.stage;
            if let Some(s) = o.stages.get(stage) {
                ctx.shared.event(RunEvent::Phase(format!(
                    "stage {}/{}: {}→{}/s for {:.1} s",
                    stage + 1,
                    o.stages.len(),
                    s.start_rate,
                    s.end_rate,
                    s.duration.as_secs_f64()
                )));
            }
        }
        let intended = later(ctx.t0, arrival.offset);
        if intended > Instant::now() {
            if waits == Waits::Thread {
                // Wakes at most every MIN_WAKE_GAP: at high rates, arrivals due within it
                // share one wake-up (at most that much later) instead of one each.
                let wake = intended.max(later(last_wake, MIN_WAKE_GAP));
                if sleep_thread_until(wake, &ctx.cancel) {
                    break;
                }
                last_wake = Instant::now();
            } else {
                let mut timer = match next_timer.take() {
                    Some((at, timer)) if at == intended => timer,
                    _ => Box::pin(tokio::time::sleep_until(intended)),
                };
                // Registers the next arrival's timer while this one is still pending: a
                // timer added behind the earliest one does not make tokio's time driver
                // wake its thread, which otherwise costs two system calls per arrival.
                if let Some((_, next)) = schedule.peek() {
                    let at = later(ctx.t0, next.offset);
                    if at > intended {
                        let mut t = Box::pin(tokio::time::sleep_until(at));
                        std::future::poll_fn(|cx| {
                            let _ = t.as_mut().poll(cx);
                            Poll::Ready(())
                        })
                        .await;
                        next_timer = Some((at, t));
                    }
                }
                tokio::select! {
                    biased;
                    _ = ctx.cancel.cancelled() => break,
                    _ = &mut timer => {}
                }
            }
        }
        let qi = (k % len as u64) as usize;
        if in_flight.load(Ordering::Acquire) >= max_in_flight {
            let at = ctx.timing(intended, intended, intended).scheduled_at_us;
            dropped.record_dropped(&ctx.queries[qi], at);
            continue;
        }
        in_flight.fetch_add(1, Ordering::AcqRel);
        let mut query = Box::pin(open_query(ctx.clone(), qi, intended, in_flight.clone()));
        if inline {
            // The first poll runs here: a target that answers at once (in-process) then
            // costs no task spawn and no cross-thread wake-up. A target whose first poll
            // is slow would hold up the schedule, so inline polling stops for good.
            let before = Instant::now();
            let done =
                std::future::poll_fn(|cx| Poll::Ready(query.as_mut().poll(cx).is_ready())).await;
            if before.elapsed() > INLINE_POLL_LIMIT {
                // Several in a row: a preempted thread makes one poll look slow.
                slow_polls += 1;
                inline = slow_polls < SLOW_POLLS_TO_STOP_INLINE;
            } else {
                slow_polls = 0;
            }
            if done {
                continue;
            }
        }
        tracker.spawn(query);
    }
}

/// Says what limited a closed loop's throughput when it had a ceiling: the ceiling, or the
/// bot (every user busy). `None` for open loops, loops without a ceiling, or too few
/// queries to tell.
fn ceiling_note(load: &LoadProfile, sent: u64, achieved: f64) -> Option<String> {
    let LoadProfile::Closed(c) = load else {
        return None;
    };
    let ceiling = c.rate_limit_per_second?;
    if sent < 10 {
        return None;
    }
    Some(if achieved < 0.9 * ceiling {
        format!(
            "Closed loop: the bot, not the ceiling, limited throughput: {achieved:.2} queries/s achieved against a ceiling of {ceiling} /s with {} users. Latency counts from when a user was free, so it is the bot's answer time.",
            c.users
        )
    } else {
        format!(
            "Closed loop: the ceiling limited throughput: {achieved:.2} queries/s achieved against a ceiling of {ceiling} /s with {} users.",
            c.users
        )
    })
}

/// The part of `load` a shard applies: its users and ceiling, or its in-flight cap.
fn shard_load(load: &LoadProfile, shard: perf_core::Shard) -> LoadProfile {
    match load {
        LoadProfile::Closed(c) => crate::shard_closed(c, shard)
            .map_or_else(|| load.clone(), |s| LoadProfile::Closed(s.load)),
        LoadProfile::Open(o) => LoadProfile::Open(OpenLoop {
            max_in_flight: crate::shard_max_in_flight(o.max_in_flight, shard),
            ..o.clone()
        }),
    }
}

/// Says when an open loop's arrivals outran the bot: arrivals dropped at the in-flight cap,
/// with the rate offered against the rate answered.
fn open_note(load: &LoadProfile, stats: &PlanStats, wall: f64) -> Option<String> {
    let LoadProfile::Open(o) = load else {
        return None;
    };
    if stats.dropped == 0 || wall <= 0.0 {
        return None;
    }
    let arrivals = stats.sent + stats.dropped;
    let span = load
        .duration()
        .map_or(wall, |d| d.as_secs_f64().min(wall))
        .max(f64::MIN_POSITIVE);
    Some(format!(
        "Open loop above the bot's capacity: {} of {arrivals} arrivals dropped at max_in_flight {}; {:.2} arrivals/s offered, {:.2} queries/s sent. Latency counts from each arrival's intended time, queue included.",
        stats.dropped,
        o.max_in_flight,
        arrivals as f64 / span,
        stats.sent as f64 / wall
    ))
}

/// Stores monitor readings, folds them into the peaks, and notes a saturated harness once.
fn fold_readings(result: &mut RunResult, readings: Vec<ResourceSample>) {
    for r in &readings {
        result.resource_peaks.observe(r);
    }
    result.resources.extend(readings);
    if result.resource_peaks.harness_saturated
        && !result.notes.iter().any(|n| n.starts_with(SATURATED_NOTE))
    {
        result.notes.push(format!(
            "{SATURATED_NOTE} (peak {:.0}% of one core): latencies include harness delays and may be overstated",
            result.resource_peaks.max_harness_cpu_percent
        ));
    }
}

/// Moves the plan's aggregates into the parts of `result` that are still empty, so the
/// merge that follows copies nothing: every group and timeline interval holds latency
/// histograms, and merging copies would hold each up to three times at the peak.
fn move_into_empty(result: &mut RunResult, plan: &mut RunResult) {
    use std::mem::take;
    if result.overall.count == 0
        && result.per_agent.is_empty()
        && result.per_category.is_empty()
        && result.per_scenario.is_empty()
    {
        result.overall = take(&mut plan.overall);
        result.per_agent = take(&mut plan.per_agent);
        result.per_category = take(&mut plan.per_category);
        result.per_scenario = take(&mut plan.per_scenario);
    }
    if result.timeline.buckets.is_empty() {
        result.timeline = take(&mut plan.timeline);
    }
    if result.schedule == ScheduleStats::default() {
        result.schedule = take(&mut plan.schedule);
    }
    if result.failure_examples.is_empty() {
        result.failure_examples = take(&mut plan.failure_examples);
    }
}

/// `base + d`, or a time decades away when that overflows (a user may write any duration).
pub(crate) fn later(base: Instant, d: Duration) -> Instant {
    base.checked_add(d)
        .unwrap_or_else(|| base + Duration::from_secs(30 * 365 * 86_400))
}

/// A first poll of an open-loop query longer than this counts as slow.
const INLINE_POLL_LIMIT: Duration = Duration::from_micros(50);
/// Shortest time between two wake-ups of the open-loop schedule thread.
const MIN_WAKE_GAP: Duration = Duration::from_micros(250);
/// Consecutive slow first polls after which queries are always spawned.
const SLOW_POLLS_TO_STOP_INLINE: u32 = 8;

const SATURATED_NOTE: &str = "The harness saturated a CPU core during the run";

/// Which claims of the one-machine order a shard's closed loop takes: claim `c` of the
/// shard is chain `c × active + slot` (see [`crate::ClosedShare`]).
#[derive(Debug, Clone, Copy)]
struct Deal {
    active: u64,
    slot: u64,
}

#[derive(Debug, Clone, Copy)]
struct ClosedParams {
    total: u64,
    /// Queries a user takes at once and sends in order (edge-case pairs); at least 1.
    chain: u64,
    think: Duration,
    deadline: Option<Instant>,
}

/// The closed loop's rate ceiling: query starts at least `gap` apart, run-wide.
///
/// A ceiling, not a schedule: a user that becomes free takes the next start the ceiling
/// allows, never one reserved for it while every user was busy. So a query's intended
/// start is when it could have started, and time spent waiting for a free user is never
/// charged to the bot.
#[derive(Debug)]
struct Ceiling {
    gap: Duration,
    next: Mutex<Instant>,
}

impl Ceiling {
    /// Reserves the earliest start at or after `ready` that the ceiling allows.
    fn reserve(&self, ready: Instant) -> Instant {
        let mut next = lock(&self.next);
        let slot = (*next).max(ready);
        *next = later(slot, self.gap);
        slot
    }
}

async fn closed_worker(
    ctx: Arc<Ctx>,
    p: ClosedParams,
    ceiling: Option<Arc<Ceiling>>,
    next: Arc<AtomicU64>,
    deal: Deal,
) {
    let mut rec = Recorder::batching(ctx.shared.clone());
    let len = ctx.queries.len() as u64;
    let mut ready_at = ctx.t0;
    'claims: loop {
        if ctx.cancel.is_cancelled() {
            break;
        }
        // Claim first, so a user does not think after its last query.
        let c = next.fetch_add(1, Ordering::Relaxed);
        let c = c.saturating_mul(deal.active).saturating_add(deal.slot);
        let first = c.saturating_mul(p.chain);
        if first >= p.total {
            break;
        }
        for k in first..first.saturating_add(p.chain).min(p.total) {
            let mut now = Instant::now();
            let thought = ready_at > now;
            if thought {
                tokio::select! {
                    biased;
                    _ = ctx.cancel.cancelled() => break 'claims,
                    _ = tokio::time::sleep_until(ready_at) => {}
                }
                now = Instant::now();
            }
            if p.deadline.is_some_and(|d| now >= d) {
                break 'claims;
            }
            // When the query could have started: its user free and done thinking. A
            // worker woken late by the runtime still counts from then (start lag).
            let ready = if thought { ready_at } else { now };
            let intended = match &ceiling {
                Some(ceiling) => {
                    let slot = ceiling.reserve(ready);
                    if p.deadline.is_some_and(|d| slot >= d) {
                        break 'claims;
                    }
                    if slot > now {
                        tokio::select! {
                            biased;
                            _ = ctx.cancel.cancelled() => break 'claims,
                            _ = tokio::time::sleep_until(slot) => {}
                        }
                        now = Instant::now();
                    }
                    slot
                }
                None => ready,
            };
            let qi = (k % len) as usize;
            let query = &ctx.queries[qi];
            let finished = tokio::select! {
                biased;
                f = run_query(ctx.target.as_ref(), query, now, ctx.timeout, ctx.retry) => f,
                _ = ctx.hard_stop.cancelled() => {
                    ctx.abandoned.fetch_add(1, Ordering::Relaxed);
                    break 'claims;
                }
            };
            let end = finished.end(Instant::now(), now);
            rec.record(qi, query, ctx.timing(intended, now, end), finished);
            ready_at = later(end, p.think);
            // A target that answers without awaiting anything would never yield otherwise.
            tokio::task::consume_budget().await;
        }
    }
    rec.flush();
}

async fn open_query(ctx: Arc<Ctx>, qi: usize, intended: Instant, in_flight: Arc<AtomicUsize>) {
    let start = Instant::now();
    let query = &ctx.queries[qi];
    let finished = tokio::select! {
        biased;
        f = run_query(ctx.target.as_ref(), query, start, ctx.timeout, ctx.retry) => f,
        _ = ctx.hard_stop.cancelled() => {
            ctx.abandoned.fetch_add(1, Ordering::Relaxed);
            in_flight.fetch_sub(1, Ordering::AcqRel);
            return;
        }
    };
    let end = finished.end(Instant::now(), start);
    in_flight.fetch_sub(1, Ordering::AcqRel);
    let mut rec = Recorder::immediate(ctx.shared.clone());
    rec.record(qi, query, ctx.timing(intended, start, end), finished);
}

#[cfg(test)]
mod tests {
    use super::*;
    use perf_core::TargetInfo;

    fn reading(harness_cpu: f32) -> ResourceSample {
        ResourceSample {
            harness_cpu_percent: harness_cpu,
            ..ResourceSample::default()
        }
    }

    #[test]
    fn a_saturated_harness_is_flagged_and_noted_once() {
        let mut r = RunResult::new("r", "t", TargetInfo::default());
        fold_readings(&mut r, vec![reading(20.0), reading(40.0)]);
        assert!(!r.resource_peaks.harness_saturated);
        assert!(r.notes.is_empty());
        fold_readings(&mut r, vec![reading(97.0)]);
        fold_readings(&mut r, vec![reading(99.0)]);
        assert!(r.resource_peaks.harness_saturated);
        assert_eq!(r.resource_peaks.samples, 4);
        assert_eq!(r.resources.len(), 4);
        assert_eq!(r.notes.len(), 1);
        assert!(r.notes[0].starts_with(SATURATED_NOTE));
    }
}
