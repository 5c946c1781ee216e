#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it:
#   1. a normal build: unit tests (cmocka) and integration tests (pytest against the binary)
#   2. the same with AddressSanitizer + UndefinedBehaviorSanitizer
#   3. each libFuzzer target (clang) for FUZZ_SECONDS seconds (default 15)
# Ends with one summary line "suite: N passed, N failed" counting every CTest test of both
# builds and every fuzz target.
#   scripts/test.sh [--only normal|asan|fuzz]
set -uo pipefail
cd "$(dirname "$0")/.."

only="${2:-}"
[ "${1:-}" = "--only" ] || only=""
jobs=$(nproc)
fuzz_seconds="${FUZZ_SECONDS:-15}"
passed=0
failed=0
failures=()
ctest_log=$(mktemp)
trap 'rm -f "$ctest_log"' EXIT

stage() { printf '\n=== %s\n' "$*"; }
record() { # name, rc
    if [ "$2" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$1"); fi
}
# Counts the tests of a ctest run from its summary line "N% tests passed, F tests failed out
# of T"; a run that got no such line (the build failed) counts as one failure.
record_ctest() { # name, rc
    local line f t
    line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$ctest_log" | tail -1)
    if [ -z "$line" ]; then
        failed=$((failed + 1)); failures+=("$1 (no test ran)")
        return
    fi
    f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    t=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
    passed=$((passed + t - f))
    failed=$((failed + f))
    if [ "$f" -gt 0 ] || [ "$2" -ne 0 ]; then failures+=("$1"); fi
    if [ "$f" -eq 0 ] && [ "$2" -ne 0 ]; then failed=$((failed + 1)); fi
}

run_ctest() { # build dir, extra cmake args...
    local dir="$1"; shift
    cmake -S . -B "$dir" "$@" >/dev/null || return 1
    cmake --build "$dir" -j"$jobs" >/dev/null || cmake --build "$dir" -j1 || return 1
    (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 300) | tee "$ctest_log"
    return "${PIPESTATUS[0]}"
}

if [ -z "$only" ] || [ "$only" = normal ]; then
    stage "build and test (RelWithDebInfo)"
    : >"$ctest_log"
    run_ctest build -DCMAKE_BUILD_TYPE=RelWithDebInfo
    record_ctest "normal build" $?
fi

if [ -z "$only" ] || [ "$only" = asan ]; then
    stage "build and test with AddressSanitizer + UndefinedBehaviorSanitizer"
    : >"$ctest_log"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        run_ctest build-asan -DCMAKE_BUILD_TYPE=Debug -DREACTOR_SANITIZE=ON
    record_ctest "sanitizer build" $?
fi

if [ -z "$only" ] || [ "$only" = fuzz ]; then
    stage "fuzz targets, ${fuzz_seconds}s each"
    if cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
            -DREACTOR_FUZZ=ON -DREACTOR_TESTS=OFF >/dev/null &&
        cmake --build build-fuzz -j"$jobs" >/dev/null; then
        for target in build-fuzz/tests/fuzz/fuzz_*; do
            [ -x "$target" ] || continue
            name=$(basename "$target")
            corpus="tests/fuzz/corpus/${name#fuzz_}"
            work=$(mktemp -d)
            [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
            echo "--- $name"
            "$target" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
                -print_final_stats=1 -artifact_prefix="$work/" "$work" 2>&1 | tail -n 12
            rc=${PIPESTATUS[0]}
            if [ "$rc" -ne 0 ]; then
                ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* 2>/dev/null
            fi
            record "$name" "$rc"
            rm -rf "$work"
        done
    else
        record "fuzz build" 1
    fi
fi

echo
if [ "$failed" -gt 0 ]; then
    printf 'failed: %s\n' "${failures[@]}"
fi
echo "suite: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
