#!/usr/bin/env bash
# Compile time of each tier, `luge compile --tier fast` (Cranelift, in
# process) and `--tier opt` (LLVM through clang), for every PolyBench
# kernel (built to wasm32-wasi as scripts/polybench builds them) and for
# the ~1 MiB module the compile bench generates (runtime/core/benches/
# compile.rs). Each compile runs REPS times; the table shows the fastest
# and the median, in milliseconds, and the module and object sizes.
#
#   scripts/bench-compile-tiers.sh [REPS] [KERNEL...]
#
# REPS defaults to 3; without kernels, all 30 run. Needs clang-16,
# wasm-ld-16 and wasi-libc (.ci/install-deps.sh installs them). The
# default bounds mode and CPU level of `luge compile` apply.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
REPS="${1:-3}"
shift || true
if ! [[ "$REPS" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [REPS] [KERNEL...]  (REPS: a positive count, not '$REPS')" >&2
    exit 2
fi
KERNELS=("$@")
if [ ${#KERNELS[@]} -eq 0 ]; then
    for source in "$ROOT"/polybench/kernels/*.c; do
        KERNELS+=("$(basename "$source" .c)")
    done
fi

cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" --bin luge
LUGE="$TARGET/release/luge"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "building the modules..." >&2
# The generated module: the bench writes it, and a filter that matches
# none of its benchmarks skips the timed runs.
LUGE_BENCH_WASM="$WORK/generated-1MiB.wasm" cargo bench --quiet \
    --manifest-path "$ROOT/Cargo.toml" -p luge-runtime --bench compile -- \
    no-benchmark-is-called-this >/dev/null
MODULES=("$WORK/generated-1MiB.wasm")
for kernel in "${KERNELS[@]}"; do
    source="$ROOT/polybench/kernels/$kernel.c"
    [ -f "$source" ] || { echo "no kernel $kernel ($source)" >&2; exit 2; }
    clang-16 --target=wasm32-wasi --sysroot=/usr -O2 -I"$ROOT/polybench/include" \
        -DLARGE_DATASET -g0 -Wl,--strip-debug -o "$WORK/$kernel.wasm" "$source"
    MODULES+=("$WORK/$kernel.wasm")
done

# Milliseconds of one `luge compile` run.
compile_ms() {
    local start end
    start=$(date +%s%N)
    "$LUGE" compile --tier "$1" -o "$WORK/out.so" "$2" >/dev/null
    end=$(date +%s%N)
    echo $(((end - start) / 1000000))
}

# "min median" of REPS runs.
summary() {
    sort -n | awk '{v[NR] = $1} END {print v[1], v[int((NR + 1) / 2)]}'
}

printf '| module | wasm KiB | fast min | fast median | fast .so KiB | opt min | opt median | opt .so KiB | opt / fast |\n'
printf '|:---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for module in "${MODULES[@]}"; do
    name="$(basename "$module" .wasm)"
    echo "compiling $name ($REPS runs per tier)..." >&2
    row="| $name | $(($(stat -c %s "$module") / 1024))"
    for tier in fast opt; do
        read -r min median < <(for _ in $(seq "$REPS"); do compile_ms "$tier" "$module"; done | summary)
        row="$row | $min | $median | $(($(stat -c %s "$WORK/out.so") / 1024))"
        [ "$tier" = fast ] && fast_median=$median
    done
    ratio=$(awk -v o="$median" -v f="$fast_median" 'BEGIN {printf "%.1fx", o / (f > 0 ? f : 1)}')
    printf '%s | %s |\n' "$row" "$ratio"
done
