//! The distributed-test figures every renderer shows: a shard's own line, and a merge's
//! table of shards (rates, start offsets, lag and saturation). Raw text: each renderer
//! escapes it for its format.

use perf_core::record::RunResult;

/// Columns of the shard table; `#` marks a numeric one.
pub(crate) const SHARD_HEADER: [&str; 8] = [
    "Shard",
    "Host",
    "#Queries",
    "#Sent/s",
    "#Start offset",
    "#Late by",
    "#Harness CPU",
    "Flags",
];

/// The title and rows of a merged result's shard table; `None` for any other result.
pub(crate) fn shard_table(r: &RunResult) -> Option<(String, Vec<[String; 8]>)> {
    let m = r.merge.as_ref()?;
    let mut title = format!(
        "Distributed: a merge of {} of {} shards",
        m.shards.len(),
        m.total
    );
    if !m.missing.is_empty() {
        let missing: Vec<String> = m.missing.iter().map(u32::to_string).collect();
        title.push_str(&format!(" (INCOMPLETE: missing {})", missing.join(", ")));
    }
    let rows = m
        .shards
        .iter()
        .map(|s| {
            let mut flags = Vec::new();
            if s.lagged {
                flags.push("lagged");
            }
            if s.saturated {
                flags.push("saturated");
            }
            [
                format!("{}/{}", s.number, m.total),
                s.host.clone(),
                s.count.to_string(),
                format!("{:.1}", s.sent_per_s),
                format!("{:.1} ms", s.start_offset_ms),
                s.start_lateness_ms
                    .map_or("–".to_owned(), |l| format!("{l:.1} ms")),
                format!("{:.0} %", s.resource_peaks.max_harness_cpu_percent),
                flags.join(", "),
            ]
        })
        .collect();
    Some((title, rows))
}

/// One line on a shard's own result: which shard, and how its start went.
pub(crate) fn shard_line(r: &RunResult) -> Option<String> {
    let s = r.shard.as_ref()?;
    let mut line = format!(
        "shard {}/{} of a distributed test on {} (seed {}, config {})",
        s.number, s.total, s.host, s.seed, s.config_digest
    );
    if let (Some(at), Some(late)) = (&s.start_at, s.start_lateness_ms) {
        line.push_str(&format!("; start at {at}, {late:.2} ms late"));
    }
    line.push_str("; merge the shards with `orchestrator merge`");
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use perf_core::record::{MergeInfo, ResourcePeaks, ShardSummary};
    use perf_core::TargetInfo;

    #[test]
    fn a_merge_lists_its_shards_and_flags_the_slow_ones() {
        let mut r = RunResult::new("m", "t", TargetInfo::default());
        assert!(shard_table(&r).is_none());
        let shard = |number, lagged, saturated| ShardSummary {
            number,
            host: format!("h{number}"),
            source: String::new(),
            execution_started_at: String::new(),
            start_offset_ms: 0.5,
            start_lateness_ms: Some(120.0),
            count: 10,
            sent_per_s: 25.0,
            wall_time_s: 1.0,
            resource_peaks: ResourcePeaks {
                max_harness_cpu_percent: 97.0,
                ..ResourcePeaks::default()
            },
            lagged,
            saturated,
        };
        r.merge = Some(MergeInfo {
            total: 3,
            shards: vec![shard(1, false, false), shard(2, true, true)],
            missing: vec![3],
            seed: 1,
            config_digest: "d".into(),
        });
        let (title, rows) = shard_table(&r).unwrap();
        assert!(
            title.contains("2 of 3") && title.contains("missing 3"),
            "{title}"
        );
        assert_eq!(rows[1][0], "2/3");
        assert_eq!(rows[1][7], "lagged, saturated");
        assert_eq!(rows[0][7], "");
        assert_eq!(rows[1][5], "120.0 ms");
    }
}
