#!/bin/sh
# Benchmark: N local shard processes against one HTTP bot at a total open-loop rate R.
# Prints the combined achieved rate (sent / the one-machine schedule's length) and the
# spread of the shards' actual start instants.
#   sh crates/perf-suite/examples/shard_rate.sh N RATE SECONDS
# Needs target/release/{orchestrator,refbot} (cargo build --release --bin orchestrator --bin refbot).
set -eu
n=${1:-4}; rate=${2:-400}; secs=${3:-20}
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
 "save_intermediate_results": false,
 "synthetic_testing": {"edge_cases": false, "stress_scenarios": false, "load_testing": false,
                       "scenario_paths": ["$work/open.json"]},
 "performance_baselines": {"enabled": false}, "regression_testing": {"enabled": false},
 "parallel_execution": {"rate_limit_per_second": null}}
JSON
start=$(( $(date +%s) + 5 ))
i=1
pids=""
while [ $i -le "$n" ]; do
  $bin/orchestrator --quiet --config "$work/suite.json" --target "$url/query" \
    --shard "$i/$n" --start-at "$start" --out "$work/shards" > "$work/shard$i.log" 2>&1 &
  pids="$pids $!"
  i=$((i + 1))
done
for p in $pids; do wait "$p" || true; done
python3 - "$work/shards" "$rate" "$secs" "$n" <<'PY'
import glob, json, sys
from datetime import datetime
root, rate, secs, n = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
reports = [json.load(open(f)) for f in glob.glob(f"{root}/*-shard*/report.json")]
assert len(reports) == n, open(root + "/../shard1.log").read()
sent = sum(r["per_scenario"]["open_rate"]["count"] - r["per_scenario"]["open_rate"]["outcomes"].get("dropped", 0) for r in reports)
expected = rate * secs
starts = sorted(datetime.fromisoformat(r["shard"]["execution_started_at"].replace("Z", "+00:00")).timestamp() for r in reports)
late = sorted(r["shard"]["start_lateness_ms"] for r in reports)
walls = [r["wall_time_s"] for r in reports]
lags = sorted(v for r in reports for v, c in r["schedule"]["start_lag"] for _ in range(min(c, 100000)))
p99 = lags[int(0.99 * (len(lags) - 1))] / 1e3 if lags else 0.0
print(f"start lag p99 over every query of every shard: {p99:.3f} ms")
print(f"{n} shards, R = {rate:.0f}/s for {secs:.0f} s: sent {sent} of {expected:.0f} scheduled "
      f"({100 * (sent / expected - 1):+.2f} %); start spread {1e3 * (starts[-1] - starts[0]):.3f} ms; "
      f"lateness {late[0]:.3f}..{late[-1]:.3f} ms; late starts {sum(r['schedule']['late_starts'] for r in reports)}")
PY
