//! The aggregator task on the paused clock: snapshots once per interval, and what they hold.

use std::time::Duration;

use perf_core::record::{CheckResult, PhaseTiming};
use perf_core::{ErrorKind, Outcome};
use perf_live::{LiveFinal, LiveOptions, LiveServer, Verdict};
use perf_runner::RunEvent;
use perf_suite::{PhaseEvent, SuiteEvent};

use crate::support::sample;

async fn settle() {
    // Lets the aggregator fold what was sent, without moving the paused clock.
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn snapshots_are_published_once_per_interval_with_counts_phase_and_checks() {
    let addr = "127.0.0.1:0".parse().unwrap();
    let (live, tx) = LiveServer::bind(addr, LiveOptions::default())
        .await
        .unwrap();
    let first_seq = live.snapshot().snapshot.seq;

    tx.send(SuiteEvent::RunStarted {
        run_id: "r1".to_owned(),
    })
    .unwrap();
    tx.send(SuiteEvent::Phase(PhaseEvent::Started {
        number: 4,
        name: "Parallel Query Execution",
    }))
    .unwrap();
    tx.send(SuiteEvent::Runner(RunEvent::Started { planned: Some(10) }))
        .unwrap();
    for _ in 0..6 {
        tx.send(sample(Some("search"), Outcome::Ok, 100)).unwrap();
    }
    tx.send(sample(None, Outcome::Error(ErrorKind::Connect), 5))
        .unwrap();
    tx.send(sample(None, Outcome::Timeout, 30_000)).unwrap();
    settle().await;

    // Nothing is published between ticks, however many events arrive.
    assert_eq!(live.snapshot().snapshot.seq, first_seq);
    assert_eq!(live.snapshot().snapshot.done, 0);

    tokio::time::advance(Duration::from_millis(1_000)).await;
    settle().await;
    let s = live.snapshot();
    let snap = &s.snapshot;
    assert_eq!(snap.seq, first_seq + 1, "one snapshot per interval");
    assert_eq!(snap.run_id.as_deref(), Some("r1"));
    assert_eq!(snap.phase.as_ref().map(|p| p.number), Some(4));
    assert_eq!(snap.done, 8);
    assert_eq!(snap.planned, Some(10));
    assert_eq!(snap.outcomes["ok"], 6);
    assert_eq!(snap.outcomes["error:connect"], 1);
    assert_eq!(snap.outcomes["timeout"], 1);
    assert!((snap.rate - 8.0).abs() < 1e-6, "{}", snap.rate);
    // 6 × 0.1 s + 0.005 s + 30 s of service in one second: 30.605 in flight on average.
    assert!((snap.in_flight - 30.605).abs() < 1e-6, "{}", snap.in_flight);
    let search = snap.agents.iter().find(|a| a.name == "search").unwrap();
    assert_eq!(search.count, 6);
    assert!((search.p50_ms - 100.0).abs() < 0.2, "{}", search.p50_ms);

    // A check shows as soon as the next interval ends; phases move on.
    let check = CheckResult {
        group: perf_core::record::CheckGroup::CriticalPath,
        name: "search".to_owned(),
        status: perf_core::record::CheckStatus::from_passed(false),
        reason: "p95 over the limit".to_owned(),
    };
    tx.send(SuiteEvent::Check(check.clone())).unwrap();
    tx.send(SuiteEvent::Phase(PhaseEvent::Finished(PhaseTiming {
        number: 4,
        name: "Parallel Query Execution".to_owned(),
        seconds: 1.0,
        status: perf_core::record::PhaseStatus::Completed,
        detail: String::new(),
    })))
    .unwrap();
    settle().await;
    tokio::time::advance(Duration::from_millis(1_000)).await;
    settle().await;
    let snap = &live.snapshot().snapshot;
    assert_eq!(snap.seq, first_seq + 2);
    assert_eq!(snap.checks, vec![check]);
    assert_eq!(snap.phase, None);
    assert_eq!(snap.phases.len(), 1);
    assert_eq!(snap.rate, 0.0, "nothing finished in the second interval");
    assert_eq!(
        snap.latency.len(),
        3,
        "the initial point and one per interval"
    );

    live.finish(LiveFinal {
        verdict: Verdict::Fail,
        reasons: vec!["critical path search failed".to_owned()],
        reports: Some("reports/r1".into()),
        discord: None,
    });
    settle().await;
    let snap = &live.snapshot().snapshot;
    assert_eq!(
        snap.finished.as_ref().map(|f| f.verdict),
        Some(Verdict::Fail)
    );
    live.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn linger_keeps_the_server_up_after_the_run_then_stops_it() {
    let addr = "127.0.0.1:0".parse().unwrap();
    let options = LiveOptions {
        linger: Duration::from_secs(30),
        ..LiveOptions::default()
    };
    let (live, tx) = LiveServer::bind(addr, options).await.unwrap();
    tx.send(sample(Some("search"), Outcome::Ok, 10)).unwrap();
    drop(tx);
    live.finish(LiveFinal {
        verdict: Verdict::Pass,
        reasons: Vec::new(),
        reports: None,
        discord: None,
    });
    let mut snapshots = live.subscribe();
    let shutdown = tokio::spawn(live.shutdown());
    tokio::time::advance(Duration::from_secs(29)).await;
    settle().await;
    assert!(!shutdown.is_finished(), "still lingering after 29 s");
    // Still publishing while it lingers.
    assert!(snapshots.has_changed().unwrap());
    let p = snapshots.borrow_and_update().clone();
    assert_eq!(p.snapshot.done, 1);
    assert!(p.snapshot.finished.is_some());
    tokio::time::advance(Duration::from_secs(2)).await;
    shutdown.await.unwrap();
    // The aggregator published the final state and is gone: the streams end.
    let mut after = 0;
    while snapshots.changed().await.is_ok() {
        after += 1;
        assert!(after <= 2, "published after the shutdown");
    }
    assert!(snapshots.borrow().snapshot.finished.is_some());
}

#[tokio::test]
async fn a_non_loopback_address_is_refused_unless_allowed() {
    let public = "0.0.0.0:0".parse().unwrap();
    let err = LiveServer::bind(public, LiveOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, perf_live::LiveError::NotLoopback { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("--live-public"));
    let allowed = LiveOptions {
        allow_public: true,
        ..LiveOptions::default()
    };
    let (live, _tx) = LiveServer::bind(public, allowed).await.unwrap();
    assert!(live.is_serving());
    live.shutdown().await;
    // IPv6 loopback needs no flag.
    match LiveServer::bind("[::1]:0".parse().unwrap(), LiveOptions::default()).await {
        Ok((live, _tx)) => live.shutdown().await,
        // A machine without IPv6 cannot bind it, but must not refuse it as public.
        Err(e) => assert!(
            !matches!(e, perf_live::LiveError::NotLoopback { .. }),
            "{e}"
        ),
    }
}
