//! The resource monitor against real processes, on the real clock: readings are checked
//! against generous bounds (a loaded machine reads lower CPU, never less memory).

use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use perf_core::record::ResourceSample;
use perf_core::{BotResponse, BotTarget, LoadProfile, Query, TargetError};
use perf_runner::{MonitorConfig, Plan, ResourceMonitor, RunEvent, Runner, RunnerConfig};
use tokio_util::sync::CancellationToken;

use crate::support::{drain, new_result, queries, Scripted};

const HOG: &str = env!("CARGO_BIN_EXE_resource-hog");

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `resource-hog <mib> 60`, spinning on one core, or sleeping with `idle`.
fn hog(mib: u32, idle: bool) -> Killed {
    let mut cmd = Command::new(HOG);
    cmd.args([mib.to_string(), "60".to_owned()]);
    if idle {
        cmd.arg("idle");
    }
    Killed(cmd.spawn().expect("start resource-hog"))
}

/// Waits until the process at `pid` (and its children) holds `mib` MiB, or 20 s pass.
fn wait_for_memory(monitor: &mut ResourceMonitor, mib: f64) -> f64 {
    let mut seen = 0.0;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(200));
        seen = monitor.sample(0.0).target_memory_mb.unwrap_or(0.0);
        if seen >= mib {
            break;
        }
    }
    seen
}

#[test]
fn target_memory_and_cpu_are_read_from_its_process() {
    let child = Killed(
        Command::new(HOG)
            .args(["200", "30"])
            .spawn()
            .expect("start resource-hog"),
    );
    let mut monitor = ResourceMonitor::new(Some(child.0.id()));
    let memory = wait_for_memory(&mut monitor, 200.0);
    assert!(memory >= 200.0, "target resident memory {memory} MiB");
    assert!(memory < 400.0, "target resident memory {memory} MiB");
    std::thread::sleep(Duration::from_millis(1_000));
    let s = monitor.sample(1.0);
    let cpu = s.target_cpu_percent.unwrap_or(0.0);
    // Generous: on a loaded machine the hog gets only a share of a core; idle reads 0.
    assert!(cpu > 5.0, "a spinning process reads {cpu}% CPU");
    assert!(cpu <= 210.0, "one spinning thread reads {cpu}% CPU");
    assert!(
        s.harness_memory_mb > 0.0 && s.harness_memory_mb < memory,
        "{s:?}"
    );
    assert!(s.system_memory_mb >= memory, "{s:?}");
    assert!((0.0..=100.0).contains(&s.system_cpu_percent), "{s:?}");
    assert_eq!(s.elapsed_s, 1.0);
}

