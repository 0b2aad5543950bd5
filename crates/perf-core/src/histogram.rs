use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest latency a [`LatencyHistogram`] tracks exactly: one hour, in microseconds.
/// Larger values are clamped to it (and still counted).
pub const MAX_TRACKABLE_MICROS: u64 = 3_600_000_000;
const SIGFIGS: u8 = 3;

/// What the histograms created on one thread under [`with_histogram_budget`] took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistogramUse {
    /// The budget, bytes.
    pub limit: usize,
    /// Histograms created (read or defaulted).
    pub histograms: usize,
    /// Bytes of counts they allocated.
    pub bytes: usize,
}

impl HistogramUse {
    /// Whether the histograms took more than the budget.
    pub fn exceeded(&self) -> bool {
        self.bytes > self.limit
    }
}

thread_local! {
    static BUDGET: std::cell::Cell<Option<HistogramUse>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` (typically the parse of one result file) with the histograms it creates on
/// this thread limited to `limit_bytes` of counts: reading one more histogram past the
/// limit fails with a reason, so a file of thousands of tiny histogram strings, each of
/// which asks for the full one-hour range (about 200 KiB), cannot take gigabytes. Returns
/// what was used. Budgets nest; the inner one counts alone.
pub fn with_histogram_budget<T>(limit_bytes: usize, f: impl FnOnce() -> T) -> (T, HistogramUse) {
    struct Restore(Option<HistogramUse>);
    impl Drop for Restore {
        fn drop(&mut self) {
            BUDGET.with(|b| b.set(self.0));
        }
    }
    let outer = BUDGET.with(|b| {
        b.replace(Some(HistogramUse {
            limit: limit_bytes,
            ..HistogramUse::default()
        }))
    });
    let restore = Restore(outer);
    let out = f();
    let used = BUDGET.with(|b| b.get()).unwrap_or_default();
    drop(restore);
    (out, used)
}

/// A latency histogram with microsecond resolution and 3 significant digits, from 1 µs
/// to one hour. Histograms merge exactly, so shards, scenarios and runs combine without
/// keeping raw samples, and memory stays constant however many queries are recorded.
///
/// Serialized as the list of non-empty buckets, `[[value_us, count], ...]`, readable and
/// exact; run results store the compact base64 of the HdrHistogram V2 encoding instead
/// ([`LatencyHistogram::serialize_v2`]: a merge of 100 shards of a million samples reads
/// thousands of them). Both forms are read wherever a histogram is.
#[derive(Clone)]
pub struct LatencyHistogram {
    inner: Histogram<u64>,
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("count", &self.count())
            .field("max_us", &self.inner.max())
            .finish()
    }
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl PartialEq for LatencyHistogram {
    /// Equal when the same values were recorded, whatever the allocated range.
    fn eq(&self, other: &Self) -> bool {
        self.count() == other.count() && self.buckets() == other.buckets()
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        // The bounds are constants that hdrhistogram accepts, so this cannot fail.
        // Auto-resizing: an empty histogram costs a few KiB, not the ~360 KiB the full
        // one-hour range would, and grows only to the largest value recorded. The range is
        // still capped at one hour by clamping in `record_micros_n`.
        let inner = Histogram::new(SIGFIGS).expect("3 significant digits is a valid precision");
        let h = Self { inner };
        // Over the budget is reported by the bounded read, not here (an empty histogram
        // is the smallest there is, and `new` cannot fail).
        let _ = h.charge();
        h
    }

    /// Counts this histogram's memory against the thread's budget, when one is set
    /// ([`with_histogram_budget`]); `Err` once the budget is exceeded.
    fn charge(&self) -> Result<(), String> {
        self.charge_growth(None)
    }

    /// [`LatencyHistogram::charge`] for a histogram already counted with `counted` bytes
    /// (`None`: a new one), which has grown since.
    fn charge_growth(&self, counted: Option<usize>) -> Result<(), String> {
        let now = self.inner.distinct_values() * std::mem::size_of::<u64>();
        let bytes = now.saturating_sub(counted.unwrap_or(0));
        BUDGET.with(|b| {
            let Some(mut use_) = b.get() else {
                return Ok(());
            };
            use_.histograms += usize::from(counted.is_none());
            use_.bytes = use_.bytes.saturating_add(bytes);
            b.set(Some(use_));
            if use_.bytes > use_.limit {
                Err(format!(
                    "the histograms need more than the {:.1} MiB allowed for one file",
                    use_.limit as f64 / f64::from(1u32 << 20)
                ))
            } else {
                Ok(())
            }
        })
    }

    /// Records one latency; values beyond one hour are clamped, zero becomes 1 µs.
    pub fn record(&mut self, latency: Duration) {
        self.record_micros(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    /// Records one latency given in microseconds.
    pub fn record_micros(&mut self, micros: u64) {
        self.record_micros_n(micros, 1);
    }

    fn record_micros_n(&mut self, micros: u64, n: u64) {
        let v = micros.clamp(1, MAX_TRACKABLE_MICROS);
        // In range by construction.
        let _ = self.inner.record_n(v, n);
    }

    /// Adds every value of `other` to `self`, exactly.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.inner.add(&other.inner);
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.inner.len()
    }

    /// `true` when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The value at `percentile` (0–100), in microseconds; 0 when empty.
    pub fn percentile_micros(&self, percentile: f64) -> u64 {
        if self.is_empty() {
            return 0;
        }
        self.inner.value_at_percentile(percentile.clamp(0.0, 100.0))
    }

    /// The value at `percentile` (0–100).
    pub fn percentile(&self, percentile: f64) -> Duration {
        Duration::from_micros(self.percentile_micros(percentile))
    }

    /// Mean in microseconds; 0 when empty.
    pub fn mean_micros(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            self.inner.mean()
        }
    }

    /// Largest recorded value in microseconds (within the histogram's precision).
    pub fn max_micros(&self) -> u64 {
        if self.is_empty() {
            0
        } else {
            self.inner.max()
        }
    }

    /// Smallest recorded value in microseconds (within the histogram's precision).
    pub fn min_micros(&self) -> u64 {
        if self.is_empty() {
            0
        } else {
            self.inner.min()
        }
    }

    /// Standard deviation in microseconds.
    pub fn stdev_micros(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            self.inner.stdev()
        }
    }

    /// The non-empty buckets as `(value_us, count)` pairs, ascending. Each value is the
    /// lowest value equivalent to the bucket, within the histogram's precision.
    pub fn buckets(&self) -> Vec<(u64, u64)> {
        self.inner
            .iter_recorded()
            .map(|v| {
                (
                    self.inner.lowest_equivalent(v.value_iterated_to()),
                    v.count_at_value(),
                )
            })
            .collect()
    }

    /// The latency summary (count, mean, percentiles, max).
    pub fn summary(&self) -> LatencySummary {
        let ms = |us: u64| us as f64 / 1000.0;
        LatencySummary {
            count: self.count(),
            mean_ms: self.mean_micros() / 1000.0,
            min_ms: ms(self.min_micros()),
            p50_ms: ms(self.percentile_micros(50.0)),
            p90_ms: ms(self.percentile_micros(90.0)),
            p95_ms: ms(self.percentile_micros(95.0)),
            p99_ms: ms(self.percentile_micros(99.0)),
            max_ms: ms(self.max_micros()),
            stdev_ms: self.stdev_micros() / 1000.0,
        }
    }
}

/// The HdrHistogram V2 cookie (uncompressed, with the word-size bits the Java and Rust
/// implementations write), the first four bytes of the encoding.
const V2_COOKIE: u32 = 0x1c84_9313;
/// The V2 header: cookie, payload length, normalizing offset, significant digits (u32
/// each), lowest and highest trackable value (u64 each), integer-to-double ratio (f64).
const V2_HEADER_LEN: usize = 40;

impl LatencyHistogram {
    /// The histogram in HdrHistogram's V2 encoding (uncompressed), as stored in report
    /// files: a 40-byte header, then the counts as zig-zag LEB128 varints, runs of empty
    /// buckets as one negative number. Other HdrHistogram libraries read it.
    pub fn to_v2_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Counts are u64 and far below i64::MAX in any real run; a count past it (the only
        // error of the serializer) would have to be recorded 2^63 times.
        use hdrhistogram::serialization::Serializer as _;
        let _ = hdrhistogram::serialization::V2Serializer::new().serialize(&self.inner, &mut out);
        out
    }

    /// Reads [`LatencyHistogram::to_v2_bytes`]. Only what this type writes is accepted:
    /// 3 significant digits, lowest value 1 µs, highest at most about an hour (so a
    /// damaged or hostile file cannot make us allocate much), values up to
    /// [`MAX_TRACKABLE_MICROS`].
    pub fn from_v2_bytes(bytes: &[u8]) -> Result<Self, String> {
        let be32 = |at: usize| -> u32 {
            let mut b = [0u8; 4];
            b.copy_from_slice(&bytes[at..at + 4]);
            u32::from_be_bytes(b)
        };
        let be64 = |at: usize| -> u64 {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            u64::from_be_bytes(b)
        };
        if bytes.len() < V2_HEADER_LEN {
            return Err(format!(
                "histogram encoding of {} bytes is shorter than its 40-byte header",
                bytes.len()
            ));
        }
        if be32(0) != V2_COOKIE {
            return Err(format!(
                "histogram encoding starts with {:#010x}, not the uncompressed HdrHistogram V2 cookie {V2_COOKIE:#010x}",
                be32(0)
            ));
        }
        let payload = be32(4) as usize;
        if payload != bytes.len() - V2_HEADER_LEN {
            return Err(format!(
                "histogram encoding announces {payload} bytes of counts but holds {}",
                bytes.len() - V2_HEADER_LEN
            ));
        }
        let (digits, low, high) = (be32(12), be64(16), be64(24));
        if digits != u32::from(SIGFIGS) || low != 1 || high > 2 * MAX_TRACKABLE_MICROS {
            return Err(format!(
                "histogram with {digits} significant digits from {low} to {high} µs: this tool writes and reads 3 digits from 1 µs to one hour"
            ));
        }
        check_v2_payload(&bytes[V2_HEADER_LEN..])?;
        let mut inner: Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
            .deserialize(&mut &bytes[..])
            .map_err(|e| format!("damaged histogram encoding ({e:?})"))?;

        // `max` is the top of the highest bucket, past the value itself.
        let top = inner.lowest_equivalent(inner.max());
        if !inner.is_empty() && top > MAX_TRACKABLE_MICROS {
            return Err(format!(
                "histogram value {top} µs is beyond the one-hour maximum"
            ));
        }
        inner.auto(true);
        let h = Self { inner };
        h.charge()?;
        Ok(h)
    }
}

/// Refuses a V2 payload whose varints the decoder cannot take: a run of empty buckets
/// longer than any histogram has (hdrhistogram negates it, which overflows for the
/// smallest `i64`), or a varint cut off at the end.
fn check_v2_payload(payload: &[u8]) -> Result<(), String> {
    let mut at = 0;
    while at < payload.len() {
        let mut value: u64 = 0;
        let mut len = 0;
        loop {
            let Some(&b) = payload.get(at + len) else {
                return Err("damaged histogram encoding (a count is cut off)".to_owned());
            };
            if len == 8 {
                // The ninth byte of LEB128-64b9B is taken whole.
                value |= u64::from(b) << 56;
                len += 1;
                break;
            }
            value |= u64::from(b & 0x7f) << (7 * len);
            len += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        at += len;
        let zig = ((value >> 1) as i64) ^ -((value & 1) as i64);
        if zig < -i64::from(i32::MAX) {
            return Err(format!(
                "damaged histogram encoding (a run of {} empty buckets)",
                zig.unsigned_abs()
            ));
        }
    }
    Ok(())
}

impl LatencyHistogram {
    /// Serializes as base64 (standard alphabet, padded) of
    /// [`LatencyHistogram::to_v2_bytes`]: the form of run results (report format 2), for
    /// `#[serde(serialize_with = "LatencyHistogram::serialize_v2")]`.
    pub fn serialize_v2<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use base64::Engine as _;
        serializer
            .serialize_str(&base64::engine::general_purpose::STANDARD.encode(self.to_v2_bytes()))
    }
}

