#!/usr/bin/env bash
# End-to-end timing of `luge run` (see "luge run: end to end" in
# docs/benchmarks.md).
#
#   scripts/bench-run.sh [PART...] [OPTION...]
#
# Parts (default: all three):
#   --warm    `luge run examples/hello/hello.wasm` from a warm module cache,
#             whole process (start, cache lookup, load .so, instantiate, run,
#             exit), stdin from a small file. Median and p95 over --runs runs.
#             Target: median <= 5 ms.
#   --peers   the same program under the Wasmtime CLI (if found) and Node.js
#             (node:wasi), plus a native build of hello.c as the floor.
#             With --cold, also the peers' time to first output on the
#             1 MiB module.
#   --cold    time from `luge run big.wasm` to its first byte of stdout, for
#             a never-seen ~1 MiB module (generated C, built with clang-16;
#             a fresh LUGE_CACHE_DIR per repetition); and `luge compile` of
#             the same module. Target: <= 1.5 s.
# Options:
#   --runs N        runs per warm case (default 200; at least 100 advised)
#   --cold-reps N   repetitions of the cold measurements (default 5)
#   --timer T       hyperfine | python (default: hyperfine if installed,
#                   else a Python timing loop). hyperfine >= 1.16 runs the
#                   command directly (-N --input FILE); an older one (Debian
#                   12 has 1.15) needs `sh -c 'CMD < FILE'` and subtracts
#                   its estimate of the shell's cost, which is noisier.
#   --no-build      do not (re)build luge; use $LUGE or the existing binary
#   --work DIR      scratch directory (default /tmp/luge-bench-run)
#   -h, --help
#
# Environment:
#   LUGE              the luge binary (default $CARGO_TARGET_DIR/release/luge,
#                     built with `cargo build --release -p luge-cli --bin luge`)
#   CARGO_TARGET_DIR  honoured for that build (default: target/)
#   HYPERFINE         hyperfine (default: /tmp/hyperfine-root/bin/hyperfine if
#                     there, e.g. from `cargo install hyperfine --version
#                     1.20.0 --locked --root /tmp/hyperfine-root`, else
#                     `hyperfine` on PATH)
#   WASMTIME          the wasmtime CLI (default: `wasmtime` on PATH, else
#                     /tmp/wasmtime-cli-root/bin/wasmtime; skipped if absent)
#   NODE              node (default: node; skipped if absent)
#   CLANG             clang for wasm32-wasi (default clang-16)
#   WASI_SYSROOT      wasi-libc sysroot (default /usr)
#   BIG_FUNCS         functions in the generated module (default 2660, which
#                     gives 1 048 945 bytes of wasm with Debian's clang-16)
#
# Results are also written to $WORK/results.tsv (one line per case, times in
# milliseconds).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS=200
COLD_REPS=5
TIMER=""
BUILD=1
WORK=/tmp/luge-bench-run
parts=()

die() { echo "bench-run: error: $*" >&2; exit 1; }
say() { echo "[bench-run $(date +%H:%M:%S)] $*" >&2; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --warm|--peers|--cold) parts+=("${1#--}") ;;
        --runs) RUNS="${2:?}"; shift ;;
        --cold-reps) COLD_REPS="${2:?}"; shift ;;
        --timer) TIMER="${2:?}"; shift ;;
        --no-build) BUILD=0 ;;
        --work) WORK="${2:?}"; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
