//! The live page: static HTML, one inline style and one inline script, allowed by their
//! hashes in the Content-Security-Policy. The script builds every element with
//! `textContent` and `setAttribute` of numbers: no text from the bot is ever parsed as HTML.

/// The page's style: the reports' shared rules ([`perf_report::base_css!`]) and the live
/// page's own.
pub(crate) const CSS: &str = concat!(
    perf_report::base_css!(),
    r#".banner{background:var(--run)}
.banner.pass{background:var(--pass)}.banner.warn,.banner.interrupted{background:var(--warn)}.banner.fail,.banner.could_not_run{background:var(--fail)}
.b-pass{background:var(--pass)}.b-fail{background:var(--fail)}.b-skip{background:#777}
svg{font-family:system-ui,sans-serif;background:#fff;width:100%;height:220px}
svg .tk{font-size:10px;fill:#5b6670}
svg .p50{stroke:#2f6db5}svg .p95{stroke:#c77c02}svg .p99{stroke:#c0392b}
svg polyline{fill:none;stroke-width:1.5}
svg line{stroke:#d8dee4}
.lg span{margin-right:12px;font-size:12px}
.lg .p50{color:#2f6db5}.lg .p95{color:#c77c02}.lg .p99{color:#c0392b}
#conn{font-size:12px;color:var(--muted)}
"#
);

/// The page's script: subscribes to `/stream` and redraws from each snapshot.
pub(crate) const SCRIPT: &str = r#"
"use strict";
const $ = (id) => document.getElementById(id);
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function fmt(v, digits) {
  return (typeof v === "number" && isFinite(v)) ? v.toFixed(digits) : "n/a";
}
function table(id, head, rows) {
  const box = $(id);
  box.replaceChildren();
  if (rows.length === 0) { box.append(el("p", "nothing yet", "empty")); return; }
  const t = el("table"), tr = el("tr");
  head.forEach((h, i) => tr.append(el("th", h, i > 0 ? "n" : "")));
  t.append(tr);
  rows.forEach((r) => {
    const row = el("tr");
    r.forEach((c, i) => {
      if (c instanceof Node) { const td = el("td"); td.append(c); row.append(td); }
      else row.append(el("td", c, i > 0 ? "n" : ""));
    });
    t.append(row);
  });
  box.append(t);
}
const NS = "http://www.w3.org/2000/svg";
function svgEl(tag, attrs) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, String(attrs[k]));
  return e;
}
function chart(points) {
  const svg = $("chart");
  svg.replaceChildren();
  const W = 1000, H = 220, L = 50, B = 20;
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  const ys = [];
  points.forEach((p) => ["p50_ms", "p95_ms", "p99_ms"].forEach((k) => { if (typeof p[k] === "number") ys.push(p[k]); }));
  if (points.length < 2 || ys.length === 0) return;
  const t0 = points[0].t_s, t1 = points[points.length - 1].t_s;
  const ymax = Math.max.apply(null, ys) * 1.1 || 1;
  const x = (t) => L + (W - L - 10) * (t - t0) / Math.max(t1 - t0, 1e-9);
  const y = (v) => H - B - (H - B - 10) * v / ymax;
  for (let i = 0; i <= 4; i++) {
    const v = ymax * i / 4;
    svg.append(svgEl("line", { x1: L, x2: W - 10, y1: y(v), y2: y(v) }));
    const tk = svgEl("text", { x: 2, y: y(v) + 3, class: "tk" });
    tk.textContent = fmt(v, 1) + " ms";
    svg.append(tk);
  }
  ["p50", "p95", "p99"].forEach((k) => {
    const pts = points.filter((p) => typeof p[k + "_ms"] === "number")
      .map((p) => x(p.t_s).toFixed(1) + "," + y(p[k + "_ms"]).toFixed(1)).join(" ");
    svg.append(svgEl("polyline", { points: pts, class: k }));
  });
}
function render(s) {
  const f = s["final"];
  const banner = $("banner");
  banner.className = "banner " + (f ? f.verdict : "running");
  $("title").textContent = f ? f.verdict.replace(/_/g, " ").toUpperCase() : "RUNNING";
  const phase = s.phase ? "Phase " + s.phase.number + ": " + s.phase.name + (s.phase.stage ? " (" + s.phase.stage + ")" : "") : (f ? "finished" : "waiting");
  $("phase").textContent = (s.run_id ? "run " + s.run_id + " · " : "") + phase;
  const reasons = $("reasons");
  reasons.replaceChildren();
  if (f) {
    (f.reasons || []).forEach((r) => reasons.append(el("li", r)));
    if (f.reports) reasons.append(el("li", "reports: " + f.reports));
  }
  const kpis = $("kpis");
  kpis.replaceChildren();
  const res = s.resources || {};
  // The latest interval in which something finished (the last ones are empty at the end).
  const last = s.latency.filter((p) => typeof p.p50_ms === "number").pop() || {};
  [
    [s.done + (s.planned ? " / " + s.planned : ""), "queries done"],
    [fmt(s.in_flight, 1), "in flight (mean)"],
    [fmt(s.rate, 1) + "/s", "throughput"],
    [fmt(last.p50_ms, 1) + " ms", "p50 (last interval)"],
    [fmt(last.p95_ms, 1) + " ms", "p95 (last interval)"],
    [fmt(last.p99_ms, 1) + " ms", "p99 (last interval)"],
    [fmt(res.system_cpu_percent, 0) + "%", "system CPU"],
    [fmt(res.target_cpu_percent, 0) + "%", "target CPU (one core = 100)"],
    [fmt(res.harness_cpu_percent, 0) + "%", "harness CPU (one core = 100)"],
    [fmt(res.system_memory_mb, 0) + " MiB", "system memory"],
    [fmt(res.target_memory_mb, 0) + " MiB", "target memory"],
    [fmt(res.harness_memory_mb, 0) + " MiB", "harness memory"],
  ].forEach(([v, label]) => { const k = el("div", null, "kpi"); k.append(el("b", v), el("span", label)); kpis.append(k); });
  chart(s.latency);
  table("outcomes", ["outcome", "queries"], Object.keys(s.outcomes).map((k) => [k, s.outcomes[k]]));
  const lat = (g) => [g.name, g.count, fmt(g.p50_ms, 1), fmt(g.p95_ms, 1), fmt(g.p99_ms, 1)];
  table("agents", ["agent", "queries", "p50 ms", "p95 ms", "p99 ms"], s.agents.map(lat));
  table("ttft", ["agent", "streamed", "p50 ms", "p95 ms", "p99 ms"], s.ttft.map(lat));
  table("checks", ["check", "status", "reason"], s.checks.map((c) => {
    const k = c.status === "not_measured" ? "skip" : (c.status === "failed" || c.passed === false ? "fail" : "pass");
    const b = el("span", k === "skip" ? "SKIP: not measured" : k, "badge b-" + k);
    return [c.group + " / " + c.name, b, el("span", c.reason, "why")];
  }));
  const rules = s.rules || {};
  Object.keys(rules).forEach((g) => $("checks").append(el("p", g + " rule: " + rules[g], "rule")));
  table("phases", ["phase", "status", "seconds"], s.phases.map((p) => [p.number + ". " + p.name, p.status, fmt(p.seconds, 2)]));
  const notes = $("notes");
  notes.replaceChildren();
  s.notes.forEach((n) => notes.append(el("li", n)));
}
const source = new EventSource("stream");
source.onmessage = (e) => {
  try {
    const s = JSON.parse(e.data);
    render(s);
    // After the verdict nothing changes: stop listening.
    if (s["final"]) { source.close(); $("conn").textContent = "run finished"; } else { $("conn").textContent = "live"; }
  } catch (err) { $("conn").textContent = "bad update: " + err; }
};
source.onerror = () => { $("conn").textContent = "disconnected (the run may have ended)"; };
"#;

/// The page's body, before the script.
const BODY: &str = r#"<div id="banner" class="banner"><h1 id="title">RUNNING</h1><p id="phase">waiting for the first update</p><ul id="reasons"></ul></div>
<main><p id="conn">connecting</p>
<div id="kpis" class="kpis"></div>
<section><h2>Latency over time</h2><div class="lg"><span class="p50">p50</span><span class="p95">p95</span><span class="p99">p99</span></div><svg id="chart" role="img" aria-label="latency percentiles per second"></svg></section>
<section><h2>Checks</h2><div id="checks"></div></section>
<section><h2>Outcomes and errors</h2><div id="outcomes"></div></section>
<section><h2>Latency per agent</h2><div id="agents"></div></section>
<section><h2>Time to first token (streamed answers)</h2><div id="ttft"></div></section>
<section><h2>Phases</h2><div id="phases"></div></section>
<section><h2>Notes</h2><ul id="notes"></ul></section>
</main>"#;

/// `sha256-` of [`SCRIPT`], base64 (checked by a test against the script).
pub(crate) const SCRIPT_HASH: &str = "sha256-wzarvUdkze8snoIZmxQ9wjxClrJ1sJK7l59azc3asPc=";
/// `sha256-` of [`CSS`], base64 (checked by a test against the style).
pub(crate) const STYLE_HASH: &str = "sha256-xCZD9N70hxAJ6sqYKYBeTRkuDZPO/zFrJFJ2XIkcJko=";

/// The Content-Security-Policy of the page: nothing but its own script and style, and
/// connections back to this server.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; connect-src 'self'; script-src '{SCRIPT_HASH}'; style-src '{STYLE_HASH}'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// The whole page.
pub(crate) fn html() -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><meta name=\"referrer\" content=\"no-referrer\"><link rel=\"icon\" href=\"data:,\"><title>live — chatbot perf</title><style>{CSS}</style></head><body>{BODY}<script>{SCRIPT}</script></body></html>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn base64(bytes: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    fn hash(text: &str) -> String {
        format!("sha256-{}", base64(&Sha256::digest(text.as_bytes())))
    }

    #[test]
    fn base64_matches_the_rfc_vectors() {
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn the_csp_hashes_match_the_inline_script_and_style() {
        assert_eq!(SCRIPT_HASH, hash(SCRIPT), "update SCRIPT_HASH");
        assert_eq!(STYLE_HASH, hash(CSS), "update STYLE_HASH");
    }

    #[test]
    fn the_script_never_parses_html() {
        for banned in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!SCRIPT.contains(banned), "{banned}");
        }
    }
}
