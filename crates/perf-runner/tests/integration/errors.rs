use std::time::Duration;

use perf_core::{ErrorKind, Expectation, LoadProfile, Outcome};
use perf_runner::{Plan, RetryPolicy, Runner, RunnerConfig, RunnerError};

use crate::support::{assert_near, new_result, queries, Reply, Scripted, Step};

#[tokio::test(start_paused = true)]
async fn slow_answers_time_out_at_the_query_timeout() {
    let target = Scripted::new(|n, _| {
        if n % 2 == 0 {
            Step::ok(5_000)
        } else {
            Step::ok(10)
        }
    });
    let config = RunnerConfig {
        query_timeout: Duration::from_secs(1),
        ..RunnerConfig::default()
    };
    let runner = Runner::new(target, config);
    let mut result = new_result();
    let plan = Plan::new(queries(4), LoadProfile::closed(1, None));
    let stats = runner.run(&plan, &mut result).await.unwrap();
    assert_eq!(stats.sent, 4);
    assert_eq!(result.overall.outcome_count("timeout"), 2);
    assert_eq!(result.overall.successes, 2);
    assert_near(result.overall.latency.max_micros() as f64, 1_000_000.0);
    assert_near(stats.wall_time_s, 2.02);
    let example = result
        .failure_examples
        .iter()
        .find(|s| s.outcome == Outcome::Timeout)
        .expect("a timeout example");
    assert!(example.error.as_deref().unwrap_or("").contains("1000 ms"));
}

#[tokio::test(start_paused = true)]
async fn retries_keep_the_first_attempts_failure() {
    // Every query fails on its first attempt and succeeds on its second.
    let target = Scripted::new(|n, _| {
        if n % 2 == 0 {
            Step {
                delay: Duration::from_millis(10),
                reply: Reply::Error(ErrorKind::Status),
            }
        } else {
            Step::ok(10)
        }
    });
    let config = RunnerConfig {
        retry: RetryPolicy {
            max_retries: 2,
            backoff: Duration::from_millis(100),
        },
        ..RunnerConfig::default()
    };
    let runner = Runner::new(target, config);
    let mut result = new_result();
    let plan = Plan::new(queries(3), LoadProfile::closed(1, None));
    runner.run(&plan, &mut result).await.unwrap();
    assert_eq!(result.overall.successes, 3);
    assert_eq!(result.overall.first_attempt_failures, 3);
    // Latency covers both attempts and the backoff: 10 + 100 + 10 ms.
    assert_near(result.overall.latency.max_micros() as f64, 120_000.0);
    assert_near(result.overall.latency.min_micros() as f64, 120_000.0);
}

#[tokio::test(start_paused = true)]
async fn retries_give_up_after_max_retries_with_doubling_backoff() {
    let target = Scripted::new(|_, _| Step {
        delay: Duration::ZERO,
        reply: Reply::Error(ErrorKind::Connect),
    });
    let config = RunnerConfig {
        retry: RetryPolicy {
            max_retries: 3,
            backoff: Duration::from_millis(100),
        },
        ..RunnerConfig::default()
    };
    let runner = Runner::new(target.clone(), config);
    let mut result = new_result();
    let plan = Plan::new(queries(1), LoadProfile::closed(1, None));
    let stats = runner.run(&plan, &mut result).await.unwrap();
    assert_eq!(target.calls.load(std::sync::atomic::Ordering::SeqCst), 4);
    assert_eq!(result.overall.outcome_count("error:connect"), 1);
    let s = &result.failure_examples[0];
    assert_eq!(s.attempts, 4);
    assert_eq!(s.first_attempt, Some(Outcome::Error(ErrorKind::Connect)));
    // 100 + 200 + 400 ms of backoff.
    assert_near(stats.wall_time_s, 0.7);
}

#[tokio::test(start_paused = true)]
async fn failed_expectations_are_listed_with_an_answer_excerpt() {
    let long_answer = "ä".repeat(1_000);
    let target = Scripted::new(move |_, _| Step {
        delay: Duration::from_millis(5),
        reply: Reply::Answer("search", long_answer.clone()),
    });
    let runner = Runner::new(target, RunnerConfig::default());
    let mut result = new_result();
    let mut qs = queries(2);
    qs[0] = qs[0].clone().with_expectation(Expectation::AnswerContains {
        text: "general".into(),
    });
    qs[1] = qs[1].clone().with_expectation(Expectation::AnswerNotEmpty);
    let plan = Plan::new(qs, LoadProfile::closed(2, None));
    runner.run(&plan, &mut result).await.unwrap();
    assert_eq!(result.overall.outcome_count("failed_expectation"), 1);
    assert_eq!(result.overall.successes, 1);
    let s = &result.failure_examples[0];
    assert_eq!(s.outcome, Outcome::FailedExpectation);
    assert_eq!(s.failed_expectations[0].expectation, "answer_contains");
    let excerpt = s.answer_excerpt.as_deref().expect("an excerpt");
    assert!(excerpt.chars().count() <= 301);
    assert!(excerpt.len() < long_answer_len());
    assert_eq!(s.agent.as_deref(), Some("search"));
}

fn long_answer_len() -> usize {
    "ä".len() * 1_000
}

#[tokio::test(start_paused = true)]
async fn a_panicking_target_is_an_error_sample_and_the_run_goes_on() {
    let target = Scripted::new(|n, _| {
        if n == 2 {
            Step {
                delay: Duration::from_millis(1),
                reply: Reply::Panic,
            }
        } else {
            Step::ok(1)
        }
    });
    let runner = Runner::new(target, RunnerConfig::default());
    let mut result = new_result();
    let plan = Plan::new(queries(6), LoadProfile::closed(1, None));
    let stats = runner.run(&plan, &mut result).await.unwrap();
    assert_eq!(stats.sent, 6);
    assert_eq!(result.overall.outcome_count("error:panic"), 1);
    assert_eq!(result.overall.successes, 5);
    let s = &result.failure_examples[0];
    assert!(s.error.as_deref().unwrap_or("").contains("scripted panic"));
}

#[tokio::test(start_paused = true)]
async fn bad_values_are_configuration_errors_naming_the_key() {
    let runner = Runner::new(Scripted::fixed(1), RunnerConfig::default());
    let mut result = new_result();
    let cases = [
        (LoadProfile::closed(0, None), "users"),
        (LoadProfile::closed(2, Some(0.0)), "rate_limit_per_second"),
        (LoadProfile::closed(2, Some(-3.0)), "rate_limit_per_second"),
        (
            LoadProfile::constant(-1.0, Duration::from_secs(1), 2),
            "stages[0]",
        ),
        (
            LoadProfile::constant(5.0, Duration::ZERO, 2),
            "stages[0].duration",
        ),
        (
            LoadProfile::constant(5.0, Duration::from_secs(1), 0),
            "max_in_flight",
        ),
    ];
    for (load, key) in cases {
        let err = runner
            .run(&Plan::new(queries(1), load), &mut result)
            .await
            .unwrap_err();
        match err {
            RunnerError::Config(e) => assert_eq!(e.key, key),
            other => panic!("expected a config error for {key}, got {other}"),
        }
    }
    let zero_timeout = Runner::new(
        Scripted::fixed(1),
        RunnerConfig {
            query_timeout: Duration::ZERO,
            ..RunnerConfig::default()
        },
    );
    let err = zero_timeout
        .run(
            &Plan::new(queries(1), LoadProfile::closed(1, None)),
            &mut result,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("query_timeout"), "{err}");
    assert_eq!(result.overall.count, 0, "nothing ran");
}
