//! Benchmarks of the runner. Run in release mode:
//!
//! ```text
//! cargo run --release -p perf-runner --example bench -- all
//! cargo run --release -p perf-runner --example bench -- throughput|open|parallel|memory|monitor
//! ```
//!
//! Figures are printed; `docs/performance.md` records them with the machine they ran on.
//! CPU times are read from `/proc` (Linux only).
//!
//! `open [rate [seconds]]` also measures, just before and just after each case, the
//! machine's wake-up floor: a bare thread that only sleeps to the same arrival schedule.
//! The harness's CPU per query minus that floor is what the harness itself adds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use perf_core::record::RunResult;
use perf_core::{BotResponse, BotTarget, ClosedLoop, LoadProfile, Query, TargetError, TargetInfo};
use perf_runner::{ArrivalSchedule, Plan, ResourceMonitor, RunEvent, Runner, RunnerConfig};

/// Answers at once, without allocating (the harness's cost alone).
struct Noop;

#[async_trait]
impl BotTarget for Noop {
    fn redactor(&self) -> perf_core::Redactor {
        perf_core::Redactor::default()
    }
    async fn execute(&self, _q: &Query) -> Result<BotResponse, TargetError> {
        Ok(BotResponse::default())
    }
}

/// Answers at once with an agent name and a short text (two small allocations).
struct Echo;

#[async_trait]
impl BotTarget for Echo {
    fn redactor(&self) -> perf_core::Redactor {
        perf_core::Redactor::default()
    }
    async fn execute(&self, _q: &Query) -> Result<BotResponse, TargetError> {
        Ok(BotResponse::new("ok", "semantic_search"))
    }
}

/// Answers after a fixed time on the runtime's timer.
struct Fixed(Duration);

#[async_trait]
impl BotTarget for Fixed {
    fn redactor(&self) -> perf_core::Redactor {
        perf_core::Redactor::default()
    }
    async fn execute(&self, _q: &Query) -> Result<BotResponse, TargetError> {
        tokio::time::sleep(self.0).await;
        Ok(BotResponse::new("ok", "semantic_search"))
    }
}

fn queries(n: usize) -> Vec<Query> {
    (0..n)
        .map(|i| {
            Query::new(format!("q{i}"), format!("question {i}"), "search")
                .with_scenario("bench")
                .with_expected_agent("semantic_search")
        })
        .collect()
}

fn result() -> RunResult {
    RunResult::new("bench", "", TargetInfo::default())
}

/// CPU time of this process so far, nanoseconds: the sum over its live threads of
/// `/proc/self/task/*/schedstat` (exact, unlike the 10 ms ticks of `/proc/self/stat`).
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// CPU time of the calling thread so far, nanoseconds (`/proc/thread-self/schedstat`).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// When the open-loop schedule wakes for an arrival due at `due` (time since the start),
/// having last woken at `last`: on a multi-thread runtime the runner's schedule thread wakes
/// at the arrival's time but at most every 250 µs (its private `MIN_WAKE_GAP`); on a
/// current-thread runtime it waits on tokio's timer, which fires on whole milliseconds.
/// Arrivals due before the next wake share it.
fn schedule_wake(due: Duration, last: Duration, current_thread: bool) -> Duration {
    if current_thread {
        Duration::from_millis(u64::try_from(due.as_nanos().div_ceil(1_000_000)).unwrap_or(0))
    } else {
        due.max(last + Duration::from_micros(250))
    }
}

/// What a bare thread sleeping to an open loop's schedule cost.
#[derive(Debug, Clone, Copy)]
struct Floor {
    arrivals: u64,
    wakes: u64,
    cpu_ns: u64,
}

impl Floor {
    fn per_wake_us(&self) -> f64 {
        self.cpu_ns as f64 / 1e3 / self.wakes.max(1) as f64
    }

    fn per_query_us(&self) -> f64 {
        self.cpu_ns as f64 / 1e3 / self.arrivals.max(1) as f64
    }
}

