//! The one style sheet of the HTML pages: the run page, the capacity page and (through
//! [`base_css!`](crate::base_css)) the live page of `perf-live`, which adds its own rules.

/// The rules every page shares (colours, layout, banner, figures, tables, badges), as a
/// string literal so a page can `concat!` its own rules to it at compile time: the live
/// page pins its style by hash in its Content-Security-Policy, so the style must be a
/// constant.
#[macro_export]
macro_rules! base_css {
    () => {
        r#"
:root{--fg:#1d2329;--muted:#5b6670;--line:#d8dee4;--bg:#fff;--pass:#2e8b57;--warn:#c77c02;--fail:#c0392b;--run:#2f6db5}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:#f5f7f9}
main{max-width:1100px;margin:0 auto;padding:0 16px 48px}
.banner{color:#fff;padding:18px 24px;margin:0 0 16px}
.banner h1{margin:0;font-size:28px;letter-spacing:.5px}
.banner p{margin:4px 0 0}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px;margin:0 0 16px}
.kpi{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:8px 12px}
.kpi b{display:block;font-size:20px}
.kpi span{color:var(--muted);font-size:12px}
section{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:12px 16px;margin:0 0 16px}
h2{font-size:18px;margin:4px 0 8px}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
th{background:#eef2f5}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.empty{color:var(--muted);font-style:italic;margin:4px 0}
.badge{display:inline-block;padding:0 6px;border-radius:3px;color:#fff;font-size:12px}
.rule{color:var(--muted);font-size:12px;margin:2px 0 8px}
"#
    };
}

/// The reports' CSS, inlined in each page (a report is one file).
pub(crate) const CSS: &str = concat!(
    base_css!(),
    r#".banner.pass{background:var(--pass)}.banner.warn{background:var(--warn)}.banner.fail{background:var(--fail)}
.banner ul{margin:6px 0 0;padding-left:20px}
h3{font-size:15px;margin:12px 0 6px}
nav{margin:0 0 12px;font-size:13px}
nav a{margin-right:10px;color:#2f6db5}
td.txt{white-space:pre-wrap;word-break:break-word;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;max-width:420px}
.b-pass,.b-improvement{background:var(--pass)}.b-fail,.b-regression{background:var(--fail)}.b-warn,.b-inconclusive{background:var(--warn)}.b-skip{background:#777}
.note{background:#fff8e1;border-left:4px solid var(--warn);padding:6px 10px;margin:6px 0}
figure.chart{margin:8px 0}
svg{font-family:system-ui,sans-serif;background:#fff}
svg .ct{font-size:13px;font-weight:600;fill:#1d2329}
svg .tk{font-size:10px;fill:#5b6670}
svg .al{font-size:11px;fill:#5b6670}
svg .lg{font-size:11px;fill:#1d2329}
svg .grid{stroke:#e6eaee;stroke-width:1}
svg .axis{stroke:#8a949c;stroke-width:1}
pre{white-space:pre-wrap;word-break:break-word;font-size:12px;background:#f5f7f9;padding:8px;border-radius:4px}
details{margin:6px 0}summary{cursor:pointer;margin:4px 0}
details.why{margin:0}details.why[open] summary{color:var(--muted)}
footer{color:var(--muted);font-size:12px;text-align:center}
"#
);
