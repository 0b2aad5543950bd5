//! A bot that is not ours: it answers from a server of its own (plain text, none of the
//! generated server's facts) and names its agents its own way, through a keyword router.
//! The defaults must give it a right verdict: pass when it answers well, fail for what it
//! does wrong (errors, leaks), and never fail it for facts it cannot know.

use std::collections::BTreeMap;

use perf_core::record::{CheckGroup, CheckStatus};
use perf_suite::{run_suite, Config, Grounding, AGENT_ROUTING_CHECK, GROUNDED_FACTS_CHECK};
use tokio_util::sync::CancellationToken;

/// A JSON-lines bot (POSIX sh) with its own four agents, routed by keywords of the text.
/// Its answers are about "the Acme support space": no digit, no name of the generated
/// server. `LEAK` set to an agent name makes that agent answer with a stack trace.
const OTHER_SERVER_BOT: &str = r#"while IFS= read -r line; do
  id=$(printf '%s' "$line" | sed 's/^{"id":"\([^"]*\)".*/\1/')
  case "$line" in
    *Summarize*|*digest*|*highlights*) agent=recap ;;
    *"Search for"*|*Find*|*"people said"*) agent=finder ;;
    *"usually talk"*|*"activity of user"*|*"How active is"*|*"active user?"*) agent=people ;;
    *) agent=stats ;;
  esac
  if [ "$agent" = "$LEAK" ]; then
    answer='Traceback (most recent call last): sqlite3.OperationalError: no such table'
  else
    answer="$agent here: the Acme support space is calm and friendly today."
  fi
  printf '{"id":"%s","answer":"%s","agent":"%s","error":null}\n' "$id" "$answer" "$agent"
done
"#;

fn config_for(dir: &std::path::Path, leak: &str) -> Config {
    let bot = dir.join("bot.sh");
    std::fs::write(&bot, OTHER_SERVER_BOT).unwrap();
    let mut config = Config::small(dir);
    config
        .set_target_flag(&format!("cmd:sh -c 'LEAK={leak} sh {}'", bot.display()))
        .unwrap();
    config.query_count = 40;
    config
}

fn check<'a>(
    r: &'a perf_core::record::RunResult,
    group: CheckGroup,
    name: &str,
) -> &'a perf_core::record::CheckResult {
    r.checks
        .iter()
        .find(|c| c.group == group && c.name == name)
        .unwrap_or_else(|| panic!("no check {group}/{name}: {:#?}", r.checks))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_bot_of_another_server_passes_with_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), "none");
    let outcome = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap();
    let r = &outcome.result;
    // Nothing failed for a fact the bot cannot know.
    assert_eq!(
        r.overall.outcome_count("failed_expectation"),
        0,
        "{:?}",
        r.overall.outcomes
    );
    assert_eq!(r.overall.failures(), 0, "{:?}", r.overall.outcomes);
    // The facts and the routing are shown as not applicable, with the reason and the way
    // to get them.
    let facts = check(r, CheckGroup::Grounding, GROUNDED_FACTS_CHECK);
    assert_eq!(facts.status, CheckStatus::NotMeasured);
    assert!(
        facts
            .reason
            .contains("does not answer from the configured database"),
        "{}",
        facts.reason
    );
    assert!(facts.reason.contains("database_path"), "{}", facts.reason);
    let routing = check(r, CheckGroup::Grounding, AGENT_ROUTING_CHECK);
    assert_eq!(routing.status, CheckStatus::NotMeasured);
    assert!(routing.reason.contains("`agents`"), "{}", routing.reason);
    // The bot's own agent names are reported.
    assert!(
        r.notes.iter().any(|n| n.contains("agents the bot returned")
            && n.contains("stats")
            && n.contains("recap")),
        "{:?}",
        r.notes
    );
    // Every critical path and every robustness class passes; the run passes.
    for c in r
        .checks
        .iter()
        .filter(|c| c.group == CheckGroup::CriticalPath)
    {
        assert!(c.passed(), "{c:?}");
        assert!(c.reason.contains("routing not judged"), "{c:?}");
    }
    assert!(r.checks.iter().any(|c| c.group == CheckGroup::Robustness));
    for c in r
        .checks
        .iter()
        .filter(|c| c.group == CheckGroup::Robustness)
    {
        assert!(c.passed(), "{c:?}");
    }
    // Pass, or a warning about this machine (a saturated core), never a failure.
    assert!(!r.checks.iter().any(|c| c.failed()), "{:?}", r.checks);
    let status = perf_report::overall_status(r);
    assert_ne!(
        status.status,
        perf_report::Status::Fail,
        "{:?}",
        status.reasons
    );
    // The reports say why the facts were not judged.
    let md = std::fs::read_to_string(outcome.run_dir().join("summary.md")).unwrap();
    assert!(
        md.lines()
            .any(|l| l.contains("grounded\\_facts") && l.contains("SKIP (not measured)")),
        "{md}"
    );
    let junit = std::fs::read_to_string(outcome.run_dir().join("junit.xml")).unwrap();
    assert!(
        junit.contains("<skipped message=\"not measured: the bot does not answer"),
        "{junit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_bot_still_fails_for_what_it_does_wrong() {
    let dir = tempfile::tempdir().unwrap();
    // The stats agent leaks a stack trace: server_analysis fails for it, with its reason.
    let config = config_for(dir.path(), "stats");
    let outcome = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap();
    let r = &outcome.result;
    let path = check(r, CheckGroup::CriticalPath, "server_analysis");
    assert!(path.failed(), "{path:?}");
    assert_eq!(
        r.per_category["server_analysis"].outcome_count("failed_expectation"),
        r.per_category["server_analysis"].count
    );
    let samples = std::fs::read_to_string(outcome.run_dir().join("samples.jsonl")).unwrap();
    assert!(samples.contains("no_internal_error_leak"));
    assert!(check(r, CheckGroup::CriticalPath, "semantic_search").passed());
    assert_eq!(
        perf_report::overall_status(r).status,
        perf_report::Status::Fail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapped_agents_are_judged_and_grounding_on_judges_the_facts() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(dir.path(), "none");
    config.synthetic_testing.enabled = false;
    config.agents = BTreeMap::from(
        [
            ("server_analysis", "stats"),
            ("semantic_search", "finder"),
            ("user_analysis", "people"),
            ("digest_generation", "recap"),
        ]
        .map(|(p, a)| (p.to_owned(), vec![a.to_owned()])),
    );
    let outcome = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap();
    let r = &outcome.result;
    assert!(
        !r.checks.iter().any(|c| c.name == AGENT_ROUTING_CHECK),
        "routing applies: {:?}",
        r.checks
    );
    for path in perf_core::agents::ALL {
        let g = &r.per_category[path];
        assert_eq!(g.routing.checked, g.count, "{path}");
        assert_eq!(
            g.routing.correct, g.count,
            "{path}: the router sends every query right"
        );
        let c = check(r, CheckGroup::CriticalPath, path);
        assert!(
            c.passed() && c.reason.contains("to the expected agent"),
            "{c:?}"
        );
    }
    // The names reached the per-agent figures as the paths they serve.
    assert!(r.per_agent.contains_key("server_analysis"));
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("stats (") && n.contains("→ server_analysis")),
        "{:?}",
        r.notes
    );

    // `grounding: on` judges the facts: this bot does not know them, and fails.
    config.grounding = Grounding::On;
    config.agents.clear();
    let on = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap();
    assert!(on.result.overall.outcome_count("failed_expectation") > 0);
    assert!(!on
        .result
        .checks
        .iter()
        .any(|c| c.group == CheckGroup::Grounding));
}

