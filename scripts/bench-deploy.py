#!/usr/bin/env python3
"""How soon a newly deployed function answers (docs/benchmarks.md,
"luge serve"): starts `luge serve` with an admin listener and an empty state
directory, uploads examples/hello/hello.wasm with `PUT /functions/fresh`,
then POSTs to the new route, and prints the time from the start of the
upload to the answer (fast tier), then the time until the opt tier's code
serves it (`tier` auto, the default: read from /metrics; needs clang).
Repeats with a fresh server, state and module cache each time, so every
deploy compiles a module never seen before.

    scripts/bench-deploy.py [RUNS]        (default 5; needs target/release/luge)
"""
import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
LUGE = ROOT / "target/release/luge"
TOKEN = "bench-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"luge serve did not listen on {port}")


def one_run(wasm):
    with tempfile.TemporaryDirectory() as work:
        port, admin = free_port(), free_port()
        config = {
            "admin": {"port": admin, "token": TOKEN},
            "state-dir": f"{work}/state",
            "tenants": [{"name": "bench", "port": port, "routes": []}],
        }
        path = pathlib.Path(work, "serve.json")
        path.write_text(json.dumps(config))
        env = dict(os.environ, LUGE_CACHE_DIR=f"{work}/cache")
        server = subprocess.Popen([LUGE, "serve", path], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_listening(admin)
            start = time.perf_counter()
            upload = urllib.request.Request(
                f"http://127.0.0.1:{admin}/functions/fresh?route=/fresh",
                data=wasm, method="PUT", headers={"Authorization": f"Bearer {TOKEN}"})
            deployed = json.loads(urllib.request.urlopen(upload).read())
            answer = urllib.request.urlopen(
                urllib.request.Request(f"http://127.0.0.1:{port}/fresh", data=b"edge")).read()
            elapsed = time.perf_counter() - start
            assert answer == b"Hello, edge!\n", answer
            return elapsed, deployed["compile_ms"], opt_serving(port, start)
        finally:
            server.terminate()
            server.wait()


def opt_serving(port, start):
    """Seconds from `start` until /metrics shows the function on the opt
    tier, and the server's own figure; None if it did not within 60 s."""
    line = 'luge_function_tier{function="fresh",tier="opt"} 1'
    while time.perf_counter() - start < 60:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
        if line in text:
            seen = time.perf_counter() - start
            server_s = re.search(r'luge_tier_up_seconds\{function="fresh"\} (\S+)', text)
            return seen, float(server_s.group(1)) if server_s else None
        time.sleep(0.01)
    return None


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    if not LUGE.is_file():
        sys.exit(f"no {LUGE}: run cargo build --release --bin luge")
    wasm = (ROOT / "examples/hello/hello.wasm").read_bytes()
    times = []
    for run in range(1, runs + 1):
        elapsed, compile_ms, opt = one_run(wasm)
        times.append(elapsed)
        tier = "opt tier not serving within 60 s" if opt is None else (
            f"opt tier serving {opt[0] * 1000:.0f} ms after the upload started "
            f"(server: {opt[1] * 1000:.0f} ms after the deploy)")
        print(f"run {run}/{runs}: first answer {elapsed * 1000:.1f} ms after the upload started "
              f"(server-side deploy {compile_ms} ms); {tier}", flush=True)
    times.sort()
    print(f"median {times[len(times) // 2] * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
