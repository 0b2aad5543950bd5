use serde::{Deserialize, Serialize};

/// One reading of the resource monitor. Rates are per second over the last interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceSample {
    /// Seconds since the run started.
    pub elapsed_s: f64,
    /// System-wide CPU use, percent of all cores (0–100).
    pub system_cpu_percent: f32,
    /// System memory in use, MiB.
    pub system_memory_mb: f64,
    /// Disk reads, MiB/s (of the monitored processes where the platform only reports those).
    pub disk_read_mb_s: f64,
    /// Disk writes, MiB/s.
    pub disk_write_mb_s: f64,
    /// Network sent, MiB/s.
    pub net_sent_mb_s: f64,
    /// Network received, MiB/s.
    pub net_recv_mb_s: f64,
    /// Target process CPU, percent of one core (may exceed 100 on several cores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_cpu_percent: Option<f32>,
    /// Target process resident memory, MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_memory_mb: Option<f64>,
    /// The harness's own CPU, percent of one core.
    pub harness_cpu_percent: f32,
    /// The harness's own resident memory, MiB.
    pub harness_memory_mb: f64,
}

/// Peak resource use over a run: the original suite's "max memory" and "max CPU".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourcePeaks {
    /// Readings taken.
    pub samples: u64,
    /// Peak system CPU, percent.
    pub max_system_cpu_percent: f32,
    /// Peak system memory, MiB.
    pub max_system_memory_mb: f64,
    /// Peak target CPU, percent of one core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_target_cpu_percent: Option<f32>,
    /// Peak target resident memory, MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_target_memory_mb: Option<f64>,
    /// Peak harness CPU, percent of one core.
    pub max_harness_cpu_percent: f32,
    /// `true` when the harness itself saturated a core: latencies are then suspect.
    pub harness_saturated: bool,
}

impl ResourcePeaks {
    /// Harness CPU (percent of one core) at or above which a reading counts as saturated.
    pub const HARNESS_SATURATION_PERCENT: f32 = 90.0;

    /// Folds one reading into the peaks.
    pub fn observe(&mut self, s: &ResourceSample) {
        self.samples += 1;
        self.max_system_cpu_percent = self.max_system_cpu_percent.max(s.system_cpu_percent);
        self.max_system_memory_mb = self.max_system_memory_mb.max(s.system_memory_mb);
        if let Some(c) = s.target_cpu_percent {
            self.max_target_cpu_percent = Some(self.max_target_cpu_percent.unwrap_or(0.0).max(c));
        }
        if let Some(m) = s.target_memory_mb {
            self.max_target_memory_mb = Some(self.max_target_memory_mb.unwrap_or(0.0).max(m));
        }
        self.max_harness_cpu_percent = self.max_harness_cpu_percent.max(s.harness_cpu_percent);
        if s.harness_cpu_percent >= Self::HARNESS_SATURATION_PERCENT {
            self.harness_saturated = true;
        }
    }
}
