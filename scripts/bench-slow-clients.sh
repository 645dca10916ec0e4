#!/usr/bin/env bash
# Latency of newcomers while slow clients hold connections: `luge serve`
# (bundled examples, default connection limits) is offered a fixed rate of
# /hello by `luge-load rate` (open loop), first alone, then while a helper
# keeps SLOW connections open from 16 loopback addresses, each sending one
# byte of a request head every 2 s and reconnecting when the server closes
# it (a slowloris). docs/benchmarks.md, "Serving boundary (issue 15)".
#
#   scripts/bench-slow-clients.sh [SLOW] [RATE] [SECONDS]   (3000, 10000, 10)
#
# Needs python3. Port 8080 must be free.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SLOW="${1:-3000}"
RATE="${2:-10000}"
SECONDS_PER_RUN="${3:-10}"
WORK="$(mktemp -d)"
cleanup() {
    [[ -n "${SLOW_PID:-}" ]] && kill "$SLOW_PID" 2>/dev/null || true
    [[ -n "${LUGE_PID:-}" ]] && kill "$LUGE_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "building luge and luge-load (release)" >&2
cargo build --release --quiet --bin luge --bin luge-load --manifest-path "$ROOT/Cargo.toml"
(cd "$ROOT" && exec target/release/luge serve >"$WORK/serve.log" 2>&1) &
LUGE_PID=$!
for _ in $(seq 100); do
    curl -sf -o /dev/null http://127.0.0.1:8080/hello && break
    sleep 0.1
done

# The slow clients: SLOW sockets over 16 source addresses (the server
# admits 256 per address by default), each dribbling a request head.
cat >"$WORK/slow.py" <<'PY'
import resource, selectors, socket, sys, time
count = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
head = b"GET /hello HTTP/1.1\r\nHost: slow\r\nX-Slow: " + b"a" * 4000
sel = selectors.DefaultSelector()
state = {}
def open_one(i):
    s = socket.socket()
    s.bind(("127.0.0.%d" % (2 + i % 16), 0))
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", 8080))
    except BlockingIOError:
        pass
    state[s] = [i, 0]
    sel.register(s, selectors.EVENT_READ)
for i in range(count):
    open_one(i)
reconnects = 0
last_drip = last_report = time.time()
while True:
    for key, _ in sel.select(timeout=0.2):
        s = key.fileobj
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if not data:  # closed (timed out or evicted): come back
            i = state.pop(s)[0]
            sel.unregister(s)
            s.close()
            reconnects += 1
            open_one(i)
    now = time.time()
    if now - last_drip >= 2:
        last_drip = now
        for s, st in list(state.items()):
            try:
                s.send(head[st[1]:st[1] + 1])
                st[1] = (st[1] + 1) % len(head)
            except OSError:
                pass
    if now - last_report >= 5:
        last_report = now
        print("slow clients: %d open, %d reconnects so far" % (len(state), reconnects), file=sys.stderr, flush=True)
PY

at_rate() {  # label
    "$ROOT/target/release/luge-load" rate --rate "$RATE" --connections 64 \
        --duration "$SECONDS_PER_RUN" --warmup 2 --out "$WORK/rate-$1" \
        http://127.0.0.1:8080/hello 2>"$WORK/rate-$1.log" \
        | awk -v name="$1" '/p99/ {for (i = 1; i <= NF; i++) if ($i ~ /^p(50|99|99\.9)$/) printf "%s %s %s ", $i, $(i+1), $(i+2)}
                            END {print "(" name ")"}'
    grep -iE "timeout|error" "$WORK/rate-$1.log" | head -3 >&2 || true
}
open_connections() {
    curl -s http://127.0.0.1:8080/metrics | awk '/^luge_open_connections / {print $2}'
}

echo "luge serve, /hello at $RATE req/s, 64 connections, ${SECONDS_PER_RUN} s; nproc $(nproc); $(date -u +%FT%TZ)"
at_rate alone
python3 "$WORK/slow.py" "$SLOW" 2>"$WORK/slow.log" &
SLOW_PID=$!
sleep 5
echo "open connections with $SLOW slow clients: $(open_connections)"
at_rate "with $SLOW slow clients"
echo "open connections after: $(open_connections)"
tail -1 "$WORK/slow.log"
kill "$SLOW_PID"
SLOW_PID=
sleep 1
at_rate "alone again"
grep -E "refused|closed" <(curl -s http://127.0.0.1:8080/metrics) | grep -v "^#" || true
