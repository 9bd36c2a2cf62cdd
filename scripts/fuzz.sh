#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ (cargo fuzz, libFuzzer) for a bounded time:
# STENO_FUZZ_SECS each (default 30). A crash stops the script, leaving the
# input in fuzz/artifacts/<target>/. Needs `cargo install cargo-fuzz`.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${STENO_FUZZ_SECS:-30}"
# cargo fuzz builds with nightly-only flags; use the nightly toolchain when
# rustup has one, else let the stable compiler accept them.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi
# Outside the checkout, like the main build, so later runs start warm.
target_dir="${CARGO_TARGET_DIR:-/var/tmp/steno-target}/fuzz"
"${fuzz[@]}" build --dev --target-dir "$target_dir"
mkdir -p logs
for target in $("${fuzz[@]}" list); do
  # Start from the committed seeds (well-formed inputs) and what earlier runs kept.
  mkdir -p "corpus/$target"
  cp -n seeds/"$target"/* "corpus/$target/" 2>/dev/null || true
  log="logs/$target.log"
  if ! "${fuzz[@]}" run --dev --target-dir "$target_dir" "$target" "corpus/$target" -- \
      -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=1024 >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz: $target failed; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  runs=$(grep -oE '^Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' || echo "?")
  echo "fuzz: $target: $runs inputs in ${secs} s, no crash"
done
