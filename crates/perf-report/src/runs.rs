//! The reports directory: one directory per run, a `latest` pointer, listing, loading
//! and pruning.

use std::fs;
use std::path::{Path, PathBuf};

use perf_core::record::RunResult;
use serde::{Deserialize, Serialize};

use crate::status::Status;
use crate::{
    render_html, render_json, render_junit, render_markdown, render_resources_csv, ReportError,
};

/// `report.json`.
pub const REPORT_JSON: &str = "report.json";
/// `summary.md`.
pub const SUMMARY_MD: &str = "summary.md";
/// `report.html`.
pub const REPORT_HTML: &str = "report.html";
/// `junit.xml`.
pub const JUNIT_XML: &str = "junit.xml";
/// `resources.csv`.
pub const RESOURCES_CSV: &str = "resources.csv";
/// `samples.jsonl`: written by the runner, when enabled, into the run directory.
pub const SAMPLES_JSONL: &str = "samples.jsonl";
/// The symlink to the newest run directory (Unix).
pub const LATEST_LINK: &str = "latest";
/// The file holding the newest run's id, for platforms and tools without symlinks.
pub const LATEST_FILE: &str = "latest.txt";

/// Where the files of one run were written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReportPaths {
    /// The run directory, `<root>/<run-id>`.
    pub dir: PathBuf,
    /// `report.json`.
    pub json: PathBuf,
    /// `summary.md`.
    pub markdown: PathBuf,
    /// `report.html`.
    pub html: PathBuf,
    /// `junit.xml`.
    pub junit: PathBuf,
    /// `resources.csv`.
    pub resources_csv: PathBuf,
    /// `samples.jsonl`, when the runner wrote it into the run directory.
    pub samples_jsonl: Option<PathBuf>,
    /// `<root>/latest`, when the symlink could be made (Unix, and no directory in the way).
    pub latest_link: Option<PathBuf>,
    /// `<root>/latest.txt`.
    pub latest_file: PathBuf,
}

/// Checks that `run_id` can name a directory: 1–128 characters from `[A-Za-z0-9._-]`,
/// not only dots, and not one of this crate's reserved names (`latest`, `latest.txt`).
pub fn validate_run_id(run_id: &str) -> Result<(), ReportError> {
    let ok = !run_id.is_empty()
        && run_id.len() <= 128
        && run_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !run_id.bytes().all(|b| b == b'.')
        && !run_id.starts_with('.')
        && run_id != LATEST_LINK
        && run_id != LATEST_FILE;
    if ok {
        Ok(())
    } else {
        Err(ReportError::InvalidRunId(run_id.to_owned()))
    }
}

/// The directory of run `run_id` under `reports_root` (not created).
pub fn run_dir(reports_root: &Path, run_id: &str) -> Result<PathBuf, ReportError> {
    validate_run_id(run_id)?;
    Ok(reports_root.join(run_id))
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, then a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    // A full disk fails part-way: the partial temporary file goes too.
    fs::write(&tmp, bytes).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        ReportError::io("writing", &tmp, e)
    })?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        ReportError::io("renaming into place", path, e)
    })
}

/// Writes every report of a run into `<reports_root>/<run-id>/` (`report.json`,
/// `summary.md`, `report.html`, `junit.xml`, `resources.csv`; each atomically) and points
/// `latest` at it. `samples.jsonl` is the runner's to write (see [`SAMPLES_JSONL`]).
pub fn write_run_reports(
    result: &RunResult,
    reports_root: &Path,
) -> Result<ReportPaths, ReportError> {
    let dir = run_dir(reports_root, &result.run_id)?;
    fs::create_dir_all(&dir).map_err(|e| ReportError::io("creating", &dir, e))?;
    let paths = ReportPaths {
        json: dir.join(REPORT_JSON),
        markdown: dir.join(SUMMARY_MD),
        html: dir.join(REPORT_HTML),
        junit: dir.join(JUNIT_XML),
        resources_csv: dir.join(RESOURCES_CSV),
        samples_jsonl: Some(dir.join(SAMPLES_JSONL)).filter(|p| p.is_file()),
        latest_link: None,
        latest_file: reports_root.join(LATEST_FILE),
        dir,
    };
    write_atomic(&paths.json, render_json(result)?.as_bytes())?;
    write_atomic(&paths.markdown, render_markdown(result).as_bytes())?;
    write_atomic(&paths.html, render_html(result).as_bytes())?;
    write_atomic(&paths.junit, render_junit(result).as_bytes())?;
    write_atomic(
        &paths.resources_csv,
        render_resources_csv(result).as_bytes(),
    )?;
    let latest_link = update_latest(reports_root, &result.run_id)?;
    Ok(ReportPaths {
        latest_link,
        ..paths
    })
}

