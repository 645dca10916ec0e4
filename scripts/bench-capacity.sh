#!/usr/bin/env bash
# Sleeping sandboxes in one `luge serve` (issue 20): hello's latency on an
# idle server, then with N sandboxes of examples/sleep asleep at once, and
# the server's RSS, live sandboxes and software-bounds fallbacks.
#
#   scripts/bench-capacity.sh [--wasmtime] [--detached] [N] [TENANTS]
#
# N (default 14800) calls of /sleep?300 held open by wrk, spread over
# TENANTS (default 4) tenants on ports of their own: one client address
# has about 28,000 ephemeral ports per server port. Each call needs a
# connection, so N is bounded by the descriptors the server may open
# (`luge serve` keeps a quarter of RLIMIT_NOFILE for files): 100,000 this
# way needs `ulimit -Hn` of about 140,000, which only root can raise.
#
# --detached has the capacity experiment start the sleepers instead
# (`luge-load capacity --detached`): non-blocking OpenWhisk invocations
# (`POST .../actions/sleep`, answered 202 at once) over a few connections
# to the admin listener, SLEEP_S (default 180) seconds each. A sleeping
# sandbox then holds no descriptor, and N (default 100000) is bounded by
# memory and mappings. The experiment's summary (sandboxes reached, RSS
# per sandbox) is printed once the sleepers have ended.
#
# Either way, about 4 memory mappings per sandbox (5 for the peer): more
# than about 15,000 sleepers need `sysctl -w vm.max_map_count=1048576` (the default is 65530),
# which the script asks for rather than changing the system itself.
#
# --wasmtime measures the peer instead: `luge-load wasmtime-server`
# (Wasmtime's pooling allocator, an instance per request, a thread per
# connection; built with `--features wasmtime-peer`, a long first build)
# serving the same two modules on one port, 16 MiB of memory each. Its
# sleepers are counted as its threads beyond the idle server's. With
# --detached too, the peer runs its calls on Wasmtime's async support
# (`--detached`: a tokio task and a pooled fiber stack per call, no
# thread) and takes the same non-blocking invocations on its port; its
# memories are then reserved at their 16 MiB and bounds-checked
# (`--reserve-mib 16`), since Wasmtime's 4 GiB reservations fit only about
# 30,000 in the address space. It counts its sleepers on /metrics.
#
# Environment:
#   LUGE              the luge to serve with (default: a release build of
#                     this tree, built first); scripts/luge-aarch64-qemu
#                     runs the aarch64 build under qemu-user
#   SLEEP_S           how long --detached sleepers sleep (default 180): long
#                     enough for the ramp and for hello to be measured
#   ADDRESS_SPACE_GIB an address-space limit (RLIMIT_AS) for the server, to
#                     stand in for a smaller virtual address space: 512 for
#                     an aarch64 kernel with 39-bit addresses, which qemu-
#                     user cannot give its guest otherwise
#
# Needs wrk (Debian: wrk).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
PEER=luge
DETACHED=0
while [ $# -gt 0 ]; do
    case "$1" in
        --wasmtime) PEER=wasmtime; shift ;;
        --detached) DETACHED=1; shift ;;
        *) break ;;
    esac
done
if [ "$DETACHED" = 1 ]; then N="${1:-100000}"; else N="${1:-14800}"; fi
TENANTS="${2:-4}"
# Memory mappings per sleeping sandbox (measured from /proc/PID/maps: 4
# for luge, 5.1 for the peer), and room for the server's own.
MAPS_PER=4
[ "$PEER" = wasmtime ] && MAPS_PER=6
MAPS_NEEDED=$((N * MAPS_PER + 4096))
if [ "$(cat /proc/sys/vm/max_map_count)" -lt "$MAPS_NEEDED" ]; then
    echo "bench-capacity: $N sandboxes need about $MAPS_NEEDED memory mappings; raise the limit first:" >&2
    echo "  sudo sysctl -w vm.max_map_count=$MAPS_NEEDED" >&2
    exit 2
fi
TOKEN=capacity-bench
PORT=18100
SLEEP_S="${SLEEP_S:-180}"
if [ "$PEER" = wasmtime ]; then
    echo "building luge-load with the Wasmtime peer (the first build takes minutes)" >&2
    cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" -p luge-loadtest \
        --features wasmtime-peer
else
    [ -z "${LUGE:-}" ] && cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" --bin luge
    [ "$DETACHED" = 1 ] && cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" \
        -p luge-loadtest