impl Serialize for LatencyHistogram {
    /// The non-empty buckets, `[[value_us, count], ...]` (baseline files keep this form;
    /// run results use [`LatencyHistogram::serialize_v2`]).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.buckets().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for LatencyHistogram {
    /// Either form: the base64 V2 string of run results, or the `[[value_us, count], ...]`
    /// bucket list of baselines and of report format 1.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(HistogramVisitor)
    }
}

struct HistogramVisitor;

impl<'de> serde::de::Visitor<'de> for HistogramVisitor {
    type Value = LatencyHistogram;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "a histogram: base64 of its HdrHistogram V2 encoding, or [[value_us, count], ...]",
        )
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| E::custom(format!("histogram is not base64 ({e})")))?;
        LatencyHistogram::from_v2_bytes(&bytes).map_err(E::custom)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut h = LatencyHistogram::new();
        let counted = h.inner.distinct_values() * std::mem::size_of::<u64>();
        while let Some((value, count)) = seq.next_element::<(u64, u64)>()? {
            if value > MAX_TRACKABLE_MICROS {
                return Err(serde::de::Error::custom(format!(
                    "histogram bucket {value} µs is beyond the one-hour maximum"
                )));
            }
            h.record_micros_n(value, count);
        }
        h.charge_growth(Some(counted))
            .map_err(serde::de::Error::custom)?;
        Ok(h)
    }
}

