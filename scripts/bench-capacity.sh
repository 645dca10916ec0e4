#!/usr/bin/env bash
# Sleeping sandboxes in one `luge serve` (issue 20): hello's latency on an
# idle server, then with N sandboxes of examples/sleep asleep at once, and
# the server's RSS, live sandboxes and software-bounds fallbacks.
#
#   scripts/bench-capacity.sh [N] [TENANTS]
#
# N (default 14800) calls of /sleep?120 held open by wrk, spread over
# TENANTS (default 4) tenants on ports of their own: one client address
# has about 28,000 ephemeral ports per server port. Each call needs a
# connection, so N is bounded by the descriptors the server may open
# (`luge serve` keeps a quarter of RLIMIT_NOFILE for files): 100,000 needs
# `ulimit -Hn` of about 140,000 and root to raise it, and
# `sysctl vm.max_map_count=1048576` (about 4 mappings per sandbox).
# Needs wrk (Debian: wrk).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
N="${1:-14800}"
TENANTS="${2:-4}"
PORT=18100
cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" --bin luge
WORK="$(mktemp -d)"
cleanup() {
    pkill -P $$ wrk 2>/dev/null || true
    [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
cp "$ROOT/examples/sleep/sleep.wasm" "$ROOT/examples/hello/hello.wasm" "$WORK/"
python3 - "$WORK/capacity.json" "$PORT" "$TENANTS" "$N" <<'PY'
import json, sys
path, port, tenants, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
config = {"host": "127.0.0.1", "workers": 2, "memory-budget-mib": 16384,
          "max-connections-per-client": n + 100, "idle-timeout-ms": 300000,
          "tenants": [{"name": "probe", "port": port, "routes": [
              {"route": "/hello", "path": "hello.wasm", "tier": "fast"}]}]}
for i in range(tenants):
    config["tenants"].append({"name": f"s{i}", "port": port + 1 + i, "queue-limit": n,
        "routes": [{"route": "/sleep", "path": "sleep.wasm", "tier": "fast",
                    "timeout-ms": 900000, "memory-limit-mib": 16}]})
json.dump(config, open(path, "w"))
PY
LUGE_CACHE_DIR="$WORK/cache" "$TARGET/release/luge" serve "$WORK/capacity.json" \
    >"$WORK/serve.log" 2>&1 &
SERVER=$!
until curl -sf "http://127.0.0.1:$PORT/metrics" >/dev/null; do sleep 0.2; done

metric() { curl -s "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 ~ "^"m {s += $2} END {print s + 0}'; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
hello_latency() {
    wrk -t1 -c1 -d10s --latency "http://127.0.0.1:$PORT/hello" |
        awk '/Latency  / {avg = $2; max = $4} /^ +(50|90|99)%/ {p[$1] = $2}
             END {printf "mean %s, p50 %s, p90 %s, p99 %s, max %s\n", avg, p["50%"], p["90%"], p["99%"], max}'
}

echo "$(date -u +%FT%TZ), $(nproc) CPUs, $(free -h | awk '/Mem:/ {print $2}') RAM, luge $(git -C "$ROOT" rev-parse --short HEAD)"
echo "idle: RSS $(rss_kib) KiB; hello: $(hello_latency)"
idle_rss=$(rss_kib)
per=$((N / TENANTS))
for i in $(seq 1 "$TENANTS"); do
    wrk -t1 -c"$per" -d600s --timeout 600s "http://127.0.0.1:$((PORT + i))/sleep?120" \
        >"$WORK/wrk$i.log" 2>&1 &
done
target=$((per * TENANTS))
for _ in $(seq 60); do
    live=$(metric luge_live_sandboxes)
    echo "  $live of $target asleep, RSS $(rss_kib) KiB" >&2
    [ "$live" -ge "$target" ] && break
    sleep 1
done
sleep 3
live=$(metric luge_live_sandboxes)
rss=$(rss_kib)
echo "asleep: $live sandboxes, RSS $rss KiB ($(((rss - idle_rss) / (live > 0 ? live : 1))) KiB each over idle)"
echo "asleep: hello: $(hello_latency)"
# Counted as calls end: the fallbacks of the hello calls above.
echo "asleep: $(metric luge_bounds_fallbacks_total) hello calls ran on the software-bounds fallback"
grep "guard memories are out of address space" "$WORK/serve.log" || true
