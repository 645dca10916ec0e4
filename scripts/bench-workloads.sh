#!/usr/bin/env bash
# Runs the serverless workload experiments of docs/workloads.md against
# `luge serve` and its peers (the Node.js and Wasmtime instance-per-request
# servers and the process-per-request fork server), all on loopback, and
# writes the CSV and SVG results into OUT (default docs/workloads).
#
#   scripts/bench-workloads.sh [OUT]
#
# Ports 18180 (luge), 18181 (luge admin), 18182 (fork server), 18183 (node),
# 18184 (wasmtime). Needs node (>= 20 for node:wasi preview1) and a C
# compiler for the native builds; the first run also builds Wasmtime from
# crates.io (several minutes). Each experiment is bounded; the whole run
# takes about 25 minutes with STEP=2 and 45 with STEP=5.
# STEP (seconds per concurrency level, default 5 as in the papers) shortens
# or lengthens experiment 3.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(realpath -m "${1:-$ROOT/docs/workloads}")"
STEP="${STEP:-5}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

cd "$ROOT"
echo "building luge and luge-load with the Wasmtime peer (release)" >&2
cargo build --release --quiet --bin luge
cargo build --release --quiet -p luge-loadtest --features wasmtime-peer
LOAD="$ROOT/target/release/luge-load"

NATIVE="$ROOT/target/examples-native"
mkdir -p "$NATIVE"
for name in hello hash prime net sleep; do
    cc -O2 -Wall -Wextra -Werror "examples/$name/$name.c" -o "$NATIVE/$name"
done

routes=""
for name in hello hash prime net sleep; do
    routes+="${routes:+, }{\"route\": \"/$name\", \"path\": \"$ROOT/examples/$name/$name.wasm\"}"
done
cat >"$WORK/luge.json" <<JSON
{"queue-limit": 100000, "state-dir": "$WORK/state",
 "admin": {"port": 18181, "token": "workloads"},
 "tenants": [{"name": "bench", "port": 18180, "routes": [$routes]}]}
JSON
target/release/luge serve "$WORK/luge.json" >"$WORK/luge.log" 2>&1 &
LUGE_PID=$!
PIDS+=("$LUGE_PID")
"$LOAD" fork-server "$NATIVE" --port 18182 2>"$WORK/fork.log" &
FORK_PID=$!
PIDS+=("$FORK_PID")
node scripts/peers/node-wasm-server.mjs 18183 "$ROOT/examples" 2>"$WORK/node.log" &
NODE_PID=$!
PIDS+=("$NODE_PID")
"$LOAD" wasmtime-server examples/{hello,hash,prime,net,sleep}/*.wasm --port 18184 \
    2>"$WORK/wasmtime.log" &
WASMTIME_PID=$!
PIDS+=("$WASMTIME_PID")

for port in 18180 18181 18182 18183 18184; do
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
        sleep 0.1
    done
done

mkdir -p "$OUT"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc: $(nproc)"
    free -h | head -2
    echo "uptime: $(uptime)"
    echo "node: $(node --version)"
    echo "wasmtime: $(awk '/^name = "wasmtime"$/ { getline; print $3 }' Cargo.lock)"
    echo "commit: $(git rev-parse --short HEAD)"
} >"$OUT/machine.txt"

LUGE=luge=http://127.0.0.1:18180
FORK=fork=http://127.0.0.1:18182
NODE=node=http://127.0.0.1:18183
WASMTIME=wasmtime=http://127.0.0.1:18184

run() { echo "+ luge-load $*" | tee -a "$OUT/commands.txt" >&2; "$LOAD" "$@"; }
: >"$OUT/commands.txt"

# The lead's question: luge serve hello p99 at about 28k req/s, open loop.
mkdir -p "$OUT/rate"
run rate http://127.0.0.1:18180/hello --body edge --rate 28000 --connections 64 \
    --duration 10 --warmup 2 --out "$OUT/rate" | tee "$OUT/rate/report.txt"

run access --server "$LUGE" --server "$WASMTIME" --server "$NODE" --server "$FORK" --out "$OUT/access"
run cold --admin http://127.0.0.1:18181 --token workloads --server-log "$WORK/luge.log" \
    --out "$OUT/cold"
run concurrency --server "$LUGE" --server "$WASMTIME" --server "$NODE" --server "$FORK" --step "$STEP" \
    --out "$OUT/concurrency"
# Node's WASI sleep blocks its event loop (one sleeping instance at a
# time), so it is left out of the capacity ramp; see docs/workloads.md.
run capacity --server "$LUGE" --pid "$LUGE_PID" --max 8000 --step 250 \
    --out "$OUT/capacity"
run capacity --server "$WASMTIME" --pid "$WASMTIME_PID" --max 8000 --step 250 \
    --out "$OUT/capacity-wasmtime"
run capacity --server "$FORK" --pid "$FORK_PID" --max 3000 --step 100 \
    --out "$OUT/capacity-fork"
echo "uptime after: $(uptime)" >>"$OUT/machine.txt"
echo "bench-workloads: results in $OUT" >&2
