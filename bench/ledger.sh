#!/usr/bin/env bash
# Ledger reads end to end, on one server on 127.0.0.1 with the SQLite default: an app with
# three rules on the generator's event type (XP twice and coins: three ledger entries an
# event), BENCH_EVENT_SECONDS of single events from reactor bench over BENCH_USERS users (about
# 1,500 events each), a pause for the game logs to fold (--game-log-seconds 1), then
# BENCH_SECONDS of GET /users/{USER}/ledger?limit=50 (each user's newest page) on
# BENCH_CONNECTIONS connections: pages a second and their latency.
# Bounded: every phase has a time limit; the server started here is stopped by its PID at the
# end, on error too.
#   bench/ledger.sh [reactor binary]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-build/reactor}"
secs="${BENCH_SECONDS:-5}"
event_secs="${BENCH_EVENT_SECONDS:-3}"
users="${BENCH_USERS:-100}"
conns="${BENCH_CONNECTIONS:-16}"
port="${BENCH_PORT:-18082}"
token="bench-operator-token-0123456789"
secret="bench-webhook-secret-0123456789"
url="http://127.0.0.1:$port"

data=$(mktemp -d)
"$bin" serve --listen 127.0.0.1 --port "$port" --threads 2 --data-dir "$data" \
    --operator-token "$token" --log-level warn --game-log-seconds 1 >/dev/null \
    2>"$data/server.log" &
pid=$!
cleanup() {
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$data"
}
trap cleanup EXIT
for _ in $(seq 1 600); do
    curl -sf "$url/health" >/dev/null 2>&1 && break
    sleep 0.05
done
key=$(curl -sf "$url/apps" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"id\":\"ledger-bench\",\"name\":\"Ledger\",\"webhookSecret\":\"$secret\",
         \"settings\":{\"rateLimit\":{\"points\":1000000000,\"windowSeconds\":1}}}" |
    sed -E 's/.*"bootstrapApiKey":"([^"]+)".*/\1/')
post() {
    curl -sf "$url$1" -H "x-api-key: $key" -H 'Content-Type: application/json' -d "$2" >/dev/null
}
post /rules '{"name":"every event","eventType":"bench_event","xpAwards":{"XP":10}}'
post /rules '{"name":"coins","eventType":"bench_event","priority":1,
    "conditions":{"all":[{"field":"i","op":"gte","value":0}]},"currencyAwards":{"coins":1}}'
post /rules '{"name":"multiplied","eventType":"bench_event","xpAwards":{"XP":{"field":"i","max":5}}}'

echo "machine: $(nproc) cores; reactor: $("$bin" version | head -1)"
echo "events: $("$bin" bench --url "$url" --mode events --app ledger-bench --key "$key" \
    --secret "$secret" --users "$users" --duration "$event_secs" --json 2>/dev/null | tail -1)"
sleep 2 # the game logs fold (every second)
echo "ledger: $("$bin" bench --url "$url" --mode get --key "$key" \
    --path '/users/{USER}/ledger?limit=50' --users "$users" --connections "$conns" \
    --duration "$secs" --json 2>/dev/null | tail -1)"
