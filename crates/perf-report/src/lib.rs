//! Reports of chat-bot performance runs.
//!
//! Given a [`perf_core::record::RunResult`], this crate renders every report a run leaves and
//! manages the reports directory:
//!
//! - `report.json` ([`render_json`]): the whole result plus the overall status;
//! - `summary.md` ([`render_markdown`]): a pull-request or CI job summary;
//! - `report.html` ([`render_html`]): one self-contained page with inline-SVG charts;
//! - `junit.xml` ([`render_junit`]): checks and verdicts as test cases;
//! - `resources.csv` ([`render_resources_csv`]);
//! - the terminal table the binaries print ([`render_terminal`], [`color_enabled`]);
//! - the overall verdict every banner and exit code shares ([`overall_status`]);
//! - `reports/<run-id>/` with a `latest` pointer ([`write_run_reports`]), and listing,
//!   loading and pruning of past runs ([`list_runs`], [`load_run`], [`prune_runs`]).
//!
//! Queries and answers carry hostile payloads on purpose, so every piece of text from a
//! query, a bot or a configuration is escaped for the format it lands in, and invisible
//! or direction-changing characters are shown as `\u{XXXX}`. The HTML report runs no
//! script and loads nothing. The crate never prints.

mod capacity;
mod discord;
mod error;
mod escape;
mod fmt;
mod html;
mod json;
mod junit;
mod markdown;
mod model;
mod runs;
mod shards;
mod status;
mod style;
mod svg;
mod terminal;

pub use capacity::{
    render_capacity_html, render_capacity_json, render_capacity_markdown, render_capacity_terminal,
    write_capacity_reports,
};
pub use error::ReportError;
pub use escape::{
    html as escape_html, markdown as escape_markdown, terminal as escape_terminal,
    visible as escape_visible, xml as escape_xml,
};
pub use html::{render_html, CONTENT_SECURITY_POLICY};
pub use json::{render_json, render_resources_csv, REPORT_FORMAT_VERSION};
pub use junit::render_junit;
pub use markdown::render_markdown;
pub use runs::{
    latest_run_id, list_runs, load_run, prune_runs, run_dir, update_latest, validate_run_id,
    write_run_reports, PruneOutcome, ReportPaths, RunEntry, JUNIT_XML, LATEST_FILE, LATEST_LINK,
    REPORT_HTML, REPORT_JSON, RESOURCES_CSV, SAMPLES_JSONL, SUMMARY_MD,
};
pub use status::{overall_status, OverallStatus, Status};
pub use terminal::{color_enabled, render_terminal, render_terminal_with, TerminalOptions};

#[cfg(test)]
mod send_sync_tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<ReportError>();
        assert_send_sync::<ReportPaths>();
        assert_send_sync::<RunEntry>();
        assert_send_sync::<OverallStatus>();
        assert_send_sync::<PruneOutcome>();
    }
}
