#!/usr/bin/env bash
# WebSocket fan-out: N connections each subscribed to its user channel and one shared
# leaderboard channel; the server's RSS per connection, the time one shared message takes to
# reach all N, and commit-to-push latency while events flow at RATE/s. Then the same load
# against a plain Node `ws` broadcast server (bench/ws/node_server.js), in the same run.
# Bounded: 127.0.0.1 only, RATE events/s for SECONDS, every process stopped at the end.
#   bench/ws_fanout.sh [reactor binary]      (needs node and `npm install` in bench/ws)
# BENCH_CONNECTIONS (19000), BENCH_RATE (10000), BENCH_SECONDS (10), BENCH_PORT (18091),
# BENCH_FANOUTS (5: how many times one shared message is timed), BENCH_BASELINE (1; 0 skips
# the Node server).
# The connections are held by bench_ws_load (C, next to the binary, BENCH_CLIENT_THREADS
# threads, default 2); BENCH_CLIENT=node holds them in two Node processes instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-build/reactor}"
n="${BENCH_CONNECTIONS:-19000}"
rate="${BENCH_RATE:-10000}"
secs="${BENCH_SECONDS:-10}"
fanouts="${BENCH_FANOUTS:-5}"
port="${BENCH_PORT:-18091}"
token="bench-operator-token-0123456789"
secret="bench-webhook-secret-0123456789"
if [ "${BENCH_CLIENT:-c}" = node ]; then
    client=(--procs 2)
else
    client=(--client-bin "$(dirname "$bin")/bench_ws_load" --threads "${BENCH_CLIENT_THREADS:-2}")
    [ -x "${client[1]}" ] || { echo "ws_fanout: ${client[1]} is not built" >&2; exit 1; }
fi

# Each side holds N sockets: raise the soft limit as far as the hard one allows.
ulimit -n "$(ulimit -Hn)"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "open files limit: $(ulimit -n); connections: $n; events: $rate/s for $secs s"
command -v node >/dev/null || { echo "ws_fanout: needs node (scripts/deps.sh --bench)" >&2; exit 1; }
if [ ! -d bench/ws/node_modules/ws ]; then
    command -v npm >/dev/null || { echo "ws_fanout: needs npm to fetch the ws package" >&2; exit 1; }
    (cd bench/ws && npm install --no-audit --no-fund >/dev/null)
fi

data=$(mktemp -d)
cleanup() {
    [ -n "${spid:-}" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
    [ -n "${npid:-}" ] && kill "$npid" 2>/dev/null && wait "$npid" 2>/dev/null
    rm -rf "$data"
}
trap cleanup EXIT

"$bin" serve --listen 127.0.0.1 --port "$port" --threads 2 --data-dir "$data" \
    --operator-token "$token" --log-level warn --max-connections 100000 \
    --ws-max-connections-per-ip 100000 --ws-ping-interval 60 >/dev/null 2>"$data/server.log" &
spid=$!
for _ in $(seq 100); do curl -sf "localhost:$port/health" >/dev/null && break; sleep 0.1; done
key=$(curl -sf "localhost:$port/apps" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' \
    -d "{\"id\":\"wsbench\",\"name\":\"WS bench\",\"webhookSecret\":\"$secret\"}" |
    sed -E 's/.*"bootstrapApiKey":"([^"]+)".*/\1/')
curl -sf "localhost:$port/rules" -H "x-api-key: $key" -H 'Content-Type: application/json' \
    -d '{"name":"score","eventType":"score","xpAwards":{"xp":{"field":"points","max":100000000}}}' >/dev/null
curl -sf "localhost:$port/rules" -H "x-api-key: $key" -H 'Content-Type: application/json' \
    -d '{"name":"tick","eventType":"tick","xpAwards":{"activity":1}}' >/dev/null
echo "reactor: $("$bin" version | head -1), 2 I/O threads, SQLite with fsync on commit"
node bench/ws/load.js --mode reactor --port "$port" --pid "$spid" --conns "$n" --key "$key" \
    --app wsbench --secret "$secret" --rate "$rate" --seconds "$secs" --fanouts "$fanouts" "${client[@]}"
kill "$spid"; wait "$spid" || true; spid=
[ "${BENCH_BASELINE:-1}" = 0 ] && exit 0

node bench/ws/node_server.js "$((port + 1))" &
npid=$!
for _ in $(seq 100); do curl -sf -X POST "localhost:$((port + 1))/broadcast" >/dev/null && break; sleep 0.1; done
echo "baseline: node $(node --version), ws $(node -p 'require("./bench/ws/node_modules/ws/package.json").version'), one process"
node bench/ws/load.js --mode node --port "$((port + 1))" --pid "$npid" --conns "$n" \
    --rate "$rate" --seconds "$secs" --fanouts "$fanouts" "${client[@]}"
