#!/usr/bin/env python3
"""The live view during a real run, as a user sees it (`.ci/run` calls this).

Starts `orchestrator --live` (the README's main run at a longer scale, with the live view
kept up after it), reads `/metrics` at two moments of the run with Prometheus's own
text-format parser (prometheus_client) and checks the counts moved; after the run, opens the
page in headless Chromium and checks it shows the verdict and the report's query count with
no console error or CSP violation, and checks `/metrics` against report.json.

Headless Chromium's `--dump-dom` waits for the page's open event stream, which the page
closes only once the verdict is in, so the browser looks after the run; the moving numbers
during it are read from `/metrics`, which is fed by the same snapshots as the page.

Usage: live_check.py ORCHESTRATOR OUT_DIR DATABASE
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

ADDR = "127.0.0.1:5665"
URL = f"http://{ADDR}/"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0",
]


def page(work: str):
    """The page's DOM after 3 s of (virtual) updates, and the console lines that signal trouble."""
    profile = tempfile.mkdtemp(dir=work)
    out = subprocess.run(
        ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=3000",
         "--dump-dom", URL],
        capture_output=True, text=True, timeout=120,
    )
    trouble = [l for l in out.stderr.splitlines()
               if ":CONSOLE" in l or "Uncaught" in l or "Refused to" in l
               or "Content Security Policy" in l]
    return out.stdout, trouble


def done(dom: str) -> int:
    m = re.search(r"<b>(\d+)[^<]*</b><span>queries done</span>", dom)
    if not m:
        raise SystemExit(f"no 'queries done' figure on the page:\n{dom[:3000]}")
    return int(m.group(1))


def metrics_total() -> float:
    text = urllib.request.urlopen(URL + "metrics", timeout=5).read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    if "chatbot_perf_queries" not in families:
        return 0.0
    return sum(s.value for s in families["chatbot_perf_queries"].samples
               if s.name == "chatbot_perf_queries_total")


def main() -> None:
    orchestrator, out_dir, database = sys.argv[1:4]
    work = tempfile.mkdtemp()
    run = subprocess.Popen(
        [orchestrator, "--quiet", "--out", out_dir, "--database", database, "--scale", "0.12",
         "--live", ADDR, "--live-linger", "120"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    report = os.path.join(out_dir, "latest", "report.json")
    try:
        # Wait for the page to answer, then look twice while the run goes on.
        for _ in range(200):
            try:
                urllib.request.urlopen(URL, timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(3)
        a = metrics_total()
        time.sleep(3)
        b = metrics_total()
        assert not os.path.exists(report), "the run ended before the second look"
        assert b > a, f"queries did not move on /metrics between two looks 3 s apart: {a} then {b}"
        print(f"/metrics during the run: {int(a)} then {int(b)} queries 3 s later")

        for _ in range(1200):
            if os.path.exists(report):
                break
            time.sleep(0.1)
        result = json.load(open(report))
        count = result["overall"]["count"]
        # The final snapshot is published at the end of the run; give it a moment.
        for _ in range(50):
            final_dom, trouble = page(work)
            if "RUNNING" not in re.sub(r"<script.*?</script>", "", final_dom, flags=re.S):
                break
            time.sleep(0.2)
        assert not trouble, trouble
        title = re.search(r'<h1 id="title">([^<]*)</h1>', final_dom).group(1)
        assert title in ("PASS", "FAIL", "COULD NOT RUN"), title
        assert done(final_dom) == count, (done(final_dom), count)
        print(f"live page after the run: verdict {title}, {count} queries done as in report.json")

        text = urllib.request.urlopen(URL + "metrics", timeout=5).read().decode()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        queries = families["chatbot_perf_queries"]  # the parser strips `_total`
        total = sum(s.value for s in queries.samples if s.name == "chatbot_perf_queries_total")
        assert total == count, (total, count)
        for name in ("chatbot_perf_latency_seconds",):
            buckets = [s for s in families[name].samples if s.name.endswith("_bucket")]
            counts = [s for s in families[name].samples if s.name.endswith("_count")]
            assert buckets and counts, name
        sent = count - result["overall"]["outcomes"].get("dropped", 0)
        latency_count = sum(s.value for s in families["chatbot_perf_latency_seconds"].samples
                            if s.name == "chatbot_perf_latency_seconds_count")
        assert latency_count == sent, (latency_count, sent)
        print(f"/metrics parsed by prometheus_client: {int(total)} queries, "
              f"{int(latency_count)} latencies, as in report.json")
    finally:
        run.terminate()
        try:
            run.wait(timeout=30)
        except subprocess.TimeoutExpired:
            run.kill()


if __name__ == "__main__":
    main()
