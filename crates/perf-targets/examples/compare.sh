#!/bin/sh
# Compares HttpTarget (driven by perf-runner) with wrk and oha against one local nginx
# serving a small static JSON file on 127.0.0.1. Loopback only.
#
#   sh crates/perf-targets/examples/compare.sh [CONNECTIONS] [SECONDS] [MEMORY_SECONDS] [ROUNDS]
#
# Needs: nginx and wrk (Debian packages), oha (`cargo install oha`, optional), GNU time
# (/usr/bin/time), and a release build of the example:
#   cargo build --release -p perf-targets --example http_bench
# Prints one line per tool and round: requests/s, CPU seconds per 1000 requests, peak RSS;
# then, over the rounds (the tools alternate, so a noisy moment hits all of them), the median
# of each HttpTarget variant's ratios to oha's requests/s and to wrk's CPU per request; and
# for the memory run the RSS once per second.
set -eu
CONN=${1:-64}
SECS=${2:-10}
MEMSECS=${3:-30}
ROUNDS=${4:-1}
PORT=18080
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BENCH="$ROOT/target/release/examples/http_bench"
URL="http://127.0.0.1:$PORT/answer.json"
DIR=$(mktemp -d)
trap 'kill "$NGINX_PID" 2>/dev/null || true; rm -rf "$DIR"' EXIT INT TERM HUP PIPE
# nginx's workers run as `nobody`: mktemp's 0700 would make every answer a 403.
chmod 755 "$DIR"

mkdir -p "$DIR/www" "$DIR/tmp"
printf '%s\n' '{"answer":"The busiest channel is #general with 1234 messages.","agent":"server_analysis","metadata":{"agents_used":["server_analysis"]}}' > "$DIR/www/answer.json"
cat > "$DIR/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $DIR/nginx.pid;
error_log $DIR/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 120;
    client_body_temp_path $DIR/tmp;
    proxy_temp_path $DIR/tmp;
    fastcgi_temp_path $DIR/tmp;
    uwsgi_temp_path $DIR/tmp;
    scgi_temp_path $DIR/tmp;
    server {
        listen 127.0.0.1:$PORT;
        root $DIR/www;
        location / { default_type application/json; }
    }
}
CONF
nginx -c "$DIR/nginx.conf" -p "$DIR" &
NGINX_PID=$!
sleep 1

# cpu_per_1000 USER SYS REQUESTS
cpu_per_1000() { awk -v u="$1" -v s="$2" -v n="$3" 'BEGIN { printf "%.4f", (u + s) * 1000 / n }'; }

# rss_trace PID: resident memory (KiB) once per second until PID exits.
rss_trace() {
    while kill -0 "$1" 2>/dev/null; do
        ps -o rss= -p "$1" 2>/dev/null | tr -d ' \n' || true
        printf ' '
        sleep 1
    done
}

run_ours() { # SECONDS [EXTRA ARGS] -> sets REQ RPS U S M
    secs=$1; shift
    /usr/bin/time -f '%U %S %M' -o "$DIR/time" "$BENCH" --url "$URL" --connections "$CONN" --seconds "$secs" "$@" > "$DIR/ours.json"
    REQ=$(sed 's/.*"requests":\([0-9]*\).*/\1/' "$DIR/ours.json")
    ERR=$(sed 's/.*"errors":\([0-9]*\).*/\1/' "$DIR/ours.json")
    [ "$ERR" = 0 ] || { echo "http_bench: $ERR of $REQ requests failed; not a valid comparison" >&2; exit 1; }
    RPS=$(sed 's/.*"requests_per_second":\([0-9.]*\).*/\1/' "$DIR/ours.json")
    read -r U S M < "$DIR/time"
}

run_wrk() {
    /usr/bin/time -f '%U %S %M' -o "$DIR/time" wrk -t1 -c"$CONN" -d"$1"s "$URL" > "$DIR/wrk.txt"
    REQ=$(awk '/requests in/ { print $1 }' "$DIR/wrk.txt")
    if grep -q "Non-2xx" "$DIR/wrk.txt"; then echo "wrk: non-2xx answers; not a valid comparison" >&2; exit 1; fi
    RPS=$(awk '/Requests\/sec/ { print $2 }' "$DIR/wrk.txt")
    read -r U S M < "$DIR/time"
}

