//! The resource monitor against real processes, on the real clock: readings are checked
//! against generous bounds (a loaded machine reads lower CPU, never less memory).

use std::process::{Child, Command};
use std::time::Duration;

use perf_core::LoadProfile;
use perf_runner::{MonitorConfig, Plan, ResourceMonitor, RunEvent, Runner, RunnerConfig};

use crate::support::{drain, new_result, queries, Scripted};

const HOG: &str = env!("CARGO_BIN_EXE_resource-hog");

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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
