#!/usr/bin/env bash
# Issue D's ratio: end-to-end events/s with a rule set against the same build without rules.
# On a shared 2-core machine the rates drift by 15 % and more over minutes, so only runs taken
# side by side compare: each round runs bench/events.sh without rules and then with them, for
# each phase, and prints the pair and its ratio; the end gives each phase's median ratio and
# its range. Also each run's engine thread CPU per request (the one writer, which sets the rate
# of batches).
#   bench/rules_ratio.sh [reactor binary]
# Env: BENCH_ROUNDS (3), BENCH_SECONDS (8, each run), BENCH_PHASES ("events batch"),
# BENCH_RULES (1: 5 rules and 3 achievements on the generator's event type; spread: 5 rules on
# 5 types, one matching), BENCH_BATCH_SIZE (1000), and the others of bench/events.sh.
# Bounded: rounds x phases x 2 runs of bench/events.sh, each stopping by itself.
set -euo pipefail
bin="$(realpath "${1:-$(dirname "$0")/../build/reactor}")"
cd "$(dirname "$0")/.."
rounds="${BENCH_ROUNDS:-3}"
rules="${BENCH_RULES:-1}"
phases="${BENCH_PHASES:-events batch}"
results=$(mktemp)
trap 'rm -f "$results"' EXIT

# one <phase> <rules>: "<events/s> <engine us per request>" of one run (on failure, the run's
# output on stderr and nothing on stdout).
one() {
    local out
    if ! out=$(BENCH_PHASES=$1 BENCH_RULES=$2 bench/events.sh "$bin" 2>&1); then
        printf 'bench/events.sh failed:\n%s\n' "$out" >&2
        return 0
    fi
    python3 - "$1" "$out" <<'PY'
import json, re, sys
phase, out = sys.argv[1], sys.argv[2]
label = "events:" if phase == "events" else "batch:"
rate = engine = None
for line in out.splitlines():
    if line.startswith(label) and "{" in line:
        rate = json.loads(line[line.index("{"):])["events_per_sec"]
    m = re.search(r"us per request by thread: .*\bengine ([0-9.]+)", line)
    if m and line.strip().startswith(phase if phase == "events" else "batch"):
        engine = float(m.group(1))
if rate is None:
    sys.exit(f"no {phase} rate in the output of bench/events.sh:\n{out}")  # nothing on stdout
print(f"{rate:.0f} {engine if engine is not None else 'nan'}")
PY
}

echo "machine: $(nproc) cores, $(uname -sr); reactor: $("$bin" version | head -1)"
echo "rule set: BENCH_RULES=$rules; ${BENCH_SECONDS:-8} s a run; batches of ${BENCH_BATCH_SIZE:-1000}"
for r in $(seq 1 "$rounds"); do
    for phase in $phases; do
        base=0 with=0 base_us=nan with_us=nan
        read -r base base_us < <(BENCH_SECONDS="${BENCH_SECONDS:-8}" one "$phase" 0) || true
        read -r with with_us < <(BENCH_SECONDS="${BENCH_SECONDS:-8}" one "$phase" "$rules") || true
        if [ -z "$base" ] || [ -z "$with" ] || [ "${base%.*}" -le 0 ] || [ "${with%.*}" -le 0 ]
        then
            echo "round $r $phase: a run gave no rate; round skipped" >&2
            continue
        fi
        python3 - "$r" "$phase" "$base" "$with" "$base_us" "$with_us" <<'PY' | tee -a "$results"
import sys
r, phase, base, with_, bu, wu = sys.argv[1:7]
ratio = float(with_) / float(base)
print(f"round {r} {phase}: {int(base):,} -> {int(with_):,} events/s, ratio {ratio:.2f} "
      f"(engine thread {float(bu):.1f} -> {float(wu):.1f} us per request)")
PY
    done
done
python3 - "$results" <<'PY'
import re, statistics, sys
by = {}
for line in open(sys.argv[1]):
    m = re.match(r"round \d+ (\w+): .* ratio ([0-9.]+)", line)
    if m:
        by.setdefault(m.group(1), []).append(float(m.group(2)))
for phase, v in by.items():
    print(f"{phase}: ratio {statistics.median(v):.2f} median, {min(v):.2f}-{max(v):.2f} "
          f"over {len(v)} rounds (target: at least 0.85)")
PY