/// Points `latest.txt` (always) and the `latest` symlink (on Unix, unless something
/// other than a symlink is in the way) at `run_id`. Returns the symlink's path when it
/// was made.
pub fn update_latest(reports_root: &Path, run_id: &str) -> Result<Option<PathBuf>, ReportError> {
    validate_run_id(run_id)?;
    write_atomic(
        &reports_root.join(LATEST_FILE),
        format!("{run_id}\n").as_bytes(),
    )?;
    Ok(update_link(reports_root, run_id))
}

#[cfg(unix)]
fn update_link(root: &Path, run_id: &str) -> Option<PathBuf> {
    let link = root.join(LATEST_LINK);
    // Never replace a real file or directory someone put there.
    if let Ok(meta) = fs::symlink_metadata(&link) {
        if !meta.file_type().is_symlink() {
            return None;
        }
    }
    let tmp = root.join(format!(".{LATEST_LINK}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    // A relative target keeps the link valid when the reports directory moves.
    std::os::unix::fs::symlink(run_id, &tmp).ok()?;
    match fs::rename(&tmp, &link) {
        Ok(()) => Some(link),
        Err(_) => {
            let _ = fs::remove_file(&tmp);
            None
        }
    }
}

#[cfg(not(unix))]
fn update_link(_root: &Path, _run_id: &str) -> Option<PathBuf> {
    None
}

/// The id of the newest run, from `latest.txt` or else the `latest` symlink; `None` when
/// neither exists or names a valid id.
pub fn latest_run_id(reports_root: &Path) -> Option<String> {
    let from_file = fs::read_to_string(reports_root.join(LATEST_FILE))
        .ok()
        .map(|s| s.trim().to_owned());
    let from_link = || {
        fs::read_link(reports_root.join(LATEST_LINK))
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
    };
    from_file
        .filter(|id| validate_run_id(id).is_ok())
        .or_else(|| from_link().filter(|id| validate_run_id(id).is_ok()))
}

/// Every id a `latest` pointer names (the file and the symlink may disagree after a
/// crash between their updates; both are protected).
fn latest_ids(root: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    if let Ok(s) = fs::read_to_string(root.join(LATEST_FILE)) {
        ids.push(s.trim().to_owned());
    }
    if let Ok(p) = fs::read_link(root.join(LATEST_LINK)) {
        if let Some(n) = p.file_name() {
            ids.push(n.to_string_lossy().into_owned());
        }
    }
    ids
}

/// One run in the reports directory, as `orchestrator runs` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunEntry {
    /// Run id (the directory name).
    pub id: String,
    /// Start time, RFC 3339, as recorded.
    pub started_at: String,
    /// Overall verdict, when the report recorded one.
    pub status: Option<Status>,
    /// Samples recorded.
    pub total: u64,
    /// Successful samples.
    pub successes: u64,
    /// The run was cut short.
    pub interrupted: bool,
    /// `true` for the run `latest` points at.
    pub latest: bool,
    /// The run directory.
    pub dir: PathBuf,
    /// The directory has no readable `report.json` (the process was killed before the
    /// reports were written); only its id and start time are known. `runs prune` leaves
    /// such directories alone.
    pub incomplete: bool,
}

/// The few fields of `report.json` a listing needs; the rest is not parsed.
#[derive(Deserialize)]
struct Head {
    run_id: String,
    #[serde(default)]
    started_at: String,
    #[serde(default)]
    interrupted: bool,
    #[serde(default)]
    status: Option<HeadStatus>,
    overall: HeadCounts,
}

#[derive(Deserialize)]
struct HeadStatus {
    status: Status,
}

#[derive(Deserialize)]
struct HeadCounts {
    count: u64,
    successes: u64,
}

/// Reads the run in `dir` when it is one: a real directory (not a symlink) with a valid
/// run-id name holding a `report.json` whose `run_id` is that name.
fn read_entry(dir: &Path, latest: &[String]) -> Option<RunEntry> {
    let name = dir.file_name()?.to_str()?.to_owned();
    validate_run_id(&name).ok()?;
    if !fs::symlink_metadata(dir).ok()?.file_type().is_dir() {
        return None;
    }
    let report = dir.join(REPORT_JSON);
    let head = fs::symlink_metadata(&report)
        .ok()
        .filter(|m| m.file_type().is_file())
        .and_then(|_| fs::read_to_string(&report).ok())
        .and_then(|text| serde_json::from_str::<Head>(&text).ok());
    let Some(head) = head else {
        // A run that never wrote its report is still shown, when its directory name is
        // one of ours (`YYYYMMDDTHHMMSSZ-xxxx`), so it does not vanish from the listing.
        return started_at_of_id(&name).map(|started_at| RunEntry {
            latest: latest.contains(&name),
            id: name,
            started_at,
            status: None,
            total: 0,
            successes: 0,
            interrupted: true,
            dir: dir.to_owned(),
            incomplete: true,
        });
    };
    (head.run_id == name).then(|| RunEntry {
        latest: latest.contains(&name),
        id: name,
        started_at: head.started_at,
        status: head.status.map(|s| s.status),
        total: head.overall.count,
        successes: head.overall.successes,
        interrupted: head.interrupted,
        dir: dir.to_owned(),
        incomplete: false,
    })
}

/// The start time (RFC 3339) encoded in a run id made by the suite
/// (`20261126T162706Z-abcd`); `None` for any other name.
fn started_at_of_id(id: &str) -> Option<String> {
    let (stamp, suffix) = id.split_once('-')?;
    let b = stamp.as_bytes();
    let shape_ok = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
        && !suffix.is_empty()
        && suffix.bytes().all(|c| c.is_ascii_hexdigit());
    shape_ok.then(|| {
        format!(
            "{}-{}-{}T{}:{}:{}Z",
            &stamp[..4],
            &stamp[4..6],
            &stamp[6..8],
            &stamp[9..11],
            &stamp[11..13],
            &stamp[13..15]
        )
    })
}

/// The runs under `reports_root`, newest first (by `started_at`, then id). Only run
/// directories count (see [`prune_runs`]); anything else there is ignored. A missing
/// root lists no runs.
pub fn list_runs(reports_root: &Path) -> Result<Vec<RunEntry>, ReportError> {
    let rd = match fs::read_dir(reports_root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ReportError::io("listing", reports_root, e)),
    };
    let latest = latest_ids(reports_root);
    let mut runs = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| ReportError::io("listing", reports_root, e))?;
        if let Some(run) = read_entry(&entry.path(), &latest) {
            runs.push(run);
        }
    }
    runs.sort_by(|a, b| {
        b.started_at
            .cmp(&a.started_at)
            .then_with(|| b.id.cmp(&a.id))
    });
    Ok(runs)
}

