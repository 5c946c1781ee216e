#!/usr/bin/env bash
# Installs, with apt-get, exactly what Forge Reactor needs to build, run and test on Debian 12.
# Idempotent: packages already present are not downloaded again.
#   scripts/deps.sh          build + run dependencies
#   scripts/deps.sh --test   also what the test suite needs (clang for fuzzing, pytest, promtool)
#   scripts/deps.sh --bench  also the load generator (wrk)
set -euo pipefail

# tzdata: app time zones are checked against the system's tz database.
# libicu-dev: local calendar fields of instants in a zone (src/core/tz.c).
# libcurl4-openssl-dev: webhook delivery (src/jobs/jobs.c, the multi interface).
# libjemalloc-dev: the allocator the server links (CMake option REACTOR_JEMALLOC, on by default).
build_pkgs=(build-essential cmake pkg-config tzdata
    libuv1-dev libhttp-parser-dev libwslay-dev libjansson-dev libssl-dev libsqlite3-dev
    libicu-dev libcurl4-openssl-dev libjemalloc-dev)
# libclang-rt-14-dev holds libFuzzer and clang's sanitizer runtimes; clang only recommends it.
# prometheus is wanted for promtool only.
test_pkgs=(libcmocka-dev clang libclang-rt-14-dev python3 python3-pytest python3-requests
    prometheus)

# nodejs: bench/ws_fanout.sh's load tool and baseline server (npm fetches the `ws` package;
# on stock Debian 12 npm is the `npm` package).
bench_pkgs=(wrk curl nodejs)

pkgs=("${build_pkgs[@]}")
case "${1:-}" in
    --test) pkgs+=("${test_pkgs[@]}") ;;
    --bench) pkgs+=("${bench_pkgs[@]}") ;;
esac

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
