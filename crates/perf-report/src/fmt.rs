//! Number formatting shared by every renderer, so all reports show the same figures.

/// `1234567` → `1,234,567`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate 0–1 as a percentage with one decimal: `0.975` → `97.5%`.
pub(crate) fn percent(rate: f64) -> String {
    if rate.is_finite() {
        format!("{:.1}%", rate * 100.0)
    } else {
        "n/a".to_owned()
    }
}

/// A relative change as a signed percentage: `0.123` → `+12.3%`.
pub(crate) fn signed_percent(change: f64) -> String {
    if change.is_finite() {
        format!("{:+.1}%", change * 100.0)
    } else {
        "n/a".to_owned()
    }
}

/// Milliseconds with a precision that suits the size: `0.25 ms`, `12.3 ms`, `1,234 ms`.
pub(crate) fn ms(v: f64) -> String {
    if !v.is_finite() {
        "n/a".to_owned()
    } else if v >= 1000.0 {
        format!("{} ms", count(v.round() as u64))
    } else if v >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

/// A plain number with up to three significant decimals.
pub(crate) fn num(v: f64) -> String {
    if !v.is_finite() {
        "n/a".to_owned()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A metric value with the unit its name implies (`latency_*`, `ttft_*`, `itl_*` and
/// `tpot_*` ms, `success_rate` %, `*memory*` MiB, `*cpu*` %).
pub(crate) fn metric_value(metric: &str, v: f64) -> String {
    let timed = ["latency", "ttft_", "itl_", "tpot_"]
        .iter()
        .any(|m| metric.contains(m));
    if timed || metric.ends_with("_ms") {
        ms(v)
    } else if metric.contains("success_rate") || metric.contains("accuracy") {
        percent(v)
    } else if metric.contains("memory") {
        format!("{} MiB", num(v))
    } else if metric.contains("cpu") {
        format!("{}%", num(v))
    } else {
        num(v)
    }
}

/// A change as it is stored on a verdict: success-rate changes are in points, the rest
/// relative.
pub(crate) fn change(metric: &str, v: f64) -> String {
    if metric.contains("success_rate") || metric.contains("accuracy") {
        if v.is_finite() {
            format!("{:+.1} pts", v * 100.0)
        } else {
            "n/a".to_owned()
        }
    } else {
        signed_percent(v)
    }
}

/// An interval of changes: `[+2.0%, +9.5%]`.
pub(crate) fn interval(metric: &str, iv: Option<(f64, f64)>) -> String {
    match iv {
        Some((lo, hi)) => format!("[{}, {}]", change(metric, lo), change(metric, hi)),
        None => "n/a".to_owned(),
    }
}

/// One line per trend forecast of a run ("latency_p95 (objective slos.latency_p95_ms
/// 2000): at the current slope, latency_p95 passes 2000 in about 6 runs (5–7)"), or the
/// refusal; empty when the run carries none.
pub(crate) fn forecast_lines(result: &perf_core::record::RunResult) -> Vec<String> {
    result.forecasts.iter().map(|f| f.sentence()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(percent(0.975), "97.5%");
        assert_eq!(signed_percent(0.123), "+12.3%");
        assert_eq!(ms(0.25), "0.25 ms");
        assert_eq!(ms(12.34), "12.3 ms");
        assert_eq!(ms(1234.4), "1,234 ms");
        assert_eq!(change("success_rate", -0.02), "-2.0 pts");
        assert_eq!(
            interval("latency_p95", Some((0.02, 0.095))),
            "[+2.0%, +9.5%]"
        );
        assert_eq!(ms(f64::NAN), "n/a");
        assert_eq!(metric_value("ttft_p95", 250.0), "250.0 ms");
        assert_eq!(metric_value("itl_median", 12.0), "12.0 ms");
        assert_eq!(metric_value("tpot_p95", 8.0), "8.00 ms");
        assert_eq!(metric_value("output_tokens_per_s", 42.0), "42.0");
    }
}
