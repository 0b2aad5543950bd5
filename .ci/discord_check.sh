#!/usr/bin/env bash
# An unmodified discord.py bot (examples/bots/discord_bot.py) load-tested through the fake
# Discord by the orchestrator and gated by ci-gate: every question answered with its first
# message and final edit measured, a handler that blocks the event loop caught by the
# event-loop check, and the gate blocking the bot once it is slower.
# Usage: .ci/discord_check.sh <release-dir> <work-dir>
set -euo pipefail
bin=$(cd "$1" && pwd)
mkdir -p "$2"
work=$(cd "$2" && pwd)
repo=$(pwd)
bot="discord:python3 -m chatbot_perf.discord $repo/examples/bots/discord_bot.py"
questions="$repo/examples/bots/discord_questions.jsonl"
cd "$work"

run() { set +e; "$bin/orchestrator" --quiet --no-synthetic --out runs --target "$bot" "$@" > out.txt 2> err.txt; echo $?; set -e; }

code=$(run --questions "$questions")
tail -5 err.txt
test "$code" -eq 0 || { cat out.txt; exit 1; }
python3 - runs/latest/report.json <<'PY'
import base64, json, sys
r = json.load(open(sys.argv[1]))
o = r["overall"]
assert o["count"] == 10 and o["outcomes"].get("ok") == 10, o
assert r["target"]["transport"] == "discord", r["target"]
checks = {c["name"]: c for c in r["checks"] if c["group"] == "discord"}
for name in ("event loop", "rate limits", "message length", "reply channel"):
    assert checks[name]["status"] == "passed", checks[name]
samples = [json.loads(l) for l in open(sys.argv[1].replace("report.json", "samples.jsonl"))]
ttft = sorted(s["ttft_us"] for s in samples)
lat = sorted(s["latency_us"] for s in samples)
# The bot's own delays: its first message after BOT_THINK_MS (50 ms), its final edit two
# BOT_EDIT_MS (30 ms) later. Printed, not asserted: a shared machine adds its own time.
print("discord.py bot: 10 of 10 answered; first message p50 %.1f ms, final edit p50 %.1f ms"
      % (ttft[len(ttft)//2] / 1e3, lat[len(lat)//2] / 1e3))
# What the fake Discord saw: one message and two edits (BOT_EDITS) per answer; the
# first-query check and the probes are answers too.
d = r["discord"]
assert d["answers"] >= 10 and d["messages"] == d["answers"] and d["edits"] == 2 * d["answers"], d
# discord.py waits out every 429 it gets (its own rate-limit handling).
assert all(x["early_retries"] == 0 for x in d.get("rate_limits", {}).values()), d
assert d["heartbeats"] >= 2 and d["crashes"] == 0, d
PY
grep -q "^### Discord" runs/latest/summary.md
grep -q '<section id="discord">' runs/latest/report.html

# A bot that crashes on its fourth question: that question counts as crashed, the bot is
# started again and answers the rest.
code=$(BOT_EXIT_AFTER=4 run --questions "$questions" --no-parallel)
echo "with a bot that exits on its fourth question: exit $code"
python3 - runs/latest/report.json <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
o, d = r["overall"]["outcomes"], r["discord"]
assert o.get("error:crashed", 0) >= 1 and o.get("ok", 0) >= 3, o
assert d["crashes"] >= 1, d
assert any("was restarted" in n for n in r["notes"]), r["notes"]
print("crashed:", o.get("error:crashed"), "ok:", o.get("ok"), "restarts noted")
PY

code=$(run --questions "$repo/examples/bots/discord_questions_block.jsonl")
echo "with a blocking handler: exit $code"
test "$code" -eq 1
python3 - runs/latest/report.json <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
loop = [c for c in r["checks"] if c["group"] == "discord" and c["name"] == "event loop"][0]
assert loop["status"] == "failed" and "blocked for" in loop["reason"], loop
print("caught:", loop["reason"][:120])
PY

gate() { set +e; "$bin/ci-gate" --target "$bot" --questions "$questions" --baseline discord_bot --out gate "$@" 2> gate-err.txt; echo $?; set -e; }
code=$(gate --update-baseline)
tail -2 gate-err.txt
test "$code" -eq 0
code=$(gate --strict-baseline)
tail -2 gate-err.txt
echo "ci-gate, the same bot against its own baseline: exit $code"
test "$code" -eq 0
export BOT_THINK_MS=400
code=$(gate --strict-baseline)
tail -2 gate-err.txt
echo "ci-gate, the bot 350 ms slower to its first message: exit $code"
test "$code" -eq 1
echo "discord.py through the fake Discord: answered, blocking caught, slower bot blocked"