/// Loads the full result of one run from its `report.json`; `id` may be `latest`.
pub fn load_run(reports_root: &Path, id: &str) -> Result<RunResult, ReportError> {
    let resolved = if id == LATEST_LINK {
        latest_run_id(reports_root).ok_or_else(|| ReportError::RunNotFound {
            id: id.to_owned(),
            root: reports_root.to_owned(),
        })?
    } else {
        validate_run_id(id)?;
        id.to_owned()
    };
    let path = reports_root.join(&resolved).join(REPORT_JSON);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ReportError::RunNotFound {
                id: resolved,
                root: reports_root.to_owned(),
            })
        }
        Err(e) => return Err(ReportError::io("reading", &path, e)),
    };
    serde_json::from_str(&text).map_err(|source| ReportError::Json { path, source })
}

/// What [`prune_runs`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PruneOutcome {
    /// Ids of the runs removed, oldest last.
    pub removed: Vec<String>,
    /// Ids of the runs kept, newest first.
    pub kept: Vec<String>,
}

/// Removes old runs, keeping the newest `keep` (as ordered by [`list_runs`]) and always
/// the one `latest` points at. Only run directories are removed: real directories (not
/// symlinks) with a valid run-id name whose `report.json` names that run. Anything else
/// in the reports directory is left alone.
pub fn prune_runs(reports_root: &Path, keep: usize) -> Result<PruneOutcome, ReportError> {
    let runs = list_runs(reports_root)?
        .into_iter()
        .filter(|r| !r.incomplete);
    let mut out = PruneOutcome::default();
    for (i, run) in runs.enumerate() {
        if i < keep || run.latest {
            out.kept.push(run.id);
            continue;
        }
        fs::remove_dir_all(&run.dir).map_err(|e| ReportError::io("removing", &run.dir, e))?;
        out.removed.push(run.id);
    }
    Ok(out)
}
