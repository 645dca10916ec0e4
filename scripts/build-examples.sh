#!/usr/bin/env bash
# Builds Luge's example functions.
#
#   scripts/build-examples.sh [NAME...]     (default: every example)
#
# For each example NAME under examples/:
#   * a wasm32-wasi module at examples/NAME/NAME.wasm (-O2, no debug info).
#     These files are committed so the examples run without a wasm toolchain.
#   * a native executable at $OUT_NATIVE/NAME (not committed), handy for
#     comparing a function's output and speed against the wasm version.
#
# C examples use clang-16 + wasm-ld-16 with Debian's wasi-libc sysroot;
# rust-hello uses cargo with the wasm32-wasip1 target.
# Install everything with .ci/install-deps.sh.
#
# Environment:
#   CLANG        clang for wasm       (default: clang-16)
#   CC_NATIVE    native C compiler    (default: cc)
#   WASI_SYSROOT wasi-libc sysroot    (default: /usr; headers in
#                $WASI_SYSROOT/include/wasm32-wasi, libs in .../lib/wasm32-wasi)
#   WASM_CFLAGS  extra flags for wasm builds, e.g. -mcpu=mvp
#   SKIP_NATIVE=1  build only the .wasm files
#   OUT_NATIVE   native output dir    (default: target/examples-native)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EXAMPLES="$ROOT/examples"

CLANG="${CLANG:-clang-16}"
CC_NATIVE="${CC_NATIVE:-cc}"
WASI_SYSROOT="${WASI_SYSROOT:-/usr}"
SKIP_NATIVE="${SKIP_NATIVE:-0}"
OUT_NATIVE="${OUT_NATIVE:-$ROOT/target/examples-native}"
CARGO_OUT="$ROOT/target/examples-cargo"
read -r -a EXTRA_WASM_CFLAGS <<<"${WASM_CFLAGS:-}"

C_EXAMPLES=(hello hash prime net sleep)
RUST_EXAMPLES=(rust-hello)

die() { echo "build-examples: error: $*" >&2; exit 1; }
need_cmd() {
    command -v "$1" >/dev/null 2>&1 \
        || die "'$1' not found ($2). Run .ci/install-deps.sh to install the toolchain."
}
need_file() {
    [[ -e "$1" ]] \
        || die "missing $1 ($2). Run .ci/install-deps.sh to install the toolchain."
}

# ---- which examples --------------------------------------------------------
if [[ $# -gt 0 ]]; then
    want=("$@")
else
    want=("${C_EXAMPLES[@]}" "${RUST_EXAMPLES[@]}")
fi
want_c=() want_rust=()
for name in "${want[@]}"; do
    if [[ " ${C_EXAMPLES[*]} " == *" $name "* ]]; then
        want_c+=("$name")
    elif [[ " ${RUST_EXAMPLES[*]} " == *" $name "* ]]; then
        want_rust+=("$name")
    else
        die "unknown example '$name' (known: ${C_EXAMPLES[*]} ${RUST_EXAMPLES[*]})"
    fi
done

# ---- tool checks -----------------------------------------------------------
if [[ ${#want_c[@]} -gt 0 ]]; then
    need_cmd "$CLANG" "apt package clang-16"
    # clang picks wasm-ld-16 itself for --target=wasm32-wasi.
    need_cmd wasm-ld-16 "apt package lld-16"
    need_file "$WASI_SYSROOT/include/wasm32-wasi/stdio.h" "apt package wasi-libc"
    need_file "$WASI_SYSROOT/lib/wasm32-wasi/libc.a" "apt package wasi-libc"
    rt="$("$CLANG" --target=wasm32-wasi -print-libgcc-file-name)"
    need_file "$rt" "apt package libclang-rt-16-dev-wasm32"
    [[ "$SKIP_NATIVE" == 1 ]] || need_cmd "$CC_NATIVE" "apt package gcc"
fi
if [[ ${#want_rust[@]} -gt 0 ]]; then
    need_cmd cargo "Rust toolchain via rustup"
    need_cmd rustc "Rust toolchain via rustup"
    sysroot="$(rustc --print sysroot)"
    [[ -d "$sysroot/lib/rustlib/wasm32-wasip1" ]] \
        || die "Rust target wasm32-wasip1 is not installed. Run: rustup target add wasm32-wasip1"
fi

WASM_FLAGS=(--target=wasm32-wasi "--sysroot=$WASI_SYSROOT" -O2 -g0
            -Wall -Wextra -Werror -Wl,--strip-debug "${EXTRA_WASM_CFLAGS[@]}")
NATIVE_FLAGS=(-O2 -Wall -Wextra -Werror)

check_wasm() {  # file: must exist and start with the wasm magic "\0asm"
    local magic
    magic="$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')"
    [[ "$magic" == 0061736d ]] || die "$1 is not a wasm module"
    printf '  %-32s %7d bytes\n' "${1#"$ROOT"/}" "$(stat -c %s "$1")"
}

# ---- C examples ------------------------------------------------------------
[[ "$SKIP_NATIVE" == 1 ]] || mkdir -p "$OUT_NATIVE"
for name in "${want_c[@]}"; do
    src="$EXAMPLES/$name/$name.c"
    [[ -f "$src" ]] || die "missing source $src"
    out="$EXAMPLES/$name/$name.wasm"
    echo "[wasm]   $name"
    "$CLANG" "${WASM_FLAGS[@]}" "$src" -o "$out.tmp"
    chmod 644 "$out.tmp"
    mv "$out.tmp" "$out"
    check_wasm "$out"
    if [[ "$SKIP_NATIVE" != 1 ]]; then
        echo "[native] $name"
        "$CC_NATIVE" "${NATIVE_FLAGS[@]}" "$src" -o "$OUT_NATIVE/$name"
    fi
done

# ---- Rust examples ---------------------------------------------------------
for name in "${want_rust[@]}"; do
    dir="$EXAMPLES/$name"
    echo "[wasm]   $name (cargo, wasm32-wasip1)"
    cargo build --quiet --release --locked --manifest-path "$dir/Cargo.toml" \
        --target wasm32-wasip1 --target-dir "$CARGO_OUT"
    install -m 644 "$CARGO_OUT/wasm32-wasip1/release/$name.wasm" "$dir/$name.wasm"
    check_wasm "$dir/$name.wasm"
    if [[ "$SKIP_NATIVE" != 1 ]]; then
        echo "[native] $name (cargo)"
        cargo build --quiet --release --locked --manifest-path "$dir/Cargo.toml" \
            --target-dir "$CARGO_OUT"
        install -m 755 "$CARGO_OUT/release/$name" "$OUT_NATIVE/$name"
    fi
done

echo "build-examples: done"
