#!/usr/bin/env bash
# HTTP core throughput: GET /health on 127.0.0.1 with 1 and then 2 I/O threads, loaded by wrk
# and then by our own generator (reactor bench) for the same time.
# Bounded: each run lasts BENCH_SECONDS (default 10) and the server is stopped after it.
#   bench/http_health.sh [reactor binary]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-build/reactor}"
secs="${BENCH_SECONDS:-10}"
conns="${BENCH_CONNECTIONS:-64}"
port="${BENCH_PORT:-18080}"
log_level="${BENCH_LOG_LEVEL:-info}"

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "reactor: $("$bin" version | head -1), log level $log_level (access log $( [ "$log_level" = info ] && echo on || echo off ), to a file)"
echo "load: wrk -t1 -c$conns -d${secs}s http://127.0.0.1:$port/health"

for threads in 1 2; do
    data=$(mktemp -d)
    "$bin" serve --listen 127.0.0.1 --port "$port" --threads "$threads" --data-dir "$data" \
        --log-level "$log_level" >/dev/null 2>"$data/server.log" &
    pid=$!
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
        sleep 0.05
    done
    echo
    echo "--- REACTOR_THREADS=$threads"
    wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/health" |
        grep -E 'Requests/sec|Latency|50%|99%|requests in|Socket errors|Non-2xx'
    echo "server RSS after run: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
    echo "reactor bench --mode health --connections $conns --duration $secs:"
    "$bin" bench --url "http://127.0.0.1:$port" --mode health --connections "$conns" \
        --duration "$secs" 2>/dev/null | grep -E 'requests:|latency:|errors:'
    
    kill -TERM "$pid"
    wait "$pid" || true
    rm -rf "$data"
done