#[test]
fn an_agents_mapping_naming_an_unknown_path_is_refused_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    std::fs::write(&path, r#"{"agents": {"semantic_serch": ["finder"]}}"#).unwrap();
    let e = Config::load(&path).unwrap_err().to_string();
    assert!(e.contains("agents.semantic_serch"), "{e}");
    assert!(e.contains("did you mean `semantic_search`"), "{e}");
    std::fs::write(&path, r#"{"grounding": "sometimes"}"#).unwrap();
    let e = Config::load(&path).unwrap_err().to_string();
    assert!(
        e.contains("c.json") && e.contains("expected one of `auto`, `on`, `off`"),
        "{e}"
    );
}

/// A baseline belongs to the bot it was recorded from: comparing another bot with it is
/// refused before any load is sent, naming both bots and the ways out; the flag compares
/// anyway (saying the target differs); a baseline of the bot itself compares.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_baseline_of_another_bot_is_refused_before_any_load() {
    let dir = tempfile::tempdir().unwrap();
    // The reference bot records the baseline `shared`.
    let mut refbot = Config::small(dir.path());
    refbot.performance_baselines.baseline_name = "shared".into();
    refbot.performance_baselines.auto_update_baselines = true;
    run_suite(&refbot, None, CancellationToken::new())
        .await
        .unwrap();
    let stored = dir.path().join("baselines/shared.json");
    assert!(stored.is_file());

    // The user's bot is refused against it.
    let mut mine = config_for(dir.path(), "none");
    mine.performance_baselines.baseline_name = "shared".into();
    let runs_before = std::fs::read_dir(&mine.output_dir).unwrap().count();
    let err = run_suite(&mine, None, CancellationToken::new())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            perf_suite::SuiteError::Baseline(perf_baseline::BaselineError::OtherTarget { .. })
        ),
        "{text}"
    );
    assert_eq!(err.exit_code(), 2, "{text}");
    for needle in [
        "recorded from `refbot (in_process)`",
        "this run is of `",
        "(command)`",
        "--allow-other-target",
        "--update-baseline",
        "shared.json",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    // Nothing ran: no run directory was left behind.
    assert_eq!(
        std::fs::read_dir(&mine.output_dir).unwrap().count(),
        runs_before
    );

    // With the flag it compares, and says the target differs.
    mine.performance_baselines.allow_other_target = true;
    let outcome = run_suite(&mine, None, CancellationToken::new())
        .await
        .unwrap();
    let cmp = outcome.result.comparison.as_ref().expect("a comparison");
    assert!(
        cmp.environment_differences
            .iter()
            .any(|d| d.starts_with("target: baseline `refbot (in_process)`")),
        "{:?}",
        cmp.environment_differences
    );

    // A baseline of the user's own bot compares without the flag.
    let mut own = config_for(dir.path(), "none");
    own.performance_baselines.baseline_name = "mine".into();
    own.performance_baselines.auto_update_baselines = true;
    run_suite(&own, None, CancellationToken::new())
        .await
        .unwrap();
    own.performance_baselines.auto_update_baselines = false;
    let outcome = run_suite(&own, None, CancellationToken::new())
        .await
        .unwrap();
    let c = check(&outcome.result, CheckGroup::Baseline, "mine");
    assert_ne!(c.status, CheckStatus::NotMeasured, "{}", c.reason);
    assert!(outcome.result.comparison.is_some());
}
