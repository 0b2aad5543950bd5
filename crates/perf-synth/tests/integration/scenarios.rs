//! Built-in scenarios: determinism, coverage of the original suite, content awareness,
//! scaling, and snapshots for a fixed seed.

use std::time::Duration;

use perf_core::{Expectation, LoadProfile, Query, Scenario};
use perf_synth::{
    EdgeCaseScenario, EdgeClass, EdgeRole, EdgeStages, ScenarioKind, ScenarioRegistry,
    SyntheticFlags, DEFAULT_SCALE, EDGE_CONTROL_CATEGORY, EDGE_PAIR_LEN, EDGE_SCENARIO,
};

use crate::support::profile;

/// One line per query: id, category, agent, length, the start of the text and the
/// expectations, so the snapshot stays small when texts are long.
fn digest_line(q: &Query) -> String {
    let prefix: String = q.text.chars().take(48).collect();
    let exp: Vec<String> = q
        .expectations
        .iter()
        .map(|e| match e {
            Expectation::AnswerContains { text } => format!("contains({text})"),
            Expectation::NoUnescapedEcho { payload } => format!("no_echo({payload:?})"),
            Expectation::NoSecretDisclosure { markers } if !markers.is_empty() => {
                format!("no_secret({})", markers.join(","))
            }
            other => other.name().to_owned(),
        })
        .collect();
    format!(
        "{} | {} | {} | {}c/{}w | {:?} | {}",
        q.id,
        q.category,
        q.expected_agent.as_deref().unwrap_or("-"),
        q.text.chars().count(),
        q.text.split_whitespace().count(),
        prefix,
        exp.join(" ")
    )
}

