#!/bin/sh
# Benchmark: N local shard processes against one HTTP bot at a total open-loop rate R.
# Prints, per trial, the spread of the shards' actual start instants (each shard's
# execution_started_at, right after --start-at's wait), the combined sent count against the
# schedule, and the combined achieved rate: (sent - 1) / (last actual send - first actual
# send), every send placed on the wall clock (execution start + intended time + start lag
# from samples.jsonl); a perfect constant-rate schedule gives exactly R.
#   sh crates/perf-suite/examples/shard_rate.sh N RATE SECONDS [TRIALS]
# Needs target/release/{orchestrator,refbot} (cargo build --release --bin orchestrator --bin refbot).
set -eu
n=${1:-4}; rate=${2:-400}; secs=${3:-20}; trials=${4:-1}
bin=target/release
work=$(mktemp -d)
trap 'kill $bot 2>/dev/null; rm -rf "$work"' EXIT
# refbot generates the database when it is missing, then prints its address.
$bin/refbot serve --addr 127.0.0.1:0 --latency-scale 0 --database "$work/db.sqlite" > "$work/bot.out" &
bot=$!
url=""
while [ -z "$url" ]; do sleep 0.2; url=$(sed -n 's/^refbot: listening on //p' "$work/bot.out"); done
cat > "$work/open.json" <<JSON
{"format_version": 1, "name": "open_rate", "kind": "custom",
 "load": {"mode": "constant", "rate": $rate, "duration": $secs, "max_in_flight": 256},
 "queries": [{"text": "How many messages have been sent in this server?", "repeat": 50}]}
JSON
cat > "$work/suite.json" <<JSON
{"database_path": "$work/db.sqlite", "query_count": 4, "record_history": false,
 "save_intermediate_results": true,
 "synthetic_testing": {"edge_cases": false, "stress_scenarios": false, "load_testing": false,
                       "scenario_paths": ["$work/open.json"]},
 "performance_baselines": {"enabled": false}, "regression_testing": {"enabled": false},
 "parallel_execution": {"rate_limit_per_second": null}}
JSON
t=1
while [ $t -le "$trials" ]; do
start=$(( $(date +%s) + 5 ))
i=1
pids=""
while [ $i -le "$n" ]; do
  $bin/orchestrator --quiet --config "$work/suite.json" --target "$url/query" \
    --shard "$i/$n" --start-at "$start" --out "$work/trial$t" > "$work/shard$i.log" 2>&1 &
  pids="$pids $!"
  i=$((i + 1))
done
for p in $pids; do wait "$p" || true; done
python3 - "$work/trial$t" "$rate" "$secs" "$n" <<'PY'
import glob, json, os, sys
from datetime import datetime
root, rate, secs, n = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
dirs = sorted(os.path.dirname(f) for f in glob.glob(f"{root}/*-shard*/report.json"))
assert len(dirs) == n, open(root + "/../shard1.log").read()
ts = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
sends, lags, starts, late, printed = [], [], [], [], []
for d in dirs:
    r = json.load(open(f"{d}/report.json"))
    began = ts(r["shard"]["execution_started_at"])
    starts.append(began)
    late.append(r["shard"]["start_lateness_ms"])
    sent = 0
    for line in open(f"{d}/samples.jsonl"):
        s = json.loads(line)
        if s.get("outcome") == "dropped":
            continue
        lags.append(s["start_lag_us"])
        if s["scenario"] == "open_rate":
            sent += 1
            sends.append(began + (s["scheduled_at_us"] + s["start_lag_us"]) / 1e6)
    printed.append(sent / r["wall_time_s"])
sends.sort(); lags.sort()
expected = rate * secs
achieved = (len(sends) - 1) / (sends[-1] - sends[0])
p99 = lags[int(0.99 * (len(lags) - 1))] / 1e3
print(f"{n} shards, R = {rate:.0f}/s for {secs:.0f} s: sent {len(sends)} of {expected:.0f} scheduled "
      f"({100 * (len(sends) / expected - 1):+.2f} %); achieved rate {achieved:.2f}/s "
      f"({100 * (achieved / rate - 1):+.2f} %); start spread {1e3 * (max(starts) - min(starts)):.3f} ms; "
      f"lateness {min(late):.3f}..{max(late):.3f} ms; start lag p99 (every query) {p99:.3f} ms; "
      f"sum of the shards' sent / wall time (the report's per-shard sent_per_s) {sum(printed):.2f}/s")
PY
t=$((t + 1))
done
