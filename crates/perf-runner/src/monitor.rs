//! The resource monitor: system, target process (and its children) and the harness.

use std::collections::HashSet;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use perf_core::record::ResourceSample;
use sysinfo::{
    DiskRefreshKind, Disks, MemoryRefreshKind, Networks, Pid, ProcessRefreshKind,
    ProcessesToUpdate, System,
};

const MIB: f64 = 1024.0 * 1024.0;
/// Descendants of the target followed at most, so a fork bomb cannot slow sampling down.
const MAX_CHILDREN: usize = 64;

/// Takes [`ResourceSample`] readings.
///
/// Each reading refreshes only what it reports: global CPU and memory, disk and network
/// counters, and the processes it watches by pid (the harness, the target and the target's
/// descendants), never the whole process table. CPU and I/O figures are rates over the
/// time since the previous reading (the first reading covers the time since `new`).
///
/// The target can change between readings ([`set_target`](Self::set_target)): a target
/// that restarts its bot process gets a new pid. A process that was not watched at the
/// previous reading has no CPU baseline yet, so the reading that first sees it reports its
/// memory but not its CPU; its CPU is reported from the next reading on, as a rate over
/// the time between the two.
#[derive(Debug)]
pub struct ResourceMonitor {
    system: System,
    networks: Networks,
    disks: Disks,
    harness: Pid,
    target: Option<Pid>,
    last: Instant,
    /// The harness, then (when it is another process) the target and its descendants.
    watched: Vec<Pid>,
    /// Of `watched`, the pids that were not watched at the refresh before: sysinfo has no
    /// CPU reference for them yet (or a stale one, from when they were watched before), so
    /// their CPU figure from this refresh is meaningless.
    fresh: HashSet<Pid>,
}

impl ResourceMonitor {
    /// A monitor for the harness (this process) and, when given, the target's process.
    pub fn new(target_pid: Option<u32>) -> Self {
        let mut m = Self {
            system: System::new(),
            networks: Networks::new_with_refreshed_list(),
            disks: Disks::new_with_refreshed_list_specifics(
                DiskRefreshKind::nothing().with_io_usage(),
            ),
            harness: Pid::from_u32(std::process::id()),
            target: target_pid.map(Pid::from_u32),
            last: Instant::now(),
            watched: Vec::new(),
            fresh: HashSet::new(),
        };
        // Primes the CPU and I/O counters, so the first reading has a reference.
        m.refresh_processes();
        m.system
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        m.last = Instant::now();
        m
    }

    /// Follows another target process from the next reading on (`None`: no target). A
    /// different pid resets the target's CPU reference: the next reading reports the new
    /// process's memory, and its CPU from the reading after. The same pid changes nothing.
    pub fn set_target(&mut self, target_pid: Option<u32>) {
        self.target = target_pid.map(Pid::from_u32);
    }

    /// The target process the monitor follows.
    pub fn target(&self) -> Option<u32> {
        self.target.map(Pid::as_u32)
    }

