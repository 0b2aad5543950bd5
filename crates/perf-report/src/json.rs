use perf_core::record::{RunResult, RunSummary};
use serde::Serialize;

use crate::status::{overall_status, OverallStatus};
use crate::ReportError;

/// Version of the `report.json` envelope (the fields this crate adds around the run
/// result). The run result inside keeps its own `format_version`.
pub const REPORT_FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct ReportDocument<'a> {
    report_format_version: u32,
    generator: &'static str,
    status: OverallStatus,
    summary: RunSummary,
    #[serde(flatten)]
    run: &'a RunResult,
}

/// Renders `report.json`: the whole run result (its own fields, `format_version`
/// included, at the top level, so the file also parses as a `RunResult`), plus
/// `report_format_version`, `generator`, the overall `status` and the `summary` figures.
/// See `docs/report-format.md`.
pub fn render_json(result: &RunResult) -> Result<String, ReportError> {
    let doc = ReportDocument {
        report_format_version: REPORT_FORMAT_VERSION,
        generator: concat!("perf-report ", env!("CARGO_PKG_VERSION")),
        status: overall_status(result),
        summary: result.summary(),
        run: result,
    };
    let mut s = serde_json::to_string(&doc).map_err(|source| ReportError::Json {
        path: std::path::PathBuf::new(),
        source,
    })?;
    s.push('\n');
    Ok(s)
}

/// Renders `resources.csv` from the run's resource readings: one row per reading,
/// a header row, empty cells for figures the platform did not report.
pub fn render_resources_csv(result: &RunResult) -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "elapsed_s,system_cpu_percent,system_memory_mb,target_cpu_percent,target_memory_mb,\
         harness_cpu_percent,harness_memory_mb,disk_read_mb_s,disk_write_mb_s,net_sent_mb_s,net_recv_mb_s\n",
    );
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    for r in &result.resources {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{}",
            r.elapsed_s,
            r.system_cpu_percent,
            r.system_memory_mb,
            r.target_cpu_percent
                .map_or(String::new(), |v| v.to_string()),
            opt(r.target_memory_mb),
            r.harness_cpu_percent,
            r.harness_memory_mb,
            r.disk_read_mb_s,
            r.disk_write_mb_s,
            r.net_sent_mb_s,
            r.net_recv_mb_s
        );
    }
    out
}