/// Latency figures in milliseconds, as shown in summaries and baselines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Number of values.
    pub count: u64,
    /// Arithmetic mean.
    pub mean_ms: f64,
    /// Minimum.
    pub min_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Maximum.
    pub max_ms: f64,
    /// Standard deviation.
    pub stdev_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SplitMix64;

    /// Nearest-rank percentile of sorted data, the definition hdrhistogram follows.
    fn exact_percentile(sorted: &[u64], p: f64) -> u64 {
        let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
        sorted[rank - 1]
    }

    #[test]
    fn percentiles_match_an_exact_sort_within_precision() {
        let mut rng = SplitMix64::new(2024);
        let mut h = LatencyHistogram::new();
        let mut values = Vec::new();
        for _ in 0..100_000 {
            // Log-normal-ish latencies between ~1 ms and several seconds.
            let v = (1000.0 * (rng.normal() * 1.2 + 3.0).exp()) as u64 + 1;
            values.push(v);
            h.record_micros(v);
        }
        values.sort_unstable();
        for p in [1.0, 25.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0] {
            let exact = exact_percentile(&values, p) as f64;
            let approx = h.percentile_micros(p) as f64;
            // 3 significant digits: relative error at most 1/1000 (plus one unit).
            assert!(
                (approx - exact).abs() <= exact * 0.001 + 1.0,
                "p{p}: histogram {approx} vs exact {exact}"
            );
        }
        let mean = values.iter().sum::<u64>() as f64 / values.len() as f64;
        assert!((h.mean_micros() - mean).abs() <= mean * 0.001);
        assert_eq!(h.count(), 100_000);
    }

    #[test]
    fn merge_equals_recording_everything_in_one() {
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        let mut all = LatencyHistogram::new();
        for i in 1..5000u64 {
            let v = i * 37 % 100_000 + 1;
            if i % 3 == 0 {
                a.record_micros(v);
            } else {
                b.record_micros(v);
            }
            all.record_micros(v);
        }
        a.merge(&b);
        assert_eq!(a, all);
    }

    #[test]
    fn serde_round_trip_is_exact_and_clamps_extremes() {
        let mut h = LatencyHistogram::new();
        h.record(Duration::ZERO);
        h.record(Duration::from_millis(250));
        h.record(Duration::from_secs(7200));
        let json = serde_json::to_string(&h).unwrap();
        let back: LatencyHistogram = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.count(), 3);
        assert!(back.max_micros() >= MAX_TRACKABLE_MICROS);
        assert!(serde_json::from_str::<LatencyHistogram>("[[99999999999999,1]]").is_err());
    }

    #[test]
    fn the_v2_form_round_trips_and_the_bucket_list_still_reads() {
        let mut rng = SplitMix64::new(7);
        let mut h = LatencyHistogram::new();
        for _ in 0..20_000 {
            h.record_micros((1000.0 * (rng.normal() + 4.0).exp()) as u64 + 1);
        }
        let json = h.serialize_v2(serde_json::value::Serializer).unwrap();
        assert!(json.is_string(), "{json}");
        let back: LatencyHistogram = serde_json::from_value(json).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.summary(), h.summary());
        // Baselines and report format 1 write the bucket list: it reads the same.
        let old = serde_json::to_string(&h).unwrap();
        assert!(old.starts_with("[["), "{}", &old[..20]);
        let from_old: LatencyHistogram = serde_json::from_str(&old).unwrap();
        assert_eq!(from_old, h);
        // The empty histogram too.
        let empty: LatencyHistogram = serde_json::from_value(
            LatencyHistogram::new()
                .serialize_v2(serde_json::value::Serializer)
                .unwrap(),
        )
        .unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn a_read_histogram_still_grows_when_merged_into() {
        let mut small = LatencyHistogram::new();
        small.record_micros(100);
        let mut read: LatencyHistogram =
            serde_json::from_value(small.serialize_v2(serde_json::value::Serializer).unwrap())
                .unwrap();
        let mut big = LatencyHistogram::new();
        big.record_micros(90_000_000);
        read.merge(&big);
        read.record_micros(3_000_000_000);
        assert_eq!(read.count(), 3);
        assert!(read.max_micros() >= 2_990_000_000);
    }

    #[test]
    fn damaged_or_foreign_encodings_are_refused_with_a_reason() {
        let mut h = LatencyHistogram::new();
        h.record_micros(1234);
        let good = h.to_v2_bytes();
        let check = |bytes: &[u8], needle: &str| {
            let e = LatencyHistogram::from_v2_bytes(bytes).unwrap_err();
            assert!(e.contains(needle), "{e}");
        };
        check(&good[..20], "shorter than");
        check(&good[..good.len() - 1], "announces");
        let mut cookie = good.clone();
        cookie[3] ^= 0xff;
        check(&cookie, "cookie");
        let mut digits = good.clone();
        digits[15] = 5;
        check(&digits, "significant digits");
        let mut high = good.clone();
        high[24] = 0x7f;
        check(&high, "one hour");
        for text in ["\"not base64!\"", "\"AAAA\"", "42"] {
            assert!(
                serde_json::from_str::<LatencyHistogram>(text).is_err(),
                "{text}"
            );
        }
    }

    /// Issue #28 item 2: a run of empty buckets of `i64::MIN` (zig-zag `u64::MAX`, nine
    /// 0xff bytes) overflowed hdrhistogram's negation; it is refused with a reason.
    #[test]
    fn a_run_of_empty_buckets_no_histogram_has_is_refused() {
        let good = LatencyHistogram::new().to_v2_bytes();
        let mut bad = good[..V2_HEADER_LEN].to_vec();
        bad.extend([0xff; 9]);
        let len = (bad.len() - V2_HEADER_LEN) as u32;
        bad[4..8].copy_from_slice(&len.to_be_bytes());
        let e = LatencyHistogram::from_v2_bytes(&bad).unwrap_err();
        assert!(e.contains("empty buckets"), "{e}");
        // A varint cut off at the end.
        let mut cut = good[..V2_HEADER_LEN].to_vec();
        cut.push(0x80);
        cut[4..8].copy_from_slice(&1u32.to_be_bytes());
        let e = LatencyHistogram::from_v2_bytes(&cut).unwrap_err();
        assert!(e.contains("cut off"), "{e}");
    }

    /// Issue #28 item 2: histograms read under a budget stop at it, however small each
    /// one's encoding; outside a budget nothing is counted.
    #[test]
    fn the_histogram_budget_stops_a_read_of_many_wide_histograms() {
        let mut wide = LatencyHistogram::new();
        wide.record_micros(MAX_TRACKABLE_MICROS);
        let one = wide.serialize_v2(serde_json::value::Serializer).unwrap();
        let many = serde_json::Value::Array(vec![one; 100]);
        let text = many.to_string();
        let per = {
            let (_, u) = with_histogram_budget(usize::MAX, || {
                serde_json::from_str::<Vec<LatencyHistogram>>(&text).unwrap()
            });
            assert_eq!(u.histograms, 100);
            assert!(!u.exceeded());
            u.bytes / 100
        };
        assert!(per > 100_000, "a one-hour histogram is wide: {per} bytes");
        let limit = per * 10;
        let (read, used) = with_histogram_budget(limit, || {
            serde_json::from_str::<Vec<LatencyHistogram>>(&text)
        });
        let e = read.unwrap_err().to_string();
        assert!(e.contains("MiB allowed"), "{e}");
        assert!(used.histograms <= 11, "stopped at the budget: {used:?}");
        // The budget is gone after the call.
        let (_, outside) = with_histogram_budget(1 << 30, || ());
        assert_eq!(outside.histograms, 0);
        assert!(serde_json::from_str::<Vec<LatencyHistogram>>(&text).is_ok());
    }

    #[test]
    fn empty_histogram_reports_zeros() {
        let s = LatencyHistogram::new().summary();
        assert_eq!(s.count, 0);
        assert_eq!(s.p99_ms, 0.0);
    }
}
