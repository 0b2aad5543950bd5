use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use perf_runner::RunEvent;
use perf_suite::{PhaseEvent, SuiteEvent};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

/// Draws phase headers and a progress bar from suite events, on its own task so the
/// pipeline never waits for the terminal.
pub(crate) struct Progress {
    task: JoinHandle<()>,
}

impl Progress {
    /// Draws the events of `rx`, passing each on to `forward` (the live view) first.
    pub(crate) fn spawn(
        mut rx: UnboundedReceiver<SuiteEvent>,
        bars: bool,
        forward: Option<UnboundedSender<SuiteEvent>>,
    ) -> Self {
        let bars = bars && std::io::stderr().is_terminal();
        let task = tokio::spawn(async move {
            let mut bar: Option<ProgressBar> = None;
            while let Some(event) = rx.recv().await {
                if let Some(f) = &forward {
                    // A stopped live view only means nobody is watching.
                    let _ = f.send(event.clone());
                }
                match event {
                    SuiteEvent::Phase(PhaseEvent::Started { number, name }) => {
                        println!("\n=== Phase {number}: {name} ===");
                    }
                    SuiteEvent::Phase(PhaseEvent::Finished(t)) => {
                        if let Some(b) = bar.take() {
                            b.finish_and_clear();
                        }
                        let mark = match t.status {
                            perf_core::PhaseStatus::Completed => "✅",
                            perf_core::PhaseStatus::Skipped => "⏭️ ",
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
