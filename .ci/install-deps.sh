#!/usr/bin/env bash
# Installs what Luge's build and tests need on a Debian 12 (bookworm) machine.
#
# Idempotent: apt is only touched when a package is missing, and rustup only
# when a target is missing, so a rerun on a prepared machine takes well under
# a second.  Safe with CI=true and no stdin.
#
#   clang-16, lld-16 (wasm-ld-16), wasi-libc, libclang-rt-16-dev-wasm32
#                       -> build the C examples to wasm32-wasi
#   gcc, binutils, libc6-dev
#                       -> native builds (examples, C parts of crates)
#   wrk                 -> HTTP load tests against a local server
#   gcc-aarch64-linux-gnu, libc6-dev-arm64-cross
#                       -> cross-build Luge for aarch64 (Rust's linker) and
#                          link the aarch64 .so files the emulated tests
#                          compile (LUGE_LINKER, .cargo/qemu-aarch64-runner)
#   qemu-user           -> run the aarch64 test suite on an x86_64 host
#                          (qemu-aarch64, the cargo runner in .cargo/)
#   rustup targets wasm32-wasip1 (examples/rust-hello) and
#   aarch64-unknown-linux-gnu (cross-compilation targets in tests)
#
# Environment:
#   RUST_TARGETS_OPTIONAL=1  only warn (don't fail) if `rustup target add`
#                            fails; the example .wasm files are committed, so
#                            most tests don't need the wasm32 target.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

APT_PACKAGES=(
    clang-16
    lld-16
    wasi-libc
    libclang-rt-16-dev-wasm32
    wrk
    gcc
    binutils
    libc6-dev
    gcc-aarch64-linux-gnu
    libc6-dev-arm64-cross
    qemu-user
    python3-venv
)
RUST_TARGETS=(wasm32-wasip1 aarch64-unknown-linux-gnu)

log() { echo "install-deps: $*"; }

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 \
        || { log "error: not root and sudo is not available"; exit 1; }
    SUDO=(sudo -n)
fi

# ---- apt packages ----------------------------------------------------------
is_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if [[ ${#missing[@]} -gt 0 ]]; then
    log "installing apt packages: ${missing[*]}"
    "${SUDO[@]}" apt-get update -qq </dev/null
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
        -o DPkg::Lock::Timeout=300 "${missing[@]}" </dev/null
else
    log "apt packages already installed"
fi

# ---- Rust targets ----------------------------------------------------------
if ! command -v rustup >/dev/null 2>&1; then
    log "error: rustup not found; install the Rust toolchain with rustup first"
    exit 1
fi

installed_targets="$(rustup target list --installed 2>/dev/null || true)"
for target in "${RUST_TARGETS[@]}"; do
    if grep -qx "$target" <<<"$installed_targets"; then
        continue
    fi
    log "adding Rust target $target"
    if ! rustup target add "$target" </dev/null; then
        if [[ "${RUST_TARGETS_OPTIONAL:-0}" == 1 ]]; then
            log "warning: could not add Rust target $target (continuing)"
        else
            log "error: could not add Rust target $target"
            exit 1
        fi
    fi
done
log "Rust targets installed: $(rustup target list --installed | tr '\n' ' ')"

# ---- Rust components used by .ci/run ---------------------------------------
installed_components="$(rustup component list --installed 2>/dev/null || true)"
for component in clippy rustfmt; do
    grep -q "^$component" <<<"$installed_components" && continue
    log "adding Rust component $component"
    rustup component add "$component" </dev/null
done

# ---- sanity checks ---------------------------------------------------------
for tool in clang-16 wasm-ld-16 wrk cc aarch64-linux-gnu-gcc qemu-aarch64; do
    command -v "$tool" >/dev/null 2>&1 \
        || { log "error: $tool still missing after install"; exit 1; }
done
[[ -f /usr/lib/wasm32-wasi/libc.a && -f /usr/include/wasm32-wasi/stdio.h ]] \
    || { log "error: wasi-libc sysroot not found under /usr/{lib,include}/wasm32-wasi"; exit 1; }
rt="$(clang-16 --target=wasm32-wasi -print-libgcc-file-name)"
[[ -f "$rt" ]] || { log "error: $rt missing (libclang-rt-16-dev-wasm32)"; exit 1; }

# Wasmtime's Python package: the WASI conformance tests also run their
# programs under Wasmtime where it is installed, and require the same
# results. Optional: without access to PyPI they run under Luge only.
WASMTIME_PY_VERSION=51.0.0
WASMTIME_VENV="$HOME/.cache/luge-test-tools/wasmtime-py-$WASMTIME_PY_VERSION"
if "$WASMTIME_VENV/bin/python" -c "import wasmtime" 2>/dev/null; then
    log "Wasmtime $WASMTIME_PY_VERSION (Python) already in $WASMTIME_VENV"
elif python3 -m venv "$WASMTIME_VENV" \
    && "$WASMTIME_VENV/bin/pip" install -q --disable-pip-version-check \
        "wasmtime==$WASMTIME_PY_VERSION" </dev/null; then
    log "installed Wasmtime $WASMTIME_PY_VERSION (Python) in $WASMTIME_VENV"
else
    rm -rf "$WASMTIME_VENV"
    log "warning: could not install Wasmtime's Python package;" \
        "the WASI conformance programs will run under Luge only"
fi

log "done"
