#!/usr/bin/env python3
"""The live view during a real run, as a user sees it (`.ci/run` calls this).

Starts `orchestrator --live` (the README's main run at a longer scale, with the live view
kept up after it). During the run it reads `/metrics` with Prometheus's own text-format
parser (prometheus_client) and the open page in headless Chromium (through the DevTools
protocol) at two moments, and checks both moved, with no console error or CSP violation.
After the run it checks the page shows the verdict and the report's query count, and that
`/metrics` agrees with report.json.

Usage: live_check.py ORCHESTRATOR OUT_DIR DATABASE
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # websocket-client: the DevTools protocol, to look at the page mid-run
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


class Browser:
    """A headless Chromium showing the live page, read through the DevTools protocol while
    the run goes on (`--dump-dom` would wait for the page's event stream to close)."""

    def __init__(self, work: str):
        profile = tempfile.mkdtemp(dir=work)
        self.proc = subprocess.Popen(
            ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
             "--remote-debugging-port=9333", URL],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(300):
            try:
                targets = json.load(urllib.request.urlopen("http://127.0.0.1:9333/json", timeout=1))
                page = next(t for t in targets if t.get("type") == "page")
                break
            except (OSError, StopIteration, ValueError):
                time.sleep(0.1)
        else:
            raise SystemExit("Chromium's DevTools endpoint did not come up")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
        self.next_id = 0

    def eval(self, expression: str):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": "Runtime.evaluate",
                                 "params": {"expression": expression, "returnByValue": True}}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                return reply["result"]["result"].get("value")

    def close(self) -> list:
        self.ws.close()
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=30)
        return [l for l in err.splitlines()
                if ":CONSOLE" in l or "Uncaught" in l or "Refused to" in l
                or "Content Security Policy" in l]


DONE_JS = """(() => { for (const k of document.querySelectorAll('.kpi')) {
  if (k.querySelector('span').textContent === 'queries done')
    return parseInt(k.querySelector('b').textContent, 10); } return -1; })()"""


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
        # 48 clients that ask for the event stream and never read it: the run and the
        # other clients must not notice (the server keeps one latest snapshot, no queue).
        # 48 stays under the live view's cap of 64 connections (docs/live.md), which the
        # page, /metrics and the browser's own connections need room under.
        stalled = []
        for _ in range(48):
            c = socket.create_connection(("127.0.0.1", 5665), timeout=5)
            c.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
            stalled.append(c)
        browser = Browser(work)
        time.sleep(3)
        a, pa = metrics_total(), browser.eval(DONE_JS)
        time.sleep(3)
        b, pb = metrics_total(), browser.eval(DONE_JS)
        assert not os.path.exists(report), "the run ended before the second look"
        assert b > a, f"queries did not move on /metrics between two looks 3 s apart: {a} then {b}"
        assert pb > pa > 0, f"the page's queries done did not move: {pa} then {pb}"
        trouble = browser.close()
        assert not trouble, trouble
        for c in stalled:
            c.close()
        print(f"during the run, with 48 stalled /stream clients: /metrics {int(a)} then "
              f"{int(b)} queries 3 s later; the page in Chromium {pa} then {pb}, no console error")

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
