#!/usr/bin/env bash
# Leaderboards end to end, on one server on 127.0.0.1 with the SQLite default:
#  1. the start-up rebuild: an app with a "Builder XP" rule and BENCH_MEMBERS members on its
#     all-time "Builder XP" board (users and scores written straight into the store of the
#     stopped server, in one transaction; ids bench-user-<n> as reactor bench names them,
#     random scores with ties), then the time from starting the server to GET /ready = 200;
#  2. in the same server run, reactor bench for BENCH_SECONDS each: the top 50, a member's
#     rank, the 5 around a member, each right after a GET /health phase of its own; each rate
#     and its ratio to that /health's;
#  3. the server's RSS after loading and after the runs.
# Bounded: every phase has a time limit; the server started here is stopped by its PID at the
# end, on error too. A route that answers anything but 2xx stops the script with its answer.
#   bench/leaderboards.sh [reactor binary]
#   BENCH_MEMBERS=1000000 bench/leaderboards.sh     # the start-up target: < 3 s
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-build/reactor}"
secs="${BENCH_SECONDS:-10}"
conns="${BENCH_CONNECTIONS:-64}"
members="${BENCH_MEMBERS:-100000}"
port="${BENCH_PORT:-18082}"
threads="${BENCH_THREADS:-2}"
log_level="${BENCH_LOG_LEVEL:-warn}"
ready_limit="${BENCH_READY_TIMEOUT:-120}" # seconds the loaded server may take to be ready
python="${PYTHON:-python3}"
token="bench-operator-token-0123456789"
host="127.0.0.1"
metric="Builder XP"
metric_q="Builder%20XP"

