//! The reports directory: writing a run, the latest pointer, listing, loading, pruning.

use std::fs;
use std::path::Path;

use perf_report::{
    list_runs, load_run, prune_runs, write_run_reports, ReportError, Status, LATEST_FILE,
};

use crate::fixture;

fn write_run(root: &Path, id: &str, started_at: &str) {
    let mut r = fixture::run();
    r.run_id = id.to_owned();
    r.started_at = started_at.to_owned();
    write_run_reports(&r, root).unwrap();
}

#[test]
fn writes_every_report_and_points_latest_at_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("reports");
    let r = fixture::run();
    let paths = write_run_reports(&r, &root).unwrap();
    assert_eq!(paths.dir, root.join(&r.run_id));
    for p in [
        &paths.json,
        &paths.markdown,
        &paths.html,
        &paths.junit,
        &paths.resources_csv,
    ] {
        let len = fs::metadata(p).unwrap().len();
        assert!(len > 100, "{} is {len} bytes", p.display());
    }
    let csv = fs::read_to_string(&paths.resources_csv).unwrap();
    assert_eq!(csv.lines().count(), 1 + r.resources.len());
    assert!(csv
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("0,30,4000,50,120,10,30,"));
    assert_eq!(
        fs::read_to_string(root.join(LATEST_FILE)).unwrap().trim(),
        r.run_id
    );
    #[cfg(unix)]
    {
        let link = paths.latest_link.clone().expect("symlink on unix");
        assert_eq!(fs::read_link(&link).unwrap(), Path::new(&r.run_id));
        assert!(
            link.join("report.json").is_file(),
            "latest resolves to the run"
        );
    }
    // No temporary files are left behind.
    let stray: Vec<_> = fs::read_dir(&paths.dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
    assert_eq!(load_run(&root, "latest").unwrap(), r);
    assert_eq!(paths.samples_jsonl, None, "the runner wrote no samples");

    // When the runner wrote samples.jsonl into the run directory, the paths name it.
    let samples = perf_report::run_dir(&root, &r.run_id)
        .unwrap()
        .join(perf_report::SAMPLES_JSONL);
    fs::write(&samples, "{}\n").unwrap();
    let again = write_run_reports(&r, &root).unwrap();
    assert_eq!(again.samples_jsonl, Some(samples.clone()));
    assert_eq!(
        fs::read_to_string(&samples).unwrap(),
        "{}\n",
        "left untouched"
    );
}

#[test]
fn hostile_run_ids_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for id in [
        "../escape",
        "a/b",
        "",
        "..",
        "latest",
        "with space",
        ".hidden",
    ] {
        let mut r = fixture::run();
        r.run_id = id.to_owned();
        match write_run_reports(&r, tmp.path()) {
            Err(ReportError::InvalidRunId(got)) => assert_eq!(got, id),
            other => panic!("{id:?}: {other:?}"),
        }
    }
    assert_eq!(
        fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn lists_runs_newest_first_with_verdict_and_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write_run(root, "run-b", "2026-01-02T00:00:00Z");
    write_run(root, "run-a", "2026-01-01T00:00:00Z");
    write_run(root, "run-c", "2026-01-03T00:00:00Z");
    // Things that are not runs.
    fs::create_dir(root.join("notes")).unwrap();
    fs::write(root.join("notes").join("report.json"), "{ not json").unwrap();
    fs::write(root.join("README.txt"), "keep me").unwrap();
    let runs = list_runs(root).unwrap();
    let ids: Vec<_> = runs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["run-c", "run-b", "run-a"]);
    assert_eq!(runs[0].status, Some(Status::Fail));
    assert_eq!(runs[0].total, 200);
    assert_eq!(runs[0].successes, fixture::run().overall.successes);
    assert!(
        runs[0].latest,
        "run-c was written last, so latest points at it"
    );
    assert!(!runs[1].latest && !runs[2].latest);
    assert!(list_runs(&root.join("missing")).unwrap().is_empty());
    match load_run(root, "nope") {
        Err(ReportError::RunNotFound { id, .. }) => assert_eq!(id, "nope"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn prune_keeps_newest_and_latest_and_never_touches_other_things() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for (id, day) in [("r1", 1), ("r2", 2), ("r3", 3), ("r4", 4)] {
        write_run(root, id, &format!("2026-01-0{day}T00:00:00Z"));
    }
    // Point latest at the oldest run: it must survive.
    perf_report::update_latest(root, "r1").unwrap();
    fs::create_dir(root.join("scratch")).unwrap();
    fs::write(root.join("scratch").join("data"), "x").unwrap();
    // A directory whose report.json names another run is not that run.
    fs::create_dir(root.join("impostor")).unwrap();
    fs::copy(
        root.join("r2").join("report.json"),
        root.join("impostor").join("report.json"),
    )
    .unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.join("r3"), root.join("alias")).unwrap();

    let out = prune_runs(root, 1).unwrap();
    assert_eq!(out.kept, ["r4", "r1"]);
    assert_eq!(out.removed, ["r3", "r2"]);
    assert!(root.join("r1").is_dir() && root.join("r4").is_dir());
    assert!(!root.join("r2").exists() && !root.join("r3").exists());
    assert!(root.join("scratch").join("data").is_file());
    assert!(root.join("impostor").join("report.json").is_file());
    assert!(root.join(LATEST_FILE).is_file());
    #[cfg(unix)]
    assert!(
        fs::symlink_metadata(root.join("alias")).is_ok(),
        "symlinks are not runs"
    );

    let again = prune_runs(root, 0).unwrap();
    assert_eq!(again.removed, ["r4"]);
    assert_eq!(again.kept, ["r1"], "latest is never pruned");
}

#[cfg(unix)]
#[test]
fn a_real_latest_directory_is_never_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fs::create_dir(root.join("latest")).unwrap();
    fs::write(root.join("latest").join("mine"), "x").unwrap();
    let paths = write_run_reports(&fixture::run(), root).unwrap();
    assert_eq!(
        paths.latest_link, None,
        "no symlink where a directory stands"
    );
    assert!(root.join("latest").join("mine").is_file());
    assert_eq!(
        perf_report::latest_run_id(root).as_deref(),
        Some(fixture::run().run_id.as_str()),
        "latest.txt still names the run"
    );
}

/// Issue #16 D6: a run directory whose process died before the reports (only
/// `samples.jsonl`) is listed as incomplete, and `runs prune` leaves it alone.
#[test]
fn a_run_directory_without_a_report_is_listed_as_incomplete() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write_run(root, "run-a", "2026-01-01T00:00:00Z");
    let killed = root.join("20260105T101112Z-0a1b");
    fs::create_dir(&killed).unwrap();
    fs::write(killed.join("samples.jsonl"), "{}\n").unwrap();
    // A directory that is not a run id of ours stays out of the listing.
    fs::create_dir(root.join("scratch-dir")).unwrap();
    let runs = list_runs(root).unwrap();
    let ids: Vec<_> = runs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["20260105T101112Z-0a1b", "run-a"]);
    assert!(runs[0].incomplete && runs[0].status.is_none());
    assert_eq!(runs[0].started_at, "2026-01-05T10:11:12Z");
    assert!(!runs[1].incomplete);
    let out = prune_runs(root, 0).unwrap();
    assert!(killed.is_dir(), "prune removed an incomplete run: {out:?}");
}
