#!/usr/bin/env bash
# Event ingestion end to end: signed events over HTTP keep-alive, committed (fsync) before the
# 202, against one server on 127.0.0.1 with the SQLite default. In the same run, with the same
# generator (reactor bench): GET /health, then single events, then batches.
# Bounded: each phase lasts BENCH_SECONDS (default 10); the server is stopped at the end.
# BENCH_RULES=1 first gives the app a realistic rule set (issue D): 5 rules on the event type
# the generator sends (conditions on its metadata, XP and coins, a cap, a multiplier) and 3
# achievements, so every event runs the game model and writes its ledger rows and state.
# BENCH_RULES=spread gives it 5 rules on 5 event types instead, one of them the generator's
# (10 XP an event), and 3 achievements: an event matches one rule, as in an app whose rules
# each reward one action.
#   bench/events.sh [reactor binary]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-build/reactor}"
secs="${BENCH_SECONDS:-10}"
conns="${BENCH_CONNECTIONS:-64}"
users="${BENCH_USERS:-10000}"
batch="${BENCH_BATCH_SIZE:-1000}"
port="${BENCH_PORT:-18081}"
threads="${BENCH_THREADS:-2}"
log_level="${BENCH_LOG_LEVEL:-warn}"
token="bench-operator-token-0123456789"
secret="bench-webhook-secret-0123456789"

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "reactor: $("$bin" version | head -1), $threads I/O threads, log level $log_level, SQLite with fsync on commit"
echo "load: reactor bench --connections $conns --duration $secs --users $users (batch: --batch-size $batch)"

data=$(mktemp -d)
# BENCH_CALLGRIND=<prefix>: the server runs under callgrind (about 50 times slower), one
# profile per thread in <prefix>.<pid>-<thread>: instructions, steadier than times on a shared
# machine. Divide by the phase's "requests".
wrap=()
if [ -n "${BENCH_CALLGRIND:-}" ]; then
    wrap=(valgrind --tool=callgrind --separate-threads=yes "--callgrind-out-file=$BENCH_CALLGRIND.%p")
fi
"${wrap[@]}" "$bin" serve --listen 127.0.0.1 --port "$port" --threads "$threads" --data-dir "$data" \
    --operator-token "$token" --log-level "$log_level" >/dev/null 2>"$data/server.log" &
pid=$!
cleanup() {
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$data"
}
trap cleanup EXIT
for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.05
done
app="bench-$$"
key=$(curl -sf "http://127.0.0.1:$port/apps" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' \
    -d "{\"id\":\"$app\",\"name\":\"Bench\",\"webhookSecret\":\"$secret\",\"settings\":{\"rateLimit\":{\"points\":1000000000,\"windowSeconds\":1}}}" |
    sed -E 's/.*"bootstrapApiKey":"([^"]+)".*/\1/')

post() {
    curl -sf "http://127.0.0.1:$port$1" -H "x-api-key: $key" \
        -H 'Content-Type: application/json' -d "$2" >/dev/null
}
if [ "${BENCH_RULES:-0}" = 1 ]; then
    post /rules '{"name":"every event","eventType":"bench_event","xpAwards":{"XP":10}}'
    post /rules '{"name":"even seq","eventType":"bench_event","priority":1,
        "conditions":{"all":[{"field":"i","op":"gte","value":0},{"field":"connection","op":"lt","value":1000}]},
        "currencyAwards":{"coins":1}}'
    post /rules '{"name":"capped","eventType":"bench_event","xpAwards":{"Daily XP":5},
        "caps":[{"per":"day","max":500}]}'
    post /rules '{"name":"multiplied","eventType":"bench_event","xpAwards":{"XP":{"field":"i","max":5}},
        "multiplierConfig":{"field":"connection","map":{"0":2,"1":3}}}'
    post /rules '{"name":"never","eventType":"bench_event",
        "conditions":{"any":[{"field":"seq","op":"lt","value":0},{"field":"missing","op":"exists"}]},
        "xpAwards":{"XP":1000}}'
    post /achievements '{"code":"xp-1000","name":"XP","kind":"MILESTONE","conditions":{"target":1000}}'
    post /achievements '{"code":"ten","name":"Ten","kind":"MILESTONE","repeatable":true,
        "conditions":{"target":10,"metric":"events:bench_event"},"rewardConfig":{"currencyAwards":{"gems":1}}}'
    post /achievements '{"code":"first","name":"First","kind":"CONDITIONAL",
        "conditions":{"field":"seq","op":"gte","value":0}}'
    echo "rules: 5 rules and 3 achievements on bench_event"
elif [ "${BENCH_RULES:-0}" = spread ]; then
    post /rules '{"name":"every event","eventType":"bench_event","xpAwards":{"XP":10}}'
    post /rules '{"name":"purchase","eventType":"purchase",
        "currencyAwards":{"coins":{"field":"amount","max":100}}}'
    post /rules '{"name":"login","eventType":"daily_login","xpAwards":{"XP":5},
        "caps":[{"per":"day","max":5}]}'
    post /rules '{"name":"lesson","eventType":"lesson_completed","xpAwards":{"XP":50}}'
    post /rules '{"name":"quiz","eventType":"quiz_passed",
        "conditions":{"all":[{"field":"score","op":"gte","value":80}]},"xpAwards":{"XP":20}}'
    post /achievements '{"code":"xp-1000","name":"XP","kind":"MILESTONE","conditions":{"target":1000}}'
    post /achievements '{"code":"ten","name":"Ten","kind":"MILESTONE",
        "conditions":{"target":10,"metric":"events:bench_event"}}'
    post /achievements '{"code":"first","name":"First","kind":"CONDITIONAL",
        "conditions":{"field":"seq","op":"gte","value":0}}'
    echo "rules: 5 rules on 5 event types (one on bench_event) and 3 achievements"