done
[[ ${#parts[@]} -gt 0 ]] || parts=(warm peers cold)
want() { [[ " ${parts[*]} " == *" $1 "* ]]; }
[[ "$RUNS" =~ ^[0-9]+$ && "$RUNS" -ge 1 ]] || die "--runs: expected a positive number"
[[ "$COLD_REPS" =~ ^[0-9]+$ && "$COLD_REPS" -ge 1 ]] || die "--cold-reps: expected a positive number"

if [[ -z "${HYPERFINE:-}" ]]; then
    if [[ -x /tmp/hyperfine-root/bin/hyperfine ]]; then
        HYPERFINE=/tmp/hyperfine-root/bin/hyperfine
    else
        HYPERFINE="$(command -v hyperfine || true)"
    fi
fi
if [[ -z "$TIMER" ]]; then
    if [[ -n "$HYPERFINE" ]]; then TIMER=hyperfine; else TIMER=python; fi
fi
HF_INPUT=0
case "$TIMER" in
    hyperfine)
        [[ -n "$HYPERFINE" && -x "$HYPERFINE" ]] \
            || die "hyperfine not found (apt-get install -y hyperfine, or --timer python)"
        if "$HYPERFINE" --help | grep -q -- '--input'; then HF_INPUT=1; fi
        TIMER_DESC="hyperfine $("$HYPERFINE" --version | cut -d' ' -f2)"
        if [[ "$HF_INPUT" == 1 ]]; then TIMER_DESC+=" -N --input"; else TIMER_DESC+=" via sh"; fi ;;
    python) TIMER_DESC="python loop (subprocess.run, overhead included)" ;;
    *) die "--timer: expected hyperfine or python" ;;
esac
command -v python3 >/dev/null 2>&1 || die "python3 is needed"

mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
RESULTS="$WORK/results.tsv"
: >"$RESULTS"

# ---- luge -------------------------------------------------------------------
if [[ -z "${LUGE:-}" ]]; then
    target_dir="${CARGO_TARGET_DIR:-$ROOT/target}"
    if [[ "$BUILD" == 1 ]]; then
        say "building luge (cargo build --release -p luge-cli --bin luge, target dir $target_dir)"
        (cd "$ROOT" && CARGO_TARGET_DIR="$target_dir" cargo build --quiet --release -p luge-cli --bin luge)
    fi
    LUGE="$target_dir/release/luge"
fi
[[ -x "$LUGE" ]] || die "no luge binary at $LUGE (set LUGE or drop --no-build)"

HELLO="$ROOT/examples/hello/hello.wasm"
[[ -f "$HELLO" ]] || die "missing $HELLO (scripts/build-examples.sh hello)"
INPUT="$WORK/hello-input.txt"
printf 'benchmark\n' >"$INPUT"

