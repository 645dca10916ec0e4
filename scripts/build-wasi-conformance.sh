#!/usr/bin/env bash
# Builds Luge's WASI conformance programs (issue 16) into committed .wasm
# files, so that `cargo test` runs them without a wasm toolchain.
#
#   scripts/build-wasi-conformance.sh
#
# Sources and outputs, under runtime/cli/tests/wasi-conformance/:
#   c/NAME.c           one program per concern (check.h is shared), built
#                      with clang-16 and Debian's wasi-libc
#   rust/src/bin/*.rs  std-only programs, built with cargo for wasm32-wasip1
#   wasm/NAME.wasm     the built programs (commit them)
#
# The tests that run them: runtime/cli/tests/wasi_conformance.rs. Install
# the toolchain with .ci/install-deps.sh.
#
# Environment:
#   CLANG        clang for wasm       (default: clang-16)
#   WASI_SYSROOT wasi-libc sysroot    (default: /usr)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUITE="$ROOT/runtime/cli/tests/wasi-conformance"
OUT="$SUITE/wasm"
CLANG="${CLANG:-clang-16}"
WASI_SYSROOT="${WASI_SYSROOT:-/usr}"
CARGO_OUT="$ROOT/target/wasi-conformance-cargo"

die() { echo "build-wasi-conformance: error: $*" >&2; exit 1; }
command -v "$CLANG" >/dev/null 2>&1 \
    || die "'$CLANG' not found. Run .ci/install-deps.sh to install the toolchain."
[[ -f "$WASI_SYSROOT/include/wasm32-wasi/wasi/api.h" ]] \
    || die "wasi-libc is missing under $WASI_SYSROOT. Run .ci/install-deps.sh."
[[ -d "$(rustc --print sysroot)/lib/rustlib/wasm32-wasip1" ]] \
    || die "Rust target wasm32-wasip1 is not installed. Run: rustup target add wasm32-wasip1"

mkdir -p "$OUT"
install_wasm() {  # built-file name: checks the wasm magic, installs as wasm/NAME.wasm
    [[ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" == 0061736d ]] \
        || die "$1 is not a wasm module"
    install -m 644 "$1" "$OUT/$2.wasm"
    printf '  %-24s %7d bytes\n' "$2.wasm" "$(stat -c %s "$OUT/$2.wasm")"
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for src in "$SUITE"/c/*.c; do
    name="$(basename "$src" .c)"
    echo "[c]    $name"
    "$CLANG" --target=wasm32-wasi "--sysroot=$WASI_SYSROOT" -O2 -g0 \
        -Wall -Wextra -Werror -Wl,--strip-debug "$src" -o "$tmp/$name.wasm"
    install_wasm "$tmp/$name.wasm" "$name"
done

echo "[rust] wasm32-wasip1"
cargo build --quiet --release --locked --manifest-path "$SUITE/rust/Cargo.toml" \
    --target wasm32-wasip1 --target-dir "$CARGO_OUT"
for src in "$SUITE"/rust/src/bin/*.rs; do
    name="$(basename "$src" .rs)"
    install_wasm "$CARGO_OUT/wasm32-wasip1/release/$name.wasm" "$name"
done
echo "build-wasi-conformance: done"