die() {
    echo "leaderboards.sh: $*" >&2
    exit 1
}
int_in() { # name value lo hi
    if ! [[ "$2" =~ ^[0-9]+$ ]] || [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
        die "$1 must be an integer in [$3, $4] (got '$2')"
    fi
}
int_in BENCH_SECONDS "$secs" 1 3600
int_in BENCH_CONNECTIONS "$conns" 1 10000
int_in BENCH_MEMBERS "$members" 1 100000000
int_in BENCH_PORT "$port" 1024 65535
int_in BENCH_READY_TIMEOUT "$ready_limit" 1 3600
[ -x "$bin" ] || die "no reactor binary at $bin (build first, or pass its path)"
"$python" -c 'import sqlite3' 2>/dev/null || die "$python has no sqlite3 module (set PYTHON)"

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "reactor: $("$bin" version | head -1), $threads I/O threads, log level $log_level, SQLite"
echo "board: \"$metric\", period all, $members members; load: reactor bench --connections $conns --duration $secs"

data=$(mktemp -d)
pid=
start_server() {
    "$bin" serve --listen "$host" --port "$port" --threads "$threads" --data-dir "$data" \
        --operator-token "$token" --log-level "$log_level" >/dev/null 2>>"$data/server.log" &
    pid=$!
}
# SIGTERM to the server started here, then up to 30 s for it to exit (it drains first).
stop_server() {
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
    pid=
}
cleanup() {
    stop_server
    rm -rf "$data"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Every request goes to 127.0.0.1, never through a proxy, and gives up after 10 s.
http() {
    curl -sS --noproxy '*' --max-time 10 "$@"
}
# Polls GET $1 until it answers 200, at most $2 seconds; fails if the server exits.
wait_for() {
    local deadline=$((SECONDS + $2))
    while [ "$SECONDS" -lt "$deadline" ]; do
        kill -0 "$pid" 2>/dev/null || die "the server exited while starting; its log:
$(tail -20 "$data/server.log")"
        [ "$(http -o /dev/null -w '%{http_code}' "http://$host:$port$1" 2>/dev/null)" = 200 ] &&
            return 0
        sleep 0.01
    done
    die "GET $1 did not answer 200 within $2 s"
}
rss() {
    awk '/VmRSS/ {printf "%.0f MiB", $2 / 1024}' "/proc/$pid/status"
}

# ---- seed -----------------------------------------------------------------------------------
start_server
wait_for /health 10
app="bench-lb-$$"
created=$(http "http://$host:$port/apps" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' \
    -d "{\"id\":\"$app\",\"name\":\"Bench\",\"settings\":{\"rateLimit\":{\"points\":1000000000,\"windowSeconds\":1}}}") ||
    die "POST /apps failed"
key=$(sed -nE 's/.*"bootstrapApiKey":"([^"]+)".*/\1/p' <<<"$created")
[ -n "$key" ] || die "POST /apps did not give a key: $created"
rule=$(http -w '\n%{http_code}' "http://$host:$port/rules" -H "x-api-key: $key" \
    -H 'Content-Type: application/json' \
    -d "{\"name\":\"play\",\"eventType\":\"play\",\"xpAwards\":{\"$metric\":10}}") ||
    die "POST /rules failed"
[ "${rule##*$'\n'}" = 201 ] || die "POST /rules answered: $rule"
stop_server

"$python" - "$data/reactor.db" "$app" "$metric" "$members" <<'PY'
import random, sqlite3, sys, time
db, app, metric, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
t0 = time.monotonic()
now = int(time.time() * 1000)
rng = random.Random(42)
con = sqlite3.connect(db, isolation_level=None)
con.execute("PRAGMA synchronous = OFF")
has_boards = con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                         "name IN ('boards', 'board_scores')").fetchone()[0] == 2
con.execute("BEGIN")
con.executemany("INSERT INTO users (app_id, user_id, attributes, created_at, updated_at) "
                "VALUES (?, ?, '{}', ?, ?)",
                ((app, f"bench-user-{i}", now, now) for i in range(n)))
if has_boards:
    board = con.execute("INSERT INTO boards (app_id, metric, period, updated_at) "
                        "VALUES (?, ?, 'all', ?)", (app, metric, now)).lastrowid
    # Only the board is seeded, not the members' XP state (game_users): reads use the board.
    # Scores are multiples of 10 (the rule's award) over a range a tenth of the members: about
    # ten members share each score. A member reached it some time in the last 30 days.
    top = max(1, n // 10)
    con.executemany("INSERT INTO board_scores (board, user_id, score, at) VALUES (?, ?, ?, ?)",
                    ((board, f"bench-user-{i}", 10 * rng.randint(1, top),
                      now - rng.randint(0, 30 * 86400 * 1000)) for i in range(n)))
con.execute("COMMIT")
con.close()
print(f"seeded: {n} users" + (f" and {n} scores on board \"{metric}\"/all" if has_boards else
      " (no boards table in this build's store: users only, no scores)")
      + f" in {time.monotonic() - t0:.1f} s")
PY

# ---- start-up rebuild ------------------------------------------------------------------------
t0=$(date +%s%N)
start_server
wait_for /ready "$ready_limit"
t1=$(date +%s%N)
echo "start-up to /ready with $members members: $(awk -v ns=$((t1 - t0)) 'BEGIN {printf "%.3f s", ns / 1e9}') (target < 3 s at 1,000,000)"
echo "server RSS after load: $(rss)"
metrics=$(curl -sf --noproxy '*' --max-time 10 "http://$host:$port/metrics")
entries=$(awk '$1 == "reactor_leaderboard_entries" {print $2}' <<<"$metrics")
bytes=$(awk '$1 == "reactor_leaderboard_bytes" {print $2}' <<<"$metrics")
if [ -n "$entries" ] && [ "${entries:-0}" -gt 0 ]; then
    echo "leaderboard memory: $bytes bytes for $entries entries, $((bytes / entries)) bytes per entry (index and names)"
fi

# ---- reads ----------------------------------------------------------------------------------
# BENCH_PERF=<prefix>: perf record of the server during each read phase, into <prefix>.<n>
# (BENCH_PERF_ARGS, default -g).
run() {
    if [ -n "${BENCH_PERF:-}" ]; then # run is called in a subshell: the phase count is a file
        local phase=$(($(cat "$data/phase" 2>/dev/null || echo 0) + 1))
        echo "$phase" >"$data/phase"
        perf record -q ${BENCH_PERF_ARGS:--g} -o "$BENCH_PERF.$phase" -p "$pid" -- sleep "$secs" &
    fi
    local t0 r t1
    t0=$(server_ticks)
    r=$("$bin" bench --url "http://$host:$port" --connections "$conns" --duration "$secs" \
        --json "$@" | tail -1)
    t1=$(server_ticks)
    echo "$r"
    # The server's own CPU time per request (user + system), steadier than the rates on a
    # shared machine; on stderr so that the caller keeps only the JSON line.
    "$python" -c 'import json, os, sys
n = json.loads(sys.argv[1])["requests"]; t = (int(sys.argv[3]) - int(sys.argv[2])) / os.sysconf("SC_CLK_TCK")
print(f"  server CPU: {t:.2f} s, {t * 1e6 / max(1, n):.1f} us per request", file=sys.stderr)' \
        "$r" "$t0" "$t1" || true
}
# utime + stime of the server, in clock ticks.
server_ticks() {
    awk '{print $14 + $15}' "/proc/$pid/stat"
}
# One request first, with a member that exists: a route that is missing or refuses is named
# here rather than after a whole run of errors.
probe() {
    local path="${1//\{USER\}/bench-user-0}" out
    out=$(http -w '\n%{http_code}' "http://$host:$port$path" -H "x-api-key: $key") ||
        die "GET $path failed: $out"
    case "${out##*$'\n'}" in
    2??) ;;
    *) die "GET $path answered ${out##*$'\n'}: ${out%$'\n'*}" ;;
    esac
}

probe "/users/bench-user-$((members - 1))" # the seeded members are users of the app
# Each read phase follows a /health phase of its own and is compared with it: the rate of
# this shared machine drifts between phases, and a single /health at the start would lend
# its drift to every ratio.
results=()
labels=()
for path in "/leaderboards?metric=$metric_q&periodKey=all&limit=50" \
    "/leaderboards/rank/{USER}?metric=$metric_q&periodKey=all" \
    "/leaderboards/around/{USER}?metric=$metric_q&periodKey=all&limit=5"; do
    probe "$path"
    health=$(run --mode health) || die "reactor bench --mode health measured nothing"
    echo "health: $health"
    results+=("$health")
    labels+=("GET /health")
    r=$(run --mode get --path "$path" --key "$key" --users "$members") ||
        die "reactor bench on $path measured nothing"
    echo "$path: $r"
    results+=("$r")
    labels+=("GET $path")
done
echo "server RSS after the runs: $(rss)"
echo "store: $(du -sh "$data" | cut -f1)"

"$python" - "${#labels[@]}" "${labels[@]}" "${results[@]}" <<'PY'
import json, sys
n = int(sys.argv[1])
labels, runs = sys.argv[2:2 + n], [json.loads(a) for a in sys.argv[2 + n:2 + 2 * n]]
failed = False
base = 0
for label, r in zip(labels, runs):
    if label == "GET /health":  # the base of the read phase that follows it
        base = r["requests_per_sec"]
        verdict = ""
    ratio = r["requests_per_sec"] / base if base else 0
    if label != "GET /health":
        verdict = " (target >= 0.8: met)" if ratio >= 0.8 else " (target >= 0.8: missed)"
    print(f"{label}: {r['requests_per_sec']:.0f}/s, p50 {r['p50_ms']:.3f} ms, p99 "
          f"{r['p99_ms']:.3f} ms, {ratio:.2f} of /health{verdict}, errors {r['errors']}")
    if r["errors"] or not r["requests"]:
        failed = True
if failed:
    sys.exit("leaderboards.sh: some runs had errors (see above)")
PY
