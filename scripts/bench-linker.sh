#!/usr/bin/env bash
# Compile time of a tiny module with the two linkers `luge compile` can use
# on the host: `cc` (the C driver) and `ld` (binutils, the default when on
# the PATH). Alternates them in rounds so that drift on a shared machine
# hits both alike; prints milliseconds per compile.
#
#   scripts/bench-linker.sh [ROUNDS] [RUNS]   (default 3 rounds of 100)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds="${1:-3}"
runs="${2:-100}"
cargo build --release -q -p luge-cli
luge=target/release/luge
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
printf '(module (func (export "_start")))' > "$dir/small.wat"
for round in $(seq "$rounds"); do
    for linker in cc ld; do
        start=$(date +%s%N)
        for _ in $(seq "$runs"); do
            LUGE_LINKER=$linker "$luge" compile "$dir/small.wat" -o "$dir/small.so"
        done
        end=$(date +%s%N)
        awk -v ns=$((end - start)) -v n="$runs" -v r="$round" -v l="$linker" \
            'BEGIN { printf "round %d  %-2s  %.1f ms per compile\n", r, l, ns / n / 1e6 }'
    done
done
