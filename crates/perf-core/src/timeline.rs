use serde::{Deserialize, Serialize};

use crate::{LatencyHistogram, Sample};

/// Buckets a [`Timeline`] keeps at most; when a run outlasts them, neighbours merge and
/// the bucket width doubles, so memory stays bounded however long the run.
pub const MAX_TIMELINE_BUCKETS: usize = 120;

/// Latency, throughput and errors over the run's time, for "over time" charts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Width of each bucket, seconds.
    pub bucket_s: f64,
    /// Buckets from the run's start; bucket `i` covers `[i × bucket_s, (i+1) × bucket_s)`.
    pub buckets: Vec<TimeBucket>,
}

/// One slice of the run, by intended start time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeBucket {
    /// Queries scheduled in the slice.
    pub count: u64,
    /// Of those, not successful.
    pub failures: u64,
    /// Of those, dropped.
    pub dropped: u64,
    /// Latency of the queries sent in the slice.
    #[serde(serialize_with = "LatencyHistogram::serialize_v2")]
    pub latency: LatencyHistogram,
}

impl Default for Timeline {
    fn default() -> Self {
        Self {
            bucket_s: 1.0,
            buckets: Vec::new(),
        }
    }
}

impl Timeline {
    /// Folds one sample into the bucket of its intended start.
    pub fn record(&mut self, s: &Sample) {
        let t = s.scheduled_at_us as f64 / 1e6;
        let mut idx = (t / self.bucket_s) as usize;
        while idx >= MAX_TIMELINE_BUCKETS {
            self.coarsen();
            idx = (t / self.bucket_s) as usize;
        }
        if self.buckets.len() <= idx {
            self.buckets.resize_with(idx + 1, TimeBucket::default);
        }
        let b = &mut self.buckets[idx];
        b.count += 1;
        if !s.outcome.is_success() {
            b.failures += 1;
        }
        if s.outcome == crate::Outcome::Dropped {
            b.dropped += 1;
        } else {
            b.latency.record_micros(s.latency_us);
        }
    }

    /// Adds another timeline, first bringing both to the same bucket width.
    pub fn merge(&mut self, other: &Timeline) {
        self.merge_at(other, 0.0);
    }

    /// Adds another timeline that started `offset_s` seconds after this one (a shard
    /// that started later), first bringing both to the same bucket width; the offset is
    /// rounded to whole buckets.
    pub fn merge_at(&mut self, other: &Timeline, offset_s: f64) {
        self.merge_owned_at(other.clone(), offset_s);
    }

    /// [`Timeline::merge_at`] without a copy of `other` (a merge of 100 shards would
    /// otherwise copy 100 timelines of 120 histograms each).
    ///
    /// A timeline whose bucket width is not a positive number (only a damaged file has
    /// one; readers refuse it first) is left out rather than coarsened forever.
    pub fn merge_owned_at(&mut self, mut other: Timeline, offset_s: f64) {
        let usable = |w: f64| w.is_finite() && w > 0.0;
        if !usable(other.bucket_s) || !usable(self.bucket_s) {
            return;
        }
        let offset_s = if offset_s.is_finite() {
            offset_s.max(0.0)
        } else {
            0.0
        };
        loop {
            while other.bucket_s < self.bucket_s {
                other.coarsen();
            }
            while self.bucket_s < other.bucket_s {
                self.coarsen();
            }
            let shift = (offset_s / self.bucket_s).round() as usize;
            if other.buckets.is_empty() || shift + other.buckets.len() <= MAX_TIMELINE_BUCKETS {
                break;
            }
            self.coarsen();
        }
        let shift = (offset_s / self.bucket_s).round() as usize;
        let shift = if other.buckets.is_empty() { 0 } else { shift };
        if self.buckets.len() < shift + other.buckets.len() {
            self.buckets
                .resize_with(shift + other.buckets.len(), TimeBucket::default);
        }
        for (mine, theirs) in self.buckets.iter_mut().skip(shift).zip(&other.buckets) {
            mine.count = mine.count.saturating_add(theirs.count);
            mine.failures = mine.failures.saturating_add(theirs.failures);
            mine.dropped = mine.dropped.saturating_add(theirs.dropped);
            mine.latency.merge(&theirs.latency);
        }
    }

    fn coarsen(&mut self) {
        self.bucket_s *= 2.0;
        let old = std::mem::take(&mut self.buckets);
        for pair in old.chunks(2) {
            let mut b = pair[0].clone();
            if let Some(second) = pair.get(1) {
                b.count = b.count.saturating_add(second.count);
                b.failures = b.failures.saturating_add(second.failures);
                b.dropped = b.dropped.saturating_add(second.dropped);
                b.latency.merge(&second.latency);
            }
            self.buckets.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Outcome;

    #[test]
    fn a_later_shard_lands_in_later_buckets() {
        let mut a = Timeline::default();
        a.record(&at(0.2));
        let mut b = Timeline::default();
        b.record(&at(0.5));
        a.merge_at(&b, 2.0);
        let counts: Vec<u64> = a.buckets.iter().map(|b| b.count).collect();
        assert_eq!(counts, vec![1, 0, 1]);
        let mut c = Timeline::default();
        c.record(&at(1.0));
        a.merge_at(&c, 500.0);
        assert!(a.buckets.len() <= MAX_TIMELINE_BUCKETS);
        assert_eq!(a.buckets.iter().map(|b| b.count).sum::<u64>(), 3);
        assert!(a.bucket_s >= 4.0, "coarsened to fit: {}", a.bucket_s);
    }

    fn at(sec: f64) -> Sample {
        Sample {
            scheduled_at_us: (sec * 1e6) as u64,
            ..Sample::new("q", "s", "c", Outcome::Ok, 1000)
        }
    }

    #[test]
    fn long_runs_coarsen_instead_of_growing() {
        let mut t = Timeline::default();
        for s in 0..1000 {
            t.record(&at(s as f64));
        }
        assert!(t.buckets.len() <= MAX_TIMELINE_BUCKETS);
        assert_eq!(t.bucket_s, 16.0);
        assert_eq!(t.buckets.iter().map(|b| b.count).sum::<u64>(), 1000);
        assert_eq!(t.buckets[0].count, 16);
    }

    /// Issue #28 item 2: a width of 0 or below (a damaged shard file) looped forever,
    /// doubling 0; such a timeline is left out.
    #[test]
    fn a_timeline_of_width_zero_or_below_is_not_coarsened_forever() {
        for width in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let mut a = Timeline::default();
            a.record(&at(0.5));
            let mut b = Timeline::default();
            b.record(&at(0.5));
            b.bucket_s = width;
            a.merge(&b);
            assert_eq!(a.bucket_s, 1.0, "{width}");
            assert_eq!(a.buckets.iter().map(|b| b.count).sum::<u64>(), 1, "{width}");
        }
    }

    #[test]
    fn merge_aligns_widths() {
        let mut a = Timeline::default();
        a.record(&at(0.5));
        let mut b = Timeline::default();
        for s in 0..300 {
            b.record(&at(s as f64));
        }
        a.merge(&b);
        assert_eq!(a.bucket_s, b.bucket_s);
        assert_eq!(a.buckets[0].count, b.buckets[0].count + 1);
    }
}
