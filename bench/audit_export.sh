#!/usr/bin/env bash
# The audit trail's NDJSON export, on one server on 127.0.0.1 with the SQLite default:
# BENCH_ROWS audit rows (written straight into the store, in one transaction, while the server
# runs) exported with curl; the export's time and size, and the server's peak RSS before and
# after (an export holds one page of rows, whatever the selection's size); then one JSON page
# of 1,000 rows through a filter.
# Bounded: curl has a time limit; the server started here is stopped by its PID at the end.
#   bench/audit_export.sh [reactor binary]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-build/reactor}"
rows="${BENCH_ROWS:-200000}"
port="${BENCH_PORT:-18083}"
python="${PYTHON:-/usr/bin/python3}"
token="bench-operator-token-0123456789"
dir="$(mktemp -d)"
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

"$bin" serve --listen 127.0.0.1 --port "$port" --data-dir "$dir/data" \
    --operator-token "$token" --log-level warn > "$dir/log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/health" > /dev/null && break
    sleep 0.05
done
key=$(curl -sf -X POST "http://127.0.0.1:$port/apps" -H "Authorization: Bearer $token" \
    -H 'content-type: application/json' -d '{"id":"bench","name":"bench"}' |
    "$python" -c 'import json, sys; print(json.load(sys.stdin)["bootstrapApiKey"])')
"$python" - "$dir/data/reactor.db" "$rows" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
db.executemany(
    "INSERT INTO audit (app_id, at, actor, action, resource_type, resource_id, after, "
    "request_id) VALUES ('bench', ?, 'k', 'user.upsert', 'user', ?, ?, 'r')",
    [(1700000000000 + i, f"u{i}", json.dumps({"userId": f"u{i}", "attributes": {"n": i}}))
     for i in range(int(sys.argv[2]))])
db.commit()
PY
echo "peak RSS before: $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
t0=$(date +%s.%N)
curl -sf --max-time 120 "http://127.0.0.1:$port/audit?format=ndjson" -H "x-api-key: $key" \
    -o "$dir/out.ndjson"
t1=$(date +%s.%N)
echo "export: $(wc -l < "$dir/out.ndjson") rows, $(stat -c %s "$dir/out.ndjson") bytes," \
    "$(awk "BEGIN {printf \"%.3f\", $t1 - $t0}") s"
echo "peak RSS after: $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
t0=$(date +%s.%N)
curl -sf --max-time 30 "http://127.0.0.1:$port/audit?limit=1000&actor=k" -H "x-api-key: $key" \
    -o /dev/null
t1=$(date +%s.%N)
echo "one JSON page of 1000 rows: $(awk "BEGIN {printf \"%.3f\", $t1 - $t0}") s"
