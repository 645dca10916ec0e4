#!/usr/bin/env bash
# Throughput of `luge serve` against nginx serving a small static file, both
# on loopback and driven by wrk from the same machine, in one run; then the
# latency of both at half of luge's throughput, offered at a fixed rate by
# `luge-load rate` (open loop: latency counts from each request's intended
# send time). docs/benchmarks.md, "luge serve".
#
#   scripts/bench-serve.sh [SECONDS] [CONNECTIONS]     (default 10 s, 32)
#
# With LUGE_BASELINE=PATH (another build of `luge`, e.g. the previous
# commit's, built in a worktree), that build is measured too, in the same
# rounds, serving the same example on port 8081: a before/after
# comparison on one machine in one run.
#
# Needs wrk and nginx (Debian packages wrk, nginx-light or nginx). Ports:
# 8090 (nginx) and 8080 (luge serve with the bundled examples); both must
# be free. Each side is measured twice, alternating.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/peers.sh
source "$ROOT/scripts/lib/peers.sh"
SECONDS_PER_RUN="${1:-10}"
CONNECTIONS="${2:-32}"
for tool in wrk nginx curl; do
    command -v "$tool" >/dev/null || { echo "bench-serve: $tool is not installed" >&2; exit 1; }
done

WORK="$(mktemp -d)"
cleanup() {
    [[ -f "$WORK/nginx.pid" ]] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
    [[ -n "${LUGE_PID:-}" ]] && kill "$LUGE_PID" 2>/dev/null || true
    [[ -n "${BASE_PID:-}" ]] && kill "$BASE_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

start_static_nginx "$WORK"

echo "building luge and luge-load (release)" >&2
cargo build --release --quiet --bin luge --bin luge-load --manifest-path "$ROOT/Cargo.toml"
(cd "$ROOT" && exec target/release/luge serve >/dev/null 2>&1) &
LUGE_PID=$!
for _ in $(seq 100); do
    curl -sf -o /dev/null http://127.0.0.1:8080/hello && break
    sleep 0.1
done
SERVERS=("nginx http://127.0.0.1:8090/hello.txt" "luge http://127.0.0.1:8080/hello")
if [[ -n "${LUGE_BASELINE:-}" ]]; then
    start_baseline_luge "$ROOT" "$WORK" /dev/null
    for _ in $(seq 300); do
        curl -sf -o /dev/null http://127.0.0.1:8081/hello && break
        sleep 0.1
    done
    SERVERS+=("base http://127.0.0.1:8081/hello")
fi

measure() {  # name url
    curl -sf -o /dev/null "$2" || { echo "bench-serve: $2 does not answer 200" >&2; exit 1; }
    wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency "$2" \
        | awk -v name="$1" '/Requests\/sec/ {rps=$2} /^ +99%/ {p99=$2}
                            END {printf "%-6s %10.0f req/s   p99 %s\n", name, rps, p99}'
}

echo "wrk -t1 -c$CONNECTIONS -d${SECONDS_PER_RUN}s; nproc $(nproc); $(date -u +%FT%TZ)"
# One unmeasured second each first: the servers' pools and caches warm up.
for server in "${SERVERS[@]}"; do
    wrk -t1 -c"$CONNECTIONS" -d1s "${server#* }" >/dev/null
done
LUGE_RPS=()
for round in 1 2; do
    for server in "${SERVERS[@]}"; do
        # shellcheck disable=SC2086
        line="$(measure $server)"
        echo "$line" >&2
        [[ "${server%% *}" == luge ]] && LUGE_RPS+=("$(awk '{print $2}' <<<"$line")")
    done
done 2>&1

# Half of luge's higher throughput (the harder reading), offered at a
# fixed rate to both.
HALF=$(( $(printf '%s\n' "${LUGE_RPS[@]}" | sort -n | tail -1) / 2 ))
at_rate() {  # name url
    "$ROOT/target/release/luge-load" rate --rate "$HALF" --connections 64 \
        --duration "$SECONDS_PER_RUN" --warmup 2 --out "$WORK/rate-$1" "$2" 2>"$WORK/rate-$1.log" \
        | awk -v name="$1" '/p99/ {for (i = 1; i <= NF; i++) if ($i ~ /^p(50|99|99\.9)$/) printf "%s %s %s ", $i, $(i+1), $(i+2)}
                            END {print "(" name ")"}'
}
echo "open loop at $HALF req/s (half of luge's throughput), 64 connections:"
for round in 1 2; do
    for server in "${SERVERS[@]}"; do
        # shellcheck disable=SC2086
        at_rate $server
    done
done