fi

# utime + stime of the server, in clock ticks.
server_ticks() {
    awk '{print $14 + $15}' "/proc/$pid/stat"
}
# Each of the server's threads: "<tid> <name> <utime + stime in clock ticks>" (the fields after
# the name's closing parenthesis, so that a name with a space cannot shift them).
thread_ticks() {
    local t
    for t in /proc/"$pid"/task/*; do
        printf '%s %s %s\n' "${t##*/}" "$(tr ' ' '_' <"$t/comm")" \
            "$(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}')"
    done 2>/dev/null || true
}
# User + system time of this shell's finished children, in seconds (the generator's, above all).
# `times` runs here, not in a command substitution: a subshell has no finished children.
child_seconds() {
    times >"$data/times"
    awk 'NR == 2 { split($1, u, "m"); split($2, s, "m")
        printf "%.3f\n", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$data/times"
}
# run <phase> <reactor bench arguments>: the JSON line on stdout; on stderr the server's own
# CPU time per request of the phase, each of its threads' (those that ran), and the
# generator's (steadier than the rates on a shared machine). With
# BENCH_PERF=<prefix>, a perf record of the server during the phase into <prefix>.<phase>
# (BENCH_PERF_ARGS, default -g).
run() {
    local phase=$1 t0 r t1
    shift
    if [ -n "${BENCH_PERF:-}" ]; then
        perf record -q ${BENCH_PERF_ARGS:--g} -o "$BENCH_PERF.$phase" -p "$pid" -- sleep "$secs" &
    fi
    t0=$(server_ticks)
    thread_ticks >"$data/threads0"
    child_seconds >"$data/g0"
    r=$("$bin" bench --url "http://127.0.0.1:$port" --app "$app" --key "$key" \
        --secret "$secret" --connections "$conns" --duration "$secs" --users "$users" --json "$@" |
        tail -1)
    t1=$(server_ticks)
    thread_ticks >"$data/threads1"
    child_seconds >"$data/g1"
    echo "$r"
    python3 -c 'import json, os, sys
n = json.loads(sys.argv[1])["requests"]; t = (int(sys.argv[3]) - int(sys.argv[2])) / os.sysconf("SC_CLK_TCK")
g = float(sys.argv[6]) - float(sys.argv[5])
print(f"  {sys.argv[4]}: server CPU {t:.2f} s, {t * 1e6 / max(1, n):.1f} us per request; "
      f"generator CPU {g:.2f} s, {g * 1e6 / max(1, n):.1f} us per request", file=sys.stderr)
def ticks(path):
    with open(path) as f:
        return {int(a): (b, int(c)) for a, b, c in (l.split() for l in f if l.count(" ") == 2)}
a, b = ticks(sys.argv[7]), ticks(sys.argv[8])
hz = os.sysconf("SC_CLK_TCK")
per = [(name, (c - a.get(tid, (name, 0))[1]) / hz * 1e6 / max(1, n))
       for tid, (name, c) in sorted(b.items())]
print(f"  {sys.argv[4]}: us per request by thread: " +
      ", ".join(f"{name} {us:.1f}" for name, us in per if us > 0), file=sys.stderr)' \
        "$r" "$t0" "$t1" "$phase" "$(cat "$data/g0")" "$(cat "$data/g1")" \
        "$data/threads0" "$data/threads1" || true
}

# BENCH_PHASES: which phases to run (default all three; the summary needs all three).
phases=" ${BENCH_PHASES:-health events batch} "
health='' events='' batched=''
if [[ $phases == *" health "* ]]; then
    health=$(run health --mode health)
    echo "health: $health"
fi
if [[ $phases == *" events "* ]]; then
    events=$(run events --mode events)
    echo "events: $events"
fi
if [[ $phases == *" batch "* ]]; then
    batched=$(run batch --mode batch --batch-size "$batch")
    echo "batch:  $batched"
fi
[ -n "$health" ] && [ -n "$events" ] && [ -n "$batched" ] &&
python3 - "$health" "$events" "$batched" <<'PY'
import json, sys
h, e, b = (json.loads(a) for a in sys.argv[1:4])
print(f"single events: {e['events_per_sec']:.0f}/s, p99 {e['p99_ms']:.2f} ms, "
      f"{e['events_per_sec'] / h['requests_per_sec']:.2f} of /health ({h['requests_per_sec']:.0f}/s)")
print(f"batched events: {b['events_per_sec']:.0f}/s, p99 {b['p99_ms']:.2f} ms per request")
PY
if [ -n "${BENCH_METRICS:-}" ]; then
    # BENCH_METRICS=<regex>: the server's metrics that match, after the last phase.
    curl -sf "http://127.0.0.1:$port/metrics" | grep -E "^(${BENCH_METRICS})" || true
fi
echo "server RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
echo "store: $(du -sh "$data" | cut -f1)"