/// The wake-up floor of an open loop: a bare thread that sleeps to each arrival of the same
/// schedule, by the schedule's rule ([`schedule_wake`]), and does nothing else. Its CPU
/// time is read from its own schedstat, like the harness's.
fn wake_floor(load: &LoadProfile, seed: u64) -> Floor {
    let LoadProfile::Open(open) = load else {
        return Floor {
            arrivals: 0,
            wakes: 0,
            cpu_ns: 0,
        };
    };
    let open = open.clone();
    let current_thread = std::env::var("BENCH_RUNTIME").as_deref() == Ok("current");
    std::thread::spawn(move || {
        let cpu0 = thread_cpu_ns();
        let t0 = Instant::now();
        let mut last_wake = Duration::ZERO;
        let (mut arrivals, mut wakes) = (0u64, 0u64);
        for arrival in ArrivalSchedule::new(&open, seed) {
            arrivals += 1;
            let now = t0.elapsed();
            if arrival.offset > now {
                let wake = schedule_wake(arrival.offset, last_wake, current_thread);
                if wake > now {
                    std::thread::sleep(wake - now);
                    wakes += 1;
                }
                last_wake = t0.elapsed();
            }
            std::hint::black_box(arrival);
        }
        Floor {
            arrivals,
            wakes,
            cpu_ns: thread_cpu_ns() - cpu0,
        }
    })
    .join()
    .expect("floor thread")
}

/// Peak resident memory of this process, MiB (`VmHWM`).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A 2-thread runtime, or a current-thread one with `BENCH_RUNTIME=current`.
fn runtime() -> tokio::runtime::Runtime {
    let mut b = if std::env::var("BENCH_RUNTIME").as_deref() == Ok("current") {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    };
    b.enable_all().build().expect("tokio runtime")
}

fn closed(users: usize) -> LoadProfile {
    LoadProfile::Closed(ClosedLoop {
        users,
        think_time: Duration::ZERO,
        rate_limit_per_second: None,
        duration: None,
    })
}

/// Runs `n` queries against `target` with `users` users; returns (queries/s, CPU µs/query).
fn closed_run(
    rt: &tokio::runtime::Runtime,
    target: Arc<dyn BotTarget>,
    users: usize,
    n: u64,
    events: bool,
) -> (f64, f64) {
    rt.block_on(async {
        let config = RunnerConfig {
            sample_events: events,
            ..RunnerConfig::default()
        };
        let mut runner = Runner::new(target, config);
        let mut drain = None;
        if events {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<RunEvent>();
            runner = runner.with_events(tx);
            drain = Some(tokio::spawn(async move {
                let mut n = 0u64;
                while let Some(e) = rx.recv().await {
                    if matches!(e, RunEvent::Sample(_)) {
                        n += 1;
                    }
                }
                n
            }));
        }
        let plan = Plan::new(queries(100), closed(users)).with_max_queries(n);
        // A closed loop without a duration sends each query once: cycle via a duration.
        let plan = Plan {
            load: LoadProfile::Closed(ClosedLoop {
                users,
                think_time: Duration::ZERO,
                rate_limit_per_second: None,
                duration: Some(Duration::from_secs(3_600)),
            }),
            ..plan
        };
        let mut r = result();
        let cpu0 = cpu_ns();
        let t0 = Instant::now();
        let stats = runner.run(&plan, &mut r).await.expect("run");
        let wall = t0.elapsed().as_secs_f64();
        let cpu = (cpu_ns() - cpu0) as f64;
        drop(runner);
        if let Some(d) = drain {
            let seen = d.await.unwrap_or(0);
            assert_eq!(seen, stats.sent, "every sample event arrived");
        }
        assert_eq!(stats.sent, n);
        assert_eq!(r.overall.count, n);
        (n as f64 / wall, cpu / 1e3 / n as f64)
    })
}

fn throughput() {
    println!("## throughput (no-op in-process target, closed loop, 2 worker threads)");
    let rt = runtime();
    // Warm-up.
    closed_run(&rt, Arc::new(Noop), 2, 200_000, false);
    for (name, target, users, events) in [
        (
            "no-op, 2 users",
            Arc::new(Noop) as Arc<dyn BotTarget>,
            2,
            false,
        ),
        (
            "no-op, 8 users",
            Arc::new(Noop) as Arc<dyn BotTarget>,
            8,
            false,
        ),
        (
            "no-op, 100 users",
            Arc::new(Noop) as Arc<dyn BotTarget>,
            100,
            false,
        ),
        (
            "echo (agent + text), 8 users",
            Arc::new(Echo) as Arc<dyn BotTarget>,
            8,
            false,
        ),
        (
            "no-op, 8 users, per-sample events on",
            Arc::new(Noop) as Arc<dyn BotTarget>,
            8,
            true,
        ),
    ] {
        let (qps, us) = closed_run(&rt, target, users, 3_000_000, events);
        println!("{name:40} {qps:>12.0} queries/s   {us:>6.3} µs CPU/query");
    }
}

