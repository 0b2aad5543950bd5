//! What the benchmarks share.

/// Resident memory of this process, in KiB (from /proc/self/status; 0 elsewhere).
pub(crate) fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Samples [`rss_kib`] once a second into the vector until the task is aborted.
pub(crate) fn sample_rss() -> (
    std::sync::Arc<std::sync::Mutex<Vec<u64>>>,
    tokio::task::JoinHandle<()>,
) {
    let rss = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let into = std::sync::Arc::clone(&rss);
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tick.tick().await;
            if let Ok(mut v) = into.lock() {
                v.push(rss_kib());
            }
        }
    });
    (rss, task)
}

/// A runner with no events and no resource monitor: what a benchmark of a target needs.
pub(crate) fn bare_runner(target: std::sync::Arc<dyn perf_core::BotTarget>) -> perf_runner::Runner {
    perf_runner::Runner::new(
        target,
        perf_runner::RunnerConfig {
            sample_events: false,
            monitor: None,
            ..perf_runner::RunnerConfig::default()
        },
    )
}
