#!/usr/bin/env bash
# What an idle server costs: CPU time, wake-ups (context switches) and
# resident memory of `luge serve` with the bundled examples and no
# requests, against nginx serving a static file, measured over the same
# window in one run; then luge's resident memory before a burst of
# requests, right after it, and over the quiet that follows (the pools
# should give back what the burst took). docs/benchmarks.md, "Idle".
#
#   scripts/bench-idle.sh [SECONDS] [SETTLE]     (default 60 s, 20 s)
#
# SETTLE is how long both servers run before the window opens: long
# enough for luge's start-up work (the examples' opt-tier builds, at low
# priority) to end. With LUGE_BASELINE=PATH (another build of `luge`),
# that build is measured in the same window too, on port 8081.
#
# Needs nginx (Debian nginx-light or nginx), wrk and curl. Ports 8090
# (nginx), 8080 and 8081 must be free.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/peers.sh
source "$ROOT/scripts/lib/peers.sh"
WINDOW="${1:-60}"
SETTLE="${2:-20}"
for tool in nginx wrk curl; do
    command -v "$tool" >/dev/null || { echo "bench-idle: $tool is not installed" >&2; exit 1; }
done

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    [[ -f "$WORK/nginx.pid" ]] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

start_static_nginx "$WORK"

echo "bench-idle: building luge (release)" >&2
cargo build --release --quiet --bin luge --manifest-path "$ROOT/Cargo.toml"
(cd "$ROOT" && exec target/release/luge serve >"$WORK/luge.log" 2>&1) &
LUGE_PID=$!
PIDS+=("$LUGE_PID")
SERVERS=("nginx $(cat "$WORK/nginx.pid") http://127.0.0.1:8090/hello.txt"
    "luge $LUGE_PID http://127.0.0.1:8080/hello")
if [[ -n "${LUGE_BASELINE:-}" ]]; then
    start_baseline_luge "$ROOT" "$WORK" "$WORK/base.log"
    PIDS+=("$BASE_PID")
    SERVERS+=("base $BASE_PID http://127.0.0.1:8081/hello")
fi

# Every server answers once (so that lazy start-up work is behind it).
for server in "${SERVERS[@]}"; do
    read -r _ _ url <<<"$server"
    for _ in $(seq 300); do
        curl -sf -o /dev/null "$url" && break
        sleep 0.1
    done
done

# The processes of a server: the PID and its descendants (nginx workers).
tree() {
    local pid=$1
    echo "$pid"
    for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do tree "$child"; done
}
# Clock ticks (utime + stime, all threads) of a server's processes.
cpu_ticks() {
    local total=0 pid
    for pid in $(tree "$1"); do
        total=$((total + $(awk '{sub(/.*\) /, ""); print $12 + $13}' /proc/"$pid"/stat)))
    done
    echo "$total"
}
# Context switches (voluntary + involuntary) of every thread: each is a
# wake-up of that thread.
switches() {
    local pid
    for pid in $(tree "$1"); do cat /proc/"$pid"/task/*/status; done |
        awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'
}
rss_kib() {
    local pid
    for pid in $(tree "$1"); do cat /proc/"$pid"/status; done |
        awk '/^VmRSS/ { n += $2 } END { print n + 0 }'
}
threads() {
    local pid
    for pid in $(tree "$1"); do ls /proc/"$pid"/task; done | wc -l
}

echo "bench-idle: settling for ${SETTLE} s, then measuring ${WINDOW} s of idle" >&2
sleep "$SETTLE"
declare -A TICKS0 SWITCHES0
for server in "${SERVERS[@]}"; do
    read -r name pid _ <<<"$server"
    TICKS0[$name]=$(cpu_ticks "$pid")
    SWITCHES0[$name]=$(switches "$pid")
done
sleep "$WINDOW"
HZ=$(getconf CLK_TCK)
echo
echo "idle, ${WINDOW} s (clock ticks of ${HZ} Hz):"
printf '%-6s %8s %12s %14s %10s %8s\n' server ticks "% of a core" "wake-ups/s" "RSS KiB" threads
for server in "${SERVERS[@]}"; do
    read -r name pid _ <<<"$server"
    ticks=$(($(cpu_ticks "$pid") - TICKS0[$name]))
    wakeups=$(($(switches "$pid") - SWITCHES0[$name]))
    awk -v n="$name" -v t="$ticks" -v hz="$HZ" -v w="$WINDOW" -v s="$wakeups" \
        -v r="$(rss_kib "$pid")" -v th="$(threads "$pid")" \
        'BEGIN { printf "%-6s %8d %12.3f %14.1f %10d %8d\n", n, t, 100 * t / hz / w, s / w, r, th }'
done

# Memory after a burst: 64 connections on hello for 10 s, then quiet.
echo
echo "luge serve resident memory around a burst (wrk -c64 -d10s /hello):"
before=$(rss_kib "$LUGE_PID")
wrk -t2 -c64 -d10s http://127.0.0.1:8080/hello >/dev/null
after=$(rss_kib "$LUGE_PID")
printf '%-22s %8s KiB\n' "before" "$before" "end of burst" "$after"
for quiet in 1 5 10; do
    sleep $((quiet == 1 ? 1 : (quiet == 5 ? 4 : 5)))
    now=$(rss_kib "$LUGE_PID")
    printf '%-22s %8s KiB (%+.1f %% of before)\n' "after ${quiet} s of quiet" "$now" \
        "$(awk -v a="$now" -v b="$before" 'BEGIN { print 100 * (a - b) / b }')"
done
