use std::fmt::Write as _;

use perf_core::record::{RunResult, Verdict};

use crate::escape::{truncate, xml};
use crate::fmt;
use crate::model;
use crate::status::overall_status;

/// Characters of a failure message at most (CI systems show it on one line).
const MESSAGE: usize = 500;

#[derive(Debug)]
enum CaseResult {
    Pass,
    Fail(String),
    Skip(String),
}

#[derive(Debug)]
struct Case {
    name: String,
    result: CaseResult,
    out: String,
}

#[derive(Debug)]
struct Suite {
    name: String,
    cases: Vec<Case>,
}

/// Renders `junit.xml`: every check (one suite per check group: critical paths, gate
/// checks, robustness classes, ...), every baseline-comparison verdict (suite
/// `baseline:<name>`) and the run itself (suite `run`) as test cases.
///
/// Failed checks and regressions are `<failure message=...>`; inconclusive verdicts are
/// `<skipped message=...>` so CI shows them as neither passed nor failed; improvements
/// and passes pass, with the figures in `<system-out>`. An interrupted run makes the
/// `run/completed` case skipped. All text is escaped for XML 1.0.
pub fn render_junit(result: &RunResult) -> String {
    let mut suites: Vec<Suite> = Vec::new();
    for c in &result.checks {
        let idx = match suites.iter().position(|s| s.name == c.group.as_str()) {
            Some(i) => i,
            None => {
                suites.push(Suite {
                    name: c.group.as_str().to_owned(),
                    cases: Vec::new(),
                });
                suites.len() - 1
            }
        };
        let mut out = c.reason.clone();
        if let Some(rule) = c.group.rule() {
            let _ = write!(out, "\nrule: {rule}");
        }
        if c.group == model::CRITICAL_PATH {
            if let Some((source, g)) = model::lookup(result, &c.name) {
                let l = g.latency.summary();
                let _ = write!(
                    out,
                    "\n{source}: {} queries, {} ok, p50 {}, p95 {}, p99 {}",
                    fmt::count(g.count),
                    fmt::percent(g.success_rate()),
                    fmt::ms(l.p50_ms),
                    fmt::ms(l.p95_ms),
                    fmt::ms(l.p99_ms)
                );
                if g.is_streaming() {
                    let _ = write!(
                        out,
                        ", TTFT p50 {}, p95 {}",
                        model::pct_ms(&g.ttft, 50.0),
                        model::pct_ms(&g.ttft, 95.0)
                    );
                }
                if let Some(t) = model::output_tokens_per_s(g, result.wall_time_s) {
                    let _ = write!(out, ", {} output tok/s", fmt::num(t));
                }
            }
        }
        suites[idx].cases.push(Case {
            name: c.name.clone(),
            result: match c.status {
                perf_core::record::CheckStatus::Passed => CaseResult::Pass,
                perf_core::record::CheckStatus::Failed => CaseResult::Fail(c.reason.clone()),
                perf_core::record::CheckStatus::NotMeasured => CaseResult::Skip(c.reason.clone()),
            },
            out,
        });
    }
    if let Some(cmp) = &result.comparison {
        let cases = cmp
            .verdicts
            .iter()
            .map(|v| {
                let line = format!(
                    "{} {}: {} → {} ({}, interval {}, threshold {}){}{}",
                    v.key,
                    v.metric,
                    fmt::metric_value(&v.metric, v.baseline),
                    fmt::metric_value(&v.metric, v.current),
                    fmt::change(&v.metric, v.relative_change),
                    fmt::interval(&v.metric, v.interval),
                    fmt::change(&v.metric, v.threshold),
                    v.p_value.map_or(String::new(), |p| format!(", p = {p:.4}")),
                    if v.reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", v.reason)
                    }
                );
                Case {
                    name: format!("{} {}", v.key, v.metric),
                    result: match v.verdict {
                        Verdict::Regression => CaseResult::Fail(line.clone()),
                        Verdict::Inconclusive => CaseResult::Skip(line.clone()),
                        _ => CaseResult::Pass,
                    },
                    out: format!("{}: {line}", v.verdict),
                }
            })
            .collect();
        suites.push(Suite {
            name: format!("baseline:{}", cmp.baseline),
            cases,
        });
    }
    let status = overall_status(result);
    suites.push(Suite {
        name: "run".to_owned(),
        cases: vec![Case {
            name: "completed".to_owned(),
            result: if result.interrupted {
                CaseResult::Skip("the run was interrupted; figures cover what ran".to_owned())
            } else {
                CaseResult::Pass
            },
            out: status.headline(),
        }],
    });

    let count = |f: fn(&CaseResult) -> bool| -> usize {
        suites
            .iter()
            .flat_map(|s| &s.cases)
            .filter(|c| f(&c.result))
            .count()
    };
    let tests = count(|_| true);
    let failures = count(|r| matches!(r, CaseResult::Fail(_)));
    let skipped = count(|r| matches!(r, CaseResult::Skip(_)));
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        r#"<testsuites name="perf {}" tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}" time="{:.3}">"#,
        xml(&result.run_id),
        finite(result.wall_time_s)
    );
    for s in &suites {
        let f = s
            .cases
            .iter()
            .filter(|c| matches!(c.result, CaseResult::Fail(_)))
            .count();
        let sk = s
            .cases
            .iter()
            .filter(|c| matches!(c.result, CaseResult::Skip(_)))
            .count();
        let _ = writeln!(
            out,
            r#"  <testsuite name="{}" tests="{}" failures="{f}" errors="0" skipped="{sk}" timestamp="{}">"#,
            xml(&s.name),
            s.cases.len(),
            xml(&result.started_at)
        );
        for c in &s.cases {
            let _ = write!(
                out,
                r#"    <testcase classname="perf.{}" name="{}" time="0">"#,
                xml(&s.name),
                xml(&c.name)
            );
            match &c.result {
                CaseResult::Pass => {}
                CaseResult::Fail(m) => {
                    let _ = write!(
                        out,
                        r#"<failure message="{}" type="{}">{}</failure>"#,
                        xml(&truncate(m, MESSAGE)),
                        xml(&s.name),
                        xml(m)
                    );
                }
                CaseResult::Skip(m) => {
                    let _ = write!(
                        out,
                        r#"<skipped message="{}"/>"#,
                        xml(&truncate(m, MESSAGE))
                    );
                }
            }
            if !c.out.is_empty() {
                let _ = write!(out, "<system-out>{}</system-out>", xml(&c.out));
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}