fn open(only: Option<(f64, f64)>) {
    println!("## open loop: rate accuracy, start lag, CPU per query (no-op target)");
    let rt = runtime();
    let cases = match only {
        Some(c) => vec![c],
        None => vec![(20.0, 10.0), (1_000.0, 5.0), (10_000.0, 5.0)],
    };
    for (rate, secs) in cases {
        rt.block_on(async {
            let plan = Plan::new(
                queries(100),
                LoadProfile::constant(rate, Duration::from_secs_f64(secs), 1_000),
            );
            // The same schedule slept by a bare thread, just before and just after pass 1:
            // what waking a thread per arrival costs on this machine right now, whatever
            // the harness does (it drifts by several µs within a minute on a shared VM).
            let seed = RunnerConfig::default().seed;
            let floor_before = wake_floor(&plan.load, seed);
            // Pass 1, no per-sample events: CPU, lag and counts.
            let config = RunnerConfig {
                sample_events: false,
                ..RunnerConfig::default()
            };
            let runner = Runner::new(Arc::new(Noop), config);
            let mut r = result();
            let cpu0 = cpu_ns();
            let stats = runner.run(&plan, &mut r).await.expect("run");
            let cpu = (cpu_ns() - cpu0) as f64;
            let harness_us = cpu / 1e3 / stats.sent.max(1) as f64;
            let lag = &r.schedule.start_lag;
            println!(
                "{rate:>7}/s for {secs:>4} s: sent {} of {} due, dropped {}, start lag p50 {} µs p99 {} µs max {} µs, late (> 2 ms) {:.2}%, CPU {:.1} µs/query",
                stats.sent,
                rate * secs,
                stats.dropped,
                lag.percentile_micros(50.0),
                lag.percentile_micros(99.0),
                lag.max_micros(),
                stats.late as f64 * 100.0 / stats.sent.max(1) as f64,
                harness_us,
            );
            let floor_after = wake_floor(&plan.load, seed);
            let floor_us = (floor_before.per_query_us() + floor_after.per_query_us()) / 2.0;
            println!(
                "{:>24} wake-up floor (bare thread, same schedule, before | after): {} | {} wake-ups, {:.1} | {:.1} µs CPU each = {:.1} | {:.1} µs/query",
                "",
                floor_before.wakes,
                floor_after.wakes,
                floor_before.per_wake_us(),
                floor_after.per_wake_us(),
                floor_before.per_query_us(),
                floor_after.per_query_us(),
            );
            println!(
                "{:>24} harness {harness_us:.1} µs/query − mean floor {floor_us:.1} = {:.1} µs/query added by the harness",
                "",
                harness_us - floor_us,
            );
            // Pass 2, with events: the achieved rate from the actual start times.
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let runner = Runner::new(Arc::new(Noop), RunnerConfig::default()).with_events(tx);
            let stats = runner.run(&plan, &mut result()).await.expect("run");
            drop(runner);
            let mut starts = Vec::new();
            while let Some(e) = rx.recv().await {
                if let RunEvent::Sample(s) = e {
                    // Actual start = intended start + latency − service time.
                    starts.push(s.scheduled_at_us + s.latency_us - s.service_us);
                }
            }
            starts.sort_unstable();
            let (first, last) = (starts[0], starts[starts.len() - 1]);
            let achieved = (starts.len() - 1) as f64 / ((last - first) as f64 / 1e6);
            println!(
                "{:>24} achieved {achieved:.2}/s between first and last actual start ({:+.3}% of {rate}/s), {} sent",
                "",
                (achieved / rate - 1.0) * 100.0,
                stats.sent
            );
        });
    }
}

fn parallel() {
    println!("## parallel efficiency: 100 queries of a fixed 100 ms target, 5 users");
    let rt = runtime();
    rt.block_on(async {
        let runner = Runner::new(
            Arc::new(Fixed(Duration::from_millis(100))),
            RunnerConfig::default(),
        );
        let plan = Plan::new(queries(100), closed(5));
        let mut r = result();
        let stats = runner.run(&plan, &mut r).await.expect("run");
        println!(
            "wall {:.4} s, ideal 2.0 s: {:.4} × ideal; latency p50 {} µs p99 {} µs",
            stats.wall_time_s,
            stats.wall_time_s / 2.0,
            r.overall.latency.percentile_micros(50.0),
            r.overall.latency.percentile_micros(99.0),
        );
    });
}

fn memory_child(n: u64, rate: Option<f64>) {
    let rt = runtime();
    let t0 = Instant::now();
    if let Some(rate) = rate {
        // Paced: the same number of queries spread over a longer time.
        rt.block_on(async {
            let runner = Runner::new(Arc::new(Echo), RunnerConfig::default());
            let plan = Plan::new(
                queries(100),
                LoadProfile::Closed(ClosedLoop {
                    users: 8,
                    think_time: Duration::ZERO,
                    rate_limit_per_second: Some(rate),
                    duration: Some(Duration::from_secs(3_600)),
                }),
            )
            .with_max_queries(n);
            runner.run(&plan, &mut result()).await.expect("run");
        });
    } else {
        closed_run(&rt, Arc::new(Echo), 8, n, false);
    }
    let wall = t0.elapsed().as_secs_f64();
    println!("{n} {:.2} {wall:.3}", peak_rss_mib());
}

