use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use perf_core::record::RunResult;
use perf_core::{Arrival, LoadProfile, Query, Sample, Shard};
use perf_runner::{Plan, Runner, RunnerConfig};

use crate::support::{new_result, queries, Scripted, Step};

/// A bot whose service time depends on the query (5 to 17 ms), so histograms tell
/// queries apart.
fn by_query() -> Arc<Scripted> {
    Scripted::new(|_, q: &Query| {
        let i: u64 = q.id.trim_start_matches('q').parse().unwrap_or(0);
        Step::ok(5 + i % 13)
    })
}

/// Runs `plan` as `shard`, returning the result and every sample.
async fn run_as(plan: &Plan, shard: Shard) -> (RunResult, Vec<Sample>) {
    let config = RunnerConfig {
        shard,
        seed: 11,
        ..RunnerConfig::default()
    };
    let runner = Runner::new(by_query(), config);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut result = new_result();
    runner
        .run(&plan.clone().with_sample_sink(tx), &mut result)
        .await
        .unwrap();
    let mut samples = Vec::new();
    while let Ok(s) = rx.try_recv() {
        samples.push(s);
    }
    (result, samples)
}

/// (query id, intended start) of every sample, counted.
fn sent(samples: &[Sample]) -> BTreeMap<(String, u64), u32> {
    let mut m = BTreeMap::new();
    for s in samples {
        *m.entry((s.query_id.clone(), s.scheduled_at_us))
            .or_default() += 1;
    }
    m
}

#[tokio::test(start_paused = true)]
async fn four_open_loop_shards_send_what_one_machine_sends() {
    let mut poisson = LoadProfile::ramp(10.0, 50.0, Duration::from_secs(4), 100);
    if let LoadProfile::Open(o) = &mut poisson {
        o.arrival = Arrival::Poisson;
    }
    for load in [
        LoadProfile::constant(40.0, Duration::from_secs(3), 100),
        poisson,
    ] {
        let plan = Plan::new(queries(17), load);
        let (whole, whole_samples) = run_as(&plan, Shard::WHOLE).await;
        let mut merged = new_result();
        let mut shard_samples = Vec::new();
        for i in 1..=4 {
            let (r, s) = run_as(&plan, Shard::new(i, 4, "shard").unwrap()).await;
            assert!(r.overall.count > 0, "shard {i} sent nothing");
            merged.merge(&r);
            shard_samples.extend(s);
        }
        assert_eq!(sent(&shard_samples), sent(&whole_samples));
        assert_eq!(merged.overall, whole.overall);
        assert_eq!(merged.per_agent, whole.per_agent);
        assert_eq!(merged.timeline, whole.timeline);
        assert_eq!(merged.schedule, whole.schedule);
    }
}

#[tokio::test(start_paused = true)]
async fn closed_loop_shards_send_every_query_once_and_keep_pairs_together() {
    let plan = Plan::new(queries(30), LoadProfile::closed(6, Some(100.0))).with_chain(2);
    let (whole, _) = run_as(&plan, Shard::WHOLE).await;
    let mut merged = new_result();
    let mut ids = BTreeMap::<String, u32>::new();
    for i in 1..=4 {
        let (r, samples) = run_as(&plan, Shard::new(i, 4, "shard").unwrap()).await;
        merged.merge(&r);
        let mine: Vec<u32> = samples
            .iter()
            .map(|s| s.query_id.trim_start_matches('q').parse().unwrap())
            .collect();
        for q in &mine {
            // Pairs (2k, 2k+1) stay on one shard.
            assert!(
                mine.contains(&(q ^ 1)),
                "shard {i} has q{q} without its pair"
            );
        }
        for s in samples {
            *ids.entry(s.query_id).or_default() += 1;
        }
    }
    assert_eq!(ids.len(), 30);
    assert!(ids.values().all(|&n| n == 1));
    assert_eq!(merged.overall.count, whole.overall.count);
    assert_eq!(merged.overall.service, whole.overall.service);
    // Latency from the intended start depends on how the ceiling queues users; what the
    // bot did does not.
    assert_eq!(merged.overall.outcomes, whole.overall.outcomes);
    assert_eq!(merged.overall.agent_usage, whole.overall.agent_usage);
}

#[tokio::test(start_paused = true)]
async fn a_shard_without_users_sends_nothing() {
    let plan = Plan::new(queries(10), LoadProfile::closed(2, None));
    let (r, samples) = run_as(&plan, Shard::new(3, 4, "shard").unwrap()).await;
    assert_eq!(r.overall.count, 0);
    assert!(samples.is_empty());
    let (a, _) = run_as(&plan, Shard::new(1, 4, "shard").unwrap()).await;
    let (b, _) = run_as(&plan, Shard::new(2, 4, "shard").unwrap()).await;
    assert_eq!(a.overall.count + b.overall.count, 10);
}
