#!/bin/sh
# A/B cost of the live view: the same orchestrator run without `--live`, then with `--live`
# and a client reading /metrics every second, alternating, RUNS times each. Prints per run
# the process CPU (user + system) per query and the overall latency p50/p95.
#
#   cargo build --release -p orchestrator
#   sh crates/perf-live/examples/live_ab.sh [RUNS] [QUERIES]
set -eu
bin=$(cd "$(dirname "$0")/../../.." && pwd)/target/release/orchestrator
runs=${1:-3}
queries=${2:-300}
port=5699
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Warm-up: generates the message database, so no measured run pays for it.
(cd "$work" && "$bin" --quiet --query-count 10 --scale 0.001 --database "$work/messages.db" \
  --out warmup >/dev/null 2>&1) || true
printf '%-4s %-4s %8s %12s %8s %8s\n' run live queries cpu_us/query p50_ms p95_ms
for i in $(seq 1 "$runs"); do
  for mode in off on; do
    dir="$work/$i-$mode"
    mkdir -p "$dir"
    cd "$dir"
    poller=""
    set --
    if [ "$mode" = on ]; then
      set -- --live "127.0.0.1:$port"
      (while sleep 1; do curl -s "http://127.0.0.1:$port/metrics" >/dev/null || true; done) &
      poller=$!
    fi
    /usr/bin/time -f "%U %S" -o time.txt "$bin" --quiet --query-count "$queries" --scale 0.02 \
      --database "$work/messages.db" --out out "$@" >/dev/null 2>&1 || true
    [ -n "$poller" ] && kill "$poller"
    python3 - "$i" "$mode" <<'PY'
import glob, json, sys
u, s = map(float, open("time.txt").read().split()[-2:])
r = json.load(open(glob.glob("out/*/report.json")[0]))
o = r["summary"]["overall"]
n = o["count"]
print("%-4s %-4s %8d %12.1f %8.1f %8.1f" % (sys.argv[1], sys.argv[2], n, (u + s) * 1e6 / n,
      o["latency"]["p50_ms"], o["latency"]["p95_ms"]))
PY
  done
done