fn child(args: &[String]) -> (f64, f64) {
    let exe = std::env::current_exe().expect("own path");
    let out = std::process::Command::new(&exe)
        .arg("memory-child")
        .args(args)
        .output()
        .expect("run child");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut f = text.split_whitespace().skip(1);
    let rss: f64 = f.next().and_then(|x| x.parse().ok()).unwrap_or(0.0);
    let wall: f64 = f.next().and_then(|x| x.parse().ok()).unwrap_or(0.0);
    (rss, wall)
}

fn memory() {
    println!("## memory: peak RSS of a process that runs N queries (echo target, 8 users)");
    let mut peaks = Vec::new();
    let mut walls = Vec::new();
    for n in [100_000u64, 1_000_000, 10_000_000] {
        let (rss, wall) = child(&[n.to_string()]);
        println!("{n:>10} queries as fast as possible: peak RSS {rss:.2} MiB in {wall:.2} s");
        peaks.push(rss);
        walls.push(wall);
    }
    println!(
        "ratio 10M / 100k: {:.3}; 10M / 1M: {:.3}",
        peaks[2] / peaks[0],
        peaks[2] / peaks[1]
    );
    // The timeline keeps one histogram per elapsed interval (at most 120), so memory
    // follows the run's length, not its query count: compare at equal length too.
    let rate = 100_000.0 / walls[2].max(0.1);
    let (rss, wall) = child(&["100000".to_owned(), format!("{rate}")]);
    println!(
        "    100000 queries paced over {wall:.2} s: peak RSS {rss:.2} MiB; ratio 10M / 100k at equal length: {:.3}",
        peaks[2] / rss
    );
}

fn monitor() {
    println!("## resource monitor cost (this process as harness and target)");
    let mut m = ResourceMonitor::new(Some(std::process::id()));
    std::thread::sleep(Duration::from_millis(300));
    let reps = 50;
    let cpu0 = cpu_ns();
    let t0 = Instant::now();
    for i in 0..reps {
        std::hint::black_box(m.sample(i as f64));
    }
    let wall = t0.elapsed().as_secs_f64() / reps as f64;
    let cpu = (cpu_ns() - cpu0) as f64 / 1e3 / reps as f64;
    println!(
        "one reading: {cpu:.0} µs CPU ({:.0} µs wall); at 1 Hz: {:.4}% of one core",
        wall * 1e6,
        cpu / 1e6 * 100.0
    );
    // The same over 10 s of a real 1 Hz monitor thread inside an idle run.
    let rt = runtime();
    rt.block_on(async {
        let config = RunnerConfig {
            monitor: Some(perf_runner::MonitorConfig::default()),
            ..RunnerConfig::default()
        };
        let runner = Runner::new(Arc::new(Fixed(Duration::from_secs(10))), config);
        let plan = Plan::new(queries(1), closed(1));
        let mut r = result();
        let idle_runner = Runner::new(
            Arc::new(Fixed(Duration::from_secs(10))),
            RunnerConfig::default(),
        );
        let cpu0 = cpu_ns();
        idle_runner.run(&plan, &mut result()).await.expect("run");
        let idle = (cpu_ns() - cpu0) as f64;
        let cpu0 = cpu_ns();
        runner.run(&plan, &mut r).await.expect("run");
        let with = (cpu_ns() - cpu0) as f64;
        println!(
            "10 s run: {} readings; process CPU {:.2} ms with the monitor, {:.2} ms without: monitor {:.4}% of one core",
            r.resources.len(),
            with / 1e6,
            idle / 1e6,
            (with - idle).max(0.0) / 1e9 / 10.0 * 100.0
        );
    });
}

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "all".to_owned());
    match what.as_str() {
        "throughput" => throughput(),
        "open" => {
            let rate = args.next().and_then(|r| r.parse().ok());
            let secs = args.next().and_then(|r| r.parse().ok()).unwrap_or(5.0);
            open(rate.map(|r| (r, secs)))
        }
        "parallel" => parallel(),
        "memory" => memory(),
        "memory-child" => {
            let n = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
            memory_child(n, args.next().and_then(|r| r.parse().ok()))
        }
        "monitor" => monitor(),
        _ => {
            throughput();
            open(None);
            parallel();
            memory();
            monitor();
        }
    }
}