#[test]
fn children_of_the_target_are_included() {
    // A shell that runs the hog as its child: the shell itself holds almost nothing.
    let child = Killed(
        Command::new("sh")
            .arg("-c")
            .arg(format!("\"{HOG}\" 150 30; :"))
            .spawn()
            .expect("start sh"),
    );
    let mut monitor = ResourceMonitor::new(Some(child.0.id()));
    let memory = wait_for_memory(&mut monitor, 150.0);
    assert!(memory >= 150.0, "target and children hold {memory} MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_monitoring_stores_readings_and_peaks() {
    let child = Killed(
        Command::new(HOG)
            .args(["64", "30"])
            .spawn()
            .expect("start resource-hog"),
    );
    let mut target = Scripted::fixed(10);
    std::sync::Arc::get_mut(&mut target)
        .expect("not shared yet")
        .pid = Some(child.0.id());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let config = RunnerConfig {
        monitor: Some(MonitorConfig {
            interval: Duration::from_millis(250),
        }),
        ..RunnerConfig::default()
    };
    let runner = Runner::new(target, config).with_events(tx);
    let mut result = new_result();
    let plan = Plan::new(
        queries(3),
        LoadProfile::constant(20.0, Duration::from_millis(1_500), 10),
    );
    runner.run(&plan, &mut result).await.unwrap();
    let n = result.resources.len();
    assert!((2..=8).contains(&n), "{n} readings in 1.5 s at 4 Hz");
    assert_eq!(result.resource_peaks.samples, n as u64);
    assert!(result
        .resources
        .windows(2)
        .all(|w| w[0].elapsed_s < w[1].elapsed_s));
    assert!(result.resource_peaks.max_target_memory_mb.unwrap_or(0.0) > 0.0);
    assert!(result.resource_peaks.max_system_memory_mb > 0.0);
    let readings = drain(&mut rx)
        .iter()
        .filter(|e| matches!(e, RunEvent::Resource(_)))
        .count();
    assert_eq!(readings, n);
}

/// Waits until the process `pid` holds `mib` MiB (or 20 s pass), through a monitor of its own.
fn wait_until_allocated(pid: u32, mib: f64) {
    let memory = wait_for_memory(&mut ResourceMonitor::new(Some(pid)), mib);
    assert!(memory >= mib, "process {pid} holds {memory} MiB");
}

#[test]
fn a_new_target_process_gets_a_fresh_cpu_baseline() {
    let idle = hog(32, true);
    let busy = hog(128, false);
    let (idle_pid, busy_pid) = (idle.0.id(), busy.0.id());
    wait_until_allocated(idle_pid, 32.0);
    let mut monitor = ResourceMonitor::new(Some(busy_pid));
    assert!(wait_for_memory(&mut monitor, 128.0) >= 128.0);

    monitor.set_target(Some(idle_pid));
    assert_eq!(monitor.target(), Some(idle_pid));
    let s = monitor.sample(1.0);
    let memory = s.target_memory_mb.unwrap_or(0.0);
    assert!((32.0..128.0).contains(&memory), "{s:?}");
    assert_eq!(s.target_cpu_percent, None, "no CPU reference yet: {s:?}");
    std::thread::sleep(Duration::from_millis(500));
    let s = monitor.sample(1.5);
    let cpu = s.target_cpu_percent.unwrap_or(f32::NAN);
    assert!(
        (0.0..50.0).contains(&cpu),
        "a sleeping process reads {cpu}% CPU"
    );

    // The busy process spins unwatched for a second; watched again, its old reference is
    // stale (it would count that second over a short interval), so it is not used.
    std::thread::sleep(Duration::from_millis(1_000));
    monitor.set_target(Some(busy_pid));
    let s = monitor.sample(2.5);
    assert!(s.target_memory_mb.unwrap_or(0.0) >= 128.0, "{s:?}");
    assert_eq!(s.target_cpu_percent, None, "no CPU reference yet: {s:?}");
    std::thread::sleep(Duration::from_millis(1_000));
    let s = monitor.sample(3.5);
    let cpu = s.target_cpu_percent.unwrap_or(0.0);
    assert!(cpu > 5.0, "a spinning process reads {cpu}% CPU");
    assert!(cpu <= 210.0, "one spinning thread reads {cpu}% CPU");

    // The same pid again changes nothing: CPU goes on being read.
    monitor.set_target(Some(busy_pid));
    std::thread::sleep(Duration::from_millis(500));
    assert!(monitor.sample(4.0).target_cpu_percent.is_some());
    monitor.set_target(None);
    let s = monitor.sample(4.5);
    assert_eq!((s.target_cpu_percent, s.target_memory_mb), (None, None));
}

/// A target whose process is whatever `pid` holds, as after a restart of a child process.
struct Restarting {
    pid: AtomicU32,
    asked: AtomicU64,
}

#[async_trait]
impl BotTarget for Restarting {
    fn redactor(&self) -> perf_core::Redactor {
        perf_core::Redactor::default()
    }
    async fn execute(&self, _query: &Query) -> Result<BotResponse, TargetError> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Ok(BotResponse::new("the answer", "search"))
    }

    fn process_id(&self) -> Option<u32> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        Some(self.pid.load(Ordering::SeqCst))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_follows_a_target_to_its_new_process() {
    const FIRST_MIB: f64 = 40.0;
    const SECOND_MIB: f64 = 160.0;
    let first = hog(40, true);
    let second = hog(160, false);
    let (first_pid, second_pid) = (first.0.id(), second.0.id());
    tokio::task::spawn_blocking(move || {
        wait_until_allocated(first_pid, FIRST_MIB);
        wait_until_allocated(second_pid, SECOND_MIB);
    })
    .await
    .unwrap();

    let target = Arc::new(Restarting {
        pid: AtomicU32::new(first_pid),
        asked: AtomicU64::new(0),
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let config = RunnerConfig {
        monitor: Some(MonitorConfig {
            interval: Duration::from_millis(250),
        }),
        sample_events: false,
        ..RunnerConfig::default()
    };
    let runner = Runner::new(target.clone(), config)
        .with_events(tx)
        .with_cancel(cancel.clone());
    let plan = Plan::new(
        queries(3),
        LoadProfile::constant(20.0, Duration::from_secs(60), 10),
    );
    let run = tokio::spawn(async move {
        let mut result = new_result();
        runner.run(&plan, &mut result).await.map(|_| result)
    });

    // Two readings of the first process, then the "restart"; stop after six of the second.
    let watch = async {
        let (mut first_seen, mut second_seen) = (0, 0);
        while let Some(event) = rx.recv().await {
            let RunEvent::Resource(s) = event else {
                continue;
            };
            let memory = s.target_memory_mb.unwrap_or(0.0);
            if memory >= SECOND_MIB {
                second_seen += 1;
                if second_seen == 6 {
                    break;
                }
            } else if memory >= FIRST_MIB {
                first_seen += 1;
                if first_seen == 2 {
                    target.pid.store(second_pid, Ordering::SeqCst);
                }
            }
        }
    };
    let watched = tokio::time::timeout(Duration::from_secs(30), watch).await;
    cancel.cancel();
    let result = run.await.unwrap().unwrap();
    assert!(watched.is_ok(), "readings: {:?}", result.resources);

    let readings: &[ResourceSample] = &result.resources;
    let switch = readings
        .iter()
        .position(|s| s.target_memory_mb.unwrap_or(0.0) >= SECOND_MIB)
        .expect("a reading of the second process");
    let (before, after) = readings.split_at(switch);
    assert!(before.len() >= 2, "{readings:?}");
    for s in before {
        let memory = s.target_memory_mb.unwrap_or(0.0);
        assert!((FIRST_MIB..SECOND_MIB).contains(&memory), "{s:?}");
        // Sleeping: no CPU at all, read with room for error.
        let cpu = s.target_cpu_percent.unwrap_or(f32::NAN);
        assert!((0.0..50.0).contains(&cpu), "{s:?}");
    }
    assert!(after.len() >= 6, "{readings:?}");
    assert!(
        after
            .iter()
            .all(|s| s.target_memory_mb.unwrap_or(0.0) >= SECOND_MIB),
        "{after:?}"
    );
    // The first reading of the new process has no CPU reference; the later ones do, and
    // see it spin.
    assert_eq!(after[0].target_cpu_percent, None, "{:?}", after[0]);
    assert!(after[1..].iter().all(|s| s.target_cpu_percent.is_some()));
    let peak = after[1..]
        .iter()
        .filter_map(|s| s.target_cpu_percent)
        .fold(0.0f32, f32::max);
    assert!(peak > 5.0 && peak <= 210.0, "{after:?}");
    assert_eq!(
        result
            .resource_peaks
            .max_target_memory_mb
            .map(|m| m >= SECOND_MIB),
        Some(true)
    );
    // Asked at every reading (and once when the monitor started).
    let asked = target.asked.load(Ordering::SeqCst);
    assert!(
        asked > readings.len() as u64,
        "{asked} for {}",
        readings.len()
    );
    drop((first, second));
}