# ---- peers --------------------------------------------------------------------
WASMTIME="${WASMTIME:-$(command -v wasmtime || true)}"
[[ -n "$WASMTIME" ]] || WASMTIME=/tmp/wasmtime-cli-root/bin/wasmtime
[[ -x "$WASMTIME" ]] || WASMTIME=""
NODE="${NODE:-$(command -v node || true)}"
NODE_RUNNER="$WORK/wasi-run.mjs"
cat >"$NODE_RUNNER" <<'EOF'
// Minimal WASI preview1 runner: node wasi-run.mjs MODULE.wasm [ARGS...]
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
const wasi = new WASI({ version: "preview1", args: process.argv.slice(2),
                        env: {}, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(process.argv[2]));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
EOF

# ---- measuring ----------------------------------------------------------------
# Python helper: statistics of a list of milliseconds, a timing loop (the
# fallback timer) and the time-to-first-byte loop.
HELPER="$WORK/bench_helper.py"
cat >"$HELPER" <<'EOF'
import json, os, shutil, statistics, subprocess, sys, tempfile, time

def pct(xs, p):
    """Nearest-rank percentile."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(-(-p * len(xs) // 100)) - 1))]

def row(name, ms, note=""):
    return "\t".join([name, str(len(ms)), f"{statistics.median(ms):.3f}",
                      f"{pct(ms, 95):.3f}", f"{statistics.fmean(ms):.3f}",
                      f"{min(ms):.3f}", f"{max(ms):.3f}", note])

def main():
    mode = sys.argv[1]
    if mode == "hyperfine-json":           # FILE NAME NOTE
        with open(sys.argv[2]) as f:
            times = json.load(f)["results"][0]["times"]
        print(row(sys.argv[3], [t * 1e3 for t in times], sys.argv[4]))
    elif mode == "loop":                   # NAME NOTE RUNS WARMUP STDIN CMD...
        name, note, runs, warmup, stdin = sys.argv[2:7]
        cmd = sys.argv[7:]
        ms = []
        for i in range(int(warmup) + int(runs)):
            with open(stdin, "rb") as inp:
                t0 = time.perf_counter()
                subprocess.run(cmd, stdin=inp, stdout=subprocess.DEVNULL, check=True)
                t1 = time.perf_counter()
            if i >= int(warmup):
                ms.append((t1 - t0) * 1e3)
        print(row(name, ms, note))
    elif mode == "cold":                   # CASES_FILE REPS
        # Each line of CASES_FILE: name, note, fresh, kind, then the command,
        # tab-separated. kind "ttfb": time from spawning the command to the
        # first byte on its stdout, and to its exit; kind "exit": to its
        # exit only. fresh=1: an empty LUGE_CACHE_DIR for every run. The
        # cases take turns within each repetition, so that load from
        # elsewhere on the machine falls on all of them alike. CPU time is
        # user + system of the process and its threads.
        cases = []
        for line in open(sys.argv[2]):
            name, note, fresh, kind, *cmd = line.rstrip("\n").split("\t")
            cases.append(dict(name=name, note=note, fresh=fresh == "1", kind=kind, cmd=cmd,
                              first=[], exit=[], cpu=[]))
        for rep in range(int(sys.argv[3])):
            for c in cases:
                env = dict(os.environ)
                cache = None
                if c["fresh"]:
                    cache = tempfile.mkdtemp(prefix="luge-cold-cache-")
                    env["LUGE_CACHE_DIR"] = cache
                t0 = time.perf_counter()
                p = subprocess.Popen(c["cmd"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, env=env)
                b = p.stdout.read(1)
                t1 = time.perf_counter()
                p.stdout.read()
                _, status, ru = os.wait4(p.pid, 0)
                t2 = time.perf_counter()
                p.returncode = 0
                if cache:
                    shutil.rmtree(cache)
                if status != 0 or (c["kind"] == "ttfb" and not b):
                    sys.exit(f"{c['name']}: no output or wait status {status}")
                c["first"].append((t1 - t0) * 1e3)
                c["exit"].append((t2 - t0) * 1e3)
                c["cpu"].append((ru.ru_utime + ru.ru_stime) * 1e3)
                what = f"first byte {c['first'][-1]:7.1f} ms, " if c["kind"] == "ttfb" else ""
                print(f"    rep {rep + 1}: {c['name']:<40} {what}exit {c['exit'][-1]:7.1f} ms, "
                      f"cpu {c['cpu'][-1]:7.1f} ms", file=sys.stderr)
        for c in cases:
            if c["kind"] == "ttfb":
                print(row(c["name"] + " (first byte)", c["first"], c["note"]))
            print(row(c["name"] + " (exit)", c["exit"], c["note"]))
            print(row(c["name"] + " (CPU time)", c["cpu"], "user + sys"))
    elif mode == "summary":                # RESULTS
        rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[2]) if l.strip()]
        head = ["case", "n", "median ms", "p95 ms", "mean ms", "min ms", "max ms", "note"]
        rows = [head] + rows
        w = [max(len(r[i]) for r in rows) for i in range(len(head))]
        line = lambda r: "| " + " | ".join(c.ljust(x) for c, x in zip(r, w)) + " |"
        print(line(rows[0]))
        print("|" + "|".join("-" * (x + 2) for x in w) + "|")
        for r in rows[1:]:
            print(line(r))

main()
EOF

# time_warm NAME NOTE CMD...: RUNS runs of CMD with stdin from $INPUT.
time_warm() {
    local name="$1" note="$2"
    shift 2
    say "warm: $name ($RUNS runs, $TIMER_DESC)"
    # The output must be right before it is timed.
    "$@" <"$INPUT" >"$WORK/check.out" || die "$name failed"
    grep -q "Hello, benchmark!" "$WORK/check.out" || die "$name: unexpected output: $(cat "$WORK/check.out")"
    if [[ "$TIMER" == hyperfine ]]; then
        local cmd="" a
        for a in "$@"; do cmd+="$(printf '%q' "$a") "; done
        if [[ "$HF_INPUT" == 1 ]]; then
            # No shell: hyperfine spawns the command itself, stdin from $INPUT.
            "$HYPERFINE" --style basic --warmup 20 --runs "$RUNS" -N --input "$INPUT" \
                --export-json "$WORK/hf.json" -n "$name" "$cmd" >&2
        else
            # Through /bin/sh; hyperfine subtracts its estimate of the cost
            # of spawning an empty shell from each run.
            cmd+="< $(printf '%q' "$INPUT")"
            "$HYPERFINE" --style basic --warmup 20 --runs "$RUNS" \
                --export-json "$WORK/hf.json" -n "$name" "$cmd" >&2
        fi
        python3 "$HELPER" hyperfine-json "$WORK/hf.json" "$name" "$note" >>"$RESULTS"
    else
        python3 "$HELPER" loop "$name" "$note" "$RUNS" 20 "$INPUT" "$@" >>"$RESULTS"
    fi
    tail -n1 "$RESULTS" | awk -F'\t' '{printf "    median %s ms, p95 %s ms\n", $3, $4}' >&2
}

if [[ "$TIMER" == hyperfine && "$HF_INPUT" == 0 ]]; then
    say "warning: this hyperfine has no --input; timing through sh with its shell-cost correction, which can over-subtract (sub-ms cases may read 0)"
fi
say "luge: $LUGE; timer: $TIMER_DESC; parts: ${parts[*]}; load: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- (a) warm hello ---------------------------------------------------------------
if want warm || want peers; then
    export LUGE_CACHE_DIR="$WORK/cache"
    mkdir -p "$LUGE_CACHE_DIR"
    "$LUGE" run "$HELLO" <"$INPUT" >/dev/null   # warm the cache
    HELLO_SO="$WORK/hello.so"
    "$LUGE" compile "$HELLO" -o "$HELLO_SO"
fi
if want warm; then
    time_warm "luge run hello.wasm (warm cache)" "target <= 5 ms" "$LUGE" run "$HELLO"
    time_warm "luge run hello.so" "precompiled, no cache lookup" "$LUGE" run "$HELLO_SO"
fi

# ---- (b) peers ------------------------------------------------------------------
if want peers; then
    CC_NATIVE="${CC_NATIVE:-cc}"
    if command -v "$CC_NATIVE" >/dev/null 2>&1; then
        "$CC_NATIVE" -O2 "$ROOT/examples/hello/hello.c" -o "$WORK/hello-native"
        time_warm "native hello (cc -O2)" "process floor" "$WORK/hello-native"
    fi
    if [[ -n "$WASMTIME" ]]; then
        say "wasmtime: $WASMTIME ($("$WASMTIME" --version))"
        # `wasmtime run` caches compiled modules by default; warm it first.
        "$WASMTIME" run "$HELLO" <"$INPUT" >/dev/null
        time_warm "wasmtime run hello.wasm" "its cache warm" "$WASMTIME" run "$HELLO"
        "$WASMTIME" compile "$HELLO" -o "$WORK/hello.cwasm"
        time_warm "wasmtime run hello.cwasm" "precompiled" \
            "$WASMTIME" run --allow-precompiled "$WORK/hello.cwasm"
    else
        say "wasmtime: not found, skipped (cargo install wasmtime-cli --locked, or set WASMTIME)"
        printf 'wasmtime\t-\t-\t-\t-\t-\t-\tnot found, skipped\n' >>"$RESULTS"
    fi
    if [[ -n "$NODE" ]]; then
        say "node: $NODE ($("$NODE" --version))"
        time_warm "node wasi-run.mjs hello.wasm" "node:wasi, compiles every run" \
            "$NODE" --no-warnings "$NODE_RUNNER" "$HELLO"
    else
        say "node: not found, skipped"
        printf 'node\t-\t-\t-\t-\t-\t-\tnot found, skipped\n' >>"$RESULTS"
    fi
fi

# ---- (c) never-seen 1 MiB module -------------------------------------------------
if want cold; then
    CLANG="${CLANG:-clang-16}"
    WASI_SYSROOT="${WASI_SYSROOT:-/usr}"
    command -v "$CLANG" >/dev/null 2>&1 || die "$CLANG not found (apt package clang-16)"
    BIG_C="$WORK/big.c"
    BIG="$WORK/big.wasm"
    BIG_FUNCS="${BIG_FUNCS:-2660}"   # 2660 functions give 1 048 945 bytes with clang-16
    say "cold: generating $BIG_FUNCS C functions (fixed seed) and building big.wasm"
    # Distinct functions of four shapes (byte hash with a switch, float
    # recurrence, small local array, 64-bit mixing), random constants and
    # sizes; each may call an earlier one, and main calls every one through a
    # table, so wasm-ld keeps them all. main prints its first line at once.
    python3 - "$BIG_FUNCS" >"$BIG_C" <<'EOF'
import random, sys
n = int(sys.argv[1]); rng = random.Random(20261122)
out = ["#include <stdio.h>", "#include <string.h>", "",
       "typedef unsigned (*fn_t)(unsigned, const unsigned char *, int);",
       "static unsigned char data[256];", "static double acc;", ""]
for i in range(n):
    k = [rng.randrange(1, 2**32) for _ in range(8)]
    kind = rng.randrange(4)
    body = [f"__attribute__((noinline)) static unsigned f{i}(unsigned x, const unsigned char *p, int n) {{",
            f"    unsigned h = x ^ {k[0]}u;"]
    stmts = rng.choice([2, 3, 4, 6, 8, 12])
    if kind == 0:
        body.append("    for (int i = 0; i < n; i++) {")
        body.append(f"        h = (h * {k[1] | 1}u + p[i]) ^ (h >> {rng.randrange(3, 17)});")
        body.append(f"        switch ((h + (unsigned)i) % {stmts}u) {{")
        for c in range(stmts):
            op = rng.choice(["h += {}u;", "h ^= h << {};", "h = (h >> {}) | (h << 7);",
                             "h -= p[(i + {}) & 255];", "h *= {}u;"])
            arg = rng.randrange(1, 31) if ("<<" in op or ">>" in op or "&" in op) else k[2 + c % 6]
            body.append(f"        case {c}: " + op.format(arg) + " break;")
        body.append("        }")
        body.append("    }")
    elif kind == 1:
        body.append(f"    double d = (double)h * {rng.random():.6f};")
        body.append("    for (int i = 0; i < n; i += 2) {")
        for s in range(stmts):
            body.append(f"        d = d * {rng.uniform(0.5, 1.5):.6f} + p[(i + {s * 3}) & 255] - {rng.uniform(0, 9):.4f};")
        body.append("        if (d > 1e9 || d < -1e9) d *= 1e-6;")
        body.append("    }")
        body.append("    acc += d;")
        body.append("    h += (unsigned)(long long)d;")
    elif kind == 2:
        body.append(f"    unsigned t[{stmts + 4}];")
        body.append(f"    for (int j = 0; j < {stmts + 4}; j++) t[j] = h + (unsigned)j * {k[1]}u;")
        body.append("    for (int i = 0; i < n; i++) {")
        for s in range(stmts):
            a, b = rng.randrange(stmts + 4), rng.randrange(stmts + 4)
            body.append(f"        t[{a}] = (t[{a}] ^ t[{b}]) + p[(i * {s + 1}) & 255] * {k[2 + s % 6]}u;")
        body.append("        if (t[0] & 1) h ^= t[1]; else h += t[2];")
        body.append("    }")
        body.append(f"    for (int j = 0; j < {stmts + 4}; j++) h = h * 33u + t[j];")
    else:
        body.append("    unsigned long long w = h;")
        body.append("    for (int i = 0; i + 8 <= n; i += 8) {")
        body.append("        unsigned long long v; memcpy(&v, p + i, 8);")
        for s in range(stmts):
            body.append(f"        w = (w ^ v) * {k[1 + s % 7] | 1}ull + (w >> {rng.randrange(5, 40)});")
            body.append(f"        if ((w & {1 << rng.randrange(0, 12)}ull) != 0) v += {k[(s + 3) % 8]}ull; else v ^= w;")
        body.append("    }")
        body.append("    h = (unsigned)(w ^ (w >> 32));")
    if i > 0:
        j = rng.randrange(max(0, i - 64), i)
        body.append(f"    if (n > 8 && (h & 3u) == 0) h ^= f{j}(h, p + 1, n / 2);")
    body.append("    return h;")
    body.append("}")
    out += body + [""]
out.append(f"static const fn_t table[{n}] = {{")
out += [f"    f{i}," for i in range(n)]
out.append("};")
out.append("""
int main(void) {
    printf("big: started\\n");
    fflush(stdout);
    for (int i = 0; i < 256; i++) data[i] = (unsigned char)(i * 131 + 7);
    unsigned h = 0;
    for (int i = 0; i < %d; i++) h = table[i](h, data, 64);
    printf("big: %%d functions, checksum %%08x %%d\\n", %d, h, (int)(acc != 0.0));
    return 0;
}""" % (n, n))
print("\n".join(out))
EOF
    # The flags of scripts/build-examples.sh.
    "$CLANG" --target=wasm32-wasi "--sysroot=$WASI_SYSROOT" -O2 -g0 -Wall -Wextra -Werror \
        -Wl,--strip-debug "$BIG_C" -o "$BIG"
    big_size=$(stat -c %s "$BIG")
    say "cold: big.wasm is $big_size bytes ($(python3 -c "print(f'{$big_size/1048576:.3f}')") MiB)"
    # Correctness check, in a fresh cache of its own.
    LUGE_CACHE_DIR="$(mktemp -d)" bash -c '"$1" run "$2" > "$3"; rc=$?; rm -rf "$LUGE_CACHE_DIR"; exit $rc' \
        _ "$LUGE" "$BIG" "$WORK/big.out" || die "luge run big.wasm failed"
    grep -q "checksum" "$WORK/big.out" || die "big.wasm: unexpected output"

    "$LUGE" compile "$BIG" -o "$WORK/big.so"
    T=$'\t'
    {
        echo "luge run big.wasm, never seen${T}target <= 1.5 s${T}1${T}ttfb${T}$LUGE${T}run${T}$BIG"
        echo "luge compile big.wasm${T}compile-only share${T}0${T}exit${T}$LUGE${T}compile${T}$BIG${T}-o${T}$WORK/big-compile.so"
        echo "luge run big.so${T}load + instantiate + run${T}0${T}ttfb${T}$LUGE${T}run${T}$WORK/big.so"
        if want peers && [[ -n "$WASMTIME" ]]; then
            echo "wasmtime run -C cache=n big.wasm${T}compiles every run${T}0${T}ttfb${T}$WASMTIME${T}run${T}-C${T}cache=n${T}$BIG"
        fi
        if want peers && [[ -n "$NODE" ]]; then
            echo "node wasi-run.mjs big.wasm${T}lazy tiered compile${T}0${T}ttfb${T}$NODE${T}--no-warnings${T}$NODE_RUNNER${T}$BIG"
        fi
    } >"$WORK/cold-cases.tsv"
    say "cold: $(wc -l <"$WORK/cold-cases.tsv") cases x $COLD_REPS reps, taking turns; luge run big.wasm gets a fresh LUGE_CACHE_DIR every time"
    python3 "$HELPER" cold "$WORK/cold-cases.tsv" "$COLD_REPS" >>"$RESULTS"
fi

# ---- summary ----------------------------------------------------------------------
echo
echo "== $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (dirty)'); luge: $LUGE; timer: $TIMER_DESC"
python3 "$HELPER" summary "$RESULTS"
