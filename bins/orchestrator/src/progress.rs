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
            let mut tally = Tally::default();
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
                        tally = Tally::default();
                        let mark = match t.status {
                            perf_core::record::PhaseStatus::Completed => "✅",
                            perf_core::record::PhaseStatus::Skipped => "⏭️ ",
                            _ => "⚠️ ",
                        };
                        println!("   {mark} {} {} in {:.2}s", t.name, t.status, t.seconds);
                        if !t.detail.is_empty() {
                            println!("   - {}", t.detail);
                        }
                    }
                    SuiteEvent::Note(n) => println!("   - {n}"),
                    SuiteEvent::Runner(RunEvent::Started { planned }) if bars => {
                        // Plans of one phase can run at once (edge cases in pairs): one
                        // bar counts them all, its total growing by each plan's queries,
                        // so it never shows more done than planned.
                        tally.start(planned);
                        let b = bar.get_or_insert_with(|| {
                            let b = ProgressBar::no_length();
                            b.set_draw_target(ProgressDrawTarget::stderr_with_hz(10));
                            b.set_style(
                                ProgressStyle::with_template(
                                    "   {spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} queries answered · {per_sec} · {msg}",
                                )
                                .unwrap_or_else(|_| ProgressStyle::default_bar()),
                            );
                            b.enable_steady_tick(Duration::from_millis(200));
                            b
                        });
                        tally.draw(b);
                    }
                    SuiteEvent::Runner(RunEvent::Sample(_)) => {
                        tally.done += 1;
                        if let Some(b) = &bar {
                            tally.draw(b);
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

/// The queries of a phase's plans: planned (unknown once a plan has no fixed count, such
/// as a timed load) and answered.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    planned: Option<u64>,
    done: u64,
    started: bool,
}

impl Tally {
    fn start(&mut self, planned: Option<u64>) {
        self.planned = match (self.started, self.planned, planned) {
            (false, _, p) => p,
            (true, Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        self.started = true;
    }

    /// The bar's length: the planned total, never below what was answered.
    fn length(&self) -> Option<u64> {
        self.planned.map(|p| p.max(self.done))
    }

    fn draw(&self, b: &ProgressBar) {
        match self.length() {
            Some(n) => b.set_length(n),
            None => b.unset_length(),
        }
        b.set_position(self.done);
    }
}

#[cfg(test)]
mod tests {
    use super::Tally;

    #[test]
    fn plans_running_at_once_add_up_and_never_overshoot() {
        let mut t = Tally::default();
        t.start(Some(24));
        t.done = 20;
        // A second plan starts while the first runs: the total grows.
        t.start(Some(6));
        t.done = 30;
        assert_eq!(t.length(), Some(30));
        // More answers than planned (a retried plan) stretch the bar instead of "31/30".
        t.done = 31;
        assert_eq!(t.length(), Some(31));
        // A timed plan has no count: the bar shows no total rather than a wrong one.
        t.start(None);
        assert_eq!(t.length(), None);
        t.start(Some(5));
        assert_eq!(t.length(), None);
    }
}