    fn refresh_processes(&mut self) {
        let mut pids = vec![self.harness];
        if let Some(t) = self.target {
            if t != self.harness {
                pids.push(t);
                pids.extend(descendants(t));
            }
        }
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&pids),
            true,
            ProcessRefreshKind::nothing()
                .with_cpu()
                .with_memory()
                .with_disk_usage()
                .without_tasks(),
        );
        let previous: HashSet<Pid> = self.watched.iter().copied().collect();
        self.fresh = pids
            .iter()
            .copied()
            .filter(|p| !previous.contains(p))
            .collect();
        // Forget processes no longer watched once they are gone (exited children, a
        // restarted target's old process), so the table stays small. This reads only their
        // stat files; one still alive stays in the table, and should it be watched again
        // it counts as fresh.
        let keep: HashSet<Pid> = pids.iter().copied().collect();
        let dropped: Vec<Pid> = self
            .watched
            .iter()
            .copied()
            .filter(|p| !keep.contains(p))
            .collect();
        if !dropped.is_empty() {
            self.system.refresh_processes_specifics(
                ProcessesToUpdate::Some(&dropped),
                true,
                ProcessRefreshKind::nothing().without_tasks(),
            );
        }
        self.watched = pids;
    }

    /// Takes one reading; `elapsed_s` is stamped on it as the time since the run started.
    pub fn sample(&mut self, elapsed_s: f64) -> ResourceSample {
        self.refresh_processes();
        self.system
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        self.networks.refresh(true);
        self.disks
            .refresh_specifics(true, DiskRefreshKind::nothing().with_io_usage());
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64().max(1e-3);
        self.last = now;

        let (mut read, mut written) = (0u64, 0u64);
        let mut seen = HashSet::new();
        for d in self.disks.list() {
            if seen.insert(d.name().to_owned()) {
                let u = d.usage();
                read += u.read_bytes;
                written += u.written_bytes;
            }
        }
        if self.disks.list().is_empty() {
            // No block devices visible (a container): count the watched processes' I/O.
            for p in self
                .watched
                .iter()
                .filter_map(|pid| self.system.process(*pid))
            {
                let u = p.disk_usage();
                read += u.read_bytes;
                written += u.written_bytes;
            }
        }
        let (mut recv, mut sent) = (0u64, 0u64);
        for data in self.networks.list().values() {
            recv += data.received();
            sent += data.transmitted();
        }

        let harness = self.system.process(self.harness);
        let harness_cpu = harness.map_or(0.0, |p| p.cpu_usage());
        let harness_mem = harness.map_or(0.0, |p| p.memory() as f64 / MIB);
        let (target_cpu, target_mem) = match self.target {
            None => (None, None),
            Some(t) if t == self.harness => (Some(harness_cpu), Some(harness_mem)),
            Some(t) => {
                let procs: Vec<_> = self
                    .watched
                    .iter()
                    .skip(1)
                    .filter_map(|pid| Some((*pid, self.system.process(*pid)?)))
                    .collect();
                if procs.is_empty() {
                    (None, None)
                } else {
                    let memory = procs.iter().map(|(_, p)| p.memory() as f64).sum::<f64>() / MIB;
                    // A fresh target has no CPU figure yet; a fresh descendant adds nothing
                    // to its parent's until the next reading.
                    let cpu = (!self.fresh.contains(&t)).then(|| {
                        procs
                            .iter()
                            .filter(|(pid, _)| !self.fresh.contains(pid))
                            .map(|(_, p)| p.cpu_usage())
                            .sum()
                    });
                    (cpu, Some(memory))
                }
            }
        };
        ResourceSample {
            elapsed_s,
            system_cpu_percent: self.system.global_cpu_usage(),
            system_memory_mb: self.system.used_memory() as f64 / MIB,
            disk_read_mb_s: read as f64 / MIB / dt,
            disk_write_mb_s: written as f64 / MIB / dt,
            net_sent_mb_s: sent as f64 / MIB / dt,
            net_recv_mb_s: recv as f64 / MIB / dt,
            target_cpu_percent: target_cpu,
            target_memory_mb: target_mem,
            harness_cpu_percent: harness_cpu,
            harness_memory_mb: harness_mem,
        }
    }
}

/// The descendants of `pid`, breadth first, from `/proc/<pid>/task/<tid>/children`.
#[cfg(target_os = "linux")]
fn descendants(pid: Pid) -> Vec<Pid> {
    let mut out = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", p.as_u32())) else {
            continue;
        };
        for task in tasks.flatten() {
            let path = task.path().join("children");
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            for child in text
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
            {
                if out.len() >= MAX_CHILDREN {
                    return out;
                }
                let child = Pid::from_u32(child);
                if !out.contains(&child) {
                    out.push(child);
                    queue.push(child);
                }
            }
        }
    }
    out
}

#[cfg(not(target_os = "linux"))]
fn descendants(_pid: Pid) -> Vec<Pid> {
    Vec::new()
}

/// Runs a monitor on its own thread until `stop` fires or disconnects; returns the readings.
///
/// `target_pid` is asked before every reading, so a target whose process restarts (a new
/// pid) is followed to its new process.
pub(crate) fn monitor_thread(
    interval: Duration,
    target_pid: impl Fn() -> Option<u32>,
    offset_s: f64,
    stop: Receiver<()>,
    on_reading: impl Fn(&ResourceSample),
) -> Vec<ResourceSample> {
    let after = |t: Instant| {
        t.checked_add(interval)
            .unwrap_or_else(|| t + Duration::from_secs(365 * 86_400))
    };
    let mut monitor = ResourceMonitor::new(target_pid());
    let start = Instant::now();
    let mut next = after(start);
    let mut readings = Vec::new();
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        match stop.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {
                monitor.set_target(target_pid());
                let s = monitor.sample(offset_s + start.elapsed().as_secs_f64());
                on_reading(&s);
                readings.push(s);
                next = after(next);
                let now = Instant::now();
                if next < now {
                    next = after(now);
                }
            }
            Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    if readings.is_empty() && start.elapsed() >= sysinfo::MINIMUM_CPU_UPDATE_INTERVAL {
        // A plan shorter than one interval still gets one reading.
        monitor.set_target(target_pid());
        let s = monitor.sample(offset_s + start.elapsed().as_secs_f64());
        on_reading(&s);
        readings.push(s);
    }
    readings
}