run_oha() {
    /usr/bin/time -f '%U %S %M' -o "$DIR/time" oha --no-tui -z "$1"s -c "$CONN" "$URL" > "$DIR/oha.txt"
    RPS=$(awk '/Requests\/sec/ { print $2 }' "$DIR/oha.txt")
    if awk '/^Status code distribution/ { on = 1; next } /^ *$/ { on = 0 } on && !/\[200\]/ { bad = 1 } END { exit !bad }' "$DIR/oha.txt"; then
        echo "oha: answers other than 200; not a valid comparison" >&2; exit 1
    fi
    REQ=$(awk -v r="$RPS" -v s="$1" 'BEGIN { printf "%d", r * s }')
    read -r U S M < "$DIR/time"
}

report() { # NAME KEY: prints a line, and keeps "KEY round req/s cpu" for the summary
    CPU=$(cpu_per_1000 "$U" "$S" "$REQ")
    printf '%-50s %10s req/s  %8s CPU-s/1000 req  peak RSS %6s KiB  (%s requests, user %s s, sys %s s)\n' \
        "$1" "$RPS" "$CPU" "$M" "$REQ" "$U" "$S"
    echo "$2 $ROUND $RPS $CPU" >> "$DIR/rounds"
}

echo "connections=$CONN seconds=$SECS rounds=$ROUNDS nginx: 1 worker, $URL"
: > "$DIR/rounds"
ROUND=1
while [ "$ROUND" -le "$ROUNDS" ]; do
    [ "$ROUNDS" -gt 1 ] && echo "round $ROUND:"
    run_ours "$SECS"; report "perf-targets (perf-runner, multi-thread runtime)" runner-mt
    run_ours "$SECS" --threads 1; report "perf-targets (perf-runner, current-thread runtime)" runner-ct
    run_ours "$SECS" --threads 1 --loop; report "perf-targets (tight loop, current-thread runtime)" loop-ct
    run_wrk "$SECS"; report "wrk" wrk
    if command -v oha >/dev/null 2>&1; then run_oha "$SECS"; report "oha" oha; else echo "oha not installed"; fi
    ROUND=$((ROUND + 1))
done

# Per round, each variant's ratios; then their medians over the rounds.
echo "medians over $ROUNDS round(s): requests/s ÷ oha's, CPU per request ÷ wrk's"
for v in runner-mt runner-ct loop-ct; do
    awk -v v="$v" '
        { rps[$1, $2] = $3; cpu[$1, $2] = $4; if ($2 > n) n = $2 }
        function median(a, k,    i, j, t) {
            for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
        }
        END {
            k = 0; m = 0
            for (r = 1; r <= n; r++) {
                if (((v, r) in rps) && (("oha", r) in rps) && rps["oha", r] > 0) rr[++k] = rps[v, r] / rps["oha", r]
                if (((v, r) in cpu) && (("wrk", r) in cpu) && cpu["wrk", r] > 0) cr[++m] = cpu[v, r] / cpu["wrk", r]
            }
            printf "  %-10s req/s %s x oha   CPU %s x wrk\n", v,
                (k ? sprintf("%.2f", median(rr, k)) : "n/a"), (m ? sprintf("%.2f", median(cr, m)) : "n/a")
        }' "$DIR/rounds"
done

echo "memory over ${MEMSECS}s (RSS KiB, once per second):"
"$BENCH" --url "$URL" --connections "$CONN" --seconds "$MEMSECS" > "$DIR/mem.json" &
P=$!; printf 'perf-targets (perf-runner): '; rss_trace "$P"; echo
"$BENCH" --url "$URL" --connections "$CONN" --seconds "$MEMSECS" --loop > "$DIR/mem.json" &
P=$!; printf 'perf-targets (tight loop): '; rss_trace "$P"; echo
if command -v oha >/dev/null 2>&1; then
    oha --no-tui -z "$MEMSECS"s -c "$CONN" "$URL" > /dev/null &
    P=$!; printf 'oha: '; rss_trace "$P"; echo
fi