fi
LUGE="${LUGE:-$TARGET/release/luge}"
# Runs the server under the address-space limit, if one is asked for.
limited() {
    if [ -n "${ADDRESS_SPACE_GIB:-}" ]; then
        prlimit --as=$((ADDRESS_SPACE_GIB << 30)) -- "$@"
    else
        "$@"
    fi
}
WORK="$(mktemp -d)"
cleanup() {
    local status=$?
    if [ "$status" != 0 ] && [ -f "$WORK/serve.log" ]; then
        echo "bench-capacity: failed ($status); the server's last words:" >&2
        tail -n 20 "$WORK/serve.log" >&2
        [ -n "${SERVER:-}" ] && ! kill -0 "$SERVER" 2>/dev/null && echo "(the server has exited)" >&2
    fi
    pkill -P $$ wrk 2>/dev/null || true
    [ -n "${RAMP:-}" ] && kill "$RAMP" 2>/dev/null || true
    [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
cp "$ROOT/examples/sleep/sleep.wasm" "$ROOT/examples/hello/hello.wasm" "$WORK/"
start_luge() {
python3 - "$WORK/capacity.json" "$PORT" "$TENANTS" "$N" "$DETACHED" "$TOKEN" "$WORK/state" <<'PY'
import json, sys
path, port, tenants, n, detached = sys.argv[1], *map(int, sys.argv[2:6])
token, state = sys.argv[6:8]
config = {"host": "127.0.0.1", "workers": 2, "memory-budget-mib": 16384,
          "max-connections-per-client": n + 100, "idle-timeout-ms": 300000,
          "tenants": [{"name": "probe", "port": port, "routes": [
              {"route": "/hello", "path": "hello.wasm", "tier": "fast"}]}]}
if detached:
    # The sleepers are an action, tenant `openwhisk`, which has the
    # server's queue limit.
    config.update({"queue-limit": n + 100, "state-dir": state,
                   "admin": {"port": port + 1, "token": token}})
else:
    for i in range(tenants):
        config["tenants"].append({"name": f"s{i}", "port": port + 1 + i, "queue-limit": n,
            "routes": [{"route": "/sleep", "path": "sleep.wasm", "tier": "fast",
                        "timeout-ms": 900000, "memory-limit-mib": 16}]})
json.dump(config, open(path, "w"))
PY
    LUGE_CACHE_DIR="$WORK/cache" limited "$LUGE" serve "$WORK/capacity.json" \
        >"$WORK/serve.log" 2>&1 &
    SERVER=$!
    until curl -sf "http://127.0.0.1:$PORT/metrics" >/dev/null; do sleep 0.2; done
    # The server's own process (prlimit and qemu-user exec in place, a
    # script wrapper may not).
    SERVER=$(pgrep -n -f "serve $WORK/capacity.json")
}

start_wasmtime() {
    # A descriptor per connection: the peer does not raise its own limit.
    ulimit -n "$(ulimit -Hn)"
    local detached=()
    [ "$DETACHED" = 1 ] && detached=(--detached --reserve-mib 16)
    "$TARGET/release/luge-load" wasmtime-server --port "$PORT" --instances $((N + 100)) \
        --memory-mib 16 "${detached[@]}" "$WORK/sleep.wasm" "$WORK/hello.wasm" \
        >"$WORK/serve.log" 2>&1 &
    SERVER=$!
    until curl -sf "http://127.0.0.1:$PORT/hello" >/dev/null; do sleep 0.2; done
}

start_$PEER

metric() { curl -s "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 ~ "^"m {s += $2} END {print s + 0}'; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
hello_latency() {
    wrk -t1 -c1 -d10s --latency "http://127.0.0.1:$PORT/hello" |
        awk '/Latency  / {avg = $2; max = $4} /^ +(50|90|99)%/ {p[$1] = $2}
             END {printf "mean %s, p50 %s, p90 %s, p99 %s, max %s\n", avg, p["50%"], p["90%"], p["99%"], max}'
}

threads() { awk '/^Threads/ {print $2}' "/proc/$SERVER/status"; }
# Sandboxes asleep: luge counts its own, and so does the peer's detached
# mode; otherwise the peer has a thread per call.
asleep() {
    if [ "$PEER" = luge ]; then
        metric luge_live_sandboxes
    elif [ "$DETACHED" = 1 ]; then
        metric wasmtime_server_detached_running
    else
        echo $(($(threads) - idle_threads))
    fi
}
# The port of the I-th sleeper tenant; the peer has one port.
sleeper_port() { if [ "$PEER" = luge ]; then echo $((PORT + $1)); else echo "$PORT"; fi; }

# Creates the action `sleep` (16 MiB of memory, 15 minutes to run) on the
# admin listener.
create_sleep_action() {
    python3 - "$WORK/action.json" "$WORK/sleep.wasm" <<'PY'
import base64, json, sys
code = base64.b64encode(open(sys.argv[2], "rb").read()).decode()
json.dump({"exec": {"kind": "wasm", "code": code, "binary": True},
           "limits": {"timeout": 900000, "memory": 16}}, open(sys.argv[1], "w"))
PY
    curl -sf -X PUT -H "Authorization: Bearer $TOKEN" --data-binary @"$WORK/action.json" \
        "http://127.0.0.1:$((PORT + 1))/api/v1/namespaces/_/actions/sleep" >/dev/null
    # The action's opt tier is built by a clang child, whose RSS the
    # experiment would count as the server's (process and descendants).
    for _ in $(seq 600); do
        pgrep -P "$SERVER" >/dev/null || return 0
        sleep 0.2
    done
}

# Has the capacity experiment start COUNT non-blocking invocations of
# `sleep`, on luge's admin listener or on the peer's port, at up to 10,000
# a second; it ends once they have.
start_detached_sleepers() {
    local url="http://127.0.0.1:$PORT" live=wasmtime_server_detached_running
    [ "$PEER" = luge ] && url="http://127.0.0.1:$((PORT + 1))" live=luge_live_sandboxes
    "$TARGET/release/luge-load" capacity --detached --server "$PEER=$url" --pid "$SERVER" \
        --token "$TOKEN" --live-metric "$live" --sleep "$SLEEP_S" --step 1000 --max "$1" \
        --memory-limit-mib 20000 --out "$WORK/capacity" >"$WORK/capacity.log" 2>&1 &
    RAMP=$!
}

echo "$(date -u +%FT%TZ), $(nproc) CPUs, $(free -h | awk '/Mem:/ {print $2}') RAM, $PEER$([ "$DETACHED" = 1 ] && echo ", detached"), luge $(git -C "$ROOT" rev-parse --short HEAD)"
echo "idle: RSS $(rss_kib) KiB; hello: $(hello_latency)"
idle_rss=$(rss_kib)
idle_threads=$(threads)
if [ "$DETACHED" = 1 ]; then
    [ "$PEER" = luge ] && create_sleep_action
    target=$N
    start_detached_sleepers "$N"
else
    per=$((N / TENANTS))
    for i in $(seq 1 "$TENANTS"); do
        wrk -t1 -c"$per" -d600s --timeout 600s "http://127.0.0.1:$(sleeper_port "$i")/sleep?300" \
            >"$WORK/wrk$i.log" 2>&1 &
    done
    target=$((per * TENANTS))
fi
# The peer accepts on one thread with std's backlog of 128, so its ramp is
# paced by the clients' SYN retries: minutes, not seconds.
for _ in $(seq 240); do
    live=$(asleep)
    echo "  $(date +%T) $live of $target asleep, RSS $(rss_kib) KiB" >&2
    [ "$live" -ge "$target" ] && break
    if [ -n "${RAMP:-}" ] && ! kill -0 "$RAMP" 2>/dev/null; then
        echo "bench-capacity: the capacity experiment ended early:" >&2
        tail -n 5 "$WORK/capacity.log" >&2
        break
    fi
    sleep 1
done
sleep 3
live=$(asleep)
rss=$(rss_kib)
echo "asleep: $(wc -l <"/proc/$SERVER/maps") mappings"
echo "asleep: $live sandboxes, RSS $rss KiB ($(((rss - idle_rss) / (live > 0 ? live : 1))) KiB each over idle)"
echo "asleep: hello: $(hello_latency)"
if [ "$PEER" = luge ]; then
    # Counted as calls end: the fallbacks of the hello calls above.
    echo "asleep: $(metric luge_bounds_fallbacks_total) hello calls ran on the software-bounds fallback"
    grep "guard memories are" "$WORK/serve.log" || true
else
    grep -i "cannot\|error\|failed" "$WORK/serve.log" | sort | uniq -c | head || true
fi
if [ "$DETACHED" = 1 ]; then
    echo "waiting for the sleepers to end ($SLEEP_S s each) and the capacity experiment's summary" >&2
    wait "$RAMP" || { tail -n 5 "$WORK/capacity.log" >&2; exit 1; }
    echo "luge-load capacity --detached:"
    sed 's/^/  /' "$WORK/capacity/capacity.csv"
fi
