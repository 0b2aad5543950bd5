//! The counters of a command target: what went wrong with the bot process, for reports.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex as StdMutex;

use serde::{Deserialize, Serialize};

/// Counters of a command target, for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandStats {
    /// Processes started, the first one included.
    pub starts: u64,
    /// Times the process died while the target was in use (not at shutdown).
    pub crashes: u64,
    /// Queries that were in flight when the process died.
    pub crashed_queries: u64,
    /// Stdout lines that were not JSON answers (counted and ignored).
    pub invalid_lines: u64,
    /// Answer lines whose id matched no query in flight (counted and ignored).
    pub unknown_ids: u64,
    /// Delta lines whose id matched no query in flight, such as a delta written after its
    /// answer line (counted and ignored).
    pub stray_deltas: u64,
}

impl CommandStats {
    /// Restarts after crashes.
    pub fn restarts(&self) -> u64 {
        self.starts.saturating_sub(1)
    }

    /// Human-readable lines for `RunResult.notes`; empty when nothing went wrong.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.crashes > 0 {
            notes.push(format!(
                "bot process crashed {} time(s) ({} queries in flight lost) and was restarted {} time(s)",
                self.crashes,
                self.crashed_queries,
                self.restarts()
            ));
        }
        if self.invalid_lines > 0 {
            notes.push(format!(
                "bot wrote {} stdout line(s) that were not JSON answers; they were ignored",
                self.invalid_lines
            ));
        }
        if self.unknown_ids > 0 {
            notes.push(format!(
                "bot answered {} time(s) with an id that was not in flight; ignored",
                self.unknown_ids
            ));
        }
        if self.stray_deltas > 0 {
            notes.push(format!(
                "bot streamed {} delta line(s) for an id that was not in flight (after its answer, or unknown); ignored",
                self.stray_deltas
            ));
        }
        notes
    }
}

/// The live counters behind [`CommandStats`], shared by the process tasks.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) starts: AtomicU64,
    pub(super) crashes: AtomicU64,
    pub(super) crashed_queries: AtomicU64,
    pub(super) invalid_lines: AtomicU64,
    pub(super) unknown_ids: AtomicU64,
    pub(super) stray_deltas: AtomicU64,
    /// How the last process that died while in use ended (`exit code 3`, `signal 9`).
    pub(super) last_exit: StdMutex<Option<String>>,
}
