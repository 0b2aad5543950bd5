use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use perf_core::RunResult;
use perf_runner::RunEvent;
use perf_suite::{PhaseEvent, SuiteEvent};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

/// Draws phase headers and a progress bar from suite events, on its own task so the
/// pipeline never waits for the terminal.
pub(crate) struct Progress {
    task: JoinHandle<()>,
}

impl Progress {
    pub(crate) fn spawn(mut rx: UnboundedReceiver<SuiteEvent>, bars: bool) -> Self {
        let bars = bars && std::io::stderr().is_terminal();
        let task = tokio::spawn(async move {
            let mut bar: Option<ProgressBar> = None;
            while let Some(event) = rx.recv().await {
                match event {
                    SuiteEvent::Phase(PhaseEvent::Started { number, name }) => {
                        println!("\n=== Phase {number}: {name} ===");
                    }
                    SuiteEvent::Phase(PhaseEvent::Finished(t)) => {
                        if let Some(b) = bar.take() {
                            b.finish_and_clear();
                        }
                        let mark = match t.status.as_str() {
                            "completed" => "✅",
                            "skipped" => "⏭️ ",
                            _ => "⚠️ ",
                        };
                        println!("   {mark} {} {} in {:.2}s", t.name, t.status, t.seconds);
                        if !t.detail.is_empty() {
                            println!("   - {}", t.detail);
                        }
                    }
                    SuiteEvent::Note(n) => println!("   - {n}"),
                    SuiteEvent::Runner(RunEvent::Started { planned }) if bars => {
                        let b = match planned {
                            Some(n) => ProgressBar::new(n),
                            None => ProgressBar::no_length(),
                        };
                        b.set_draw_target(ProgressDrawTarget::stderr_with_hz(10));
                        b.set_style(
                            ProgressStyle::with_template(
                                "   {spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} queries {per_sec}",
                            )
                            .unwrap_or_else(|_| ProgressStyle::default_bar()),
                        );
                        b.enable_steady_tick(Duration::from_millis(200));
                        bar = Some(b);
                    }
                    SuiteEvent::Runner(RunEvent::Sample(_)) => {
                        if let Some(b) = &bar {
                            b.inc(1);
                        }
                    }
                    SuiteEvent::Runner(RunEvent::Phase(p)) => {
                        if let Some(b) = &bar {
                            b.set_message(p);
                        }
                    }
                    _ => {}
                }
            }
            if let Some(b) = bar {
                b.finish_and_clear();
            }
        });
        Self { task }
    }

    /// Waits until every event has been drawn.
    pub(crate) async fn finish(self) {
        let _ = self.task.await;
    }
}

/// The run's headline figures, as the original suite printed them.
pub(crate) fn print_summary(result: &RunResult) {
    let s = result.summary();
    let o = &s.overall;
    println!("\n=== Summary ===");
    println!(
        "   Queries: {}  successful: {}  failed: {}  success rate: {:.1}%",
        o.count,
        o.successes,
        o.failures,
        o.success_rate * 100.0
    );
    println!(
        "   Response time: avg {:.1} ms  p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        o.latency.mean_ms, o.latency.p50_ms, o.latency.p95_ms, o.latency.p99_ms, o.latency.max_ms
    );
    println!("   Throughput: {:.2} queries/s", o.throughput_per_s);
    if let Some(acc) = o.routing_accuracy {
        println!("   Agent routing accuracy: {:.1}%", acc * 100.0);
    }
    if !s.agent_distribution.is_empty() {
        let usage: Vec<String> = s
            .agent_distribution
            .iter()
            .map(|(a, share)| format!("{a} {:.0}%", share * 100.0))
            .collect();
        println!("   Agent usage: {}", usage.join(", "));
    }
    for (agent, g) in &s.per_agent {
        println!(
            "   - {agent}: {} queries, {:.1}% ok, avg {:.1} ms, p95 {:.1} ms",
            g.count,
            g.success_rate * 100.0,
            g.latency.mean_ms,
            g.latency.p95_ms
        );
    }
    let peaks = &result.resource_peaks;
    if peaks.samples > 0 {
        println!(
            "   Resources: max system CPU {:.1}%, max system memory {:.0} MB{}",
            peaks.max_system_cpu_percent,
            peaks.max_system_memory_mb,
            peaks
                .max_target_memory_mb
                .map(|m| format!(", max target memory {m:.0} MB"))
                .unwrap_or_default()
        );
    }
    for note in &result.notes {
        println!("   Note: {note}");
    }
}
