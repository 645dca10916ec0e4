#!/usr/bin/env bash
# Runs the sandbox start-up benchmarks and prints a summary table from
# criterion's estimates (see docs/benchmarks.md).
#
#   scripts/bench-startup.sh              instantiate + teardown (Luge only)
#   scripts/bench-startup.sh --wasmtime   ... plus the Wasmtime peer (slow first build)
#   scripts/bench-startup.sh --compile    ... plus the 1 MiB compile benchmark
#   scripts/bench-startup.sh --summary    only print the table of the last run
#
# CARGO_TARGET_DIR is honoured (criterion writes to $CARGO_TARGET_DIR/criterion).
set -euo pipefail

cd "$(dirname "$0")/.."
features=()
run_compile=0
run=1
for arg in "$@"; do
    case "$arg" in
        --wasmtime) features=(--features bench-wasmtime) ;;
        --compile) run_compile=1 ;;
        --summary) run=0 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

if [ "$run" = 1 ]; then
    echo "== $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "== git $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
    cargo bench -p luge-runtime --bench instantiate "${features[@]}"
    if [ "$run_compile" = 1 ]; then
        cargo bench -p luge-runtime --bench compile
    fi
fi

target_dir="${CARGO_TARGET_DIR:-target}"
criterion_dir="$target_dir/criterion"
if [ ! -d "$criterion_dir" ]; then
    echo "no criterion results under $criterion_dir" >&2
    exit 1
fi

python3 - "$criterion_dir" <<'EOF'
import json, os, sys

root = sys.argv[1]

def fmt(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.1f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"

rows = []
for dirpath, dirs, files in os.walk(root):
    if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
        continue
    with open(os.path.join(dirpath, "estimates.json")) as f:
        est = json.load(f)
    with open(os.path.join(dirpath, "benchmark.json")) as f:
        name = json.load(f)["full_id"]
    with open(os.path.join(dirpath, "sample.json")) as f:
        sample = json.load(f)
    # Each sample is a batch: its time divided by its iteration count.
    per_iter = sorted(t / n for t, n in zip(sample["times"], sample["iters"]))
    q = lambda p: per_iter[min(int(len(per_iter) * p), len(per_iter) - 1)]
    med = est["median"]
    rows.append((name, fmt(med["point_estimate"]),
                 f"{fmt(med['confidence_interval']['lower_bound'])} – {fmt(med['confidence_interval']['upper_bound'])}",
                 fmt(est["mean"]["point_estimate"]), fmt(q(0.05)), fmt(q(0.95)), str(len(per_iter))))

rows.sort()
head = ("benchmark", "median", "median 95% CI", "mean", "p5", "p95", "samples")
widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
print()
print(line(head))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for r in rows:
    print(line(r))
print("\np5/p95 are over criterion's samples (each the mean of a batch of iterations).")
EOF
