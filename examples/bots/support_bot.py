#!/usr/bin/env python3
"""A bot that is not ours: the helpdesk bot of "Acme support", with its own four agents
chosen by a keyword router, answering from its own (made-up) data. It knows nothing of the
generated Discord server. docs/your-bot.md tests it in five minutes.

    python3 examples/bots/support_bot.py --http 8090     # POST /chat {"message": ...}
    python3 examples/bots/support_bot.py --stdio         # JSON lines, for --target cmd:

Environment: DELAY_S (base answer time, default 0.05), FAIL_AGENT and FAIL_RATE (that
agent fails this share of its answers, evenly spread, with HTTP 500 / an error line;
default none).
"""
import json
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DELAY_S = float(os.environ.get("DELAY_S", "0.05"))
FAIL_AGENT = os.environ.get("FAIL_AGENT", "")
FAIL_RATE = float(os.environ.get("FAIL_RATE", "0"))
ANSWERS = {
    "stats": "Acme support has three queues; the busiest is billing.",
    "finder": "I found two threads about that in the Acme knowledge base.",
    "people": "That member mostly asks about invoices and shipping.",
    "recap": "This week in Acme support: billing questions, one outage, a new FAQ.",
}


def route(text: str) -> str:
    t = text.lower()
    if any(w in t for w in ("summar", "digest", "highlight")):
        return "recap"
    if any(w in t for w in ("search", "find", "said about", "mention")):
        return "finder"
    if any(w in t for w in ("user", "talk about", "how active is")):
        return "people"
    return "stats"


def answer(text: str):
    agent = route(text)
    time.sleep(DELAY_S * (1 + random.random()))
    if agent == FAIL_AGENT and should_fail():
        return agent, None
    return agent, ANSWERS[agent]


_failures = {"n": 0}
_lock = threading.Lock()


def should_fail() -> bool:
    # Deterministic: the n-th answer fails when n * FAIL_RATE crosses a whole number, so
    # exactly that share of the agent's answers fail, spread evenly.
    with _lock:
        _failures["n"] += 1
        n = _failures["n"]
    return int(n * FAIL_RATE) != int((n - 1) * FAIL_RATE)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("content-length", "0"))
        try:
            message = json.loads(self.rfile.read(n))["message"]
        except (ValueError, KeyError, TypeError):
            return self.send(400, {"error": "expected a JSON body {\"message\": \"...\"}"})
        agent, reply = answer(message)
        if reply is None:
            return self.send(500, {"error": f"{agent} backend unavailable"})
        self.send(200, {"reply": reply, "route": agent})

    def send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def stdio():
    for line in sys.stdin:
        try:
            req = json.loads(line)
        except ValueError:
            continue
        agent, reply = answer(req.get("query", ""))
        out = {"id": req["id"], "answer": reply or "", "agent": agent,
               "error": None if reply is not None else f"{agent} backend unavailable"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--http"]:
        ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler).serve_forever()
    else:
        stdio()
