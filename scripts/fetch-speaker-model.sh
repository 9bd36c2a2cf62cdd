#!/usr/bin/env bash
# Produce the diarize stage's two models in the models directory
# (`steno models dir`, where the diarize config points by default); no
# Python at run time, and only the package registries are needed:
# - resemblyzer-ge2e.pt, the GE2E speaker encoder (a 1.4 M-parameter LSTM
#   in PyTorch's legacy checkpoint format, read directly by steno-diarize),
#   from the PyPI wheel Resemblyzer==0.1.4 (resemblyzer/pretrained.pt);
# - pyannote-segmentation-3.0.onnx, pyannote's segmentation-3.0 (MIT,
#   CNRS / Hervé Bredin), which marks overlapped speech, from the crates.io
#   crate diarization 0.1.0 (models/segmentation-3.0.onnx; the file Hugging
#   Face's pyannote/segmentation-3.0 publishes), checked by its SHA-256.
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ -n "${STENO_BIN:-}" ]]; then MODELS=$("$STENO_BIN" models dir); else MODELS=$(cargo run -q -p steno-cli -- models dir); fi
ENCODER=$MODELS/resemblyzer-ge2e.pt
WHEEL_SPEC=Resemblyzer==0.1.4
MEMBER=resemblyzer/pretrained.pt
SEGMENTATION=$MODELS/pyannote-segmentation-3.0.onnx
CRATE_URL=https://static.crates.io/crates/diarization/diarization-0.1.0.crate
CRATE_MEMBER=diarization-0.1.0/models/segmentation-3.0.onnx
SEGMENTATION_SHA256=057ee564753071c0b09b5b611648b50ac188d50846bff5f01e9f7bbf1591ea25

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$MODELS"

if [[ -f "$ENCODER" ]]; then
    echo "$ENCODER already exists"
else
    source scripts/lib/wheel.sh
    unpack_wheel "$WHEEL_SPEC" "$tmp"
    if [[ ! -s "$tmp/unpacked/$MEMBER" ]]; then
        echo "error: no $MEMBER in $(basename "$wheel")" >&2
        exit 1
    fi
    mv "$tmp/unpacked/$MEMBER" "$ENCODER.partial"
    mv "$ENCODER.partial" "$ENCODER"
    echo "wrote $ENCODER"
fi

if [[ -f "$SEGMENTATION" ]]; then
    echo "$SEGMENTATION already exists"
else
    echo "downloading $CRATE_URL"
    curl -fsSL --retry 3 "$CRATE_URL" | tar -xz -C "$tmp" "$CRATE_MEMBER"
    if ! echo "$SEGMENTATION_SHA256  $tmp/$CRATE_MEMBER" | sha256sum -c --quiet; then
        echo "error: $CRATE_MEMBER is not the expected file (SHA-256 differs)" >&2
        exit 1
    fi
    mv "$tmp/$CRATE_MEMBER" "$SEGMENTATION.partial"
    mv "$SEGMENTATION.partial" "$SEGMENTATION"
    echo "wrote $SEGMENTATION"
fi