#[test]
fn edge_cases_snapshot() {
    let q = EdgeCaseScenario::new().queries(&profile(), 42);
    let lines: Vec<String> = q.iter().map(digest_line).collect();
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn plans_at_the_default_scale_snapshot() {
    let plans = ScenarioRegistry::with_builtins()
        .plans(&SyntheticFlags::default(), &profile(), 42, DEFAULT_SCALE)
        .unwrap();
    let lines: Vec<String> = plans
        .iter()
        .map(|p| {
            let load = match &p.load {
                LoadProfile::Closed(c) => format!(
                    "closed users={} think={:?} duration={:?}",
                    c.users, c.think_time, c.duration
                ),
                LoadProfile::Open(o) => format!(
                    "open {:?} stages={:?} in_flight={}",
                    o.arrival,
                    o.stages
                        .iter()
                        .map(|s| (s.duration, s.start_rate, s.end_rate))
                        .collect::<Vec<_>>(),
                    o.max_in_flight
                ),
            };
            format!(
                "{} [{} x{}] {:?} queries={} first={} | {load}",
                p.info.name,
                p.kind,
                p.scale,
                p.info.stress_level,
                p.queries.len(),
                p.queries.first().map(digest_line).unwrap_or_default()
            )
        })
        .collect();
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn same_seed_same_queries_other_seed_other_queries() {
    let r = ScenarioRegistry::with_builtins();
    let a = r
        .plans(&SyntheticFlags::default(), &profile(), 1, 1.0)
        .unwrap();
    let b = r
        .plans(&SyntheticFlags::default(), &profile(), 1, 1.0)
        .unwrap();
    assert_eq!(a, b);
    let c = r
        .plans(&SyntheticFlags::default(), &profile(), 2, 1.0)
        .unwrap();
    let differing = a
        .iter()
        .zip(&c)
        .filter(|(x, y)| x.queries != y.queries)
        .count();
    assert!(
        differing >= 8,
        "only {differing} scenarios depend on the seed"
    );
}

#[test]
fn edge_cases_cover_every_required_input() {
    let q = EdgeCaseScenario::new().queries(&profile(), 3);
    let hostile: Vec<&Query> = q
        .iter()
        .filter(|q| q.tags.iter().any(|t| t == "hostile"))
        .collect();
    // The control copies come first, one per agent the probes go to; then every hostile
    // query is followed by its health probe, a copy of one control under its own id.
    let stages = EdgeStages::split(&q);
    assert_eq!(q[..stages.controls.len()], stages.controls[..]);
    assert_eq!(stages.controls.len(), perf_core::agents::ALL.len());
    assert_eq!(hostile.len() * EDGE_PAIR_LEN, stages.pairs.len());
    for pair in stages.pairs.chunks(EDGE_PAIR_LEN) {
        let (attack, probe) = (&pair[0], &pair[1]);
        assert_eq!(probe.id, format!("{}-health", attack.id));
        assert_eq!(
            EdgeRole::from_category(&attack.category),
            Some(EdgeRole::Hostile(
                EdgeClass::from_category(&attack.category).unwrap().0
            ))
        );
        assert!(matches!(
            EdgeRole::from_category(&probe.category),
            Some(EdgeRole::Probe(_))
        ));
        let control = stages
            .controls
            .iter()
            .find(|c| c.expected_agent == probe.expected_agent)
            .expect("a control for every probe");
        assert_eq!(control.category, EDGE_CONTROL_CATEGORY);
        assert_eq!(control.text, probe.text);
        assert_eq!(control.expectations, probe.expectations);
    }
    let texts: Vec<&str> = hostile.iter().map(|q| q.text.as_str()).collect();
    let has = |pred: &dyn Fn(&str) -> bool| texts.iter().any(|t| pred(t));
    assert!(has(&|t| t.split_whitespace().count() >= 1_000));
    assert!(has(&|t| t.chars().count() == 2_000));
    assert!(has(&|t| t.chars().count() == 2_001));
    assert!(has(&|t| t.chars().count() > 4_000));
    assert!(has(&|t| t.contains("DROP TABLE")));
    assert!(has(&|t| t.contains("<script>")));
    assert!(has(&|t| t.contains("<iframe")));
    assert!(has(&|t| t.contains('\0')));
    assert!(has(&|t| t.contains('\u{1b}')));
    assert!(has(&|t| t.contains("🏽") && t.contains('\u{200D}')));
    assert!(has(&|t| t.contains("🇯🇵")));
    assert!(has(&|t| t.contains('\u{0301}') || t.contains('\u{0338}')));
    assert!(has(&|t| t.contains("ابحث")));
    assert!(has(&|t| t.contains('а') || t.contains('о'))); // Cyrillic look-alikes
    assert!(has(&|t| t.is_empty()));
    assert!(has(&|t| !t.is_empty() && t.trim().is_empty()));
    assert!(has(&|t| t.contains("Ignore previous instructions")));
    assert!(has(&|t| t.contains("system prompt")));
    assert!(has(&|t| t.contains("@everyone")));
    assert!(has(&|t| t.contains("||")));
    assert!(has(&|t| t.contains("````")));
    for class in EdgeClass::ALL {
        assert!(
            hostile.iter().any(|q| q.category == class.category()),
            "no query for {class}"
        );
    }
    // Every hostile query carries the robustness expectations.
    for q in &hostile {
        assert!(q.expectations.contains(&Expectation::NoInternalErrorLeak));
        assert!(q
            .expectations
            .iter()
            .any(|e| matches!(e, Expectation::NoSecretDisclosure { .. })));
    }
    // Markup classes check for unescaped echoes.
    for class in [EdgeClass::Xss, EdgeClass::Html, EdgeClass::DiscordMarkup] {
        assert!(hostile.iter().any(|q| q.category == class.category()
            && q.expectations
                .iter()
                .any(|e| matches!(e, Expectation::NoUnescapedEcho { .. }))));
    }
    // Most hostile queries say which agent they are for.
    let routed = hostile
        .iter()
        .filter(|q| q.expected_agent.is_some())
        .count();
    assert!(
        routed * 4 >= hostile.len() * 3,
        "{routed}/{}",
        hostile.len()
    );
}

#[test]
fn canaries_reach_every_hostile_query() {
    let q = EdgeCaseScenario::new()
        .with_canaries(["CANARY-7f3a".to_owned()])
        .queries(&profile(), 3);
    let hostile = q.iter().filter(|q| q.tags.iter().any(|t| t == "hostile"));
    for q in hostile {
        assert!(q.expectations.iter().any(|e| matches!(
            e,
            Expectation::NoSecretDisclosure { markers } if markers.iter().any(|m| m == "CANARY-7f3a")
        )));
    }
    let mut r = ScenarioRegistry::with_builtins();
    r.set_edge_cases(EdgeCaseScenario::new().with_canaries(["X-1".to_owned()]));
    assert_eq!(r.len(), 10);
    assert_eq!(r.names()[0], EDGE_SCENARIO);
}

#[test]
fn default_scale_keeps_stress_and_load_short_and_scale_one_is_full_length() {
    let r = ScenarioRegistry::with_builtins();
    let flags = SyntheticFlags {
        edge_cases: false,
        ..SyntheticFlags::default()
    };
    let total = |scale: f64| -> Duration {
        r.plans(&flags, &profile(), 1, scale)
            .unwrap()
            .iter()
            .filter_map(|p| p.load.duration())
            .sum()
    };
    assert_eq!(total(1.0), Duration::from_secs(430));
    let short = total(DEFAULT_SCALE);
    assert!(short <= Duration::from_secs(20), "{short:?}");
    let plans = r.plans(&flags, &profile(), 1, 1.0).unwrap();
    let hf = plans
        .iter()
        .find(|p| p.info.name == "stress_high_frequency")
        .unwrap();
    assert_eq!(hf.queries.len(), 1_201);
    let scaled = r.plans(&flags, &profile(), 1, DEFAULT_SCALE).unwrap();
    let hf = scaled
        .iter()
        .find(|p| p.info.name == "stress_high_frequency")
        .unwrap();
    // 20/s for 2.4 s, plus one for rounding.
    assert_eq!(hf.queries.len(), 49);
    assert!(r.plans(&flags, &profile(), 1, 0.0).is_err());
    // Ids are unique across all plans.
    let all = r
        .plans(&SyntheticFlags::default(), &profile(), 1, 1.0)
        .unwrap();
    let mut ids: Vec<&str> = all
        .iter()
        .flat_map(|p| p.queries.iter().map(|q| q.id.as_str()))
        .collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n);
    // Stress and load queries keep out of the standard categories.
    for p in all.iter().filter(|p| p.kind != ScenarioKind::EdgeCases) {
        for q in &p.queries {
            assert!(
                q.category.starts_with("stress:") || q.category.starts_with("load:"),
                "{}",
                q.category
            );
            assert_eq!(q.scenario, p.info.name);
        }
    }
}

#[tokio::test]
async fn scenarios_use_the_real_database_content() {
    let (_dir, _path, content) = crate::support::fixture_database().await;
    let top_user = content.users[0].name.clone();
    let top_channel = content.channels[0].name.clone();
    let plans = ScenarioRegistry::with_builtins()
        .plans(&SyntheticFlags::default(), &content, 9, DEFAULT_SCALE)
        .unwrap();
    let edge = plans.iter().find(|p| p.info.name == EDGE_SCENARIO).unwrap();
    assert!(edge
        .queries
        .iter()
        .any(|q| q.category == "edge:sql_injection" && q.text.contains(&top_user)));
    assert!(edge
        .queries
        .iter()
        .any(|q| q.category == "edge:homoglyph" && q.text.contains("Summarize #")));
    assert!(edge
        .queries
        .iter()
        .any(|q| q.expectations.contains(&Expectation::AnswerContains {
            text: top_channel.clone()
        })));
    let users = plans
        .iter()
        .find(|p| p.info.name == "stress_concurrent_users")
        .unwrap();
    assert!(users.queries.iter().all(|q| q.user_id.is_some()));
    assert!(users
        .queries
        .iter()
        .any(|q| q.channel.as_deref() == Some(top_channel.as_str())));
}

#[test]
fn a_contributor_crate_joins_the_registry() {
    let mut r = ScenarioRegistry::with_builtins();
    r.add(
        ScenarioKind::Custom,
        custom_scenario::FollowUpScenario::new(3),
    )
    .unwrap();
    assert_eq!(r.kind_of(custom_scenario::NAME), Some(ScenarioKind::Custom));
    let only_custom = SyntheticFlags {
        edge_cases: false,
        stress_scenarios: false,
        load_testing: false,
        ..SyntheticFlags::default()
    };
    let plans = r.plans(&only_custom, &profile(), 1, DEFAULT_SCALE).unwrap();
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].source, "code");
    assert_eq!(plans[0].queries.len(), 9);
    assert_eq!(plans[0].scale, 1.0);
    assert!(r
        .add(
            ScenarioKind::Custom,
            custom_scenario::FollowUpScenario::new(1)
        )
        .is_err());
}
